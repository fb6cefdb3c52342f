//! The API's JSON shapes (request and response bodies) and their
//! translation to and from the application's domain types. Parsing input
//! collects every field error before answering, so a client sees all its
//! mistakes at once.

use std::collections::BTreeMap;

use sb_app::FieldError;
use sb_model::*;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Distinguishes an absent field (`None`) from `null` (`Some(None)`).
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Collects field errors while parsing a request into domain types.
#[derive(Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn keep<T>(&mut self, field: &str, r: Result<T, InvalidValue>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.0);
                None
            }
        }
    }

    pub fn text(&mut self, field: &str, v: &str, max: usize) -> Option<Text> {
        self.keep(field, Text::parse(v, max))
    }

    pub fn opt_text(&mut self, field: &str, v: Option<&str>, max: usize) -> Option<Option<Text>> {
        match v {
            None => Some(None),
            Some(s) if s.trim().is_empty() => Some(None),
            Some(s) => self.text(field, s, max).map(Some),
        }
    }

    pub fn long_text(&mut self, field: &str, v: &str, max: usize) -> Option<String> {
        self.keep(field, parse_long_text(v, max))
    }

    pub fn email(&mut self, field: &str, v: &str) -> Option<EmailAddress> {
        self.keep(field, EmailAddress::parse(v))
    }

    pub fn phone(&mut self, field: &str, v: &str) -> Option<PhoneNumber> {
        self.keep(field, PhoneNumber::parse(v))
    }

    pub fn proficiency(&mut self, field: &str, v: i64) -> Option<Proficiency> {
        self.keep(field, Proficiency::new(v))
    }

    pub fn capacity(&mut self, field: &str, v: i64) -> Option<Capacity> {
        self.keep(field, Capacity::new(v))
    }

    pub fn percent(&mut self, field: &str, v: i64) -> Option<Percent> {
        self.keep(field, Percent::new(v))
    }

    pub fn roles(&mut self, field: &str, v: &[Role]) -> Option<RoleSet> {
        match RoleSet::new(v.iter().copied()) {
            Ok(r) => Some(r),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// Fails with every error collected so far.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(sb_app::AppError::Invalid(self.errors).into())
        }
    }
}

/// After [`Check::finish`] succeeded every parsed value is present; this
/// turns a missing one into an internal error rather than a panic.
pub fn got<T>(v: Option<T>) -> Result<T, ApiError> {
    v.ok_or_else(|| sb_app::AppError::Internal("a checked value was missing".into()).into())
}

macro_rules! page_of {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; absent on the last page.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub next_cursor: Option<String>,
        }

        impl<T> From<sb_store::Page<T>> for $name
        where
            $item: From<T>,
        {
            fn from(p: sb_store::Page<T>) -> Self {
                $name {
                    items: p.items.into_iter().map(<$item>::from).collect(),
                    next_cursor: p.next,
                }
            }
        }
    };
}
pub(crate) use page_of;

/// Paging parameters shared by every listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1–500 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

// ---------- auth ----------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub user: UserOut,
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    pub tenant: TenantOut,
}

// ---------- tenants ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    /// IANA time zone of the centre, e.g. `Australia/Sydney`.
    pub time_zone: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::Tenant> for TenantOut {
    fn from(t: sb_store::Tenant) -> Self {
        TenantOut {
            id: t.id,
            name: t.name,
            slug: t.slug,
            time_zone: t.time_zone,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantIn {
    pub name: String,
    pub slug: String,
    pub time_zone: String,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    pub tenant: TenantOut,
    pub admin: UserOut,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatchIn {
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

// ---------- users ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    /// Any of `agent`, `team_leader`, `trainer`, `workforce_planner`, `admin`.
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    pub active: bool,
    /// Whether the user has a password and so can log in.
    pub can_log_in: bool,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::User> for UserOut {
    fn from(u: sb_store::User) -> Self {
        UserOut {
            id: u.id,
            tenant_id: u.tenant_id,
            active: u.is_active(),
            can_log_in: u.password_hash.is_some(),
            email: u.email,
            display_name: u.display_name,
            roles: u.roles.roles().to_vec(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

page_of!(UserPage, UserOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    pub email: String,
    pub display_name: String,
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    /// 8–256 characters. Without one the user cannot log in yet.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchIn {
    pub email: Option<String>,
    pub display_name: Option<String>,
    #[schema(value_type = Option<Vec<String>>)]
    pub roles: Option<Vec<Role>>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only users holding this role.
    #[param(value_type = Option<String>)]
    pub role: Option<Role>,
    pub active: Option<bool>,
}

// ---------- API tokens ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApiTokenId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub name: String,
    pub created_at: UnixMs,
    pub revoked_at: Option<UnixMs>,
}

impl From<sb_store::ApiToken> for TokenOut {
    fn from(t: sb_store::ApiToken) -> Self {
        TokenOut {
            id: t.id,
            user_id: t.user_id,
            name: t.name,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

page_of!(TokenPage, TokenOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    pub name: String,
    /// The user the token acts as; the caller when absent.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<UserId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub token: TokenOut,
    /// The secret, shown once: send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

// ---------- skills ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct SkillOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: SkillId,
    pub name: String,
    pub description: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::Skill> for SkillOut {
    fn from(s: sb_store::Skill) -> Self {
        SkillOut {
            id: s.id,
            name: s.name,
            description: s.description,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

page_of!(SkillPage, SkillOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillIn {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillPatchIn {
    pub name: Option<String>,
    pub description: Option<String>,
}

// ---------- agents ----------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSkillDto {
    #[schema(value_type = String, format = Uuid)]
    pub skill_id: SkillId,
    /// 1 (novice) to 10 (expert).
    pub proficiency: i64,
}

/// Contacts of each channel an agent handles at once (0–50).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityDto {
    pub voice: i64,
    pub email: i64,
    pub chat: i64,
    pub sms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: AgentId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub display_name: String,
    pub capacity: CapacityDto,
    /// Whether a voice contact stops the agent taking other channels.
    pub voice_blocks_others: bool,
    pub skills: Vec<AgentSkillDto>,
    /// Text attributes routing conditions read (`language`, `team`, …).
    pub attributes: BTreeMap<String, String>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::Agent> for AgentOut {
    fn from(a: sb_store::Agent) -> Self {
        AgentOut {
            id: a.id,
            user_id: a.user_id,
            display_name: a.display_name,
            capacity: CapacityDto {
                voice: a.capacity_voice,
                email: a.capacity_email,
                chat: a.capacity_chat,
                sms: a.capacity_sms,
            },
            voice_blocks_others: a.voice_blocks_others != 0,
            skills: a
                .skills
                .into_iter()
                .map(|s| AgentSkillDto {
                    skill_id: s.skill_id,
                    proficiency: s.proficiency,
                })
                .collect(),
            attributes: serde_json::from_str(&a.attributes).unwrap_or_default(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

page_of!(AgentPage, AgentOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIn {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// The user's name when absent.
    pub display_name: Option<String>,
    /// Defaults: 1 voice, 5 email, 3 chat, 3 SMS.
    pub capacity: Option<CapacityDto>,
    #[serde(default = "yes")]
    pub voice_blocks_others: bool,
    #[serde(default)]
    pub skills: Vec<AgentSkillDto>,
    /// Text attributes routing conditions read (`language`, `team`, …);
    /// `id` and `skills` are filled in by Switchboard.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatchIn {
    pub display_name: Option<String>,
    pub capacity: Option<CapacityDto>,
    pub voice_blocks_others: Option<bool>,
    /// Replaces the agent's skills. Team leaders may change only this.
    pub skills: Option<Vec<AgentSkillDto>>,
    /// Replaces the agent's attributes.
    pub attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only agents holding this skill.
    #[param(value_type = Option<String>, format = Uuid)]
    pub skill_id: Option<SkillId>,
}

impl Check {
    pub fn capacities(
        &mut self,
        field: &str,
        c: &CapacityDto,
    ) -> Option<sb_app::directory::Capacities> {
        let voice = self.capacity(&format!("{field}.voice"), c.voice);
        let email = self.capacity(&format!("{field}.email"), c.email);
        let chat = self.capacity(&format!("{field}.chat"), c.chat);
        let sms = self.capacity(&format!("{field}.sms"), c.sms);
        Some(sb_app::directory::Capacities {
            voice: voice?,
            email: email?,
            chat: chat?,
            sms: sms?,
        })
    }

    pub fn agent_skills(
        &mut self,
        field: &str,
        skills: &[AgentSkillDto],
    ) -> Option<Vec<(SkillId, Proficiency)>> {
        let parsed: Vec<Option<(SkillId, Proficiency)>> = skills
            .iter()
            .enumerate()
            .map(|(i, s)| {
                self.proficiency(&format!("{field}[{i}].proficiency"), s.proficiency)
                    .map(|p| (s.skill_id, p))
            })
            .collect();
        parsed.into_iter().collect()
    }
}

// ---------- queues ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: QueueId,
    pub name: String,
    pub description: String,
    /// The department the queue belongs to; empty for none. A transfer to
    /// another department's queue is a referral.
    pub department: String,
    /// One of `longest_idle`, `most_skilled`, `fewest_contacts`, `least_talk_time`,
    /// `round_robin`, `linear`, `weighted_random`, `ring_all`, `ring_progressive`.
    #[schema(value_type = String)]
    pub strategy: Strategy,
    /// 0–100; higher is served first.
    pub priority: i64,
    /// Answered within this many seconds counts towards the service level.
    pub service_level_seconds: i64,
    pub service_level_target_pct: i64,
    pub max_wait_seconds: Option<i64>,
    pub wrap_up_seconds: i64,
    #[schema(value_type = Object)]
    pub routing_rules: serde_json::Value,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::Queue> for QueueOut {
    fn from(q: sb_store::Queue) -> Self {
        QueueOut {
            id: q.id,
            name: q.name,
            description: q.description,
            department: q.department,
            strategy: q.strategy,
            priority: q.priority,
            service_level_seconds: q.service_level_seconds,
            service_level_target_pct: q.service_level_target_pct,
            max_wait_seconds: q.max_wait_seconds,
            wrap_up_seconds: q.wrap_up_seconds,
            routing_rules: serde_json::from_str(&q.routing_rules)
                .unwrap_or(serde_json::Value::Null),
            created_at: q.created_at,
            updated_at: q.updated_at,
        }
    }
}

page_of!(QueuePage, QueueOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueIn {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Up to 80 characters; empty for none.
    #[serde(default)]
    pub department: String,
    #[serde(default = "default_strategy")]
    #[schema(value_type = String)]
    pub strategy: Strategy,
    #[serde(default = "default_priority")]
    pub priority: i64,
    #[serde(default = "default_sl_seconds")]
    pub service_level_seconds: i64,
    #[serde(default = "default_sl_pct")]
    pub service_level_target_pct: i64,
    pub max_wait_seconds: Option<i64>,
    #[serde(default = "default_wrap")]
    pub wrap_up_seconds: i64,
    /// `{"required_skills": [{"skill_id", "min_proficiency"}], "escalation":
    /// [{"after_seconds", "required_skills"}], "overflow": {"queue_id",
    /// "after_seconds", "queue_length_over"}}`
    #[serde(default)]
    #[schema(value_type = Object)]
    pub routing_rules: RoutingRules,
}

fn default_strategy() -> Strategy {
    Strategy::LongestIdle
}
fn default_priority() -> i64 {
    50
}
fn default_sl_seconds() -> i64 {
    20
}
fn default_sl_pct() -> i64 {
    80
}
fn default_wrap() -> i64 {
    30
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatchIn {
    pub name: Option<String>,
    pub description: Option<String>,
    pub department: Option<String>,
    #[schema(value_type = Option<String>)]
    pub strategy: Option<Strategy>,
    pub priority: Option<i64>,
    pub service_level_seconds: Option<i64>,
    pub service_level_target_pct: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_wait_seconds: Option<Option<i64>>,
    pub wrap_up_seconds: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub routing_rules: Option<RoutingRules>,
}

// ---------- customers ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: CustomerId,
    /// `person` or `organisation`.
    #[schema(value_type = String)]
    pub kind: CustomerKind,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `prospect`, `customer` or `former`.
    #[schema(value_type = String)]
    pub status: CustomerStatus,
    pub external_ref: Option<String>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::Customer> for CustomerOut {
    fn from(c: sb_store::Customer) -> Self {
        CustomerOut {
            id: c.id,
            kind: c.kind,
            name: c.name,
            email: c.email,
            phone: c.phone,
            status: c.status,
            external_ref: c.external_ref,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

page_of!(CustomerPage, CustomerOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[serde(default = "default_kind")]
    #[schema(value_type = String)]
    pub kind: CustomerKind,
    pub name: String,
    pub email: Option<String>,
    /// E.164, e.g. `+61291234567`.
    pub phone: Option<String>,
    #[serde(default = "default_status")]
    #[schema(value_type = String)]
    pub status: CustomerStatus,
    pub external_ref: Option<String>,
}

fn default_kind() -> CustomerKind {
    CustomerKind::Person
}
fn default_status() -> CustomerStatus {
    CustomerStatus::Prospect
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchIn {
    #[schema(value_type = Option<String>)]
    pub kind: Option<CustomerKind>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    #[schema(value_type = Option<String>)]
    pub status: Option<CustomerStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_ref: Option<Option<String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    #[param(value_type = Option<String>)]
    pub status: Option<CustomerStatus>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Case-insensitive part of the name.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChangeOut {
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_at: UnixMs,
    pub changed_by: Option<String>,
}

impl From<sb_store::StatusChange> for StatusChangeOut {
    fn from(s: sb_store::StatusChange) -> Self {
        StatusChangeOut {
            from_status: s.from_status,
            to_status: s.to_status,
            changed_at: s.changed_at,
            changed_by: s.changed_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusHistory {
    pub items: Vec<StatusChangeOut>,
}

// ---------- contacts ----------

/// When each step of the contact happened (epoch milliseconds).
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineOut {
    pub arrived_at: UnixMs,
    pub queued_at: Option<UnixMs>,
    pub first_reserved_at: Option<UnixMs>,
    pub answered_at: Option<UnixMs>,
    pub hold_ms: i64,
    pub wrap_started_at: Option<UnixMs>,
    pub wrap_ended_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
    pub abandoned_at: Option<UnixMs>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ContactId,
    /// `voice`, `email`, `chat` or `sms`.
    #[schema(value_type = String)]
    pub channel: Channel,
    #[schema(value_type = String)]
    pub direction: Direction,
    #[schema(value_type = String, format = Uuid)]
    pub queue_id: QueueId,
    pub customer_id: Option<String>,
    pub agent_id: Option<String>,
    /// `queued`, `reserved`, `active`, `wrap_up`, `ended` or `abandoned`.
    #[schema(value_type = String)]
    pub state: ContactState,
    pub priority: i64,
    pub subject: String,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub reason: Option<String>,
    pub disposition: Option<String>,
    pub notes: String,
    pub timeline: TimelineOut,
    /// Text attributes routing conditions read as `task.<name>`.
    pub attributes: BTreeMap<String, String>,
    /// The only agent who may take it while it waits, if any.
    pub requested_agent_id: Option<String>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::Contact> for ContactOut {
    fn from(c: sb_store::Contact) -> Self {
        ContactOut {
            id: c.id,
            channel: c.channel,
            direction: c.direction,
            queue_id: c.queue_id,
            customer_id: c.customer_id,
            agent_id: c.agent_id,
            state: c.state,
            priority: c.priority,
            subject: c.subject,
            from_address: c.from_address,
            to_address: c.to_address,
            reason: c.reason,
            disposition: c.disposition,
            notes: c.notes,
            timeline: TimelineOut {
                arrived_at: c.arrived_at,
                queued_at: c.queued_at,
                first_reserved_at: c.first_reserved_at,
                answered_at: c.answered_at,
                hold_ms: c.hold_ms,
                wrap_started_at: c.wrap_started_at,
                wrap_ended_at: c.wrap_ended_at,
                ended_at: c.ended_at,
                abandoned_at: c.abandoned_at,
            },
            attributes: serde_json::from_str(&c.attributes).unwrap_or_default(),
            requested_agent_id: c.requested_agent_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

page_of!(ContactPage, ContactOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    #[schema(value_type = String)]
    pub channel: Channel,
    #[serde(default = "default_direction")]
    #[schema(value_type = String)]
    pub direction: Direction,
    #[schema(value_type = String, format = Uuid)]
    pub queue_id: QueueId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<CustomerId>,
    /// 0–100; the queue's priority when absent.
    pub priority: Option<i64>,
    pub subject: Option<String>,
    /// Caller number, sender address or chat handle.
    pub from_address: Option<String>,
    /// Dialled number or receiving address.
    pub to_address: Option<String>,
    /// Text attributes routing conditions read as `task.<name>`
    /// (`channel`, `queue_id`, `priority`, `customer_id` are filled in).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Only this agent may take it (the last agent the customer spoke to).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub requested_agent_id: Option<AgentId>,
}

fn default_direction() -> Direction {
    Direction::Inbound
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatchIn {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<Option<CustomerId>>,
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub disposition: Option<Option<String>>,
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub queue_id: Option<QueueId>,
    #[param(value_type = Option<String>)]
    pub channel: Option<Channel>,
    #[param(value_type = Option<String>)]
    pub state: Option<ContactState>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<CustomerId>,
    /// Arrived at or after (epoch ms).
    pub arrived_from: Option<i64>,
    /// Arrived before (epoch ms).
    pub arrived_before: Option<i64>,
    /// Handled by this agent.
    #[param(value_type = Option<String>, format = Uuid)]
    pub agent_id: Option<AgentId>,
}

// ---------- audit ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: String,
    pub at: UnixMs,
    pub actor_user_id: Option<String>,
    /// `user`, `token`, `cli`, `platform` or `system`.
    pub actor_kind: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// The client address.
    pub source: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<sb_store::AuditRow> for AuditOut {
    fn from(a: sb_store::AuditRow) -> Self {
        AuditOut {
            id: a.id,
            at: a.at,
            actor_user_id: a.actor_user_id,
            actor_kind: a.actor_kind,
            action: a.action,
            object_type: a.object_type,
            object_id: a.object_id,
            source: a.source,
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

page_of!(AuditPage, AuditOut);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only entries about this object.
    pub object_id: Option<String>,
    /// Only entries of this action, e.g. `user.updated`.
    pub action: Option<String>,
    /// `oldest` (the default) or `newest` first.
    pub order: Option<String>,
}
