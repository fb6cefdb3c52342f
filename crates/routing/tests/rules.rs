//! Hand-checked expectations for each strategy and routing rule, through
//! one small driver.

use std::collections::BTreeMap;

use sb_model::{AgentId, Channel, ContactId, QueueId, SkillId, Strategy};
use sb_routing::*;
use uuid::Uuid;

const Q: u128 = 1;
const Q2: u128 = 2;
const SKILL: u128 = 50;

fn qid(n: u128) -> QueueId {
    QueueId::from_uuid(Uuid::from_u128(n))
}
fn aid(n: u128) -> AgentId {
    AgentId::from_uuid(Uuid::from_u128(100 + n))
}
fn cid(n: u128) -> ContactId {
    ContactId::from_uuid(Uuid::from_u128(1000 + n))
}
fn skill() -> SkillId {
    SkillId::from_uuid(Uuid::from_u128(SKILL))
}

struct Driver {
    e: Engine,
    now: u64,
    out: Vec<Output>,
}

impl Driver {
    fn new(strategy: Strategy) -> Driver {
        Self::with(strategy, |_| {})
    }

    fn with(strategy: Strategy, tweak: impl FnOnce(&mut QueueConfig)) -> Driver {
        Self::with_engine(EngineConfig::default(), strategy, tweak)
    }

    fn with_engine(
        config: EngineConfig,
        strategy: Strategy,
        tweak: impl FnOnce(&mut QueueConfig),
    ) -> Driver {
        let mut d = Driver {
            e: Engine::new(config, 7),
            now: 0,
            out: Vec::new(),
        };
        let mut q = QueueConfig::simple(qid(Q));
        q.strategy = strategy;
        q.steps = vec![Step {
            after_ms: 0,
            needs: vec![Need {
                skill: skill(),
                min_proficiency: 1,
            }],
        }];
        tweak(&mut q);
        d.ok(Input::ConfigureQueue(q));
        d
    }

    fn ok(&mut self, input: Input) {
        self.e.handle_input(self.now, input).expect("accepted");
        while let Some(o) = self.e.poll_output() {
            self.out.push(o);
        }
    }

    fn at(&mut self, ms: u64) {
        self.now = ms;
        self.ok(Input::Tick);
    }

    fn agent(&mut self, n: u128, proficiency: u8, capacity: [u8; 4]) {
        self.agent_with(n, proficiency, capacity, BTreeMap::new());
    }

    fn agent_with(
        &mut self,
        n: u128,
        proficiency: u8,
        capacity: [u8; 4],
        attributes: BTreeMap<String, String>,
    ) {
        self.ok(Input::ConfigureAgent(AgentConfig {
            id: aid(n),
            skills: vec![(skill(), proficiency)],
            capacity,
            voice_blocks_others: true,
            attributes,
        }));
    }

    fn available(&mut self, n: u128) {
        self.ok(Input::AgentPresence {
            agent: aid(n),
            presence: Presence::Available,
        });
    }

    fn arrive(&mut self, n: u128, channel: Channel, priority: u8) {
        self.arrive_in(n, Q, channel, priority, BTreeMap::new());
    }

    fn arrive_in(
        &mut self,
        n: u128,
        queue: u128,
        channel: Channel,
        priority: u8,
        attributes: BTreeMap<String, String>,
    ) {
        self.ok(Input::ContactArrived {
            contact: cid(n),
            queue: qid(queue),
            channel,
            priority,
            agent: None,
            attributes,
            arrived_at: None,
        });
    }

    /// Reservations made since the last call: (contact, agent, reservation).
    fn reserved(&mut self) -> Vec<(ContactId, AgentId, ReservationId)> {
        let r = self
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Reserved {
                    contact,
                    agent,
                    reservation,
                    ..
                } => Some((*contact, *agent, *reservation)),
                _ => None,
            })
            .collect();
        self.out.clear();
        r
    }

    /// The agent the next reservation went to.
    fn who(&mut self) -> AgentId {
        let r = self.reserved();
        assert_eq!(r.len(), 1, "one reservation expected: {r:?}");
        r[0].1
    }

    /// Answers and completes a contact at once (no wrap-up configured).
    fn handle(&mut self, talk_ms: u64) {
        let r = self.reserved();
        let (c, _, rid) = r[0];
        self.ok(Input::Accept { reservation: rid });
        self.now += talk_ms;
        self.ok(Input::ContactCompleted { contact: c });
    }
}

fn three_agents(d: &mut Driver, profs: [u8; 3]) {
    for (i, p) in profs.iter().enumerate() {
        d.agent(i as u128, *p, [1, 1, 1, 1]);
    }
}

#[test]
fn longest_idle_takes_the_agent_free_longest() {
    let mut d = Driver::new(Strategy::LongestIdle);
    three_agents(&mut d, [5, 5, 5]);
    d.at(100);
    d.available(1);
    d.at(200);
    d.available(0);
    d.at(300);
    d.available(2);
    d.arrive(1, Channel::Voice, 50);
    assert_eq!(d.who(), aid(1));
}

#[test]
fn most_skilled_takes_the_highest_proficiency() {
    let mut d = Driver::new(Strategy::MostSkilled);
    three_agents(&mut d, [3, 9, 5]);
    for a in 0..3 {
        d.available(a);
    }
    d.arrive(1, Channel::Voice, 50);
    assert_eq!(d.who(), aid(1));
}

#[test]
fn fewest_contacts_and_least_talk_time_balance_the_day() {
    for (strategy, expect) in [(Strategy::FewestContacts, 2), (Strategy::LeastTalkTime, 1)] {
        let mut d = Driver::new(strategy);
        three_agents(&mut d, [5, 5, 5]);
        // Agent 0 takes two short contacts, agent 1 one long one, agent 2 none…
        d.available(0);
        d.arrive(1, Channel::Voice, 50);
        d.handle(10_000);
        d.arrive(2, Channel::Voice, 50);
        d.handle(10_000);
        d.ok(Input::AgentPresence {
            agent: aid(0),
            presence: Presence::Away("lunch".into()),
        });
        d.available(1);
        d.arrive(3, Channel::Voice, 50);
        d.handle(5_000);
        // …then all three are free: agent 2 has handled fewest, agent 1 has
        // talked least of those who talked (agent 2 has talked 0 but so
        // least-talk-time also favours it).
        d.available(0);
        d.available(2);
        d.arrive(4, Channel::Voice, 50);
        let got = d.who();
        if strategy == Strategy::FewestContacts {
            assert_eq!(got, aid(expect));
        } else {
            assert_eq!(got, aid(2), "no talk time beats any");
        }
    }
}

#[test]
fn round_robin_remembers_where_it_left_off() {
    let mut d = Driver::new(Strategy::RoundRobin);
    three_agents(&mut d, [5, 5, 5]);
    for a in 0..3 {
        d.available(a);
    }
    let mut order = Vec::new();
    for n in 0..6 {
        d.arrive(n, Channel::Voice, 50);
        let r = d.reserved();
        order.push(r[0].1);
        d.out.clear();
        d.ok(Input::Accept {
            reservation: r[0].2,
        });
        d.ok(Input::ContactCompleted { contact: r[0].0 });
        d.out.clear();
    }
    assert_eq!(order, vec![aid(0), aid(1), aid(2), aid(0), aid(1), aid(2)]);
}

#[test]
fn linear_order_follows_penalties_then_the_next_tier() {
    let mut d = Driver::with(Strategy::Linear, |q| {
        q.penalties.insert(aid(0), 2);
        q.penalties.insert(aid(1), 0);
        q.penalties.insert(aid(2), 1);
    });
    three_agents(&mut d, [5, 5, 5]);
    for a in 0..3 {
        d.available(a);
    }
    d.arrive(1, Channel::Voice, 50);
    assert_eq!(d.who(), aid(1));
    d.arrive(2, Channel::Voice, 50);
    assert_eq!(d.who(), aid(2));
    d.arrive(3, Channel::Voice, 50);
    assert_eq!(d.who(), aid(0));
}

#[test]
fn weighted_random_favours_proficiency_and_replays_with_the_seed() {
    let run = || {
        let mut d = Driver::new(Strategy::WeightedRandom);
        d.agent(0, 1, [1, 0, 0, 0]);
        d.agent(1, 9, [1, 0, 0, 0]);
        d.available(0);
        d.available(1);
        let mut picks = Vec::new();
        for n in 0..1000 {
            d.arrive(n, Channel::Voice, 50);
            let r = d.reserved();
            picks.push(r[0].1);
            d.ok(Input::Accept {
                reservation: r[0].2,
            });
            d.ok(Input::ContactCompleted { contact: r[0].0 });
            d.out.clear();
        }
        picks
    };
    let a = run();
    let strong = a.iter().filter(|x| **x == aid(1)).count();
    assert!(
        (850..=950).contains(&strong),
        "weight 9 of 10 should win about 900 of 1000, won {strong}"
    );
    assert_eq!(a, run(), "the same seed gives the same choices");
}

#[test]
fn ring_all_rings_every_eligible_agent_and_the_first_to_accept_wins() {
    let mut d = Driver::new(Strategy::RingAll);
    three_agents(&mut d, [5, 5, 5]);
    for a in 0..3 {
        d.available(a);
    }
    d.arrive(1, Channel::Voice, 50);
    let r = d.reserved();
    assert_eq!(r.len(), 3);
    d.ok(Input::Accept {
        reservation: r[1].2,
    });
    let ends: Vec<(ReservationId, ReservationEnd)> = d
        .out
        .iter()
        .filter_map(|o| match o {
            Output::ReservationEnded {
                reservation, end, ..
            } => Some((*reservation, *end)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        vec![
            (r[1].2, ReservationEnd::Accepted),
            (r[0].2, ReservationEnd::Cancelled),
            (r[2].2, ReservationEnd::Cancelled)
        ]
    );
    assert!(matches!(
        d.e.handle_input(
            d.now,
            Input::Accept {
                reservation: r[0].2
            }
        ),
        Err(RoutingError::UnknownReservation(_))
    ));
}

#[test]
fn priority_wins_but_aging_stops_starvation() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.arrive(1, Channel::Voice, 10); // low priority, early
    d.at(10 * 60_000);
    d.arrive(2, Channel::Voice, 50); // high priority, 10 minutes later
    assert_eq!(
        d.e.waiting_order(qid(Q)),
        vec![cid(2), cid(1)],
        "10 minutes of aging is 10 levels: 20 < 50"
    );
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.arrive(1, Channel::Voice, 10);
    d.at(50 * 60_000);
    d.arrive(2, Channel::Voice, 50);
    assert_eq!(
        d.e.waiting_order(qid(Q)),
        vec![cid(1), cid(2)],
        "after 50 minutes the old contact ranks above"
    );
    d.available(0);
    assert_eq!(d.reserved()[0].0, cid(1));
}

#[test]
fn lifo_serves_the_newest_first_within_a_priority() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| q.lifo = true);
    d.agent(0, 5, [1, 0, 0, 0]);
    for n in 0..3 {
        d.at(n as u64 * 1000);
        d.arrive(n, Channel::Voice, 50);
    }
    assert_eq!(d.e.waiting_order(qid(Q)), vec![cid(2), cid(1), cid(0)]);
}

#[test]
fn escalation_widens_the_requirement_after_a_wait() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.steps = vec![
            Step {
                after_ms: 0,
                needs: vec![Need {
                    skill: skill(),
                    min_proficiency: 8,
                }],
            },
            Step {
                after_ms: 30_000,
                needs: vec![Need {
                    skill: skill(),
                    min_proficiency: 3,
                }],
            },
        ];
    });
    d.agent(0, 5, [1, 0, 0, 0]);
    d.available(0);
    d.arrive(1, Channel::Voice, 50);
    assert!(d.reserved().is_empty(), "proficiency 5 is below 8");
    d.at(29_999);
    assert!(d.reserved().is_empty());
    assert_eq!(
        d.e.poll_timeout(),
        Some(30_000),
        "the next wake-up is the step"
    );
    d.at(30_000);
    let r = d.out.iter().find_map(|o| match o {
        Output::Reserved { why, .. } => Some(why.clone()),
        _ => None,
    });
    let why = r.expect("reserved at the step");
    assert_eq!((why.step, why.eligible, why.waited_ms), (1, 1, 30_000));
}

#[test]
fn overflow_after_a_wait_and_above_a_length() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.overflow = Some(OverflowRule {
            to: qid(Q2),
            after_ms: Some(60_000),
            length_over: Some(2),
        });
    });
    d.ok(Input::ConfigureQueue(QueueConfig::simple(qid(Q2))));
    d.arrive(1, Channel::Voice, 50);
    d.arrive(2, Channel::Voice, 50);
    d.arrive(3, Channel::Voice, 50);
    assert_eq!(
        d.e.queue_of(cid(3)),
        Some(qid(Q2)),
        "the third arrival finds two waiting and overflows"
    );
    d.at(60_000);
    assert_eq!(d.e.queue_of(cid(1)), Some(qid(Q2)));
    assert_eq!(d.e.waiting(qid(Q)), Some(0));
    assert_eq!(
        d.e.waiting_order(qid(Q2)),
        vec![cid(1), cid(2), cid(3)],
        "they keep their arrival order"
    );
    assert_eq!(d.e.queue_stats(qid(Q)).unwrap().overflowed_out, 3);
}

#[test]
fn max_wait_closes_email_and_offers_voice_a_callback() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| q.max_wait_ms = Some(120_000));
    d.arrive(1, Channel::Voice, 50);
    d.arrive(2, Channel::Email, 50);
    d.at(120_000);
    let reached: Vec<(ContactId, MaxWaitAction)> = d
        .out
        .iter()
        .filter_map(|o| match o {
            Output::MaxWaitReached {
                contact, action, ..
            } => Some((*contact, *action)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reached,
        vec![
            (cid(1), MaxWaitAction::Callback),
            (cid(2), MaxWaitAction::Close)
        ]
    );
    assert!(d.out.contains(&Output::Ended {
        contact: cid(2),
        agent: None
    }));
    assert_eq!(
        d.e.waiting_order(qid(Q)),
        vec![cid(1)],
        "the callback keeps its place"
    );
    d.agent(0, 5, [1, 1, 1, 1]);
    d.available(0);
    let callback = d
        .out
        .iter()
        .any(|o| matches!(o, Output::Reserved { callback: true, .. }));
    assert!(callback, "the callback is routed like any contact");
}

#[test]
fn missed_reservations_set_the_agent_away_and_the_contact_moves_on() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.agent(1, 5, [1, 0, 0, 0]);
    d.available(0);
    d.at(10);
    d.available(1);
    d.arrive(1, Channel::Voice, 50);
    let r = d.reserved();
    assert_eq!(r[0].1, aid(0));
    d.at(15_010); // reserved at 10 ms, rings 15 s: expired
    let r2 = d.reserved();
    assert_eq!(r2[0].1, aid(1), "the next agent gets it");
    d.ok(Input::Reject {
        reservation: r2[0].2,
    });
    // Agent 0 may not get it again (it missed it), so it waits.
    assert!(d.reserved().is_empty());
    d.arrive(2, Channel::Voice, 50);
    let r3 = d.reserved();
    assert_eq!(r3.len(), 1);
    let missed = r3[0].1;
    d.ok(Input::Reject {
        reservation: r3[0].2,
    });
    assert_eq!(
        d.e.agent_status(missed),
        Some(AgentStatus::Away("missed".into())),
        "two misses in a row"
    );
}

#[test]
fn capacity_per_channel_and_voice_blocking() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 3, 0]);
    d.available(0);
    for n in 0..4 {
        d.arrive(n, Channel::Chat, 50);
    }
    assert_eq!(d.reserved().len(), 3, "three chats at once");
    assert_eq!(d.e.waiting(qid(Q)), Some(1));
    // A voice contact is not offered while chats are open (voice blocks others both ways).
    d.arrive(10, Channel::Voice, 50);
    assert!(d.reserved().is_empty());
}

#[test]
fn wrap_up_holds_the_slot_until_it_ends() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| q.wrap_up_ms = 30_000);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.available(0);
    d.arrive(1, Channel::Voice, 50);
    let r = d.reserved();
    d.ok(Input::Accept {
        reservation: r[0].2,
    });
    d.ok(Input::ContactCompleted { contact: cid(1) });
    assert_eq!(d.e.agent_status(aid(0)), Some(AgentStatus::WrapUp));
    d.arrive(2, Channel::Voice, 50);
    assert!(d.reserved().is_empty(), "no offer during wrap-up");
    d.at(30_000);
    assert_eq!(
        d.reserved()[0].0,
        cid(2),
        "wrap-up ends on time and work flows"
    );
}

#[test]
fn conditions_compare_agent_and_contact_attributes() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.condition = Some(Expr::parse("language == task.language").unwrap())
    });
    let attrs = |l: &str| BTreeMap::from([("language".to_owned(), l.to_owned())]);
    d.agent_with(0, 5, [1, 0, 0, 0], attrs("fr"));
    d.agent_with(1, 5, [1, 0, 0, 0], attrs("en"));
    d.available(0);
    d.available(1);
    d.arrive_in(1, Q, Channel::Voice, 50, attrs("en"));
    assert_eq!(d.who(), aid(1));
    d.arrive_in(2, Q, Channel::Voice, 50, attrs("de"));
    assert!(d.reserved().is_empty(), "nobody speaks German");
}

#[test]
fn service_level_counts_short_abandons_out() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.arrive(1, Channel::Voice, 50);
    d.at(2_000);
    d.ok(Input::ContactAbandoned { contact: cid(1) }); // short
    d.arrive(2, Channel::Voice, 50);
    d.at(12_000);
    d.ok(Input::ContactAbandoned { contact: cid(2) }); // within 20 s
    d.arrive(3, Channel::Voice, 50);
    d.at(42_000);
    d.ok(Input::ContactAbandoned { contact: cid(3) }); // after 30 s
    d.arrive(4, Channel::Voice, 50);
    d.at(52_000);
    d.available(0);
    d.handle(1_000); // answered after 10 s
    let s = d.e.queue_stats(qid(Q)).unwrap().clone();
    assert_eq!(
        (
            s.offered,
            s.answered,
            s.answered_within,
            s.abandoned,
            s.abandoned_within,
            s.short_abandons
        ),
        (4, 1, 1, 2, 1, 1)
    );
    assert_eq!(s.service_level_answered(), Some(1.0));
    assert_eq!(s.service_level_offered(), Some(2.0 / 3.0));
    assert_eq!(s.asa_ms(), Some(10_000));
}

#[test]
fn position_and_expected_wait() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.available(0);
    for n in 0..4 {
        d.arrive(n, Channel::Voice, 50);
    }
    // Answers 60 s apart teach the queue its pace.
    for _ in 0..2 {
        let r = d.reserved();
        d.ok(Input::Accept {
            reservation: r[0].2,
        });
        d.now += 60_000;
        d.ok(Input::ContactCompleted { contact: r[0].0 });
    }
    let r = d.reserved();
    d.ok(Input::Accept {
        reservation: r[0].2,
    });
    let (pos, wait) = d.e.position(cid(3)).unwrap();
    assert_eq!(pos, 1);
    assert_eq!(wait, Some(60_000));
}

#[test]
fn transfers_to_a_queue_or_a_named_agent() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.ok(Input::ConfigureQueue(QueueConfig::simple(qid(Q2))));
    d.agent(0, 5, [1, 0, 0, 0]);
    d.agent(1, 5, [1, 0, 0, 0]);
    d.agent(2, 5, [1, 0, 0, 0]);
    d.available(0);
    d.arrive(1, Channel::Voice, 50);
    let r = d.reserved();
    d.ok(Input::Accept {
        reservation: r[0].2,
    });
    d.available(1);
    d.available(2);
    d.out.clear();
    d.ok(Input::Transfer {
        contact: cid(1),
        to: TransferTarget::Agent {
            queue: qid(Q2),
            agent: aid(2),
        },
    });
    assert!(d.out.contains(&Output::Transferred {
        contact: cid(1),
        from: qid(Q),
        to: qid(Q2),
        agent: Some(aid(0))
    }));
    assert_eq!(d.who(), aid(2), "only the named agent");
}

#[test]
fn bad_input_changes_nothing() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    let errs = [
        (
            Input::ContactArrived {
                contact: cid(1),
                queue: qid(99),
                channel: Channel::Voice,
                priority: 5,
                agent: None,
                attributes: BTreeMap::new(),
                arrived_at: None,
            },
            "unknown queue",
        ),
        (
            Input::Accept {
                reservation: ReservationId(42),
            },
            "unknown or finished reservation",
        ),
        (
            Input::ContactCompleted { contact: cid(7) },
            "unknown contact",
        ),
        (
            Input::AgentPresence {
                agent: aid(9),
                presence: Presence::Available,
            },
            "unknown agent",
        ),
    ];
    for (input, text) in errs {
        let e = d.e.handle_input(d.now, input).unwrap_err();
        assert!(e.to_string().starts_with(text), "{e}");
        assert!(d.e.poll_output().is_none());
    }
    d.arrive(1, Channel::Voice, 50);
    assert!(matches!(
        d.e.handle_input(
            d.now,
            Input::ContactArrived {
                contact: cid(1),
                queue: qid(Q),
                channel: Channel::Voice,
                priority: 5,
                agent: None,
                attributes: BTreeMap::new(),
                arrived_at: None
            }
        ),
        Err(RoutingError::DuplicateContact(_))
    ));
    assert!(matches!(
        d.e.handle_input(d.now, Input::ContactCompleted { contact: cid(1) }),
        Err(RoutingError::WrongState { .. })
    ));
    let mut bad = QueueConfig::simple(qid(Q2));
    bad.steps[0].after_ms = 5;
    assert!(matches!(
        d.e.handle_input(d.now, Input::ConfigureQueue(bad)),
        Err(RoutingError::InvalidConfig(_))
    ));
    assert_eq!(d.e.waiting(qid(Q)), Some(1));
    d.e.check_invariants().unwrap();
}

#[test]
fn a_restart_restores_queue_order_and_work_in_progress() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.at(100_000);
    // Restored in any order, contacts keep the order of their arrival times.
    for (n, at) in [(2, 30_000), (1, 10_000), (3, 50_000)] {
        d.ok(Input::ContactArrived {
            contact: cid(n),
            queue: qid(Q),
            channel: Channel::Voice,
            priority: 50,
            agent: None,
            attributes: BTreeMap::new(),
            arrived_at: Some(at),
        });
    }
    assert_eq!(d.e.waiting_order(qid(Q)), vec![cid(1), cid(2), cid(3)]);
    // The agent was on a call: it holds the slot, so nothing is offered.
    d.ok(Input::ContactInProgress {
        contact: cid(9),
        queue: qid(Q),
        channel: Channel::Voice,
        agent: aid(0),
        answered_at: 90_000,
        wrap_up_until: None,
    });
    d.available(0);
    assert!(d.reserved().is_empty());
    assert_eq!(d.e.agent_status(aid(0)), Some(AgentStatus::Busy));
    d.ok(Input::ContactCompleted { contact: cid(9) });
    assert_eq!(
        d.reserved()[0].0,
        cid(1),
        "the oldest restored contact goes first"
    );
    d.e.check_invariants().unwrap();
}

#[test]
fn ring_progressive_adds_an_agent_each_step_until_one_answers() {
    let mut d = Driver::with(Strategy::RingProgressive, |q| {
        q.ring_step_ms = 5_000;
        q.ring_timeout_ms = 30_000;
    });
    three_agents(&mut d, [5, 5, 5]);
    for (a, t) in [(2, 10), (0, 20), (1, 30)] {
        d.at(t);
        d.available(a);
    }
    d.at(100);
    d.arrive(1, Channel::Voice, 50);
    let first = d.reserved();
    assert_eq!(
        first.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![aid(2)],
        "the longest idle rings first"
    );
    d.at(5_100);
    let second = d.reserved();
    assert_eq!(
        second.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![aid(0)],
        "after one step the next joins"
    );
    d.at(10_100);
    let third = d.reserved();
    assert_eq!(third.iter().map(|r| r.1).collect::<Vec<_>>(), vec![aid(1)]);
    d.ok(Input::Accept {
        reservation: second[0].2,
    });
    let cancelled = d
        .out
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::ReservationEnded {
                    end: ReservationEnd::Cancelled,
                    ..
                }
            )
        })
        .count();
    assert_eq!(cancelled, 2, "the others stop ringing");
    d.at(15_100);
    assert!(d.reserved().is_empty(), "nothing more rings once answered");
    // Email is never rung progressively.
    d.arrive(2, Channel::Email, 50);
    d.at(30_000);
    d.e.check_invariants().unwrap();
}

#[test]
fn a_closed_queue_turns_arrivals_away_but_serves_those_already_waiting() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.when_closed = ClosedAction::Voicemail;
    });
    d.arrive(1, Channel::Voice, 50);
    d.ok(Input::QueueHours {
        queue: qid(Q),
        open: false,
    });
    assert!(d.out.contains(&Output::QueueHoursChanged {
        queue: qid(Q),
        open: false
    }));
    d.out.clear();
    d.arrive(2, Channel::Voice, 50);
    assert_eq!(
        d.out,
        vec![
            Output::ArrivedClosed {
                contact: cid(2),
                queue: qid(Q),
                action: ClosedAction::Voicemail
            },
            Output::Ended {
                contact: cid(2),
                agent: None
            }
        ]
    );
    assert_eq!(
        d.e.contact_view(cid(2)),
        None,
        "the engine holds nothing of it"
    );
    let stats = d.e.queue_stats(qid(Q)).unwrap();
    assert_eq!((stats.offered, stats.arrived_closed), (1, 1));
    // The caller who was already waiting is still served after closing.
    d.out.clear();
    d.agent(0, 5, [1, 1, 1, 1]);
    d.available(0);
    assert_eq!(d.reserved()[0].0, cid(1));
    // Telling it "closed" again changes nothing; opening lets arrivals in.
    d.ok(Input::QueueHours {
        queue: qid(Q),
        open: false,
    });
    assert!(d.out.is_empty());
    d.ok(Input::QueueHours {
        queue: qid(Q),
        open: true,
    });
    d.arrive(3, Channel::Voice, 50);
    assert_eq!(d.e.waiting_order(qid(Q)), vec![cid(3)]);
    assert!(
        d.e.handle_input(
            d.now,
            Input::QueueHours {
                queue: qid(99),
                open: true
            }
        )
        .is_err()
    );
}

#[test]
fn closed_arrivals_can_overflow_or_book_a_callback() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.when_closed = ClosedAction::Overflow(qid(Q2));
    });
    let mut q2 = QueueConfig::simple(qid(Q2));
    q2.when_closed = ClosedAction::Callback;
    d.ok(Input::ConfigureQueue(q2));
    d.ok(Input::QueueHours {
        queue: qid(Q),
        open: false,
    });
    d.arrive(1, Channel::Voice, 50);
    assert_eq!(
        d.e.queue_of(cid(1)),
        Some(qid(Q2)),
        "sent to the open queue"
    );
    assert!(d.out.contains(&Output::Overflowed {
        contact: cid(1),
        from: qid(Q),
        to: qid(Q2)
    }));
    // Both closed: the second queue books a callback, which keeps a place.
    d.ok(Input::QueueHours {
        queue: qid(Q2),
        open: false,
    });
    d.out.clear();
    d.arrive(2, Channel::Voice, 50);
    assert!(d.out.contains(&Output::CallbackScheduled {
        contact: cid(2),
        queue: qid(Q2)
    }));
    assert_eq!(d.e.waiting_order(qid(Q2)), vec![cid(1), cid(2)]);
    // A restored contact (it arrived before the restart) is let in.
    d.ok(Input::ContactArrived {
        contact: cid(3),
        queue: qid(Q),
        channel: Channel::Email,
        priority: 50,
        agent: None,
        attributes: BTreeMap::new(),
        arrived_at: Some(0),
    });
    assert_eq!(d.e.queue_of(cid(3)), Some(qid(Q)));
    // A queue cannot send its closed arrivals to itself.
    let mut bad = QueueConfig::simple(qid(Q2));
    bad.when_closed = ClosedAction::Overflow(qid(Q2));
    assert!(d.e.handle_input(d.now, Input::ConfigureQueue(bad)).is_err());
}

#[test]
fn waiting_voice_and_chat_are_told_their_place_periodically() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.announce_every_ms = Some(30_000);
    });
    d.arrive(1, Channel::Voice, 50);
    d.arrive(2, Channel::Chat, 50);
    d.arrive(3, Channel::Email, 50);
    d.out.clear();
    d.at(29_999);
    assert!(d.out.is_empty());
    d.at(30_000);
    let told: Vec<(ContactId, usize)> = d
        .out
        .iter()
        .filter_map(|o| match o {
            Output::Announce {
                contact, position, ..
            } => Some((*contact, *position)),
            _ => None,
        })
        .collect();
    assert_eq!(
        told,
        vec![(cid(1), 1), (cid(2), 2)],
        "email is not announced"
    );
    // The first is answered; the chat moves up and is told so 30 s later.
    d.agent(0, 5, [1, 1, 1, 1]);
    d.available(0);
    d.handle(1_000);
    d.out.clear();
    d.at(60_000);
    let told: Vec<(ContactId, usize)> = d
        .out
        .iter()
        .filter_map(|o| match o {
            Output::Announce {
                contact, position, ..
            } => Some((*contact, *position)),
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![(cid(2), 1)]);
    // Zero is refused as a period.
    let mut bad = QueueConfig::simple(qid(Q2));
    bad.announce_every_ms = Some(0);
    assert!(d.e.handle_input(d.now, Input::ConfigureQueue(bad)).is_err());
}

#[test]
fn a_contact_kept_for_its_agent_opens_to_all_after_a_wait() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.requested_agent_ms = Some(30_000);
    });
    d.agent(0, 5, [1, 1, 1, 1]);
    d.agent(1, 5, [1, 1, 1, 1]);
    d.available(0);
    d.out.clear();
    d.ok(Input::ContactArrived {
        contact: cid(1),
        queue: qid(Q),
        channel: Channel::Chat,
        priority: 50,
        agent: Some(aid(1)),
        attributes: BTreeMap::new(),
        arrived_at: None,
    });
    assert!(
        d.reserved().is_empty(),
        "agent 0 is free but not the one asked for"
    );
    d.at(29_999);
    assert!(d.reserved().is_empty());
    d.at(30_000);
    assert_eq!(
        d.who(),
        aid(0),
        "after the wait anyone eligible may take it"
    );
}

#[test]
fn timers_that_can_no_longer_fire_are_not_asked_for() {
    // Ring timeout 15 s, wrap-up 30 s.
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.ring_timeout_ms = 15_000;
        q.wrap_up_ms = 30_000;
    });
    assert_eq!(d.e.poll_timeout(), None);
    d.agent(1, 5, [1, 1, 1, 1]);
    d.available(1);
    d.now = 1_000;
    d.arrive(1, Channel::Voice, 50);
    let r = d.reserved();
    assert_eq!(r.len(), 1);
    // Ringing: the expiry is the next thing to do.
    assert_eq!(d.e.poll_timeout(), Some(16_000));
    // Answered: the expiry can do nothing, so no tick is asked for it.
    d.ok(Input::Accept {
        reservation: r[0].2,
    });
    assert_eq!(d.e.poll_timeout(), None);
    // Completed: wrap-up ends at 2 s + 30 s.
    d.now = 2_000;
    d.ok(Input::ContactCompleted { contact: cid(1) });
    assert_eq!(d.e.poll_timeout(), Some(32_000));
    // Wrap-up finished early: its timer is no longer wanted either.
    d.ok(Input::WrapUpFinished { contact: cid(1) });
    assert_eq!(d.e.poll_timeout(), None);
    // An expiry still ringing is kept, and fires on time.
    d.arrive(2, Channel::Voice, 50);
    assert_eq!(d.reserved().len(), 1);
    assert_eq!(d.e.poll_timeout(), Some(17_000));
    d.at(17_000);
    assert!(d.out.iter().any(|o| matches!(
        o,
        Output::ReservationEnded {
            end: ReservationEnd::Expired,
            ..
        }
    )));
}

#[test]
fn a_freed_agent_passes_over_a_first_contact_it_may_not_take() {
    let mut d = Driver::new(Strategy::LongestIdle);
    d.agent(0, 5, [1, 0, 0, 0]);
    d.available(0);
    d.arrive(1, Channel::Voice, 50);
    let r = d.reserved();
    assert_eq!((r[0].0, r[0].1), (cid(1), aid(0)));
    // Agent 0 turns contact 1 down: it waits, first in the queue, for
    // someone else.
    d.ok(Input::Reject {
        reservation: r[0].2,
    });
    assert!(d.reserved().is_empty());
    d.ok(Input::AgentPresence {
        agent: aid(0),
        presence: Presence::Away("break".into()),
    });
    d.now = 1_000;
    d.arrive(2, Channel::Voice, 50);
    d.arrive(3, Channel::Voice, 50);
    assert!(d.reserved().is_empty());
    // Back from the break, agent 0 is offered the first contact it may
    // take: the second in the queue.
    d.available(0);
    let r = d.reserved();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].0, r[0].1), (cid(2), aid(0)));
    assert_eq!(d.e.waiting_order(qid(Q)), vec![cid(1), cid(3)]);
    d.e.check_invariants().unwrap();
    // Agent 1 arrives and takes the one agent 0 refused.
    d.agent(1, 5, [1, 0, 0, 0]);
    d.available(1);
    let r = d.reserved();
    assert_eq!((r[0].0, r[0].1), (cid(1), aid(1)));
    d.e.check_invariants().unwrap();
}

#[test]
fn a_freed_agent_takes_the_most_urgent_first_contact_across_its_queues() {
    let mut d = Driver::new(Strategy::LongestIdle);
    let mut q2 = QueueConfig::simple(qid(Q2));
    q2.steps = vec![Step {
        after_ms: 0,
        needs: vec![Need {
            skill: skill(),
            min_proficiency: 1,
        }],
    }];
    d.ok(Input::ConfigureQueue(q2));
    d.agent(0, 5, [1, 0, 0, 0]);
    d.now = 1_000;
    d.arrive_in(1, Q, Channel::Voice, 50, BTreeMap::new());
    d.now = 2_000;
    d.arrive_in(2, Q2, Channel::Voice, 50, BTreeMap::new());
    d.now = 3_000;
    // Higher priority in Q2 ages it ahead of the older contact in Q.
    d.arrive_in(3, Q2, Channel::Voice, 90, BTreeMap::new());
    d.arrive_in(4, Q, Channel::Voice, 50, BTreeMap::new());
    let mut order = Vec::new();
    d.available(0);
    for _ in 0..4 {
        let r = d.reserved();
        assert_eq!(r.len(), 1);
        order.push(r[0].0);
        d.ok(Input::Accept {
            reservation: r[0].2,
        });
        d.ok(Input::ContactCompleted { contact: r[0].0 });
        d.e.check_invariants().unwrap();
    }
    assert_eq!(order, vec![cid(3), cid(1), cid(2), cid(4)]);
}

#[test]
fn anyone_may_serve_goes_to_the_longest_idle_of_all_free_agents() {
    // No skill needed, no condition: every free agent is eligible.
    let mut d = Driver::with(Strategy::LongestIdle, |q| q.steps[0].needs.clear());
    for n in 0..6 {
        d.agent(n, 5, [1, 0, 0, 0]);
    }
    for (at, n) in [(100, 3), (200, 0), (300, 5), (400, 1), (500, 4)] {
        d.at(at);
        d.available(n);
    }
    // Agent 2 stays offline.
    d.arrive(1, Channel::Voice, 50);
    let why = d.out.iter().find_map(|o| match o {
        Output::Reserved { agent, why, .. } => Some((*agent, why.clone())),
        _ => None,
    });
    let (agent, why) = why.expect("reserved");
    assert_eq!(agent, aid(3));
    assert_eq!((why.eligible, why.key), (5, 100));
    d.out.clear();
    d.arrive(2, Channel::Voice, 50);
    assert_eq!(d.who(), aid(0));
    // Agent 3 turns its contact down: the next longest idle gets it.
    d.arrive(3, Channel::Voice, 50);
    let r = d.reserved();
    assert_eq!(r[0].1, aid(5));
    d.ok(Input::Reject {
        reservation: r[0].2,
    });
    let r = d.reserved();
    assert_eq!(r[0].1, aid(1));
    d.e.check_invariants().unwrap();
}

#[test]
fn an_arrival_offered_before_it_joins_keeps_its_place_when_nobody_takes_it() {
    let mut d = Driver::with(Strategy::LongestIdle, |q| {
        q.steps[0].needs[0].min_proficiency = 5;
    });
    // Agent 0 is free on voice but not skilled enough: every arrival is
    // offered before it joins, and nobody takes it.
    d.agent(0, 1, [1, 0, 0, 0]);
    d.available(0);
    let queued = |d: &mut Driver| -> Vec<(ContactId, usize)> {
        let q = d
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Queued {
                    contact, position, ..
                } => Some((*contact, *position)),
                _ => None,
            })
            .collect();
        d.out.clear();
        q
    };
    d.arrive(1, Channel::Voice, 50);
    d.arrive(2, Channel::Voice, 50);
    assert_eq!(queued(&mut d), vec![(cid(1), 1), (cid(2), 2)]);
    assert_eq!(d.e.waiting_order(qid(Q)), vec![cid(1), cid(2)]);
    assert_eq!(d.e.position(cid(2)).map(|p| p.0), Some(2));
    d.e.check_invariants().unwrap();
    // A skilled agent takes the first; the next arrival joins behind the
    // second, told its place counting itself.
    d.agent(1, 5, [1, 0, 0, 0]);
    d.available(1);
    assert_eq!(d.reserved()[0].0, cid(1));
    d.arrive(3, Channel::Voice, 50);
    assert_eq!(queued(&mut d), vec![(cid(3), 2)]);
    assert_eq!(d.e.waiting_order(qid(Q)), vec![cid(2), cid(3)]);
    d.e.check_invariants().unwrap();
    // Two more skilled agents take those waiting; then an arrival is
    // reserved at once, told it is first, and never joins the queue.
    for n in [2, 3, 4] {
        d.agent(n, 5, [1, 0, 0, 0]);
        d.available(n);
    }
    let taken: Vec<_> = d.reserved().iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(taken, vec![(cid(2), aid(2)), (cid(3), aid(3))]);
    d.arrive(4, Channel::Voice, 50);
    let out = d.out.clone();
    assert_eq!(queued(&mut d), vec![(cid(4), 1)]);
    assert!(out.iter().any(
        |o| matches!(o, Output::Reserved { contact, agent, .. } if *contact == cid(4) && *agent == aid(4))
    ));
    assert_eq!(d.e.waiting(qid(Q)), Some(0));
    d.e.check_invariants().unwrap();
}

#[test]
fn agents_who_answer_at_once_are_never_left_ringing() {
    let config = EngineConfig {
        accept_at_once: true,
        ..EngineConfig::default()
    };
    let mut d = Driver::with_engine(config, Strategy::RingAll, |_| {});
    three_agents(&mut d, [5, 5, 5]);
    for (at, n) in [(100, 1), (200, 0), (300, 2)] {
        d.at(at);
        d.available(n);
    }
    d.out.clear();
    // Ring-all would ring all three: the longest idle alone is offered
    // the contact, and has answered it by the time the arrival returns.
    d.arrive(1, Channel::Voice, 50);
    let rid = match &d.out[..] {
        [
            Output::Queued { .. },
            Output::Reserved {
                reservation,
                contact,
                agent,
                ..
            },
            Output::ReservationEnded {
                reservation: ended,
                end: ReservationEnd::Accepted,
                ..
            },
            Output::Answered {
                contact: answered,
                agent: by,
                waited_ms: 0,
                ..
            },
            Output::AgentChanged {
                status: AgentStatus::Busy,
                ..
            },
        ] if *contact == cid(1)
            && *agent == aid(1)
            && ended == reservation
            && *answered == cid(1)
            && *by == aid(1) =>
        {
            *reservation
        }
        other => panic!("expected one reservation, answered at once: {other:?}"),
    };
    assert_eq!(d.e.agent_status(aid(1)), Some(AgentStatus::Busy));
    assert_eq!(d.e.agent_status(aid(0)), Some(AgentStatus::Available));
    // Nothing is left to expire, accept or turn down.
    assert_eq!(d.e.poll_timeout(), None);
    for input in [
        Input::Accept { reservation: rid },
        Input::Reject { reservation: rid },
    ] {
        assert_eq!(
            d.e.handle_input(d.now, input),
            Err(RoutingError::UnknownReservation(rid))
        );
    }
    // With the others away, the next contact waits, and is answered the
    // moment agent 1 finishes.
    for n in [0, 2] {
        d.ok(Input::AgentPresence {
            agent: aid(n),
            presence: Presence::Away("lunch".into()),
        });
    }
    d.out.clear();
    d.arrive(2, Channel::Voice, 50);
    assert!(
        !d.out.iter().any(|o| matches!(o, Output::Reserved { .. })),
        "{:?}",
        d.out
    );
    assert_eq!(d.e.waiting(qid(Q)), Some(1));
    d.now += 30_000;
    d.ok(Input::ContactCompleted { contact: cid(1) });
    assert!(d.out.iter().any(|o| matches!(o,
        Output::Answered { contact, agent, waited_ms: 30_000, .. }
            if *contact == cid(2) && *agent == aid(1))));
    assert_eq!(d.e.waiting(qid(Q)), Some(0));
    assert_eq!(d.e.queue_stats(qid(Q)).map(|s| s.answered), Some(2));
    assert_eq!(d.e.poll_timeout(), None);
    d.e.check_invariants().unwrap();
}
