//! IMAP mailboxes a tenant's mail is fetched from, and the poller's state
//! for each: the folder's UIDVALIDITY and the highest UID taken under it,
//! when it is next due, and a node's claim on it while it polls (so two
//! nodes never poll one mailbox at once).

use sb_model::{TenantId, UnixMs};
use serde_json::json;
use sqlx::{Any, FromRow};

use crate::audit::write_audit;
use crate::{AuditEntry, Result, Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct ImapMailbox {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    /// The tenant's receiving address the mail is taken for (its queue
    /// and name apply).
    pub address: String,
    pub host: String,
    pub port: i64,
    /// `tls` (TLS from the start), `starttls`, or `none`.
    pub security: String,
    pub username: String,
    pub password: String,
    pub folder: String,
    /// 1: a message taken is deleted from the server; 0: it is marked
    /// seen and kept.
    pub delete_after: i64,
    pub interval_seconds: i64,
    pub enabled: i64,
    /// The folder's UIDVALIDITY when `last_uid` was taken; None before the
    /// first poll.
    pub uid_validity: Option<i64>,
    pub last_uid: i64,
    /// Messages taken and refused (unreadable or too large), in all.
    pub taken: i64,
    pub refused: i64,
    pub next_poll_at: UnixMs,
    pub claimed_until: Option<UnixMs>,
    pub last_polled_at: Option<UnixMs>,
    pub last_error: Option<String>,
    pub updated_at: UnixMs,
}

impl Store {
    /// Creates a mailbox (as given), or changes one's settings. A change
    /// keeps the poller's state and counts, except that pointing it at
    /// another server, port, account or folder forgets the UIDs taken
    /// there (the new place starts from its unread messages).
    pub async fn put_imap_mailbox(&self, m: &ImapMailbox, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let holder: Option<String> =
            sqlx::query_scalar::<Any, String>("SELECT tenant_id FROM imap_mailboxes WHERE id = $1")
                .bind(&m.id)
                .fetch_optional(&mut *tx)
                .await?;
        match holder {
            Some(t) if t != m.tenant_id.to_string() => return Err(StoreError::NotFound),
            Some(_) => {
                // The right-hand sides read the row as it was.
                sqlx::query(
                    "UPDATE imap_mailboxes SET \
                     uid_validity = CASE WHEN host = $1 AND port = $2 AND username = $3 AND folder = $4 \
                                    THEN uid_validity ELSE NULL END, \
                     last_uid = CASE WHEN host = $1 AND port = $2 AND username = $3 AND folder = $4 \
                                THEN last_uid ELSE 0 END, \
                     host = $1, port = $2, username = $3, folder = $4, address = $5, security = $6, \
                     password = $7, delete_after = $8, interval_seconds = $9, enabled = $10, \
                     next_poll_at = $11, updated_at = $12 WHERE id = $13 AND tenant_id = $14",
                )
                .bind(&m.host)
                .bind(m.port)
                .bind(&m.username)
                .bind(&m.folder)
                .bind(&m.address)
                .bind(&m.security)
                .bind(&m.password)
                .bind(m.delete_after)
                .bind(m.interval_seconds)
                .bind(m.enabled)
                .bind(m.next_poll_at)
                .bind(m.updated_at)
                .bind(&m.id)
                .bind(m.tenant_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO imap_mailboxes (id, tenant_id, address, host, port, security, username, password, folder, \
                     delete_after, interval_seconds, enabled, uid_validity, last_uid, taken, refused, next_poll_at, \
                     claimed_until, last_polled_at, last_error, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                )
                .bind(&m.id)
                .bind(m.tenant_id.to_string())
                .bind(&m.address)
                .bind(&m.host)
                .bind(m.port)
                .bind(&m.security)
                .bind(&m.username)
                .bind(&m.password)
                .bind(&m.folder)
                .bind(m.delete_after)
                .bind(m.interval_seconds)
                .bind(m.enabled)
                .bind(m.uid_validity)
                .bind(m.last_uid)
                .bind(m.taken)
                .bind(m.refused)
                .bind(m.next_poll_at)
                .bind(m.claimed_until)
                .bind(m.last_polled_at)
                .bind(m.last_error.clone())
                .bind(m.updated_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        write_audit(
            &mut tx,
            m.tenant_id,
            who,
            "imap_mailbox.updated",
            "imap_mailbox",
            &m.id,
            json!({"address": m.address, "host": m.host, "port": m.port, "security": m.security,
                   "folder": m.folder, "delete_after": m.delete_after != 0, "enabled": m.enabled != 0,
                   "password": "set"}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_imap_mailbox(
        &self,
        tenant: TenantId,
        id: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let gone = sqlx::query("DELETE FROM imap_mailboxes WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "imap_mailbox.deleted",
            "imap_mailbox",
            id,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_imap_mailboxes(&self, tenant: TenantId) -> Result<Vec<ImapMailbox>> {
        Ok(sqlx::query_as::<Any, ImapMailbox>(
            "SELECT * FROM imap_mailboxes WHERE tenant_id = $1 ORDER BY address, host, username, id LIMIT 1000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    pub async fn get_imap_mailbox(&self, tenant: TenantId, id: &str) -> Result<ImapMailbox> {
        sqlx::query_as::<Any, ImapMailbox>(
            "SELECT * FROM imap_mailboxes WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// Claims up to `limit` enabled mailboxes (of every tenant) due by
    /// `now` for this node until `now + hold_ms`; a claim not finished by
    /// then (its node died) lapses and the mailbox is claimed again.
    pub async fn claim_due_imap_mailboxes(
        &self,
        now: UnixMs,
        hold_ms: i64,
        limit: i64,
    ) -> Result<Vec<ImapMailbox>> {
        let due = sqlx::query_as::<Any, ImapMailbox>(
            "SELECT * FROM imap_mailboxes WHERE enabled = 1 AND next_poll_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_poll_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.read())
        .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for mut m in due {
            let done = sqlx::query(
                "UPDATE imap_mailboxes SET claimed_until = $1 WHERE id = $2 \
                 AND (claimed_until IS NULL OR claimed_until < $3)",
            )
            .bind(now + hold_ms)
            .bind(&m.id)
            .bind(now)
            .execute(self.write())
            .await?;
            if done.rows_affected() == 1 {
                m.claimed_until = Some(now + hold_ms);
                claimed.push(m);
            }
        }
        Ok(claimed)
    }

    /// When the next enabled mailbox falls due.
    pub async fn next_imap_poll_due(&self) -> Result<Option<UnixMs>> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT MIN(next_poll_at) FROM imap_mailboxes WHERE enabled = 1")
                .fetch_optional(self.read())
                .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Records progress while polling: the folder's UIDVALIDITY, the
    /// highest UID now taken, and messages taken and refused since the
    /// last call. Only while `claimed_until` is still this poll's claim.
    pub async fn advance_imap_mailbox(
        &self,
        m: &ImapMailbox,
        uid_validity: Option<i64>,
        last_uid: i64,
        taken: i64,
        refused: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE imap_mailboxes SET uid_validity = $1, last_uid = $2, taken = taken + $3, refused = refused + $4 \
             WHERE id = $5 AND claimed_until = $6",
        )
        .bind(uid_validity)
        .bind(last_uid)
        .bind(taken)
        .bind(refused)
        .bind(&m.id)
        .bind(m.claimed_until)
        .execute(self.write())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a poll that began at `began`: how it went, when the mailbox
    /// is next due (unless it was made due again during the poll), and the
    /// claim released.
    pub async fn finish_imap_poll(
        &self,
        m: &ImapMailbox,
        began: UnixMs,
        at: UnixMs,
        error: Option<String>,
        next_poll_at: UnixMs,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE imap_mailboxes SET last_polled_at = $1, last_error = $2, \
             next_poll_at = CASE WHEN next_poll_at > $3 THEN next_poll_at ELSE $4 END, claimed_until = NULL \
             WHERE id = $5 AND claimed_until = $6",
        )
        .bind(at)
        .bind(error)
        .bind(began)
        .bind(next_poll_at)
        .bind(&m.id)
        .bind(m.claimed_until)
        .execute(self.write())
        .await?;
        Ok(())
    }

    /// Makes a mailbox due now (an administrator's "poll now").
    pub async fn poll_imap_mailbox_now(
        &self,
        tenant: TenantId,
        id: &str,
        now: UnixMs,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE imap_mailboxes SET next_poll_at = $1 WHERE tenant_id = $2 AND id = $3",
        )
        .bind(now)
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .execute(self.write())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
