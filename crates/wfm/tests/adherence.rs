//! Adherence, conformance and exceptions from a planned day and what the
//! agent did, worked by hand.

use sb_wfm::adherence::{Actual, Planned, adherence};

const MIN: i64 = 60_000;

fn plan(start: i64, end: i64, activity: &str) -> Planned {
    Planned {
        start: start * MIN,
        end: end * MIN,
        activity: activity.into(),
    }
}

fn did(start: i64, end: i64, status: &str, reason: Option<&str>) -> Actual {
    Actual {
        start: start * MIN,
        end: end * MIN,
        status: status.into(),
        reason: reason.map(Into::into),
    }
}

#[test]
fn a_day_with_a_late_start_and_a_long_lunch() {
    // Planned 09:00–17:00 (minutes from midnight): work, lunch 12:00–12:30, work.
    let planned = [
        plan(540, 720, "work"),
        plan(720, 750, "lunch"),
        plan(750, 1020, "work"),
    ];
    // Logged in at 09:10, lunch 12:00–12:45, worked until 17:20.
    let actual = [
        did(550, 700, "available", None),
        did(700, 720, "busy", None),
        did(720, 765, "away", Some("lunch")),
        did(765, 1040, "wrap_up", None),
    ];
    let a = adherence(&planned, &actual, 5 * MIN);
    assert_eq!(a.scheduled_ms, 480 * MIN);
    // Out of adherence: 09:00–09:10 (not logged in) and 12:30–12:45 (still at lunch).
    assert_eq!(a.adherent_ms, (480 - 10 - 15) * MIN);
    assert!((a.adherence_pct.unwrap() - 100.0 * 455.0 / 480.0).abs() < 1e-9);
    // Worked 09:10–12:00 and 12:45–17:20 against 450 minutes of planned work.
    assert_eq!(
        (a.scheduled_work_ms, a.worked_ms),
        (450 * MIN, (170 + 275) * MIN)
    );
    let ex: Vec<(i64, i64, &str, &str)> = a
        .exceptions
        .iter()
        .map(|e| {
            (
                e.start / MIN,
                e.end / MIN,
                e.planned.as_str(),
                e.actual.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ex,
        [
            (540, 550, "work", "offline"),
            (750, 765, "work", "away (lunch)")
        ]
    );
}

#[test]
fn the_wrong_reason_is_out_of_adherence_and_short_slips_are_not_exceptions() {
    let planned = [plan(0, 60, "training"), plan(60, 120, "work")];
    let actual = [
        did(0, 60, "away", Some("break")),
        did(60, 63, "offline", None),
        did(63, 120, "available", None),
    ];
    let a = adherence(&planned, &actual, 5 * MIN);
    assert_eq!(a.adherent_ms, 57 * MIN);
    // The hour at break instead of training is an exception; the three
    // minutes late back are within the grace.
    assert_eq!(a.exceptions.len(), 1);
    assert_eq!(
        (
            a.exceptions[0].planned.as_str(),
            a.exceptions[0].actual.as_str()
        ),
        ("training", "away (break)")
    );
    // Nothing planned: nothing to adhere to.
    let none = adherence(&[], &actual, 0);
    assert_eq!((none.adherence_pct, none.conformance_pct), (None, None));
}

#[test]
fn a_break_is_kept_by_not_taking_contacts_for_any_reason() {
    // Work 09:00–10:00, break 10:00–10:15, work 10:15–11:00.
    let planned = [
        plan(540, 600, "work"),
        plan(600, 615, "break"),
        plan(615, 660, "work"),
    ];
    // Away for coffee 10:00–10:05, logged out 10:05–10:15: both keep the
    // break. Staying available through it does not.
    let actual = [
        did(540, 600, "available", None),
        did(600, 605, "away", Some("coffee")),
        did(605, 615, "offline", None),
        did(615, 660, "busy", None),
    ];
    let a = adherence(&planned, &actual, 0);
    assert_eq!(a.adherent_ms, 120 * MIN);
    assert!(a.exceptions.is_empty(), "{:?}", a.exceptions);
    let worked_through = [did(540, 660, "available", None)];
    let b = adherence(&planned, &worked_through, 0);
    assert_eq!(b.adherent_ms, 105 * MIN);
    assert_eq!(b.exceptions.len(), 1);
    assert_eq!(
        (
            b.exceptions[0].planned.as_str(),
            b.exceptions[0].actual.as_str()
        ),
        ("break", "available")
    );
}
