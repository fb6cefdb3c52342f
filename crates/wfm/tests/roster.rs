//! Rostering: every rule holds for every assignment on random instances;
//! each rule, on its own, stops what it should; weekends are shared; what
//! cannot be filled says why.

use rand_core::Rng;
use rand_pcg::Pcg64;
use sb_wfm::roster::{Agent, Reason, Roster, Rules, Shift, roster};

const DAY: i64 = 1440;

fn agent(name: &str, days: i64) -> Agent {
    Agent {
        name: name.into(),
        skills: vec!["billing".into()],
        available: vec![(0, days * DAY)],
        min_minutes: 0,
        max_minutes: 100 * 60,
    }
}

fn shift(day: usize, start_h: i64, hours: i64) -> Shift {
    let start = day as i64 * DAY + start_h * 60;
    Shift {
        day,
        start,
        end: start + hours * 60,
        paid: hours * 60,
        skill: None,
        label: format!("d{day} {start_h}:00"),
    }
}

/// Every rule, checked from scratch on the result.
fn assert_rules_hold(agents: &[Agent], shifts: &[Shift], rules: &Rules, r: &Roster) {
    for (ai, a) in agents.iter().enumerate() {
        let mine: Vec<&Shift> = shifts
            .iter()
            .zip(&r.assigned)
            .filter(|(_, x)| **x == Some(ai))
            .map(|(s, _)| s)
            .collect();
        let mut paid = 0;
        for s in &mine {
            assert!(
                a.available.iter().any(|&(f, t)| f <= s.start && s.end <= t),
                "{} unavailable for {}",
                a.name,
                s.label
            );
            if let Some(k) = &s.skill {
                assert!(a.skills.contains(k), "{} lacks {k}", a.name);
            }
            paid += s.paid;
        }
        assert!(paid <= a.max_minutes, "{} over contract", a.name);
        assert_eq!(paid, r.paid_minutes[ai]);
        for (i, x) in mine.iter().enumerate() {
            for y in &mine[i + 1..] {
                assert_ne!(x.day, y.day, "{} twice on day {}", a.name, x.day);
                let gap = if x.start < y.start {
                    y.start - x.end
                } else {
                    x.start - y.end
                };
                assert!(gap >= rules.min_rest_minutes, "{} rests {gap} min", a.name);
            }
        }
        let mut days: Vec<usize> = mine.iter().map(|s| s.day).collect();
        days.sort_unstable();
        let mut run = 1;
        for w in days.windows(2) {
            run = if w[1] == w[0] + 1 { run + 1 } else { 1 };
            assert!(
                run <= rules.max_consecutive_days,
                "{} works {run} days running",
                a.name
            );
        }
    }
    for (i, x) in r.assigned.iter().enumerate() {
        assert_eq!(x.is_none(), r.unfilled.iter().any(|(u, _)| *u == i));
    }
}

#[test]
fn rules_hold_on_random_fortnights() {
    for seed in 0..40u64 {
        let mut rng = Pcg64::new(u128::from(seed), 0x0a02_bdbf_7bb3_c0a7);
        let mut pick = |n: u64| rng.next_u64() % n;
        let days = 14usize;
        let agents: Vec<Agent> = (0..12)
            .map(|k| {
                let mut a = agent(&format!("a{k}"), days as i64);
                if pick(3) == 0 {
                    a.skills = vec!["sales".into()];
                }
                // Some are not available on some days.
                a.available = (0..days as i64)
                    .filter(|_| pick(5) != 0)
                    .map(|d| (d * DAY + 5 * 60, d * DAY + 23 * 60))
                    .collect();
                a.max_minutes = (30 + pick(20) as i64) * 60;
                a.min_minutes = a.max_minutes / 2;
                a
            })
            .collect();
        let shifts: Vec<Shift> = (0..days)
            .flat_map(|d| {
                let n = 4 + pick(5) as usize;
                (0..n)
                    .map(|_| {
                        let mut s = shift(d, 6 + pick(9) as i64, if pick(2) == 0 { 8 } else { 4 });
                        if pick(4) == 0 {
                            s.skill = Some(if pick(2) == 0 { "sales" } else { "billing" }.into());
                        }
                        s
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let rules = Rules {
            max_consecutive_days: 5,
            ..Rules::default()
        };
        let r = roster(&agents, &shifts, &rules);
        assert_rules_hold(&agents, &shifts, &rules, &r);
        assert!(
            r.assigned.iter().filter(|x| x.is_some()).count() * 10 >= shifts.len() * 7,
            "seed {seed}: too few filled"
        );
    }
}

#[test]
fn a_late_shift_is_not_followed_by_an_early_one() {
    let agents = vec![agent("ana", 3)];
    let shifts = vec![shift(0, 22, 8), shift(1, 7, 8), shift(2, 7, 8)];
    let r = roster(&agents, &shifts, &Rules::default());
    // 22:00–06:00 then 07:00 the next day is one hour's rest.
    assert_eq!(r.assigned[0], Some(0));
    assert_eq!(r.assigned[1], None);
    assert_eq!(r.unfilled[0], (1, vec![(Reason::Rest, 1)]));
    assert_eq!(r.assigned[2], Some(0));
}

#[test]
fn nobody_works_more_days_in_a_row_than_allowed() {
    let agents = vec![agent("ben", 9)];
    let shifts: Vec<Shift> = (0..9).map(|d| shift(d, 9, 8)).collect();
    let rules = Rules {
        max_consecutive_days: 6,
        ..Rules::default()
    };
    let r = roster(&agents, &shifts, &rules);
    assert_eq!(r.assigned.iter().filter(|x| x.is_some()).count(), 8);
    assert_rules_hold(&agents, &shifts, &rules, &r);
    assert!(
        r.unfilled
            .iter()
            .all(|(_, why)| why == &vec![(Reason::ConsecutiveDays, 1)])
    );
}

#[test]
fn weekends_are_shared_and_contracts_met_first() {
    let agents: Vec<Agent> = (0..4).map(|k| agent(&format!("a{k}"), 28)).collect();
    // Four weekends, one shift each Saturday and Sunday: 8 shifts, 2 each.
    let shifts: Vec<Shift> = (0..4)
        .flat_map(|w| [shift(w * 7 + 5, 9, 8), shift(w * 7 + 6, 9, 8)])
        .collect();
    let r = roster(&agents, &shifts, &Rules::default());
    assert_eq!(r.weekend_shifts, vec![2, 2, 2, 2]);

    // Someone short of their contract gets the shift before someone who is not.
    let mut agents = vec![agent("full", 7), agent("short", 7)];
    agents[1].min_minutes = 16 * 60;
    let shifts = vec![shift(0, 9, 8), shift(1, 9, 8)];
    let r = roster(&agents, &shifts, &Rules::default());
    assert_eq!(r.assigned, vec![Some(1), Some(1)]);
    assert!(r.under_contract.is_empty());
}

#[test]
fn unfilled_shifts_say_why_for_every_agent() {
    let mut agents = vec![agent("ana", 2), agent("ben", 2), agent("cy", 2)];
    agents[1].available = vec![(DAY, 2 * DAY)];
    agents[2].max_minutes = 4 * 60;
    let mut s = shift(0, 9, 8);
    s.skill = Some("french".into());
    let r = roster(&agents, &[s], &Rules::default());
    assert_eq!(r.assigned, vec![None]);
    // Availability is checked before skills, skills before hours.
    assert_eq!(
        r.unfilled[0].1,
        vec![(Reason::Unavailable, 1), (Reason::Skill, 2)]
    );
    assert_eq!(Reason::Skill.describe(), "lacks the shift's skill");
}
