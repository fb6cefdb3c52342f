//! The work of a contact after it arrives, through the tenant's routing
//! engine: agents choose their state, accept or reject reservations,
//! complete and wrap up contacts, transfer them; channels report customers
//! who left or asked for a callback; everyone reads live status.
//!
//! Agents act on their own work. Team leaders and admins (who may allocate
//! agents' duties) may act for any agent.

use sb_model::{AgentId, ContactId, Permission, QueueId, Text};
use sb_routing::{Presence, TransferTarget};
use sb_store::{Contact, StoreError};

use crate::codes::CodeKind;
use crate::routing::{AgentLive, Command, QueueLive};
use crate::{App, AppError, Principal};

/// The state an agent chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChoice {
    Available,
    Away(Text),
    Offline,
}

impl App {
    /// The agent record of the caller, if it is an agent.
    pub async fn own_agent(&self, p: &Principal) -> Result<Option<AgentId>, AppError> {
        match p.user_id {
            Some(u) => Ok(self
                .store()
                .find_agent_by_user(p.tenant_id, u)
                .await?
                .map(|a| a.id)),
            None => Ok(None),
        }
    }

    /// Who the engine should check ownership against: `None` for those who
    /// may act for any agent, else the caller's own agent.
    async fn acting_as(&self, p: &Principal) -> Result<Option<AgentId>, AppError> {
        if p.require(Permission::AgentAllocate).is_ok() {
            return Ok(None);
        }
        p.require(Permission::ContactWrite)?;
        match self.own_agent(p).await? {
            Some(a) => Ok(Some(a)),
            None => Err(AppError::Forbidden(Permission::ContactWrite)),
        }
    }

    pub async fn set_agent_state(
        &self,
        p: &Principal,
        agent: AgentId,
        choice: AgentChoice,
    ) -> Result<AgentLive, AppError> {
        self.store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        let own = self.own_agent(p).await?;
        if own != Some(agent) {
            p.require(Permission::AgentAllocate)?;
        }
        if let AgentChoice::Away(r) = &choice {
            self.check_code(p.tenant_id, CodeKind::Reason, "reason", r.as_str())
                .await?;
        }
        let presence = match choice {
            AgentChoice::Available => Presence::Available,
            AgentChoice::Away(r) => Presence::Away(r.into_string()),
            AgentChoice::Offline => Presence::Offline,
        };
        self.routing
            .ask(p.tenant_id, |reply| Command::Presence {
                agent,
                presence,
                reply,
            })
            .await??;
        self.agent_live(p, agent).await
    }

    pub async fn agent_live(&self, p: &Principal, agent: AgentId) -> Result<AgentLive, AppError> {
        p.require(Permission::AgentRead)?;
        self.store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        self.routing
            .ask(p.tenant_id, |reply| Command::AgentStatus { agent, reply })
            .await?
            .ok_or(AppError::NotFound("agent"))
    }

    pub async fn queue_live(&self, p: &Principal, queue: QueueId) -> Result<QueueLive, AppError> {
        p.require(Permission::QueueRead)?;
        self.store()
            .get_queue(p.tenant_id, queue)
            .await
            .map_err(AppError::from_store("queue"))?;
        self.routing
            .ask(p.tenant_id, |reply| Command::QueueStatus { queue, reply })
            .await?
            .ok_or(AppError::NotFound("queue"))
    }

    pub(crate) async fn contact_now(
        &self,
        p: &Principal,
        id: ContactId,
    ) -> Result<Contact, AppError> {
        self.store()
            .get_contact(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("contact"))
    }

    /// Accepts (`accept: true`) or rejects a reservation made for the
    /// caller (or, for those who allocate duties, for any agent).
    pub async fn respond_to_reservation(
        &self,
        p: &Principal,
        reservation: u64,
        accept: bool,
    ) -> Result<Contact, AppError> {
        let by = self.acting_as(p).await?;
        let contact = self
            .routing
            .ask(p.tenant_id, |reply| Command::Respond {
                reservation,
                accept,
                by,
                reply,
            })
            .await??;
        self.contact_now(p, contact).await
    }

    /// The conversation is over; wrap-up starts (or the contact ends if its
    /// queue has no wrap-up time).
    pub async fn complete_contact(
        &self,
        p: &Principal,
        contact: ContactId,
    ) -> Result<Contact, AppError> {
        let by = self.acting_as(p).await?;
        self.contact_now(p, contact).await?;
        self.routing
            .ask(p.tenant_id, |reply| Command::Complete {
                contact,
                by,
                reply,
            })
            .await??;
        self.contact_now(p, contact).await
    }

    /// Records the disposition and notes and ends wrap-up. On a contact
    /// that has already ended (no wrap-up time, or it ran out) it records
    /// them only.
    pub async fn wrap_up(
        &self,
        p: &Principal,
        contact: ContactId,
        disposition: Option<Text>,
        notes: Option<String>,
    ) -> Result<Contact, AppError> {
        let by = self.acting_as(p).await?;
        let current = self.contact_now(p, contact).await?;
        if disposition.is_none() {
            self.require_code(p.tenant_id, CodeKind::Disposition, "disposition")
                .await?;
        }
        if disposition.is_some() || notes.is_some() {
            let patch = crate::contacts::ContactPatch {
                disposition: disposition.map(Some),
                notes,
                ..Default::default()
            };
            self.update_contact(p, contact, patch).await?;
        }
        if !current.state.is_final() {
            match self
                .routing
                .ask(p.tenant_id, |reply| Command::WrapUpDone {
                    contact,
                    by,
                    reply,
                })
                .await?
            {
                Ok(()) => {}
                Err(AppError::Conflict(m)) if !m.contains("not yours") => {
                    // Not in wrap-up (still talking): the conversation must end first.
                    return Err(AppError::Conflict(format!(
                        "{m}; complete it before wrapping up"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        self.contact_now(p, contact).await
    }

    pub async fn transfer_contact(
        &self,
        p: &Principal,
        contact: ContactId,
        queue: QueueId,
        agent: Option<AgentId>,
    ) -> Result<Contact, AppError> {
        let by = self.acting_as(p).await?;
        self.contact_now(p, contact).await?;
        match self.store().get_queue(p.tenant_id, queue).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(AppError::invalid("queue_id", "no such queue"));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(a) = agent {
            match self.store().get_agent(p.tenant_id, a).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    return Err(AppError::invalid("agent_id", "no such agent"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let to = match agent {
            Some(agent) => TransferTarget::Agent { queue, agent },
            None => TransferTarget::Queue(queue),
        };
        self.routing
            .ask(p.tenant_id, |reply| Command::Transfer {
                contact,
                to,
                by,
                reply,
            })
            .await??;
        self.contact_now(p, contact).await
    }

    /// A waiting customer keeps their place and will be called back.
    pub async fn request_callback(
        &self,
        p: &Principal,
        contact: ContactId,
    ) -> Result<Contact, AppError> {
        p.require(Permission::ContactWrite)?;
        self.contact_now(p, contact).await?;
        self.routing
            .ask(p.tenant_id, |reply| Command::Callback { contact, reply })
            .await??;
        self.contact_now(p, contact).await
    }

    /// The channel reports the customer gone (hung up, closed the chat).
    pub async fn abandon_contact(
        &self,
        p: &Principal,
        contact: ContactId,
    ) -> Result<Contact, AppError> {
        p.require(Permission::ContactWrite)?;
        let c = self.contact_now(p, contact).await?;
        if c.state.is_final() {
            return Err(AppError::Conflict(format!(
                "the contact has already {}",
                c.state
            )));
        }
        self.routing
            .ask(p.tenant_id, |reply| Command::Abandon { contact, reply })
            .await??;
        self.contact_now(p, contact).await
    }

    /// Subscribes to the tenant's live routing events (wallboards, floor
    /// views, agent desktops). The caller filters by `p.tenant_id`.
    pub fn live_events(
        &self,
        p: &Principal,
    ) -> Result<tokio::sync::broadcast::Receiver<std::sync::Arc<crate::routing::LiveEvent>>, AppError>
    {
        p.require(Permission::QueueRead)?;
        Ok(self.subscribe_live())
    }

    /// Tells the tenant's engine that its configuration changed.
    pub(crate) async fn routing_changed(&self, p: &Principal) {
        self.routing.reload(p.tenant_id, None).await;
    }

    /// Tells the tenant's engine that one agent changed.
    pub(crate) async fn agent_changed(&self, p: &Principal, agent: AgentId) {
        self.routing.reload(p.tenant_id, Some(agent)).await;
    }
}
