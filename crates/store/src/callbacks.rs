//! Callbacks booked for a later time, each change with its event on the
//! contact it was booked from, in the same transaction.

use sb_model::{TenantId, UnixMs};
use serde_json::json;
use sqlx::Any;

use crate::audit::append_event;
use crate::sql::{Bind, Sql};
use crate::{Result, ScheduledCallback, Store, StoreError};

/// How long a node's claim on a due callback holds before another node
/// may take it over.
pub const CLAIM_MS: UnixMs = 60_000;

/// Which callbacks to list.
#[derive(Debug, Clone, Default)]
pub struct CallbackFilter {
    /// `pending`, `released` or `cancelled`.
    pub state: Option<String>,
    /// Personal to this agent, or booked by this user.
    pub agent_or_booker: Option<(String, String)>,
}

impl Store {
    pub async fn insert_callback(&self, c: &ScheduledCallback) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO scheduled_callbacks (id, tenant_id, contact_id, origin_contact_id, customer_id, queue_id, \
             agent_id, phone, notes, due_at, state, booked_by, claimed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $14)",
        )
        .bind(&c.id)
        .bind(c.tenant_id.to_string())
        .bind(&c.contact_id)
        .bind(c.origin_contact_id.clone())
        .bind(c.customer_id.clone())
        .bind(&c.queue_id)
        .bind(c.agent_id.clone())
        .bind(c.phone.clone())
        .bind(&c.notes)
        .bind(c.due_at)
        .bind(&c.state)
        .bind(c.booked_by.clone())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        if let Some(origin) = &c.origin_contact_id {
            append_event(
                &mut tx,
                c.tenant_id,
                "callback.booked",
                origin,
                c.created_at,
                &json!({"callback_id": c.id, "due_at": c.due_at, "queue_id": c.queue_id,
                        "agent_id": c.agent_id, "contact_id": c.contact_id}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_callback(&self, tenant: TenantId, id: &str) -> Result<ScheduledCallback> {
        Ok(sqlx::query_as::<Any, ScheduledCallback>(
            "SELECT * FROM scheduled_callbacks WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    /// Callbacks by due time, soonest first.
    pub async fn list_callbacks(
        &self,
        tenant: TenantId,
        f: &CallbackFilter,
        limit: i64,
    ) -> Result<Vec<ScheduledCallback>> {
        let mut q = Sql::scoped("SELECT * FROM scheduled_callbacks", tenant);
        match f.state.as_deref() {
            // Claimed but not yet released is still pending to the people
            // waiting for it.
            Some("pending") => {
                q.push(" AND state IN ('pending', 'releasing')");
            }
            Some(s) => {
                q.bind(" AND state = ", Bind::Text(s.to_owned()));
            }
            None => {}
        }
        if let Some((agent, user)) = &f.agent_or_booker {
            q.bind(" AND (agent_id = ", Bind::Text(agent.clone()));
            q.bind(" OR booked_by = ", Bind::Text(user.clone()));
            q.push(")");
        }
        q.bind(" ORDER BY due_at, id LIMIT ", Bind::Int(limit));
        Ok(q.query_as::<ScheduledCallback>()
            .fetch_all(self.read())
            .await?)
    }

    /// Cancels a pending callback; `Conflict` if it was released or
    /// cancelled already.
    pub async fn cancel_callback(&self, c: &ScheduledCallback, at: UnixMs) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE scheduled_callbacks SET state = 'cancelled', updated_at = $1 \
             WHERE tenant_id = $2 AND id = $3 AND state = 'pending'",
        )
        .bind(at)
        .bind(c.tenant_id.to_string())
        .bind(&c.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the callback has already been released or cancelled".into(),
            ));
        }
        if let Some(origin) = &c.origin_contact_id {
            append_event(
                &mut tx,
                c.tenant_id,
                "callback.cancelled",
                origin,
                at,
                &json!({"callback_id": c.id}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` callbacks due by `now` (of every tenant) for
    /// this node: pending ones, and claims older than [`CLAIM_MS`].
    pub async fn claim_due_callbacks(
        &self,
        now: UnixMs,
        limit: i64,
    ) -> Result<Vec<ScheduledCallback>> {
        let due = sqlx::query_as::<Any, ScheduledCallback>(
            "SELECT * FROM scheduled_callbacks WHERE (state = 'pending' AND due_at <= $1) \
             OR (state = 'releasing' AND claimed_at < $2) ORDER BY due_at LIMIT $3",
        )
        .bind(now)
        .bind(now - CLAIM_MS)
        .bind(limit)
        .fetch_all(self.read())
        .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for c in due {
            let done = sqlx::query(
                "UPDATE scheduled_callbacks SET state = 'releasing', claimed_at = $1, updated_at = $1 \
                 WHERE id = $2 AND (state = 'pending' OR (state = 'releasing' AND claimed_at < $3))",
            )
            .bind(now)
            .bind(&c.id)
            .bind(now - CLAIM_MS)
            .execute(self.write())
            .await?;
            if done.rows_affected() == 1 {
                claimed.push(c);
            }
        }
        Ok(claimed)
    }

    /// When the next pending callback falls due.
    pub async fn next_callback_due(&self) -> Result<Option<UnixMs>> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT MIN(due_at) FROM scheduled_callbacks WHERE state = 'pending'")
                .fetch_optional(self.read())
                .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Ends a claimed callback: `released` (its contact exists) or
    /// `failed` (its contact could not be created), with the event on the
    /// contact it was booked from.
    pub async fn settle_callback(
        &self,
        c: &ScheduledCallback,
        state: &str,
        at: UnixMs,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "UPDATE scheduled_callbacks SET state = $1, updated_at = $2 WHERE id = $3 AND state = 'releasing'",
        )
        .bind(state.to_owned())
        .bind(at)
        .bind(&c.id)
        .execute(&mut *tx)
        .await?;
        if let Some(origin) = &c.origin_contact_id {
            let mut payload = json!({"callback_id": c.id, "contact_id": c.contact_id});
            if let (Some(p), Some(d)) = (payload.as_object_mut(), detail.as_object()) {
                p.extend(d.clone());
            }
            append_event(
                &mut tx,
                c.tenant_id,
                &format!("callback.{state}"),
                origin,
                at,
                &payload,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
