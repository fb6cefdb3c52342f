//! Contacts: creating one (it arrives and waits in its queue), reading,
//! listing and recording what the agent learnt (reason, notes, disposition,
//! customer). State changes after arrival belong to the routing engine.

use std::collections::BTreeMap;

use sb_model::{
    AgentId, Channel, ContactId, ContactState, CustomerId, Direction, Permission, QueueId, Text,
};
use sb_store::{Contact, ContactFilter, Page, StoreError};
use serde_json::json;

use crate::codes::CodeKind;
use crate::{App, AppError, FieldError, Principal};

#[derive(Debug, Clone)]
pub struct NewContact {
    pub channel: Channel,
    pub direction: Direction,
    pub queue_id: QueueId,
    pub customer_id: Option<CustomerId>,
    /// 0–100, higher first; the queue's priority when absent.
    pub priority: Option<i64>,
    pub subject: Option<Text>,
    pub from_address: Option<Text>,
    pub to_address: Option<Text>,
    /// For routing conditions (`task.language`, …).
    pub attributes: BTreeMap<String, String>,
    /// Only this agent may take it (the last agent the customer spoke to).
    pub requested_agent_id: Option<AgentId>,
}

/// Contact attribute names the routing task fills in.
pub const CONTACT_RESERVED: &[&str] = &["channel", "customer_id", "queue_id", "priority"];

#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub customer_id: Option<Option<CustomerId>>,
    pub subject: Option<Text>,
    pub reason: Option<Option<Text>>,
    pub disposition: Option<Option<Text>>,
    pub notes: Option<String>,
}

/// The most characters of notes on one contact.
pub const MAX_NOTES_CHARS: usize = 20_000;

impl App {
    /// The queue's priority, or `None` if the tenant has no such queue.
    pub(crate) async fn queue_priority(
        &self,
        p: &Principal,
        id: QueueId,
    ) -> Result<Option<i64>, AppError> {
        let key = (p.tenant_id, id);
        let cached = self
            .queue_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied());
        if let Some((priority, at)) = cached
            && at.elapsed() < crate::CACHE_TTL
        {
            return Ok(Some(priority));
        }
        match self.store().get_queue(p.tenant_id, id).await {
            Ok(q) => {
                self.remember_queue(&q);
                Ok(Some(q.priority))
            }
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds an error on `queue_id` unless it names one of the tenant's queues.
    pub(crate) async fn check_queue(
        &self,
        p: &Principal,
        queue_id: &str,
        errors: &mut Vec<FieldError>,
    ) -> Result<(), AppError> {
        let known = match queue_id.parse::<QueueId>() {
            Ok(q) => self.queue_priority(p, q).await?.is_some(),
            Err(_) => false,
        };
        if !known {
            errors.push(FieldError {
                field: "queue_id".into(),
                message: "no such queue".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn remember_queue(&self, q: &sb_store::Queue) {
        if let Ok(mut c) = self.queue_cache.lock() {
            if c.len() >= crate::CACHE_MAX_ENTRIES {
                c.clear();
            }
            c.insert((q.tenant_id, q.id), (q.priority, std::time::Instant::now()));
        }
    }

    pub(crate) async fn customer_exists(
        &self,
        p: &Principal,
        id: CustomerId,
    ) -> Result<bool, AppError> {
        match self.store().get_customer(p.tenant_id, id).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A contact arrives: it is stored, queued, and its `contact.created`
    /// event appended, durably, before this returns.
    pub async fn create_contact(&self, p: &Principal, c: NewContact) -> Result<Contact, AppError> {
        let id = ContactId::from_uuid(self.new_uuid());
        self.create_contact_with_id(p, id, c).await
    }

    /// Creates a contact whose id was chosen beforehand (a booked callback's).
    pub(crate) async fn create_contact_with_id(
        &self,
        p: &Principal,
        id: ContactId,
        c: NewContact,
    ) -> Result<Contact, AppError> {
        self.create_contact_with(p, id, c, None).await
    }

    /// Creates a contact and, in the same transaction, the received
    /// message that starts it.
    pub(crate) async fn create_contact_with(
        &self,
        p: &Principal,
        id: ContactId,
        c: NewContact,
        received: Option<sb_store::Received>,
    ) -> Result<Contact, AppError> {
        p.require(Permission::ContactWrite)?;
        let mut errors = Vec::new();
        let queue_priority = self.queue_priority(p, c.queue_id).await?;
        if queue_priority.is_none() {
            errors.push(FieldError {
                field: "queue_id".into(),
                message: "no such queue".into(),
            });
        }
        if let Some(cid) = c.customer_id
            && !self.customer_exists(p, cid).await?
        {
            errors.push(FieldError {
                field: "customer_id".into(),
                message: "no such customer".into(),
            });
        }
        if let Some(pr) = c.priority
            && !(0..=100).contains(&pr)
        {
            errors.push(FieldError {
                field: "priority".into(),
                message: "must be from 0 to 100".into(),
            });
        }
        errors.extend(crate::directory::attribute_problems(
            "attributes",
            &c.attributes,
            CONTACT_RESERVED,
        ));
        if let Some(a) = c.requested_agent_id {
            match self.store().get_agent(p.tenant_id, a).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => errors.push(FieldError {
                    field: "requested_agent_id".into(),
                    message: "no such agent".into(),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let priority = c.priority.or(queue_priority).unwrap_or_default();
        let now = self.now();
        let contact = Contact {
            id,
            tenant_id: p.tenant_id,
            channel: c.channel,
            direction: c.direction,
            queue_id: c.queue_id,
            customer_id: c.customer_id.map(|i| i.to_string()),
            agent_id: None,
            state: ContactState::Queued,
            priority,
            subject: c.subject.map(Text::into_string).unwrap_or_default(),
            from_address: c.from_address.map(Text::into_string),
            to_address: c.to_address.map(Text::into_string),
            reason: None,
            disposition: None,
            notes: String::new(),
            arrived_at: now,
            queued_at: Some(now),
            first_reserved_at: None,
            answered_at: None,
            hold_ms: 0,
            wrap_started_at: None,
            wrap_ended_at: None,
            ended_at: None,
            abandoned_at: None,
            created_at: now,
            updated_at: now,
            attributes: serde_json::to_string(&c.attributes)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            requested_agent_id: c.requested_agent_id.map(|a| a.to_string()),
        };
        let channel = contact.channel;
        let contact = self
            .routing
            .ask(p.tenant_id, |reply| crate::routing::Command::Create {
                contact: Box::new(contact),
                received: received.map(Box::new),
                reply,
            })
            .await??;
        metrics::counter!(
            "switchboard_contacts_created_total",
            "tenant" => p.tenant_id.to_string(),
            "channel" => channel.as_str(),
        )
        .increment(1);
        Ok(contact)
    }

    pub async fn get_contact(&self, p: &Principal, id: ContactId) -> Result<Contact, AppError> {
        p.require(Permission::ContactRead)?;
        self.store()
            .get_contact(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("contact"))
    }

    /// A contact's timeline: every event recorded about it, oldest first
    /// (at most 1,000).
    pub async fn contact_events(
        &self,
        p: &Principal,
        id: ContactId,
    ) -> Result<Vec<sb_store::Event>, AppError> {
        p.require(Permission::ContactRead)?;
        self.store()
            .get_contact(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("contact"))?;
        Ok(self
            .store()
            .events_of(p.tenant_id, &id.to_string(), 1_000)
            .await?)
    }

    pub async fn list_contacts(
        &self,
        p: &Principal,
        f: &ContactFilter,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Contact>, AppError> {
        p.require(Permission::ContactRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self
            .store()
            .list_contacts(p.tenant_id, f, after, limit)
            .await?)
    }

    pub async fn update_contact(
        &self,
        p: &Principal,
        id: ContactId,
        patch: ContactPatch,
    ) -> Result<Contact, AppError> {
        p.require(Permission::ContactWrite)?;
        let mut c = self
            .store()
            .get_contact(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("contact"))?;
        let mut fields = Vec::new();
        if let Some(cust) = patch.customer_id {
            if let Some(cid) = cust
                && !self.customer_exists(p, cid).await?
            {
                return Err(AppError::invalid("customer_id", "no such customer"));
            }
            c.customer_id = cust.map(|i| i.to_string());
            fields.push("customer_id");
        }
        if let Some(v) = patch.subject {
            c.subject = v.into_string();
            fields.push("subject");
        }
        if let Some(v) = patch.reason {
            c.reason = v.map(Text::into_string);
            fields.push("reason");
        }
        if let Some(v) = patch.disposition {
            if let Some(d) = &v {
                self.check_code(
                    p.tenant_id,
                    CodeKind::Disposition,
                    "disposition",
                    d.as_str(),
                )
                .await?;
            }
            c.disposition = v.map(Text::into_string);
            fields.push("disposition");
        }
        if let Some(v) = patch.notes {
            c.notes = v;
            fields.push("notes");
        }
        c.updated_at = self.now();
        self.store()
            .update_contact(
                &c,
                "contact.updated",
                &json!({"fields": fields, "by": p.user_id}),
            )
            .await
            .map_err(AppError::from_store("contact"))?;
        Ok(c)
    }
}
