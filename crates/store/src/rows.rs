//! Storage rows: what a table holds, with typed ids and names. These are
//! the store's edge types; the application maps them to API shapes.

use sb_model::*;
use serde::Serialize;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Tenant {
    #[sqlx(try_from = "String")]
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    pub time_zone: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

#[derive(Debug, Clone, FromRow)]
pub struct User {
    #[sqlx(try_from = "String")]
    pub id: UserId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "String")]
    pub roles: RoleSet,
    pub active: i64,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.active != 0
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct Session {
    pub token_hash: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub created_at: UnixMs,
    pub expires_at: UnixMs,
}

#[derive(Debug, Clone, FromRow)]
pub struct ApiToken {
    #[sqlx(try_from = "String")]
    pub id: ApiTokenId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub created_at: UnixMs,
    pub revoked_at: Option<UnixMs>,
}

#[derive(Debug, Clone, FromRow)]
pub struct Skill {
    #[sqlx(try_from = "String")]
    pub id: SkillId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

#[derive(Debug, Clone, FromRow)]
pub struct Agent {
    #[sqlx(try_from = "String")]
    pub id: AgentId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub display_name: String,
    pub capacity_voice: i64,
    pub capacity_email: i64,
    pub capacity_chat: i64,
    pub capacity_sms: i64,
    /// 1 when a voice contact stops the agent taking other channels.
    pub voice_blocks_others: i64,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
    /// JSON object of text values for routing conditions.
    pub attributes: String,
    #[sqlx(skip)]
    pub skills: Vec<AgentSkill>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AgentSkill {
    #[sqlx(try_from = "String")]
    pub skill_id: SkillId,
    pub proficiency: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct Queue {
    #[sqlx(try_from = "String")]
    pub id: QueueId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    #[sqlx(try_from = "String")]
    pub strategy: Strategy,
    pub priority: i64,
    pub service_level_seconds: i64,
    pub service_level_target_pct: i64,
    pub max_wait_seconds: Option<i64>,
    pub wrap_up_seconds: i64,
    /// The routing rules as JSON; their shape belongs to the application.
    pub routing_rules: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
    /// The department the queue belongs to (empty: none named).
    pub department: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct Customer {
    #[sqlx(try_from = "String")]
    pub id: CustomerId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub kind: CustomerKind,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: CustomerStatus,
    pub external_ref: Option<String>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

#[derive(Debug, Clone, FromRow)]
pub struct StatusChange {
    pub id: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_at: UnixMs,
    pub changed_by: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct Contact {
    #[sqlx(try_from = "String")]
    pub id: ContactId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    #[sqlx(try_from = "String")]
    pub queue_id: QueueId,
    pub customer_id: Option<String>,
    pub agent_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: ContactState,
    pub priority: i64,
    pub subject: String,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub reason: Option<String>,
    pub disposition: Option<String>,
    pub notes: String,
    pub arrived_at: UnixMs,
    pub queued_at: Option<UnixMs>,
    pub first_reserved_at: Option<UnixMs>,
    pub answered_at: Option<UnixMs>,
    pub hold_ms: i64,
    pub wrap_started_at: Option<UnixMs>,
    pub wrap_ended_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
    pub abandoned_at: Option<UnixMs>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
    /// JSON object of text values for routing conditions.
    pub attributes: String,
    /// The only agent who may take it while it waits, if any.
    pub requested_agent_id: Option<String>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Event {
    pub seq: i64,
    pub tenant_id: String,
    pub kind: String,
    pub subject_id: String,
    pub at: UnixMs,
    pub payload: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub tenant_id: String,
    pub at: UnixMs,
    pub actor_user_id: Option<String>,
    pub actor_kind: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub source: String,
    pub details: String,
}

/// A named set of business hours; `hours` is the JSON of
/// `sb_model::BusinessHours`.
#[derive(Debug, Clone, FromRow)]
pub struct BusinessHoursRow {
    #[sqlx(try_from = "String")]
    pub id: BusinessHoursId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    pub hours: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

/// An outbound webhook: events whose kind matches one of `events` (JSON
/// array of kinds, or `prefix.*`) are POSTed to `url`, signed with `secret`.
#[derive(Debug, Clone, FromRow)]
pub struct Webhook {
    #[sqlx(try_from = "String")]
    pub id: WebhookId,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub url: String,
    pub secret: String,
    pub events: String,
    pub active: i64,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

/// One event owed to one webhook: `pending` until delivered (or `failed`
/// after the last retry).
#[derive(Debug, Clone, FromRow)]
pub struct WebhookDelivery {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub webhook_id: WebhookId,
    pub event_kind: String,
    pub body: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: UnixMs,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: UnixMs,
    pub delivered_at: Option<UnixMs>,
}

/// A raised hand: an agent's question and a team leader's answer.
#[derive(Debug, Clone, FromRow)]
pub struct HelpRequest {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "String")]
    pub agent_id: AgentId,
    pub contact_id: Option<String>,
    pub question: String,
    /// `open` or `answered`.
    pub state: String,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub created_at: UnixMs,
    pub answered_at: Option<UnixMs>,
}

/// A reason code (why an agent is away) or a disposition code (how a
/// contact ended) from the centre's lists.
#[derive(Debug, Clone, FromRow)]
pub struct WorkCode {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    /// `reason` or `disposition`.
    pub kind: String,
    pub code: String,
    pub label: String,
    pub active: i64,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

/// A callback booked for a later time.
#[derive(Debug, Clone, FromRow)]
pub struct ScheduledCallback {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    /// The contact created when it is due (its id is fixed at booking).
    pub contact_id: String,
    /// The contact it was booked from.
    pub origin_contact_id: Option<String>,
    pub customer_id: Option<String>,
    pub queue_id: String,
    /// Kept for this agent (a personal callback).
    pub agent_id: Option<String>,
    /// The number to call, when not the customer's own.
    pub phone: Option<String>,
    pub notes: String,
    pub due_at: UnixMs,
    /// `pending`, `releasing`, `released` or `cancelled`.
    pub state: String,
    pub booked_by: Option<String>,
    pub claimed_at: Option<UnixMs>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

/// What an agent is contracted to work.
#[derive(Debug, Clone, FromRow)]
pub struct AgentContract {
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub agent_id: String,
    /// Paid minutes per week: at least, at most.
    pub min_minutes: i64,
    pub max_minutes: i64,
    /// JSON `{"monday": [["08:00", "18:00"]], ...}`, local times.
    pub availability: String,
    pub updated_at: UnixMs,
}

/// A roster of named agents on shifts.
#[derive(Debug, Clone, FromRow)]
pub struct Roster {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    /// The first local day, `YYYY-MM-DD`.
    pub first_day: String,
    /// The day after the last.
    pub end_day: String,
    pub days: i64,
    /// `draft`, `published` or `superseded`.
    pub state: String,
    /// JSON: the shifts no one could take, with why.
    pub unfilled: String,
    pub created_by: Option<String>,
    pub created_at: UnixMs,
    pub published_at: Option<UnixMs>,
    pub updated_at: UnixMs,
}

/// One shift of a roster.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct RosterShift {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub roster_id: String,
    /// `None` while no agent could take it.
    pub agent_id: Option<String>,
    pub label: String,
    pub skill: Option<String>,
    pub starts_at: UnixMs,
    pub ends_at: UnixMs,
    /// JSON `[[start_ms, end_ms, paid], ...]`.
    pub breaks: String,
}

/// A number callers dial, and the queue it goes to.
#[derive(Debug, Clone, FromRow)]
pub struct VoiceNumber {
    pub number: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub queue_id: String,
    pub updated_at: UnixMs,
    /// The IVR menu, JSON, if the number has one.
    pub menu: Option<String>,
}

/// A recorded prompt a menu plays.
#[derive(Debug, Clone, FromRow)]
pub struct VoicePrompt {
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    /// Relative to the data directory.
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
    pub duration_ms: i64,
    pub updated_at: UnixMs,
}

/// A carrier trunk: where a tenant's calls may come from.
#[derive(Debug, Clone, FromRow)]
pub struct VoiceTrunk {
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    /// JSON array of CIDR blocks.
    pub sources: String,
    pub updated_at: UnixMs,
    /// Where outbound calls go (`host` or `host:port`), if this trunk takes them.
    pub outbound: Option<String>,
    pub auth_username: Option<String>,
    /// Kept as given: a carrier's challenge needs it (never returned by the API).
    pub auth_password: Option<String>,
    /// The number called parties see.
    pub caller_id: Option<String>,
    /// 1: Switchboard registers with the carrier at `outbound`.
    pub registration: i64,
}

/// An agent's phone credentials (digest hashes only).
#[derive(Debug, Clone, FromRow)]
pub struct AgentPhone {
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub agent_id: String,
    pub username: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    pub updated_at: UnixMs,
}

/// A call recording: a stereo WAV file in the data directory.
#[derive(Debug, Clone, FromRow)]
pub struct Recording {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub contact_id: String,
    /// Relative to the data directory.
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
    pub channels: i64,
    pub duration_ms: i64,
    /// Time the recording was paused (silence in the file).
    pub paused_ms: i64,
    pub started_at: UnixMs,
    pub ended_at: UnixMs,
}
