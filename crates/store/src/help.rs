//! Raised hands: help requests from agents and team leaders' answers, each
//! change with its event in the same transaction.

use sb_model::{AgentId, TenantId};
use serde_json::json;
use sqlx::Any;

use crate::audit::append_event;
use crate::sql::{Bind, Sql};
use crate::{HelpRequest, Result, Store, StoreError};

impl Store {
    pub async fn insert_help(&self, h: &HelpRequest) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO help_requests (id, tenant_id, agent_id, contact_id, question, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&h.id)
        .bind(h.tenant_id.to_string())
        .bind(h.agent_id.to_string())
        .bind(h.contact_id.clone())
        .bind(&h.question)
        .bind(&h.state)
        .bind(h.created_at)
        .execute(&mut *tx)
        .await?;
        append_event(
            &mut tx,
            h.tenant_id,
            "help.raised",
            &h.id,
            h.created_at,
            &json!({"agent_id": h.agent_id, "contact_id": h.contact_id, "question": h.question}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Answers an open request; `NotFound` if there is none, `Conflict` if
    /// it was answered already.
    pub async fn answer_help(&self, h: &HelpRequest) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE help_requests SET state = 'answered', answer = $1, answered_by = $2, answered_at = $3 \
             WHERE tenant_id = $4 AND id = $5 AND state = 'open'",
        )
        .bind(h.answer.clone())
        .bind(h.answered_by.clone())
        .bind(h.answered_at)
        .bind(h.tenant_id.to_string())
        .bind(&h.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the request is already answered".into(),
            ));
        }
        append_event(
            &mut tx,
            h.tenant_id,
            "help.answered",
            &h.id,
            h.answered_at.unwrap_or(h.created_at),
            &json!({"agent_id": h.agent_id, "contact_id": h.contact_id, "answer": h.answer}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_help(&self, tenant: TenantId, id: &str) -> Result<HelpRequest> {
        Ok(sqlx::query_as::<Any, HelpRequest>(
            "SELECT * FROM help_requests WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    /// Requests, newest first: optionally only open ones, or one agent's.
    pub async fn list_help(
        &self,
        tenant: TenantId,
        open_only: bool,
        agent: Option<AgentId>,
        limit: i64,
    ) -> Result<Vec<HelpRequest>> {
        let mut q = Sql::scoped("SELECT * FROM help_requests", tenant);
        if open_only {
            q.push(" AND state = 'open'");
        }
        if let Some(a) = agent {
            q.bind(" AND agent_id = ", Bind::Text(a.to_string()));
        }
        q.bind(" ORDER BY id DESC LIMIT ", Bind::Int(limit));
        Ok(q.query_as::<HelpRequest>().fetch_all(self.read()).await?)
    }
}
