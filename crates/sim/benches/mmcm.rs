//! The simulator alone on the M/M/c+M system of `bench/sim-simpy.sh`: 50
//! agents, exponential handle times of 180 s and patience of 120 s, 450
//! calls a half hour, 223 half hours (about 100,000 calls) a replication.
//! Runs REPLICATIONS replications on one thread and reports calls and
//! simulation events per second, and the service level, so that builds
//! can be compared without the rest of the binary.
//!
//!   cargo bench -p sb-sim --bench mmcm [-- REPLICATIONS]

use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

use sb_sim::simulate;

fn main() {
    let replications: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let intervals = 223;
    let mut s = common::mmc(50, 450.0, 180.0, Some(120.0), 1, intervals);
    s.replications = replications;
    s.warm_up_intervals = 1;
    let start = Instant::now();
    let r = simulate(&s, 1, |_| {}).expect("valid scenario");
    let secs = start.elapsed().as_secs_f64();
    let t = &r.totals[0];
    // Offered after the warm-up, plus the warm-up's share.
    let offered = t.offered.as_ref().map_or(0.0, |e| e.mean);
    let calls = offered * f64::from(intervals as u32) / f64::from(intervals as u32 - 1)
        * f64::from(replications);
    println!(
        "RESULT replications={replications} seconds={secs:.3} calls_per_sec={:.0} events={} events_per_sec={:.0} service_level={:.4} refused={}",
        calls / secs,
        r.events,
        r.events as f64 / secs,
        t.service_level.as_ref().map(|v| v.mean).unwrap_or(f64::NAN),
        r.refused,
    );
}
