//! The voice channel's use cases: the numbers callers dial and the queues
//! they go to, the carrier trunks calls may come from, agents' phone
//! credentials, and call recordings. The SIP server itself (`sb-voice`)
//! reads the directory through [`App::voice_directory`] and reports phones'
//! registrations through [`App::set_phone_registered`].

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sb_model::{
    AgentId, BusinessHours, BusinessHoursId, ContactId, Permission, PhoneNumber, QueueId, TenantId,
};
use sb_sip::MonitorMode;
use sb_sip::digest::{self, Algorithm};
use sb_store::{
    AgentPhone, Recording, StoreError, VoiceDirectory, VoiceNumber, VoicePrompt, VoiceTrunk,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{App, AppError, FieldError, Principal};

/// The digest realm phones authenticate in. The stored hashes depend on
/// it, so it never changes.
pub const SIP_REALM: &str = "switchboard";
/// The most source blocks one trunk lists.
pub const MAX_TRUNK_SOURCES: usize = 64;
/// The largest prompt accepted (about four minutes at 8 kHz).
pub const MAX_PROMPT_BYTES: usize = 4 * 1024 * 1024;
/// The most keys one menu offers.
pub const MAX_MENU_OPTIONS: usize = 12;

/// What the application asks of the SIP server.
pub enum VoiceRequest {
    /// A team leader's phone (`agent`'s) joins a call, or changes mode.
    Monitor {
        tenant: TenantId,
        contact: ContactId,
        agent: AgentId,
        mode: MonitorMode,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    StopMonitor {
        tenant: TenantId,
        contact: ContactId,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
    /// The call's agent consults `agent` (an attended transfer's first step).
    Consult {
        tenant: TenantId,
        contact: ContactId,
        agent: AgentId,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// Hand the call to the consulted agent (`complete`), or call it off.
    FinishConsult {
        tenant: TenantId,
        contact: ContactId,
        complete: bool,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// Pause (`paused`) or resume a call's recording.
    PauseRecording {
        tenant: TenantId,
        contact: ContactId,
        paused: bool,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
}

/// What the voice shell shares with the rest of the application.
#[derive(Clone, Default)]
pub struct VoiceState {
    /// Agents whose phones are registered on this node.
    registered: Arc<Mutex<HashSet<(TenantId, AgentId)>>>,
    /// The SIP server's inbox, once it runs.
    requests: Arc<Mutex<Option<tokio::sync::mpsc::Sender<VoiceRequest>>>>,
    /// How each tenant's registration with its carrier stands.
    carriers: Arc<Mutex<std::collections::HashMap<TenantId, String>>>,
    /// Rung when the voice configuration changes, so the SIP server
    /// reloads it at once.
    pub changed: Arc<tokio::sync::Notify>,
}

impl VoiceState {
    /// The SIP server takes requests from here on.
    pub fn attach(&self, inbox: tokio::sync::mpsc::Sender<VoiceRequest>) {
        if let Ok(mut r) = self.requests.lock() {
            *r = Some(inbox);
        }
    }

    fn inbox(&self) -> Option<tokio::sync::mpsc::Sender<VoiceRequest>> {
        self.requests.lock().ok().and_then(|r| r.clone())
    }
}

/// How a team leader joins a call.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MonitorModeName {
    /// Hear both sides; nobody hears you.
    Listen,
    /// The agent hears you; the caller does not.
    Whisper,
    /// Everyone hears everyone.
    Barge,
}

impl From<MonitorModeName> for MonitorMode {
    fn from(m: MonitorModeName) -> Self {
        match m {
            MonitorModeName::Listen => MonitorMode::Listen,
            MonitorModeName::Whisper => MonitorMode::Whisper,
            MonitorModeName::Barge => MonitorMode::Barge,
        }
    }
}

/// A dialled number, its queue, and its menu if it has one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NumberView {
    pub number: String,
    pub queue_id: String,
    pub menu: Option<MenuSpec>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberSpec {
    /// Where calls go without a menu, or when the caller presses no key.
    pub queue_id: String,
    pub menu: Option<MenuSpec>,
}

fn five() -> u32 {
    5
}

/// An IVR menu: the greeting, keys to queues, how long to wait for a key,
/// and what callers hear outside business hours.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MenuSpec {
    /// The greeting prompt's name (see `/voice/prompts`).
    pub prompt: Option<String>,
    /// Keys (`0`–`9`, `*`, `#`) to queue ids.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Seconds to wait for a key after the greeting (1–60, default 5).
    #[serde(default = "five")]
    pub timeout_seconds: u32,
    /// Outside these hours callers hear `closed_prompt` and are hung up.
    pub business_hours_id: Option<String>,
    pub closed_prompt: Option<String>,
}

/// A recorded prompt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromptView {
    pub name: String,
    pub bytes: i64,
    pub sha256: String,
    pub duration_ms: i64,
}

impl From<VoicePrompt> for PromptView {
    fn from(p: VoicePrompt) -> Self {
        PromptView {
            name: p.name,
            bytes: p.bytes,
            sha256: p.sha256,
            duration_ms: p.duration_ms,
        }
    }
}

fn number_view(n: VoiceNumber) -> NumberView {
    NumberView {
        menu: n.menu.as_deref().and_then(|m| serde_json::from_str(m).ok()),
        number: n.number,
        queue_id: n.queue_id,
    }
}

/// A carrier trunk: the addresses its calls come from, and where
/// outbound calls go.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrunkView {
    pub name: String,
    /// CIDR blocks, like `203.0.113.0/24` or `2001:db8::1/128`.
    pub sources: Vec<String>,
    /// Where outbound calls go: `host` or `host:port` (5060 when left out).
    pub outbound: Option<String>,
    /// The username the carrier's digest challenges are answered with.
    pub username: Option<String>,
    /// Whether a password is kept (it is never shown).
    pub has_password: bool,
    /// The number called parties see.
    pub caller_id: Option<String>,
    /// Switchboard registers with the carrier, which then sends calls from
    /// the outbound address.
    pub register: bool,
    /// How the registration stands on this node: `registered`, or why not.
    pub registration: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkSpec {
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub outbound: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// Left out with an unchanged username: the kept password stays.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Register with the carrier (needs `outbound`, `username` and a password).
    #[serde(default)]
    pub register: bool,
}

/// Whether `s` is `host` or `host:port`, the host an IP address or a DNS name.
pub fn valid_host_port(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h, Some(p)),
        _ => (s, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return false;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn trunk_view(t: VoiceTrunk) -> TrunkView {
    TrunkView {
        sources: serde_json::from_str(&t.sources).unwrap_or_default(),
        name: t.name,
        outbound: t.outbound,
        username: t.auth_username,
        has_password: t.auth_password.is_some(),
        caller_id: t.caller_id,
        register: t.registration == 1,
        registration: None,
    }
}

/// An agent's phone: its SIP username and whether it is registered now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneView {
    pub agent_id: String,
    pub username: String,
    pub registered: bool,
    /// The realm to configure on the phone.
    pub realm: &'static str,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneSpec {
    pub username: String,
    pub password: String,
}

/// A call recording as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingView {
    pub id: String,
    pub contact_id: String,
    pub bytes: i64,
    pub sha256: String,
    pub channels: i64,
    pub duration_ms: i64,
    pub paused_ms: i64,
    pub started_at: i64,
    pub ended_at: i64,
}

impl From<Recording> for RecordingView {
    fn from(r: Recording) -> Self {
        RecordingView {
            id: r.id,
            contact_id: r.contact_id,
            bytes: r.bytes,
            sha256: r.sha256,
            channels: r.channels,
            duration_ms: r.duration_ms,
            paused_ms: r.paused_ms,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }
    }
}

/// A prompt's length, if it is a WAV file the SIP server can play.
fn prompt_duration(wav: &[u8]) -> Result<i64, String> {
    if wav.len() > MAX_PROMPT_BYTES {
        return Err("the prompt is larger than 4 MiB".into());
    }
    let r = hound::WavReader::new(std::io::Cursor::new(wav))
        .map_err(|e| format!("not a WAV file: {e}"))?;
    let spec = r.spec();
    if spec.sample_rate != 8_000
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(format!(
            "must be 8 kHz mono 16-bit PCM (it is {} Hz, {} channels, {} bits)",
            spec.sample_rate, spec.channels, spec.bits_per_sample
        ));
    }
    let mut r = r;
    let samples = r
        .samples::<i16>()
        .try_fold(0i64, |n, s| s.map(|_| n + 1))
        .map_err(|e| format!("the WAV file is damaged: {e}"))?;
    if samples < 160 {
        return Err("the prompt is shorter than 20 ms".into());
    }
    Ok(samples * 1000 / 8_000)
}

fn username_ok(u: &str) -> bool {
    (3..=64).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl App {
    /// The shared voice state (the SIP server's half).
    pub fn voice_state(&self) -> VoiceState {
        self.voice.clone()
    }

    /// Every tenant's numbers, trunks and phones, for the SIP server.
    pub async fn voice_directory(&self) -> Result<VoiceDirectory, AppError> {
        Ok(self.store().voice_directory().await?)
    }

    /// The SIP server registered with a tenant's carrier, or failed to.
    pub fn set_carrier_registration(&self, tenant: TenantId, state: String) {
        if let Ok(mut m) = self.voice.carriers.lock() {
            m.insert(tenant, state);
        }
    }

    fn carrier_registration(&self, tenant: TenantId) -> String {
        self.voice
            .carriers
            .lock()
            .ok()
            .and_then(|m| m.get(&tenant).cloned())
            .unwrap_or_else(|| "not yet registered".into())
    }

    /// The SIP server saw a phone register or go.
    pub fn set_phone_registered(&self, tenant: TenantId, agent: AgentId, registered: bool) {
        let mut set = self
            .voice
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if registered {
            set.insert((tenant, agent));
        } else {
            set.remove(&(tenant, agent));
        }
    }

    fn phone_registered(&self, tenant: TenantId, agent: AgentId) -> bool {
        self.voice
            .registered
            .lock()
            .map(|s| s.contains(&(tenant, agent)))
            .unwrap_or(false)
    }

    pub async fn list_voice_numbers(&self, p: &Principal) -> Result<Vec<NumberView>, AppError> {
        p.require(Permission::VoiceManage)?;
        Ok(self
            .store()
            .list_voice_numbers(p.tenant_id)
            .await?
            .into_iter()
            .map(number_view)
            .collect())
    }

    /// Points a dialled number at a queue.
    pub async fn put_voice_number(
        &self,
        p: &Principal,
        number: &str,
        spec: NumberSpec,
    ) -> Result<NumberView, AppError> {
        p.require(Permission::VoiceManage)?;
        let mut errors = Vec::new();
        let number = match PhoneNumber::parse(number) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(FieldError {
                    field: "number".into(),
                    message: e.to_string(),
                });
                None
            }
        };
        let queue = match spec.queue_id.parse::<QueueId>() {
            Ok(q) => match self.store().get_queue(p.tenant_id, q).await {
                Ok(_) => Some(q),
                Err(StoreError::NotFound) => {
                    errors.push(FieldError {
                        field: "queue_id".into(),
                        message: "no such queue".into(),
                    });
                    None
                }
                Err(e) => return Err(e.into()),
            },
            Err(_) => {
                errors.push(FieldError {
                    field: "queue_id".into(),
                    message: "must be a queue id".into(),
                });
                None
            }
        };
        if let Some(m) = &spec.menu {
            errors.extend(self.check_menu(p.tenant_id, m).await?);
        }
        let (Some(number), Some(queue), true) = (number, queue, errors.is_empty()) else {
            return Err(AppError::Invalid(errors));
        };
        let row = VoiceNumber {
            number: number.as_str().to_string(),
            tenant_id: p.tenant_id,
            queue_id: queue.to_string(),
            updated_at: self.now(),
            menu: spec
                .menu
                .as_ref()
                .map(|m| serde_json::to_string(m).unwrap_or_default()),
        };
        self.store()
            .put_voice_number(&row, &p.audit(self.now()))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AppError::Invalid(vec![FieldError {
                    field: "number".into(),
                    message: m,
                }]),
                e => e.into(),
            })?;
        self.voice.changed.notify_waiters();
        Ok(number_view(row))
    }

    /// Everything wrong with a menu, field by field.
    async fn check_menu(
        &self,
        tenant: TenantId,
        m: &MenuSpec,
    ) -> Result<Vec<FieldError>, AppError> {
        let mut errors = Vec::new();
        let mut bad = |field: String, message: &str| {
            errors.push(FieldError {
                field,
                message: message.into(),
            })
        };
        if m.options.len() > MAX_MENU_OPTIONS {
            bad("menu.options".into(), "must offer at most 12 keys");
        }
        let mut queue_checks = Vec::new();
        for (k, q) in &m.options {
            let mut chars = k.chars();
            let ok = matches!(
                (chars.next(), chars.next()),
                (Some('0'..='9' | '*' | '#'), None)
            );
            if !ok {
                bad(
                    format!("menu.options.{k}"),
                    "a key must be one of 0-9, * and #",
                );
            }
            match q.parse::<QueueId>() {
                Ok(id) => queue_checks.push((k.clone(), id)),
                Err(_) => bad(format!("menu.options.{k}"), "must be a queue id"),
            }
        }
        if !(1..=60).contains(&m.timeout_seconds) {
            bad("menu.timeout_seconds".into(), "must be from 1 to 60");
        }
        for (k, id) in queue_checks {
            match self.store().get_queue(tenant, id).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => errors.push(FieldError {
                    field: format!("menu.options.{k}"),
                    message: "no such queue".into(),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        for (field, name) in [
            ("menu.prompt", &m.prompt),
            ("menu.closed_prompt", &m.closed_prompt),
        ] {
            if let Some(name) = name {
                match self.store().get_voice_prompt(tenant, name).await {
                    Ok(_) => {}
                    Err(StoreError::NotFound) => errors.push(FieldError {
                        field: field.into(),
                        message: "no such prompt".into(),
                    }),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(h) = &m.business_hours_id {
            let found = match h.parse::<BusinessHoursId>() {
                Ok(id) => match self.store().get_business_hours(tenant, id).await {
                    Ok(_) => true,
                    Err(StoreError::NotFound) => false,
                    Err(e) => return Err(e.into()),
                },
                Err(_) => false,
            };
            if !found {
                errors.push(FieldError {
                    field: "menu.business_hours_id".into(),
                    message: "no such business hours".into(),
                });
            }
        }
        Ok(errors)
    }

    /// Whether business hours are open now in the tenant's zone (hours
    /// that no longer exist or read count as open).
    pub async fn hours_open_now(
        &self,
        tenant: TenantId,
        hours: BusinessHoursId,
    ) -> Result<bool, AppError> {
        let row = match self.store().get_business_hours(tenant, hours).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => return Ok(true),
            Err(e) => return Err(e.into()),
        };
        let Some(open) = serde_json::from_str::<BusinessHours>(&row.hours)
            .ok()
            .and_then(|b| b.compile().ok())
        else {
            return Ok(true);
        };
        let tz = self.tenant_zone(tenant).await?;
        let now =
            jiff::Timestamp::from_millisecond(self.now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        Ok(open.is_open(tz.to_datetime(now)))
    }

    pub async fn list_voice_prompts(&self, p: &Principal) -> Result<Vec<PromptView>, AppError> {
        p.require(Permission::VoiceManage)?;
        Ok(self
            .store()
            .list_voice_prompts(p.tenant_id)
            .await?
            .into_iter()
            .map(PromptView::from)
            .collect())
    }

    /// Stores a recorded prompt: a WAV file, 8 kHz mono 16-bit, replacing
    /// one of the same name.
    pub async fn put_voice_prompt(
        &self,
        p: &Principal,
        name: &str,
        wav: &[u8],
    ) -> Result<PromptView, AppError> {
        p.require(Permission::VoiceManage)?;
        let mut errors = Vec::new();
        if !(1..=64).contains(&name.len())
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            || name.starts_with('.')
        {
            errors.push(FieldError {
                field: "name".into(),
                message: "must be 1 to 64 of a-z, 0-9, '.', '_' and '-'".into(),
            });
        }
        let duration_ms = match prompt_duration(wav) {
            Ok(ms) => ms,
            Err(m) => {
                errors.push(FieldError {
                    field: "body".into(),
                    message: m,
                });
                0
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let relative = format!("prompts/{}/{name}.wav", p.tenant_id);
        let full = self.config().data_dir.join(&relative);
        let wav = wav.to_vec();
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&wav))
        };
        let bytes = wav.len() as i64;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = full.parent().unwrap_or(std::path::Path::new("."));
            std::fs::create_dir_all(dir)?;
            let tmp = full.with_extension("wav.part");
            std::fs::write(&tmp, &wav)?;
            std::fs::rename(&tmp, &full)
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Unavailable(format!("the prompt could not be written: {e}")))?;
        let row = VoicePrompt {
            tenant_id: p.tenant_id,
            name: name.to_string(),
            path: relative,
            bytes,
            sha256,
            duration_ms,
            updated_at: self.now(),
        };
        self.store()
            .put_voice_prompt(&row, &p.audit(self.now()))
            .await?;
        self.voice.changed.notify_waiters();
        Ok(PromptView::from(row))
    }

    /// Where a prompt's file is, for those who manage voice.
    pub async fn voice_prompt_file(&self, p: &Principal, name: &str) -> Result<PathBuf, AppError> {
        p.require(Permission::VoiceManage)?;
        self.prompt_file(p.tenant_id, name).await
    }

    /// Where a tenant's prompt's file is, for the SIP server.
    pub async fn prompt_file(&self, tenant: TenantId, name: &str) -> Result<PathBuf, AppError> {
        let row = self
            .store()
            .get_voice_prompt(tenant, name)
            .await
            .map_err(AppError::from_store("prompt"))?;
        Ok(self.config().data_dir.join(row.path))
    }

    pub async fn delete_voice_number(&self, p: &Principal, number: &str) -> Result<(), AppError> {
        p.require(Permission::VoiceManage)?;
        let number = PhoneNumber::parse(number).map_err(|_| AppError::NotFound("number"))?;
        self.store()
            .delete_voice_number(p.tenant_id, number.as_str(), &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("number"))?;
        self.voice.changed.notify_waiters();
        Ok(())
    }

    pub async fn list_voice_trunks(&self, p: &Principal) -> Result<Vec<TrunkView>, AppError> {
        p.require(Permission::VoiceManage)?;
        Ok(self
            .store()
            .list_voice_trunks(p.tenant_id)
            .await?
            .into_iter()
            .map(trunk_view)
            .map(|mut t| {
                if t.register {
                    t.registration = Some(self.carrier_registration(p.tenant_id));
                }
                t
            })
            .collect())
    }

    /// Sets where a trunk's calls may come from and where outbound calls go.
    pub async fn put_voice_trunk(
        &self,
        p: &Principal,
        name: &str,
        spec: TrunkSpec,
    ) -> Result<TrunkView, AppError> {
        p.require(Permission::VoiceManage)?;
        let mut errors = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            errors.push(FieldError {
                field: "name".into(),
                message: "must be 1 to 100 characters".into(),
            });
        }
        let outbound = spec
            .outbound
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty());
        if (spec.sources.is_empty() && outbound.is_none()) || spec.sources.len() > MAX_TRUNK_SOURCES
        {
            errors.push(FieldError {
                field: "sources".into(),
                message: format!(
                    "must list 1 to {MAX_TRUNK_SOURCES} address blocks (none only for a trunk that only takes outbound calls)"
                ),
            });
        }
        if let Some(o) = outbound
            && !valid_host_port(o)
        {
            errors.push(FieldError {
                field: "outbound".into(),
                message: "must be a host or address, with an optional port, like sip.carrier.example:5060".into(),
            });
        }
        let username = spec
            .username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if let Some(u) = username
            && (u.chars().count() > 100
                || u.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            errors.push(FieldError {
                field: "username".into(),
                message: "must be 1 to 100 characters, without quotes or backslashes".into(),
            });
        }
        if let Some(pw) = &spec.password
            && (pw.is_empty() || pw.chars().count() > 200 || pw.chars().any(char::is_control))
        {
            errors.push(FieldError {
                field: "password".into(),
                message: "must be 1 to 200 characters".into(),
            });
        }
        let caller_id = spec
            .caller_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        match caller_id {
            Some(c) if !sb_sip::switch::valid_number(c) => errors.push(FieldError {
                field: "caller_id".into(),
                message: "must be 3 to 20 digits, with an optional leading +".into(),
            }),
            None if outbound.is_some() => errors.push(FieldError {
                field: "caller_id".into(),
                message: "is needed for a trunk that takes outbound calls".into(),
            }),
            _ => {}
        }
        // A password left out stays, while the username does.
        let kept = if spec.password.is_none() && username.is_some() {
            self.store()
                .list_voice_trunks(p.tenant_id)
                .await?
                .into_iter()
                .find(|t| t.name == name && t.auth_username.as_deref() == username)
                .and_then(|t| t.auth_password)
        } else {
            None
        };
        let password = spec.password.clone().or(kept);
        if spec.register && (outbound.is_none() || username.is_none()) {
            errors.push(FieldError {
                field: "register".into(),
                message: "needs an outbound address and a username".into(),
            });
        }
        if username.is_some() && password.is_none() {
            errors.push(FieldError {
                field: "password".into(),
                message: "is needed with a username".into(),
            });
        }
        let mut sources = Vec::new();
        for (i, s) in spec.sources.iter().enumerate() {
            let parsed = s
                .trim()
                .parse::<ipnet::IpNet>()
                .or_else(|_| s.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(n) if n.prefix_len() == 0 => errors.push(FieldError {
                    field: format!("sources[{i}]"),
                    message: "must not be the whole internet".into(),
                }),
                Ok(n) => sources.push(n.trunc().to_string()),
                Err(_) => errors.push(FieldError {
                    field: format!("sources[{i}]"),
                    message: "must be an address or a CIDR block, like 203.0.113.0/24".into(),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let row = VoiceTrunk {
            tenant_id: p.tenant_id,
            name: name.to_string(),
            sources: serde_json::to_string(&sources).unwrap_or_default(),
            updated_at: self.now(),
            outbound: outbound.map(str::to_string),
            auth_username: username.map(str::to_string),
            auth_password: username.and(password),
            caller_id: caller_id.map(str::to_string),
            registration: i64::from(spec.register),
        };
        self.store()
            .put_voice_trunk(&row, &p.audit(self.now()))
            .await?;
        self.voice.changed.notify_waiters();
        Ok(trunk_view(row))
    }

    pub async fn delete_voice_trunk(&self, p: &Principal, name: &str) -> Result<(), AppError> {
        p.require(Permission::VoiceManage)?;
        self.store()
            .delete_voice_trunk(p.tenant_id, name.trim(), &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("trunk"))?;
        self.voice.changed.notify_waiters();
        Ok(())
    }

    /// Every agent's phone in the tenant.
    pub async fn list_agent_phones(&self, p: &Principal) -> Result<Vec<PhoneView>, AppError> {
        p.require(Permission::VoiceManage)?;
        Ok(self
            .store()
            .list_agent_phones(p.tenant_id)
            .await?
            .into_iter()
            .map(|r| PhoneView {
                registered: r
                    .agent_id
                    .parse()
                    .is_ok_and(|a| self.phone_registered(p.tenant_id, a)),
                agent_id: r.agent_id,
                username: r.username,
                realm: SIP_REALM,
            })
            .collect())
    }

    /// An agent's phone, if one is set.
    pub async fn get_agent_phone(
        &self,
        p: &Principal,
        agent: AgentId,
    ) -> Result<PhoneView, AppError> {
        let own = self.own_agent(p).await? == Some(agent);
        if !own {
            p.require(Permission::VoiceManage)?;
        }
        let row = self
            .store()
            .get_agent_phone(p.tenant_id, &agent.to_string())
            .await
            .map_err(AppError::from_store("phone"))?;
        Ok(PhoneView {
            agent_id: row.agent_id,
            username: row.username,
            registered: self.phone_registered(p.tenant_id, agent),
            realm: SIP_REALM,
        })
    }

    /// Sets an agent's phone credentials. Only the digest hashes are kept.
    pub async fn put_agent_phone(
        &self,
        p: &Principal,
        agent: AgentId,
        spec: PhoneSpec,
    ) -> Result<PhoneView, AppError> {
        p.require(Permission::VoiceManage)?;
        self.store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        let mut errors = Vec::new();
        if !username_ok(&spec.username) {
            errors.push(FieldError {
                field: "username".into(),
                message: "must be 3 to 64 of a-z, 0-9, '.', '_' and '-'".into(),
            });
        }
        if !(8..=256).contains(&spec.password.chars().count()) {
            errors.push(FieldError {
                field: "password".into(),
                message: "must be 8 to 256 characters".into(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let row = AgentPhone {
            tenant_id: p.tenant_id,
            agent_id: agent.to_string(),
            ha1_md5: digest::ha1(Algorithm::Md5, &spec.username, SIP_REALM, &spec.password),
            ha1_sha256: digest::ha1(Algorithm::Sha256, &spec.username, SIP_REALM, &spec.password),
            username: spec.username,
            updated_at: self.now(),
        };
        self.store()
            .put_agent_phone(&row, &p.audit(self.now()))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AppError::Invalid(vec![FieldError {
                    field: "username".into(),
                    message: m,
                }]),
                e => e.into(),
            })?;
        self.voice.changed.notify_waiters();
        Ok(PhoneView {
            agent_id: row.agent_id,
            username: row.username,
            registered: self.phone_registered(p.tenant_id, agent),
            realm: SIP_REALM,
        })
    }

    pub async fn delete_agent_phone(&self, p: &Principal, agent: AgentId) -> Result<(), AppError> {
        p.require(Permission::VoiceManage)?;
        self.store()
            .delete_agent_phone(p.tenant_id, &agent.to_string(), &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("phone"))?;
        self.voice.changed.notify_waiters();
        Ok(())
    }

    /// A contact's recordings.
    pub async fn list_recordings(
        &self,
        p: &Principal,
        contact: ContactId,
    ) -> Result<Vec<RecordingView>, AppError> {
        p.require(Permission::RecordingListen)?;
        self.store()
            .get_contact(p.tenant_id, contact)
            .await
            .map_err(AppError::from_store("contact"))?;
        Ok(self
            .store()
            .list_recordings(p.tenant_id, &contact.to_string())
            .await?
            .into_iter()
            .map(RecordingView::from)
            .collect())
    }

    /// A recording and where its file is.
    pub async fn recording_file(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<(RecordingView, PathBuf), AppError> {
        p.require(Permission::RecordingListen)?;
        let r = self
            .store()
            .get_recording(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("recording"))?;
        let path = self.config().data_dir.join(&r.path);
        Ok((RecordingView::from(r), path))
    }

    /// The SIP server saw something happen to a call (held, resumed, hung
    /// up): it goes on the contact's timeline and to live screens.
    pub async fn call_event(
        &self,
        tenant: TenantId,
        contact: ContactId,
        kind: &'static str,
        payload: serde_json::Value,
        hold_ms: i64,
    ) -> Result<(), AppError> {
        let at = self.now();
        self.store()
            .record_call_event(tenant, &contact.to_string(), kind, at, &payload, hold_ms)
            .await?;
        self.routing.publish(crate::routing::LiveEvent {
            tenant_id: tenant,
            kind,
            subject_id: contact.to_string(),
            at,
            payload,
        });
        Ok(())
    }

    /// A team leader joins a call in progress from their own phone (which
    /// rings), or changes how they are joined.
    pub async fn monitor_call(
        &self,
        p: &Principal,
        contact: ContactId,
        mode: MonitorModeName,
    ) -> Result<(), AppError> {
        p.require(Permission::CallMonitor)?;
        let c = self
            .store()
            .get_contact(p.tenant_id, contact)
            .await
            .map_err(AppError::from_store("contact"))?;
        if c.channel != sb_model::Channel::Voice {
            return Err(AppError::Conflict("the contact is not a call".into()));
        }
        let agent = self.own_agent(p).await?.ok_or_else(|| {
            AppError::Conflict("you need an agent's phone to monitor calls".into())
        })?;
        let inbox = self
            .voice
            .inbox()
            .ok_or_else(|| AppError::Unavailable("the voice channel is not running".into()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        inbox
            .send(VoiceRequest::Monitor {
                tenant: p.tenant_id,
                contact,
                agent,
                mode: mode.into(),
                reply,
            })
            .await
            .map_err(|_| AppError::Unavailable("the voice channel stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Unavailable("the voice channel stopped".into()))?
            .map_err(AppError::Conflict)
    }

    /// The team leader's phone leaves the call.
    pub async fn stop_monitoring(&self, p: &Principal, contact: ContactId) -> Result<(), AppError> {
        p.require(Permission::CallMonitor)?;
        self.store()
            .get_contact(p.tenant_id, contact)
            .await
            .map_err(AppError::from_store("contact"))?;
        let inbox = self
            .voice
            .inbox()
            .ok_or_else(|| AppError::Unavailable("the voice channel is not running".into()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        inbox
            .send(VoiceRequest::StopMonitor {
                tenant: p.tenant_id,
                contact,
                reply,
            })
            .await
            .map_err(|_| AppError::Unavailable("the voice channel stopped".into()))?;
        if answer.await.unwrap_or(false) {
            Ok(())
        } else {
            Err(AppError::NotFound("monitoring"))
        }
    }

    /// Pauses or resumes a call's recording (the agent on the call, or those
    /// who allocate duties). The file keeps silence where it was paused.
    pub async fn pause_recording(
        &self,
        p: &Principal,
        contact: ContactId,
        paused: bool,
    ) -> Result<(), AppError> {
        p.require(Permission::ContactWrite)?;
        let c = self
            .store()
            .get_contact(p.tenant_id, contact)
            .await
            .map_err(AppError::from_store("contact"))?;
        if p.require(Permission::AgentAllocate).is_err() {
            let mine = self.own_agent(p).await?.map(|a| a.to_string());
            if mine.is_none() || c.agent_id != mine {
                return Err(AppError::Conflict("the call is not yours".into()));
            }
        }
        let inbox = self
            .voice
            .inbox()
            .ok_or_else(|| AppError::Unavailable("the voice channel is not running".into()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        inbox
            .send(VoiceRequest::PauseRecording {
                tenant: p.tenant_id,
                contact,
                paused,
                reply,
            })
            .await
            .map_err(|_| AppError::Unavailable("the voice channel stopped".into()))?;
        if answer.await.unwrap_or(false) {
            Ok(())
        } else {
            Err(AppError::Conflict(
                "the contact is not a call being recorded".into(),
            ))
        }
    }

    /// Calls this node's SIP server had in progress when it stopped (their
    /// contacts carry `sip_node` = `node`): after a restart no call is
    /// left, so waiting ones are abandoned and answered ones completed, each
    /// with a `call.hung_up` event saying so. Returns how many.
    pub async fn close_orphaned_calls(
        &self,
        tenants: &[TenantId],
        node: &str,
    ) -> Result<usize, AppError> {
        let mut closed = 0;
        for &tenant in tenants {
            let p = Principal {
                source: "voice".into(),
                ..Principal::cli(tenant)
            };
            for state in [
                sb_model::ContactState::Queued,
                sb_model::ContactState::Reserved,
                sb_model::ContactState::Active,
            ] {
                let filter = sb_store::ContactFilter {
                    channel: Some(sb_model::Channel::Voice),
                    state: Some(state),
                    ..Default::default()
                };
                let mut after = None;
                loop {
                    let page = self
                        .store()
                        .list_contacts(tenant, &filter, after, crate::MAX_PAGE)
                        .await?;
                    for c in &page.items {
                        let attrs: BTreeMap<String, String> =
                            serde_json::from_str(&c.attributes).unwrap_or_default();
                        if attrs.get("sip_node").map(String::as_str) != Some(node) {
                            continue;
                        }
                        let (stage, done) = if state == sb_model::ContactState::Active {
                            ("talking", self.complete_contact(&p, c.id).await)
                        } else {
                            ("waiting", self.abandon_contact(&p, c.id).await)
                        };
                        match done {
                            Ok(_) | Err(AppError::Conflict(_)) => {
                                closed += 1;
                                self.call_event(
                                    tenant,
                                    c.id,
                                    "call.hung_up",
                                    serde_json::json!({"by": "restart", "stage": stage}),
                                    0,
                                )
                                .await?;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    match page.next.and_then(|n| n.parse().ok()) {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
            }
        }
        Ok(closed)
    }

    /// The SIP server wrote a recording.
    pub async fn add_recording(&self, r: &Recording) -> Result<(), AppError> {
        Ok(self.store().insert_recording(r).await?)
    }
}

/// The contact attribute that marks a call an agent asked to make.
pub const DIAL_ATTRIBUTE: &str = "dial";

/// A call an agent asks to make from their phone.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The number to call: digits with an optional leading `+`; spaces,
    /// dashes, dots and brackets are ignored.
    pub to: String,
    /// The customer called, for the contact's history.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The queue the call counts in; the first voice number's when left out.
    #[serde(default)]
    pub queue_id: Option<String>,
}

/// What the SIP server needs to dial a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTarget {
    pub queue: QueueId,
    pub number: String,
    /// An agent asked for it (not a callback): unanswered, it is dropped.
    pub click: bool,
}

/// A number as dialled: separators removed.
pub fn dialable(n: &str) -> String {
    n.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect()
}

impl App {
    /// Click-to-call: the agent's phone rings at once and, when it is
    /// answered, the number is called through the tenant's outbound trunk.
    /// The call is an outbound voice contact kept for the agent.
    pub async fn place_call(
        &self,
        p: &Principal,
        spec: CallSpec,
    ) -> Result<sb_store::Contact, AppError> {
        p.require(Permission::ContactWrite)?;
        let agent = self
            .own_agent(p)
            .await?
            .ok_or(AppError::Forbidden(Permission::ContactWrite))?;
        let number = dialable(spec.to.trim());
        if !sb_sip::switch::valid_number(&number) {
            return Err(AppError::invalid(
                "to",
                "must be 3 to 20 digits, with an optional leading +",
            ));
        }
        let customer_id = match spec.customer_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(
                c.parse()
                    .map_err(|_| AppError::invalid("customer_id", "must be a customer's id"))?,
            ),
        };
        let queue_id = match spec.queue_id.as_deref().map(str::trim) {
            Some(q) if !q.is_empty() => q
                .parse()
                .map_err(|_| AppError::invalid("queue_id", "must be a queue's id"))?,
            _ => self
                .store()
                .list_voice_numbers(p.tenant_id)
                .await?
                .into_iter()
                .find_map(|n| n.queue_id.parse().ok())
                .ok_or_else(|| {
                    AppError::invalid("queue_id", "is needed: the tenant has no voice number")
                })?,
        };
        if !self
            .store()
            .list_voice_trunks(p.tenant_id)
            .await?
            .iter()
            .any(|t| t.outbound.is_some())
        {
            return Err(AppError::Conflict(
                "no trunk takes outbound calls: an administrator sets one up under Voice".into(),
            ));
        }
        if !self.phone_registered(p.tenant_id, agent) {
            return Err(AppError::Conflict("your phone is not registered".into()));
        }
        if !self.agent_free(p.tenant_id, agent).await? {
            return Err(AppError::Conflict(
                "you can make a call when you are available and have no other contact".into(),
            ));
        }
        let mut attributes = BTreeMap::new();
        attributes.insert(DIAL_ATTRIBUTE.to_string(), "click".to_string());
        let made = self
            .create_contact(
                p,
                crate::contacts::NewContact {
                    channel: sb_model::Channel::Voice,
                    direction: sb_model::Direction::Outbound,
                    queue_id,
                    customer_id,
                    priority: Some(100),
                    subject: sb_model::Text::parse("Outbound call", 200).ok(),
                    from_address: None,
                    to_address: sb_model::Text::parse(&number, 200).ok(),
                    attributes,
                    requested_agent_id: Some(agent),
                },
            )
            .await?;
        // The engine offers it to the agent (at once: kept for them, who
        // are free), and the SIP server rings their phone.
        self.contact_now(p, made.id).await
    }

    /// The number to dial for a voice contact offered to an agent: `None`
    /// unless it is still open, has a number, and is to be called — a
    /// callback (`callback`: the engine says so; or booked), or a call an
    /// agent asked for.
    pub async fn dial_target(
        &self,
        tenant: TenantId,
        contact: ContactId,
        callback: bool,
    ) -> Option<DialTarget> {
        let c = self.store().get_contact(tenant, contact).await.ok()?;
        if c.channel != sb_model::Channel::Voice || c.state.is_final() {
            return None;
        }
        let attributes: BTreeMap<String, String> =
            serde_json::from_str(&c.attributes).unwrap_or_default();
        let click = attributes.get(DIAL_ATTRIBUTE).is_some_and(|v| v == "click");
        if !(callback || click || attributes.contains_key("callback")) {
            return None;
        }
        let number = match c.direction {
            sb_model::Direction::Outbound => c.to_address?,
            _ => c.from_address?,
        };
        let number = dialable(&number);
        if !sb_sip::switch::valid_number(&number) {
            return None;
        }
        Some(DialTarget {
            queue: c.queue_id,
            number,
            click,
        })
    }
}

/// The agent to consult before handing a call over.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultSpec {
    pub agent_id: String,
}

impl App {
    /// Asks the SIP server something and waits for its answer.
    async fn ask_voice<T>(
        &self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> VoiceRequest,
    ) -> Result<T, AppError> {
        let inbox = self
            .voice
            .inbox()
            .ok_or_else(|| AppError::Unavailable("the voice channel is not running".into()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        inbox
            .send(make(reply))
            .await
            .map_err(|_| AppError::Unavailable("the voice channel stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Unavailable("the voice channel stopped".into()))
    }

    /// Whether the agent is available with no contact in hand or offered.
    async fn agent_free(&self, tenant: TenantId, agent: AgentId) -> Result<bool, AppError> {
        let live = self
            .routing
            .ask(tenant, |reply| crate::routing::Command::AgentStatus {
                agent,
                reply,
            })
            .await?
            .ok_or(AppError::NotFound("agent"))?;
        Ok(live.status == "available" && live.contacts.is_empty() && live.reservations.is_empty())
    }

    /// The call `contact`, if the caller is its agent (or allocates work).
    async fn own_call(
        &self,
        p: &Principal,
        contact: ContactId,
    ) -> Result<sb_store::Contact, AppError> {
        p.require(Permission::ContactWrite)?;
        let c = self
            .store()
            .get_contact(p.tenant_id, contact)
            .await
            .map_err(AppError::from_store("contact"))?;
        if c.channel != sb_model::Channel::Voice {
            return Err(AppError::Conflict("the contact is not a call".into()));
        }
        if p.require(Permission::AgentAllocate).is_err() {
            let me = self.own_agent(p).await?.map(|a| a.to_string());
            if me.is_none() || c.agent_id != me {
                return Err(AppError::Forbidden(Permission::ContactWrite));
            }
        }
        Ok(c)
    }

    /// Attended transfer: the caller holds while the call's agent talks to
    /// another agent on their phone, who must be available.
    pub async fn consult_agent(
        &self,
        p: &Principal,
        contact: ContactId,
        spec: ConsultSpec,
    ) -> Result<(), AppError> {
        let c = self.own_call(p, contact).await?;
        let agent: AgentId = spec
            .agent_id
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("agent_id", "must be an agent's id"))?;
        if c.agent_id.as_deref() == Some(agent.to_string().as_str()) {
            return Err(AppError::invalid("agent_id", "must be another agent"));
        }
        self.store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        if !self.agent_free(p.tenant_id, agent).await? {
            return Err(AppError::Conflict(
                "the other agent is not available".into(),
            ));
        }
        let tenant = p.tenant_id;
        self.ask_voice(|reply| VoiceRequest::Consult {
            tenant,
            contact,
            agent,
            reply,
        })
        .await?
        .map_err(AppError::Conflict)
    }

    /// Hands the call to the consulted agent (`complete`) or calls the
    /// consultation off.
    pub async fn finish_consultation(
        &self,
        p: &Principal,
        contact: ContactId,
        complete: bool,
    ) -> Result<(), AppError> {
        self.own_call(p, contact).await?;
        let tenant = p.tenant_id;
        self.ask_voice(|reply| VoiceRequest::FinishConsult {
            tenant,
            contact,
            complete,
            reply,
        })
        .await?
        .map_err(AppError::Conflict)
    }
}
