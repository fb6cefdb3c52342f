//! The audit log (who changed what, when, from where) and the append-only
//! event log. Both are written inside the caller's transaction.

use sb_model::{TenantId, UnixMs, UserId};
use sqlx::{Any, Transaction};
use uuid::Uuid;

use crate::sql::{Bind, Sql};
use crate::{AuditRow, Event, Page, Result, Store, page};

/// Who is making a change and from where; the store adds what and when.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor_user_id: Option<UserId>,
    /// `user` (browser session), `token` (API token), `cli`, `system`.
    pub actor_kind: &'static str,
    /// The client address, or `cli`/`system`.
    pub source: String,
    pub at: UnixMs,
}

impl AuditEntry {
    pub fn system(at: UnixMs) -> Self {
        AuditEntry {
            actor_user_id: None,
            actor_kind: "system",
            source: "system".into(),
            at,
        }
    }
}

pub(crate) async fn write_audit(
    tx: &mut Transaction<'_, Any>,
    tenant: TenantId,
    who: &AuditEntry,
    action: &str,
    object_type: &str,
    object_id: &str,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, at, actor_user_id, actor_kind, action, object_type, object_id, source, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(tenant.to_string())
    .bind(who.at)
    .bind(who.actor_user_id.map(|u| u.to_string()))
    .bind(who.actor_kind)
    .bind(action)
    .bind(object_type)
    .bind(object_id)
    .bind(who.source.as_str())
    .bind(details.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn append_event(
    tx: &mut Transaction<'_, Any>,
    tenant: TenantId,
    kind: &str,
    subject_id: &str,
    at: UnixMs,
    payload: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (tenant_id, kind, subject_id, at, payload) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.to_string())
    .bind(kind)
    .bind(subject_id)
    .bind(at)
    .bind(payload.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which audit entries to list, and in which order.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub object_id: Option<String>,
    /// An exact action, e.g. `user.updated`.
    pub action: Option<String>,
    pub newest_first: bool,
}

impl Store {
    /// The audit log of a tenant, oldest first.
    pub async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Page<AuditRow>> {
        let mut q = Sql::scoped("SELECT * FROM audit_log", tenant);
        if let Some(o) = &filter.object_id {
            q.bind(" AND object_id = ", Bind::Text(o.clone()));
        }
        if let Some(a) = &filter.action {
            q.bind(" AND action = ", Bind::Text(a.clone()));
        }
        if filter.newest_first {
            q.page_desc(after.map(str::to_owned), limit);
        } else {
            q.page(after.map(str::to_owned), limit);
        }
        let rows = q.query_as::<AuditRow>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |r| r.id.clone()))
    }

    /// A tenant's events after `after_seq`, in order.
    /// The events of one subject (a contact, an agent, a queue), oldest
    /// first, at most `limit`.
    pub async fn events_of(
        &self,
        tenant: TenantId,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<Event>> {
        Ok(sqlx::query_as::<Any, Event>(
            "SELECT * FROM events WHERE tenant_id = $1 AND subject_id = $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.to_string())
        .bind(subject.to_owned())
        .bind(limit)
        .fetch_all(self.read())
        .await?)
    }

    /// The events of one subject from `since` (inclusive) to `until`
    /// (exclusive), oldest first, at most `limit`, led by the last event
    /// before `since` (the state the range began in).
    pub async fn events_between(
        &self,
        tenant: TenantId,
        subject: &str,
        since: UnixMs,
        until: UnixMs,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let mut out = sqlx::query_as::<Any, Event>(
            "SELECT * FROM events WHERE tenant_id = $1 AND subject_id = $2 AND at < $3 ORDER BY seq DESC LIMIT 1",
        )
        .bind(tenant.to_string())
        .bind(subject.to_owned())
        .bind(since)
        .fetch_all(self.read())
        .await?;
        out.extend(
            sqlx::query_as::<Any, Event>(
                "SELECT * FROM events WHERE tenant_id = $1 AND subject_id = $2 AND at >= $3 AND at < $4 ORDER BY seq LIMIT $5",
            )
            .bind(tenant.to_string())
            .bind(subject.to_owned())
            .bind(since)
            .bind(until)
            .bind(limit)
            .fetch_all(self.read())
            .await?,
        );
        Ok(out)
    }

    pub async fn list_events(
        &self,
        tenant: TenantId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Event>> {
        Ok(sqlx::query_as::<Any, Event>(
            "SELECT * FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.to_string())
        .bind(after_seq)
        .bind(limit)
        .fetch_all(self.read())
        .await?)
    }
}
