//! The email channel's use cases: the addresses a tenant receives at,
//! receiving a message (threaded into its conversation, stored durably
//! before it is acknowledged, routed as a contact), the conversation an
//! agent reads, replies, agents' signatures, and the worker that sends
//! what is queued through the configured SMTP relay.
//!
//! Receiving: a message that starts a contact is written in the same
//! transaction as the contact (the routing task's batch), so both or
//! neither exist; one that joins an open contact is written on its own.
//! Only then is the sender told 250. A sender that never heard 250 sends
//! again, and a second delivery of the same Message-ID stores nothing
//! twice (and makes the contact of a stored message that has none).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sb_mail::inbound::{Inbound, ReadLimits};
use sb_mail::smtp::{Delivery, Envelope, Recipient};
use sb_mail::{outbound, thread};
use sb_model::{
    AgentId, Channel, ContactId, CustomerId, Direction, Permission, QueueId, TenantId, Text, UnixMs,
};
use sb_store::{AttachmentRow, Conversation, EmailAddressRow, MessageRow, Received, StoreError};
use sha2::Digest;
use tokio::sync::Notify;

use crate::contacts::NewContact;
use crate::routing::LiveEvent;
use crate::{App, AppError, FieldError, Principal};

/// Shared by the use cases and the delivery worker.
#[derive(Clone, Default)]
pub struct MailState {
    /// Wakes the delivery worker when a message is queued.
    pub(crate) wake: Arc<Notify>,
    /// Wakes the IMAP poller when a mailbox is due at once.
    pub(crate) imap_wake: Arc<Notify>,
    /// Receiving addresses (and addresses that are none) looked up lately,
    /// trusted for [`crate::CACHE_TTL`]: the SMTP session asks about each
    /// recipient, then delivery needs the same row. Changed on this node:
    /// cleared at once; on another: within the TTL.
    addresses: Arc<std::sync::Mutex<AddressCache>>,
    /// The writer that keeps messages joining open contacts, many to a
    /// transaction (started on first use).
    joins: Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<JoinJob>>>,
}

type JoinJob = (Received, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Messages joining open contacts kept in one transaction at most.
const JOIN_BATCH: usize = 256;

/// Keeps the messages sent to it, as many as are waiting in one
/// transaction, and answers each once its transaction has committed.
async fn run_join_writer(store: sb_store::Store, mut rx: tokio::sync::mpsc::Receiver<JoinJob>) {
    let mut jobs = Vec::with_capacity(JOIN_BATCH);
    while rx.recv_many(&mut jobs, JOIN_BATCH).await > 0 {
        let batch: Vec<&Received> = jobs.iter().map(|(r, _)| r).collect();
        let result = store
            .insert_received_batch(&batch)
            .await
            .map_err(|e| e.to_string());
        for (_, reply) in jobs.drain(..) {
            let _ = reply.send(result.clone());
        }
    }
}

type AddressCache =
    std::collections::HashMap<String, (Option<EmailAddressRow>, std::time::Instant)>;

/// The longest reply text.
pub const MAX_REPLY_CHARS: usize = 100_000;
/// The longest signature.
pub const MAX_SIGNATURE_CHARS: usize = 2_000;
/// Send attempts before an outbound message is `failed`.
pub const MAX_SEND_ATTEMPTS: i64 = 10;

/// An address as people set it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressSpec {
    /// The queue its mail goes to.
    pub queue_id: String,
    /// The name replies are sent under ("Acme Support").
    pub display_name: String,
}

/// An address mail is received at.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AddressView {
    pub address: String,
    pub queue_id: String,
    pub display_name: String,
    pub updated_at: UnixMs,
}

impl From<EmailAddressRow> for AddressView {
    fn from(a: EmailAddressRow) -> Self {
        AddressView {
            address: a.address,
            queue_id: a.queue_id,
            display_name: a.display_name,
            updated_at: a.updated_at,
        }
    }
}

/// An agent's reply.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    /// Plain text; the agent's signature is added below it.
    pub text: String,
    /// Files sent with it (at most 10, 5 MiB in all).
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
}

/// A file an agent sends with a reply.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    pub filename: String,
    /// A MIME type; anything unreadable is sent as `application/octet-stream`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The file, base64 (standard alphabet, padded).
    pub content_base64: String,
}

/// Files on one reply, and their bytes in all.
pub const MAX_REPLY_ATTACHMENTS: usize = 10;
pub const MAX_REPLY_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;

/// An agent's signature.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// Empty for none.
    pub signature: String,
}

/// A message as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: String,
    pub contact_id: String,
    /// `email`, `sms` or `chat`.
    pub channel: String,
    /// `in` or `out`.
    pub direction: String,
    pub from_address: String,
    pub from_name: Option<String>,
    pub to_address: String,
    pub subject: String,
    pub text: String,
    /// Sanitised HTML (no scripts, no remote images), if the message had HTML.
    pub html: Option<String>,
    pub remote_images_blocked: bool,
    /// Why it is a machine's (inbound), or `acknowledgement` (outbound).
    pub automatic: Option<String>,
    pub author_user_id: Option<String>,
    /// `received`, `pending`, `sent` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
    pub created_at: UnixMs,
    pub sent_at: Option<UnixMs>,
    pub attachments: Vec<AttachmentView>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: i64,
    pub sha256: String,
}

/// A contact's conversation: its reference and every message in it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub reference: String,
    pub customer_address: String,
    pub customer_name: Option<String>,
    pub subject: String,
    pub messages: Vec<MessageView>,
}

fn principal(tenant: TenantId) -> Principal {
    Principal {
        source: "email".into(),
        ..Principal::cli(tenant)
    }
}

/// An address as people may configure it (`sb_model::EmailAddress`),
/// lower-cased whole, as the SMTP listener looks recipients up.
pub fn valid_address(a: &str) -> Option<String> {
    sb_model::EmailAddress::parse(a)
        .ok()
        .map(|e| e.as_str().to_lowercase())
}

fn domain_of(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map_or("switchboard.invalid", |(_, d)| d)
}

/// Decodes and checks a reply's files: (safe name, content type, bytes).
fn reply_files(
    files: &[AttachmentIn],
    errors: &mut Vec<FieldError>,
) -> Vec<(String, String, Vec<u8>)> {
    use base64::Engine;
    if files.len() > MAX_REPLY_ATTACHMENTS {
        errors.push(FieldError {
            field: "attachments".into(),
            message: format!("at most {MAX_REPLY_ATTACHMENTS} files"),
        });
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut total = 0;
    for (i, f) in files.iter().enumerate() {
        let name = sb_mail::inbound::safe_filename(&f.filename);
        if f.filename.trim().is_empty() || f.filename.chars().count() > 200 {
            errors.push(FieldError {
                field: format!("attachments[{i}].filename"),
                message: "must be 1 to 200 characters".into(),
            });
        }
        let ctype = content_type_or_octets(f.content_type.as_deref());
        match base64::engine::general_purpose::STANDARD.decode(f.content_base64.trim()) {
            Ok(bytes) => {
                total += bytes.len();
                out.push((name, ctype, bytes));
            }
            Err(_) => errors.push(FieldError {
                field: format!("attachments[{i}].content_base64"),
                message: "is not base64".into(),
            }),
        }
    }
    if total > MAX_REPLY_ATTACHMENT_BYTES {
        errors.push(FieldError {
            field: "attachments".into(),
            message: format!("at most {MAX_REPLY_ATTACHMENT_BYTES} bytes in all"),
        });
    }
    out
}

pub(crate) fn attachment_view(a: AttachmentRow) -> AttachmentView {
    AttachmentView {
        id: a.id,
        filename: a.filename,
        content_type: a.content_type,
        bytes: a.bytes,
        sha256: a.sha256,
    }
}

/// Files as given (name, content type, bytes), as kept.
pub(crate) fn as_attachments(
    files: Vec<(String, String, Vec<u8>)>,
) -> Vec<sb_mail::inbound::Attachment> {
    files
        .into_iter()
        .map(
            |(filename, content_type, bytes)| sb_mail::inbound::Attachment {
                filename,
                content_type,
                bytes,
            },
        )
        .collect()
}

/// A content type someone gave, lower-cased, if it is a plain
/// `type/subtype`; otherwise `application/octet-stream`.
pub(crate) fn content_type_or_octets(given: Option<&str>) -> String {
    given
        .map(str::trim)
        .filter(|c| {
            c.len() <= 100
                && c.split_once('/').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && c.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || "/.+-".contains(ch))
                })
        })
        .unwrap_or("application/octet-stream")
        .to_ascii_lowercase()
}

pub(crate) fn message_view(m: MessageRow, attachments: Vec<AttachmentView>) -> MessageView {
    MessageView {
        id: m.id,
        contact_id: m.contact_id,
        channel: m.channel,
        direction: m.direction,
        from_address: m.from_address,
        from_name: m.from_name,
        to_address: m.to_address,
        subject: m.subject,
        text: m.text_body,
        html: m.html_body,
        remote_images_blocked: m.remote_images_blocked != 0,
        automatic: m.automatic,
        author_user_id: m.author_user_id,
        status: m.status,
        last_error: m.last_error,
        created_at: m.created_at,
        sent_at: m.sent_at,
        attachments,
    }
}

pub(crate) fn random_reference() -> Result<String, AppError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(thread::reference(u64::from_le_bytes(b)))
}

impl App {
    /// The receiving address, from the cache when it is fresh.
    async fn find_address(&self, address: &str) -> Result<Option<EmailAddressRow>, AppError> {
        if let Ok(c) = self.mail.addresses.lock()
            && let Some((row, at)) = c.get(address)
            && at.elapsed() < crate::CACHE_TTL
        {
            return Ok(row.clone());
        }
        let row = self.store().find_email_address(address).await?;
        if let Ok(mut c) = self.mail.addresses.lock() {
            if c.len() >= crate::CACHE_MAX_ENTRIES {
                c.clear();
            }
            c.insert(address.to_owned(), (row.clone(), std::time::Instant::now()));
        }
        Ok(row)
    }

    fn forget_addresses(&self) {
        if let Ok(mut c) = self.mail.addresses.lock() {
            c.clear();
        }
    }

    pub(crate) fn attachments_dir(&self, tenant: TenantId) -> PathBuf {
        self.config()
            .data_dir
            .join("attachments")
            .join(tenant.to_string())
    }

    // ---- addresses ----

    pub async fn list_email_addresses(&self, p: &Principal) -> Result<Vec<AddressView>, AppError> {
        p.require(Permission::QueueRead)?;
        Ok(self
            .store()
            .list_email_addresses(p.tenant_id)
            .await?
            .into_iter()
            .map(AddressView::from)
            .collect())
    }

    /// Points `address` at a queue, with the name replies go out under.
    pub async fn put_email_address(
        &self,
        p: &Principal,
        address: &str,
        spec: AddressSpec,
    ) -> Result<AddressView, AppError> {
        p.require(Permission::QueueManage)?;
        let mut errors = Vec::new();
        let address = valid_address(address);
        if address.is_none() {
            errors.push(FieldError {
                field: "address".into(),
                message: "must be one address like support@example.com".into(),
            });
        }
        let name = Text::parse(&spec.display_name, 200);
        if let Err(e) = &name {
            errors.push(FieldError {
                field: "display_name".into(),
                message: e.0.clone(),
            });
        }
        self.check_queue(p, &spec.queue_id, &mut errors).await?;
        let (Some(address), Ok(name)) = (address, name) else {
            return Err(AppError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let row = EmailAddressRow {
            address,
            tenant_id: p.tenant_id,
            queue_id: spec.queue_id.clone(),
            display_name: name.into_string(),
            updated_at: self.now(),
        };
        self.store()
            .put_email_address(&row, &p.audit(row.updated_at))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AppError::Conflict(m),
                other => other.into(),
            })?;
        self.forget_addresses();
        Ok(row.into())
    }

    pub async fn delete_email_address(&self, p: &Principal, address: &str) -> Result<(), AppError> {
        p.require(Permission::QueueManage)?;
        let address = address.trim().to_lowercase();
        let done = self
            .store()
            .delete_email_address(p.tenant_id, &address, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("email address"));
        self.forget_addresses();
        done
    }

    // ---- receiving ----

    /// The SMTP receiver's question: is mail for `address` taken here?
    pub async fn email_recipient(&self, address: &str) -> Recipient {
        match self.find_address(address).await {
            Ok(Some(_)) => Recipient::Accepted,
            Ok(None) => Recipient::Unknown,
            Err(e) => {
                tracing::warn!(error = %e, "looking up a mail recipient failed");
                Recipient::TryLater
            }
        }
    }

    /// Takes a message from the SMTP receiver: read once, then delivered to
    /// each recipient's tenant. Answers only when everything is stored.
    pub async fn receive_email(&self, peer: SocketAddr, envelope: Envelope) -> Delivery {
        let message = match sb_mail::inbound::read(
            &envelope.data,
            &envelope.mail_from,
            &ReadLimits::default(),
        ) {
            Ok(m) => m,
            Err(why) => {
                tracing::info!(%peer, reason = %why, "refused an unreadable message");
                metrics::counter!("switchboard_emails_refused_total").increment(1);
                return Delivery::Refused(why.to_string());
            }
        };
        let mut stored = Vec::new();
        for rcpt in &envelope.recipients {
            let address = match self.find_address(rcpt).await {
                Ok(Some(a)) => a,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "looking up a mail recipient failed");
                    return Delivery::TryLater;
                }
            };
            match self.deliver_email(&address, &message).await {
                Ok(id) => stored.push(id),
                Err(AppError::Invalid(errors)) => {
                    let why = errors
                        .first()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .unwrap_or_default();
                    return Delivery::Refused(why);
                }
                Err(e) => {
                    tracing::warn!(error = %e, tenant = %address.tenant_id, "storing a received message failed");
                    return Delivery::TryLater;
                }
            }
        }
        if stored.is_empty() {
            return Delivery::Refused("no recipient here".into());
        }
        metrics::counter!("switchboard_emails_received_total").increment(1);
        Delivery::Stored(stored.join(","))
    }

    /// Stores one received message for one of the tenant's addresses and
    /// routes it; returns the stored message's id.
    pub(crate) async fn deliver_email(
        &self,
        to: &EmailAddressRow,
        m: &Inbound,
    ) -> Result<String, AppError> {
        let tenant = to.tenant_id;
        let store = self.store();
        let now = self.now();
        // The same message again (a retry after a lost 250, or a crash
        // before the contact was made): finish what is missing.
        if let Some(mid) = &m.message_id
            && let Some(prev) = store.find_message_by_message_id(tenant, mid).await?
            && prev.direction == "in"
        {
            self.ensure_email_contact(to, &prev).await?;
            return Ok(prev.id);
        }
        // The conversation it belongs to: by the ids it answers (ours, or
        // the same customer's), then by the reference in its subject (from
        // the same customer only).
        let mut conversation: Option<Conversation> = None;
        for id in &m.answers {
            if let Some(prev) = store.find_message_by_message_id(tenant, id).await? {
                let c = store
                    .get_conversation(tenant, &prev.conversation_id)
                    .await?;
                // Our own ids cannot be guessed; a customer's can be, so
                // answering one joins only from that customer.
                if prev.direction == "out" || c.customer_address == m.from_address {
                    conversation = Some(c);
                    break;
                }
            }
        }
        if conversation.is_none()
            && let Some(code) = thread::find_reference(&m.subject)
            && let Some(c) = store.find_conversation_by_reference(tenant, &code).await?
            && c.customer_address == m.from_address
        {
            conversation = Some(c);
        }
        // An open contact of the conversation takes the message; otherwise
        // it is a new contact (a conversation reopened, or a new one).
        let open_contact = match &conversation {
            Some(c) => self.open_contact_of(tenant, &c.id).await?,
            None => None,
        };
        let contact_id = open_contact.unwrap_or_else(|| ContactId::from_uuid(self.new_uuid()));
        let new_conversation = match conversation {
            Some(_) => None,
            None => Some(Conversation {
                id: self.new_uuid().to_string(),
                tenant_id: tenant,
                channel: "email".into(),
                reference: random_reference()?,
                address: to.address.clone(),
                customer_address: m.from_address.clone(),
                customer_name: m.from_name.clone(),
                subject: m.subject.clone(),
                queue_id: to.queue_id.clone(),
                created_at: now,
                updated_at: now,
            }),
        };
        let conv = conversation
            .as_ref()
            .or(new_conversation.as_ref())
            .expect("one");
        let domain = domain_of(&to.address);
        let row = MessageRow {
            id: self.new_uuid().to_string(),
            tenant_id: tenant,
            conversation_id: conv.id.clone(),
            contact_id: contact_id.to_string(),
            direction: "in".into(),
            message_id: m
                .message_id
                .clone()
                .unwrap_or_else(|| format!("received-{}@{domain}", self.new_uuid())),
            in_reply_to: m.answers.first().cloned(),
            from_address: m.from_address.clone(),
            from_name: m.from_name.clone(),
            to_address: to.address.clone(),
            subject: m.subject.clone(),
            text_body: m.text.clone(),
            html_body: m.html.clone(),
            remote_images_blocked: i64::from(m.remote_images_blocked),
            automatic: m.automatic.map(str::to_owned),
            author_user_id: None,
            status: "received".into(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            sent_at: None,
            raw: None,
            created_at: now,
            channel: "email".into(),
        };
        let attachments = self
            .keep_attachments(tenant, &row.id, &m.attachments, now)
            .await?;
        // A new conversation from a person is acknowledged with its reference.
        let acknowledgement = match (&new_conversation, m.automatic) {
            (Some(c), None) => Some(self.acknowledgement(to, c, &row)?),
            _ => None,
        };
        let queued_ack = acknowledgement.is_some();
        let conv = conv.clone();
        let received = Received {
            conversation: new_conversation,
            message: row.clone(),
            attachments,
            acknowledgement,
        };
        if open_contact.is_some() {
            self.join_open_contact(&received).await?;
        } else {
            // The message and its new contact, in one transaction.
            let new = self.email_contact(&row, &conv).await?;
            self.create_contact_with(&principal(tenant), contact_id, new, Some(received))
                .await?;
        }
        if queued_ack {
            self.mail.wake.notify_one();
        }
        Ok(row.id)
    }

    /// Stores a message that joins an open contact, and tells the desk.
    pub(crate) async fn join_open_contact(&self, r: &Received) -> Result<(), AppError> {
        let writer = self
            .mail
            .joins
            .get_or_init(|| {
                let (tx, rx) = tokio::sync::mpsc::channel(4 * JOIN_BATCH);
                tokio::spawn(run_join_writer(self.store().clone(), rx));
                tx
            })
            .clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = || AppError::Unavailable("the message writer stopped".into());
        writer.send((r.clone(), tx)).await.map_err(|_| stopped())?;
        rx.await
            .map_err(|_| stopped())?
            .map_err(|e| AppError::Unavailable(format!("storing a message failed: {e}")))?;
        let m = &r.message;
        self.routing.publish(LiveEvent {
            tenant_id: m.tenant_id,
            kind: "message.received",
            subject_id: m.contact_id.clone(),
            at: m.created_at,
            payload: serde_json::json!({"message_id": m.id, "conversation_id": m.conversation_id}),
        });
        Ok(())
    }

    /// The conversation's latest contact, if it is not over (a new message
    /// joins it rather than starting another).
    pub(crate) async fn open_contact_of(
        &self,
        tenant: TenantId,
        conversation: &str,
    ) -> Result<Option<ContactId>, AppError> {
        let store = self.store();
        let Some(id) = store
            .latest_conversation_contact(tenant, conversation)
            .await?
            .and_then(|c| c.parse::<ContactId>().ok())
        else {
            return Ok(None);
        };
        match store.get_contact(tenant, id).await {
            Ok(c) if !c.state.is_final() => Ok(Some(id)),
            Ok(_) | Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the contact a stored inbound message names, unless it
    /// exists (messages stored before their contacts were, by an earlier
    /// version, or by a contact creation that failed after them).
    async fn ensure_email_contact(
        &self,
        to: &EmailAddressRow,
        m: &MessageRow,
    ) -> Result<(), AppError> {
        let tenant = to.tenant_id;
        let id: ContactId = m
            .contact_id
            .parse()
            .map_err(|_| AppError::Internal("a stored contact id does not parse".into()))?;
        match self.store().get_contact(tenant, id).await {
            Ok(_) => return Ok(()),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let conv = self
            .store()
            .get_conversation(tenant, &m.conversation_id)
            .await?;
        let new = self.email_contact(m, &conv).await?;
        self.create_contact_with_id(&principal(tenant), id, new)
            .await?;
        Ok(())
    }

    /// The contact a received message makes, in its conversation's queue,
    /// for the customer with its sender's address if there is one.
    async fn email_contact(
        &self,
        m: &MessageRow,
        conv: &Conversation,
    ) -> Result<NewContact, AppError> {
        let tenant = m.tenant_id;
        let queue: QueueId = conv
            .queue_id
            .parse()
            .map_err(|_| AppError::Internal("a stored queue id does not parse".into()))?;
        let customer = self
            .store()
            .find_customer_by_email(tenant, &m.from_address)
            .await?
            .and_then(|c| c.parse::<CustomerId>().ok());
        let subject = Text::parse(&m.subject.chars().take(200).collect::<String>(), 200).ok();
        let mut attributes = BTreeMap::new();
        attributes.insert("reference".to_owned(), conv.reference.clone());
        Ok(NewContact {
            channel: Channel::Email,
            direction: Direction::Inbound,
            queue_id: queue,
            customer_id: customer,
            priority: None,
            subject,
            from_address: Text::parse(&m.from_address, 320).ok(),
            to_address: Text::parse(&m.to_address, 320).ok(),
            attributes,
            requested_agent_id: None,
        })
    }

    /// Writes attachments' files (before their rows, so a row always has
    /// its file) and returns the rows.
    pub(crate) async fn keep_attachments(
        &self,
        tenant: TenantId,
        message: &str,
        files: &[sb_mail::inbound::Attachment],
        now: UnixMs,
    ) -> Result<Vec<AttachmentRow>, AppError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.attachments_dir(tenant);
        let mut rows = Vec::new();
        for f in files {
            let id = self.new_uuid().to_string();
            let sha = hex::encode(sha2::Sha256::digest(&f.bytes));
            let path = dir.join(&id);
            let bytes = f.bytes.clone();
            let d = dir.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                use std::io::Write;
                std::fs::create_dir_all(&d)?;
                let mut file = std::fs::File::create(&path)?;
                file.write_all(&bytes)?;
                file.sync_all()
            })
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Unavailable(format!("writing an attachment: {e}")))?;
            rows.push(AttachmentRow {
                id,
                tenant_id: tenant,
                message_id: message.to_owned(),
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                bytes: f.bytes.len() as i64,
                sha256: sha,
                created_at: now,
            });
        }
        Ok(rows)
    }

    fn acknowledgement(
        &self,
        to: &EmailAddressRow,
        c: &Conversation,
        answered: &MessageRow,
    ) -> Result<MessageRow, AppError> {
        let text = format!(
            "Hello{},\n\nThank you for writing to us. Your message has reached {} and an agent will answer it as soon as they can.\n\nYour reference is #{}. Please keep it in the subject when you write to us about this again.\n\nThis is an automatic message.\n",
            c.customer_name
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default(),
            to.display_name,
            c.reference,
        );
        self.outbound_row(
            to,
            c,
            answered,
            &[],
            text,
            Some("acknowledgement".into()),
            None,
            &[],
        )
    }

    /// An outbound message, built and queued (`pending`, due now).
    #[allow(clippy::too_many_arguments)]
    fn outbound_row(
        &self,
        from: &EmailAddressRow,
        c: &Conversation,
        answering: &MessageRow,
        thread_ids: &[String],
        text: String,
        automatic: Option<String>,
        author: Option<String>,
        files: &[(String, String, Vec<u8>)],
    ) -> Result<MessageRow, AppError> {
        let now = self.now();
        let id = self.new_uuid();
        let message_id = format!("{id}@{}", domain_of(&from.address));
        let mut references: Vec<String> = thread_ids.to_vec();
        if !references.contains(&answering.message_id) {
            references.push(answering.message_id.clone());
        }
        let subject = thread::reply_subject(&c.subject, &c.reference);
        let raw = outbound::build(&outbound::Outgoing {
            from_name: from.display_name.clone(),
            from_address: from.address.clone(),
            to_name: c.customer_name.clone(),
            to_address: c.customer_address.clone(),
            subject: subject.clone(),
            message_id: message_id.clone(),
            in_reply_to: Some(answering.message_id.clone()),
            references,
            text: text.clone(),
            automatic: automatic.is_some(),
            attachments: files.to_vec(),
        })
        .map_err(|e| AppError::invalid("to_address", e.to_string()))?;
        Ok(MessageRow {
            id: id.to_string(),
            tenant_id: from.tenant_id,
            conversation_id: c.id.clone(),
            contact_id: answering.contact_id.clone(),
            direction: "out".into(),
            message_id,
            in_reply_to: Some(answering.message_id.clone()),
            from_address: from.address.clone(),
            from_name: Some(from.display_name.clone()),
            to_address: c.customer_address.clone(),
            subject,
            text_body: text,
            html_body: None,
            remote_images_blocked: 0,
            automatic,
            author_user_id: author,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: Some(now),
            last_error: None,
            sent_at: None,
            raw: Some(String::from_utf8_lossy(&raw).into_owned()),
            created_at: now,
            channel: "email".into(),
        })
    }

    // ---- reading and replying ----

    /// The conversation a contact holds, with every message in it.
    pub async fn contact_conversation(
        &self,
        p: &Principal,
        contact: ContactId,
    ) -> Result<ConversationView, AppError> {
        self.get_contact(p, contact).await?;
        let c = self
            .store()
            .contact_conversation(p.tenant_id, &contact.to_string())
            .await?
            .ok_or(AppError::NotFound("conversation"))?;
        let messages = self
            .store()
            .list_conversation_messages(p.tenant_id, &c.id)
            .await?;
        let files = self
            .store()
            .list_conversation_attachments(p.tenant_id, &c.id)
            .await?;
        let mut by_message: BTreeMap<String, Vec<AttachmentView>> = BTreeMap::new();
        for a in files {
            by_message
                .entry(a.message_id.clone())
                .or_default()
                .push(attachment_view(a));
        }
        Ok(ConversationView {
            id: c.id,
            reference: c.reference,
            customer_address: c.customer_address,
            customer_name: c.customer_name,
            subject: c.subject,
            messages: messages
                .into_iter()
                .map(|m| {
                    let files = by_message.remove(&m.id).unwrap_or_default();
                    message_view(m, files)
                })
                .collect(),
        })
    }

    /// An attachment's row and where its file is, for someone who may read
    /// its contact.
    pub async fn attachment(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<(AttachmentRow, PathBuf), AppError> {
        p.require(Permission::ContactRead)?;
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(AppError::NotFound("attachment"));
        }
        let row = self
            .store()
            .get_attachment(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("attachment"))?;
        let path = self.attachments_dir(p.tenant_id).join(&row.id);
        Ok((row, path))
    }

    /// The contact's agent (or a team leader) answers the customer: the
    /// reply, signed, is queued to send with the conversation's threading
    /// headers. Answers with the queued message.
    pub async fn reply_to_contact(
        &self,
        p: &Principal,
        contact: ContactId,
        spec: ReplySpec,
    ) -> Result<MessageView, AppError> {
        p.require(Permission::ContactWrite)?;
        let c = self.get_contact(p, contact).await?;
        if c.channel == Channel::Voice {
            return Err(AppError::Conflict(
                "only email, chat and text-message contacts are answered in writing".into(),
            ));
        }
        let me = self.own_agent(p).await?;
        let is_theirs = me.is_some_and(|a| c.agent_id.as_deref() == Some(&a.to_string()));
        if !is_theirs && !p.roles.allows(Permission::AgentAllocate) {
            return Err(AppError::Conflict("the contact is not yours".into()));
        }
        let text = spec.text.trim_end();
        let mut errors = Vec::new();
        if text.trim().is_empty() || text.chars().count() > MAX_REPLY_CHARS {
            errors.push(FieldError {
                field: "text".into(),
                message: format!("must be 1 to {MAX_REPLY_CHARS} characters"),
            });
        }
        let files = reply_files(&spec.attachments, &mut errors);
        if c.channel == Channel::Sms && !spec.attachments.is_empty() {
            errors.push(FieldError {
                field: "attachments".into(),
                message: "text messages carry no files".into(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        if c.channel == Channel::Chat {
            let conv = self
                .store()
                .contact_conversation(p.tenant_id, &contact.to_string())
                .await?
                .ok_or(AppError::NotFound("conversation"))?;
            if c.state.is_final() {
                return Err(AppError::Conflict("the chat is over".into()));
            }
            let (row, rows) = self.chat_reply(p, contact, &conv, text, files).await?;
            let files = rows.into_iter().map(attachment_view).collect();
            return Ok(message_view(row, files));
        }
        if c.channel == Channel::Sms {
            let conv = self
                .store()
                .contact_conversation(p.tenant_id, &contact.to_string())
                .await?
                .ok_or(AppError::NotFound("conversation"))?;
            let row = self.queue_sms_reply(p, contact, &conv, text).await?;
            return Ok(message_view(row, Vec::new()));
        }
        let conv = self
            .store()
            .contact_conversation(p.tenant_id, &contact.to_string())
            .await?
            .ok_or(AppError::NotFound("conversation"))?;
        let from = self
            .store()
            .find_email_address(&conv.address)
            .await?
            .filter(|a| a.tenant_id == p.tenant_id)
            .ok_or_else(|| {
                AppError::Conflict(
                    "the address this conversation came to is no longer configured".into(),
                )
            })?;
        let messages = self
            .store()
            .list_conversation_messages(p.tenant_id, &conv.id)
            .await?;
        let answering = messages
            .iter()
            .rev()
            .find(|m| m.direction == "in")
            .ok_or(AppError::NotFound("message"))?
            .clone();
        let thread_ids: Vec<String> = messages
            .iter()
            .filter(|m| m.automatic.is_none() || m.direction == "in")
            .map(|m| m.message_id.clone())
            .collect();
        let signature = match me {
            Some(a) => {
                self.store()
                    .agent_signature(p.tenant_id, &a.to_string())
                    .await?
            }
            None => None,
        };
        let body = match signature.filter(|s| !s.trim().is_empty()) {
            Some(s) => format!("{text}\n\n-- \n{s}\n"),
            None => format!("{text}\n"),
        };
        let mut row = self.outbound_row(
            &from,
            &conv,
            &answering,
            &thread_ids,
            body,
            None,
            p.user_id.map(|u| u.to_string()),
            &files,
        )?;
        // Keep it on this contact (the latest inbound may be on another).
        row.contact_id = contact.to_string();
        let rows = self
            .keep_attachments(p.tenant_id, &row.id, &as_attachments(files), row.created_at)
            .await?;
        self.store().insert_outbound(&row, &rows).await?;
        self.mail.wake.notify_one();
        let files = rows.into_iter().map(attachment_view).collect();
        Ok(message_view(row, files))
    }

    /// The calling agent's signature.
    pub async fn my_signature(&self, p: &Principal) -> Result<Option<String>, AppError> {
        let agent = self.signing_agent(p).await?;
        Ok(self
            .store()
            .agent_signature(p.tenant_id, &agent.to_string())
            .await?)
    }

    pub async fn set_my_signature(&self, p: &Principal, signature: &str) -> Result<(), AppError> {
        let agent = self.signing_agent(p).await?;
        let s = signature.trim_end();
        if s.chars().count() > MAX_SIGNATURE_CHARS {
            return Err(AppError::invalid(
                "signature",
                format!("must be at most {MAX_SIGNATURE_CHARS} characters"),
            ));
        }
        self.store()
            .set_agent_signature(
                p.tenant_id,
                &agent.to_string(),
                (!s.is_empty()).then_some(s),
            )
            .await
            .map_err(AppError::from_store("agent"))
    }

    async fn signing_agent(&self, p: &Principal) -> Result<AgentId, AppError> {
        p.require(Permission::ContactWrite)?;
        self.own_agent(p).await?.ok_or(AppError::NotFound("agent"))
    }

    // ---- sending ----

    /// Sends queued messages through the SMTP relay (`smtp://host:port`,
    /// `smtps://…`, or `smtp://…?tls=required`, with `user:password@` if
    /// it needs them) until the process ends. A refusal (5xx) fails the
    /// message at once; anything else is tried again after 30 s, doubling
    /// to an hour, [`MAX_SEND_ATTEMPTS`] times.
    pub async fn run_message_delivery(self, relay: Option<String>) {
        use lettre::AsyncTransport;
        crate::install_tls_provider();
        let transport = match relay
            .as_deref()
            .map(lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url)
        {
            Some(Ok(b)) => Some(b.timeout(Some(Duration::from_secs(30))).build()),
            Some(Err(e)) => {
                tracing::error!(error = %e, "the SMTP relay address is not usable; replies wait in the queue");
                None
            }
            None => None,
        };
        let sms = match crate::sms::Twilio::new() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "the SMS sender cannot start");
                return;
            }
        };
        let wake = self.mail.wake.clone();
        let email = transport.is_some();
        loop {
            let now = self.now();
            let due = match self.store().due_messages(now, 32, email).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the outbound mail queue failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if due.is_empty() {
                let next = self.store().next_message_due(email).await.ok().flatten();
                let wait = next.map(|at| (at - now).clamp(10, 5_000)).unwrap_or(5_000);
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                }
                continue;
            }
            for mut m in due {
                let result = match (
                    m.from_address.parse::<lettre::Address>(),
                    m.to_address.parse::<lettre::Address>(),
                    &transport,
                ) {
                    _ if m.channel == "sms" => self.send_sms(&sms, &m).await,
                    (_, _, None) => continue,
                    (Ok(from), Ok(to), Some(transport)) => {
                        match lettre::address::Envelope::new(Some(from), vec![to]) {
                            Ok(env) => transport
                                .send_raw(&env, m.raw.as_deref().unwrap_or_default().as_bytes())
                                .await
                                .map(|_| ())
                                .map_err(|e| (e.is_permanent(), e.to_string())),
                            Err(e) => Err((true, e.to_string())),
                        }
                    }
                    _ => Err((true, "bad address".to_owned())),
                };
                let at = self.now();
                m.attempts += 1;
                match result {
                    Ok(()) => {
                        m.status = "sent".into();
                        m.sent_at = Some(at);
                        m.last_error = None;
                        m.next_attempt_at = None;
                    }
                    Err((permanent, why)) => {
                        // The relay's text may name the recipient: it is
                        // kept on the message, not logged.
                        tracing::warn!(
                            permanent,
                            attempts = m.attempts,
                            "sending a message failed"
                        );
                        m.last_error = Some(why.chars().take(500).collect());
                        if permanent || m.attempts >= MAX_SEND_ATTEMPTS {
                            m.status = "failed".into();
                            m.next_attempt_at = Some(at);
                        } else {
                            m.next_attempt_at =
                                Some(at + crate::webhooks::backoff_ms(30_000, m.attempts));
                        }
                    }
                }
                if let Err(e) = self.store().record_message_attempt(&m).await {
                    tracing::warn!(error = %e, "recording a send attempt failed");
                }
                if m.status != "pending" {
                    self.routing.publish(LiveEvent {
                        tenant_id: m.tenant_id,
                        kind: if m.status == "sent" {
                            "message.sent"
                        } else {
                            "message.failed"
                        },
                        subject_id: m.contact_id.clone(),
                        at,
                        payload: serde_json::json!({"message_id": m.id}),
                    });
                }
            }
        }
    }
}

/// A queue's written (email) service levels now and today.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WrittenServiceLevel {
    pub queue_id: String,
    /// The queue's targets, if it sets them.
    pub first_response_seconds: Option<i64>,
    pub resolution_seconds: Option<i64>,
    /// Email contacts not over yet.
    pub open: u32,
    /// Open ones no person has answered yet.
    pub awaiting_first_response: u32,
    /// Of those, past the first-response target.
    pub first_response_overdue: u32,
    /// Open ones past the resolution target.
    pub resolution_overdue: u32,
    /// How long the oldest one awaiting a first answer has waited, ms.
    pub oldest_awaiting_ms: Option<i64>,
    /// Contacts arrived today (local) that a person has answered, and how
    /// many of them within the target.
    pub answered_today: u32,
    pub answered_today_in_time: u32,
    /// Contacts arrived today that are over, and how many within the
    /// resolution target.
    pub resolved_today: u32,
    pub resolved_today_in_time: u32,
}

impl App {
    /// First-response and resolution service levels of email per queue:
    /// what is open and overdue now, and how today has gone (the
    /// tenant's local day).
    pub async fn written_service_levels(
        &self,
        p: &Principal,
    ) -> Result<Vec<WrittenServiceLevel>, AppError> {
        p.require(Permission::ReportRead)?;
        let tz = self.tenant_zone(p.tenant_id).await?;
        let now = self.now();
        let today = tz
            .to_datetime(
                jiff::Timestamp::from_millisecond(now)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            )
            .date();
        let midnight = crate::local_midnight(&tz, today)?;
        let mut out: BTreeMap<String, WrittenServiceLevel> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self.store().list_queues(p.tenant_id, after, 500).await?;
            for q in &page.items {
                let rules: sb_model::RoutingRules =
                    serde_json::from_str(&q.routing_rules).unwrap_or_default();
                out.insert(
                    q.id.to_string(),
                    WrittenServiceLevel {
                        queue_id: q.id.to_string(),
                        first_response_seconds: rules.first_response_seconds,
                        resolution_seconds: rules.resolution_seconds,
                        open: 0,
                        awaiting_first_response: 0,
                        first_response_overdue: 0,
                        resolution_overdue: 0,
                        oldest_awaiting_ms: None,
                        answered_today: 0,
                        answered_today_in_time: 0,
                        resolved_today: 0,
                        resolved_today_in_time: 0,
                    },
                );
            }
            match page.next.as_deref().and_then(|c| c.parse().ok()) {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        for c in self.store().written_contacts(p.tenant_id, midnight).await? {
            let Some(q) = out.get_mut(&c.queue_id) else {
                continue;
            };
            let first_due = q.first_response_seconds.map(|s| c.arrived_at + s * 1000);
            let resolve_due = q.resolution_seconds.map(|s| c.arrived_at + s * 1000);
            let over = matches!(c.state.as_str(), "ended" | "abandoned");
            if !over {
                q.open += 1;
                if c.first_response_at.is_none() {
                    q.awaiting_first_response += 1;
                    if first_due.is_some_and(|d| now > d) {
                        q.first_response_overdue += 1;
                    }
                    let waited = now - c.arrived_at;
                    q.oldest_awaiting_ms =
                        Some(q.oldest_awaiting_ms.map_or(waited, |o| o.max(waited)));
                }
                if resolve_due.is_some_and(|d| now > d) {
                    q.resolution_overdue += 1;
                }
            }
            if c.arrived_at >= midnight {
                if let Some(at) = c.first_response_at {
                    q.answered_today += 1;
                    if first_due.is_none_or(|d| at <= d) {
                        q.answered_today_in_time += 1;
                    }
                }
                if over {
                    q.resolved_today += 1;
                    let ended = c.ended_at.unwrap_or(now);
                    if resolve_due.is_none_or(|d| ended <= d) {
                        q.resolved_today_in_time += 1;
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }
}

/// The application as the SMTP listener's [`sb_mail::server::Mailroom`].
pub struct Mailroom(pub App);

impl sb_mail::server::Mailroom for Mailroom {
    async fn recipient(&self, address: String) -> Recipient {
        self.0.email_recipient(&address).await
    }

    async fn deliver(&self, peer: SocketAddr, envelope: Envelope) -> Delivery {
        self.0.receive_email(peer, envelope).await
    }
}
