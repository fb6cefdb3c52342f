//! The engine's state and its transitions. See the crate docs for the
//! run-loop contract.
//!
//! State is kept in ordered maps so that nothing depends on hash order.
//! Indexes (which agents can be offered work on which channel and skill,
//! which queues might suit an agent) are kept in step with the raw state;
//! [`Engine::check_invariants`] recomputes them from scratch to prove it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rustc_hash::FxHashMap;
use sb_model::{AgentId, Channel, ContactId, QueueId, SkillId, Strategy};
use smallvec::{SmallVec, smallvec};

use crate::agentset::AgentSet;
use crate::types::*;

type Skill = u16;
type AgentIx = usize;
type QueueIx = usize;
/// Order of waiting contacts: lower is served first.
type OrderKey = (i64, i64, u64);

/// The most queues one contact can overflow through in one go (cycles end here).
const MAX_OVERFLOW_HOPS: usize = 8;
/// The output buffer's capacity kept once it is empty.
const MAX_OUTPUTS_KEPT: usize = 256;
/// How many ended contacts' records are kept for reuse.
const SPARE_CONTACTS: usize = 64;
/// The most agents remembered as having refused one contact.
const MAX_REJECTIONS_KEPT: usize = 32;

fn ch(c: Channel) -> usize {
    match c {
        Channel::Voice => 0,
        Channel::Email => 1,
        Channel::Chat => 2,
        Channel::Sms => 3,
    }
}

const CHANNELS: [Channel; 4] = [Channel::Voice, Channel::Email, Channel::Chat, Channel::Sms];

/// Service-level counters of one queue since the engine started or the
/// last [`Input::NewDay`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub offered: u64,
    pub answered: u64,
    pub answered_within: u64,
    /// Abandons at or beyond the short-abandon threshold.
    pub abandoned: u64,
    pub abandoned_within: u64,
    pub short_abandons: u64,
    pub timed_out: u64,
    pub overflowed_out: u64,
    pub waited_ms_answered: u64,
    /// Arrivals turned away (or overflowed, or booked for callback) while
    /// the queue was closed; not counted as offered.
    pub arrived_closed: u64,
}

impl QueueStats {
    /// Answered within the threshold, over answered.
    pub fn service_level_answered(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answered_within as f64 / self.answered as f64)
    }

    /// Answered or abandoned within the threshold, over answered plus
    /// abandoned; short abandons are left out of both.
    pub fn service_level_offered(&self) -> Option<f64> {
        let all = self.answered + self.abandoned;
        (all > 0).then(|| (self.answered_within + self.abandoned_within) as f64 / all as f64)
    }

    /// Average speed of answer.
    pub fn asa_ms(&self) -> Option<u64> {
        (self.answered > 0).then(|| self.waited_ms_answered / self.answered)
    }
}

#[derive(Debug)]
struct Queue {
    cfg: QueueConfig,
    /// Needs per step, with skills interned.
    needs: Vec<Vec<(Skill, u8)>>,
    /// How many contacts wait (the sum of `by_step`'s lengths).
    waiting_len: usize,
    /// Waiting contacts by the rule step in force, each in serving order,
    /// so an agent looks only at contacts whose requirement it can meet.
    /// The queue's whole order is their merge.
    by_step: Vec<StepQueue>,
    /// Where this queue's steps start in `Engine::ends`, and how many
    /// slots it has there.
    head_base: usize,
    head_cap: usize,
    rr_last: Option<AgentIx>,
    stats: QueueStats,
    /// Smoothed time between answers, for expected wait.
    answer_gap_ms: Option<f64>,
    last_answer_at: Option<Mono>,
    /// Within business hours (set by `Input::QueueHours`).
    open: bool,
}

impl Queue {
    fn add(&mut self, key: OrderKey, cid: ContactId, step: usize, ends: &mut Ends) {
        if self.by_step.len() <= step {
            self.by_step.resize_with(step + 1, StepQueue::default);
        }
        self.by_step[step].insert((key, cid));
        self.waiting_len += 1;
        ends.joined(self.head_base + step, key, cid);
    }

    fn take(&mut self, key: OrderKey, cid: ContactId, step: usize, ends: &mut Ends) {
        let slot = self.head_base + step;
        let first = ends.first(slot) == Some((key, cid));
        if let Some(set) = self.by_step.get_mut(step)
            && set.remove((key, cid), first)
        {
            self.waiting_len -= 1;
            ends.left(slot, key, cid, set);
        }
    }

    /// Every waiting contact in serving order.
    fn ordered(&self) -> Vec<(OrderKey, ContactId)> {
        let mut all: Vec<(OrderKey, ContactId)> =
            self.by_step.iter().flat_map(|s| s.iter()).collect();
        all.sort_unstable();
        all
    }

    /// The contact served last.
    fn last(&self, ends: &Ends) -> Option<(OrderKey, ContactId)> {
        ends.lasts[self.head_base..self.head_base + self.head_cap]
            .iter()
            .flatten()
            .max()
            .copied()
    }

    /// How many waiting contacts are served before `at`.
    fn count_before(&self, at: &(OrderKey, ContactId)) -> usize {
        self.by_step.iter().map(|s| s.count_before(at)).sum()
    }
}

/// Contact `c`'s place in the order of a queue that is `lifo` or not, with
/// `aging` ms of waiting worth one point of priority.
fn key_of(lifo: bool, aging: u64, c: &Contact) -> OrderKey {
    if lifo {
        (-(c.priority as i64), -(c.arrived as i64), u64::MAX - c.seq)
    } else {
        (
            c.arrived as i64 - c.priority as i64 * aging as i64,
            0,
            c.seq,
        )
    }
}

/// A waiting contact's place: its order key and id.
type Entry = (OrderKey, ContactId);

/// The contacts waiting at one queue step, in serving order.
///
/// Most arrivals come after everyone already waiting, and most contacts
/// leave from the front, so the step is kept mainly as a sorted run that
/// grows at the back and shrinks at the front, each in one step and one
/// cache line. A contact that arrives ahead of the run's back (a higher
/// priority, a LIFO queue) goes to an ordered set beside it instead; the
/// step is the merge of the two. A contact that leaves from the middle of
/// the run (abandoned, overflowed) is found by binary search and blanked
/// in place; blanks are dropped when they reach either end, and the run
/// is compacted when they are more than half of it.
#[derive(Debug, Default)]
struct StepQueue {
    /// Sorted by key; `None` marks a blank (its key kept for the search).
    run: VecDeque<(OrderKey, Option<ContactId>)>,
    /// Those that arrived ahead of the run's back.
    ahead: BTreeSet<Entry>,
    /// How many of the run are blanks.
    blanks: usize,
}

impl StepQueue {
    /// Adds `e`, which must not be there already (a contact waits in one
    /// place at a time; the engine takes it out before it moves).
    fn insert(&mut self, e: Entry) {
        debug_assert!(!self.contains(e), "{e:?} is waiting already");
        if self.run.back().is_none_or(|b| b.0 < e.0) {
            self.run.push_back((e.0, Some(e.1)));
        } else {
            self.ahead.insert(e);
        }
    }

    /// Where in the run `e` is (blank or not), if there.
    fn find(&self, e: Entry) -> Option<usize> {
        let i = self.run.partition_point(|r| r.0 < e.0);
        (self.run.get(i).is_some_and(|r| r.0 == e.0)).then_some(i)
    }

    /// Removes `e`; `first` says it is thought to be the first (a hint
    /// only: the front of the run is tried before anything else).
    fn remove(&mut self, e: Entry, first: bool) -> bool {
        let removed = if first && self.run.front() == Some(&(e.0, Some(e.1))) {
            self.run.pop_front();
            true
        } else if self.ahead.remove(&e) {
            true
        } else if let Some(i) = self.find(e)
            && self.run[i].1 == Some(e.1)
        {
            self.run[i].1 = None;
            self.blanks += 1;
            true
        } else {
            false
        };
        if removed {
            self.tidy();
        }
        removed
    }

    /// Drops blanks from both ends of the run, and compacts it when blanks
    /// are more than half of it.
    fn tidy(&mut self) {
        while self.blanks > 0 && self.run.front().is_some_and(|r| r.1.is_none()) {
            self.run.pop_front();
            self.blanks -= 1;
        }
        while self.blanks > 0 && self.run.back().is_some_and(|r| r.1.is_none()) {
            self.run.pop_back();
            self.blanks -= 1;
        }
        if self.blanks > 16 && self.blanks * 2 > self.run.len() {
            self.run.retain(|r| r.1.is_some());
            self.blanks = 0;
        }
    }

    fn run_entry(r: &(OrderKey, Option<ContactId>)) -> Option<Entry> {
        r.1.map(|cid| (r.0, cid))
    }

    fn first(&self) -> Option<Entry> {
        let run = self.run.front().and_then(Self::run_entry);
        let ahead = self.ahead.first().copied();
        match (run, ahead) {
            (Some(r), Some(a)) => Some(r.min(a)),
            (r, a) => r.or(a),
        }
    }

    fn last(&self) -> Option<Entry> {
        let run = self.run.back().and_then(Self::run_entry);
        run.max(self.ahead.last().copied())
    }

    fn len(&self) -> usize {
        self.run.len() - self.blanks + self.ahead.len()
    }

    fn contains(&self, e: Entry) -> bool {
        self.find(e).is_some_and(|i| self.run[i].1 == Some(e.1)) || self.ahead.contains(&e)
    }

    /// In serving order.
    fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        let mut run = self.run.iter().filter_map(Self::run_entry).peekable();
        let mut ahead = self.ahead.iter().copied().peekable();
        std::iter::from_fn(move || match (run.peek(), ahead.peek()) {
            (Some(r), Some(a)) if r < a => run.next(),
            (_, Some(_)) => ahead.next(),
            (_, None) => run.next(),
        })
    }

    /// How many are served before `at`.
    fn count_before(&self, at: &Entry) -> usize {
        let i = self.run.partition_point(|r| r.0 < at.0);
        let blanks = if self.blanks == 0 {
            0
        } else {
            self.run.range(..i).filter(|r| r.1.is_none()).count()
        };
        i - blanks + self.ahead.range(..*at).count()
    }
}

/// The first and last waiting contact of every queue step, side by side in
/// one place (slots given out per queue): an agent coming free compares
/// the first contacts of the steps it serves without reading any queue or
/// contact, and an arrival learns whether it joined at the back without
/// walking every step.
#[derive(Debug, Default)]
struct Ends {
    /// Each step's first contact's order key, `NO_HEAD` when none waits.
    first_keys: Vec<OrderKey>,
    first_ids: Vec<ContactId>,
    lasts: Vec<Option<(OrderKey, ContactId)>>,
    /// The queue and step each slot belongs to.
    owner: Vec<(u32, u32)>,
}

/// The key of an empty step (no real key reaches it: a FIFO key's middle
/// is 0, a LIFO key starts with a negative priority).
const NO_HEAD: OrderKey = (i64::MAX, i64::MAX, u64::MAX);
const NO_ID: ContactId = ContactId::from_uuid(uuid::Uuid::nil());

impl Ends {
    /// Gives out slots for queue `qi`'s `n` steps, empty.
    fn grow(&mut self, qi: QueueIx, n: usize) -> usize {
        let base = self.first_keys.len();
        self.first_keys.resize(base + n, NO_HEAD);
        self.first_ids.resize(base + n, NO_ID);
        self.lasts.resize(base + n, None);
        self.owner
            .extend((0..n).map(|step| (qi as u32, step as u32)));
        base
    }

    fn first(&self, slot: usize) -> Option<(OrderKey, ContactId)> {
        let key = self.first_keys[slot];
        (key != NO_HEAD).then(|| (key, self.first_ids[slot]))
    }

    fn set_first(&mut self, slot: usize, first: Option<(OrderKey, ContactId)>) {
        let (key, cid) = first.unwrap_or((NO_HEAD, NO_ID));
        self.first_keys[slot] = key;
        self.first_ids[slot] = cid;
    }

    /// The slot's step is emptied.
    fn clear(&mut self, slot: usize) {
        self.set_first(slot, None);
        self.lasts[slot] = None;
    }

    /// A contact joined the slot's step.
    fn joined(&mut self, slot: usize, key: OrderKey, cid: ContactId) {
        if (key, cid) < (self.first_keys[slot], self.first_ids[slot]) {
            self.set_first(slot, Some((key, cid)));
        }
        if self.lasts[slot].is_none_or(|last| (key, cid) > last) {
            self.lasts[slot] = Some((key, cid));
        }
    }

    /// A contact left the slot's step, which is now `set`.
    fn left(&mut self, slot: usize, key: OrderKey, cid: ContactId, set: &StepQueue) {
        if self.first(slot) == Some((key, cid)) {
            self.set_first(slot, set.first());
        }
        if self.lasts[slot] == Some((key, cid)) {
            self.lasts[slot] = set.last();
        }
    }
}

/// A queue step an agent has the skills for: its slot in `Ends`, with
/// `SLOT_SCAN` set when the step's first contact alone cannot settle what
/// the agent is offered (a LIFO queue, or one with a condition to check).
type StepSlot = u32;
const SLOT_SCAN: StepSlot = 1 << 31;

#[derive(Debug)]
struct Agent {
    id: AgentId,
    skills: BTreeMap<Skill, u8>,
    capacity: [u8; 4],
    voice_blocks_others: bool,
    attributes: BTreeMap<String, String>,
    presence: Presence,
    /// Slots in use per channel: reservations, contacts in progress, wrap-ups.
    used: [u8; 4],
    ringing: u32,
    active: u32,
    wrapping: u32,
    contacts_today: u64,
    talk_ms_today: u64,
    misses: u32,
    offerable: [bool; 4],
    /// What the offerable indexes hold for this agent (equal to
    /// `offerable` except while an index update is deferred).
    indexed: [bool; 4],
    logged_in: bool,
    status: AgentStatus,
    /// The queue steps whose requirement this agent meets, in queue and
    /// step order, kept in step with agent and queue configuration.
    steps: Vec<StepSlot>,
}

/// The reservations ringing for one contact (one, unless ringing several
/// agents at once).
type Ringing = SmallVec<[ReservationId; 2]>;

/// Agents chosen for one contact, with each one's ordering key.
type Chosen = SmallVec<[(AgentIx, i64); 2]>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Waiting,
    Ringing(Ringing),
    Active { agent: AgentIx, answered_at: Mono },
    WrapUp { agent: AgentIx, until: Mono },
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Ringing(_) => "ringing",
            State::Active { .. } => "in progress",
            State::WrapUp { .. } => "in wrap-up",
        }
    }
}

#[derive(Debug)]
struct Contact {
    queue: QueueIx,
    channel: Channel,
    priority: u8,
    /// When it arrived in its current queue (orders it there).
    arrived: Mono,
    /// When it entered the current queue (step, overflow and max-wait timers count from here).
    entered: Mono,
    seq: u64,
    step: usize,
    only_agent: Option<AgentIx>,
    attributes: BTreeMap<String, String>,
    callback: bool,
    rejected: Vec<AgentIx>,
    state: State,
    key: OrderKey,
}

/// What a reservation needs of the contact it offers (copied out, so the
/// contact is not looked up again).
#[derive(Debug, Clone, Copy)]
struct Offered {
    queue: QueueIx,
    channel: Channel,
    step: usize,
    callback: bool,
    arrived: Mono,
}

impl Offered {
    fn of(c: &Contact) -> Offered {
        Offered {
            queue: c.queue,
            channel: c.channel,
            step: c.step,
            callback: c.callback,
            arrived: c.arrived,
        }
    }
}

#[derive(Debug, Clone)]
struct Reservation {
    contact: ContactId,
    agent: AgentIx,
    expires_at: Mono,
    /// The rule step the agent was chosen under.
    step: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Expire(ReservationId),
    Step(ContactId, usize, Mono),
    Overflow(ContactId, u64),
    MaxWait(ContactId, u64),
    WrapUp(ContactId),
    /// Ring one more agent for a contact ringing progressively; the
    /// reservation names the ringing episode it belongs to.
    RingNext(ContactId, ReservationId),
    /// Tell a waiting contact its place again (entered, as for overflow).
    Announce(ContactId, Mono),
    /// Open a contact kept for one agent to everyone (entered).
    OpenToAll(ContactId, Mono),
}

/// Timers by when they are due, then in the order they were set.
type Calendar = BinaryHeap<Reverse<(Mono, u64, Timer)>>;

/// The routing engine. See the crate docs for how to drive it.
pub struct Engine {
    config: EngineConfig,
    rng: Pcg64Mcg,
    now: Mono,
    seq: u64,
    next_reservation: u64,
    // Lookups only, never iterated: a fixed (not randomly seeded) hash keeps
    // them deterministic and far cheaper than ordered maps at this size.
    skill_ix: FxHashMap<SkillId, Skill>,
    queue_ix: FxHashMap<QueueId, QueueIx>,
    queues: Vec<Queue>,
    ends: Ends,
    agent_ix: FxHashMap<AgentId, AgentIx>,
    agents: Vec<Agent>,
    /// Iterated only by `check_invariants`, where order does not matter.
    /// Boxed, so that the map moves only small entries when it grows or
    /// tidies itself.
    contacts: FxHashMap<ContactId, Box<Contact>>,
    /// Lookups, and scans through `reservations_where` (which sorts).
    reservations: FxHashMap<ReservationId, Reservation>,
    /// Rule-step and open-to-all timers, applied before the others due at
    /// the same moment (see `fire_timers`). Ordered, not a heap: they are
    /// set at increasing times as contacts arrive and taken from the front,
    /// so both ends stay in cache, where a heap's pop would walk its depth.
    /// Stored back to front, as `StepQueue` is and for the same reason.
    widen_timers: BTreeSet<Reverse<(Mono, u64, Timer)>>,
    /// Every other timer. Both calendars keep timers that no longer apply
    /// (an answered reservation's expiry, a routed contact's step) until
    /// they are due, when they are found stale and dropped: cheaper than
    /// finding and removing them early.
    timers: Calendar,
    outputs: Outputs,
    /// An agent whose offerable index update waits until it has been
    /// offered work (see `release_slot`).
    defer_index: Option<AgentIx>,
    /// Records of contacts that have ended, kept for the next arrivals (up
    /// to `SPARE_CONTACTS`), so that a contact's coming and going does not
    /// each time allocate and free its record. Boxed, as the records are
    /// the allocations the contact map holds.
    #[allow(clippy::vec_box)]
    spare_contacts: Vec<Box<Contact>>,
    /// Reused buffers (kept to spare an allocation per event).
    scratch_agents: Vec<AgentIx>,
    scratch_due: Vec<(Mono, u64, Timer)>,
    scratch_stepped: Vec<ContactId>,
    /// When each agent last had nothing to do (for longest idle), side by
    /// side rather than in the agents' records, so that choosing the
    /// longest idle of many free agents reads no agent records.
    idle_since: Vec<Mono>,
    /// Agents that can be offered work now, per channel.
    offerable_any: [AgentSet; 4],
    /// The same, per channel and skill.
    offerable_by_skill: [Vec<AgentSet>; 4],
    /// Agents not offline, per skill (for "no agents logged in").
    logged_in_by_skill: BTreeMap<Skill, BTreeSet<AgentIx>>,
    logged_in_any: BTreeSet<AgentIx>,
    /// Queues with a step needing `skill`.
    queues_by_skill: BTreeMap<Skill, BTreeSet<QueueIx>>,
    /// Queues with a step needing no skill: any agent may suit.
    open_queues: BTreeSet<QueueIx>,
}

/// What the engine has to tell its shell, of the kinds it wants.
#[derive(Debug, Clone)]
struct Outputs {
    queue: VecDeque<Output>,
    wanted: OutputKinds,
}

impl Outputs {
    /// Keeps `o` for the shell if it wants that kind.
    #[inline]
    fn push(&mut self, o: Output) {
        if self.wanted.contains(o.kind()) {
            self.queue.push_back(o);
        }
    }

    fn wants(&self, kind: OutputKind) -> bool {
        self.wanted.contains(kind)
    }
}

impl Engine {
    /// A new engine. `seed` drives the weighted-random strategy.
    pub fn new(config: EngineConfig, seed: u64) -> Self {
        Engine {
            rng: Pcg64Mcg::seed_from_u64(seed),
            now: 0,
            seq: 0,
            next_reservation: config.first_reservation.max(1),
            skill_ix: FxHashMap::default(),
            queue_ix: FxHashMap::default(),
            queues: Vec::new(),
            ends: Ends::default(),
            idle_since: Vec::new(),
            agent_ix: FxHashMap::default(),
            agents: Vec::new(),
            contacts: FxHashMap::default(),
            reservations: FxHashMap::default(),
            widen_timers: BTreeSet::new(),
            timers: BinaryHeap::new(),
            outputs: Outputs {
                queue: VecDeque::new(),
                wanted: config.outputs,
            },
            defer_index: None,
            spare_contacts: Vec::new(),
            scratch_agents: Vec::new(),
            scratch_due: Vec::new(),
            scratch_stepped: Vec::new(),
            offerable_any: Default::default(),
            offerable_by_skill: Default::default(),
            logged_in_by_skill: BTreeMap::new(),
            logged_in_any: BTreeSet::new(),
            queues_by_skill: BTreeMap::new(),
            open_queues: BTreeSet::new(),
            config,
        }
    }

    /// The next output to persist and publish, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.queue.pop_front()
    }

    /// When the engine next needs a `Tick`.
    pub fn poll_timeout(&self) -> Option<Mono> {
        let widen = self.widen_timers.last().map(|t| t.0.0);
        let other = self.timers.peek().map(|Reverse(t)| t.0);
        widen.into_iter().chain(other).min()
    }

    /// Applies one input at `now` (after firing timers due by then).
    /// `now` never goes backwards: an earlier value is taken as the last one.
    pub fn handle_input(&mut self, now: Mono, input: Input) -> Result<(), RoutingError> {
        let queue = &mut self.outputs.queue;
        if queue.is_empty() && queue.capacity() > MAX_OUTPUTS_KEPT {
            // After a burst (a restart, a queue reconfigured) the output
            // buffer is let go: outputs would otherwise keep cycling
            // through all of it, a different stretch of cold memory each
            // time.
            *queue = VecDeque::new();
        }
        self.now = self.now.max(now);
        self.fire_timers();
        let result = self.apply(input);
        self.prune_timers();
        result
    }

    fn apply(&mut self, input: Input) -> Result<(), RoutingError> {
        match input {
            Input::Tick => Ok(()),
            Input::ConfigureQueue(q) => self.configure_queue(q),
            Input::ConfigureAgent(a) => self.configure_agent(a),
            Input::ContactArrived {
                contact,
                queue,
                channel,
                priority,
                agent,
                attributes,
                arrived_at,
            } => self.arrive(
                contact, queue, channel, priority, agent, attributes, arrived_at,
            ),
            Input::ContactInProgress {
                contact,
                queue,
                channel,
                agent,
                answered_at,
                wrap_up_until,
            } => {
                self.restore_in_progress(contact, queue, channel, agent, answered_at, wrap_up_until)
            }
            Input::ContactAbandoned { contact } => self.abandon(contact, false),
            Input::ContactGone { contact } => self.abandon(contact, true),
            Input::AgentPresence { agent, presence } => self.set_presence(agent, presence),
            Input::Accept { reservation } => self.accept(reservation),
            Input::Reject { reservation } => {
                self.end_reservation(reservation, ReservationEnd::Rejected)
            }
            Input::ContactCompleted { contact } => self.complete(contact),
            Input::WrapUpFinished { contact } => self.finish_wrap_up(contact),
            Input::Transfer { contact, to } => self.transfer(contact, to),
            Input::CallbackRequested { contact } => self.request_callback(contact),
            Input::QueueHours { queue, open } => {
                let qi = *self
                    .queue_ix
                    .get(&queue)
                    .ok_or(RoutingError::UnknownQueue(queue))?;
                if self.queues[qi].open != open {
                    self.queues[qi].open = open;
                    self.outputs.push(Output::QueueHoursChanged { queue, open });
                }
                Ok(())
            }
            Input::NewDay => {
                for a in &mut self.agents {
                    a.contacts_today = 0;
                    a.talk_ms_today = 0;
                }
                for q in &mut self.queues {
                    q.stats = QueueStats::default();
                }
                Ok(())
            }
        }
    }

    /// Drops timers at the front of the calendars that can no longer do
    /// anything (an answered or withdrawn reservation's expiry, the wrap-up
    /// or rule step of a contact that has gone), so that `poll_timeout`
    /// does not ask for a `Tick` that would find nothing to do.
    fn prune_timers(&mut self) {
        while let Some(Reverse((at, _, t))) = self.timers.peek()
            && self.can_fire(*at, t) == Some(false)
        {
            self.timers.pop();
        }
        while let Some(Reverse((_, _, Timer::Step(cid, ..) | Timer::OpenToAll(cid, _)))) =
            self.widen_timers.last()
            && !self.contacts.contains_key(cid)
        {
            self.widen_timers.pop_last();
        }
    }

    /// Whether an expiry or wrap-up timer due `at` still has something to
    /// end: its reservation, or its contact's wrap-up, is still the one it
    /// was set for. `None` for other timers, which are judged when due.
    fn can_fire(&self, at: Mono, t: &Timer) -> Option<bool> {
        match t {
            Timer::Expire(rid) => Some(
                self.reservations
                    .get(rid)
                    .is_some_and(|r| r.expires_at == at),
            ),
            Timer::WrapUp(cid) => Some(matches!(
                self.contacts.get(cid).map(|c| &c.state),
                Some(State::WrapUp { until, .. }) if *until == at
            )),
            _ => None,
        }
    }

    // ---------------------------------------------------------------- reads

    pub fn now(&self) -> Mono {
        self.now
    }

    /// A queue's service-level counters.
    pub fn queue_stats(&self, queue: QueueId) -> Option<&QueueStats> {
        self.queue_ix.get(&queue).map(|&q| &self.queues[q].stats)
    }

    /// How many contacts wait in a queue.
    pub fn waiting(&self, queue: QueueId) -> Option<usize> {
        self.queue_ix
            .get(&queue)
            .map(|&q| self.queues[q].waiting_len)
    }

    /// The waiting contacts of a queue, first served first.
    pub fn waiting_order(&self, queue: QueueId) -> Vec<ContactId> {
        self.queue_ix
            .get(&queue)
            .map(|&q| {
                self.queues[q]
                    .ordered()
                    .into_iter()
                    .map(|(_, c)| c)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A waiting contact's place (1-based) and expected wait.
    pub fn position(&self, contact: ContactId) -> Option<(usize, Option<u64>)> {
        let c = self.contacts.get(&contact)?;
        if c.state != State::Waiting {
            return None;
        }
        let q = &self.queues[c.queue];
        let ahead = q.count_before(&(c.key, contact));
        Some((
            ahead + 1,
            q.answer_gap_ms.map(|g| (g * (ahead + 1) as f64) as u64),
        ))
    }

    /// An agent's status as read models show it.
    pub fn agent_status(&self, agent: AgentId) -> Option<AgentStatus> {
        self.agent_ix
            .get(&agent)
            .map(|&a| self.agents[a].status.clone())
    }

    /// How many contacts the engine holds in any state.
    pub fn contact_count(&self) -> usize {
        self.contacts.len()
    }

    // --------------------------------------------------------- configuration

    fn intern(&mut self, s: SkillId) -> Skill {
        let n = self.skill_ix.len();
        *self.skill_ix.entry(s).or_insert(n as Skill)
    }

    fn configure_queue(&mut self, cfg: QueueConfig) -> Result<(), RoutingError> {
        if cfg.steps.is_empty() || cfg.steps[0].after_ms != 0 {
            return Err(RoutingError::InvalidConfig(
                "the first step must start at 0 ms".into(),
            ));
        }
        if cfg.steps.windows(2).any(|w| w[1].after_ms <= w[0].after_ms) {
            return Err(RoutingError::InvalidConfig(
                "steps must start at increasing times".into(),
            ));
        }
        if cfg
            .steps
            .iter()
            .flat_map(|s| &s.needs)
            .any(|n| !(1..=10).contains(&n.min_proficiency))
        {
            return Err(RoutingError::InvalidConfig(
                "proficiencies run from 1 to 10".into(),
            ));
        }
        if cfg.ring_timeout_ms == 0 {
            return Err(RoutingError::InvalidConfig(
                "the ring timeout must be positive".into(),
            ));
        }
        if let Some(o) = &cfg.overflow
            && o.to == cfg.id
        {
            return Err(RoutingError::InvalidConfig(
                "a queue cannot overflow to itself".into(),
            ));
        }
        if cfg.when_closed == ClosedAction::Overflow(cfg.id) {
            return Err(RoutingError::InvalidConfig(
                "a closed queue cannot send contacts to itself".into(),
            ));
        }
        if cfg.announce_every_ms == Some(0) {
            return Err(RoutingError::InvalidConfig(
                "the announcement period must be positive".into(),
            ));
        }
        if !self.queue_ix.contains_key(&cfg.id) && self.queues.len() >= self.config.max_queues {
            return Err(RoutingError::Limit("queues"));
        }
        let needs: Vec<Vec<(Skill, u8)>> = cfg
            .steps
            .iter()
            .map(|s| {
                s.needs
                    .iter()
                    .map(|n| (self.intern(n.skill), n.min_proficiency))
                    .collect()
            })
            .collect();
        let qi = match self.queue_ix.get(&cfg.id) {
            Some(&qi) => {
                for set in self.queues_by_skill.values_mut() {
                    set.remove(&qi);
                }
                self.open_queues.remove(&qi);
                let q = &mut self.queues[qi];
                if needs.len() > q.head_cap {
                    q.head_base = self.ends.grow(qi, needs.len());
                    q.head_cap = needs.len();
                }
                q.cfg = cfg;
                q.needs = needs;
                qi
            }
            None => {
                let qi = self.queues.len();
                self.queue_ix.insert(cfg.id, qi);
                let head_cap = needs.len();
                self.queues.push(Queue {
                    cfg,
                    needs,
                    waiting_len: 0,
                    by_step: Vec::new(),
                    head_base: self.ends.grow(qi, head_cap),
                    head_cap,
                    rr_last: None,
                    stats: QueueStats::default(),
                    answer_gap_ms: None,
                    last_answer_at: None,
                    open: true,
                });
                qi
            }
        };
        for step in self.queues[qi].needs.clone() {
            if step.is_empty() {
                self.open_queues.insert(qi);
            }
            for (s, _) in step {
                self.queues_by_skill.entry(s).or_default().insert(qi);
            }
        }
        for ai in 0..self.agents.len() {
            self.recompute_candidates(ai);
        }
        // Waiting contacts are re-keyed and re-tried under the new rules.
        let waiting: Vec<ContactId> = self.queues[qi]
            .ordered()
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        self.queues[qi].waiting_len = 0;
        self.queues[qi].by_step.clear();
        let q = &self.queues[qi];
        for slot in q.head_base..q.head_base + q.head_cap {
            self.ends.clear(slot);
        }
        for cid in &waiting {
            let key = self.order_key(cid);
            if let Some(c) = self.contacts.get_mut(cid) {
                c.key = key;
                c.step = c.step.min(self.queues[qi].needs.len() - 1);
                let step = c.step;
                self.queues[qi].add(key, *cid, step, &mut self.ends);
            }
        }
        self.withdraw_unqualified();
        for cid in waiting {
            self.route_contact(cid);
        }
        Ok(())
    }

    fn configure_agent(&mut self, cfg: AgentConfig) -> Result<(), RoutingError> {
        if cfg.skills.iter().any(|(_, p)| !(1..=10).contains(p)) {
            return Err(RoutingError::InvalidConfig(
                "proficiencies run from 1 to 10".into(),
            ));
        }
        if !self.agent_ix.contains_key(&cfg.id) && self.agents.len() >= self.config.max_agents {
            return Err(RoutingError::Limit("agents"));
        }
        let skills: BTreeMap<Skill, u8> = cfg
            .skills
            .iter()
            .map(|(s, p)| (self.intern(*s), *p))
            .collect();
        let ai = match self.agent_ix.get(&cfg.id) {
            Some(&ai) => {
                self.unindex_agent(ai);
                let a = &mut self.agents[ai];
                a.skills = skills;
                a.capacity = cfg.capacity;
                a.voice_blocks_others = cfg.voice_blocks_others;
                a.attributes = cfg.attributes;
                ai
            }
            None => {
                let ai = self.agents.len();
                self.agent_ix.insert(cfg.id, ai);
                self.idle_since.push(self.now);
                self.agents.push(Agent {
                    id: cfg.id,
                    skills,
                    capacity: cfg.capacity,
                    voice_blocks_others: cfg.voice_blocks_others,
                    attributes: cfg.attributes,
                    presence: Presence::Offline,
                    used: [0; 4],
                    ringing: 0,
                    active: 0,
                    wrapping: 0,
                    contacts_today: 0,
                    talk_ms_today: 0,
                    misses: 0,
                    offerable: [false; 4],
                    indexed: [false; 4],
                    logged_in: false,
                    status: AgentStatus::Offline,
                    steps: Vec::new(),
                });
                ai
            }
        };
        self.agents[ai].offerable = [false; 4];
        self.agents[ai].indexed = [false; 4];
        self.agents[ai].logged_in = false;
        self.recompute_candidates(ai);
        self.refresh_agent(ai);
        self.withdraw_unqualified();
        self.route_agent(ai);
        Ok(())
    }

    // ------------------------------------------------------------- indexes

    fn recompute_candidates(&mut self, ai: AgentIx) {
        let mut qs: Vec<QueueIx> = self.open_queues.iter().copied().collect();
        for s in self.agents[ai].skills.keys() {
            if let Some(set) = self.queues_by_skill.get(s) {
                qs.extend(set.iter().copied());
            }
        }
        qs.sort_unstable();
        qs.dedup();
        let mut steps = Vec::new();
        for qi in qs {
            let q = &self.queues[qi];
            let scan = if q.cfg.lifo || q.cfg.condition.is_some() {
                SLOT_SCAN
            } else {
                0
            };
            for step in 0..q.needs.len() {
                if self.meets(ai, qi, step) {
                    steps.push((q.head_base + step) as StepSlot | scan);
                }
            }
        }
        self.agents[ai].steps = steps;
    }

    fn unindex_agent(&mut self, ai: AgentIx) {
        let skills: Vec<Skill> = self.agents[ai].skills.keys().copied().collect();
        for c in 0..4 {
            self.offerable_any[c].remove(ai);
            for s in &skills {
                if let Some(set) = self.offerable_by_skill[c].get_mut(*s as usize) {
                    set.remove(ai);
                }
            }
        }
        self.logged_in_any.remove(&ai);
        for s in &skills {
            if let Some(set) = self.logged_in_by_skill.get_mut(s) {
                set.remove(&ai);
            }
        }
    }

    fn can_offer(a: &Agent, c: usize) -> bool {
        a.presence == Presence::Available
            && a.used[c] < a.capacity[c]
            && !(a.voice_blocks_others && c != 0 && a.used[0] > 0)
            && !(a.voice_blocks_others && c == 0 && a.used.iter().skip(1).any(|u| *u > 0))
    }

    /// Brings an agent's index entries and status in line with its state.
    fn refresh_agent(&mut self, ai: AgentIx) {
        let a = &mut self.agents[ai];
        a.offerable = [0, 1, 2, 3].map(|c| Self::can_offer(a, c));
        if a.offerable != a.indexed && self.defer_index != Some(ai) {
            self.sync_index(ai);
        }
        let Engine {
            agents,
            logged_in_any,
            logged_in_by_skill,
            ..
        } = self;
        let a = &mut agents[ai];
        let logged_in = a.presence != Presence::Offline;
        if logged_in != a.logged_in {
            a.logged_in = logged_in;
            if logged_in {
                logged_in_any.insert(ai);
                for s in a.skills.keys() {
                    logged_in_by_skill.entry(*s).or_default().insert(ai);
                }
            } else {
                logged_in_any.remove(&ai);
                for s in a.skills.keys() {
                    if let Some(set) = logged_in_by_skill.get_mut(s) {
                        set.remove(&ai);
                    }
                }
            }
        }
        let a = &self.agents[ai];
        let free = a.ringing + a.active == 0;
        // Most calls change nothing an agent's status shows: it is settled
        // without building a status to compare.
        let unchanged = match &a.status {
            AgentStatus::Busy => !free,
            AgentStatus::WrapUp => free && a.wrapping > 0,
            status => {
                free && a.wrapping == 0
                    && match (&a.presence, status) {
                        (Presence::Available, AgentStatus::Available)
                        | (Presence::Offline, AgentStatus::Offline) => true,
                        (Presence::Away(p), AgentStatus::Away(r)) => p == r,
                        _ => false,
                    }
            }
        };
        if unchanged {
            return;
        }
        let status = if !free {
            AgentStatus::Busy
        } else if a.wrapping > 0 {
            AgentStatus::WrapUp
        } else {
            match &a.presence {
                Presence::Offline => AgentStatus::Offline,
                Presence::Available => AgentStatus::Available,
                Presence::Away(r) => AgentStatus::Away(r.clone()),
            }
        };
        if status != a.status {
            let was_working = matches!(a.status, AgentStatus::Busy | AgentStatus::WrapUp);
            let id = a.id;
            self.agents[ai].status = status.clone();
            if was_working && status == AgentStatus::Available {
                self.idle_since[ai] = self.now;
            }
            self.outputs
                .push(Output::AgentChanged { agent: id, status });
        }
    }

    /// Brings the offerable indexes in line with the agent's flags.
    fn sync_index(&mut self, ai: AgentIx) {
        let Engine {
            agents,
            offerable_any,
            offerable_by_skill,
            ..
        } = self;
        let a = &mut agents[ai];
        for c in 0..4 {
            if a.offerable[c] == a.indexed[c] {
                continue;
            }
            a.indexed[c] = a.offerable[c];
            if a.offerable[c] {
                offerable_any[c].insert(ai);
                for s in a.skills.keys() {
                    let by_skill = &mut offerable_by_skill[c];
                    if by_skill.len() <= *s as usize {
                        by_skill.resize_with(*s as usize + 1, AgentSet::default);
                    }
                    by_skill[*s as usize].insert(ai);
                }
            } else {
                offerable_any[c].remove(ai);
                for s in a.skills.keys() {
                    if let Some(set) = offerable_by_skill[c].get_mut(*s as usize) {
                        set.remove(ai);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------- helpers

    fn order_key(&self, cid: &ContactId) -> OrderKey {
        let Some(c) = self.contacts.get(cid) else {
            return (0, 0, 0);
        };
        key_of(
            self.queues[c.queue].cfg.lifo,
            self.config.aging_ms_per_priority,
            c,
        )
    }

    /// Lower is more urgent, comparable across queues (aged priority).
    fn urgency(&self, c: &Contact) -> (i64, u64) {
        (
            c.arrived as i64 - c.priority as i64 * self.config.aging_ms_per_priority as i64,
            c.seq,
        )
    }

    fn add_timer(&mut self, at: Mono, t: Timer) {
        self.seq += 1;
        match t {
            Timer::Step(..) | Timer::OpenToAll(..) => {
                self.widen_timers.insert(Reverse((at, self.seq, t)));
            }
            _ => self.timers.push(Reverse((at, self.seq, t))),
        }
    }

    /// Whether agent `ai` may take contact `c` at its current step.
    fn eligible(&self, ai: AgentIx, c: &Contact) -> bool {
        let a = &self.agents[ai];
        if !Self::may_take(ai, c) {
            return false;
        }
        let q = &self.queues[c.queue];
        let needs = &q.needs[c.step];
        if !needs
            .iter()
            .all(|(s, p)| a.skills.get(s).is_some_and(|have| have >= p))
        {
            return false;
        }
        match &q.cfg.condition {
            Some(e) => e.eval(&a.attributes, &c.attributes),
            None => true,
        }
    }

    /// Whether the contact's own limits let agent `ai` take it: kept for
    /// another agent, or rejected by this one before.
    fn may_take(ai: AgentIx, c: &Contact) -> bool {
        c.only_agent.is_none_or(|only| only == ai) && !c.rejected.contains(&ai)
    }

    /// Whether the queue has a logged-in agent eligible at step 0.
    fn staffed(&self, qi: QueueIx) -> bool {
        let needs = &self.queues[qi].needs[0];
        let pool = needs
            .iter()
            .map(|(s, _)| self.logged_in_by_skill.get(s))
            .min_by_key(|set| set.map(|s| s.len()).unwrap_or(0))
            .unwrap_or(Some(&self.logged_in_any));
        pool.is_some_and(|set| {
            set.iter().any(|&ai| {
                needs
                    .iter()
                    .all(|(s, p)| self.agents[ai].skills.get(s).is_some_and(|h| h >= p))
            })
        })
    }

    /// The strategy's ordering key for agent `ai` serving a contact at `needs`
    /// (lower wins), with ties broken by idle time and then agent order.
    fn agent_key(&self, qi: QueueIx, ai: AgentIx, step: usize) -> (i64, i64, usize) {
        let q = &self.queues[qi];
        let a = &self.agents[ai];
        let idle = self.idle_since[ai] as i64;
        let primary = match q.cfg.strategy {
            Strategy::LongestIdle
            | Strategy::RingAll
            | Strategy::RingProgressive
            | Strategy::WeightedRandom => idle,
            Strategy::MostSkilled => {
                let needs = &q.needs[step];
                let sum: i64 = if needs.is_empty() {
                    a.skills.values().map(|p| *p as i64).sum()
                } else {
                    needs
                        .iter()
                        .map(|(s, _)| a.skills.get(s).copied().unwrap_or(0) as i64)
                        .sum()
                };
                -sum
            }
            Strategy::FewestContacts => a.contacts_today as i64,
            Strategy::LeastTalkTime => a.talk_ms_today as i64,
            Strategy::RoundRobin => {
                let n = self.agents.len() as i64;
                match q.rr_last {
                    Some(last) => (ai as i64 - last as i64 - 1).rem_euclid(n),
                    None => ai as i64,
                }
            }
            Strategy::Linear => q
                .cfg
                .penalties
                .get(&a.id)
                .map(|p| *p as i64)
                .unwrap_or(i64::MAX / 4),
        };
        (primary, idle, ai)
    }

    // --------------------------------------------------------------- routing

    /// Tries to reserve a waiting contact for an offerable agent.
    fn route_contact(&mut self, cid: ContactId) {
        self.offer(cid, true);
    }

    /// `route_contact` for a contact in its queue (`queued`) or offered on
    /// entering it, before it joins (see `enter_queue`).
    fn offer(&mut self, cid: ContactId, queued: bool) {
        let Some(c) = self.contacts.get(&cid) else {
            return;
        };
        if c.state != State::Waiting {
            return;
        }
        let mut eligible = std::mem::take(&mut self.scratch_agents);
        let chn = ch(c.channel);
        let qi = c.queue;
        let q = &self.queues[qi];
        let needs = &q.needs[c.step];
        let keep = |ai: &AgentIx| self.agents[*ai].offerable[chn] && self.eligible(*ai, c);
        eligible.clear();
        if let Some(only) = c.only_agent {
            eligible.extend(Some(only).filter(keep));
        } else if self.offerable_any[chn].is_empty() {
            // Every agent is busy on this channel (the usual case while a
            // queue builds up): nothing to look at.
        } else if self.defer_index.is_none()
            && c.rejected.is_empty()
            && needs.is_empty()
            && q.cfg.condition.is_none()
            && q.cfg.strategy == Strategy::LongestIdle
        {
            // Any agent may take it, and the longest idle does: every
            // offerable agent is eligible (the index is exact, as no update
            // is deferred), and only their idle times need reading.
            let set = &self.offerable_any[chn];
            let count = set.len() as u32;
            let best = set.iter().min_by_key(|&ai| (self.idle_since[ai], ai));
            self.scratch_agents = eligible;
            if let Some(ai) = best {
                self.reserve(cid, &[(ai, self.idle_since[ai] as i64)], count, queued);
            }
            return;
        } else if needs.is_empty() {
            eligible.extend(self.offerable_any[chn].iter().filter(keep));
        } else {
            let smallest = needs
                .iter()
                .map(|(s, _)| self.offerable_by_skill[chn].get(*s as usize))
                .min_by_key(|s| s.map(|s| s.len()).unwrap_or(0));
            if let Some(Some(set)) = smallest
                && !set.is_empty()
            {
                eligible.extend(set.iter().filter(keep));
            }
        }
        if eligible.is_empty() {
            self.scratch_agents = eligible;
            return;
        }
        let step = c.step;
        let strategy = self.queues[qi].cfg.strategy;
        let count = eligible.len() as u32;
        // Agents who answer at once are not rung together: the best answers.
        let ring_all = strategy == Strategy::RingAll
            && c.channel == Channel::Voice
            && !self.config.accept_at_once;
        let chosen: Chosen = if ring_all {
            let mut keyed: Vec<((i64, i64, usize), AgentIx)> = eligible
                .iter()
                .map(|&ai| (self.agent_key(qi, ai, step), ai))
                .collect();
            keyed.sort();
            keyed
                .into_iter()
                .take(self.config.ring_all_max.max(1))
                .map(|(k, ai)| (ai, k.0))
                .collect()
        } else if strategy == Strategy::WeightedRandom {
            let weights: Vec<u64> = eligible
                .iter()
                .map(|&ai| {
                    let needs = &self.queues[qi].needs[step];
                    let w: u64 = needs
                        .iter()
                        .map(|(s, _)| self.agents[ai].skills.get(s).copied().unwrap_or(0) as u64)
                        .sum();
                    w.max(1)
                })
                .collect();
            let total: u64 = weights.iter().sum();
            let mut pick = self.rng.next_u64() % total;
            let mut chosen = eligible[eligible.len() - 1];
            let mut weight = weights[weights.len() - 1];
            for (ai, w) in eligible.iter().zip(&weights) {
                if pick < *w {
                    chosen = *ai;
                    weight = *w;
                    break;
                }
                pick -= w;
            }
            smallvec![(chosen, weight as i64)]
        } else {
            let best = eligible
                .iter()
                .map(|&ai| (self.agent_key(qi, ai, step), ai))
                .min();
            best.map(|(k, ai)| smallvec![(ai, k.0)]).unwrap_or_default()
        };
        self.scratch_agents = eligible;
        self.reserve(cid, &chosen, count, queued);
    }

    /// Offers an agent as much waiting work as it can take.
    fn route_agent(&mut self, ai: AgentIx) {
        // Each pass reserves at most one contact; capacity bounds the passes.
        for _ in 0..200 {
            let a = &self.agents[ai];
            if !a.offerable.iter().any(|o| *o) {
                return;
            }
            let best = match self.most_urgent_first(ai) {
                Some(cid) => Some(cid),
                None => self.most_urgent_scanned(ai),
            };
            let Some(cid) = best else { return };
            let c = &self.contacts[&cid];
            let qi = c.queue;
            let step = c.step;
            let key = self.agent_key(qi, ai, step).0;
            self.reserve(cid, &[(ai, key)], 1, true);
        }
    }

    /// The contact `route_agent` wants, found from the steps' first
    /// contacts (`Ends`) alone when it can be: the most urgent first contact
    /// of the steps agent `ai` meets, if the agent may take it. No other
    /// step can offer anything more urgent, as in a FIFO queue a step's
    /// contacts are never more urgent than its first. `None` when that does
    /// not settle it (nothing waits, a LIFO or conditional queue, or a
    /// first contact the agent may not take).
    fn most_urgent_first(&self, ai: AgentIx) -> Option<ContactId> {
        let a = &self.agents[ai];
        // An empty step's key (`NO_HEAD`) never beats this start.
        let (mut best, mut best_slot) = ((NO_HEAD.0, NO_HEAD.2), usize::MAX);
        for &slot in &a.steps {
            if slot & SLOT_SCAN != 0 {
                return None;
            }
            let slot = slot as usize;
            let k = &self.ends.first_keys[slot];
            if (k.0, k.2) < best {
                (best, best_slot) = ((k.0, k.2), slot);
            }
        }
        let cid = *self.ends.first_ids.get(best_slot)?;
        let c = &self.contacts[&cid];
        // The agent meets the step's needs (that is why it is listed) and
        // the queue has no condition: only this contact's own limits remain.
        (a.offerable[ch(c.channel)] && Self::may_take(ai, c)).then_some(cid)
    }

    /// The contact `route_agent` wants, found by reading each step the
    /// agent meets: the most urgent of each step's first contact the agent
    /// may take (looking no further than the scan limit).
    fn most_urgent_scanned(&self, ai: AgentIx) -> Option<ContactId> {
        let a = &self.agents[ai];
        let mut best: Option<((i64, u64), ContactId)> = None;
        for &slot in &a.steps {
            let (qi, step) = self.ends.owner[(slot & !SLOT_SCAN) as usize];
            let q = &self.queues[qi as usize];
            let Some(set) = q.by_step.get(step as usize) else {
                continue;
            };
            // In a FIFO queue a contact's key starts with its urgency, and
            // later contacts are never more urgent: a step whose first
            // contact cannot beat the best so far is passed over without
            // reading any contact.
            let Some(((first, _, seq), _)) = set.first() else {
                continue;
            };
            if !q.cfg.lifo && best.as_ref().is_some_and(|(bu, _)| (first, seq) >= *bu) {
                continue;
            }
            for (_, cid) in set.iter().take(self.config.scan_limit) {
                let c = &self.contacts[&cid];
                if !a.offerable[ch(c.channel)] || !self.eligible(ai, c) {
                    continue;
                }
                let u = self.urgency(c);
                if best.as_ref().is_none_or(|(bu, _)| u < *bu) {
                    best = Some((u, cid));
                }
                break;
            }
        }
        best.map(|(_, cid)| cid)
    }

    /// Rings `agents` for contact `cid`, taking it out of its queue if it
    /// is `queued` there.
    fn reserve(&mut self, cid: ContactId, agents: &[(AgentIx, i64)], eligible: u32, queued: bool) {
        let Some(c) = self.contacts.get(&cid) else {
            return;
        };
        let (qi, step, key, voice) = (c.queue, c.step, c.key, c.channel == Channel::Voice);
        let offered = Offered::of(c);
        if queued {
            self.queues[qi].take(key, cid, step, &mut self.ends);
        }
        if self.config.accept_at_once {
            if let Some(&(ai, agent_key)) = agents.first() {
                let rid = self.make_reservation(cid, offered, ai, agent_key, eligible);
                self.answer(rid, cid, ai);
            }
            return;
        }
        let mut ids = Ringing::new();
        for &(ai, agent_key) in agents {
            ids.push(self.make_reservation(cid, offered, ai, agent_key, eligible));
        }
        let first = ids.first().copied();
        if let Some(c) = self.contacts.get_mut(&cid) {
            c.state = State::Ringing(ids);
        }
        let cfg = &self.queues[qi].cfg;
        if let Some(first) = first
            && voice
            && cfg.strategy == Strategy::RingProgressive
            && self.config.ring_all_max > 1
        {
            let at = self.now + cfg.ring_step_ms.max(1);
            self.add_timer(at, Timer::RingNext(cid, first));
        }
    }

    /// Rings agent `ai` for contact `cid` (already taken out of its queue).
    fn make_reservation(
        &mut self,
        cid: ContactId,
        c: Offered,
        ai: AgentIx,
        agent_key: i64,
        eligible: u32,
    ) -> ReservationId {
        let (qi, chn, step, callback) = (c.queue, ch(c.channel), c.step, c.callback);
        let waited_ms = self.now.saturating_sub(c.arrived);
        let q = &self.queues[qi];
        let expires_at = self.now + q.cfg.ring_timeout_ms;
        let (queue_id, strategy) = (q.cfg.id, q.cfg.strategy);
        let rid = ReservationId(self.next_reservation);
        self.next_reservation += 1;
        if !self.config.accept_at_once {
            // Accepted at once, it is answered before anything could look
            // it up or let it expire.
            self.reservations.insert(
                rid,
                Reservation {
                    contact: cid,
                    agent: ai,
                    expires_at,
                    step,
                },
            );
            self.add_timer(expires_at, Timer::Expire(rid));
        }
        let a = &mut self.agents[ai];
        a.used[chn] += 1;
        a.ringing += 1;
        if strategy == Strategy::RoundRobin {
            self.queues[qi].rr_last = Some(ai);
        }
        self.outputs.push(Output::Reserved {
            reservation: rid,
            contact: cid,
            agent: self.agents[ai].id,
            queue: queue_id,
            expires_at,
            callback,
            why: Why {
                step,
                eligible,
                strategy,
                key: agent_key,
                waited_ms,
            },
        });
        if !self.config.accept_at_once {
            // Otherwise `answer` refreshes the agent, once it has answered.
            self.refresh_agent(ai);
        }
        rid
    }

    /// Ring-progressively: one more eligible, free agent rings for a contact
    /// that is still ringing, and the next step is scheduled.
    fn ring_more(&mut self, cid: ContactId, episode: ReservationId) {
        let Some(c) = self.contacts.get(&cid) else {
            return;
        };
        let State::Ringing(ids) = &c.state else {
            return;
        };
        // Only the episode that scheduled this step, still in a ring-progressive queue.
        if !ids.contains(&episode) || self.queues[c.queue].cfg.strategy != Strategy::RingProgressive
        {
            return;
        }
        if ids.len() >= self.config.ring_all_max {
            return;
        }
        let ringing: Vec<AgentIx> = ids
            .iter()
            .filter_map(|r| self.reservations.get(r).map(|r| r.agent))
            .collect();
        let (qi, step, chn) = (c.queue, c.step, ch(c.channel));
        let best = self.offerable_any[chn]
            .iter()
            .filter(|ai| {
                !ringing.contains(ai) && self.agents[*ai].offerable[chn] && self.eligible(*ai, c)
            })
            .map(|ai| (self.agent_key(qi, ai, step), ai))
            .min();
        let eligible = ringing.len() as u32 + u32::from(best.is_some());
        if let Some((key, ai)) = best {
            let rid = self.make_reservation(cid, Offered::of(c), ai, key.0, eligible);
            if let Some(Contact {
                state: State::Ringing(ids),
                ..
            }) = self.contacts.get_mut(&cid).map(|c| &mut **c)
            {
                ids.push(rid);
            }
        }
        let at = self.now + self.queues[qi].cfg.ring_step_ms.max(1);
        self.add_timer(at, Timer::RingNext(cid, episode));
    }

    /// Puts a contact back in its queue (same place) and tries to route it.
    fn requeue(&mut self, cid: ContactId) {
        if let Some(c) = self.contacts.get_mut(&cid) {
            c.state = State::Waiting;
            let (qi, key, step) = (c.queue, c.key, c.step);
            self.queues[qi].add(key, cid, step, &mut self.ends);
            self.route_contact(cid);
        }
    }

    // --------------------------------------------------------------- inputs

    // The arguments are the fields of `Input::ContactArrived`, one to one.
    #[allow(clippy::too_many_arguments)]
    fn arrive(
        &mut self,
        cid: ContactId,
        queue: QueueId,
        channel: Channel,
        priority: u8,
        only: Option<AgentId>,
        attributes: BTreeMap<String, String>,
        arrived_at: Option<Mono>,
    ) -> Result<(), RoutingError> {
        let mut qi = *self
            .queue_ix
            .get(&queue)
            .ok_or(RoutingError::UnknownQueue(queue))?;
        let only_agent = match only {
            Some(a) => Some(*self.agent_ix.get(&a).ok_or(RoutingError::UnknownAgent(a))?),
            None => None,
        };
        if self.contacts.contains_key(&cid) {
            return Err(RoutingError::DuplicateContact(cid));
        }
        if self.contacts.len() >= self.config.max_contacts {
            return Err(RoutingError::Limit("contacts"));
        }
        // A closed queue: turn the contact away, book a callback, or send it
        // on. Restored contacts (`arrived_at`) were let in before.
        let mut callback = false;
        if arrived_at.is_none() {
            for _ in 0..MAX_OVERFLOW_HOPS {
                let q = &mut self.queues[qi];
                if q.open {
                    break;
                }
                q.stats.arrived_closed += 1;
                let (queue_id, action) = (q.cfg.id, q.cfg.when_closed);
                self.outputs.push(Output::ArrivedClosed {
                    contact: cid,
                    queue: queue_id,
                    action,
                });
                match action {
                    ClosedAction::Callback => {
                        callback = true;
                        break;
                    }
                    ClosedAction::Overflow(to) if self.queue_ix.contains_key(&to) => {
                        self.outputs.push(Output::Overflowed {
                            contact: cid,
                            from: queue_id,
                            to,
                        });
                        qi = self.queue_ix[&to];
                    }
                    _ => {
                        self.outputs.push(Output::Ended {
                            contact: cid,
                            agent: None,
                        });
                        return Ok(());
                    }
                }
            }
            if !self.queues[qi].open && !callback {
                // Overflowed through too many closed queues.
                self.outputs.push(Output::Ended {
                    contact: cid,
                    agent: None,
                });
                return Ok(());
            }
        }
        self.queues[qi].stats.offered += 1;
        // Overflow on arrival: a full queue, or nobody logged in to serve it.
        for _ in 0..MAX_OVERFLOW_HOPS {
            let q = &self.queues[qi];
            let Some(o) = &q.cfg.overflow else { break };
            let full = o.length_over.is_some_and(|n| q.waiting_len >= n);
            let empty = q.cfg.when_no_agents == WhenNoAgents::Overflow
                && only_agent.is_none()
                && !self.staffed(qi);
            let Some(&to) = self.queue_ix.get(&o.to) else {
                break;
            };
            if !(full || empty) {
                break;
            }
            let (from, to_id) = (q.cfg.id, o.to);
            self.queues[qi].stats.overflowed_out += 1;
            self.outputs.push(Output::Overflowed {
                contact: cid,
                from,
                to: to_id,
            });
            qi = to;
            self.queues[qi].stats.offered += 1;
        }
        self.seq += 1;
        let contact = Contact {
            queue: qi,
            channel,
            priority: priority.min(100),
            arrived: arrived_at.unwrap_or(self.now).min(self.now),
            entered: self.now,
            seq: self.seq,
            step: 0,
            only_agent,
            attributes,
            callback,
            rejected: Vec::new(),
            state: State::Waiting,
            key: (0, 0, 0),
        };
        let record = match self.spare_contacts.pop() {
            Some(mut spare) => {
                *spare = contact;
                spare
            }
            None => Box::new(contact),
        };
        self.contacts.insert(cid, record);
        if callback {
            let queue = self.queues[qi].cfg.id;
            self.outputs.push(Output::CallbackScheduled {
                contact: cid,
                queue,
            });
        }
        self.enter_queue(cid, qi);
        Ok(())
    }

    /// Places a contact (already in `contacts`) in queue `qi` from now:
    /// keys it, schedules its step, overflow and max-wait timers, announces
    /// its place and tries to route it.
    fn enter_queue(&mut self, cid: ContactId, qi: QueueIx) {
        let (now, lifo, aging) = (
            self.now,
            self.queues[qi].cfg.lifo,
            self.config.aging_ms_per_priority,
        );
        let c = self.contacts.get_mut(&cid).expect("present");
        c.queue = qi;
        c.step = 0;
        c.entered = now;
        c.state = State::Waiting;
        let key = key_of(lifo, aging, c);
        c.key = key;
        let entered = now;
        let (channel, kept_for_one, callback) = (c.channel, c.only_agent.is_some(), c.callback);
        // The usual arrival goes to the back. When someone on its channel
        // is free it is offered before it joins: most are reserved at
        // once, and need not be added to the queue and taken out again.
        let at_back = self.queues[qi]
            .last(&self.ends)
            .is_none_or(|last| last < (key, cid));
        let offer_first = at_back && !self.offerable_any[ch(channel)].is_empty();
        if !offer_first {
            self.queues[qi].add(key, cid, 0, &mut self.ends);
        }
        let cfg = &self.queues[qi].cfg;
        let next_step = cfg.steps.get(1).map(|s| s.after_ms);
        let overflow_after = cfg.overflow.as_ref().and_then(|o| o.after_ms);
        let max_wait = cfg.max_wait_ms;
        let announce = cfg.announce_every_ms;
        let open_after = cfg.requested_agent_ms;
        let queue_id = cfg.id;
        if let Some(after) = next_step {
            self.add_timer(entered + after, Timer::Step(cid, 1, entered));
        }
        if let Some(after) = overflow_after {
            self.add_timer(entered + after, Timer::Overflow(cid, entered));
        }
        if let Some(after) = max_wait {
            self.add_timer(entered + after, Timer::MaxWait(cid, entered));
        }
        if let Some(after) = open_after
            && kept_for_one
        {
            self.add_timer(entered + after, Timer::OpenToAll(cid, entered));
        }
        if let Some(every) = announce
            && matches!(channel, Channel::Voice | Channel::Chat)
            && !callback
        {
            self.add_timer(entered + every, Timer::Announce(cid, entered));
        }
        if self.outputs.wants(OutputKind::Queued) {
            // At the back, its place is the queue's length with it.
            let q = &self.queues[qi];
            let (position, expected) = if at_back {
                let n = q.waiting_len + usize::from(offer_first);
                (n, q.answer_gap_ms.map(|g| (g * n as f64) as u64))
            } else {
                self.position(cid).unwrap_or((1, None))
            };
            self.outputs.push(Output::Queued {
                contact: cid,
                queue: queue_id,
                position,
                expected_wait_ms: expected.unwrap_or(0),
            });
        }
        if offer_first {
            self.offer(cid, false);
            if self
                .contacts
                .get(&cid)
                .is_some_and(|c| c.state == State::Waiting)
            {
                self.queues[qi].add(key, cid, 0, &mut self.ends);
            }
        } else {
            self.route_contact(cid);
        }
    }

    fn restore_in_progress(
        &mut self,
        cid: ContactId,
        queue: QueueId,
        channel: Channel,
        agent: AgentId,
        answered_at: Mono,
        wrap_up_until: Option<Mono>,
    ) -> Result<(), RoutingError> {
        let qi = *self
            .queue_ix
            .get(&queue)
            .ok_or(RoutingError::UnknownQueue(queue))?;
        let ai = *self
            .agent_ix
            .get(&agent)
            .ok_or(RoutingError::UnknownAgent(agent))?;
        if self.contacts.contains_key(&cid) {
            return Err(RoutingError::DuplicateContact(cid));
        }
        if self.contacts.len() >= self.config.max_contacts {
            return Err(RoutingError::Limit("contacts"));
        }
        let chn = ch(channel);
        if self.agents[ai].used[chn] >= self.agents[ai].capacity[chn] {
            return Err(RoutingError::Limit("the agent's capacity for this channel"));
        }
        self.seq += 1;
        let state = match wrap_up_until {
            Some(until) => {
                self.agents[ai].wrapping += 1;
                let until = until.max(self.now);
                self.add_timer(until, Timer::WrapUp(cid));
                State::WrapUp { agent: ai, until }
            }
            None => {
                self.agents[ai].active += 1;
                State::Active {
                    agent: ai,
                    answered_at: answered_at.min(self.now),
                }
            }
        };
        self.agents[ai].used[chn] += 1;
        self.contacts.insert(
            cid,
            Box::new(Contact {
                queue: qi,
                channel,
                priority: 0,
                arrived: answered_at.min(self.now),
                entered: answered_at.min(self.now),
                seq: self.seq,
                step: 0,
                only_agent: None,
                attributes: BTreeMap::new(),
                callback: false,
                rejected: Vec::new(),
                state,
                key: (0, 0, 0),
            }),
        );
        self.refresh_agent(ai);
        Ok(())
    }

    fn abandon(&mut self, cid: ContactId, gone: bool) -> Result<(), RoutingError> {
        let c = self
            .contacts
            .get(&cid)
            .ok_or(RoutingError::UnknownContact(cid))?;
        match c.state.clone() {
            State::Waiting | State::Ringing(_) => {
                let mut freed = Vec::new();
                if let State::Ringing(ids) = &c.state {
                    for rid in ids.clone() {
                        if let Some(r) = self.close_reservation(rid, ReservationEnd::Cancelled) {
                            freed.push(r.agent);
                        }
                    }
                }
                let c = self.contacts.remove(&cid).expect("present");
                let q = &mut self.queues[c.queue];
                q.take(c.key, cid, c.step, &mut self.ends);
                let waited_ms = self.now.saturating_sub(c.arrived);
                let short = waited_ms < self.config.short_abandon_ms;
                if short {
                    q.stats.short_abandons += 1;
                } else {
                    q.stats.abandoned += 1;
                    if waited_ms <= q.cfg.service_level_ms {
                        q.stats.abandoned_within += 1;
                    }
                }
                self.outputs.push(Output::Abandoned {
                    contact: cid,
                    queue: q.cfg.id,
                    waited_ms,
                    short,
                });
                self.recycle(c);
                for ai in freed {
                    self.route_agent(ai);
                }
                Ok(())
            }
            State::Active { agent, answered_at } if gone => {
                self.agents[agent].talk_ms_today += self.now.saturating_sub(answered_at);
                self.agents[agent].active -= 1;
                self.release_slot(cid, agent)
            }
            State::WrapUp { agent, .. } if gone => {
                self.agents[agent].wrapping -= 1;
                self.release_slot(cid, agent)
            }
            other => Err(RoutingError::WrongState {
                contact: cid,
                state: other.name(),
            }),
        }
    }

    /// Keeps an ended contact's record for a later arrival.
    fn recycle(&mut self, c: Box<Contact>) {
        if self.spare_contacts.len() < SPARE_CONTACTS {
            self.spare_contacts.push(c);
        }
    }

    /// Ends a contact that held one of `agent`'s slots, and re-routes the agent.
    fn release_slot(&mut self, cid: ContactId, agent: AgentIx) -> Result<(), RoutingError> {
        let c = self.contacts.remove(&cid).expect("present");
        let a = &mut self.agents[agent];
        a.used[ch(c.channel)] -= 1;
        let id = a.id;
        self.outputs.push(Output::Ended {
            contact: cid,
            agent: Some(id),
        });
        self.recycle(c);
        // The agent is offered new work straight away; its index entries
        // are brought up to date once, after that, rather than added and at
        // once removed again. Index readers meanwhile check the flags.
        self.defer_index = Some(agent);
        self.refresh_agent(agent);
        self.route_agent(agent);
        self.defer_index = None;
        self.sync_index(agent);
        Ok(())
    }

    fn set_presence(&mut self, agent: AgentId, presence: Presence) -> Result<(), RoutingError> {
        let ai = *self
            .agent_ix
            .get(&agent)
            .ok_or(RoutingError::UnknownAgent(agent))?;
        let going_available =
            presence == Presence::Available && self.agents[ai].presence != Presence::Available;
        self.agents[ai].presence = presence.clone();
        if going_available {
            self.agents[ai].misses = 0;
            if self.agents[ai].ringing + self.agents[ai].active + self.agents[ai].wrapping == 0 {
                self.idle_since[ai] = self.now;
            }
        }
        if presence != Presence::Available {
            // Ringing reservations are withdrawn; contacts in progress stay.
            for rid in self.reservations_where(|r| r.agent == ai) {
                self.withdraw(rid, ReservationEnd::Cancelled, false);
            }
        }
        self.refresh_agent(ai);
        self.route_agent(ai);
        Ok(())
    }

    fn accept(&mut self, rid: ReservationId) -> Result<(), RoutingError> {
        let r = self
            .reservations
            .remove(&rid)
            .ok_or(RoutingError::UnknownReservation(rid))?;
        self.answer(rid, r.contact, r.agent);
        Ok(())
    }

    /// Agent `ai` answers contact `cid` through reservation `rid` (no
    /// longer listed); the contact's other reservations are cancelled.
    fn answer(&mut self, rid: ReservationId, cid: ContactId, ai: AgentIx) {
        let now = self.now;
        let c = self.contacts.get_mut(&cid).expect("present");
        let others: Ringing = match &c.state {
            State::Ringing(ids) => ids.iter().copied().filter(|i| *i != rid).collect(),
            _ => Ringing::new(),
        };
        c.state = State::Active {
            agent: ai,
            answered_at: now,
        };
        let (qi, arrived) = (c.queue, c.arrived);
        let a = &mut self.agents[ai];
        a.ringing -= 1;
        a.active += 1;
        a.misses = 0;
        a.contacts_today += 1;
        let agent_id = a.id;
        self.outputs.push(Output::ReservationEnded {
            reservation: rid,
            contact: cid,
            agent: agent_id,
            end: ReservationEnd::Accepted,
        });
        let mut freed: SmallVec<[AgentIx; 2]> = SmallVec::new();
        for other in others {
            if let Some(r) = self.close_reservation(other, ReservationEnd::Cancelled) {
                freed.push(r.agent);
            }
        }
        let waited_ms = now.saturating_sub(arrived);
        let q = &mut self.queues[qi];
        q.stats.answered += 1;
        q.stats.waited_ms_answered += waited_ms;
        if waited_ms <= q.cfg.service_level_ms {
            q.stats.answered_within += 1;
        }
        if let Some(last) = q.last_answer_at {
            let gap = self.now.saturating_sub(last) as f64;
            q.answer_gap_ms = Some(q.answer_gap_ms.map_or(gap, |g| 0.8 * g + 0.2 * gap));
        }
        q.last_answer_at = Some(self.now);
        self.outputs.push(Output::Answered {
            contact: cid,
            agent: agent_id,
            queue: q.cfg.id,
            waited_ms,
        });
        self.refresh_agent(ai);
        for other in freed {
            self.route_agent(other);
        }
    }

    /// Ends a reservation that did not lead to an answer and frees its slot.
    fn close_reservation(
        &mut self,
        rid: ReservationId,
        end: ReservationEnd,
    ) -> Option<Reservation> {
        let r = self.reservations.remove(&rid)?;
        let chn = self
            .contacts
            .get(&r.contact)
            .map(|c| ch(c.channel))
            .unwrap_or(0);
        let a = &mut self.agents[r.agent];
        a.used[chn] -= 1;
        a.ringing -= 1;
        let agent_id = a.id;
        self.outputs.push(Output::ReservationEnded {
            reservation: rid,
            contact: r.contact,
            agent: agent_id,
            end,
        });
        self.refresh_agent(r.agent);
        Some(r)
    }

    /// A reservation ends without an answer: rejected, expired or withdrawn.
    /// The contact goes back to its place if nobody else is ringing.
    fn withdraw(&mut self, rid: ReservationId, end: ReservationEnd, count_miss: bool) {
        let Some(r) = self.close_reservation(rid, end) else {
            return;
        };
        let ai = r.agent;
        if count_miss {
            self.agents[ai].misses += 1;
            if self.agents[ai].misses >= self.config.max_misses
                && self.agents[ai].presence == Presence::Available
            {
                self.agents[ai].presence = Presence::Away(self.config.missed_reason.clone());
                for other in self.reservations_where(|x| x.agent == ai) {
                    self.withdraw(other, ReservationEnd::Cancelled, false);
                }
                self.refresh_agent(ai);
            }
        }
        let mut back = false;
        if let Some(c) = self.contacts.get_mut(&r.contact) {
            if count_miss && c.rejected.len() < MAX_REJECTIONS_KEPT && !c.rejected.contains(&ai) {
                c.rejected.push(ai);
            }
            if let State::Ringing(ids) = &mut c.state {
                ids.retain(|i| *i != rid);
                back = ids.is_empty();
            }
        }
        if back {
            self.requeue(r.contact);
        }
        self.route_agent(ai);
    }

    fn end_reservation(
        &mut self,
        rid: ReservationId,
        end: ReservationEnd,
    ) -> Result<(), RoutingError> {
        if !self.reservations.contains_key(&rid) {
            return Err(RoutingError::UnknownReservation(rid));
        }
        self.withdraw(rid, end, true);
        Ok(())
    }

    fn complete(&mut self, cid: ContactId) -> Result<(), RoutingError> {
        let c = self
            .contacts
            .get(&cid)
            .ok_or(RoutingError::UnknownContact(cid))?;
        let State::Active { agent, answered_at } = c.state else {
            return Err(RoutingError::WrongState {
                contact: cid,
                state: c.state.name(),
            });
        };
        let wrap = self.queues[c.queue].cfg.wrap_up_ms;
        let a = &mut self.agents[agent];
        a.talk_ms_today += self.now.saturating_sub(answered_at);
        a.active -= 1;
        if wrap == 0 {
            return self.release_slot(cid, agent);
        }
        a.wrapping += 1;
        let until = self.now + wrap;
        let agent_id = a.id;
        self.contacts.get_mut(&cid).expect("present").state = State::WrapUp { agent, until };
        self.add_timer(until, Timer::WrapUp(cid));
        self.outputs.push(Output::WrapUpStarted {
            contact: cid,
            agent: agent_id,
            until,
        });
        self.refresh_agent(agent);
        Ok(())
    }

    fn finish_wrap_up(&mut self, cid: ContactId) -> Result<(), RoutingError> {
        let c = self
            .contacts
            .get(&cid)
            .ok_or(RoutingError::UnknownContact(cid))?;
        let State::WrapUp { agent, .. } = c.state else {
            return Err(RoutingError::WrongState {
                contact: cid,
                state: c.state.name(),
            });
        };
        self.agents[agent].wrapping -= 1;
        self.release_slot(cid, agent)
    }

    fn transfer(&mut self, cid: ContactId, to: TransferTarget) -> Result<(), RoutingError> {
        let (queue, only) = match &to {
            TransferTarget::Queue(q) => (*q, None),
            TransferTarget::Agent { queue, agent } => (*queue, Some(*agent)),
        };
        let qi = *self
            .queue_ix
            .get(&queue)
            .ok_or(RoutingError::UnknownQueue(queue))?;
        let only_agent = match only {
            Some(a) => Some(*self.agent_ix.get(&a).ok_or(RoutingError::UnknownAgent(a))?),
            None => None,
        };
        let c = self
            .contacts
            .get(&cid)
            .ok_or(RoutingError::UnknownContact(cid))?;
        let from = self.queues[c.queue].cfg.id;
        match c.state.clone() {
            State::Active { agent, answered_at } => {
                let a = &mut self.agents[agent];
                a.talk_ms_today += self.now.saturating_sub(answered_at);
                a.active -= 1;
                a.used[ch(c.channel)] -= 1;
                let agent_id = a.id;
                self.seq += 1;
                let seq = self.seq;
                let c = self.contacts.get_mut(&cid).expect("present");
                c.only_agent = only_agent;
                c.rejected.clear();
                c.arrived = self.now;
                c.seq = seq;
                self.outputs.push(Output::Transferred {
                    contact: cid,
                    from,
                    to: queue,
                    agent: Some(agent_id),
                });
                self.queues[qi].stats.offered += 1;
                // The freed agent first takes what already waits for it;
                // the transferred contact queues behind.
                self.refresh_agent(agent);
                self.route_agent(agent);
                self.enter_queue(cid, qi);
                Ok(())
            }
            State::Waiting => {
                // A waiting contact moves queues keeping its arrival time.
                let (key, old, step) = (c.key, c.queue, c.step);
                self.queues[old].take(key, cid, step, &mut self.ends);
                let c = self.contacts.get_mut(&cid).expect("present");
                c.only_agent = only_agent;
                self.outputs.push(Output::Transferred {
                    contact: cid,
                    from,
                    to: queue,
                    agent: None,
                });
                self.queues[qi].stats.offered += 1;
                self.enter_queue(cid, qi);
                Ok(())
            }
            other => Err(RoutingError::WrongState {
                contact: cid,
                state: other.name(),
            }),
        }
    }

    fn request_callback(&mut self, cid: ContactId) -> Result<(), RoutingError> {
        let c = self
            .contacts
            .get_mut(&cid)
            .ok_or(RoutingError::UnknownContact(cid))?;
        if c.state != State::Waiting {
            return Err(RoutingError::WrongState {
                contact: cid,
                state: c.state.name(),
            });
        }
        c.callback = true;
        let queue = self.queues[c.queue].cfg.id;
        self.outputs.push(Output::CallbackScheduled {
            contact: cid,
            queue,
        });
        Ok(())
    }

    // --------------------------------------------------------------- timers

    fn fire_timers(&mut self) {
        let due = |at: Mono| at <= self.now;
        if self.widen_timers.last().is_some_and(|t| due(t.0.0))
            || self.timers.peek().is_some_and(|t| due(t.0.0))
        {
            self.fire_due_timers();
        }
    }

    /// `fire_timers` when something is due: kept out of line, as most
    /// inputs find nothing due and need none of this code in cache.
    #[inline(never)]
    fn fire_due_timers(&mut self) {
        // Requirements widen first, and the widened contacts are routed in
        // order of urgency, before anything else due at the same time:
        // otherwise a contact put back by an expiry could take an agent
        // that an older, just-widened contact is owed.
        let mut stepped = std::mem::take(&mut self.scratch_stepped);
        let mut due_steps = std::mem::take(&mut self.scratch_due);
        loop {
            while let Some(Reverse(t)) = self.widen_timers.last()
                && t.0 <= self.now
            {
                let Some(Reverse(t)) = self.widen_timers.pop_last() else {
                    break;
                };
                due_steps.push(t);
            }
            if due_steps.is_empty() {
                break;
            }
            for t in due_steps.drain(..) {
                if let Timer::OpenToAll(cid, entered) = t.2 {
                    // Opening a contact kept for one agent widens who may
                    // take it, like a rule step.
                    if let Some(c) = self.contacts.get_mut(&cid)
                        && c.entered == entered
                        && c.only_agent.is_some()
                    {
                        c.only_agent = None;
                        stepped.push(cid);
                    }
                    continue;
                }
                let Timer::Step(cid, step, entered) = t.2 else {
                    continue;
                };
                let Some(c) = self.contacts.get_mut(&cid) else {
                    continue;
                };
                if c.step + 1 != step
                    || c.entered != entered
                    || step >= self.queues[c.queue].needs.len()
                {
                    continue;
                }
                let (qi, key, waiting) = (c.queue, c.key, c.state == State::Waiting);
                c.step = step;
                if waiting {
                    self.queues[qi].take(key, cid, step - 1, &mut self.ends);
                    self.queues[qi].add(key, cid, step, &mut self.ends);
                }
                if let Some(next) = self.queues[qi].cfg.steps.get(step + 1).map(|s| s.after_ms) {
                    // A later step already due is applied by the next round.
                    self.add_timer(entered + next, Timer::Step(cid, step + 1, entered));
                }
                stepped.push(cid);
            }
        }
        if self.offerable_any.iter().all(|set| set.is_empty()) {
            // Nobody can be offered anything (every agent busy, as while a
            // backlog builds): there is nothing to route.
            stepped.clear();
        } else if !stepped.is_empty() {
            // Each contact looked up once, not at every comparison.
            stepped.sort_by_cached_key(|cid| self.contacts.get(cid).map(|c| self.urgency(c)));
            stepped.dedup();
            for &cid in &stepped {
                self.route_contact(cid);
            }
            stepped.clear();
        }
        self.scratch_stepped = stepped;
        self.scratch_due = due_steps;
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((at, _, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Expire(rid) => {
                    if self.can_fire(at, &timer) == Some(true) {
                        self.withdraw(rid, ReservationEnd::Expired, true);
                    }
                }
                // Steps and openings are kept in `widen_timers`.
                Timer::Step(..) => {}
                Timer::Overflow(cid, entered) => {
                    let Some(c) = self.contacts.get(&cid) else {
                        continue;
                    };
                    if c.state != State::Waiting || c.entered != entered || c.callback {
                        continue;
                    }
                    let qi = c.queue;
                    let Some(to) = self.queues[qi]
                        .cfg
                        .overflow
                        .as_ref()
                        .and_then(|o| self.queue_ix.get(&o.to).copied())
                    else {
                        continue;
                    };
                    let (key, step) = (c.key, c.step);
                    let q = &mut self.queues[qi];
                    q.take(key, cid, step, &mut self.ends);
                    q.stats.overflowed_out += 1;
                    let (from, to_id) = (q.cfg.id, self.queues[to].cfg.id);
                    self.outputs.push(Output::Overflowed {
                        contact: cid,
                        from,
                        to: to_id,
                    });
                    self.queues[to].stats.offered += 1;
                    self.enter_queue(cid, to);
                }
                Timer::MaxWait(cid, entered) => {
                    let Some(c) = self.contacts.get(&cid) else {
                        continue;
                    };
                    if c.state != State::Waiting || c.entered != entered || c.callback {
                        continue;
                    }
                    let q = &self.queues[c.queue];
                    let action = q.cfg.max_wait_action[ch(c.channel)];
                    let queue = q.cfg.id;
                    self.outputs.push(Output::MaxWaitReached {
                        contact: cid,
                        queue,
                        action,
                    });
                    if action == MaxWaitAction::Callback {
                        self.contacts.get_mut(&cid).expect("present").callback = true;
                        self.outputs.push(Output::CallbackScheduled {
                            contact: cid,
                            queue,
                        });
                    } else {
                        let c = self.contacts.remove(&cid).expect("present");
                        let q = &mut self.queues[c.queue];
                        q.take(c.key, cid, c.step, &mut self.ends);
                        q.stats.timed_out += 1;
                        self.outputs.push(Output::Ended {
                            contact: cid,
                            agent: None,
                        });
                        self.recycle(c);
                    }
                }
                Timer::RingNext(cid, episode) => self.ring_more(cid, episode),
                // (In `widen_timers`.)
                Timer::OpenToAll(..) => {}
                Timer::Announce(cid, entered) => {
                    let Some(c) = self.contacts.get(&cid) else {
                        continue;
                    };
                    if c.entered != entered || c.callback {
                        continue;
                    }
                    let q = &self.queues[c.queue];
                    let (queue, every) = (q.cfg.id, q.cfg.announce_every_ms);
                    // A contact ringing now is not told; it may wait again.
                    if let Some((position, expected)) = self.position(cid) {
                        self.outputs.push(Output::Announce {
                            contact: cid,
                            queue,
                            position,
                            expected_wait_ms: expected.unwrap_or(0),
                        });
                    }
                    let again = matches!(
                        self.contacts[&cid].state,
                        State::Waiting | State::Ringing(_)
                    );
                    if let Some(every) = every
                        && again
                    {
                        self.add_timer(at + every, Timer::Announce(cid, entered));
                    }
                }
                Timer::WrapUp(cid) => {
                    if self.can_fire(at, &timer) == Some(true) {
                        let _ = self.finish_wrap_up(cid);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ checking

    /// Recomputes what the indexes and counters should be from the raw
    /// state and compares; also checks the routing rules' promises. Meant
    /// for tests and simulations, after every step.
    pub fn check_invariants(&self) -> Result<(), String> {
        // Slots, ringing and active counts per agent.
        let mut used = vec![[0u8; 4]; self.agents.len()];
        let mut ringing = vec![0u32; self.agents.len()];
        let mut active = vec![0u32; self.agents.len()];
        let mut wrapping = vec![0u32; self.agents.len()];
        for (rid, r) in &self.reservations {
            let c = self
                .contacts
                .get(&r.contact)
                .ok_or(format!("{rid:?} names a contact that is gone"))?;
            match &c.state {
                State::Ringing(ids) if ids.contains(rid) => {}
                s => return Err(format!("{rid:?} for contact {} in state {s:?}", r.contact)),
            }
            used[r.agent][ch(c.channel)] += 1;
            ringing[r.agent] += 1;
        }
        let mut waiting_seen = 0;
        for (cid, c) in &self.contacts {
            match &c.state {
                State::Waiting => {
                    waiting_seen += 1;
                    let in_step = self.queues[c.queue]
                        .by_step
                        .get(c.step)
                        .is_some_and(|s| s.contains((c.key, *cid)));
                    if !in_step {
                        return Err(format!("waiting contact {cid} is not in its queue"));
                    }
                }
                State::Ringing(ids) => {
                    if ids.is_empty() {
                        return Err(format!("contact {cid} rings nobody"));
                    }
                    let mut agents: Vec<AgentIx> = ids
                        .iter()
                        .filter_map(|i| self.reservations.get(i).map(|r| r.agent))
                        .collect();
                    if agents.len() != ids.len() {
                        return Err(format!("contact {cid} lists a finished reservation"));
                    }
                    agents.sort();
                    agents.dedup();
                    if agents.len() != ids.len() {
                        return Err(format!("contact {cid} rings one agent twice"));
                    }
                    for rid in ids {
                        let r = &self.reservations[rid];
                        if !self.meets(r.agent, c.queue, r.step) {
                            return Err(format!(
                                "contact {cid} rings agent {} who lacks a required skill",
                                self.agents[r.agent].id
                            ));
                        }
                    }
                }
                State::Active { agent, .. } => {
                    used[*agent][ch(c.channel)] += 1;
                    active[*agent] += 1;
                }
                State::WrapUp { agent, .. } => {
                    used[*agent][ch(c.channel)] += 1;
                    wrapping[*agent] += 1;
                }
            }
        }
        for q in &self.queues {
            let split: usize = q.by_step.iter().map(|s| s.len()).sum();
            if split != q.waiting_len {
                return Err(format!(
                    "queue {} step index holds {split} of {} waiting",
                    q.cfg.id, q.waiting_len
                ));
            }
            for (step, set) in q.by_step.iter().enumerate() {
                for (_, cid) in set.iter() {
                    if self.contacts.get(&cid).map(|c| c.step) != Some(step) {
                        return Err(format!("contact {cid} is indexed under the wrong step"));
                    }
                }
            }
            for step in 0..q.head_cap {
                let slot = q.head_base + step;
                let set = q.by_step.get(step);
                if self.ends.first(slot) != set.and_then(|s| s.first())
                    || self.ends.lasts[slot] != set.and_then(|s| s.last())
                {
                    return Err(format!("queue {} step {step} ends are stale", q.cfg.id));
                }
            }
        }
        let queued: usize = self.queues.iter().map(|q| q.waiting_len).sum();
        if queued != waiting_seen {
            return Err(format!(
                "{queued} queue entries for {waiting_seen} waiting contacts"
            ));
        }
        for (ai, a) in self.agents.iter().enumerate() {
            if a.used != used[ai]
                || a.ringing != ringing[ai]
                || a.active != active[ai]
                || a.wrapping != wrapping[ai]
            {
                return Err(format!(
                    "agent {} counters disagree with the contacts it holds",
                    a.id
                ));
            }
            for (c, channel) in CHANNELS.iter().enumerate() {
                if a.used[c] > a.capacity[c] {
                    return Err(format!("agent {} exceeds its {channel:?} capacity", a.id));
                }
                let ok = Self::can_offer(a, c);
                if ok != a.offerable[c] || ok != self.offerable_any[c].contains(ai) {
                    return Err(format!("agent {} offerable index is stale", a.id));
                }
                for s in a.skills.keys() {
                    if ok
                        != self.offerable_by_skill[c]
                            .get(*s as usize)
                            .is_some_and(|set| set.contains(ai))
                    {
                        return Err(format!("agent {} per-skill index is stale", a.id));
                    }
                }
            }
            // Nobody offerable is left idle while a waiting contact suits them
            // (within the scan window, which is all of it in tests).
            for qi in 0..self.queues.len() {
                for (_, cid) in self.queues[qi]
                    .ordered()
                    .iter()
                    .take(self.config.scan_limit)
                {
                    let c = &self.contacts[cid];
                    if a.offerable[ch(c.channel)] && self.eligible(ai, c) {
                        return Err(format!(
                            "agent {} is free for waiting contact {cid} it is eligible for",
                            a.id
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether agent `ai` has every skill of queue `qi`'s step `step`.
    fn meets(&self, ai: AgentIx, qi: QueueIx, step: usize) -> bool {
        let a = &self.agents[ai];
        self.queues[qi].needs.get(step).is_some_and(|needs| {
            needs
                .iter()
                .all(|(s, p)| a.skills.get(s).is_some_and(|h| h >= p))
        })
    }

    /// The reservations that `f` picks, oldest first.
    fn reservations_where(&self, f: impl Fn(&Reservation) -> bool) -> Vec<ReservationId> {
        let mut ids: Vec<ReservationId> = self
            .reservations
            .iter()
            .filter(|(_, r)| f(r))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Withdraws ringing reservations whose agent no longer meets the rules
    /// they were made under (after a change of skills or rules).
    fn withdraw_unqualified(&mut self) {
        let stale = self.reservations_where(|r| {
            self.contacts
                .get(&r.contact)
                .is_some_and(|c| !self.meets(r.agent, c.queue, r.step))
        });
        for rid in stale {
            self.withdraw(rid, ReservationEnd::Cancelled, false);
        }
    }

    /// For tests: whether agent `agent` is eligible for waiting contact `contact` now.
    pub fn is_eligible(&self, agent: AgentId, contact: ContactId) -> bool {
        match (self.agent_ix.get(&agent), self.contacts.get(&contact)) {
            (Some(&ai), Some(c)) => self.eligible(ai, c),
            _ => false,
        }
    }

    /// Where a contact is now.
    pub fn contact_view(&self, contact: ContactId) -> Option<ContactView> {
        let c = self.contacts.get(&contact)?;
        let queue = self.queues[c.queue].cfg.id;
        Some(match &c.state {
            State::Waiting => ContactView::Waiting {
                queue,
                step: c.step,
                arrived: c.arrived,
            },
            State::Ringing(ids) => ContactView::Ringing {
                queue,
                reservations: ids.to_vec(),
            },
            State::Active { agent, .. } => ContactView::Active {
                queue,
                agent: self.agents[*agent].id,
            },
            State::WrapUp { agent, until } => ContactView::WrapUp {
                queue,
                agent: self.agents[*agent].id,
                until: *until,
            },
        })
    }

    /// When the longest-waiting contact of a queue arrived.
    pub fn oldest_waiting(&self, queue: QueueId) -> Option<Mono> {
        let qi = *self.queue_ix.get(&queue)?;
        self.queues[qi]
            .by_step
            .iter()
            .flat_map(|s| s.iter())
            .filter_map(|(_, c)| self.contacts.get(&c).map(|c| c.arrived))
            .min()
    }

    /// For tests: the step in force for a contact.
    pub fn step_of(&self, contact: ContactId) -> Option<usize> {
        self.contacts.get(&contact).map(|c| c.step)
    }

    /// For tests: the queue a contact is in now.
    pub fn queue_of(&self, contact: ContactId) -> Option<QueueId> {
        self.contacts
            .get(&contact)
            .map(|c| self.queues[c.queue].cfg.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `StepQueue` against an ordered set, through a seeded mix of
    /// arrivals (mostly at the back, some ahead), departures from the
    /// front and from anywhere, and every read.
    #[test]
    fn step_queue_behaves_as_an_ordered_set() {
        for seed in 0..200u64 {
            let mut rng = Pcg64Mcg::seed_from_u64(seed);
            let mut q = StepQueue::default();
            let mut model: BTreeSet<Entry> = BTreeSet::new();
            let mut seq = 0u64;
            for _ in 0..400 {
                let roll = rng.next_u64() % 10;
                if roll < 5 || model.is_empty() {
                    seq += 1;
                    // Mostly later than everyone; sometimes ahead (a
                    // higher priority ages it forward).
                    let ahead = rng.next_u64() % 4 == 0;
                    let at = if ahead {
                        seq as i64 - (rng.next_u64() % 50) as i64
                    } else {
                        seq as i64 * 10
                    };
                    let e = (
                        (at, 0, seq),
                        ContactId::from_uuid(uuid::Uuid::from_u128(seq as u128)),
                    );
                    q.insert(e);
                    model.insert(e);
                } else if roll < 8 {
                    let first = *model.first().unwrap();
                    assert!(q.remove(first, true));
                    model.remove(&first);
                } else {
                    let i = (rng.next_u64() % model.len() as u64) as usize;
                    let e = *model.iter().nth(i).unwrap();
                    assert!(q.remove(e, false));
                    model.remove(&e);
                    assert!(!q.remove(e, false), "gone already");
                }
                assert_eq!(q.len(), model.len());
                assert_eq!(q.first(), model.first().copied());
                assert_eq!(q.last(), model.last().copied());
                assert!(q.iter().eq(model.iter().copied()), "seed {seed}");
                if let Some(e) = model.iter().nth(model.len() / 2) {
                    assert!(q.contains(*e));
                    assert_eq!(q.count_before(e), model.range(..*e).count());
                }
                assert!(q.blanks * 2 <= q.run.len().max(32));
            }
        }
    }
}
