//! Benchmark of the pure routing engine at contact-centre scale: 10,000
//! agents, 200 skills, 500 queues, 100,000 contacts waiting. Every agent is
//! busy; each cycle one agent completes a contact (and is at once reserved
//! the most urgent waiting contact it is eligible for), accepts that
//! reservation, and a new contact arrives, so the backlog stays at 100,000.
//! Reports events per second on one core (a pass with no clock reads),
//! then the latency of each event (a second pass, every event timed).
//!
//!   cargo bench -p sb-routing --bench engine [-- CYCLES]

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use hdrhistogram::Histogram;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use sb_model::{AgentId, Channel, ContactId, QueueId, SkillId, Strategy};
use sb_routing::*;
use uuid::Uuid;

const AGENTS: u128 = 10_000;
const SKILLS: u128 = 200;
const QUEUES: u128 = 500;
const WAITING: u128 = 100_000;

fn main() {
    let cycles: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let mut below = |n: u64| rng.next_u64() % n;
    let skill = |n: u128| SkillId::from_uuid(Uuid::from_u128(1_000_000 + n));
    let queue = |n: u128| QueueId::from_uuid(Uuid::from_u128(2_000_000 + n));
    let agent = |n: u128| AgentId::from_uuid(Uuid::from_u128(3_000_000 + n));
    let contact = |n: u128| ContactId::from_uuid(Uuid::from_u128(10_000_000 + n));
    let config = EngineConfig {
        max_contacts: 1_000_000,
        ..EngineConfig::default()
    };
    let mut e = Engine::new(config, 1);
    let mut now = 0u64;
    // Takes the engine's outputs, returning the reservations made.
    let drain = |e: &mut Engine| {
        let mut reserved = Vec::new();
        drain_into(e, &mut reserved);
        reserved
    };
    let strategies = [
        Strategy::LongestIdle,
        Strategy::MostSkilled,
        Strategy::FewestContacts,
        Strategy::RoundRobin,
    ];
    for q in 0..QUEUES {
        let mut c = QueueConfig::simple(queue(q));
        c.strategy = strategies[(q % 4) as usize];
        c.ring_timeout_ms = 3_600_000;
        c.steps = vec![
            Step {
                after_ms: 0,
                needs: vec![Need {
                    skill: skill(q % SKILLS),
                    min_proficiency: 1 + (below(5) as u8),
                }],
            },
            Step {
                after_ms: 120_000,
                needs: vec![Need {
                    skill: skill(q % SKILLS),
                    min_proficiency: 1,
                }],
            },
        ];
        e.handle_input(now, Input::ConfigureQueue(c)).unwrap();
    }
    for a in 0..AGENTS {
        let skills: Vec<(SkillId, u8)> = (0..5)
            .map(|_| (skill(below(SKILLS as u64) as u128), 1 + below(10) as u8))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        e.handle_input(
            now,
            Input::ConfigureAgent(AgentConfig {
                id: agent(a),
                skills,
                capacity: [1, 0, 0, 0],
                voice_blocks_others: true,
                attributes: BTreeMap::new(),
            }),
        )
        .unwrap();
    }
    drain(&mut e);
    // Everyone logs in and takes one contact, so all are busy.
    let mut next = 0u128;
    let mut active: VecDeque<ContactId> = VecDeque::new();
    for a in 0..AGENTS {
        e.handle_input(
            now,
            Input::AgentPresence {
                agent: agent(a),
                presence: Presence::Available,
            },
        )
        .unwrap();
    }
    drain(&mut e);
    let arrive = |e: &mut Engine, n: u128, below: &mut dyn FnMut(u64) -> u64, now: u64| {
        e.handle_input(
            now,
            Input::ContactArrived {
                contact: contact(n),
                queue: queue(below(QUEUES as u64) as u128),
                channel: Channel::Voice,
                priority: 50,
                agent: None,
                attributes: BTreeMap::new(),
                arrived_at: None,
            },
        )
        .unwrap();
    };
    while active.len() < AGENTS as usize && next < 3 * AGENTS {
        arrive(&mut e, next, &mut below, now);
        next += 1;
        for (rid, c) in drain(&mut e) {
            e.handle_input(now, Input::Accept { reservation: rid })
                .unwrap();
            active.push_back(c);
        }
        drain(&mut e);
    }
    let busy = active.len();
    let mut waiting = 0u128;
    while waiting < WAITING {
        arrive(&mut e, next, &mut below, now);
        next += 1;
        waiting += 1;
        for (rid, c) in drain(&mut e) {
            e.handle_input(now, Input::Accept { reservation: rid })
                .unwrap();
            active.push_back(c);
        }
        drain(&mut e);
    }
    println!(
        "setup: {AGENTS} agents ({busy} busy), {SKILLS} skills, {QUEUES} queues, {} contacts held, {} waiting",
        e.contact_count(),
        (0..QUEUES)
            .map(|q| e.waiting(queue(q)).unwrap_or(0))
            .sum::<usize>()
    );

    // Two passes of the same cycle. The first measures throughput with no
    // clock read per event; the second times every event for latency (its
    // own events/s, lower by the cost of the clock reads, is printed too).
    // The first pass includes the moment, 12,000 cycles in, when the
    // 100,000 contacts that arrived together at set-up all reach their
    // second rule step at once.
    let mut reserved = Vec::new();
    for pass in ["RESULT", "LATENCY"] {
        let timed = pass == "LATENCY";
        let mut hist = Histogram::<u64>::new(3).unwrap();
        let mut events = 0u64;
        let start = Instant::now();
        for _ in 0..cycles {
            now += 10;
            // An agent finishes a contact and is reserved the next one it suits.
            let Some(done) = active.pop_front() else {
                break;
            };
            let t = timed.then(Instant::now);
            e.handle_input(now, Input::ContactCompleted { contact: done })
                .unwrap();
            time(&mut hist, t);
            events += 1;
            drain_into(&mut e, &mut reserved);
            for (rid, c) in reserved.drain(..) {
                let t = timed.then(Instant::now);
                e.handle_input(now, Input::Accept { reservation: rid })
                    .unwrap();
                time(&mut hist, t);
                events += 1;
                active.push_back(c);
            }
            drain_into(&mut e, &mut reserved);
            reserved.clear();
            // A new contact arrives.
            let t = timed.then(Instant::now);
            arrive(&mut e, next, &mut below, now);
            time(&mut hist, t);
            events += 1;
            next += 1;
            drain_into(&mut e, &mut reserved);
            for (rid, c) in reserved.drain(..) {
                e.handle_input(now, Input::Accept { reservation: rid })
                    .unwrap();
                active.push_back(c);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let waiting = (0..QUEUES)
            .map(|q| e.waiting(queue(q)).unwrap_or(0))
            .sum::<usize>();
        if timed {
            println!(
                "{pass} events={events} seconds={secs:.2} events_per_sec={:.0} p50_us={:.2} p99_us={:.2} p999_us={:.2} max_us={:.2} waiting_after={waiting}",
                events as f64 / secs,
                hist.value_at_quantile(0.5) as f64 / 1000.0,
                hist.value_at_quantile(0.99) as f64 / 1000.0,
                hist.value_at_quantile(0.999) as f64 / 1000.0,
                hist.max() as f64 / 1000.0,
            );
        } else {
            println!(
                "{pass} events={events} seconds={secs:.2} events_per_sec={:.0} waiting_after={waiting}",
                events as f64 / secs,
            );
        }
    }
}

/// Records the time since `t`, when the event was timed.
fn time(hist: &mut Histogram<u64>, t: Option<Instant>) {
    if let Some(t) = t {
        hist.record(t.elapsed().as_nanos() as u64).unwrap();
    }
}

/// Takes the engine's outputs, keeping the reservations made.
fn drain_into(e: &mut Engine, reserved: &mut Vec<(ReservationId, ContactId)>) {
    while let Some(o) = e.poll_output() {
        if let Output::Reserved {
            reservation,
            contact,
            ..
        } = o
        {
            reserved.push((reservation, contact));
        }
    }
}
