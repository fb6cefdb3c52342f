//! The simulator, driving the real routing engine, against queueing
//! theory: a single-skill M/M/c queue agrees with Erlang C, and with
//! exponential patience (M/M/c+M) with Erlang A, within the confidence
//! interval over replications. Fixed seeds and enough replications keep
//! these stable.

use sb_sim::{Scenario, simulate};
use sb_wfm::{ErlangA, ErlangC};

mod common;

/// `agents` agents on one queue all day for 20 half hours; `per_interval`
/// arrivals each half hour, exponential handle times of `aht_s`,
/// optionally patience.
fn mmc(agents: u32, per_interval: f64, aht_s: f64, patience_s: Option<f64>, seed: u64) -> Scenario {
    common::mmc(agents, per_interval, aht_s, patience_s, seed, 20)
}

#[test]
fn an_mmc_queue_agrees_with_erlang_c() {
    // 80 calls a half hour, 3 minutes each: 8 Erlangs on 10 agents.
    let s = mmc(10, 80.0, 180.0, None, 7);
    let r = simulate(&s, 2, |_| {}).unwrap();
    assert_eq!(r.refused, 0);
    let t = &r.totals[0];
    let theory = ErlangC::new(8.0, 180.0, 10);
    let sl = t.service_level.unwrap();
    let asa = t.asa_s.unwrap();
    eprintln!(
        "SL {:.4} ± {:.4} vs {:.4}; ASA {:.2} ± {:.2} vs {:.2}; occupancy {:.3} vs {:.3}",
        sl.mean,
        sl.half_width.unwrap(),
        theory.service_level(20.0),
        asa.mean,
        asa.half_width.unwrap(),
        theory.asa(),
        r.occupancy.unwrap().mean,
        theory.occupancy()
    );
    assert!(sl.contains(theory.service_level(20.0), 0.0), "{sl:?}");
    assert!(asa.contains(theory.asa(), 0.0), "{asa:?}");
    assert!(r.occupancy.unwrap().contains(theory.occupancy(), 0.01));
    // Nobody abandons without patience; the AHT is what was asked for.
    assert_eq!(t.abandoned.unwrap().mean, 0.0);
    assert!(t.aht_s.unwrap().contains(180.0, 0.0), "{:?}", t.aht_s);
}

#[test]
fn with_patience_it_agrees_with_erlang_a() {
    // 100 calls a half hour, 3 minutes each (10 Erlangs) on 10 agents:
    // overloaded without abandonment; 2 minutes' mean patience.
    let s = mmc(10, 100.0, 180.0, Some(120.0), 11);
    let r = simulate(&s, 2, |_| {}).unwrap();
    let t = &r.totals[0];
    let theory = ErlangA::new(10.0, 180.0, 120.0, 10);
    let ab = t.abandon_rate.unwrap();
    let wait = t.mean_wait_s.unwrap();
    eprintln!(
        "P(ab) {:.4} ± {:.4} vs {:.4}; wait {:.2} ± {:.2} vs {:.2}",
        ab.mean,
        ab.half_width.unwrap(),
        theory.p_abandon,
        wait.mean,
        wait.half_width.unwrap(),
        theory.asa()
    );
    assert!(ab.contains(theory.p_abandon, 0.0), "{ab:?}");
    assert!(wait.contains(theory.asa(), 0.0), "{wait:?}");
    assert!(r.occupancy.unwrap().contains(theory.occupancy(), 0.01));
}

#[test]
fn the_same_seed_gives_the_same_result_on_any_number_of_threads() {
    let s = mmc(5, 40.0, 180.0, Some(90.0), 3);
    // One thread or several: the same replications, the same result.
    let a = simulate(&s, 1, |_| {}).unwrap();
    let b = simulate(&s, 3, |_| {}).unwrap();
    assert_eq!(a, b);
    let mut other = s.clone();
    other.seed = 4;
    assert_ne!(simulate(&other, 2, |_| {}).unwrap(), a);
}

#[test]
fn a_trace_follows_every_contact_and_agent_status() {
    let s = mmc(3, 30.0, 180.0, Some(60.0), 5);
    let t = sb_sim::trace(&s).unwrap();
    assert!(t.contacts.len() > 500, "{}", t.contacts.len());
    for c in &t.contacts {
        // Answered or abandoned, never both; answered contacts end after.
        assert!(!(c.answered.is_some() && c.abandoned.is_some()), "{c:?}");
        if let (Some(a), Some(e)) = (c.answered, c.ended) {
            assert!(c.arrived <= a && a <= c.completed.unwrap() && c.completed.unwrap() <= e);
            assert!(c.agent.unwrap() < 3);
        }
    }
    assert!(t.contacts.iter().any(|c| c.abandoned.is_some()));
    // Every agent logged in, and was busy at some point.
    for a in 0..3 {
        let mine: Vec<&str> = t
            .statuses
            .iter()
            .filter(|x| x.agent == a)
            .map(|x| x.status)
            .collect();
        assert_eq!(mine.first(), Some(&"available"), "{mine:?}");
        assert!(mine.contains(&"busy"));
    }
}

#[test]
fn callbacks_keep_customers_who_would_have_abandoned() {
    // Busy (9.5 Erlangs on 10 agents) with impatient callers.
    let without = mmc(10, 95.0, 180.0, Some(60.0), 13);
    let mut with = without.clone();
    // Everyone still waiting after 20 s takes a callback.
    with.queues[0].callback = Some(sb_sim::CallbackOffer {
        probability: 1.0,
        after_ms: 20_000.0,
    });
    let a = simulate(&without, 2, |_| {}).unwrap();
    let b = simulate(&with, 2, |_| {}).unwrap();
    let (ta, tb) = (&a.totals[0], &b.totals[0]);
    assert_eq!(ta.callbacks.unwrap().mean, 0.0);
    assert!(tb.callbacks.unwrap().mean > 100.0, "{:?}", tb.callbacks);
    // Only those who give up within 20 s still abandon.
    let (ab_a, ab_b) = (ta.abandon_rate.unwrap(), tb.abandon_rate.unwrap());
    eprintln!("abandoned without callbacks {ab_a:?}, with {ab_b:?}");
    assert!(
        ab_b.mean + ab_b.half_width.unwrap() < ab_a.mean - ab_a.half_width.unwrap(),
        "{ab_a:?} {ab_b:?}"
    );
    assert!(tb.answered.unwrap().mean > ta.answered.unwrap().mean);
    // A bad offer is refused.
    let mut bad = with.clone();
    bad.queues[0].callback = Some(sb_sim::CallbackOffer {
        probability: 1.5,
        after_ms: 20_000.0,
    });
    assert!(simulate(&bad, 1, |_| {}).is_err());
}

#[test]
fn agents_slow_to_answer_keep_callers_ringing() {
    // Plenty of agents (3 Erlangs on 30): nobody queues, so the time to
    // answer is the time the agents take to pick up.
    let mut s = mmc(30, 30.0, 180.0, None, 3);
    let horizon = s.horizon_ms();
    let answered_after = |s: &Scenario| -> Vec<Option<u64>> {
        let t = sb_sim::trace(s).unwrap();
        assert!(t.contacts.len() > 400, "{}", t.contacts.len());
        t.contacts
            .iter()
            .filter(|c| c.arrived + 10_000 < horizon)
            .map(|c| c.answered.map(|a| a - c.arrived))
            .collect()
    };
    assert!(answered_after(&s).iter().all(|w| *w == Some(0)));
    s.answer_delay_ms = 4_000;
    assert!(answered_after(&s).iter().all(|w| *w == Some(4_000)));
    // Callers whose patience (2 s on average) runs out first hang up
    // while it rings, and are counted abandoned, not answered.
    s.queues[0].patience_mean_ms = Some(2_000.0);
    let t = sb_sim::trace(&s).unwrap();
    let (mut answered, mut abandoned) = (0, 0);
    for c in t.contacts.iter().filter(|c| c.arrived + 10_000 < horizon) {
        match (c.answered, c.abandoned) {
            (Some(a), None) => {
                assert_eq!(a, c.arrived + 4_000, "{c:?}");
                answered += 1;
            }
            (None, Some(gone)) => {
                assert!(gone < c.arrived + 4_000, "{c:?}");
                abandoned += 1;
            }
            _ => panic!("{c:?}"),
        }
    }
    // About e^-2 of callers wait 4 s.
    let kept = f64::from(answered) / f64::from(answered + abandoned);
    assert!((0.08..0.20).contains(&kept), "{answered} {abandoned}");
    let r = simulate(&s, 2, |_| {}).unwrap();
    assert_eq!(r.refused, 0);
    let gone = r.totals[0].abandon_rate.unwrap().mean;
    assert!((0.80..0.92).contains(&gone), "{gone}");
}
