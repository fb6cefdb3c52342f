//! Shift scheduling: exact small cases, breaks in windows, a week of
//! random requirements against the LP lower bound, shortfalls, bad input.

use rand_core::Rng;
use rand_pcg::Pcg64;
use sb_wfm::schedule::{Break, ScheduleError, ShiftTemplate, schedule};

fn shift(name: &str, minutes: u32, starts: &[u32], breaks: Vec<Break>) -> ShiftTemplate {
    ShiftTemplate {
        name: name.into(),
        minutes,
        starts: starts.to_vec(),
        breaks,
    }
}

#[test]
fn two_agents_all_day_need_two_day_shifts() {
    let mut req = vec![0u32; 24];
    for r in req.iter_mut().take(17).skip(9) {
        *r = 2;
    }
    let s = schedule(&req, 60, &[shift("day", 480, &[540], vec![])]).unwrap();
    assert_eq!((s.total, s.lower_bound, s.over, s.under), (2, 2, 0, 0));
    assert_eq!(s.coverage, req);
}

#[test]
fn breaks_are_placed_in_their_windows_and_coverage_holds() {
    // 08:00–20:00 needs 3; 8-hour shifts start 08:00–12:00 with a 1-hour
    // unpaid meal starting 3 to 5 hours in.
    let mut req = vec![0u32; 48];
    for r in req.iter_mut().take(40).skip(16) {
        *r = 3;
    }
    let meal = Break {
        minutes: 60,
        paid: false,
        earliest: 180,
        latest: 300,
    };
    let t = shift(
        "day",
        480,
        &[480, 510, 540, 570, 600, 630, 660, 690, 720],
        vec![meal],
    );
    let s = schedule(&req, 30, &[t]).unwrap();
    for (i, (&c, &r)) in s.coverage.iter().zip(&req).enumerate() {
        assert!(c >= r, "interval {i}: {c} < {r}");
    }
    assert!(
        s.total >= s.lower_bound && s.total <= s.lower_bound + 1,
        "{} vs {}",
        s.total,
        s.lower_bound
    );
    for (p, _) in &s.shifts {
        assert!(p.breaks[0] >= 180 && p.breaks[0] <= 300 && p.breaks[0] % 30 == 0);
    }
    let covered: u64 = s.coverage.iter().map(|&c| u64::from(c)).sum();
    let needed: u64 = req.iter().map(|&r| u64::from(r)).sum();
    assert_eq!(s.over, covered - needed);
}

#[test]
fn a_random_week_is_covered_close_to_the_lower_bound() {
    let mut rng = Pcg64::new(42, 0x0a02_bdbf_7bb3_c0a7);
    let per_day = 48;
    let req: Vec<u32> = (0..7 * per_day)
        .map(|i| {
            let h = (i % per_day) as f64 / 2.0;
            let shape = (-((h - 12.0) / 4.0).powi(2)).exp() * 30.0;
            (shape + (rng.next_u32() % 5) as f64).round() as u32
                * u32::from((7.0..22.0).contains(&h))
        })
        .collect();
    let meal = Break {
        minutes: 30,
        paid: false,
        earliest: 180,
        latest: 300,
    };
    let starts: Vec<u32> = (12..=28).map(|k| k * 30).collect(); // 06:00–14:00
    let long = shift("eight", 480, &starts, vec![meal.clone()]);
    let short = shift(
        "four",
        240,
        &(14..=36).map(|k| k * 30).collect::<Vec<_>>(),
        vec![],
    );
    let s = schedule(&req, 30, &[long, short]).unwrap();
    for (i, (&c, &r)) in s.coverage.iter().zip(&req).enumerate() {
        assert!(c >= r, "interval {i}: {c} < {r}");
    }
    assert!(s.shortfall.is_empty());
    let gap = (s.total - s.lower_bound) as f64 / s.lower_bound as f64;
    assert!(gap <= 0.05, "total {} vs bound {}", s.total, s.lower_bound);
}

#[test]
fn what_no_shift_can_reach_is_reported_as_a_shortfall() {
    let mut req = vec![1u32; 24];
    req[2] = 4; // 02:00, before any shift
    let s = schedule(&req, 60, &[shift("day", 480, &[480, 720, 960], vec![])]).unwrap();
    // 00:00–08:00 cannot be reached (shifts start at 08:00 at the earliest, and
    // the 16:00 shift runs to midnight).
    assert_eq!(s.shortfall, (0..8).collect::<Vec<_>>());
    assert_eq!(s.under, 7 + 4);
    assert!(s.coverage[8..].iter().all(|&c| c >= 1));
}

#[test]
fn bad_shifts_are_refused() {
    let req = vec![1u32; 48];
    let day = |m, s: &[u32], b| shift("x", m, s, b);
    assert_eq!(
        schedule(&req, 7, &[day(480, &[0], vec![])]),
        Err(ScheduleError::Interval(7))
    );
    assert_eq!(
        schedule(&req[..40], 30, &[day(480, &[0], vec![])]),
        Err(ScheduleError::Days(40, 48))
    );
    assert_eq!(
        schedule(&req, 30, &[day(1500, &[0], vec![])]),
        Err(ScheduleError::Length("x".into()))
    );
    assert_eq!(
        schedule(&req, 30, &[day(480, &[1441], vec![])]),
        Err(ScheduleError::Start("x".into(), 1441))
    );
    let late = Break {
        minutes: 60,
        paid: false,
        earliest: 450,
        latest: 450,
    };
    assert_eq!(
        schedule(&req, 30, &[day(480, &[0], vec![late])]),
        Err(ScheduleError::Break("x".into()))
    );
    assert_eq!(schedule(&req, 30, &[]), Err(ScheduleError::NoShifts));
}
