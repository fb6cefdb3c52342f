//! Erlang staffing of a 96-interval day (15-minute intervals): the time to
//! compute every interval's agents, by Erlang C and by Erlang A.
//! `cargo bench -p sb-wfm --bench staffing [-- DAY.csv]` prints one JSON
//! line per model; with a CSV (`interval_start,contacts,aht_seconds`) it
//! staffs that day instead of the built-in one.

use std::time::Instant;

use sb_wfm::{Model, Target, staff};

/// A day's shape: quiet nights, a morning peak, a smaller afternoon one.
fn built_in_day() -> Vec<(f64, f64)> {
    (0..96)
        .map(|i| {
            let h = i as f64 / 4.0;
            let peak = (-((h - 10.5) / 2.0).powi(2)).exp() * 420.0
                + (-((h - 15.0) / 2.5).powi(2)).exp() * 300.0;
            ((peak + 8.0).round(), 240.0 + 60.0 * (h / 24.0))
        })
        .collect()
}

fn read_day(path: &str) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(path).expect("readable day CSV");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].trim().parse().expect("contacts"),
                f[2].trim().parse().expect("aht"),
            )
        })
        .collect()
}

fn main() {
    let arg = std::env::args().skip(1).find(|a| a.ends_with(".csv"));
    let day = arg.as_deref().map(read_day).unwrap_or_else(built_in_day);
    let target = Target {
        service_level: Some((0.8, 20.0)),
        max_occupancy: Some(0.85),
        shrinkage: 0.3,
        ..Default::default()
    };
    for (name, model) in [
        ("erlang-c", Model::ErlangC),
        ("erlang-a", Model::ErlangA { patience: 120.0 }),
    ] {
        let run = || -> u64 {
            day.iter()
                .map(|&(c, aht)| {
                    staff(c, aht, 900.0, model, &target)
                        .expect("valid day")
                        .positions
                })
                .sum()
        };
        let positions = run();
        // Repeat until a second has passed; report the best run.
        let mut best = f64::INFINITY;
        let mut runs = 0u32;
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < 1.0 || runs < 10 {
            let t = Instant::now();
            std::hint::black_box(run());
            best = best.min(t.elapsed().as_secs_f64());
            runs += 1;
        }
        println!(
            "{{\"model\":\"{name}\",\"intervals\":{},\"positions_total\":{positions},\"best_day_us\":{:.1},\"runs\":{runs}}}",
            day.len(),
            best * 1e6
        );
    }
}
