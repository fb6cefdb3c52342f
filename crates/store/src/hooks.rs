//! Business hours, outbound webhooks and the webhook outbox.
//!
//! Deliveries are written by the routing task in the same transaction as
//! the events they carry (`apply_routing`), so an acknowledged event is
//! never lost to its subscribers; the delivery worker reads them here.

use sb_model::{BusinessHoursId, TenantId, UnixMs, WebhookId};
use serde_json::json;
use sqlx::{Any, Transaction};

use crate::audit::write_audit;
use crate::sql::Sql;
use crate::{
    AuditEntry, BusinessHoursRow, Page, Result, Store, StoreError, Webhook, WebhookDelivery, page,
};

fn hours_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("business hours with this name exist".into())
        }
        other => other,
    }
}

impl Store {
    // ---- business hours ----

    pub async fn insert_business_hours(
        &self,
        h: &BusinessHoursRow,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("INSERT INTO business_hours (id, tenant_id, name, hours, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(h.id.to_string())
            .bind(h.tenant_id.to_string())
            .bind(&h.name)
            .bind(&h.hours)
            .bind(h.created_at)
            .bind(h.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(hours_conflict)?;
        write_audit(
            &mut tx,
            h.tenant_id,
            who,
            "business_hours.created",
            "business_hours",
            &h.id.to_string(),
            json!({"name": h.name, "hours": h.hours}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_business_hours(
        &self,
        h: &BusinessHoursRow,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query("UPDATE business_hours SET name = $1, hours = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
            .bind(&h.name)
            .bind(&h.hours)
            .bind(h.updated_at)
            .bind(h.tenant_id.to_string())
            .bind(h.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(hours_conflict)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            h.tenant_id,
            who,
            "business_hours.updated",
            "business_hours",
            &h.id.to_string(),
            json!({"name": h.name, "hours": h.hours}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_business_hours(
        &self,
        tenant: TenantId,
        id: BusinessHoursId,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query("DELETE FROM business_hours WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "business_hours.deleted",
            "business_hours",
            &id.to_string(),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_business_hours(
        &self,
        tenant: TenantId,
        id: BusinessHoursId,
    ) -> Result<BusinessHoursRow> {
        Ok(sqlx::query_as::<Any, BusinessHoursRow>(
            "SELECT * FROM business_hours WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.read())
        .await?)
    }

    pub async fn list_business_hours(
        &self,
        tenant: TenantId,
        after: Option<BusinessHoursId>,
        limit: i64,
    ) -> Result<Page<BusinessHoursRow>> {
        let mut q = Sql::scoped("SELECT * FROM business_hours", tenant);
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q
            .query_as::<BusinessHoursRow>()
            .fetch_all(self.read())
            .await?;
        Ok(page(rows, limit, |h| h.id.to_string()))
    }

    // ---- webhooks ----

    pub async fn insert_webhook(&self, w: &Webhook, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("INSERT INTO webhooks (id, tenant_id, url, secret, events, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(w.id.to_string())
            .bind(w.tenant_id.to_string())
            .bind(&w.url)
            .bind(&w.secret)
            .bind(&w.events)
            .bind(w.active)
            .bind(w.created_at)
            .bind(w.updated_at)
            .execute(&mut *tx)
            .await?;
        write_audit(
            &mut tx,
            w.tenant_id,
            who,
            "webhook.created",
            "webhook",
            &w.id.to_string(),
            json!({"url": w.url, "events": w.events, "active": w.active != 0}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_webhook(&self, w: &Webhook, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query("UPDATE webhooks SET url = $1, secret = $2, events = $3, active = $4, updated_at = $5 WHERE tenant_id = $6 AND id = $7")
            .bind(&w.url)
            .bind(&w.secret)
            .bind(&w.events)
            .bind(w.active)
            .bind(w.updated_at)
            .bind(w.tenant_id.to_string())
            .bind(w.id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            w.tenant_id,
            who,
            "webhook.updated",
            "webhook",
            &w.id.to_string(),
            json!({"url": w.url, "events": w.events, "active": w.active != 0}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a webhook and its delivery history.
    pub async fn delete_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "webhook.deleted",
            "webhook",
            &id.to_string(),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_webhook(&self, tenant: TenantId, id: WebhookId) -> Result<Webhook> {
        Ok(sqlx::query_as::<Any, Webhook>(
            "SELECT * FROM webhooks WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.read())
        .await?)
    }

    pub async fn list_webhooks(
        &self,
        tenant: TenantId,
        after: Option<WebhookId>,
        limit: i64,
    ) -> Result<Page<Webhook>> {
        let mut q = Sql::scoped("SELECT * FROM webhooks", tenant);
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<Webhook>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |w| w.id.to_string()))
    }

    // ---- the outbox ----

    /// A webhook's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        before: Option<String>,
        limit: i64,
    ) -> Result<Page<WebhookDelivery>> {
        let mut q = Sql::scoped("SELECT * FROM webhook_deliveries", tenant);
        q.bind(
            " AND webhook_id = ",
            crate::sql::Bind::Text(webhook.to_string()),
        );
        if let Some(b) = before {
            q.bind(" AND id < ", crate::sql::Bind::Text(b));
        }
        q.bind(" ORDER BY id DESC LIMIT ", crate::sql::Bind::Int(limit + 1));
        let rows = q
            .query_as::<WebhookDelivery>()
            .fetch_all(self.read())
            .await?;
        Ok(page(rows, limit, |d| d.id.clone()))
    }

    /// Deliveries due by `now`, oldest first, across tenants (for the
    /// delivery worker).
    pub async fn due_deliveries(&self, now: UnixMs, limit: i64) -> Result<Vec<WebhookDelivery>> {
        Ok(sqlx::query_as::<Any, WebhookDelivery>(
            "SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.read())
        .await?)
    }

    /// When the next pending delivery is due, if any.
    pub async fn next_delivery_due(&self) -> Result<Option<UnixMs>> {
        let row: (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'",
        )
        .fetch_one(self.read())
        .await?;
        Ok(row.0)
    }

    /// Records one attempt: delivered, retry at `next` (state stays
    /// pending), or given up (`failed`).
    pub async fn record_delivery_attempt(&self, d: &WebhookDelivery) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4, last_error = $5, delivered_at = $6 \
             WHERE tenant_id = $7 AND id = $8",
        )
        .bind(&d.state)
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .bind(d.last_status)
        .bind(d.last_error.clone())
        .bind(d.delivered_at)
        .bind(d.tenant_id.to_string())
        .bind(&d.id)
        .execute(self.write())
        .await?;
        Ok(())
    }
}

/// Inserts outbox rows inside a routing transaction.
pub(crate) async fn insert_deliveries(
    tx: &mut Transaction<'static, Any>,
    rows: &[WebhookDelivery],
    anonymous: bool,
) -> Result<()> {
    for chunk in rows.chunks(64) {
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_kind, body, state, attempts, next_attempt_at, created_at) VALUES {}",
            crate::contacts::value_rows(chunk.len(), 9, anonymous)
        );
        let mut q = sqlx::query::<Any>(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            q = q
                .bind(d.id.clone())
                .bind(d.tenant_id.to_string())
                .bind(d.webhook_id.to_string())
                .bind(d.event_kind.clone())
                .bind(d.body.clone())
                .bind(d.state.clone())
                .bind(d.attempts)
                .bind(d.next_attempt_at)
                .bind(d.created_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
