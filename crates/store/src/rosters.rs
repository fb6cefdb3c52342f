//! Workforce data: agents' contracts, rosters and their shifts, and the
//! calendar feeds agents subscribe to. Changes are audited in the same
//! transaction.

use sb_model::{TenantId, UnixMs};
use serde_json::json;
use sqlx::Any;

use crate::audit::write_audit;
use crate::{AgentContract, AuditEntry, Result, Roster, RosterShift, Store, StoreError};

/// The roster `id`, which must still be a draft for it to be `done`.
async fn draft_in(
    tx: &mut sqlx::Transaction<'_, Any>,
    tenant: TenantId,
    id: &str,
    done: &str,
) -> Result<Roster> {
    let r = sqlx::query_as::<Any, Roster>("SELECT * FROM rosters WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(&mut **tx)
        .await?;
    if r.state != "draft" {
        return Err(StoreError::Conflict(format!(
            "the roster is {}; only a draft can be {done}",
            r.state
        )));
    }
    Ok(r)
}

impl Store {
    /// Sets an agent's contract, replacing any before.
    pub async fn put_contract(&self, c: &AgentContract, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM agent_contracts WHERE tenant_id = $1 AND agent_id = $2")
            .bind(c.tenant_id.to_string())
            .bind(&c.agent_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO agent_contracts (tenant_id, agent_id, min_minutes, max_minutes, availability, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.tenant_id.to_string())
        .bind(&c.agent_id)
        .bind(c.min_minutes)
        .bind(c.max_minutes)
        .bind(&c.availability)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        write_audit(
            &mut tx,
            c.tenant_id,
            who,
            "contract.updated",
            "agent",
            &c.agent_id,
            json!({"min_minutes": c.min_minutes, "max_minutes": c.max_minutes,
                   "availability": serde_json::from_str::<serde_json::Value>(&c.availability).unwrap_or_default()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_contracts(&self, tenant: TenantId) -> Result<Vec<AgentContract>> {
        Ok(sqlx::query_as::<Any, AgentContract>(
            "SELECT * FROM agent_contracts WHERE tenant_id = $1 ORDER BY agent_id LIMIT 100000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// Stores a roster with its shifts.
    pub async fn insert_roster(
        &self,
        r: &Roster,
        shifts: &[RosterShift],
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO rosters (id, tenant_id, name, first_day, end_day, days, state, unfilled, created_by, \
             created_at, published_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&r.id)
        .bind(r.tenant_id.to_string())
        .bind(&r.name)
        .bind(&r.first_day)
        .bind(&r.end_day)
        .bind(r.days)
        .bind(&r.state)
        .bind(&r.unfilled)
        .bind(r.created_by.clone())
        .bind(r.created_at)
        .bind(r.published_at)
        .bind(r.updated_at)
        .execute(&mut *tx)
        .await?;
        for s in shifts {
            sqlx::query(
                "INSERT INTO roster_shifts (id, tenant_id, roster_id, agent_id, label, skill, starts_at, ends_at, breaks) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&s.id)
            .bind(s.tenant_id.to_string())
            .bind(&r.id)
            .bind(s.agent_id.clone())
            .bind(&s.label)
            .bind(s.skill.clone())
            .bind(s.starts_at)
            .bind(s.ends_at)
            .bind(&s.breaks)
            .execute(&mut *tx)
            .await?;
        }
        write_audit(
            &mut tx,
            r.tenant_id,
            who,
            "roster.created",
            "roster",
            &r.id,
            json!({"name": r.name, "first_day": r.first_day, "days": r.days, "shifts": shifts.len()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_roster(&self, tenant: TenantId, id: &str) -> Result<Roster> {
        Ok(
            sqlx::query_as::<Any, Roster>("SELECT * FROM rosters WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_owned())
                .fetch_one(self.read())
                .await?,
        )
    }

    /// The tenant's rosters, newest first.
    pub async fn list_rosters(&self, tenant: TenantId, limit: i64) -> Result<Vec<Roster>> {
        Ok(sqlx::query_as::<Any, Roster>(
            "SELECT * FROM rosters WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant.to_string())
        .bind(limit)
        .fetch_all(self.read())
        .await?)
    }

    pub async fn roster_shifts(&self, tenant: TenantId, roster: &str) -> Result<Vec<RosterShift>> {
        Ok(sqlx::query_as::<Any, RosterShift>(
            "SELECT * FROM roster_shifts WHERE tenant_id = $1 AND roster_id = $2 ORDER BY starts_at, id",
        )
        .bind(tenant.to_string())
        .bind(roster.to_owned())
        .fetch_all(self.read())
        .await?)
    }

    /// Publishes a draft; published rosters whose days overlap it are
    /// superseded in the same transaction. Returns the ids superseded.
    pub async fn publish_roster(
        &self,
        tenant: TenantId,
        id: &str,
        now: UnixMs,
        who: &AuditEntry,
    ) -> Result<Vec<String>> {
        let mut tx = self.write().begin().await?;
        let r = draft_in(&mut tx, tenant, id, "published").await?;
        let superseded: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM rosters WHERE tenant_id = $1 AND state = 'published' \
             AND first_day < $2 AND end_day > $3 ORDER BY id",
        )
        .bind(tenant.to_string())
        .bind(&r.end_day)
        .bind(&r.first_day)
        .fetch_all(&mut *tx)
        .await?;
        for (old,) in &superseded {
            sqlx::query(
                "UPDATE rosters SET state = 'superseded', updated_at = $1 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(now)
            .bind(tenant.to_string())
            .bind(old)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE rosters SET state = 'published', published_at = $1, updated_at = $1 \
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(now)
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?;
        let superseded: Vec<String> = superseded.into_iter().map(|(s,)| s).collect();
        write_audit(
            &mut tx,
            tenant,
            who,
            "roster.published",
            "roster",
            id,
            json!({"superseded": superseded}),
        )
        .await?;
        tx.commit().await?;
        Ok(superseded)
    }

    /// Deletes a roster that was never published.
    pub async fn delete_draft_roster(
        &self,
        tenant: TenantId,
        id: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let r = draft_in(&mut tx, tenant, id, "deleted").await?;
        for table in [
            "DELETE FROM roster_shifts WHERE tenant_id = $1 AND roster_id = $2",
            "DELETE FROM rosters WHERE tenant_id = $1 AND id = $2",
        ] {
            sqlx::query(table)
                .bind(tenant.to_string())
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "roster.deleted",
            "roster",
            id,
            json!({"name": r.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Shifts of published rosters that overlap `from`..`to`, of one agent
    /// or of all, by start.
    pub async fn published_shifts(
        &self,
        tenant: TenantId,
        agent: Option<&str>,
        from: UnixMs,
        to: UnixMs,
    ) -> Result<Vec<RosterShift>> {
        let base = "SELECT s.* FROM roster_shifts s JOIN rosters r ON r.id = s.roster_id \
                    WHERE s.tenant_id = $1 AND r.tenant_id = $1 AND r.state = 'published' \
                    AND s.ends_at > $2 AND s.starts_at < $3";
        let rows = match agent {
            Some(a) => {
                sqlx::query_as::<Any, RosterShift>(sqlx::AssertSqlSafe(format!(
                    "{base} AND s.agent_id = $4 ORDER BY s.starts_at, s.id LIMIT 100000"
                )))
                .bind(tenant.to_string())
                .bind(from)
                .bind(to)
                .bind(a.to_owned())
                .fetch_all(self.read())
                .await?
            }
            None => {
                sqlx::query_as::<Any, RosterShift>(sqlx::AssertSqlSafe(format!(
                    "{base} AND s.agent_id IS NOT NULL ORDER BY s.starts_at, s.id LIMIT 100000"
                )))
                .bind(tenant.to_string())
                .bind(from)
                .bind(to)
                .fetch_all(self.read())
                .await?
            }
        };
        Ok(rows)
    }

    /// Gives an agent a calendar feed under a new secret's hash; the
    /// agent's earlier feed stops working.
    pub async fn replace_calendar_feed(
        &self,
        tenant: TenantId,
        agent: &str,
        token_hash: &str,
        now: UnixMs,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM calendar_feeds WHERE tenant_id = $1 AND agent_id = $2")
            .bind(tenant.to_string())
            .bind(agent.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO calendar_feeds (token_hash, tenant_id, agent_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash.to_owned())
        .bind(tenant.to_string())
        .bind(agent.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant and agent a calendar feed's secret hash belongs to.
    pub async fn find_calendar_feed(&self, token_hash: &str) -> Result<Option<(TenantId, String)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT tenant_id, agent_id FROM calendar_feeds WHERE token_hash = $1")
                .bind(token_hash.to_owned())
                .fetch_optional(self.read())
                .await?;
        match row {
            Some((t, a)) => Ok(Some((
                t.parse().map_err(|_| {
                    StoreError::Conflict("a calendar feed has a bad tenant id".into())
                })?,
                a,
            ))),
            None => Ok(None),
        }
    }
}
