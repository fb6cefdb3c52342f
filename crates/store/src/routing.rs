//! What the routing engine persists: contact state and timeline, agent
//! presence, and its events, written together in one transaction per batch
//! of engine work so that an acknowledged change is durable.

use sb_model::{AgentId, TenantId, UnixMs};
use sqlx::{Any, FromRow};

use crate::contacts::insert_contacts;
use crate::sql::Sql;
use crate::{Contact, Result, Store};

/// An agent's chosen presence as stored.
#[derive(Debug, Clone, FromRow)]
pub struct AgentStateRow {
    #[sqlx(try_from = "String")]
    pub agent_id: AgentId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    /// `available`, `away` or `offline`.
    pub presence: String,
    pub reason: Option<String>,
    pub since: UnixMs,
}

/// One event for the log.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub subject_id: String,
    pub at: UnixMs,
    pub payload: serde_json::Value,
}

/// Everything one batch of routing work changed.
#[derive(Debug, Default)]
pub struct RoutingChanges {
    pub new_contacts: Vec<Contact>,
    /// Contacts whose routing columns changed (state, queue, agent, timeline).
    pub contacts: Vec<Contact>,
    pub agent_states: Vec<AgentStateRow>,
    pub events: Vec<NewEvent>,
    /// Webhook outbox rows for some of `events`.
    pub deliveries: Vec<crate::WebhookDelivery>,
    /// Received messages whose new contacts are in `new_contacts`, stored
    /// in the same transaction.
    pub received: Vec<crate::Received>,
}

impl RoutingChanges {
    pub fn is_empty(&self) -> bool {
        self.new_contacts.is_empty()
            && self.contacts.is_empty()
            && self.agent_states.is_empty()
            && self.events.is_empty()
            && self.deliveries.is_empty()
            && self.received.is_empty()
    }
}

impl Store {
    /// Writes a batch of routing work in one transaction.
    pub async fn apply_routing(&self, tenant: TenantId, changes: &RoutingChanges) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let anonymous = self.backend() == crate::Backend::Sqlite;
        let mut tx = self.write().begin().await?;
        for chunk in changes.new_contacts.chunks(64) {
            let refs: Vec<&Contact> = chunk.iter().collect();
            insert_contacts(&mut tx, &refs, anonymous).await?;
        }
        for r in &changes.received {
            crate::email::write_received(&mut tx, r).await?;
        }
        for c in &changes.contacts {
            sqlx::query(
                "UPDATE contacts SET queue_id = $1, agent_id = $2, state = $3, queued_at = $4, first_reserved_at = $5, answered_at = $6, \
                 wrap_started_at = $7, wrap_ended_at = $8, ended_at = $9, abandoned_at = $10, updated_at = $11, requested_agent_id = $12 \
                 WHERE tenant_id = $13 AND id = $14",
            )
            .bind(c.queue_id.to_string())
            .bind(c.agent_id.clone())
            .bind(c.state.as_str())
            .bind(c.queued_at)
            .bind(c.first_reserved_at)
            .bind(c.answered_at)
            .bind(c.wrap_started_at)
            .bind(c.wrap_ended_at)
            .bind(c.ended_at)
            .bind(c.abandoned_at)
            .bind(c.updated_at)
            .bind(c.requested_agent_id.clone())
            .bind(tenant.to_string())
            .bind(c.id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        for a in &changes.agent_states {
            sqlx::query(
                "INSERT INTO agent_states (agent_id, tenant_id, presence, reason, since) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (agent_id) DO UPDATE SET presence = excluded.presence, reason = excluded.reason, since = excluded.since",
            )
            .bind(a.agent_id.to_string())
            .bind(tenant.to_string())
            .bind(&a.presence)
            .bind(a.reason.clone())
            .bind(a.since)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in changes.events.chunks(64) {
            let sql = format!(
                "INSERT INTO events (tenant_id, kind, subject_id, at, payload) VALUES {}",
                crate::contacts::value_rows(chunk.len(), 5, anonymous)
            );
            let mut q = sqlx::query::<Any>(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(tenant.to_string())
                    .bind(e.kind)
                    .bind(e.subject_id.clone())
                    .bind(e.at)
                    .bind(e.payload.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        crate::hooks::insert_deliveries(&mut tx, &changes.deliveries, anonymous).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Contacts not yet ended or abandoned, oldest arrival first.
    pub async fn open_contacts(&self, tenant: TenantId) -> Result<Vec<Contact>> {
        let mut q = Sql::scoped("SELECT * FROM contacts", tenant);
        q.push(" AND state NOT IN ('ended', 'abandoned') ORDER BY arrived_at, id");
        Ok(q.query_as::<Contact>().fetch_all(self.read()).await?)
    }

    pub async fn agent_states(&self, tenant: TenantId) -> Result<Vec<AgentStateRow>> {
        let q = Sql::scoped("SELECT * FROM agent_states", tenant);
        Ok(q.query_as::<AgentStateRow>().fetch_all(self.read()).await?)
    }
}
