//! Web chat: a widget on a customer's website opens a session (pre-chat
//! form: name, email, question), which becomes a `chat` contact routed like
//! any other. The customer's messages are stored before they are
//! acknowledged and de-duplicated by the id the widget gives each one, so a
//! widget that reconnects resends what it did not see acknowledged and
//! replays what it missed. Agents answer from the desktop
//! ([`App::reply_to_contact`]); both sides see each other typing; the
//! customer may ask for the transcript by email.
//!
//! What reaches an open widget goes through [`ChatState`]: a room per
//! conversation with someone connected, fed by the use cases (messages,
//! typing) and by [`App::run_chat_relay`] (queue position, an agent
//! joining, the chat ending), which follows the routing engine's live
//! events.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sb_mail::outbound;
use sb_model::{Channel, ContactId, Direction, Permission, QueueId, TenantId, Text, UnixMs};
use sb_store::{AttachmentRow, ChatSession, ChatWidget, Conversation, MessageRow, Received};
use tokio::sync::broadcast;

use crate::auth::{new_secret, secret_hash};
use crate::contacts::NewContact;
use crate::email::{as_attachments, content_type_or_octets};
use crate::routing::LiveEvent;
use crate::{App, AppError, FieldError, Principal};

/// The longest chat message.
pub const MAX_CHAT_CHARS: usize = 4_000;
/// The largest file a customer may send in a chat.
pub const MAX_CHAT_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Messages a customer may send at once before waiting ([`RateLimit`]).
pub const CHAT_BURST: f64 = 10.0;
/// Messages a customer may send each second after the burst.
pub const CHAT_RATE_PER_SECOND: f64 = 1.0;
/// The most origins one widget names.
pub const MAX_WIDGET_ORIGINS: usize = 20;
/// Widgets per tenant.
pub const MAX_WIDGETS: usize = 100;

fn principal(tenant: TenantId) -> Principal {
    Principal {
        source: "chat".into(),
        ..Principal::cli(tenant)
    }
}

// ---- configuration ----

/// A widget as people set it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetSpec {
    pub name: String,
    /// The queue its chats go to.
    pub queue_id: String,
    /// Websites allowed to embed it (`https://shop.example`); empty allows
    /// any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// One of the tenant's receiving email addresses; transcripts are sent
    /// from it. Absent: the widget does not offer transcripts.
    #[serde(default)]
    pub transcript_from: Option<String>,
    /// Shown above the pre-chat form.
    #[serde(default)]
    pub greeting: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WidgetView {
    pub id: String,
    pub name: String,
    pub queue_id: String,
    pub allowed_origins: Vec<String>,
    pub transcript_from: Option<String>,
    pub greeting: String,
}

fn widget_view(w: ChatWidget) -> WidgetView {
    WidgetView {
        allowed_origins: origins_of(&w),
        id: w.id,
        name: w.name,
        queue_id: w.queue_id,
        transcript_from: w.transcript_from,
        greeting: w.greeting,
    }
}

/// The origins a widget may be embedded by; empty means any.
pub fn origins_of(w: &ChatWidget) -> Vec<String> {
    w.allowed_origins
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `scheme://host[:port]`, lower-cased, with nothing after it.
fn valid_origin(o: &str) -> Option<String> {
    let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = o.split_once("://")?;
    let host_ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    (matches!(scheme, "http" | "https") && host_ok).then_some(o)
}

// ---- what the widget sees ----

/// A message as the widget shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// The stored message's id; ids sort in the order messages were kept.
    pub id: String,
    /// The widget's own id for a customer's message.
    pub client_id: Option<String>,
    /// `customer`, `agent` or `system`.
    pub from: &'static str,
    pub name: Option<String>,
    pub text: String,
    pub at: UnixMs,
    pub files: Vec<ChatFile>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChatFile {
    pub id: String,
    pub filename: String,
    pub bytes: i64,
}

/// What is pushed to an open widget.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatPush {
    Message(ChatMessage),
    /// The agent started or stopped typing.
    Typing {
        on: bool,
    },
    /// Waiting for an agent: the place in the queue (1 is next) and the
    /// expected wait, when known.
    Waiting {
        position: Option<usize>,
        expected_wait_ms: Option<u64>,
    },
    /// An agent has the chat.
    Agent {
        name: String,
    },
    /// The chat is over (the agent closed it, or it was not answered).
    Ended,
}

/// A customer's open chat session.
#[derive(Debug, Clone)]
pub struct ChatHandle {
    pub tenant_id: TenantId,
    pub conversation_id: String,
    pub reference: String,
    pub widget: ChatWidget,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
}

impl ChatHandle {
    pub fn transcripts(&self) -> bool {
        self.widget.transcript_from.is_some() && self.customer_email.is_some()
    }
}

/// The pre-chat form.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StartSpec {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub question: String,
    /// The widget's id for the question as a message.
    pub client_id: String,
}

/// A token bucket: [`CHAT_BURST`] at once, then [`CHAT_RATE_PER_SECOND`].
#[derive(Debug)]
pub struct RateLimit {
    tokens: f64,
    at: Instant,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            tokens: CHAT_BURST,
            at: Instant::now(),
        }
    }
}

impl RateLimit {
    /// Takes one message's allowance, or says no.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        let grown = now.duration_since(self.at).as_secs_f64() * CHAT_RATE_PER_SECOND;
        self.tokens = (self.tokens + grown).min(CHAT_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

// ---- rooms ----

/// The rooms of conversations with a widget connected on this node.
#[derive(Clone, Default)]
pub struct ChatState {
    inner: Arc<Mutex<Rooms>>,
}

#[derive(Default)]
struct Rooms {
    by_conversation: HashMap<String, Room>,
    /// Contact → conversation, for the rooms' contacts.
    by_contact: HashMap<String, String>,
}

struct Room {
    tx: broadcast::Sender<Arc<ChatPush>>,
    /// One message of a conversation is kept at a time (the check for a
    /// resent message and its storing are one step).
    lock: Arc<tokio::sync::Mutex<()>>,
    contacts: Vec<String>,
}

/// A widget's subscription to its room; leaving drops the room when it was
/// the last.
pub struct ChatSubscription {
    pub rx: broadcast::Receiver<Arc<ChatPush>>,
    guard: RoomGuard,
}

struct RoomGuard {
    state: ChatState,
    conversation: String,
}

impl Drop for ChatSubscription {
    fn drop(&mut self) {
        // The receiver is still counted here; it goes with `self`.
        let mut rooms = self.guard.state.lock();
        let last = rooms
            .by_conversation
            .get(&self.guard.conversation)
            .is_some_and(|r| r.tx.receiver_count() <= 1);
        if last && let Some(room) = rooms.by_conversation.remove(&self.guard.conversation) {
            for c in room.contacts {
                rooms.by_contact.remove(&c);
            }
        }
    }
}

impl ChatState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn subscribe(&self, conversation: &str, contact: Option<&str>) -> ChatSubscription {
        let mut rooms = self.lock();
        let room = rooms
            .by_conversation
            .entry(conversation.to_owned())
            .or_insert_with(|| Room {
                tx: broadcast::channel(256).0,
                lock: Arc::default(),
                contacts: Vec::new(),
            });
        let rx = room.tx.subscribe();
        if let Some(c) = contact
            && !room.contacts.iter().any(|x| x == c)
        {
            room.contacts.push(c.to_owned());
            rooms
                .by_contact
                .insert(c.to_owned(), conversation.to_owned());
        }
        ChatSubscription {
            rx,
            guard: RoomGuard {
                state: self.clone(),
                conversation: conversation.to_owned(),
            },
        }
    }

    /// Follows a new contact of a conversation with a room.
    fn watch_contact(&self, conversation: &str, contact: &str) {
        let mut rooms = self.lock();
        if let Some(room) = rooms.by_conversation.get_mut(conversation) {
            if !room.contacts.iter().any(|x| x == contact) {
                room.contacts.push(contact.to_owned());
            }
            rooms
                .by_contact
                .insert(contact.to_owned(), conversation.to_owned());
        }
    }

    fn send_lock(&self, conversation: &str) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.lock()
            .by_conversation
            .get(conversation)
            .map(|r| r.lock.clone())
    }

    fn push(&self, conversation: &str, p: ChatPush) {
        if let Some(room) = self.lock().by_conversation.get(conversation) {
            let _ = room.tx.send(Arc::new(p));
        }
    }

    fn push_contact(&self, contact: &str, p: ChatPush) {
        let rooms = self.lock();
        if let Some(room) = rooms
            .by_contact
            .get(contact)
            .and_then(|c| rooms.by_conversation.get(c))
        {
            let _ = room.tx.send(Arc::new(p));
        }
    }

    fn watched(&self, contact: &str) -> bool {
        self.lock().by_contact.contains_key(contact)
    }
}

fn chat_file(a: &AttachmentRow) -> ChatFile {
    ChatFile {
        id: a.id.clone(),
        filename: a.filename.clone(),
        bytes: a.bytes,
    }
}

fn chat_message(m: &MessageRow, files: Vec<ChatFile>) -> ChatMessage {
    let from = match (m.direction.as_str(), m.automatic.is_some()) {
        ("in", false) => "customer",
        ("out", _) => "agent",
        _ => "system",
    };
    ChatMessage {
        id: m.id.clone(),
        client_id: m
            .message_id
            .strip_prefix("chat:")
            .and_then(|r| r.split_once(':'))
            .map(|(_, c)| c.to_owned()),
        from,
        name: m.from_name.clone(),
        text: m.text_body.clone(),
        at: m.created_at,
        files,
    }
}

/// The widget's id of a message: 1 to 64 letters, digits, `-` and `_`.
fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A message's text as kept: control characters other than line breaks
/// dropped, trailing space trimmed.
fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect::<String>()
        .trim_end()
        .to_owned()
}

fn text_error(field: &str, text: &str) -> Option<FieldError> {
    let n = text.chars().count();
    (text.trim().is_empty() || n > MAX_CHAT_CHARS).then(|| FieldError {
        field: field.into(),
        message: format!("must be 1 to {MAX_CHAT_CHARS} characters"),
    })
}

impl App {
    // ---- widgets ----

    pub async fn list_chat_widgets(&self, p: &Principal) -> Result<Vec<WidgetView>, AppError> {
        p.require(Permission::QueueManage)?;
        Ok(self
            .store()
            .list_chat_widgets(p.tenant_id)
            .await?
            .into_iter()
            .map(widget_view)
            .collect())
    }

    /// Creates a widget (`id` None) or changes one.
    pub async fn put_chat_widget(
        &self,
        p: &Principal,
        id: Option<&str>,
        spec: WidgetSpec,
    ) -> Result<WidgetView, AppError> {
        p.require(Permission::QueueManage)?;
        let mut errors = Vec::new();
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError {
                field: "name".into(),
                message: "must be 1 to 200 characters".into(),
            });
        }
        let queue = spec.queue_id.parse::<QueueId>().ok();
        let queue_known = match queue {
            Some(q) => self.queue_priority(p, q).await?.is_some(),
            None => false,
        };
        if !queue_known {
            errors.push(FieldError {
                field: "queue_id".into(),
                message: "is not a queue of this tenant".into(),
            });
        }
        if spec.allowed_origins.len() > MAX_WIDGET_ORIGINS {
            errors.push(FieldError {
                field: "allowed_origins".into(),
                message: format!("at most {MAX_WIDGET_ORIGINS}"),
            });
        }
        let mut origins = Vec::new();
        for (i, o) in spec.allowed_origins.iter().enumerate() {
            match valid_origin(o) {
                Some(o) => origins.push(o),
                None => errors.push(FieldError {
                    field: format!("allowed_origins[{i}]"),
                    message: "must be an origin such as https://shop.example".into(),
                }),
            }
        }
        let transcript_from = match spec.transcript_from.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => {
                let ours = match crate::email::valid_address(a) {
                    Some(a) => self
                        .store()
                        .find_email_address(&a)
                        .await?
                        .filter(|r| r.tenant_id == p.tenant_id),
                    None => None,
                };
                if ours.is_none() {
                    errors.push(FieldError {
                        field: "transcript_from".into(),
                        message: "must be one of this tenant's email addresses".into(),
                    });
                }
                ours.map(|r| r.address)
            }
        };
        let greeting = spec.greeting.as_deref().unwrap_or("").trim().to_owned();
        if greeting.chars().count() > 500 {
            errors.push(FieldError {
                field: "greeting".into(),
                message: "must be at most 500 characters".into(),
            });
        }
        let existing = match id {
            Some(id) => Some(
                self.store()
                    .find_chat_widget(id)
                    .await?
                    .filter(|w| w.tenant_id == p.tenant_id)
                    .ok_or(AppError::NotFound("chat widget"))?,
            ),
            None => None,
        };
        if existing.is_none()
            && self.store().list_chat_widgets(p.tenant_id).await?.len() >= MAX_WIDGETS
        {
            errors.push(FieldError {
                field: "name".into(),
                message: format!("a tenant has at most {MAX_WIDGETS} chat widgets"),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let w = ChatWidget {
            id: existing
                .map(|w| w.id)
                .unwrap_or_else(|| self.new_uuid().to_string()),
            tenant_id: p.tenant_id,
            name: name.to_owned(),
            queue_id: spec.queue_id.clone(),
            allowed_origins: origins.join("\n"),
            transcript_from,
            greeting,
            updated_at: self.now(),
        };
        self.store()
            .put_chat_widget(&w, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("chat widget"))?;
        Ok(widget_view(w))
    }

    pub async fn delete_chat_widget(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::QueueManage)?;
        self.store()
            .delete_chat_widget(p.tenant_id, id, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("chat widget"))
    }

    /// A widget as its public page needs it (no one is signed in).
    pub async fn public_chat_widget(&self, id: &str) -> Result<ChatWidget, AppError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(AppError::NotFound("chat widget"));
        }
        self.store()
            .find_chat_widget(id)
            .await?
            .ok_or(AppError::NotFound("chat widget"))
    }

    // ---- sessions ----

    /// Opens a chat from the pre-chat form: the question is the first
    /// message of a new conversation and its contact is queued. Answers
    /// with the session and its secret (shown to the widget only).
    pub async fn chat_start(
        &self,
        widget_id: &str,
        spec: StartSpec,
    ) -> Result<(ChatHandle, String), AppError> {
        let widget = self.public_chat_widget(widget_id).await?;
        let tenant = widget.tenant_id;
        let mut errors = Vec::new();
        let name = clean_text(&spec.name);
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError {
                field: "name".into(),
                message: "must be 1 to 200 characters".into(),
            });
        }
        let email = match spec.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) => match crate::email::valid_address(e) {
                Some(e) => Some(e),
                None => {
                    errors.push(FieldError {
                        field: "email".into(),
                        message: "must look like name@example.com".into(),
                    });
                    None
                }
            },
        };
        let question = clean_text(&spec.question);
        errors.extend(text_error("question", &question));
        if !valid_client_id(&spec.client_id) {
            errors.push(FieldError {
                field: "client_id".into(),
                message: "must be 1 to 64 letters, digits, - or _".into(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let now = self.now();
        let secret = new_secret("sbc_")?;
        let conv = Conversation {
            id: self.new_uuid().to_string(),
            tenant_id: tenant,
            channel: "chat".into(),
            reference: crate::email::random_reference()?,
            address: widget.id.clone(),
            customer_address: email.clone().unwrap_or_default(),
            customer_name: Some(name.to_owned()),
            subject: question
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
            queue_id: widget.queue_id.clone(),
            created_at: now,
            updated_at: now,
        };
        // The session first: a session whose contact was never made is
        // refused when it comes back, never the other way round.
        self.store()
            .insert_chat_session(&ChatSession {
                token_sha256: secret_hash(secret.expose()),
                tenant_id: tenant,
                widget_id: widget.id.clone(),
                conversation_id: conv.id.clone(),
                created_at: now,
            })
            .await?;
        let handle = ChatHandle {
            tenant_id: tenant,
            conversation_id: conv.id.clone(),
            reference: conv.reference.clone(),
            widget,
            customer_name: Some(name.to_owned()),
            customer_email: email,
        };
        let contact = ContactId::from_uuid(self.new_uuid());
        let row = self.customer_row(&handle, contact, &spec.client_id, question, now);
        self.new_chat_contact(&handle, contact, Some(conv), row, Vec::new())
            .await?;
        metrics::counter!("switchboard_chats_started_total").increment(1);
        Ok((handle, secret.expose().to_owned()))
    }

    /// The session a widget comes back with.
    pub async fn chat_resume(&self, token: &str) -> Result<ChatHandle, AppError> {
        if token.len() > 100 {
            return Err(AppError::Unauthorized);
        }
        let s = self
            .store()
            .find_chat_session(&secret_hash(token))
            .await?
            .ok_or(AppError::Unauthorized)?;
        let conv = match self
            .store()
            .get_conversation(s.tenant_id, &s.conversation_id)
            .await
        {
            Ok(c) => c,
            Err(sb_store::StoreError::NotFound) => return Err(AppError::Unauthorized),
            Err(e) => return Err(e.into()),
        };
        let widget = self.public_chat_widget(&s.widget_id).await?;
        Ok(ChatHandle {
            tenant_id: s.tenant_id,
            conversation_id: conv.id,
            reference: conv.reference,
            widget,
            customer_name: conv.customer_name,
            customer_email: (!conv.customer_address.is_empty()).then_some(conv.customer_address),
        })
    }

    /// Follows the session's room: what the agent writes and does.
    pub async fn chat_subscribe(&self, h: &ChatHandle) -> Result<ChatSubscription, AppError> {
        let contact = self
            .store()
            .latest_conversation_contact(h.tenant_id, &h.conversation_id)
            .await?;
        Ok(self.chat.subscribe(&h.conversation_id, contact.as_deref()))
    }

    /// The chat's messages after `after` (a message id the widget holds;
    /// none: all), oldest first.
    pub async fn chat_history(
        &self,
        h: &ChatHandle,
        after: Option<&str>,
    ) -> Result<Vec<ChatMessage>, AppError> {
        let store = self.store();
        let messages = store
            .list_conversation_messages(h.tenant_id, &h.conversation_id)
            .await?;
        let mut files: BTreeMap<String, Vec<ChatFile>> = BTreeMap::new();
        if messages.iter().any(|m| m.channel == "chat") {
            for a in store
                .list_conversation_attachments(h.tenant_id, &h.conversation_id)
                .await?
            {
                files
                    .entry(a.message_id.clone())
                    .or_default()
                    .push(chat_file(&a));
            }
        }
        Ok(messages
            .iter()
            .filter(|m| m.channel == "chat")
            .filter(|m| after.is_none_or(|a| m.id.as_str() > a))
            .map(|m| chat_message(m, files.remove(&m.id).unwrap_or_default()))
            .collect())
    }

    /// Where the chat is now: waiting (with its place), with an agent, or
    /// over.
    pub async fn chat_status(&self, h: &ChatHandle) -> Result<ChatPush, AppError> {
        let Some(contact) = self
            .open_contact_of(h.tenant_id, &h.conversation_id)
            .await?
        else {
            return Ok(ChatPush::Ended);
        };
        let c = self.store().get_contact(h.tenant_id, contact).await?;
        if let Some(agent) = c.agent_id.as_deref().and_then(|a| a.parse().ok())
            && c.state == sb_model::ContactState::Active
        {
            let name = self
                .store()
                .get_agent(h.tenant_id, agent)
                .await
                .map(|a| a.display_name)
                .unwrap_or_else(|_| "An agent".into());
            return Ok(ChatPush::Agent { name });
        }
        let place = self
            .routing
            .ask(h.tenant_id, |reply| crate::routing::Command::Position {
                contact,
                reply,
            })
            .await?;
        Ok(ChatPush::Waiting {
            position: place.map(|p| p.0),
            expected_wait_ms: place.and_then(|p| p.1),
        })
    }

    /// Keeps a customer's message (once: a message resent with the same
    /// `client_id` answers with the one kept) and passes it to the agent,
    /// or starts a new contact if the last one is over.
    pub async fn chat_send(
        &self,
        h: &ChatHandle,
        client_id: &str,
        text: &str,
    ) -> Result<ChatMessage, AppError> {
        let text = clean_text(text);
        let mut errors: Vec<FieldError> = text_error("text", &text).into_iter().collect();
        if !valid_client_id(client_id) {
            errors.push(FieldError {
                field: "client_id".into(),
                message: "must be 1 to 64 letters, digits, - or _".into(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        self.chat_post(h, client_id, text, Vec::new()).await
    }

    /// A file the customer sends, as a message of its own.
    pub async fn chat_upload(
        &self,
        h: &ChatHandle,
        client_id: &str,
        filename: &str,
        content_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<ChatMessage, AppError> {
        let mut errors = Vec::new();
        if !valid_client_id(client_id) {
            errors.push(FieldError {
                field: "client_id".into(),
                message: "must be 1 to 64 letters, digits, - or _".into(),
            });
        }
        if filename.trim().is_empty() || filename.chars().count() > 200 {
            errors.push(FieldError {
                field: "filename".into(),
                message: "must be 1 to 200 characters".into(),
            });
        }
        if bytes.is_empty() || bytes.len() > MAX_CHAT_FILE_BYTES {
            errors.push(FieldError {
                field: "file".into(),
                message: format!("must be 1 to {MAX_CHAT_FILE_BYTES} bytes"),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let name = sb_mail::inbound::safe_filename(filename);
        let file = sb_mail::inbound::Attachment {
            filename: name.clone(),
            content_type: content_type_or_octets(content_type),
            bytes,
        };
        self.chat_post(h, client_id, format!("Sent a file: {name}"), vec![file])
            .await
    }

    async fn chat_post(
        &self,
        h: &ChatHandle,
        client_id: &str,
        text: String,
        files: Vec<sb_mail::inbound::Attachment>,
    ) -> Result<ChatMessage, AppError> {
        let tenant = h.tenant_id;
        let lock = self.chat.send_lock(&h.conversation_id);
        let _held = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let mid = format!("chat:{}:{client_id}", h.conversation_id);
        if let Some(prev) = self
            .store()
            .find_message_by_message_id(tenant, &mid)
            .await?
        {
            return Ok(chat_message(&prev, Vec::new()));
        }
        let open = self.open_contact_of(tenant, &h.conversation_id).await?;
        let contact = open.unwrap_or_else(|| ContactId::from_uuid(self.new_uuid()));
        let now = self.now();
        let row = self.customer_row(h, contact, client_id, text, now);
        let attachments = self.keep_attachments(tenant, &row.id, &files, now).await?;
        let shown = chat_message(&row, attachments.iter().map(chat_file).collect());
        if open.is_some() {
            self.join_open_contact(&Received {
                conversation: None,
                message: row,
                attachments,
                acknowledgement: None,
            })
            .await?;
        } else {
            self.new_chat_contact(h, contact, None, row, attachments)
                .await?;
        }
        self.chat
            .push(&h.conversation_id, ChatPush::Message(shown.clone()));
        metrics::counter!("switchboard_chat_messages_total", "from" => "customer").increment(1);
        Ok(shown)
    }

    fn customer_row(
        &self,
        h: &ChatHandle,
        contact: ContactId,
        client_id: &str,
        text: String,
        now: UnixMs,
    ) -> MessageRow {
        MessageRow {
            id: self.new_uuid().to_string(),
            tenant_id: h.tenant_id,
            conversation_id: h.conversation_id.clone(),
            contact_id: contact.to_string(),
            direction: "in".into(),
            message_id: format!("chat:{}:{client_id}", h.conversation_id),
            in_reply_to: None,
            from_address: h.customer_email.clone().unwrap_or_default(),
            from_name: h.customer_name.clone(),
            to_address: h.widget.id.clone(),
            subject: String::new(),
            text_body: text,
            html_body: None,
            remote_images_blocked: 0,
            automatic: None,
            author_user_id: None,
            status: "received".into(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            sent_at: None,
            raw: None,
            created_at: now,
            channel: "chat".into(),
        }
    }

    /// A chat contact for the message, queued in the widget's queue, the
    /// message (and a new conversation) written with it.
    async fn new_chat_contact(
        &self,
        h: &ChatHandle,
        contact: ContactId,
        conversation: Option<Conversation>,
        row: MessageRow,
        attachments: Vec<AttachmentRow>,
    ) -> Result<(), AppError> {
        let queue: QueueId = h
            .widget
            .queue_id
            .parse()
            .map_err(|_| AppError::Internal("a stored queue id does not parse".into()))?;
        let customer = match &h.customer_email {
            Some(e) => self
                .store()
                .find_customer_by_email(h.tenant_id, e)
                .await?
                .and_then(|c| c.parse().ok()),
            None => None,
        };
        let mut attributes = BTreeMap::new();
        attributes.insert("reference".to_owned(), h.reference.clone());
        let subject = conversation
            .as_ref()
            .map(|c| c.subject.clone())
            .unwrap_or_else(|| row.text_body.chars().take(200).collect());
        let new = NewContact {
            channel: Channel::Chat,
            direction: Direction::Inbound,
            queue_id: queue,
            customer_id: customer,
            priority: None,
            subject: Text::parse(subject.lines().next().unwrap_or("Chat"), 200).ok(),
            from_address: h
                .customer_email
                .as_deref()
                .and_then(|e| Text::parse(e, 320).ok()),
            to_address: None,
            attributes,
            requested_agent_id: None,
        };
        self.chat
            .watch_contact(&h.conversation_id, &contact.to_string());
        let received = Received {
            conversation,
            message: row,
            attachments,
            acknowledgement: None,
        };
        self.create_contact_with(&principal(h.tenant_id), contact, new, Some(received))
            .await?;
        Ok(())
    }

    /// The customer started or stopped typing: the desk is told.
    pub async fn chat_typing(&self, h: &ChatHandle, on: bool) -> Result<(), AppError> {
        if let Some(contact) = self
            .store()
            .latest_conversation_contact(h.tenant_id, &h.conversation_id)
            .await?
        {
            self.routing.publish(LiveEvent {
                tenant_id: h.tenant_id,
                kind: "chat.typing",
                subject_id: contact,
                at: self.now(),
                payload: serde_json::json!({"from": "customer", "on": on}),
            });
        }
        Ok(())
    }

    /// The customer closes the chat: a waiting contact is abandoned; one
    /// with an agent is told, and the agent completes it.
    pub async fn chat_leave(&self, h: &ChatHandle) -> Result<(), AppError> {
        let tenant = h.tenant_id;
        let Some(contact) = self.open_contact_of(tenant, &h.conversation_id).await? else {
            return Ok(());
        };
        let c = self.store().get_contact(tenant, contact).await?;
        if c.agent_id.is_none() {
            match self.abandon_contact(&principal(tenant), contact).await {
                Ok(_) | Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
            self.chat.push(&h.conversation_id, ChatPush::Ended);
            return Ok(());
        }
        let now = self.now();
        let mut row = self.customer_row(
            h,
            contact,
            &format!("left-{}", self.new_uuid().simple()),
            "The customer left the chat.".into(),
            now,
        );
        row.automatic = Some("left".into());
        let shown = chat_message(&row, Vec::new());
        self.join_open_contact(&Received {
            conversation: None,
            message: row,
            attachments: Vec::new(),
            acknowledgement: None,
        })
        .await?;
        self.chat.push(&h.conversation_id, ChatPush::Message(shown));
        Ok(())
    }

    /// Emails the chat's transcript to the customer, from the widget's
    /// address, through the outgoing queue.
    pub async fn chat_transcript(&self, h: &ChatHandle) -> Result<(), AppError> {
        let tenant = h.tenant_id;
        let (Some(from), Some(to)) = (&h.widget.transcript_from, &h.customer_email) else {
            return Err(AppError::Conflict(
                "transcripts need an email address on both sides".into(),
            ));
        };
        let from = self
            .store()
            .find_email_address(from)
            .await?
            .filter(|a| a.tenant_id == tenant)
            .ok_or_else(|| {
                AppError::Conflict("the widget's email address is no longer configured".into())
            })?;
        let zone = self.tenant_zone(tenant).await?;
        let messages = self.chat_history(h, None).await?;
        let mut text = format!(
            "Hello{},\n\nHere is your chat with {} (reference #{}).\n\n",
            h.customer_name
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default(),
            from.display_name,
            h.reference
        );
        for m in &messages {
            let when = jiff::Timestamp::from_millisecond(m.at)
                .map(|t| zone.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            let who = match m.from {
                "customer" => h.customer_name.clone().unwrap_or_else(|| "You".into()),
                "agent" => m.name.clone().unwrap_or_else(|| "Agent".into()),
                _ => "—".into(),
            };
            text.push_str(&format!("[{when}] {who}: {}\n", m.text));
        }
        text.push_str("\nThis is an automatic message.\n");
        let now = self.now();
        let id = self.new_uuid();
        let domain = from
            .address
            .rsplit_once('@')
            .map_or("switchboard.invalid", |(_, d)| d);
        let message_id = format!("{id}@{domain}");
        let subject = format!("Your chat transcript [#{}]", h.reference);
        let raw = outbound::build(&outbound::Outgoing {
            from_name: from.display_name.clone(),
            from_address: from.address.clone(),
            to_name: h.customer_name.clone(),
            to_address: to.clone(),
            subject: subject.clone(),
            message_id: message_id.clone(),
            in_reply_to: None,
            references: Vec::new(),
            text: text.clone(),
            automatic: true,
            attachments: Vec::new(),
        })
        .map_err(|e| AppError::invalid("email", e.to_string()))?;
        let contact = self
            .store()
            .latest_conversation_contact(tenant, &h.conversation_id)
            .await?
            .unwrap_or_default();
        let row = MessageRow {
            id: id.to_string(),
            tenant_id: tenant,
            conversation_id: h.conversation_id.clone(),
            contact_id: contact,
            direction: "out".into(),
            message_id,
            in_reply_to: None,
            from_address: from.address.clone(),
            from_name: Some(from.display_name.clone()),
            to_address: to.clone(),
            subject,
            text_body: text,
            html_body: None,
            remote_images_blocked: 0,
            automatic: Some("transcript".into()),
            author_user_id: None,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: Some(now),
            last_error: None,
            sent_at: None,
            raw: Some(String::from_utf8_lossy(&raw).into_owned()),
            created_at: now,
            channel: "email".into(),
        };
        self.store().insert_outbound(&row, &[]).await?;
        self.mail.wake.notify_one();
        Ok(())
    }

    /// A file of the session's chat, for the widget.
    pub async fn chat_file(
        &self,
        h: &ChatHandle,
        id: &str,
    ) -> Result<(AttachmentRow, PathBuf), AppError> {
        let row = self
            .store()
            .list_conversation_attachments(h.tenant_id, &h.conversation_id)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(AppError::NotFound("file"))?;
        let path = self.attachments_dir(h.tenant_id).join(&row.id);
        Ok((row, path))
    }

    // ---- the agent's side ----

    /// An agent's chat answer: kept, then shown to the customer at once.
    pub(crate) async fn chat_reply(
        &self,
        p: &Principal,
        contact: ContactId,
        conv: &Conversation,
        text: &str,
        files: Vec<(String, String, Vec<u8>)>,
    ) -> Result<(MessageRow, Vec<AttachmentRow>), AppError> {
        let me = self.own_agent(p).await?;
        let name = match me {
            Some(a) => self
                .store()
                .get_agent(p.tenant_id, a)
                .await
                .map(|a| a.display_name)
                .ok(),
            None => None,
        };
        let now = self.now();
        let row = MessageRow {
            id: self.new_uuid().to_string(),
            tenant_id: p.tenant_id,
            conversation_id: conv.id.clone(),
            contact_id: contact.to_string(),
            direction: "out".into(),
            message_id: format!("chat:{}:agent-{}", conv.id, self.new_uuid().simple()),
            in_reply_to: None,
            from_address: conv.address.clone(),
            from_name: Some(name.unwrap_or_else(|| "Agent".into())),
            to_address: conv.customer_address.clone(),
            subject: String::new(),
            text_body: text.to_owned(),
            html_body: None,
            remote_images_blocked: 0,
            automatic: None,
            author_user_id: p.user_id.map(|u| u.to_string()),
            status: "sent".into(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            sent_at: Some(now),
            raw: None,
            created_at: now,
            channel: "chat".into(),
        };
        let attachments = self
            .keep_attachments(p.tenant_id, &row.id, &as_attachments(files), now)
            .await?;
        self.store().insert_outbound(&row, &attachments).await?;
        let files = attachments.iter().map(chat_file).collect();
        self.chat
            .push(&conv.id, ChatPush::Message(chat_message(&row, files)));
        self.chat.push(&conv.id, ChatPush::Typing { on: false });
        self.routing.publish(LiveEvent {
            tenant_id: p.tenant_id,
            kind: "message.sent",
            subject_id: contact.to_string(),
            at: now,
            payload: serde_json::json!({"message_id": row.id, "conversation_id": conv.id}),
        });
        metrics::counter!("switchboard_chat_messages_total", "from" => "agent").increment(1);
        Ok((row, attachments))
    }

    /// The contact's agent is typing (or stopped): the widget is told.
    pub async fn agent_typing(
        &self,
        p: &Principal,
        contact: ContactId,
        on: bool,
    ) -> Result<(), AppError> {
        p.require(Permission::ContactWrite)?;
        let c = self.get_contact(p, contact).await?;
        if c.channel != Channel::Chat {
            return Err(AppError::Conflict("only chats show typing".into()));
        }
        self.chat
            .push_contact(&contact.to_string(), ChatPush::Typing { on });
        Ok(())
    }

    /// Passes the routing engine's news of watched chat contacts to their
    /// widgets, until the process ends.
    pub async fn run_chat_relay(self) {
        let mut rx = self.routing.subscribe();
        loop {
            let e = match rx.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the chat relay fell behind the live events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if !self.chat.watched(&e.subject_id) {
                continue;
            }
            let p = &e.payload;
            let push = match e.kind {
                "contact.queued" | "contact.position" => Some(ChatPush::Waiting {
                    position: p["position"].as_u64().map(|n| n as usize),
                    expected_wait_ms: p["expected_wait_ms"].as_u64(),
                }),
                "contact.transferred" => Some(ChatPush::Waiting {
                    position: None,
                    expected_wait_ms: None,
                }),
                "contact.answered" => {
                    let name = match p["agent_id"].as_str().and_then(|a| a.parse().ok()) {
                        Some(a) => self
                            .store()
                            .get_agent(e.tenant_id, a)
                            .await
                            .map(|a| a.display_name)
                            .unwrap_or_else(|_| "An agent".into()),
                        None => "An agent".into(),
                    };
                    Some(ChatPush::Agent { name })
                }
                "contact.wrap_up_started"
                | "contact.ended"
                | "contact.abandoned"
                | "contact.max_wait_reached"
                | "contact.arrived_closed" => Some(ChatPush::Ended),
                _ => None,
            };
            if let Some(push) = push {
                self.chat.push_contact(&e.subject_id, push);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(
            valid_origin("https://Shop.Example/"),
            Some("https://shop.example".into())
        );
        assert_eq!(
            valid_origin("http://localhost:8080"),
            Some("http://localhost:8080".into())
        );
        assert_eq!(valid_origin("https://shop.example/path"), None);
        assert_eq!(valid_origin("javascript:alert(1)"), None);
        assert_eq!(valid_origin("https://a b"), None);
        assert_eq!(valid_origin("ftp://shop.example"), None);
    }

    #[test]
    fn client_ids_are_short_and_plain() {
        assert!(valid_client_id("m-1_a"));
        assert!(!valid_client_id(""));
        assert!(!valid_client_id("a:b"));
        assert!(!valid_client_id(&"a".repeat(65)));
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_one_a_second() {
        let mut r = RateLimit::default();
        let allowed = (0..15).filter(|_| r.allow()).count();
        assert_eq!(allowed, CHAT_BURST as usize);
        r.at -= std::time::Duration::from_secs(2);
        assert!(r.allow());
        assert!(r.allow());
        assert!(!r.allow());
    }

    #[test]
    fn stored_messages_read_back_with_their_client_ids() {
        let m = MessageRow {
            id: "01".into(),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            conversation_id: "c".into(),
            contact_id: "x".into(),
            direction: "in".into(),
            message_id: "chat:c:abc-1".into(),
            in_reply_to: None,
            from_address: String::new(),
            from_name: Some("Ann".into()),
            to_address: String::new(),
            subject: String::new(),
            text_body: "hi".into(),
            html_body: None,
            remote_images_blocked: 0,
            automatic: None,
            author_user_id: None,
            status: "received".into(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            sent_at: None,
            raw: None,
            created_at: 5,
            channel: "chat".into(),
        };
        let v = chat_message(&m, Vec::new());
        assert_eq!(v.client_id.as_deref(), Some("abc-1"));
        assert_eq!(v.from, "customer");
        assert_eq!(clean_text("a\u{7}b\n \t"), "ab");
    }
}
