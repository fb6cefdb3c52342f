//! Contacts: one interaction on one channel, with its timeline. New contacts
//! and their routing are written by `apply_routing`; what people record on
//! a contact is written here, with an event.

use sb_model::{AgentId, Channel, ContactId, ContactState, CustomerId, QueueId, TenantId, UnixMs};
use sqlx::{Any, Transaction};

use crate::audit::append_event;
use crate::sql::{Bind, Sql};
use crate::{Contact, Page, Result, Store, StoreError, page};

/// Filters for listing contacts.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub queue_id: Option<QueueId>,
    pub channel: Option<Channel>,
    pub state: Option<ContactState>,
    pub customer_id: Option<CustomerId>,
    pub arrived_from: Option<UnixMs>,
    pub arrived_before: Option<UnixMs>,
    /// Handled (or being handled) by this agent.
    pub agent_id: Option<AgentId>,
}

const CONTACT_COLUMNS: &str = "id, tenant_id, channel, direction, queue_id, customer_id, agent_id, state, priority, subject, \
     from_address, to_address, reason, disposition, notes, arrived_at, queued_at, first_reserved_at, answered_at, hold_ms, \
     wrap_started_at, wrap_ended_at, ended_at, abandoned_at, created_at, updated_at, attributes, requested_agent_id";
const CONTACT_COLUMN_COUNT: usize = 28;

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// `($1, …, $n), ($n+1, …)`: placeholders for `rows` rows of `columns`
/// values. With `anonymous` (SQLite) they are plain `?`: SQLite looks named
/// and numbered parameters up by walking a list, which makes binding a
/// statement with many of them quadratic.
pub(crate) fn value_rows(rows: usize, columns: usize, anonymous: bool) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            if anonymous {
                out.push('?');
            } else {
                out.push('$');
                out.push_str(&(r * columns + c + 1).to_string());
            }
        }
        out.push(')');
    }
    out
}

fn bind_contact<'q>(q: AnyQuery<'q>, c: &Contact) -> AnyQuery<'q> {
    q.bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.channel.as_str())
        .bind(c.direction.as_str())
        .bind(c.queue_id.to_string())
        .bind(c.customer_id.clone())
        .bind(c.agent_id.clone())
        .bind(c.state.as_str())
        .bind(c.priority)
        .bind(c.subject.clone())
        .bind(c.from_address.clone())
        .bind(c.to_address.clone())
        .bind(c.reason.clone())
        .bind(c.disposition.clone())
        .bind(c.notes.clone())
        .bind(c.arrived_at)
        .bind(c.queued_at)
        .bind(c.first_reserved_at)
        .bind(c.answered_at)
        .bind(c.hold_ms)
        .bind(c.wrap_started_at)
        .bind(c.wrap_ended_at)
        .bind(c.ended_at)
        .bind(c.abandoned_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.attributes.clone())
        .bind(c.requested_agent_id.clone())
}

/// Inserts contacts with one multi-row statement.
pub(crate) async fn insert_contacts(
    tx: &mut Transaction<'_, Any>,
    contacts: &[&Contact],
    anonymous: bool,
) -> Result<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO contacts ({CONTACT_COLUMNS}) VALUES {}",
        value_rows(contacts.len(), CONTACT_COLUMN_COUNT, anonymous)
    );
    let mut q = sqlx::query::<Any>(sqlx::AssertSqlSafe(sql));
    for c in contacts {
        q = bind_contact(q, c);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    pub async fn get_contact(&self, tenant: TenantId, id: ContactId) -> Result<Contact> {
        Ok(sqlx::query_as::<Any, Contact>(
            "SELECT * FROM contacts WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.read())
        .await?)
    }

    /// Writes what people record on a contact (customer, subject, reason,
    /// disposition, notes, priority) and appends `event_kind` with `event` to
    /// the event log in the same transaction. State, queue, agent and
    /// timeline belong to the routing engine (`apply_routing`).
    pub async fn update_contact(
        &self,
        c: &Contact,
        event_kind: &str,
        event: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE contacts SET customer_id = $1, priority = $2, subject = $3, reason = $4, disposition = $5, notes = $6, updated_at = $7 \
             WHERE tenant_id = $8 AND id = $9",
        )
        .bind(c.customer_id.clone())
        .bind(c.priority)
        .bind(&c.subject)
        .bind(c.reason.clone())
        .bind(c.disposition.clone())
        .bind(&c.notes)
        .bind(c.updated_at)
        .bind(c.tenant_id.to_string())
        .bind(c.id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_event(
            &mut tx,
            c.tenant_id,
            event_kind,
            &c.id.to_string(),
            c.updated_at,
            event,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_contacts(
        &self,
        tenant: TenantId,
        f: &ContactFilter,
        after: Option<ContactId>,
        limit: i64,
    ) -> Result<Page<Contact>> {
        let mut q = Sql::scoped("SELECT * FROM contacts", tenant);
        if let Some(v) = f.queue_id {
            q.bind(" AND queue_id = ", Bind::Text(v.to_string()));
        }
        if let Some(v) = f.channel {
            q.bind(" AND channel = ", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = f.state {
            q.bind(" AND state = ", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = f.customer_id {
            q.bind(" AND customer_id = ", Bind::OptText(Some(v.to_string())));
        }
        if let Some(v) = f.arrived_from {
            q.bind(" AND arrived_at >= ", Bind::Int(v));
        }
        if let Some(v) = f.arrived_before {
            q.bind(" AND arrived_at < ", Bind::Int(v));
        }
        if let Some(v) = f.agent_id {
            q.bind(" AND agent_id = ", Bind::OptText(Some(v.to_string())));
        }
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<Contact>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |c| c.id.to_string()))
    }

    /// How many contacts a tenant has (for the wallboard and tests).
    pub async fn count_contacts(&self, tenant: TenantId) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE tenant_id = $1")
                .bind(tenant.to_string())
                .fetch_one(self.read())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_rows_number_every_placeholder() {
        assert_eq!(super::value_rows(2, 3, false), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::value_rows(1, 1, false), "($1)");
        assert_eq!(super::value_rows(2, 2, true), "(?, ?), (?, ?)");
    }
}
