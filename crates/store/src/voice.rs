//! The voice channel's configuration — dialled numbers, carrier trunks,
//! agents' phone credentials — and call recordings. Changes are audited in
//! the same transaction.

use sb_model::TenantId;
use serde_json::json;
use sqlx::Any;

use crate::audit::{append_event, write_audit};
use crate::{
    AgentPhone, AuditEntry, Recording, Result, Store, StoreError, VoiceNumber, VoicePrompt,
    VoiceTrunk,
};

/// Everything the SIP server needs, across tenants.
#[derive(Debug, Clone, Default)]
pub struct VoiceDirectory {
    pub numbers: Vec<VoiceNumber>,
    pub trunks: Vec<VoiceTrunk>,
    pub phones: Vec<AgentPhone>,
    /// Which prompts each tenant has, by name.
    pub prompts: Vec<(String, String)>,
}

impl Store {
    /// Points a number at a queue. A number another tenant holds is refused.
    pub async fn put_voice_number(&self, n: &VoiceNumber, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let holder: Option<String> = sqlx::query_scalar::<Any, String>(
            "SELECT tenant_id FROM voice_numbers WHERE number = $1",
        )
        .bind(&n.number)
        .fetch_optional(&mut *tx)
        .await?;
        match holder {
            Some(t) if t != n.tenant_id.to_string() => {
                return Err(StoreError::Conflict("the number is already in use".into()));
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE voice_numbers SET queue_id = $1, updated_at = $2, menu = $3 WHERE number = $4 AND tenant_id = $5",
                )
                .bind(&n.queue_id)
                .bind(n.updated_at)
                .bind(n.menu.clone())
                .bind(&n.number)
                .bind(n.tenant_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO voice_numbers (number, tenant_id, queue_id, updated_at, menu) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&n.number)
                .bind(n.tenant_id.to_string())
                .bind(&n.queue_id)
                .bind(n.updated_at)
                .bind(n.menu.clone())
                .execute(&mut *tx)
                .await?;
            }
        }
        write_audit(
            &mut tx,
            n.tenant_id,
            who,
            "voice_number.updated",
            "voice_number",
            &n.number,
            json!({"queue_id": n.queue_id, "menu": n.menu.as_deref().and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_voice_number(
        &self,
        tenant: TenantId,
        number: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let gone = sqlx::query("DELETE FROM voice_numbers WHERE tenant_id = $1 AND number = $2")
            .bind(tenant.to_string())
            .bind(number.to_owned())
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "voice_number.deleted",
            "voice_number",
            number,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_voice_numbers(&self, tenant: TenantId) -> Result<Vec<VoiceNumber>> {
        Ok(sqlx::query_as::<Any, VoiceNumber>(
            "SELECT * FROM voice_numbers WHERE tenant_id = $1 ORDER BY number LIMIT 10000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// Stores a prompt's row (its file is already written), replacing any
    /// of the same name.
    pub async fn put_voice_prompt(&self, p: &VoicePrompt, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM voice_prompts WHERE tenant_id = $1 AND name = $2")
            .bind(p.tenant_id.to_string())
            .bind(&p.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO voice_prompts (tenant_id, name, path, bytes, sha256, duration_ms, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.tenant_id.to_string())
        .bind(&p.name)
        .bind(&p.path)
        .bind(p.bytes)
        .bind(&p.sha256)
        .bind(p.duration_ms)
        .bind(p.updated_at)
        .execute(&mut *tx)
        .await?;
        write_audit(
            &mut tx,
            p.tenant_id,
            who,
            "voice_prompt.updated",
            "voice_prompt",
            &p.name,
            json!({"bytes": p.bytes, "sha256": p.sha256, "duration_ms": p.duration_ms}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_voice_prompts(&self, tenant: TenantId) -> Result<Vec<VoicePrompt>> {
        Ok(sqlx::query_as::<Any, VoicePrompt>(
            "SELECT * FROM voice_prompts WHERE tenant_id = $1 ORDER BY name LIMIT 10000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    pub async fn get_voice_prompt(&self, tenant: TenantId, name: &str) -> Result<VoicePrompt> {
        Ok(sqlx::query_as::<Any, VoicePrompt>(
            "SELECT * FROM voice_prompts WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant.to_string())
        .bind(name.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    /// Sets a trunk's allowed sources, replacing any before.
    pub async fn put_voice_trunk(&self, t: &VoiceTrunk, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM voice_trunks WHERE tenant_id = $1 AND name = $2")
            .bind(t.tenant_id.to_string())
            .bind(&t.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO voice_trunks (tenant_id, name, sources, updated_at, outbound, auth_username, auth_password, caller_id, registration) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(t.tenant_id.to_string())
        .bind(&t.name)
        .bind(&t.sources)
        .bind(t.updated_at)
        .bind(&t.outbound)
        .bind(&t.auth_username)
        .bind(&t.auth_password)
        .bind(&t.caller_id)
        .bind(t.registration)
        .execute(&mut *tx)
        .await?;
        write_audit(
            &mut tx,
            t.tenant_id,
            who,
            "voice_trunk.updated",
            "voice_trunk",
            &t.name,
            json!({
                "sources": serde_json::from_str::<serde_json::Value>(&t.sources).unwrap_or_default(),
                "outbound": t.outbound,
                "auth_username": t.auth_username,
                "has_auth_password": t.auth_password.is_some(),
                "caller_id": t.caller_id,
                "register": t.registration == 1,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_voice_trunk(
        &self,
        tenant: TenantId,
        name: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let gone = sqlx::query("DELETE FROM voice_trunks WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.to_string())
            .bind(name.to_owned())
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "voice_trunk.deleted",
            "voice_trunk",
            name,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_voice_trunks(&self, tenant: TenantId) -> Result<Vec<VoiceTrunk>> {
        Ok(sqlx::query_as::<Any, VoiceTrunk>(
            "SELECT * FROM voice_trunks WHERE tenant_id = $1 ORDER BY name LIMIT 10000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// Sets an agent's phone credentials, replacing any before. A username
    /// taken by another phone is refused.
    pub async fn put_agent_phone(&self, p: &AgentPhone, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM agent_phones WHERE tenant_id = $1 AND agent_id = $2")
            .bind(p.tenant_id.to_string())
            .bind(&p.agent_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO agent_phones (tenant_id, agent_id, username, ha1_md5, ha1_sha256, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.tenant_id.to_string())
        .bind(&p.agent_id)
        .bind(&p.username)
        .bind(&p.ha1_md5)
        .bind(&p.ha1_sha256)
        .bind(p.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("the SIP username is already in use".into()),
            other => other,
        })?;
        write_audit(
            &mut tx,
            p.tenant_id,
            who,
            "agent_phone.updated",
            "agent",
            &p.agent_id,
            json!({"username": p.username}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_agent_phone(
        &self,
        tenant: TenantId,
        agent: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let gone = sqlx::query("DELETE FROM agent_phones WHERE tenant_id = $1 AND agent_id = $2")
            .bind(tenant.to_string())
            .bind(agent.to_owned())
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "agent_phone.deleted",
            "agent",
            agent,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_agent_phone(&self, tenant: TenantId, agent: &str) -> Result<AgentPhone> {
        Ok(sqlx::query_as::<Any, AgentPhone>(
            "SELECT * FROM agent_phones WHERE tenant_id = $1 AND agent_id = $2",
        )
        .bind(tenant.to_string())
        .bind(agent.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    pub async fn list_agent_phones(&self, tenant: TenantId) -> Result<Vec<AgentPhone>> {
        Ok(sqlx::query_as::<Any, AgentPhone>(
            "SELECT * FROM agent_phones WHERE tenant_id = $1 ORDER BY username LIMIT 100000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// Every tenant's numbers, trunks and phones: what the SIP server routes
    /// and authenticates by. Only the voice channel's shell reads this.
    pub async fn voice_directory(&self) -> Result<VoiceDirectory> {
        Ok(VoiceDirectory {
            numbers: sqlx::query_as::<Any, VoiceNumber>("SELECT * FROM voice_numbers")
                .fetch_all(self.read())
                .await?,
            trunks: sqlx::query_as::<Any, VoiceTrunk>("SELECT * FROM voice_trunks")
                .fetch_all(self.read())
                .await?,
            phones: sqlx::query_as::<Any, AgentPhone>("SELECT * FROM agent_phones")
                .fetch_all(self.read())
                .await?,
            prompts: sqlx::query_as::<Any, (String, String)>(
                "SELECT tenant_id, name FROM voice_prompts",
            )
            .fetch_all(self.read())
            .await?,
        })
    }

    /// Puts a call's own event (held, resumed, hung up) on its contact's
    /// timeline; `hold_ms` is added to the contact's time on hold.
    pub async fn record_call_event(
        &self,
        tenant: TenantId,
        contact: &str,
        kind: &str,
        at: i64,
        payload: &serde_json::Value,
        hold_ms: i64,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        if hold_ms > 0 {
            sqlx::query(
                "UPDATE contacts SET hold_ms = hold_ms + $1 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(hold_ms)
            .bind(tenant.to_string())
            .bind(contact.to_owned())
            .execute(&mut *tx)
            .await?;
        }
        append_event(&mut tx, tenant, kind, contact, at, payload).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that a call's recording was written.
    pub async fn insert_recording(&self, r: &Recording) -> Result<()> {
        sqlx::query(
            "INSERT INTO recordings (id, tenant_id, contact_id, path, bytes, sha256, channels, duration_ms, paused_ms, started_at, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&r.id)
        .bind(r.tenant_id.to_string())
        .bind(&r.contact_id)
        .bind(&r.path)
        .bind(r.bytes)
        .bind(&r.sha256)
        .bind(r.channels)
        .bind(r.duration_ms)
        .bind(r.paused_ms)
        .bind(r.started_at)
        .bind(r.ended_at)
        .execute(self.write())
        .await?;
        Ok(())
    }

    pub async fn list_recordings(&self, tenant: TenantId, contact: &str) -> Result<Vec<Recording>> {
        Ok(sqlx::query_as::<Any, Recording>(
            "SELECT * FROM recordings WHERE tenant_id = $1 AND contact_id = $2 ORDER BY id LIMIT 100",
        )
        .bind(tenant.to_string())
        .bind(contact.to_owned())
        .fetch_all(self.read())
        .await?)
    }

    pub async fn get_recording(&self, tenant: TenantId, id: &str) -> Result<Recording> {
        Ok(sqlx::query_as::<Any, Recording>(
            "SELECT * FROM recordings WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }
}
