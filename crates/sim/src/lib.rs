//! The contact-centre simulator: a seeded discrete-event simulation that
//! drives the real routing engine (`sb_routing::Engine`) with synthetic
//! customers and agents.
//!
//! - Arrivals per queue are a non-homogeneous Poisson process: a constant
//!   rate within each interval, from the queue's profile (expected arrivals
//!   per interval). Exponential gaps are drawn at the interval's rate and a
//!   gap that crosses into the next interval is redrawn from its boundary
//!   at the new rate, which is exact for a piecewise-constant rate.
//! - Handle times are exponential, lognormal (mean and coefficient of
//!   variation) or drawn from observed values; customers have exponential
//!   patience and abandon when it runs out before they are answered; some
//!   who abandon try again later (retrials); those offered a callback keep
//!   their place without waiting on the line.
//! - Agents follow their shifts: available at the start, away with a reason
//!   code during breaks, offline at the end; a reservation is accepted
//!   after a fixed answer delay; wrap-up is the queue's (the engine ends
//!   it when its time is up).
//! - Every routing decision is the engine's: queues, strategies, skills
//!   and proficiencies, capacities per channel, overflow, priorities.
//!
//! Results per queue and interval (offered, answered, abandoned, service
//! level, ASA, AHT) and per interval (occupancy) are averaged over
//! replications with independent seeds, each with a 95 % confidence
//! interval (Student's t over the replications).
//!
//! No IO, no clock: time is the simulation's own, in milliseconds.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand_distr::{Distribution, Exp, LogNormal, Open01};
use rand_pcg::Pcg64Mcg;
use rustc_hash::FxHashMap;
use sb_model::{AgentId, Channel, ContactId};
use sb_routing::{
    AgentConfig, AgentStatus, Engine, EngineConfig, Input, Output, OutputKind, OutputKinds,
    Presence, QueueConfig, ReservationId,
};
use uuid::Uuid;

mod stats;

pub use stats::{Estimate, IntervalResult, QueueResult, Report};

/// How long customers take to handle once answered.
#[derive(Debug, Clone, PartialEq)]
pub enum HandleTime {
    Exponential {
        mean_ms: f64,
    },
    /// Lognormal with this mean and coefficient of variation (sd / mean).
    LogNormal {
        mean_ms: f64,
        cv: f64,
    },
    /// Drawn uniformly from these observed handle times.
    Observed(Vec<u64>),
}

/// Customers who abandon and try again.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrial {
    /// The chance that one who abandoned tries again.
    pub probability: f64,
    /// Mean (exponential) time before the new attempt.
    pub mean_delay_ms: f64,
}

/// Customers offered a callback while they wait: after `after_ms` in the
/// queue, each still waiting takes it with `probability`, keeps their
/// place, and no longer abandons; an agent calls them back in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackOffer {
    pub probability: f64,
    pub after_ms: f64,
}

/// One queue of the scenario: its routing configuration (as the engine
/// takes it), the channel its contacts come on, and its customers.
#[derive(Debug, Clone)]
pub struct SimQueue {
    pub name: String,
    pub config: QueueConfig,
    pub channel: Channel,
    /// Expected arrivals per interval; repeated when shorter than the run.
    pub arrivals: Vec<f64>,
    pub handle: HandleTime,
    /// Mean (exponential) patience; `None`: customers wait for ever.
    pub patience_mean_ms: Option<f64>,
    pub retrial: Option<Retrial>,
    pub callback: Option<CallbackOffer>,
}

/// A break within a shift: away with `reason` from `start_ms` to `end_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct SimBreak {
    pub start_ms: u64,
    pub end_ms: u64,
    pub reason: String,
}

/// A shift an agent works, in simulation time.
#[derive(Debug, Clone, PartialEq)]
pub struct SimShift {
    pub start_ms: u64,
    pub end_ms: u64,
    pub breaks: Vec<SimBreak>,
}

#[derive(Debug, Clone)]
pub struct SimAgent {
    pub name: String,
    pub config: AgentConfig,
    pub shifts: Vec<SimShift>,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub replications: u32,
    pub interval_ms: u64,
    /// Intervals simulated.
    pub intervals: usize,
    /// Intervals at the start left out of the totals (the centre starts
    /// empty; a steady state takes a while).
    pub warm_up_intervals: usize,
    pub queues: Vec<SimQueue>,
    pub agents: Vec<SimAgent>,
    /// How long an agent takes to accept a reservation.
    pub answer_delay_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Invalid(String),
}

impl Scenario {
    /// Checks what the engine would not: sizes, rates and times.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Invalid(m));
        if self.interval_ms == 0 || self.intervals == 0 {
            return bad("the run needs at least one interval of more than 0 ms".into());
        }
        if self.warm_up_intervals >= self.intervals {
            return bad("the warm-up must be shorter than the run".into());
        }
        if self.replications == 0 || self.replications > 1000 {
            return bad("replications must be from 1 to 1000".into());
        }
        if self.queues.is_empty() {
            return bad("the scenario needs at least one queue".into());
        }
        for q in &self.queues {
            if q.arrivals.is_empty() || q.arrivals.iter().any(|a| !a.is_finite() || *a < 0.0) {
                return bad(format!(
                    "queue {}: arrivals must be numbers of 0 or more, at least one",
                    q.name
                ));
            }
            let ok = match &q.handle {
                HandleTime::Exponential { mean_ms } => mean_ms.is_finite() && *mean_ms > 0.0,
                HandleTime::LogNormal { mean_ms, cv } => {
                    mean_ms.is_finite() && *mean_ms > 0.0 && cv.is_finite() && *cv > 0.0
                }
                HandleTime::Observed(v) => !v.is_empty(),
            };
            if !ok {
                return bad(format!(
                    "queue {}: handle time must have a mean above 0 (and a cv above 0)",
                    q.name
                ));
            }
            if q.patience_mean_ms
                .is_some_and(|p| !(p.is_finite() && p > 0.0))
            {
                return bad(format!("queue {}: patience must be above 0", q.name));
            }
            if let Some(c) = &q.callback
                && !((0.0..=1.0).contains(&c.probability)
                    && c.after_ms.is_finite()
                    && c.after_ms > 0.0)
            {
                return bad(format!(
                    "queue {}: a callback offer needs a probability from 0 to 1 and a time above 0",
                    q.name
                ));
            }
            if let Some(r) = &q.retrial
                && !((0.0..=1.0).contains(&r.probability)
                    && r.mean_delay_ms.is_finite()
                    && r.mean_delay_ms > 0.0)
            {
                return bad(format!(
                    "queue {}: a retrial needs a probability from 0 to 1 and a delay above 0",
                    q.name
                ));
            }
        }
        for a in &self.agents {
            for s in &a.shifts {
                if s.end_ms <= s.start_ms {
                    return bad(format!(
                        "agent {}: a shift must end after it starts",
                        a.name
                    ));
                }
                if s.breaks.iter().any(|b| {
                    b.end_ms <= b.start_ms || b.start_ms < s.start_ms || b.end_ms > s.end_ms
                }) {
                    return bad(format!(
                        "agent {}: a break must lie within its shift",
                        a.name
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn horizon_ms(&self) -> u64 {
        self.interval_ms * self.intervals as u64
    }
}

/// One contact of a traced replication, times in simulation ms.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedContact {
    /// Index into the scenario's queues.
    pub queue: usize,
    pub arrived: u64,
    pub answered: Option<u64>,
    /// Index into the scenario's agents.
    pub agent: Option<usize>,
    /// When the conversation ended (wrap-up started, if any).
    pub completed: Option<u64>,
    pub ended: Option<u64>,
    pub abandoned: Option<u64>,
}

/// An agent's status as the engine changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedStatus {
    pub agent: usize,
    pub at: u64,
    /// `offline`, `available`, `busy`, `wrap_up` or `away`.
    pub status: &'static str,
    pub reason: Option<String>,
}

/// Everything that happened in one replication, contact by contact.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    pub contacts: Vec<TracedContact>,
    pub statuses: Vec<TracedStatus>,
}

/// What happens next in one replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// A customer arrives at queue `q` (a first attempt or a retrial).
    Arrival {
        q: u32,
        retrial: bool,
    },
    Abandon {
        contact: u64,
    },
    /// The customer is offered a callback.
    Callback {
        contact: u64,
    },
    HandleDone {
        contact: u64,
    },
    Accept {
        reservation: u64,
    },
    Presence {
        agent: u32,
        state: u8,
        reason: u32,
    },
    Tick,
}

/// An event on the calendar: due at the time in the key's upper half, in
/// the order scheduled (the lower half) among events due together. Ordered
/// by the key alone, earliest first out of the (max-)heap, so a comparison
/// is one number's.
#[derive(Debug, Clone, Copy)]
struct Due {
    key: u128,
    event: Event,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

const ON: u8 = 0;
const AWAY: u8 = 1;
const OFF: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Answered,
    Done,
}

#[derive(Debug, Clone)]
struct Contact {
    q: u32,
    arrived: u64,
    stage: Stage,
    agent: Option<u32>,
    /// Took a callback: waits without abandoning.
    callback: bool,
}

/// One replication's counts, per queue and interval, and per interval for
/// agents.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    /// [queue][interval]
    pub offered: Vec<Vec<u32>>,
    pub answered: Vec<Vec<u32>>,
    pub within: Vec<Vec<u32>>,
    pub abandoned: Vec<Vec<u32>>,
    pub callbacks: Vec<Vec<u32>>,
    pub wait_answered_ms: Vec<Vec<f64>>,
    /// Waits of everyone who left the queue: answered or abandoned.
    pub wait_all_ms: Vec<Vec<f64>>,
    pub handle_ms: Vec<Vec<f64>>,
    pub handled: Vec<Vec<u32>>,
    /// [interval]: agent time logged in and not away, and of that busy.
    pub staffed_ms: Vec<f64>,
    pub busy_ms: Vec<f64>,
    /// Engine inputs refused (a sign the scenario asks the impossible).
    pub refused: u64,
    pub events: u64,
}

struct Run<'a> {
    s: &'a Scenario,
    engine: Engine,
    rng: Pcg64Mcg,
    /// Events made as they happen (handle times, patience, engine timers,
    /// retrials).
    calendar: BinaryHeap<Due>,
    /// Each queue's next first-attempt arrival: at most one per queue.
    arrivals: BinaryHeap<Due>,
    /// The rosters' shift and break edges, known from the start: sorted
    /// latest first, so the next is at the end.
    roster: Vec<Due>,
    seq: u64,
    now: u64,
    contacts: Vec<Contact>,
    reservations: Vec<ReservationId>,
    agent_index: FxHashMap<AgentId, u32>,
    reasons: Vec<String>,
    /// Per agent: present (on shift, not away), contacts in hand, since.
    present: Vec<bool>,
    in_hand: Vec<u32>,
    since: Vec<u64>,
    next_tick: Option<u64>,
    handle: Vec<HandleSampler>,
    patience: Vec<Option<Exp<f64>>>,
    retrial_delay: Vec<Option<Exp<f64>>>,
    c: Counts,
    trace: Option<Trace>,
}

enum HandleSampler {
    Exp(Exp<f64>),
    LogNormal(LogNormal<f64>),
    Observed(Vec<u64>),
}

/// A time drawn in milliseconds, to the nearest whole one (halves up; 0
/// for a negative). Written out, as `f64::round` is a library call on
/// the baseline x86-64 target, and this runs for every draw.
fn ms(v: f64) -> u64 {
    (v + 0.5) as u64
}

/// A time in milliseconds, up to the next whole one (see `ms`).
fn ms_up(v: f64) -> u64 {
    let whole = v as u64;
    whole + u64::from((whole as f64) < v)
}

fn contact_id(n: u64) -> ContactId {
    ContactId::from_uuid(Uuid::from_u128(u128::from(n) + 1))
}

fn contact_no(id: ContactId) -> u64 {
    (id.as_uuid().as_u128() - 1) as u64
}

fn share_out(from: u64, to: u64, interval: u64, n: usize, mut add: impl FnMut(usize, f64)) {
    let mut at = from;
    while at < to {
        let k = (at / interval) as usize;
        if k >= n {
            break;
        }
        let end = ((k as u64 + 1) * interval).min(to);
        add(k, (end - at) as f64);
        at = end;
    }
}

impl<'a> Run<'a> {
    /// A replication with `seed`; `traced` keeps what happened contact by
    /// contact and every agent status change.
    fn new(s: &'a Scenario, seed: u64, traced: bool) -> Result<Self, SimError> {
        use rand_core::SeedableRng;
        // Agents who answer at once leave the engine to accept for them.
        let accept_at_once = s.answer_delay_ms == 0;
        // Only what `output` acts on: the engine makes no other output.
        let mut outputs = [
            OutputKind::Answered,
            OutputKind::Abandoned,
            OutputKind::Ended,
        ]
        .into_iter()
        .collect::<OutputKinds>();
        if !accept_at_once {
            outputs = outputs.with(OutputKind::Reserved);
        }
        if traced {
            outputs = outputs
                .with(OutputKind::WrapUpStarted)
                .with(OutputKind::AgentChanged);
        }
        let config = EngineConfig {
            scan_limit: 10_000,
            max_contacts: 10_000_000,
            outputs,
            accept_at_once,
            ..EngineConfig::default()
        };
        let mut engine = Engine::new(config, seed);
        let nq = s.queues.len();
        let n = s.intervals;
        for q in &s.queues {
            engine
                .handle_input(0, Input::ConfigureQueue(q.config.clone()))
                .map_err(|e| SimError::Invalid(format!("queue {}: {e}", q.name)))?;
        }
        let mut agent_index = FxHashMap::default();
        for (i, a) in s.agents.iter().enumerate() {
            engine
                .handle_input(0, Input::ConfigureAgent(a.config.clone()))
                .map_err(|e| SimError::Invalid(format!("agent {}: {e}", a.name)))?;
            agent_index.insert(a.config.id, i as u32);
        }
        let handle = s
            .queues
            .iter()
            .map(|q| match &q.handle {
                HandleTime::Exponential { mean_ms } => Exp::new(1.0 / mean_ms)
                    .map(HandleSampler::Exp)
                    .map_err(|e| SimError::Invalid(format!("queue {}: {e}", q.name))),
                HandleTime::LogNormal { mean_ms, cv } => LogNormal::from_mean_cv(*mean_ms, *cv)
                    .map(HandleSampler::LogNormal)
                    .map_err(|e| SimError::Invalid(format!("queue {}: {e}", q.name))),
                HandleTime::Observed(v) => Ok(HandleSampler::Observed(v.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let exp = |mean: Option<f64>| mean.and_then(|m| Exp::new(1.0 / m).ok());
        let na = s.agents.len();
        let grid = |x: u32| vec![vec![x; n]; nq];
        let gridf = || vec![vec![0.0; n]; nq];
        let mut run = Run {
            s,
            engine,
            rng: Pcg64Mcg::seed_from_u64(seed),
            calendar: BinaryHeap::new(),
            arrivals: BinaryHeap::with_capacity(nq),
            roster: Vec::new(),
            seq: 0,
            now: 0,
            contacts: Vec::new(),
            reservations: Vec::new(),
            agent_index,
            reasons: Vec::new(),
            present: vec![false; na],
            in_hand: vec![0; na],
            since: vec![0; na],
            next_tick: None,
            handle,
            patience: s.queues.iter().map(|q| exp(q.patience_mean_ms)).collect(),
            retrial_delay: s
                .queues
                .iter()
                .map(|q| exp(q.retrial.as_ref().map(|r| r.mean_delay_ms)))
                .collect(),
            c: Counts {
                offered: grid(0),
                answered: grid(0),
                within: grid(0),
                abandoned: grid(0),
                callbacks: grid(0),
                wait_answered_ms: gridf(),
                wait_all_ms: gridf(),
                handle_ms: gridf(),
                handled: grid(0),
                staffed_ms: vec![0.0; n],
                busy_ms: vec![0.0; n],
                refused: 0,
                events: 0,
            },
            trace: None,
        };
        for (i, a) in s.agents.iter().enumerate() {
            for sh in &a.shifts {
                run.plan(
                    sh.start_ms,
                    Event::Presence {
                        agent: i as u32,
                        state: ON,
                        reason: 0,
                    },
                );
                for b in &sh.breaks {
                    let reason = run.reason(&b.reason);
                    run.plan(
                        b.start_ms,
                        Event::Presence {
                            agent: i as u32,
                            state: AWAY,
                            reason,
                        },
                    );
                    run.plan(
                        b.end_ms,
                        Event::Presence {
                            agent: i as u32,
                            state: ON,
                            reason: 0,
                        },
                    );
                }
                run.plan(
                    sh.end_ms,
                    Event::Presence {
                        agent: i as u32,
                        state: OFF,
                        reason: 0,
                    },
                );
            }
        }
        // Earliest last; keys are unique, so this order is total.
        run.roster
            .sort_unstable_by_key(|d| std::cmp::Reverse(d.key));
        for q in 0..nq {
            run.next_arrival(q as u32, 0);
        }
        Ok(run)
    }

    fn reason(&mut self, r: &str) -> u32 {
        match self.reasons.iter().position(|x| x == r) {
            Some(i) => i as u32,
            None => {
                self.reasons.push(r.to_owned());
                (self.reasons.len() - 1) as u32
            }
        }
    }

    /// `e` due at `t`, keyed so that events due together come out in the
    /// order they were scheduled, whichever lane holds them.
    fn due(&mut self, t: u64, e: Event) -> Due {
        self.seq += 1;
        Due {
            key: (u128::from(t) << 64) | u128::from(self.seq),
            event: e,
        }
    }

    fn at(&mut self, t: u64, e: Event) {
        let d = self.due(t, e);
        self.calendar.push(d);
    }

    /// Puts a roster edge on its lane (sorted once all are there).
    fn plan(&mut self, t: u64, e: Event) {
        let d = self.due(t, e);
        self.roster.push(d);
    }

    /// Takes the earliest event of the three lanes.
    fn next_due(&mut self) -> Option<Due> {
        let c = self.calendar.peek().map_or(u128::MAX, |d| d.key);
        let a = self.arrivals.peek().map_or(u128::MAX, |d| d.key);
        let r = self.roster.last().map_or(u128::MAX, |d| d.key);
        if a < c && a < r {
            self.arrivals.pop()
        } else if r < c {
            self.roster.pop()
        } else {
            self.calendar.pop()
        }
    }

    fn uniform(&mut self) -> f64 {
        Open01.sample(&mut self.rng)
    }

    /// Schedules queue `q`'s next first-attempt arrival after `from`.
    fn next_arrival(&mut self, q: u32, from: u64) {
        let s = self.s;
        let profile = &s.queues[q as usize].arrivals;
        let horizon = s.horizon_ms();
        let mut t = from;
        while t < horizon {
            let k = (t / s.interval_ms) as usize;
            let rate = profile[k % profile.len()] / s.interval_ms as f64;
            let boundary = (k as u64 + 1) * s.interval_ms;
            if rate > 0.0 {
                let gap = -self.uniform().ln() / rate;
                let at = t as f64 + gap;
                if at < boundary as f64 {
                    let d = self.due(ms_up(at), Event::Arrival { q, retrial: false });
                    self.arrivals.push(d);
                    return;
                }
            }
            t = boundary;
        }
    }

    fn handle_time(&mut self, q: usize) -> u64 {
        let v = match &self.handle[q] {
            HandleSampler::Exp(d) => d.sample(&mut self.rng),
            HandleSampler::LogNormal(d) => d.sample(&mut self.rng),
            HandleSampler::Observed(v) => {
                let u: f64 = Open01.sample(&mut self.rng);
                let i = (u * v.len() as f64) as usize;
                v[i.min(v.len() - 1)] as f64
            }
        };
        ms(v).max(1)
    }

    fn interval_of(&self, t: u64) -> usize {
        ((t / self.s.interval_ms) as usize).min(self.s.intervals - 1)
    }

    fn input(&mut self, i: Input) {
        if !self.feed(i) {
            self.c.refused += 1;
        }
    }

    /// Gives the engine `i`, acts on what it says, and keeps its next timer
    /// on the calendar; false when it refused `i`.
    fn feed(&mut self, i: Input) -> bool {
        let ok = self.engine.handle_input(self.now, i).is_ok();
        while let Some(o) = self.engine.poll_output() {
            self.output(o);
        }
        if let Some(t) = self.engine.poll_timeout() {
            let t = t.max(self.now);
            if self.next_tick.is_none_or(|n| t < n || n < self.now) {
                self.next_tick = Some(t);
                self.at(t, Event::Tick);
            }
        }
        ok
    }

    /// Fires the engine's timers due by now, so that what a waiting
    /// caller does next is judged by where they are now: a caller answered
    /// the moment they would hang up (an agent freed by a timer due then)
    /// stays answered.
    fn catch_up(&mut self) {
        if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            self.input(Input::Tick);
        }
    }

    fn set_busy(&mut self, agent: u32, delta: i32) {
        let a = agent as usize;
        let before = self.in_hand[a];
        self.settle(a);
        self.in_hand[a] = (before as i32 + delta).max(0) as u32;
    }

    /// Books agent `a`'s time since the last change to the intervals.
    fn settle(&mut self, a: usize) {
        let (from, to) = (self.since[a], self.now);
        let busy = self.in_hand[a] > 0;
        let (iv, n) = (self.s.interval_ms, self.s.intervals);
        if self.present[a] || busy {
            let c = &mut self.c;
            share_out(from, to, iv, n, |k, ms| {
                c.staffed_ms[k] += ms;
                if busy {
                    c.busy_ms[k] += ms;
                }
            });
        }
        self.since[a] = to;
    }

    fn output(&mut self, o: Output) {
        match o {
            Output::Reserved { reservation, .. } => {
                // Only with an answer delay (see `new`).
                self.reservations.push(reservation);
                let n = (self.reservations.len() - 1) as u64;
                let at = self.now + self.s.answer_delay_ms;
                self.at(at, Event::Accept { reservation: n });
            }
            Output::Answered { contact, agent, .. } => {
                let n = contact_no(contact);
                let a = self.agent_index.get(&agent).copied();
                let c = &mut self.contacts[n as usize];
                c.stage = Stage::Answered;
                c.agent = a;
                let (q, arrived) = (c.q as usize, c.arrived);
                let k = self.interval_of(arrived);
                let waited = (self.now - arrived) as f64;
                let sl = self.s.queues[q].config.service_level_ms as f64;
                self.c.answered[q][k] += 1;
                self.c.wait_answered_ms[q][k] += waited;
                self.c.wait_all_ms[q][k] += waited;
                if waited <= sl {
                    self.c.within[q][k] += 1;
                }
                if let Some(a) = a {
                    self.set_busy(a, 1);
                }
                if let Some(t) = &mut self.trace {
                    let tc = &mut t.contacts[n as usize];
                    tc.answered = Some(self.now);
                    tc.agent = a.map(|a| a as usize);
                }
                let h = self.handle_time(q);
                self.c.handle_ms[q][k] += h as f64;
                self.c.handled[q][k] += 1;
                self.at(self.now + h, Event::HandleDone { contact: n });
            }
            Output::Abandoned { contact, .. } => {
                let n = contact_no(contact) as usize;
                let (q, arrived) = (self.contacts[n].q as usize, self.contacts[n].arrived);
                self.contacts[n].stage = Stage::Done;
                if let Some(t) = &mut self.trace {
                    t.contacts[n].abandoned = Some(self.now);
                }
                let k = self.interval_of(arrived);
                self.c.abandoned[q][k] += 1;
                self.c.wait_all_ms[q][k] += (self.now - arrived) as f64;
                let s = self.s;
                if let (Some(r), Some(d)) = (&s.queues[q].retrial, self.retrial_delay[q])
                    && self.uniform() < r.probability
                {
                    let at = self.now + ms(d.sample(&mut self.rng));
                    if at < s.horizon_ms() {
                        self.at(
                            at,
                            Event::Arrival {
                                q: q as u32,
                                retrial: true,
                            },
                        );
                    }
                }
            }
            Output::Ended { contact, .. } => {
                let n = contact_no(contact) as usize;
                if let Some(t) = &mut self.trace
                    && let Some(tc) = t.contacts.get_mut(n)
                    && tc.answered.is_some()
                {
                    tc.ended = Some(self.now);
                    tc.completed.get_or_insert(self.now);
                }
                if let Some(c) = self.contacts.get_mut(n) {
                    let was = c.stage;
                    c.stage = Stage::Done;
                    if was == Stage::Answered
                        && let Some(a) = c.agent
                    {
                        self.set_busy(a, -1);
                    }
                }
            }
            Output::WrapUpStarted { contact, .. } => {
                if let Some(t) = &mut self.trace
                    && let Some(tc) = t.contacts.get_mut(contact_no(contact) as usize)
                {
                    tc.completed = Some(self.now);
                }
            }
            Output::AgentChanged { agent, status } => {
                if let Some(t) = &mut self.trace
                    && let Some(&a) = self.agent_index.get(&agent)
                {
                    let (status, reason) = match status {
                        AgentStatus::Offline => ("offline", None),
                        AgentStatus::Available => ("available", None),
                        AgentStatus::Busy => ("busy", None),
                        AgentStatus::WrapUp => ("wrap_up", None),
                        AgentStatus::Away(r) => ("away", Some(r)),
                    };
                    t.statuses.push(TracedStatus {
                        agent: a as usize,
                        at: self.now,
                        status,
                        reason,
                    });
                }
            }
            _ => {}
        }
    }

    fn event(&mut self, e: Event) {
        self.c.events += 1;
        match e {
            Event::Arrival { q, retrial } => {
                if !retrial {
                    self.next_arrival(q, self.now);
                }
                let n = self.contacts.len() as u64;
                self.contacts.push(Contact {
                    q,
                    arrived: self.now,
                    stage: Stage::Waiting,
                    agent: None,
                    callback: false,
                });
                if let Some(t) = &mut self.trace {
                    t.contacts.push(TracedContact {
                        queue: q as usize,
                        arrived: self.now,
                        answered: None,
                        agent: None,
                        completed: None,
                        ended: None,
                        abandoned: None,
                    });
                }
                let k = self.interval_of(self.now);
                self.c.offered[q as usize][k] += 1;
                let give_up = self.patience[q as usize]
                    .map(|p| self.now + ms(p.sample(&mut self.rng)).max(1));
                let s = self.s;
                let callback = match &s.queues[q as usize].callback {
                    Some(offer) if self.uniform() < offer.probability => {
                        Some(self.now + ms(offer.after_ms).max(1))
                    }
                    _ => None,
                };
                let queue = &self.s.queues[q as usize];
                self.input(Input::ContactArrived {
                    contact: contact_id(n),
                    queue: queue.config.id,
                    channel: queue.channel,
                    priority: 50,
                    agent: None,
                    attributes: Default::default(),
                    arrived_at: None,
                });
                // A caller answered at once never waits: their patience
                // and callback offer (drawn all the same, so the random
                // stream does not depend on it) need no event.
                if self.contacts[n as usize].stage == Stage::Waiting {
                    if let Some(at) = give_up {
                        self.at(at, Event::Abandon { contact: n });
                    }
                    if let Some(at) = callback {
                        self.at(at, Event::Callback { contact: n });
                    }
                }
            }
            Event::Abandon { contact } => {
                self.catch_up();
                let c = &self.contacts[contact as usize];
                if c.stage == Stage::Waiting && !c.callback {
                    self.input(Input::ContactAbandoned {
                        contact: contact_id(contact),
                    });
                }
            }
            Event::Callback { contact } => {
                self.catch_up();
                let c = &self.contacts[contact as usize];
                if c.stage == Stage::Waiting
                    && !c.callback
                    && self.feed(Input::CallbackRequested {
                        contact: contact_id(contact),
                    })
                {
                    let c = &mut self.contacts[contact as usize];
                    c.callback = true;
                    let (q, arrived) = (c.q as usize, c.arrived);
                    let k = self.interval_of(arrived);
                    self.c.callbacks[q][k] += 1;
                }
            }
            Event::HandleDone { contact } => self.input(Input::ContactCompleted {
                contact: contact_id(contact),
            }),
            Event::Accept { reservation } => {
                let r = self.reservations[reservation as usize];
                // A reservation that ended meanwhile (expired, abandoned) is
                // refused by the engine and changes nothing.
                self.feed(Input::Accept { reservation: r });
            }
            Event::Presence {
                agent,
                state,
                reason,
            } => {
                let a = agent as usize;
                self.settle(a);
                self.present[a] = state == ON;
                let presence = match state {
                    ON => Presence::Available,
                    AWAY => Presence::Away(self.reasons[reason as usize].clone()),
                    _ => Presence::Offline,
                };
                self.input(Input::AgentPresence {
                    agent: self.s.agents[a].config.id,
                    presence,
                });
            }
            Event::Tick => {
                if self.next_tick == Some(self.now) {
                    self.next_tick = None;
                }
                self.input(Input::Tick);
            }
        }
    }

    fn run(self) -> Counts {
        self.run_traced().0
    }

    fn run_traced(mut self) -> (Counts, Option<Trace>) {
        let horizon = self.s.horizon_ms();
        while let Some(Due { key, event: e }) = self.next_due() {
            let t = (key >> 64) as u64;
            if t >= horizon {
                break;
            }
            self.now = t;
            self.event(e);
        }
        self.now = horizon;
        for a in 0..self.s.agents.len() {
            self.settle(a);
        }
        (self.c, self.trace)
    }
}

/// Runs one replication (with the scenario's seed) and returns what
/// happened contact by contact, and every agent status change.
pub fn trace(s: &Scenario) -> Result<Trace, SimError> {
    s.validate()?;
    let mut run = Run::new(s, s.seed, true)?;
    run.trace = Some(Trace::default());
    Ok(run.run_traced().1.unwrap_or_default())
}

/// Runs one replication with `seed`; its raw counts.
pub(crate) fn replicate(s: &Scenario, seed: u64) -> Result<Counts, SimError> {
    Ok(Run::new(s, seed, false)?.run())
}

/// Runs every replication (seeds `seed`, `seed + 1`, …) on up to
/// `threads` threads, calling `progress(done)` as each finishes, and
/// summarises them. Replications are independent, so the result is the
/// same whatever the number of threads.
pub fn simulate(
    s: &Scenario,
    threads: usize,
    progress: impl Fn(u32) + Sync,
) -> Result<Report, SimError> {
    s.validate()?;
    let n = s.replications as usize;
    let threads = threads.clamp(1, n);
    let done = std::sync::atomic::AtomicU32::new(0);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut runs: Vec<Option<Result<Counts, SimError>>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        // Each thread takes the next replication not yet started, so a
        // thread slowed down (by other work on its core) takes fewer.
        let chunks: Vec<_> = (0..threads)
            .map(|_| {
                let (done, next, progress) = (&done, &next, &progress);
                scope.spawn(move || {
                    std::iter::from_fn(|| {
                        let r = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        (r < n).then(|| {
                            let out = replicate(s, s.seed.wrapping_add(r as u64));
                            let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            progress(k);
                            (r, out)
                        })
                    })
                    .collect::<Vec<_>>()
                })
            })
            .collect();
        for c in chunks {
            for (r, out) in c.join().unwrap_or_default() {
                runs[r] = Some(out);
            }
        }
    });
    let runs = runs
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(SimError::Invalid("a replication did not finish".into()))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(stats::summarise(s, &runs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn drawn_times_round_as_the_library_would() {
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let exp = Exp::new(1.0 / 180_000.0).unwrap();
        let edges = [
            0.0,
            0.4,
            0.5,
            1.0,
            1.5,
            2.5,
            1e6 + 0.5,
            1e12 + 0.25,
            -0.3,
            -7.0,
        ];
        let drawn = (0..100_000).map(|_| exp.sample(&mut rng));
        for v in edges.into_iter().chain(drawn) {
            assert_eq!(ms(v), v.round() as u64, "{v}");
            assert_eq!(ms_up(v), v.ceil() as u64, "{v}");
        }
        assert_eq!((ms(f64::NAN), ms_up(f64::NAN)), (0, 0));
    }
}
