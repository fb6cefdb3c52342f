//! The engine's vocabulary: configuration, inputs, outputs and errors.
//! Inputs and outputs are closed enums; every output names the contact,
//! reservation or agent it concerns so the shell can persist and publish it.

use std::collections::BTreeMap;

use sb_model::{AgentId, Channel, ContactId, QueueId, SkillId, Strategy};

use crate::expr::Expr;

/// Monotonic time in milliseconds, handed in by the shell.
pub type Mono = u64;

/// Identifies one reservation (one contact offered to one agent).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ReservationId(pub u64);

/// What an agent chose to be. Busy and wrap-up follow from their work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    Offline,
    Available,
    Away(String),
}

/// The state a read model shows for an agent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AgentStatus {
    Offline,
    Available,
    /// Holding at least one reservation or contact.
    Busy,
    /// Only wrap-up work left.
    WrapUp,
    Away(String),
}

/// A skill a contact needs, with the least proficiency (1–10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub skill: SkillId,
    pub min_proficiency: u8,
}

/// The requirement in force from `after_ms` of waiting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub after_ms: u64,
    pub needs: Vec<Need>,
}

/// Where contacts go when a queue cannot serve them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowRule {
    pub to: QueueId,
    /// Overflow a contact that has waited this long.
    pub after_ms: Option<u64>,
    /// Overflow arrivals while the queue holds more than this many.
    pub length_over: Option<usize>,
}

/// What happens to a contact that reaches the queue's maximum wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MaxWaitAction {
    /// Keep the caller's place and call back.
    Callback,
    Voicemail,
    /// End the contact (a polite message, then close).
    Close,
}

/// What happens to a contact that arrives while its queue is closed
/// (outside business hours or on a holiday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClosedAction {
    /// A closed message, then the contact ends.
    Close,
    Voicemail,
    /// The contact keeps a place and is called back when an agent is free.
    Callback,
    /// Goes on to this queue (another site or an out-of-hours service).
    Overflow(QueueId),
}

/// What to do with an arrival when no eligible agent is logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenNoAgents {
    /// Queue anyway (and announce).
    Wait,
    /// Overflow at once if the queue has an overflow rule, else wait.
    Overflow,
}

/// A queue's routing configuration.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub id: QueueId,
    pub strategy: Strategy,
    /// Newest first within a priority instead of oldest first.
    pub lifo: bool,
    /// Steps in increasing `after_ms`; the first has `after_ms == 0`.
    pub steps: Vec<Step>,
    /// An extra eligibility condition over agent and contact attributes.
    pub condition: Option<Expr>,
    pub overflow: Option<OverflowRule>,
    pub max_wait_ms: Option<u64>,
    /// Per channel (index `Channel as usize`): what max wait does.
    pub max_wait_action: [MaxWaitAction; 4],
    pub wrap_up_ms: u64,
    pub service_level_ms: u64,
    /// How long a reservation rings before it expires.
    pub ring_timeout_ms: u64,
    /// For `ring_progressive` (voice): after this long unanswered, the next
    /// eligible agent rings as well (up to `ring_all_max` at once).
    pub ring_step_ms: u64,
    /// For `linear`: agents in order of preference with a penalty (tier);
    /// unlisted agents come last.
    pub penalties: BTreeMap<AgentId, u32>,
    pub when_no_agents: WhenNoAgents,
    /// What an arrival meets while the queue is closed.
    pub when_closed: ClosedAction,
    /// Voice and chat contacts waiting this long are told their place and
    /// expected wait again, and again after each further period.
    pub announce_every_ms: Option<u64>,
    /// A contact kept for one agent (a preferred or last agent) is opened
    /// to every eligible agent after this long in the queue; `None` keeps
    /// it for that agent alone.
    pub requested_agent_ms: Option<u64>,
}

impl QueueConfig {
    /// A plain queue: longest idle, FIFO, no skills needed.
    pub fn simple(id: QueueId) -> Self {
        QueueConfig {
            id,
            strategy: Strategy::LongestIdle,
            lifo: false,
            steps: vec![Step {
                after_ms: 0,
                needs: Vec::new(),
            }],
            condition: None,
            overflow: None,
            max_wait_ms: None,
            max_wait_action: [
                MaxWaitAction::Callback,
                MaxWaitAction::Close,
                MaxWaitAction::Close,
                MaxWaitAction::Close,
            ],
            wrap_up_ms: 0,
            service_level_ms: 20_000,
            ring_timeout_ms: 15_000,
            ring_step_ms: 5_000,
            penalties: BTreeMap::new(),
            when_no_agents: WhenNoAgents::Wait,
            when_closed: ClosedAction::Close,
            announce_every_ms: None,
            requested_agent_ms: None,
        }
    }
}

/// An agent's routing configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub id: AgentId,
    pub skills: Vec<(SkillId, u8)>,
    /// Contacts at once per channel (index `Channel as usize`).
    pub capacity: [u8; 4],
    /// A voice contact stops other channels being offered.
    pub voice_blocks_others: bool,
    /// Attributes for queue conditions (`language`, `team`, …).
    pub attributes: BTreeMap<String, String>,
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Misses (rejections or expiries) in a row that set an agent away.
    pub max_misses: u32,
    /// The away reason given to agents who miss too many.
    pub missed_reason: String,
    /// Abandons shorter than this are left out of service level.
    pub short_abandon_ms: u64,
    /// Waiting this long raises a contact's effective priority by one.
    pub aging_ms_per_priority: u64,
    /// How many waiting contacts of one queue are examined for one agent.
    pub scan_limit: usize,
    /// The most agents one ring-all reservation rings.
    pub ring_all_max: usize,
    /// The most contacts the engine holds (waiting, ringing or in progress).
    pub max_contacts: usize,
    /// The most agents and queues the engine holds.
    pub max_agents: usize,
    pub max_queues: usize,
    /// The first reservation id; a shell restarting an engine starts past
    /// the ids it handed out before.
    pub first_reservation: u64,
    /// The outputs the shell wants (all of them unless it says otherwise);
    /// the others are not made. Decisions do not depend on it.
    pub outputs: OutputKinds,
    /// Every reservation is accepted as it is made, as by agents whose
    /// phones and desktops answer by themselves: nothing rings, expires or
    /// can be rejected, and a ring-all or ring-progressive queue rings only
    /// its best agent. For a shell that would accept every offer at once
    /// anyway (the simulator with no answer delay). The outputs are those
    /// of `Reserved` followed at once by `Accept`, except that the agent's
    /// status changes once, to busy, after the answer.
    pub accept_at_once: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_misses: 2,
            missed_reason: "missed".into(),
            short_abandon_ms: 5_000,
            aging_ms_per_priority: 60_000,
            scan_limit: 64,
            ring_all_max: 16,
            max_contacts: 1_000_000,
            max_agents: 100_000,
            max_queues: 10_000,
            first_reservation: 1,
            outputs: OutputKinds::ALL,
            accept_at_once: false,
        }
    }
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// Another queue (including another department's: a referral).
    Queue(QueueId),
    /// A named agent; the contact waits in the queue for that agent only.
    Agent { queue: QueueId, agent: AgentId },
}

/// Everything that can happen to the engine.
#[derive(Debug, Clone)]
pub enum Input {
    /// Adds or replaces a queue.
    ConfigureQueue(QueueConfig),
    /// Adds or replaces an agent (skills, capacity); their work is kept.
    ConfigureAgent(AgentConfig),
    ContactArrived {
        contact: ContactId,
        queue: QueueId,
        channel: Channel,
        /// 0–100, higher first.
        priority: u8,
        /// Only this agent may take it (a transfer to a named agent, a
        /// preferred or last agent).
        agent: Option<AgentId>,
        attributes: BTreeMap<String, String>,
        /// When it arrived, if earlier than now (a contact restored after a
        /// restart keeps its place); never later than now.
        arrived_at: Option<Mono>,
    },
    /// Restores a contact an agent was already handling (after a restart):
    /// it holds the agent's slot until completed or wrapped up.
    ContactInProgress {
        contact: ContactId,
        queue: QueueId,
        channel: Channel,
        agent: AgentId,
        answered_at: Mono,
        /// In wrap-up until then, if wrap-up had started.
        wrap_up_until: Option<Mono>,
    },
    /// The customer left before being answered.
    ContactAbandoned {
        contact: ContactId,
    },
    /// The channel reports the contact gone, whatever state it is in
    /// (reconciliation: frees whatever it held).
    ContactGone {
        contact: ContactId,
    },
    AgentPresence {
        agent: AgentId,
        presence: Presence,
    },
    Accept {
        reservation: ReservationId,
    },
    Reject {
        reservation: ReservationId,
    },
    /// The conversation is over; wrap-up starts.
    ContactCompleted {
        contact: ContactId,
    },
    /// The agent finished wrap-up.
    WrapUpFinished {
        contact: ContactId,
    },
    Transfer {
        contact: ContactId,
        to: TransferTarget,
    },
    /// A waiting contact keeps its place and will be called back.
    CallbackRequested {
        contact: ContactId,
    },
    /// The queue opens or closes (business hours and holidays, worked out
    /// by the shell in the tenant's time zone). Queues start open. Contacts
    /// already waiting stay; arrivals while closed meet `when_closed`.
    QueueHours {
        queue: QueueId,
        open: bool,
    },
    /// The tenant's day turned: daily counters (contacts today, talk time,
    /// service level) start again.
    NewDay,
    /// Time passes; timers due by now fire.
    Tick,
}

/// Why a reservation went to this agent: the rule step in force, how many
/// agents were eligible, and the chosen agent's ordering key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Why {
    pub step: usize,
    pub eligible: u32,
    pub strategy: Strategy,
    /// Lower keys win; its meaning depends on the strategy (idle since,
    /// minus proficiency, contacts today, …).
    pub key: i64,
    /// The contact's wait when reserved.
    pub waited_ms: u64,
}

/// How a reservation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReservationEnd {
    Accepted,
    Rejected,
    Expired,
    /// Another agent took the contact, or the contact left.
    Cancelled,
}

/// Everything the engine tells its shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Queued {
        contact: ContactId,
        queue: QueueId,
        position: usize,
        expected_wait_ms: u64,
    },
    Reserved {
        reservation: ReservationId,
        contact: ContactId,
        agent: AgentId,
        queue: QueueId,
        expires_at: Mono,
        callback: bool,
        why: Why,
    },
    ReservationEnded {
        reservation: ReservationId,
        contact: ContactId,
        agent: AgentId,
        end: ReservationEnd,
    },
    Answered {
        contact: ContactId,
        agent: AgentId,
        queue: QueueId,
        waited_ms: u64,
    },
    Overflowed {
        contact: ContactId,
        from: QueueId,
        to: QueueId,
    },
    /// A periodic reminder of a waiting contact's place.
    Announce {
        contact: ContactId,
        queue: QueueId,
        position: usize,
        expected_wait_ms: u64,
    },
    /// A contact arrived while its queue was closed; what follows is
    /// `Ended`, `CallbackScheduled` or `Overflowed`.
    ArrivedClosed {
        contact: ContactId,
        queue: QueueId,
        action: ClosedAction,
    },
    /// A queue opened or closed.
    QueueHoursChanged {
        queue: QueueId,
        open: bool,
    },
    MaxWaitReached {
        contact: ContactId,
        queue: QueueId,
        action: MaxWaitAction,
    },
    Abandoned {
        contact: ContactId,
        queue: QueueId,
        waited_ms: u64,
        short: bool,
    },
    WrapUpStarted {
        contact: ContactId,
        agent: AgentId,
        until: Mono,
    },
    Ended {
        contact: ContactId,
        agent: Option<AgentId>,
    },
    Transferred {
        contact: ContactId,
        from: QueueId,
        to: QueueId,
        agent: Option<AgentId>,
    },
    CallbackScheduled {
        contact: ContactId,
        queue: QueueId,
    },
    AgentChanged {
        agent: AgentId,
        status: AgentStatus,
    },
}

/// The kinds of [`Output`], one for each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    Queued,
    Reserved,
    ReservationEnded,
    Answered,
    Overflowed,
    Announce,
    ArrivedClosed,
    QueueHoursChanged,
    MaxWaitReached,
    Abandoned,
    WrapUpStarted,
    Ended,
    Transferred,
    CallbackScheduled,
    AgentChanged,
}

impl OutputKind {
    /// Every kind, in declaration order.
    pub const EVERY: [OutputKind; 15] = [
        OutputKind::Queued,
        OutputKind::Reserved,
        OutputKind::ReservationEnded,
        OutputKind::Answered,
        OutputKind::Overflowed,
        OutputKind::Announce,
        OutputKind::ArrivedClosed,
        OutputKind::QueueHoursChanged,
        OutputKind::MaxWaitReached,
        OutputKind::Abandoned,
        OutputKind::WrapUpStarted,
        OutputKind::Ended,
        OutputKind::Transferred,
        OutputKind::CallbackScheduled,
        OutputKind::AgentChanged,
    ];
}

impl Output {
    pub fn kind(&self) -> OutputKind {
        match self {
            Output::Queued { .. } => OutputKind::Queued,
            Output::Reserved { .. } => OutputKind::Reserved,
            Output::ReservationEnded { .. } => OutputKind::ReservationEnded,
            Output::Answered { .. } => OutputKind::Answered,
            Output::Overflowed { .. } => OutputKind::Overflowed,
            Output::Announce { .. } => OutputKind::Announce,
            Output::ArrivedClosed { .. } => OutputKind::ArrivedClosed,
            Output::QueueHoursChanged { .. } => OutputKind::QueueHoursChanged,
            Output::MaxWaitReached { .. } => OutputKind::MaxWaitReached,
            Output::Abandoned { .. } => OutputKind::Abandoned,
            Output::WrapUpStarted { .. } => OutputKind::WrapUpStarted,
            Output::Ended { .. } => OutputKind::Ended,
            Output::Transferred { .. } => OutputKind::Transferred,
            Output::CallbackScheduled { .. } => OutputKind::CallbackScheduled,
            Output::AgentChanged { .. } => OutputKind::AgentChanged,
        }
    }
}

/// A set of [`OutputKind`]s: which outputs a shell wants. A shell that
/// stores and publishes everything wants them all; the simulator, which
/// counts answers and abandons over millions of contacts, wants a few and
/// spares the engine making the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputKinds(u16);

impl OutputKinds {
    pub const ALL: OutputKinds = OutputKinds(u16::MAX);
    pub const NONE: OutputKinds = OutputKinds(0);

    /// This set and `kind`.
    pub const fn with(self, kind: OutputKind) -> OutputKinds {
        OutputKinds(self.0 | 1 << kind as u16)
    }

    pub const fn contains(self, kind: OutputKind) -> bool {
        self.0 & 1 << kind as u16 != 0
    }
}

impl FromIterator<OutputKind> for OutputKinds {
    fn from_iter<I: IntoIterator<Item = OutputKind>>(kinds: I) -> Self {
        kinds.into_iter().fold(OutputKinds::NONE, OutputKinds::with)
    }
}

/// Bad input: the engine's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    #[error("unknown contact {0}")]
    UnknownContact(ContactId),
    #[error("unknown or finished reservation {0:?}")]
    UnknownReservation(ReservationId),
    #[error("contact {0} is already known")]
    DuplicateContact(ContactId),
    #[error("contact {contact} cannot do that while it is {state}")]
    WrongState {
        contact: ContactId,
        state: &'static str,
    },
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("limit reached: {0}")]
    Limit(&'static str),
}

/// Where a contact is, as the engine holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactView {
    Waiting {
        queue: QueueId,
        step: usize,
        arrived: Mono,
    },
    Ringing {
        queue: QueueId,
        reservations: Vec<ReservationId>,
    },
    Active {
        queue: QueueId,
        agent: AgentId,
    },
    WrapUp {
        queue: QueueId,
        agent: AgentId,
        until: Mono,
    },
}
