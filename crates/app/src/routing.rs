//! The routing engine in the server: one task per tenant owns that tenant's
//! [`sb_routing::Engine`] and is fed through its inbox (one writer per
//! tenant).
//!
//! The task takes whatever commands are waiting (up to [`MAX_BATCH`]),
//! applies them to the engine, drains its outputs into contact, agent and
//! event changes, writes those in one transaction, and only then answers
//! the callers: an acknowledged change is durable. If the write fails, the
//! callers get the error and the engine is rebuilt from the store, which
//! still holds the last committed state.
//!
//! On start (and after such a failure) the engine is rebuilt from the
//! store: queues and agents are configured, contacts in progress are given
//! back to their agents, waiting and ringing contacts re-enter their queues
//! with their arrival times (so the queue order is the same), and agents'
//! presence is restored; ringing reservations are thereby offered again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sb_model::{
    AgentId, BusinessHours, BusinessHoursId, ClosedActionName, ContactId, ContactState,
    MaxWaitActionName, OpenHours, QueueId, RoutingRules, SkillId, TenantId, UnixMs,
};
use sb_routing::{
    AgentConfig, AgentStatus, ClosedAction, ContactView, Engine, EngineConfig, Input,
    MaxWaitAction, Mono, Need, Output, OverflowRule, Presence, QueueConfig, QueueStats,
    ReservationEnd, ReservationId, RoutingError, Step, TransferTarget, WhenNoAgents,
};
use sb_store::{AgentStateRow, Contact, NewEvent, RoutingChanges, Store};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::AppError;

/// The most commands one transaction carries.
pub const MAX_BATCH: usize = 512;
/// The most commands waiting in one tenant's inbox (callers beyond wait).
pub const INBOX: usize = 8_192;
/// How long an agent's phone or screen rings before the reservation expires.
pub const RING_TIMEOUT_MS: u64 = 20_000;

fn wall_ms() -> UnixMs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A live reservation as agents see it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReservation {
    pub id: u64,
    pub contact_id: ContactId,
    pub agent_id: AgentId,
    pub queue_id: QueueId,
    pub expires_at: UnixMs,
    pub callback: bool,
    /// The rule step in force, how many agents were eligible, and the
    /// chosen agent's ordering key.
    pub step: usize,
    pub eligible: u32,
    pub key: i64,
}

/// An agent's live state.
#[derive(Debug, Clone, Serialize)]
pub struct AgentLive {
    pub status: String,
    pub reason: Option<String>,
    /// When the status last changed (epoch ms), as far as this engine knows.
    pub since: Option<UnixMs>,
    pub reservations: Vec<LiveReservation>,
    pub contacts: Vec<ContactId>,
}

/// A queue's live state.
#[derive(Debug, Clone, Serialize)]
pub struct QueueLive {
    /// Within business hours (always, for a queue that follows none).
    pub open: bool,
    pub waiting: usize,
    /// The first waiting contacts, first served first (at most 100).
    pub next_contacts: Vec<ContactId>,
    pub longest_wait_ms: u64,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandons: u64,
    /// Answered within the threshold over answered, percent.
    pub service_level_pct: Option<f64>,
    /// (Answered + abandoned) within the threshold over answered + abandoned, percent.
    pub service_level_offered_pct: Option<f64>,
    pub asa_ms: Option<u64>,
    /// Arrivals met by the closed treatment today.
    pub arrived_closed: u64,
}

/// What the API asks of a tenant's engine.
pub enum Command {
    Create {
        contact: Box<Contact>,
        /// A received message that starts this contact, stored with it.
        received: Option<Box<sb_store::Received>>,
        reply: oneshot::Sender<Result<Contact, AppError>>,
    },
    Presence {
        agent: AgentId,
        presence: Presence,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    /// Accept (`accept: true`) or reject a reservation.
    Respond {
        reservation: u64,
        accept: bool,
        by: Option<AgentId>,
        reply: oneshot::Sender<Result<ContactId, AppError>>,
    },
    Complete {
        contact: ContactId,
        by: Option<AgentId>,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    WrapUpDone {
        contact: ContactId,
        by: Option<AgentId>,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    Transfer {
        contact: ContactId,
        to: TransferTarget,
        by: Option<AgentId>,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    Callback {
        contact: ContactId,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    Abandon {
        contact: ContactId,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    /// Configuration changed in the store: one agent, or (`None`)
    /// anything else, which reloads it all.
    Reload {
        agent: Option<AgentId>,
        done: oneshot::Sender<()>,
    },
    AgentStatus {
        agent: AgentId,
        reply: oneshot::Sender<Option<AgentLive>>,
    },
    QueueStatus {
        queue: QueueId,
        reply: oneshot::Sender<Option<QueueLive>>,
    },
    /// A waiting contact's place in its queue (1 is next) and expected
    /// wait in milliseconds; None when it is not waiting.
    Position {
        contact: ContactId,
        reply: oneshot::Sender<Option<(usize, Option<u64>)>>,
    },
}

/// An event made durable, as read models and live screens receive it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    pub tenant_id: TenantId,
    pub kind: &'static str,
    pub subject_id: String,
    pub at: UnixMs,
    pub payload: serde_json::Value,
}

/// How many live events a slow subscriber may fall behind before it
/// misses some (it is told how many).
pub const LIVE_BUFFER: usize = 8_192;

/// The tenants' engine tasks on this node.
#[derive(Clone)]
pub struct RoutingHub {
    store: Store,
    tasks: Arc<Mutex<HashMap<TenantId, mpsc::Sender<Command>>>>,
    live: tokio::sync::broadcast::Sender<Arc<LiveEvent>>,
    /// Rung when webhook outbox rows are committed.
    webhooks: crate::webhooks::Wake,
}

impl RoutingHub {
    pub fn new(store: Store) -> Self {
        RoutingHub {
            store,
            tasks: Arc::default(),
            live: tokio::sync::broadcast::channel(LIVE_BUFFER).0,
            webhooks: Arc::default(),
        }
    }

    /// Publishes an event committed outside the routing task (a raised
    /// hand, its answer) to live subscribers on this node.
    pub(crate) fn publish(&self, e: LiveEvent) {
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Arc::new(e));
        }
    }

    /// What the webhook delivery worker waits on.
    pub(crate) fn webhook_wake(&self) -> crate::webhooks::Wake {
        self.webhooks.clone()
    }

    /// Every durable routing event of every tenant on this node, as it happens.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<LiveEvent>> {
        self.live.subscribe()
    }

    /// The inbox of a tenant's engine, starting the task if needed.
    fn inbox(&self, tenant: TenantId) -> mpsc::Sender<Command> {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = tasks.get(&tenant)
            && !tx.is_closed()
        {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(INBOX);
        tokio::spawn(run(
            self.store.clone(),
            tenant,
            rx,
            self.live.clone(),
            self.webhooks.clone(),
        ));
        tasks.insert(tenant, tx.clone());
        tx
    }

    /// Sends a command and waits for its answer.
    pub async fn ask<T>(
        &self,
        tenant: TenantId,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, AppError> {
        let (tx, rx) = oneshot::channel();
        self.inbox(tenant)
            .send(make(tx))
            .await
            .map_err(|_| AppError::Unavailable("the routing engine stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Unavailable("the routing engine stopped".into()))
    }

    /// Tells a tenant's engine that its configuration changed.
    pub async fn reload(&self, tenant: TenantId, agent: Option<AgentId>) {
        let running = self
            .tasks
            .lock()
            .map(|t| t.contains_key(&tenant))
            .unwrap_or(false);
        if running {
            let (tx, rx) = oneshot::channel();
            if self
                .inbox(tenant)
                .send(Command::Reload { agent, done: tx })
                .await
                .is_ok()
            {
                // Answered once the engine runs on the new configuration.
                let _ = rx.await;
            }
        }
    }
}

/// A reply to send once the batch holding its command has committed.
enum Reply {
    Contact(oneshot::Sender<Result<Contact, AppError>>, ContactId),
    Unit(oneshot::Sender<Result<(), AppError>>),
    Id(oneshot::Sender<Result<ContactId, AppError>>, ContactId),
}

impl Reply {
    fn fail(self, e: AppError) {
        match self {
            Reply::Contact(tx, _) => {
                let _ = tx.send(Err(e));
            }
            Reply::Unit(tx) => {
                let _ = tx.send(Err(e));
            }
            Reply::Id(tx, _) => {
                let _ = tx.send(Err(e));
            }
        }
    }
}

fn routing_error(e: RoutingError) -> AppError {
    match e {
        RoutingError::UnknownQueue(_) => AppError::invalid("queue_id", "no such queue"),
        RoutingError::UnknownAgent(_) => AppError::invalid("agent_id", "no such agent"),
        RoutingError::UnknownContact(_) => AppError::NotFound("contact"),
        RoutingError::UnknownReservation(_) => AppError::NotFound("reservation"),
        RoutingError::DuplicateContact(_) => {
            AppError::Conflict("the contact is already routed".into())
        }
        RoutingError::WrongState { state, .. } => {
            AppError::Conflict(format!("the contact is {state}"))
        }
        RoutingError::InvalidConfig(m) => AppError::Internal(format!("routing configuration: {m}")),
        RoutingError::Limit(what) => {
            AppError::Unavailable(format!("routing limit reached: {what}"))
        }
    }
}

/// One tenant's engine and what the shell keeps beside it.
struct TenantRouting {
    store: Store,
    tenant: TenantId,
    engine: Engine,
    /// Open contacts as stored (routing columns kept current). Ordered, so
    /// that growing it never stalls on a rehash of every entry.
    rows: BTreeMap<ContactId, Contact>,
    reservations: BTreeMap<u64, LiveReservation>,
    /// Each agent's chosen presence and its reason.
    presence: HashMap<AgentId, Presence>,
    changes: RoutingChanges,
    touched: Vec<ContactId>,
    queue_ids: Vec<QueueId>,
    agent_ids: Vec<AgentId>,
    gauges_at: UnixMs,
    /// Where this batch's `contact.created` events are in `changes.events`.
    created_events: HashMap<ContactId, usize>,
    /// Queued contacts per queue and channel, kept as rows change (for the gauge).
    waiting_counts: BTreeMap<(QueueId, &'static str), i64>,
    /// The tenant's time zone, for business hours and the day's turn.
    time_zone: jiff::tz::TimeZone,
    /// Compiled business hours of the queues that follow some.
    hours: BTreeMap<QueueId, OpenHours>,
    /// Whether each queue is open now (as last told by the engine).
    open: BTreeMap<QueueId, bool>,
    /// When business hours or the date next need looking at.
    calendar_at: UnixMs,
    /// The tenant's local date at the last look.
    today: Option<jiff::civil::Date>,
    /// Active webhooks, matched against every committed event.
    webhooks: Vec<crate::webhooks::Subscription>,
    /// Skill names, for agents' `skills` attribute.
    skill_names: BTreeMap<SkillId, String>,
    /// When each agent's status last changed.
    status_since: HashMap<AgentId, UnixMs>,
}

/// Adds `delta` to the waiting count if `c` is queued.
fn count_waiting(counts: &mut BTreeMap<(QueueId, &'static str), i64>, c: &Contact, delta: i64) {
    if c.state == ContactState::Queued {
        *counts.entry((c.queue_id, c.channel.as_str())).or_default() += delta;
    }
}

fn to_mono(ms: UnixMs) -> Mono {
    ms.max(0) as Mono
}

/// The tenant's queues as the engine takes them, with the business hours
/// each follows.
pub(crate) async fn queue_configs(
    store: &Store,
    tenant: TenantId,
) -> Result<(Vec<QueueConfig>, Vec<(QueueId, BusinessHoursId)>), AppError> {
    let mut out = Vec::new();
    let mut follows = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_queues(tenant, cursor, 500).await?;
        for q in &page.items {
            let rules: RoutingRules = serde_json::from_str(&q.routing_rules).unwrap_or_default();
            let needs = |r: &[sb_model::SkillRequirement]| {
                r.iter()
                    .map(|s| Need {
                        skill: s.skill_id,
                        min_proficiency: s.min_proficiency.clamp(1, 10) as u8,
                    })
                    .collect::<Vec<_>>()
            };
            let mut steps = vec![Step {
                after_ms: 0,
                needs: needs(&rules.required_skills),
            }];
            for e in &rules.escalation {
                steps.push(Step {
                    after_ms: e.after_seconds.max(1) as u64 * 1000,
                    needs: needs(&e.required_skills),
                });
            }
            let mut c = QueueConfig::simple(q.id);
            c.strategy = q.strategy;
            c.steps = steps;
            c.overflow = rules.overflow.map(|o| OverflowRule {
                to: o.queue_id,
                after_ms: o.after_seconds.map(|s| s.max(1) as u64 * 1000),
                length_over: o.queue_length_over.map(|n| n.max(1) as usize),
            });
            c.max_wait_ms = q.max_wait_seconds.map(|s| s.max(1) as u64 * 1000);
            let by_channel = rules.max_wait_action.clone().unwrap_or_default();
            let action = |a: Option<MaxWaitActionName>, default| match a {
                Some(MaxWaitActionName::Callback) => MaxWaitAction::Callback,
                Some(MaxWaitActionName::Voicemail) => MaxWaitAction::Voicemail,
                Some(MaxWaitActionName::Close) => MaxWaitAction::Close,
                None => default,
            };
            c.max_wait_action = [
                action(by_channel.voice, MaxWaitAction::Callback),
                action(by_channel.email, MaxWaitAction::Close),
                action(by_channel.chat, MaxWaitAction::Close),
                action(by_channel.sms, MaxWaitAction::Close),
            ];
            c.condition = match rules.condition.as_deref().map(sb_routing::Expr::parse) {
                None => None,
                Some(Ok(e)) => Some(e),
                Some(Err(e)) => {
                    // Checked when saved; a stored one that no longer parses
                    // is left out rather than stopping the queue.
                    tracing::warn!(tenant = %tenant, queue = %q.id, error = %e, "stored queue condition does not parse; ignored");
                    None
                }
            };
            c.wrap_up_ms = q.wrap_up_seconds.max(0) as u64 * 1000;
            c.service_level_ms = q.service_level_seconds.max(1) as u64 * 1000;
            c.ring_timeout_ms = RING_TIMEOUT_MS;
            c.when_no_agents = WhenNoAgents::Wait;
            c.when_closed = match rules.when_closed {
                None => ClosedAction::Close,
                Some(w) => match (w.action, w.queue_id) {
                    (ClosedActionName::Close, _) => ClosedAction::Close,
                    (ClosedActionName::Voicemail, _) => ClosedAction::Voicemail,
                    (ClosedActionName::Callback, _) => ClosedAction::Callback,
                    (ClosedActionName::Overflow, Some(q)) if q != c.id => ClosedAction::Overflow(q),
                    (ClosedActionName::Overflow, _) => ClosedAction::Close,
                },
            };
            c.requested_agent_ms = rules
                .requested_agent_seconds
                .map(|s| s.clamp(1, 86_400) as u64 * 1000);
            c.announce_every_ms = rules
                .announce_every_seconds
                .map(|s| s.clamp(1, 86_400) as u64 * 1000);
            if let Some(h) = rules.business_hours_id {
                follows.push((q.id, h));
            }
            out.push(c);
        }
        match page.next {
            Some(n) => cursor = n.parse().ok(),
            None => break,
        }
    }
    // A queue must exist before another overflows to it: configure those
    // without overflow first.
    out.sort_by_key(|q| q.overflow.is_some());
    Ok((out, follows))
}

/// Business hours by id, compiled; hours that no longer compile count as
/// always open (and are logged).
async fn hours_sets(
    store: &Store,
    tenant: TenantId,
) -> Result<BTreeMap<BusinessHoursId, OpenHours>, AppError> {
    let mut out = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = store.list_business_hours(tenant, cursor, 500).await?;
        for h in &page.items {
            let compiled = serde_json::from_str::<BusinessHours>(&h.hours)
                .ok()
                .and_then(|b| b.compile().ok());
            match compiled {
                Some(c) => {
                    out.insert(h.id, c);
                }
                None => {
                    tracing::warn!(tenant = %tenant, hours = %h.id, "stored business hours could not be read; treated as always open");
                }
            }
        }
        match page.next {
            Some(n) => cursor = n.parse().ok(),
            None => break,
        }
    }
    Ok(out)
}

/// What routing conditions read of a contact: its own attributes plus
/// `channel`, `queue_id`, `priority` and `customer_id`.
fn contact_attributes(c: &Contact) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = serde_json::from_str(&c.attributes).unwrap_or_default();
    m.insert("channel".into(), c.channel.as_str().into());
    m.insert("queue_id".into(), c.queue_id.to_string());
    m.insert("priority".into(), c.priority.to_string());
    if let Some(cust) = &c.customer_id {
        m.insert("customer_id".into(), cust.clone());
    }
    m
}

/// The agent a waiting contact is kept for, if any.
fn requested_agent(c: &Contact) -> Option<AgentId> {
    c.requested_agent_id.as_deref().and_then(|a| a.parse().ok())
}

/// An agent as the engine takes it; conditions read its attributes plus
/// `id` and `skills` (the names of its skills, comma-separated).
fn agent_config(a: &sb_store::Agent, skill_names: &BTreeMap<SkillId, String>) -> AgentConfig {
    let mut attributes: BTreeMap<String, String> =
        serde_json::from_str(&a.attributes).unwrap_or_default();
    attributes.insert("id".into(), a.id.to_string());
    let names: Vec<&str> = a
        .skills
        .iter()
        .filter_map(|s| skill_names.get(&s.skill_id).map(String::as_str))
        .collect();
    attributes.insert("skills".into(), names.join(","));
    AgentConfig {
        id: a.id,
        skills: a
            .skills
            .iter()
            .map(|s| (s.skill_id, s.proficiency.clamp(1, 10) as u8))
            .collect(),
        capacity: [
            a.capacity_voice,
            a.capacity_email,
            a.capacity_chat,
            a.capacity_sms,
        ]
        .map(|c| c.clamp(0, 50) as u8),
        voice_blocks_others: a.voice_blocks_others != 0,
        attributes,
    }
}

/// Skill names by id, for agents' `skills` attribute.
pub(crate) async fn skill_names(
    store: &Store,
    tenant: TenantId,
) -> Result<BTreeMap<SkillId, String>, AppError> {
    let mut out = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = store.list_skills(tenant, cursor, 500).await?;
        out.extend(page.items.iter().map(|s| (s.id, s.name.clone())));
        match page.next {
            Some(n) => cursor = n.parse().ok(),
            None => break,
        }
    }
    Ok(out)
}

pub(crate) async fn agent_configs(
    store: &Store,
    tenant: TenantId,
    skill_names: &BTreeMap<SkillId, String>,
) -> Result<Vec<AgentConfig>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_agents(tenant, &Default::default(), cursor, 500)
            .await?;
        out.extend(page.items.iter().map(|a| agent_config(a, skill_names)));
        match page.next {
            Some(n) => cursor = n.parse().ok(),
            None => break,
        }
    }
    Ok(out)
}

impl TenantRouting {
    async fn load(store: Store, tenant: TenantId) -> Result<TenantRouting, AppError> {
        let now = wall_ms();
        // Reservation numbers continue past any handed out before a restart.
        let config = EngineConfig {
            first_reservation: (now.max(1) as u64) * 1000,
            ..EngineConfig::default()
        };
        let mut t = TenantRouting {
            store: store.clone(),
            tenant,
            engine: Engine::new(config, tenant.as_uuid().as_u64_pair().0),
            rows: BTreeMap::new(),
            reservations: BTreeMap::new(),
            presence: HashMap::new(),
            changes: RoutingChanges::default(),
            touched: Vec::new(),
            queue_ids: Vec::new(),
            agent_ids: Vec::new(),
            gauges_at: 0,
            created_events: HashMap::new(),
            waiting_counts: BTreeMap::new(),
            time_zone: jiff::tz::TimeZone::UTC,
            hours: BTreeMap::new(),
            open: BTreeMap::new(),
            calendar_at: 0,
            today: None,
            webhooks: Vec::new(),
            skill_names: BTreeMap::new(),
            status_since: HashMap::new(),
        };
        t.configure().await?;
        t.keep_calendar(now);
        let open = store.open_contacts(tenant).await?;
        let mono = to_mono(now);
        for c in &open {
            let input = match (
                c.state,
                c.agent_id
                    .as_deref()
                    .and_then(|a| a.parse::<AgentId>().ok()),
            ) {
                (ContactState::Active | ContactState::WrapUp, Some(agent)) => {
                    Input::ContactInProgress {
                        contact: c.id,
                        queue: c.queue_id,
                        channel: c.channel,
                        agent,
                        answered_at: to_mono(c.answered_at.unwrap_or(c.arrived_at)),
                        wrap_up_until: (c.state == ContactState::WrapUp).then_some(mono),
                    }
                }
                _ => Input::ContactArrived {
                    contact: c.id,
                    queue: c.queue_id,
                    channel: c.channel,
                    priority: c.priority.clamp(0, 100) as u8,
                    agent: requested_agent(c),
                    attributes: contact_attributes(c),
                    arrived_at: Some(to_mono(c.arrived_at)),
                },
            };
            count_waiting(&mut t.waiting_counts, c, 1);
            t.rows.insert(c.id, c.clone());
            if let Err(e) = t.engine.handle_input(mono, input) {
                tracing::warn!(contact = %c.id, error = %e, "contact could not be restored to routing");
            }
            t.touched.push(c.id);
        }
        for s in store.agent_states(tenant).await? {
            let presence = match s.presence.as_str() {
                "available" => Presence::Available,
                "away" => Presence::Away(s.reason.clone().unwrap_or_else(|| "away".into())),
                _ => Presence::Offline,
            };
            t.presence.insert(s.agent_id, presence.clone());
            t.status_since.insert(s.agent_id, s.since);
            let _ = t.engine.handle_input(
                mono,
                Input::AgentPresence {
                    agent: s.agent_id,
                    presence,
                },
            );
        }
        t.drain(now);
        t.commit().await?;
        t.publish_gauges(now);
        tracing::info!(tenant = %tenant, contacts = open.len(), "routing engine started");
        Ok(t)
    }

    async fn configure(&mut self) -> Result<(), AppError> {
        let mono = to_mono(wall_ms());
        let (queues, follows) = queue_configs(&self.store, self.tenant).await?;
        let sets = hours_sets(&self.store, self.tenant).await?;
        let tenant = self.store.get_tenant(self.tenant).await?;
        self.time_zone = jiff::tz::TimeZone::get(&tenant.time_zone).unwrap_or_else(|_| {
            tracing::warn!(tenant = %self.tenant, zone = %tenant.time_zone, "unknown time zone; using UTC");
            jiff::tz::TimeZone::UTC
        });
        self.hours = follows
            .into_iter()
            .filter_map(|(q, h)| sets.get(&h).map(|o| (q, o.clone())))
            .collect();
        // Work the hours out again at the next batch.
        self.calendar_at = 0;
        self.webhooks = crate::webhooks::subscriptions(&self.store, self.tenant).await?;
        for q in queues {
            if !self.queue_ids.contains(&q.id) {
                self.queue_ids.push(q.id);
            }
            self.engine
                .handle_input(mono, Input::ConfigureQueue(q))
                .map_err(routing_error)?;
        }
        self.skill_names = skill_names(&self.store, self.tenant).await?;
        for a in agent_configs(&self.store, self.tenant, &self.skill_names).await? {
            if !self.agent_ids.contains(&a.id) {
                self.agent_ids.push(a.id);
            }
            self.engine
                .handle_input(mono, Input::ConfigureAgent(a))
                .map_err(routing_error)?;
        }
        Ok(())
    }

    /// Turns the engine's outputs into changes to write.
    fn drain(&mut self, now: UnixMs) {
        while let Some(o) = self.engine.poll_output() {
            let event =
                |kind: &'static str, subject: String, payload: serde_json::Value| NewEvent {
                    kind,
                    subject_id: subject,
                    at: now,
                    payload,
                };
            match o {
                Output::Queued {
                    contact,
                    queue,
                    position,
                    expected_wait_ms,
                } => {
                    self.touched.push(contact);
                    // A new contact's place is told by its `contact.created` event.
                    if let Some(created) = self
                        .created_events
                        .get(&contact)
                        .and_then(|i| self.changes.events.get_mut(*i))
                    {
                        created.payload["position"] = serde_json::json!(position);
                        created.payload["expected_wait_ms"] = serde_json::json!(expected_wait_ms);
                        continue;
                    }
                    self.changes.events.push(event(
                        "contact.queued",
                        contact.to_string(),
                        serde_json::json!({"queue_id": queue, "position": position, "expected_wait_ms": expected_wait_ms}),
                    ));
                }
                Output::Reserved {
                    reservation,
                    contact,
                    agent,
                    queue,
                    expires_at,
                    callback,
                    why,
                } => {
                    self.touched.push(contact);
                    if let Some(row) = self.rows.get_mut(&contact) {
                        row.first_reserved_at.get_or_insert(now);
                    }
                    let live = LiveReservation {
                        id: reservation.0,
                        contact_id: contact,
                        agent_id: agent,
                        queue_id: queue,
                        expires_at: expires_at as UnixMs,
                        callback,
                        step: why.step,
                        eligible: why.eligible,
                        key: why.key,
                    };
                    let channel = self.rows.get(&contact).map(|r| r.channel.to_string());
                    self.changes.events.push(event(
                        "reservation.created",
                        contact.to_string(),
                        serde_json::json!({"reservation": reservation.0, "agent_id": agent, "queue_id": queue, "expires_at": expires_at, "callback": callback, "channel": channel,
                            "why": {"step": why.step, "eligible": why.eligible, "strategy": why.strategy, "key": why.key, "waited_ms": why.waited_ms}}),
                    ));
                    self.reservations.insert(reservation.0, live);
                    metrics::counter!("switchboard_reservations_total", "tenant" => self.tenant.to_string(), "queue" => queue.to_string()).increment(1);
                }
                Output::ReservationEnded {
                    reservation,
                    contact,
                    agent,
                    end,
                } => {
                    self.touched.push(contact);
                    self.reservations.remove(&reservation.0);
                    let end = match end {
                        ReservationEnd::Accepted => "accepted",
                        ReservationEnd::Rejected => "rejected",
                        ReservationEnd::Expired => "expired",
                        ReservationEnd::Cancelled => "cancelled",
                    };
                    self.changes.events.push(event(
                        "reservation.ended",
                        contact.to_string(),
                        serde_json::json!({"reservation": reservation.0, "agent_id": agent, "end": end}),
                    ));
                }
                Output::Answered {
                    contact,
                    agent,
                    queue,
                    waited_ms,
                } => {
                    self.touched.push(contact);
                    if let Some(row) = self.rows.get_mut(&contact) {
                        row.answered_at = Some(now);
                        row.agent_id = Some(agent.to_string());
                    }
                    metrics::counter!("switchboard_contacts_answered_total", "tenant" => self.tenant.to_string(), "queue" => queue.to_string()).increment(1);
                    self.changes.events.push(event(
                        "contact.answered",
                        contact.to_string(),
                        serde_json::json!({"agent_id": agent, "queue_id": queue, "waited_ms": waited_ms}),
                    ));
                }
                Output::Overflowed { contact, from, to } => {
                    self.touched.push(contact);
                    self.changes.events.push(event(
                        "contact.overflowed",
                        contact.to_string(),
                        serde_json::json!({"from": from, "to": to}),
                    ));
                }
                Output::Transferred {
                    contact,
                    from,
                    to,
                    agent,
                } => {
                    self.touched.push(contact);
                    self.changes.events.push(event(
                        "contact.transferred",
                        contact.to_string(),
                        serde_json::json!({"from": from, "to": to, "agent_id": agent}),
                    ));
                }
                Output::MaxWaitReached {
                    contact,
                    queue,
                    action,
                } => {
                    self.touched.push(contact);
                    self.changes.events.push(event(
                        "contact.max_wait_reached",
                        contact.to_string(),
                        serde_json::json!({"queue_id": queue, "action": action}),
                    ));
                }
                Output::Abandoned {
                    contact,
                    queue,
                    waited_ms,
                    short,
                } => {
                    if let Some(row) = self.rows.get_mut(&contact) {
                        count_waiting(&mut self.waiting_counts, row, -1);
                        row.state = ContactState::Abandoned;
                        row.abandoned_at = Some(now);
                        row.updated_at = now;
                    }
                    self.finish_row(contact);
                    metrics::counter!("switchboard_contacts_abandoned_total", "tenant" => self.tenant.to_string()).increment(1);
                    self.changes.events.push(event(
                        "contact.abandoned",
                        contact.to_string(),
                        serde_json::json!({"queue_id": queue, "waited_ms": waited_ms, "short": short}),
                    ));
                }
                Output::WrapUpStarted {
                    contact,
                    agent,
                    until,
                } => {
                    self.touched.push(contact);
                    if let Some(row) = self.rows.get_mut(&contact) {
                        row.wrap_started_at = Some(now);
                    }
                    self.changes.events.push(event(
                        "contact.wrap_up_started",
                        contact.to_string(),
                        serde_json::json!({"agent_id": agent, "until": until}),
                    ));
                }
                Output::Ended { contact, agent } => {
                    if let Some(row) = self.rows.get_mut(&contact) {
                        if row.wrap_started_at.is_some() {
                            row.wrap_ended_at = Some(now);
                        }
                        count_waiting(&mut self.waiting_counts, row, -1);
                        row.state = ContactState::Ended;
                        row.ended_at = Some(now);
                        row.updated_at = now;
                    }
                    self.finish_row(contact);
                    self.changes.events.push(event(
                        "contact.ended",
                        contact.to_string(),
                        serde_json::json!({"agent_id": agent}),
                    ));
                }
                Output::Announce {
                    contact,
                    queue,
                    position,
                    expected_wait_ms,
                } => {
                    self.changes.events.push(event(
                        "contact.position",
                        contact.to_string(),
                        serde_json::json!({"queue_id": queue, "position": position, "expected_wait_ms": expected_wait_ms}),
                    ));
                }
                Output::ArrivedClosed {
                    contact,
                    queue,
                    action,
                } => {
                    self.touched.push(contact);
                    let action = match action {
                        ClosedAction::Close => "close",
                        ClosedAction::Voicemail => "voicemail",
                        ClosedAction::Callback => "callback",
                        ClosedAction::Overflow(_) => "overflow",
                    };
                    metrics::counter!("switchboard_contacts_arrived_closed_total", "tenant" => self.tenant.to_string(), "queue" => queue.to_string()).increment(1);
                    self.changes.events.push(event(
                        "contact.arrived_closed",
                        contact.to_string(),
                        serde_json::json!({"queue_id": queue, "action": action}),
                    ));
                }
                Output::QueueHoursChanged { queue, open } => {
                    self.open.insert(queue, open);
                    self.changes.events.push(event(
                        if open { "queue.opened" } else { "queue.closed" },
                        queue.to_string(),
                        serde_json::json!({}),
                    ));
                }
                Output::CallbackScheduled { contact, queue } => {
                    self.touched.push(contact);
                    self.changes.events.push(event(
                        "contact.callback_scheduled",
                        contact.to_string(),
                        serde_json::json!({"queue_id": queue}),
                    ));
                }
                Output::AgentChanged { agent, status } => {
                    self.status_since.insert(agent, now);
                    let (status, reason) = status_name(&status);
                    self.changes.events.push(event(
                        "agent.status",
                        agent.to_string(),
                        serde_json::json!({"status": status, "reason": reason}),
                    ));
                }
            }
        }
        // Contacts still open get their routing columns from where the engine holds them.
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort();
        touched.dedup();
        for cid in touched {
            let Some(view) = self.engine.contact_view(cid) else {
                continue;
            };
            let Some(row) = self.rows.get_mut(&cid) else {
                continue;
            };
            let (queue, state, agent) = match view {
                ContactView::Waiting { queue, .. } => (queue, ContactState::Queued, None),
                ContactView::Ringing { queue, .. } => (queue, ContactState::Reserved, None),
                ContactView::Active { queue, agent } => (queue, ContactState::Active, Some(agent)),
                ContactView::WrapUp { queue, agent, .. } => {
                    (queue, ContactState::WrapUp, Some(agent))
                }
            };
            count_waiting(&mut self.waiting_counts, row, -1);
            row.queue_id = queue;
            row.state = state;
            count_waiting(&mut self.waiting_counts, row, 1);
            if let Some(a) = agent {
                row.agent_id = Some(a.to_string());
            }
            row.updated_at = now;
            // New contacts are inserted whole below; only older ones are updated.
            if !self.created_events.contains_key(&cid) {
                self.changes.contacts.push(row.clone());
            }
        }
        // New contacts are inserted with their state after routing.
        for c in &mut self.changes.new_contacts {
            if let Some(row) = self.rows.get(&c.id) {
                *c = row.clone();
            }
        }
    }

    /// Reads one agent again (after its skills or capacity changed).
    async fn configure_agent(&mut self, agent: AgentId) -> Result<(), AppError> {
        let a = match self.store.get_agent(self.tenant, agent).await {
            Ok(a) => a,
            Err(sb_store::StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if !self.agent_ids.contains(&a.id) {
            self.agent_ids.push(a.id);
        }
        if a.skills
            .iter()
            .any(|s| !self.skill_names.contains_key(&s.skill_id))
        {
            self.skill_names = skill_names(&self.store, self.tenant).await?;
        }
        self.engine
            .handle_input(
                to_mono(wall_ms()),
                Input::ConfigureAgent(agent_config(&a, &self.skill_names)),
            )
            .map_err(routing_error)
    }

    /// Opens and closes queues by their business hours and turns the day
    /// at local midnight; returns when to look again.
    fn keep_calendar(&mut self, now: UnixMs) {
        if now < self.calendar_at {
            return;
        }
        let Ok(ts) = jiff::Timestamp::from_millisecond(now) else {
            return;
        };
        let local = self.time_zone.to_datetime(ts);
        let mono = to_mono(now);
        if self.today.is_some_and(|d| d != local.date()) {
            let _ = self.engine.handle_input(mono, Input::NewDay);
        }
        self.today = Some(local.date());
        // The next look: local midnight, or the soonest change of hours.
        let mut next_local = local
            .date()
            .tomorrow()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            .ok();
        for q in self.queue_ids.clone() {
            let hours = self.hours.get(&q);
            let open = hours.is_none_or(|h| h.is_open(local));
            let _ = self
                .engine
                .handle_input(mono, Input::QueueHours { queue: q, open });
            if let Some(change) = hours.and_then(|h| h.next_change(local)) {
                next_local = Some(next_local.map_or(change, |n| n.min(change)));
            }
        }
        self.calendar_at = next_local
            .and_then(|l| self.time_zone.to_timestamp(l).ok())
            .map(|t| t.as_millisecond())
            // A local time a DST gap skipped, or no answer: look in a minute.
            .filter(|&at| at > now)
            .unwrap_or(now + 60_000);
    }

    /// Moves a contact that has just ended out of the open rows and into
    /// this batch's writes (a contact created in this batch is inserted
    /// ended rather than inserted and then updated).
    fn finish_row(&mut self, contact: ContactId) {
        let Some(row) = self.rows.remove(&contact) else {
            return;
        };
        if self.created_events.contains_key(&contact)
            && let Some(new) = self
                .changes
                .new_contacts
                .iter_mut()
                .find(|c| c.id == contact)
        {
            *new = row;
        } else {
            self.changes.contacts.push(row);
        }
    }

    /// Writes the batch; returns its events for live subscribers.
    /// Writes the batch, with an outbox row for each event a webhook
    /// wants; returns the events (for live subscribers) and how many
    /// deliveries were written.
    async fn commit(&mut self) -> Result<(Vec<NewEvent>, usize), AppError> {
        let mut changes = std::mem::take(&mut self.changes);
        self.created_events.clear();
        if !self.webhooks.is_empty() {
            for e in &changes.events {
                for w in self.webhooks.iter().filter(|w| w.wants(e.kind)) {
                    let id = uuid::Uuid::now_v7().to_string();
                    let body = crate::webhooks::delivery_body(
                        &id,
                        self.tenant,
                        e.kind,
                        &e.subject_id,
                        e.at,
                        &e.payload,
                    );
                    changes.deliveries.push(sb_store::WebhookDelivery {
                        id,
                        tenant_id: self.tenant,
                        webhook_id: w.id,
                        event_kind: e.kind.to_owned(),
                        body,
                        state: "pending".into(),
                        attempts: 0,
                        next_attempt_at: e.at,
                        last_status: None,
                        last_error: None,
                        created_at: e.at,
                        delivered_at: None,
                    });
                }
            }
        }
        self.store
            .apply_routing(self.tenant, &changes)
            .await
            .map_err(AppError::from)?;
        Ok((changes.events, changes.deliveries.len()))
    }

    /// Sets the gauges operators alert on, at most once a second.
    fn publish_gauges(&mut self, now: UnixMs) {
        if now - self.gauges_at < 1_000 {
            return;
        }
        self.gauges_at = now;
        let tenant = self.tenant.to_string();
        let waiting = &self.waiting_counts;
        for q in self.queue_ids.clone() {
            for ch in ["voice", "email", "chat", "sms"] {
                let n = waiting.get(&(q, ch)).copied().unwrap_or(0).max(0);
                metrics::gauge!("switchboard_queue_waiting", "tenant" => tenant.clone(), "queue" => q.to_string(), "channel" => ch).set(n as f64);
            }
        }
        let mut states: BTreeMap<&'static str, u64> =
            ["offline", "available", "busy", "wrap_up", "away"]
                .into_iter()
                .map(|s| (s, 0))
                .collect();
        for a in &self.agent_ids {
            if let Some(st) = self.engine.agent_status(*a) {
                *states.entry(status_name(&st).0).or_default() += 1;
            }
        }
        for (state, n) in states {
            metrics::gauge!("switchboard_agents", "tenant" => tenant.clone(), "state" => state)
                .set(n as f64);
        }
    }

    fn claim(&self, reservation: u64, by: Option<AgentId>) -> Result<ContactId, AppError> {
        let r = self
            .reservations
            .get(&reservation)
            .ok_or(AppError::NotFound("reservation"))?;
        if by.is_some_and(|a| a != r.agent_id) {
            // Another agent's reservation is simply not theirs to see.
            return Err(AppError::NotFound("reservation"));
        }
        Ok(r.contact_id)
    }

    fn check_owner(&self, contact: ContactId, by: Option<AgentId>) -> Result<(), AppError> {
        let Some(by) = by else { return Ok(()) };
        match self.engine.contact_view(contact) {
            Some(ContactView::Active { agent, .. } | ContactView::WrapUp { agent, .. })
                if agent == by =>
            {
                Ok(())
            }
            Some(_) => Err(AppError::Conflict("the contact is not yours".into())),
            None => Err(AppError::NotFound("contact")),
        }
    }

    /// Applies one command; returns the reply to send after the commit.
    fn apply(&mut self, cmd: Command, now: UnixMs) -> Option<Reply> {
        let mono = to_mono(now);
        let input =
            |engine: &mut Engine, i: Input| engine.handle_input(mono, i).map_err(routing_error);
        match cmd {
            Command::Create {
                contact,
                received,
                reply,
            } => {
                let c = *contact;
                let id = c.id;
                let r = input(
                    &mut self.engine,
                    Input::ContactArrived {
                        contact: id,
                        queue: c.queue_id,
                        channel: c.channel,
                        priority: c.priority.clamp(0, 100) as u8,
                        agent: requested_agent(&c),
                        attributes: contact_attributes(&c),
                        arrived_at: None,
                    },
                );
                match r {
                    Ok(()) => {
                        self.created_events.insert(id, self.changes.events.len());
                        self.changes.events.push(NewEvent {
                            kind: "contact.created",
                            subject_id: id.to_string(),
                            at: now,
                            payload: serde_json::json!({"channel": c.channel, "queue_id": c.queue_id, "priority": c.priority}),
                        });
                        count_waiting(&mut self.waiting_counts, &c, 1);
                        self.rows.insert(id, c.clone());
                        self.changes.new_contacts.push(c);
                        if let Some(r) = received {
                            self.changes.received.push(*r);
                        }
                        self.touched.push(id);
                        Some(Reply::Contact(reply, id))
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        None
                    }
                }
            }
            Command::Presence {
                agent,
                presence,
                reply,
            } => match input(
                &mut self.engine,
                Input::AgentPresence {
                    agent,
                    presence: presence.clone(),
                },
            ) {
                Ok(()) => {
                    let (name, reason) = match &presence {
                        Presence::Available => ("available", None),
                        Presence::Away(r) => ("away", Some(r.clone())),
                        Presence::Offline => ("offline", None),
                    };
                    self.presence.insert(agent, presence);
                    self.changes.agent_states.push(AgentStateRow {
                        agent_id: agent,
                        tenant_id: self.tenant,
                        presence: name.into(),
                        reason,
                        since: now,
                    });
                    Some(Reply::Unit(reply))
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Command::Respond {
                reservation,
                accept,
                by,
                reply,
            } => {
                let rid = ReservationId(reservation);
                let answer = if accept {
                    Input::Accept { reservation: rid }
                } else {
                    Input::Reject { reservation: rid }
                };
                let r = self
                    .claim(reservation, by)
                    .and_then(|c| input(&mut self.engine, answer).map(|_| c));
                match r {
                    Ok(c) => Some(Reply::Id(reply, c)),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        None
                    }
                }
            }
            Command::Complete { contact, by, reply } => {
                self.touched.push(contact);
                let r = self
                    .check_owner(contact, by)
                    .and_then(|_| input(&mut self.engine, Input::ContactCompleted { contact }));
                unit(r, reply)
            }
            Command::WrapUpDone { contact, by, reply } => {
                self.touched.push(contact);
                let r = self
                    .check_owner(contact, by)
                    .and_then(|_| input(&mut self.engine, Input::WrapUpFinished { contact }));
                unit(r, reply)
            }
            Command::Transfer {
                contact,
                to,
                by,
                reply,
            } => {
                self.touched.push(contact);
                // Kept for the named agent, if any (stored, so a restart keeps it).
                let target = match &to {
                    TransferTarget::Agent { agent, .. } => Some(agent.to_string()),
                    TransferTarget::Queue(_) => None,
                };
                let r = self
                    .check_owner(contact, by)
                    .and_then(|_| input(&mut self.engine, Input::Transfer { contact, to }));
                if r.is_ok()
                    && let Some(row) = self.rows.get_mut(&contact)
                {
                    row.requested_agent_id = target;
                }
                unit(r, reply)
            }
            Command::Callback { contact, reply } => {
                self.touched.push(contact);
                unit(
                    input(&mut self.engine, Input::CallbackRequested { contact }),
                    reply,
                )
            }
            Command::Abandon { contact, reply } => unit(
                input(&mut self.engine, Input::ContactGone { contact }),
                reply,
            ),
            Command::Reload { .. }
            | Command::AgentStatus { .. }
            | Command::QueueStatus { .. }
            | Command::Position { .. } => None,
        }
    }

    fn agent_live(&self, agent: AgentId) -> Option<AgentLive> {
        let status = self.engine.agent_status(agent)?;
        let (name, reason) = status_name(&status);
        let reservations = self
            .reservations
            .values()
            .filter(|r| r.agent_id == agent)
            .cloned()
            .collect();
        let contacts = self
            .rows
            .keys()
            .filter(|c| {
                matches!(self.engine.contact_view(**c), Some(ContactView::Active { agent: a, .. } | ContactView::WrapUp { agent: a, .. }) if a == agent)
            })
            .copied()
            .collect();
        Some(AgentLive {
            status: name.into(),
            reason,
            since: self.status_since.get(&agent).copied(),
            reservations,
            contacts,
        })
    }

    fn queue_live(&self, queue: QueueId) -> Option<QueueLive> {
        let waiting = self.engine.waiting(queue)?;
        let stats: QueueStats = self.engine.queue_stats(queue).cloned().unwrap_or_default();
        let now = to_mono(wall_ms());
        Some(QueueLive {
            open: self.open.get(&queue).copied().unwrap_or(true),
            waiting,
            next_contacts: self
                .engine
                .waiting_order(queue)
                .into_iter()
                .take(100)
                .collect(),
            longest_wait_ms: self
                .engine
                .oldest_waiting(queue)
                .map(|a| now.saturating_sub(a))
                .unwrap_or(0),
            offered: stats.offered,
            answered: stats.answered,
            abandoned: stats.abandoned,
            short_abandons: stats.short_abandons,
            service_level_pct: stats.service_level_answered().map(|v| v * 100.0),
            service_level_offered_pct: stats.service_level_offered().map(|v| v * 100.0),
            asa_ms: stats.asa_ms(),
            arrived_closed: stats.arrived_closed,
        })
    }
}

fn unit(r: Result<(), AppError>, reply: oneshot::Sender<Result<(), AppError>>) -> Option<Reply> {
    match r {
        Ok(()) => Some(Reply::Unit(reply)),
        Err(e) => {
            let _ = reply.send(Err(e));
            None
        }
    }
}

fn status_name(s: &AgentStatus) -> (&'static str, Option<String>) {
    match s {
        AgentStatus::Offline => ("offline", None),
        AgentStatus::Available => ("available", None),
        AgentStatus::Busy => ("busy", None),
        AgentStatus::WrapUp => ("wrap_up", None),
        AgentStatus::Away(r) => ("away", Some(r.clone())),
    }
}

/// The task that owns one tenant's engine.
async fn run(
    store: Store,
    tenant: TenantId,
    mut rx: mpsc::Receiver<Command>,
    live: tokio::sync::broadcast::Sender<Arc<LiveEvent>>,
    webhooks: crate::webhooks::Wake,
) {
    let mut state = loop {
        match TenantRouting::load(store.clone(), tenant).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::error!(tenant = %tenant, error = %e, "routing engine could not start; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let mut buf = Vec::with_capacity(MAX_BATCH);
    loop {
        let wake = match state.engine.poll_timeout() {
            Some(t) => Some(t.min(to_mono(state.calendar_at))),
            None => Some(to_mono(state.calendar_at)),
        };
        let got = match wake {
            Some(at) => {
                let wait = Duration::from_millis(at.saturating_sub(to_mono(wall_ms())));
                tokio::select! {
                    n = rx.recv_many(&mut buf, MAX_BATCH) => n,
                    _ = tokio::time::sleep(wait) => 0,
                }
            }
            None => rx.recv_many(&mut buf, MAX_BATCH).await,
        };
        if got == 0 && rx.is_closed() && rx.is_empty() {
            break; // every sender is gone
        }
        let now = wall_ms();
        let mut replies = Vec::new();
        let mut reloads = Vec::new();
        let mut reload_all = false;
        let mut reload_agents = Vec::new();
        for cmd in buf.drain(..) {
            match cmd {
                Command::AgentStatus { agent, reply } => {
                    let _ = reply.send(state.agent_live(agent));
                }
                Command::QueueStatus { queue, reply } => {
                    let _ = reply.send(state.queue_live(queue));
                }
                Command::Position { contact, reply } => {
                    let _ = reply.send(state.engine.position(contact));
                }
                Command::Reload { agent, done } => {
                    match agent {
                        Some(a) if !reload_all => {
                            if !reload_agents.contains(&a) {
                                reload_agents.push(a);
                            }
                        }
                        _ => reload_all = true,
                    }
                    reloads.push(done);
                }
                other => {
                    if let Some(r) = state.apply(other, now) {
                        replies.push(r);
                    }
                }
            }
        }
        let reloaded = if reload_all {
            state.configure().await
        } else {
            let mut r = Ok(());
            for a in reload_agents {
                r = r.and(state.configure_agent(a).await);
            }
            r
        };
        if let Err(e) = reloaded {
            tracing::error!(tenant = %tenant, error = %e, "routing configuration could not be reloaded");
        }
        state.keep_calendar(now);
        let _ = state.engine.handle_input(to_mono(now), Input::Tick);
        for done in reloads {
            let _ = done.send(());
        }
        state.drain(now);
        let engine_ms = wall_ms() - now;
        let commit_started = wall_ms();
        let committed = state.commit().await;
        let commit_ms = wall_ms() - commit_started;
        if engine_ms + commit_ms > 100 {
            tracing::warn!(tenant = %tenant, engine_ms, commit_ms, "slow routing batch");
        }
        match committed {
            Ok((events, deliveries)) => {
                if deliveries > 0 {
                    webhooks.notify_one();
                }
                if live.receiver_count() > 0 {
                    for e in events {
                        let _ = live.send(Arc::new(LiveEvent {
                            tenant_id: tenant,
                            kind: e.kind,
                            subject_id: e.subject_id,
                            at: e.at,
                            payload: e.payload,
                        }));
                    }
                }
                state.publish_gauges(now);
                for r in replies {
                    match r {
                        Reply::Contact(tx, id) => {
                            let row = match state.rows.get(&id) {
                                Some(c) => Ok(c.clone()),
                                None => store.get_contact(tenant, id).await.map_err(AppError::from),
                            };
                            let _ = tx.send(row);
                        }
                        Reply::Unit(tx) => {
                            let _ = tx.send(Ok(()));
                        }
                        Reply::Id(tx, id) => {
                            let _ = tx.send(Ok(id));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(tenant = %tenant, error = %e, "routing changes could not be written; rebuilding from the store");
                for r in replies {
                    r.fail(AppError::Unavailable(
                        "the change could not be stored".into(),
                    ));
                }
                match TenantRouting::load(store.clone(), tenant).await {
                    Ok(s) => state = s,
                    Err(e) => {
                        tracing::error!(tenant = %tenant, error = %e, "routing engine stopped");
                        return;
                    }
                }
            }
        }
    }
}
