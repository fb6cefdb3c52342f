//! Callbacks booked for a later time: an agent (or a team leader, or an
//! integration) books one from a contact or for a customer; when it falls
//! due, a voice contact is created in the queue, kept for the agent when
//! personal, and routed like any other as a callback. A worker on every
//! node releases due callbacks; a claim in the store keeps two nodes from
//! releasing the same one, and the contact's id, fixed at booking, keeps a
//! retried release from creating it twice.

use std::collections::BTreeMap;
use std::time::Duration;

use sb_model::{
    AgentId, Channel, ContactId, CustomerId, Direction, Permission, QueueId, Text, UnixMs,
};
use sb_store::{CallbackFilter, ScheduledCallback, StoreError};

use crate::contacts::NewContact;
use crate::routing::Command;
use crate::{App, AppError, FieldError, Principal};

/// The longest note on a callback.
pub const MAX_CALLBACK_NOTES: usize = 2_000;
/// How far ahead a callback may be booked.
pub const MAX_AHEAD_DAYS: i64 = 366;

/// A callback to book.
#[derive(Debug, Clone, Default)]
pub struct NewCallback {
    /// The contact it is booked from: customer and queue default to its.
    pub contact_id: Option<ContactId>,
    pub customer_id: Option<CustomerId>,
    pub queue_id: Option<QueueId>,
    /// When: RFC 3339 with an offset (`2026-12-01T09:30:00+11:00`), or a
    /// local date and time (`2026-12-01T09:30`) in the tenant's time zone.
    pub due_at: String,
    /// Keep it for this agent (a personal callback).
    pub agent_id: Option<AgentId>,
    pub phone: Option<Text>,
    pub notes: String,
}

/// `due` as epoch ms: an instant with an offset, or a local time in `tz`.
pub fn parse_due(due: &str, tz: &jiff::tz::TimeZone) -> Option<UnixMs> {
    if let Ok(t) = due.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    let local = due.parse::<jiff::civil::DateTime>().ok()?;
    tz.to_timestamp(local).ok().map(|t| t.as_millisecond())
}

impl App {
    pub async fn book_callback(
        &self,
        p: &Principal,
        b: NewCallback,
    ) -> Result<ScheduledCallback, AppError> {
        p.require(Permission::ContactWrite)?;
        let mut errors = Vec::new();
        let bad = |errors: &mut Vec<FieldError>, field: &str, message: &str| {
            errors.push(FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        let origin = match b.contact_id {
            Some(id) => match self.store().get_contact(p.tenant_id, id).await {
                Ok(c) => Some(c),
                Err(StoreError::NotFound) => {
                    bad(&mut errors, "contact_id", "no such contact");
                    None
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let customer = match b.customer_id {
            Some(c) => {
                if !self.customer_exists(p, c).await? {
                    bad(&mut errors, "customer_id", "no such customer");
                }
                Some(c.to_string())
            }
            None => origin.as_ref().and_then(|o| o.customer_id.clone()),
        };
        if customer.is_none() && b.phone.is_none() && errors.is_empty() {
            bad(
                &mut errors,
                "customer_id",
                "give a customer, a contact with one, or a phone number to call",
            );
        }
        let queue = b.queue_id.or(origin.as_ref().map(|o| o.queue_id));
        match queue {
            Some(q) => {
                if self.store().get_queue(p.tenant_id, q).await.is_err() {
                    bad(&mut errors, "queue_id", "no such queue");
                }
            }
            None => bad(
                &mut errors,
                "queue_id",
                "give a queue, or a contact to take it from",
            ),
        }
        if let Some(a) = b.agent_id {
            match self.store().get_agent(p.tenant_id, a).await {
                Ok(_) => {
                    if p.require(Permission::AgentAllocate).is_err()
                        && self.own_agent(p).await? != Some(a)
                    {
                        bad(
                            &mut errors,
                            "agent_id",
                            "you may keep a callback only for yourself",
                        );
                    }
                }
                Err(StoreError::NotFound) => bad(&mut errors, "agent_id", "no such agent"),
                Err(e) => return Err(e.into()),
            }
        }
        if b.notes.chars().count() > MAX_CALLBACK_NOTES {
            bad(
                &mut errors,
                "notes",
                &format!("must be at most {MAX_CALLBACK_NOTES} characters"),
            );
        }
        let tz = self.tenant_zone(p.tenant_id).await?;
        let now = self.now();
        let due = parse_due(b.due_at.trim(), &tz);
        match due {
            None => bad(
                &mut errors,
                "due_at",
                "must be a date and time: 2026-12-01T09:30 (local) or with an offset",
            ),
            Some(d) if d < now - 60_000 => bad(&mut errors, "due_at", "must not be in the past"),
            Some(d) if d > now + MAX_AHEAD_DAYS * 86_400_000 => bad(
                &mut errors,
                "due_at",
                &format!("must be within {MAX_AHEAD_DAYS} days"),
            ),
            Some(_) => {}
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let c = ScheduledCallback {
            id: self.new_uuid().to_string(),
            tenant_id: p.tenant_id,
            contact_id: self.new_uuid().to_string(),
            origin_contact_id: origin.map(|o| o.id.to_string()),
            customer_id: customer,
            queue_id: queue.map(|q| q.to_string()).unwrap_or_default(),
            agent_id: b.agent_id.map(|a| a.to_string()),
            phone: b.phone.map(Text::into_string),
            notes: b.notes,
            due_at: due.unwrap_or(now).max(now),
            state: "pending".into(),
            booked_by: p.user_id.map(|u| u.to_string()),
            claimed_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store().insert_callback(&c).await?;
        Ok(c)
    }

    /// Callbacks soonest first. Team leaders see all; agents those kept
    /// for them or booked by them.
    pub async fn list_callbacks(
        &self,
        p: &Principal,
        state: Option<String>,
    ) -> Result<Vec<ScheduledCallback>, AppError> {
        p.require(Permission::ContactRead)?;
        let mut f = CallbackFilter {
            state,
            agent_or_booker: None,
        };
        if p.require(Permission::AgentAllocate).is_err() {
            let agent = self.own_agent(p).await?.map(|a| a.to_string());
            let user = p.user_id.map(|u| u.to_string());
            f.agent_or_booker = Some((agent.unwrap_or_default(), user.unwrap_or_default()));
        }
        Ok(self.store().list_callbacks(p.tenant_id, &f, 500).await?)
    }

    /// Cancels a pending callback (one's own, or any for team leaders).
    pub async fn cancel_callback(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<ScheduledCallback, AppError> {
        p.require(Permission::ContactWrite)?;
        let mut c = self
            .store()
            .get_callback(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("callback"))?;
        if p.require(Permission::AgentAllocate).is_err() {
            let mine_by_booking =
                c.booked_by.is_some() && c.booked_by == p.user_id.map(|u| u.to_string());
            let own = self.own_agent(p).await?.map(|a| a.to_string());
            let mine_by_agent = own.is_some() && c.agent_id == own;
            if !mine_by_booking && !mine_by_agent {
                return Err(AppError::NotFound("callback"));
            }
        }
        let now = self.now();
        self.store().cancel_callback(&c, now).await?;
        c.state = "cancelled".into();
        c.updated_at = now;
        Ok(c)
    }

    /// Creates the contact of one claimed callback, unless a release that
    /// did not finish created it already.
    async fn release_callback(&self, c: &ScheduledCallback) -> Result<(), AppError> {
        let p = Principal {
            source: "callbacks".into(),
            ..Principal::cli(c.tenant_id)
        };
        let id: ContactId = c
            .contact_id
            .parse()
            .map_err(|_| AppError::Internal(format!("callback {} has a bad contact id", c.id)))?;
        let exists = match self.store().get_contact(c.tenant_id, id).await {
            Ok(_) => true,
            Err(StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        };
        if !exists {
            let mut attributes = BTreeMap::new();
            attributes.insert("callback".to_string(), "scheduled".to_string());
            let made = self
                .create_contact_with_id(
                    &p,
                    id,
                    NewContact {
                        channel: Channel::Voice,
                        direction: Direction::Outbound,
                        queue_id: c.queue_id.parse().map_err(|_| {
                            AppError::Internal(format!("callback {} has a bad queue id", c.id))
                        })?,
                        customer_id: c.customer_id.as_deref().and_then(|s| s.parse().ok()),
                        priority: None,
                        subject: Text::parse("Booked callback", 200).ok(),
                        from_address: None,
                        to_address: c.phone.as_deref().and_then(|s| Text::parse(s, 200).ok()),
                        attributes,
                        requested_agent_id: c.agent_id.as_deref().and_then(|s| s.parse().ok()),
                    },
                )
                .await;
            match made {
                Ok(_) => {}
                Err(AppError::Invalid(errors)) => {
                    // What it refers to is gone: it cannot be released, ever.
                    let why: Vec<String> = errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect();
                    self.store()
                        .settle_callback(
                            c,
                            "failed",
                            self.now(),
                            serde_json::json!({"error": why.join("; ")}),
                        )
                        .await?;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            if !c.notes.is_empty() {
                let patch = crate::contacts::ContactPatch {
                    notes: Some(c.notes.clone()),
                    ..Default::default()
                };
                self.update_contact(&p, id, patch).await?;
            }
            // It keeps its place as a callback: the agent rings the customer.
            if let Err(e) = self
                .routing
                .ask(c.tenant_id, |reply| Command::Callback {
                    contact: id,
                    reply,
                })
                .await?
            {
                tracing::warn!(callback = %c.id, error = %e, "a released callback could not be marked as one");
            }
        }
        self.store()
            .settle_callback(c, "released", self.now(), serde_json::json!({}))
            .await?;
        Ok(())
    }

    /// Releases callbacks as they fall due, until the process ends.
    pub async fn run_callback_release(self) {
        loop {
            let now = self.now();
            match self.store().claim_due_callbacks(now, 100).await {
                Ok(due) if !due.is_empty() => {
                    for c in &due {
                        if let Err(e) = self.release_callback(c).await {
                            // The claim lapses and the release is retried.
                            tracing::warn!(callback = %c.id, error = %e, "releasing a callback failed");
                        }
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading due callbacks failed"),
            }
            let next = self.store().next_callback_due().await.ok().flatten();
            let wait = next.map(|at| (at - now).clamp(20, 1_000)).unwrap_or(1_000);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }
}
