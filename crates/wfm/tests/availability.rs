//! Weekly availability: read with every problem named, and laid over a
//! roster's days as windows joined across midnight.

use std::collections::BTreeMap;

use sb_wfm::availability::Weekly;

fn spans(days: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, Vec<[String; 2]>> {
    days.iter()
        .map(|(d, s)| {
            (
                (*d).to_owned(),
                s.iter()
                    .map(|(a, b)| [(*a).to_owned(), (*b).to_owned()])
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn problems_are_named_and_nothing_is_half_read() {
    let bad = spans(&[
        ("monday", &[("08:00", "12:00"), ("11:00", "15:00")]),
        ("tuesday", &[("12:00", "08:00")]),
        ("wednesday", &[("8am", "12:00"), ("24:00", "24:00")]),
        ("funday", &[("09:00", "17:00")]),
    ]);
    let mut got = Weekly::parse("a", &bad).unwrap_err();
    got.sort();
    let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "a.funday",
            "a.monday",
            "a.tuesday[0]",
            "a.wednesday[0]",
            "a.wednesday[1]"
        ]
    );
    assert_eq!(got[1].1, "spans overlap");
}

#[test]
fn spans_round_trip_and_touching_spans_are_allowed() {
    let good = spans(&[
        ("friday", &[("17:00", "24:00"), ("06:00", "12:00")]),
        ("saturday", &[("00:00", "06:00")]),
    ]);
    let w = Weekly::parse("a", &good).unwrap();
    assert_eq!(w.0[4], vec![(360, 720), (1020, 1440)]);
    let back = w.to_map();
    assert_eq!(back["friday"][0], ["06:00".to_owned(), "12:00".to_owned()]);
    assert_eq!(Weekly::parse("a", &back).unwrap(), w);
}

#[test]
fn windows_join_across_midnight_and_cover_the_day_after() {
    // Friday evening into Saturday morning; a roster of two days from Friday.
    let w = Weekly::parse(
        "a",
        &spans(&[
            ("friday", &[("17:00", "24:00")]),
            ("saturday", &[("00:00", "06:00"), ("20:00", "24:00")]),
            ("sunday", &[("00:00", "02:00")]),
        ]),
    )
    .unwrap();
    let at = |d: usize, m: u32| Ok::<_, ()>(d as i64 * 1440 + i64::from(m));
    let got = w.windows(4, 2, at).unwrap();
    // Friday 17:00 → Saturday 06:00, Saturday 20:00 → Sunday 02:00 (the
    // day after the roster, for a shift that runs past its last midnight).
    assert_eq!(got, vec![(1020, 1440 + 360), (1440 + 1200, 2880 + 120)]);
    // Always available: one window over every day.
    assert_eq!(
        Weekly::always().windows(0, 3, at).unwrap(),
        vec![(0, 4 * 1440)]
    );
}
