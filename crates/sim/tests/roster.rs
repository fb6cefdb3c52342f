//! Agents follow their rosters: shift starts, breaks and shift ends take
//! effect at their times, in the order given when two fall together, and
//! nobody is given a contact while away or off shift.

mod common;

use common::{HALF_HOUR, mmc};
use sb_sim::{SimBreak, SimShift};

const HOUR: u64 = 2 * HALF_HOUR;

/// Agent 0 works 0–4 h with lunch 2–2.5 h, then 6–8 h and 8–10 h back to
/// back; agent 1 is on all day. Twelve hours, `per_interval` calls a half
/// hour.
fn rostered(per_interval: f64) -> sb_sim::Scenario {
    let mut s = mmc(2, per_interval, 180.0, Some(60.0), 21, 24);
    s.agents[0].shifts = vec![
        SimShift {
            start_ms: 0,
            end_ms: 4 * HOUR,
            breaks: vec![SimBreak {
                start_ms: 2 * HOUR,
                end_ms: 2 * HOUR + HALF_HOUR,
                reason: "lunch".into(),
            }],
        },
        SimShift {
            start_ms: 6 * HOUR,
            end_ms: 8 * HOUR,
            breaks: Vec::new(),
        },
        SimShift {
            start_ms: 8 * HOUR,
            end_ms: 10 * HOUR,
            breaks: Vec::new(),
        },
    ];
    s
}

#[test]
fn shifts_and_breaks_change_status_at_their_times_in_order() {
    // No calls: every status change of agent 0 comes from its roster.
    let t = sb_sim::trace(&rostered(0.0)).unwrap();
    let mine: Vec<(u64, &str, Option<&str>)> = t
        .statuses
        .iter()
        .filter(|x| x.agent == 0)
        .map(|x| (x.at, x.status, x.reason.as_deref()))
        .collect();
    assert_eq!(
        mine,
        vec![
            (0, "available", None),
            (2 * HOUR, "away", Some("lunch")),
            (2 * HOUR + HALF_HOUR, "available", None),
            (4 * HOUR, "offline", None),
            (6 * HOUR, "available", None),
            // Back-to-back shifts: the first ends, then the next starts.
            (8 * HOUR, "offline", None),
            (8 * HOUR, "available", None),
            (10 * HOUR, "offline", None),
        ]
    );
}

#[test]
fn nobody_is_given_a_contact_while_away_or_off_shift() {
    let t = sb_sim::trace(&rostered(12.0)).unwrap();
    let answered_by_0: Vec<u64> = t
        .contacts
        .iter()
        .filter(|c| c.agent == Some(0))
        .filter_map(|c| c.answered)
        .collect();
    assert!(answered_by_0.len() > 20, "{}", answered_by_0.len());
    for at in answered_by_0 {
        let on = at < 2 * HOUR || (2 * HOUR + HALF_HOUR..4 * HOUR).contains(&at);
        let later = (6 * HOUR..10 * HOUR).contains(&at);
        assert!(on || later, "agent 0 answered at {at} ms, off or away");
    }
}
