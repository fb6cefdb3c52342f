//! SMS: the numbers a tenant receives texts at, its provider account, and
//! the customers who opted out. Conversations and messages are the written
//! channels' (`email.rs`), with `channel = 'sms'`.

use sb_model::{TenantId, UnixMs};
use serde_json::json;
use sqlx::{Any, FromRow};

use crate::audit::write_audit;
use crate::{AuditEntry, Conversation, Result, Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct SmsNumber {
    pub number: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub queue_id: String,
    pub updated_at: UnixMs,
}

/// A tenant's SMS provider account. The token is kept as given (webhook
/// signatures are checked and messages sent with it); never returned.
#[derive(Debug, Clone, FromRow)]
pub struct SmsAccount {
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub provider: String,
    pub account_sid: String,
    pub auth_token: String,
    /// Where the provider's API is (`https://api.twilio.com`).
    pub api_base: String,
    /// The address the provider posts inbound texts to, as it signs it.
    pub webhook_url: String,
    pub updated_at: UnixMs,
}

impl Store {
    /// Points a number at a queue. A number another tenant holds is refused.
    pub async fn put_sms_number(&self, n: &SmsNumber, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let holder: Option<String> = sqlx::query_scalar::<Any, String>(
            "SELECT tenant_id FROM sms_numbers WHERE number = $1",
        )
        .bind(&n.number)
        .fetch_optional(&mut *tx)
        .await?;
        match holder {
            Some(t) if t != n.tenant_id.to_string() => {
                return Err(StoreError::Conflict("the number is already in use".into()));
            }
            Some(_) => {
                sqlx::query("UPDATE sms_numbers SET queue_id = $1, updated_at = $2 WHERE number = $3 AND tenant_id = $4")
                    .bind(&n.queue_id)
                    .bind(n.updated_at)
                    .bind(&n.number)
                    .bind(n.tenant_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("INSERT INTO sms_numbers (number, tenant_id, queue_id, updated_at) VALUES ($1, $2, $3, $4)")
                    .bind(&n.number)
                    .bind(n.tenant_id.to_string())
                    .bind(&n.queue_id)
                    .bind(n.updated_at)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        write_audit(
            &mut tx,
            n.tenant_id,
            who,
            "sms_number.updated",
            "sms_number",
            &n.number,
            json!({"queue_id": n.queue_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_sms_numbers(&self, tenant: TenantId) -> Result<Vec<SmsNumber>> {
        Ok(sqlx::query_as::<Any, SmsNumber>(
            "SELECT * FROM sms_numbers WHERE tenant_id = $1 ORDER BY number LIMIT 1000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// Whose number this is, across tenants (the webhook's question).
    pub async fn find_sms_number(&self, number: &str) -> Result<Option<SmsNumber>> {
        Ok(
            sqlx::query_as::<Any, SmsNumber>("SELECT * FROM sms_numbers WHERE number = $1")
                .bind(number.to_owned())
                .fetch_optional(self.read())
                .await?,
        )
    }

    pub async fn put_sms_account(&self, a: &SmsAccount, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM sms_accounts WHERE tenant_id = $1")
            .bind(a.tenant_id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sms_accounts (tenant_id, provider, account_sid, auth_token, api_base, webhook_url, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.tenant_id.to_string())
        .bind(&a.provider)
        .bind(&a.account_sid)
        .bind(&a.auth_token)
        .bind(&a.api_base)
        .bind(&a.webhook_url)
        .bind(a.updated_at)
        .execute(&mut *tx)
        .await?;
        write_audit(
            &mut tx,
            a.tenant_id,
            who,
            "sms_account.updated",
            "sms_account",
            &a.account_sid,
            json!({"provider": a.provider, "api_base": a.api_base, "webhook_url": a.webhook_url, "auth_token": "set"}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_sms_account(&self, tenant: TenantId) -> Result<Option<SmsAccount>> {
        Ok(
            sqlx::query_as::<Any, SmsAccount>("SELECT * FROM sms_accounts WHERE tenant_id = $1")
                .bind(tenant.to_string())
                .fetch_optional(self.read())
                .await?,
        )
    }

    /// Records (or, with `out = false`, lifts) a customer's opt-out.
    pub async fn set_sms_opt_out(
        &self,
        tenant: TenantId,
        number: &str,
        out: bool,
        at: UnixMs,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("DELETE FROM sms_opt_outs WHERE tenant_id = $1 AND number = $2")
            .bind(tenant.to_string())
            .bind(number.to_owned())
            .execute(&mut *tx)
            .await?;
        if out {
            sqlx::query("INSERT INTO sms_opt_outs (tenant_id, number, at) VALUES ($1, $2, $3)")
                .bind(tenant.to_string())
                .bind(number.to_owned())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn sms_opted_out(&self, tenant: TenantId, number: &str) -> Result<bool> {
        Ok(sqlx::query_scalar::<Any, i64>(
            "SELECT COUNT(*) FROM sms_opt_outs WHERE tenant_id = $1 AND number = $2",
        )
        .bind(tenant.to_string())
        .bind(number.to_owned())
        .fetch_one(self.read())
        .await?
            > 0)
    }

    /// The latest SMS conversation between a customer's number and one of
    /// the tenant's.
    pub async fn find_sms_conversation(
        &self,
        tenant: TenantId,
        customer: &str,
        ours: &str,
    ) -> Result<Option<Conversation>> {
        Ok(sqlx::query_as::<Any, Conversation>(
            "SELECT * FROM conversations WHERE tenant_id = $1 AND channel = 'sms' AND customer_address = $2 AND address = $3 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(tenant.to_string())
        .bind(customer.to_owned())
        .bind(ours.to_owned())
        .fetch_optional(self.read())
        .await?)
    }
}
