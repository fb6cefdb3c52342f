//! "Raise hand": an agent asks a team leader for help, usually on a contact
//! in hand; team leaders see open requests and answer. Each change is
//! stored with its event and published live.

use sb_model::{ContactId, Permission, Text};
use sb_store::HelpRequest;

use crate::routing::LiveEvent;
use crate::{App, AppError, Principal};

/// The longest question or answer.
pub const MAX_HELP_TEXT: usize = 2_000;

impl App {
    fn publish_help(&self, kind: &'static str, h: &HelpRequest) {
        self.routing.publish(LiveEvent {
            tenant_id: h.tenant_id,
            kind,
            subject_id: h.id.clone(),
            at: h.answered_at.unwrap_or(h.created_at),
            payload: serde_json::json!({"agent_id": h.agent_id, "contact_id": h.contact_id,
                "question": h.question, "answer": h.answer}),
        });
    }

    /// The calling agent raises a hand, about `contact` if given (a contact
    /// of theirs).
    pub async fn raise_hand(
        &self,
        p: &Principal,
        question: Text,
        contact: Option<ContactId>,
    ) -> Result<HelpRequest, AppError> {
        p.require(Permission::ContactWrite)?;
        let agent = self
            .own_agent(p)
            .await?
            .ok_or(AppError::Forbidden(Permission::ContactWrite))?;
        if let Some(c) = contact {
            let row = self
                .store()
                .get_contact(p.tenant_id, c)
                .await
                .map_err(|_| AppError::invalid("contact_id", "no such contact"))?;
            if row.agent_id.as_deref() != Some(agent.to_string().as_str()) {
                return Err(AppError::invalid("contact_id", "is not a contact of yours"));
            }
        }
        let h = HelpRequest {
            id: self.new_uuid().to_string(),
            tenant_id: p.tenant_id,
            agent_id: agent,
            contact_id: contact.map(|c| c.to_string()),
            question: question.into_string(),
            state: "open".into(),
            answer: None,
            answered_by: None,
            created_at: self.now(),
            answered_at: None,
        };
        self.store().insert_help(&h).await?;
        self.publish_help("help.raised", &h);
        Ok(h)
    }

    /// A team leader answers an open request.
    pub async fn answer_hand(
        &self,
        p: &Principal,
        id: &str,
        answer: Text,
    ) -> Result<HelpRequest, AppError> {
        p.require(Permission::AgentAllocate)?;
        let mut h = self
            .store()
            .get_help(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("help request"))?;
        h.answer = Some(answer.into_string());
        h.answered_by = p.user_id.map(|u| u.to_string());
        h.answered_at = Some(self.now());
        h.state = "answered".into();
        self.store().answer_help(&h).await?;
        self.publish_help("help.answered", &h);
        Ok(h)
    }

    /// Requests, newest first: team leaders see everyone's, agents their own.
    pub async fn list_hands(
        &self,
        p: &Principal,
        open_only: bool,
    ) -> Result<Vec<HelpRequest>, AppError> {
        if p.require(Permission::AgentAllocate).is_ok() {
            return Ok(self
                .store()
                .list_help(p.tenant_id, open_only, None, 200)
                .await?);
        }
        p.require(Permission::ContactRead)?;
        let agent = self
            .own_agent(p)
            .await?
            .ok_or(AppError::Forbidden(Permission::AgentAllocate))?;
        Ok(self
            .store()
            .list_help(p.tenant_id, open_only, Some(agent), 200)
            .await?)
    }
}
