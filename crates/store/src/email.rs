//! The written channels' storage: the addresses a tenant receives email at,
//! conversations, their messages (in and out, with the outbound queue the
//! delivery worker reads) and attachments, and agents' signatures.

use sb_model::{TenantId, UnixMs};
use serde_json::json;
use sqlx::{Any, FromRow};

use crate::audit::{append_event, write_audit};
use crate::{AuditEntry, Result, Store, StoreError};

/// An address mail is received at, and the queue it goes to.
#[derive(Debug, Clone, FromRow)]
pub struct EmailAddressRow {
    pub address: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub queue_id: String,
    /// The name replies are sent under ("Demo Support").
    pub display_name: String,
    pub updated_at: UnixMs,
}

/// One customer issue in writing, across the contacts it took.
#[derive(Debug, Clone, FromRow)]
pub struct Conversation {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub channel: String,
    /// The code in its subjects (`[#K3M9Q2XA]`).
    pub reference: String,
    /// The tenant's address it was written to.
    pub address: String,
    pub customer_address: String,
    pub customer_name: Option<String>,
    pub subject: String,
    pub queue_id: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

/// A message in or out.
#[derive(Debug, Clone, FromRow)]
pub struct MessageRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub conversation_id: String,
    pub contact_id: String,
    /// `in` or `out`.
    pub direction: String,
    /// The RFC 5322 Message-ID, without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub remote_images_blocked: i64,
    /// Inbound: why no auto-reply may answer it. Outbound: `acknowledgement`
    /// for the automatic one.
    pub automatic: Option<String>,
    pub author_user_id: Option<String>,
    /// `received`; or `pending`, `sent`, `failed` for outbound.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<UnixMs>,
    pub last_error: Option<String>,
    pub sent_at: Option<UnixMs>,
    pub raw: Option<String>,
    pub created_at: UnixMs,
    /// `email` or `sms`.
    pub channel: String,
}

/// A file kept with a message.
#[derive(Debug, Clone, FromRow)]
pub struct AttachmentRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub message_id: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: i64,
    pub sha256: String,
    pub created_at: UnixMs,
}

/// What one received message writes, in one transaction.
#[derive(Debug, Clone)]
pub struct Received {
    /// A conversation it starts, if it starts one.
    pub conversation: Option<Conversation>,
    pub message: MessageRow,
    pub attachments: Vec<AttachmentRow>,
    /// The acknowledgement to send, if any.
    pub acknowledgement: Option<MessageRow>,
}

fn address_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("the address is already in use".into()),
        other => other,
    }
}

async fn insert_message(tx: &mut sqlx::Transaction<'_, Any>, m: &MessageRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, contact_id, direction, message_id, in_reply_to, \
         from_address, from_name, to_address, subject, text_body, html_body, remote_images_blocked, automatic, \
         author_user_id, status, attempts, next_attempt_at, last_error, sent_at, raw, created_at, channel) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(&m.id)
    .bind(m.tenant_id.to_string())
    .bind(&m.conversation_id)
    .bind(&m.contact_id)
    .bind(&m.direction)
    .bind(&m.message_id)
    .bind(m.in_reply_to.clone())
    .bind(&m.from_address)
    .bind(m.from_name.clone())
    .bind(&m.to_address)
    .bind(&m.subject)
    .bind(&m.text_body)
    .bind(m.html_body.clone())
    .bind(m.remote_images_blocked)
    .bind(m.automatic.clone())
    .bind(m.author_user_id.clone())
    .bind(&m.status)
    .bind(m.attempts)
    .bind(m.next_attempt_at)
    .bind(m.last_error.clone())
    .bind(m.sent_at)
    .bind(m.raw.clone())
    .bind(m.created_at)
    .bind(&m.channel)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_attachment(tx: &mut sqlx::Transaction<'_, Any>, a: &AttachmentRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO attachments (id, tenant_id, message_id, filename, content_type, bytes, sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&a.id)
    .bind(a.tenant_id.to_string())
    .bind(&a.message_id)
    .bind(&a.filename)
    .bind(&a.content_type)
    .bind(a.bytes)
    .bind(&a.sha256)
    .bind(a.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The timeline event of a message (no bodies: the timeline says what
/// happened, the messages say what was written).
fn message_event(m: &MessageRow) -> serde_json::Value {
    json!({"message_id": m.id, "conversation_id": m.conversation_id, "direction": m.direction,
        "automatic": m.automatic, "author_user_id": m.author_user_id})
}

impl Store {
    // ---- addresses ----

    /// Points an address at a queue. An address another tenant holds is refused.
    pub async fn put_email_address(&self, a: &EmailAddressRow, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let holder: Option<String> = sqlx::query_scalar::<Any, String>(
            "SELECT tenant_id FROM email_addresses WHERE address = $1",
        )
        .bind(&a.address)
        .fetch_optional(&mut *tx)
        .await?;
        match holder {
            Some(t) if t != a.tenant_id.to_string() => {
                return Err(StoreError::Conflict("the address is already in use".into()));
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE email_addresses SET queue_id = $1, display_name = $2, updated_at = $3 WHERE address = $4 AND tenant_id = $5",
                )
                .bind(&a.queue_id)
                .bind(&a.display_name)
                .bind(a.updated_at)
                .bind(&a.address)
                .bind(a.tenant_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO email_addresses (address, tenant_id, queue_id, display_name, updated_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&a.address)
                .bind(a.tenant_id.to_string())
                .bind(&a.queue_id)
                .bind(&a.display_name)
                .bind(a.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(address_conflict)?;
            }
        }
        write_audit(
            &mut tx,
            a.tenant_id,
            who,
            "email_address.updated",
            "email_address",
            &a.address,
            json!({"queue_id": a.queue_id, "display_name": a.display_name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_email_address(
        &self,
        tenant: TenantId,
        address: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let gone = sqlx::query("DELETE FROM email_addresses WHERE tenant_id = $1 AND address = $2")
            .bind(tenant.to_string())
            .bind(address.to_owned())
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "email_address.deleted",
            "email_address",
            address,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_email_addresses(&self, tenant: TenantId) -> Result<Vec<EmailAddressRow>> {
        Ok(sqlx::query_as::<Any, EmailAddressRow>(
            "SELECT * FROM email_addresses WHERE tenant_id = $1 ORDER BY address LIMIT 1000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// Whose address this is, across tenants (the SMTP receiver's question).
    pub async fn find_email_address(&self, address: &str) -> Result<Option<EmailAddressRow>> {
        Ok(sqlx::query_as::<Any, EmailAddressRow>(
            "SELECT * FROM email_addresses WHERE address = $1",
        )
        .bind(address.to_owned())
        .fetch_optional(self.read())
        .await?)
    }

    // ---- conversations and messages ----

    /// A message of the tenant's with this Message-ID (the first stored).
    pub async fn find_message_by_message_id(
        &self,
        tenant: TenantId,
        message_id: &str,
    ) -> Result<Option<MessageRow>> {
        Ok(sqlx::query_as::<Any, MessageRow>(
            "SELECT * FROM messages WHERE tenant_id = $1 AND message_id = $2 ORDER BY id LIMIT 1",
        )
        .bind(tenant.to_string())
        .bind(message_id.to_owned())
        .fetch_optional(self.read())
        .await?)
    }

    pub async fn get_conversation(&self, tenant: TenantId, id: &str) -> Result<Conversation> {
        Ok(sqlx::query_as::<Any, Conversation>(
            "SELECT * FROM conversations WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    pub async fn find_conversation_by_reference(
        &self,
        tenant: TenantId,
        reference: &str,
    ) -> Result<Option<Conversation>> {
        Ok(sqlx::query_as::<Any, Conversation>(
            "SELECT * FROM conversations WHERE tenant_id = $1 AND reference = $2",
        )
        .bind(tenant.to_string())
        .bind(reference.to_owned())
        .fetch_optional(self.read())
        .await?)
    }

    /// The contact the conversation's latest message belongs to.
    pub async fn latest_conversation_contact(
        &self,
        tenant: TenantId,
        conversation: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<Any, String>(
            "SELECT contact_id FROM messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(tenant.to_string())
        .bind(conversation.to_owned())
        .fetch_optional(self.read())
        .await?)
    }

    /// The conversation a contact holds, if it holds one.
    pub async fn contact_conversation(
        &self,
        tenant: TenantId,
        contact: &str,
    ) -> Result<Option<Conversation>> {
        Ok(sqlx::query_as::<Any, Conversation>(
            "SELECT c.* FROM conversations c WHERE c.tenant_id = $1 AND c.id = \
             (SELECT m.conversation_id FROM messages m WHERE m.tenant_id = $1 AND m.contact_id = $2 ORDER BY m.id LIMIT 1)",
        )
        .bind(tenant.to_string())
        .bind(contact.to_owned())
        .fetch_optional(self.read())
        .await?)
    }

    /// Stores a received message (its conversation if new, its attachments'
    /// rows, the acknowledgement to send) and its event on the contact's
    /// timeline, in one transaction.
    pub async fn insert_received(&self, r: &Received) -> Result<()> {
        let mut tx = self.write().begin().await?;
        write_received(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores several received messages in one transaction (one commit for
    /// them all): all are kept, or none.
    pub async fn insert_received_batch(&self, batch: &[&Received]) -> Result<()> {
        let mut tx = self.write().begin().await?;
        for r in batch {
            write_received(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores an outbound message (queued for the delivery worker) with its
    /// attachments and its event.
    pub async fn insert_outbound(
        &self,
        m: &MessageRow,
        attachments: &[AttachmentRow],
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        insert_message(&mut tx, m).await?;
        for a in attachments {
            insert_attachment(&mut tx, a).await?;
        }
        append_event(
            &mut tx,
            m.tenant_id,
            "message.queued",
            &m.contact_id,
            m.created_at,
            &message_event(m),
        )
        .await?;
        sqlx::query("UPDATE conversations SET updated_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(m.created_at)
            .bind(m.tenant_id.to_string())
            .bind(&m.conversation_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A conversation's messages, oldest first (at most 1,000).
    pub async fn list_conversation_messages(
        &self,
        tenant: TenantId,
        conversation: &str,
    ) -> Result<Vec<MessageRow>> {
        Ok(sqlx::query_as::<Any, MessageRow>(
            "SELECT * FROM messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id LIMIT 1000",
        )
        .bind(tenant.to_string())
        .bind(conversation.to_owned())
        .fetch_all(self.read())
        .await?)
    }

    /// The attachments of a conversation's messages.
    pub async fn list_conversation_attachments(
        &self,
        tenant: TenantId,
        conversation: &str,
    ) -> Result<Vec<AttachmentRow>> {
        Ok(sqlx::query_as::<Any, AttachmentRow>(
            "SELECT a.* FROM attachments a JOIN messages m ON m.id = a.message_id AND m.tenant_id = a.tenant_id \
             WHERE a.tenant_id = $1 AND m.conversation_id = $2 ORDER BY a.id LIMIT 5000",
        )
        .bind(tenant.to_string())
        .bind(conversation.to_owned())
        .fetch_all(self.read())
        .await?)
    }

    pub async fn get_attachment(&self, tenant: TenantId, id: &str) -> Result<AttachmentRow> {
        Ok(sqlx::query_as::<Any, AttachmentRow>(
            "SELECT * FROM attachments WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    /// The contact an attachment's message belongs to.
    pub async fn attachment_contact(&self, tenant: TenantId, id: &str) -> Result<String> {
        Ok(sqlx::query_scalar::<Any, String>(
            "SELECT m.contact_id FROM attachments a JOIN messages m ON m.id = a.message_id AND m.tenant_id = a.tenant_id \
             WHERE a.tenant_id = $1 AND a.id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    // ---- the outbound queue ----

    /// Outbound messages due to be sent, across tenants; email only when
    /// there is a relay to send it through.
    pub async fn due_messages(
        &self,
        now: UnixMs,
        limit: i64,
        email: bool,
    ) -> Result<Vec<MessageRow>> {
        // Without a relay, email waits: only texts are read (by their own
        // index), however much email is queued.
        let sql = if email {
            "SELECT * FROM messages WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2"
        } else {
            "SELECT * FROM messages WHERE status = 'pending' AND channel = 'sms' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $2"
        };
        Ok(sqlx::query_as::<Any, MessageRow>(sql)
            .bind(now)
            .bind(limit)
            .fetch_all(self.read())
            .await?)
    }

    /// When the next outbound message is due, if any is waiting.
    pub async fn next_message_due(&self, email: bool) -> Result<Option<UnixMs>> {
        let sql = if email {
            "SELECT MIN(next_attempt_at) FROM messages WHERE status = 'pending'"
        } else {
            "SELECT MIN(next_attempt_at) FROM messages WHERE status = 'pending' AND channel = 'sms'"
        };
        Ok(sqlx::query_scalar::<Any, Option<i64>>(sql)
            .fetch_one(self.read())
            .await?)
    }

    /// Records a send attempt: `sent`, `failed`, or `pending` again for later.
    pub async fn record_message_attempt(&self, m: &MessageRow) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "UPDATE messages SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, sent_at = $5 \
             WHERE tenant_id = $6 AND id = $7",
        )
        .bind(&m.status)
        .bind(m.attempts)
        .bind(m.next_attempt_at)
        .bind(m.last_error.clone())
        .bind(m.sent_at)
        .bind(m.tenant_id.to_string())
        .bind(&m.id)
        .execute(&mut *tx)
        .await?;
        if m.status != "pending" {
            let kind = if m.status == "sent" {
                "message.sent"
            } else {
                "message.failed"
            };
            append_event(
                &mut tx,
                m.tenant_id,
                kind,
                &m.contact_id,
                m.sent_at.or(m.next_attempt_at).unwrap_or(m.created_at),
                &json!({"message_id": m.id, "attempts": m.attempts, "error": m.last_error}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- signatures ----

    pub async fn agent_signature(&self, tenant: TenantId, agent: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<Any, Option<String>>(
            "SELECT signature FROM agents WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(agent.to_owned())
        .fetch_optional(self.read())
        .await?
        .flatten())
    }

    pub async fn set_agent_signature(
        &self,
        tenant: TenantId,
        agent: &str,
        signature: Option<&str>,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE agents SET signature = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(signature.map(str::to_owned))
            .bind(tenant.to_string())
            .bind(agent.to_owned())
            .execute(self.write())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The customer with this phone number (E.164), if one (the newest).
    pub async fn find_customer_by_phone(
        &self,
        tenant: TenantId,
        phone: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<Any, String>(
            "SELECT id FROM customers WHERE tenant_id = $1 AND phone = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(tenant.to_string())
        .bind(phone.to_owned())
        .fetch_optional(self.read())
        .await?)
    }

    /// The customer with this email address, if one (the newest).
    pub async fn find_customer_by_email(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar::<Any, String>(
            "SELECT id FROM customers WHERE tenant_id = $1 AND LOWER(email) = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(tenant.to_string())
        .bind(email.to_lowercase())
        .fetch_optional(self.read())
        .await?)
    }
}

/// Writes a received message (its conversation if new, attachments' rows,
/// the acknowledgement to send) and its event, in the caller's transaction.
pub(crate) async fn write_received(
    tx: &mut sqlx::Transaction<'_, Any>,
    r: &Received,
) -> Result<()> {
    if let Some(c) = &r.conversation {
        sqlx::query(
                "INSERT INTO conversations (id, tenant_id, channel, reference, address, customer_address, customer_name, subject, queue_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&c.id)
            .bind(c.tenant_id.to_string())
            .bind(&c.channel)
            .bind(&c.reference)
            .bind(&c.address)
            .bind(&c.customer_address)
            .bind(c.customer_name.clone())
            .bind(&c.subject)
            .bind(&c.queue_id)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query("UPDATE conversations SET updated_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(r.message.created_at)
            .bind(r.message.tenant_id.to_string())
            .bind(&r.message.conversation_id)
            .execute(&mut **tx)
            .await?;
    }
    insert_message(tx, &r.message).await?;
    for a in &r.attachments {
        insert_attachment(tx, a).await?;
    }
    let m = &r.message;
    append_event(
        tx,
        m.tenant_id,
        "message.received",
        &m.contact_id,
        m.created_at,
        &message_event(m),
    )
    .await?;
    if let Some(ack) = &r.acknowledgement {
        insert_message(tx, ack).await?;
    }
    Ok(())
}

/// An email contact as the written service levels read it.
#[derive(Debug, Clone, FromRow)]
pub struct WrittenContactRow {
    pub id: String,
    pub queue_id: String,
    pub state: String,
    pub arrived_at: UnixMs,
    pub ended_at: Option<UnixMs>,
    /// When a person first answered on this contact (automatic messages
    /// do not count).
    pub first_response_at: Option<UnixMs>,
}

impl Store {
    /// The tenant's email contacts still open, and those that arrived
    /// since `since`, each with when a person first answered (at most
    /// 20,000).
    pub async fn written_contacts(
        &self,
        tenant: TenantId,
        since: UnixMs,
    ) -> Result<Vec<WrittenContactRow>> {
        Ok(sqlx::query_as::<Any, WrittenContactRow>(
            "SELECT c.id, c.queue_id, c.state, c.arrived_at, c.ended_at, \
             (SELECT MIN(m.created_at) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.contact_id = c.id \
              AND m.direction = 'out' AND m.automatic IS NULL) AS first_response_at \
             FROM contacts c WHERE c.tenant_id = $1 AND c.channel = 'email' \
             AND (c.state NOT IN ('ended', 'abandoned') OR c.arrived_at >= $2) \
             ORDER BY c.id LIMIT 20000",
        )
        .bind(tenant.to_string())
        .bind(since)
        .fetch_all(self.read())
        .await?)
    }
}
