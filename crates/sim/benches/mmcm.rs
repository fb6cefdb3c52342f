//! The simulator alone on the M/M/c+M system of `bench/sim-simpy.sh`: 50
//! agents, exponential handle times of 180 s and patience of 120 s, 450
//! calls a half hour, 223 half hours (about 100,000 calls) a replication.
//! Runs REPLICATIONS replications on one thread and reports calls and
//! simulation events per second, and the service level, so that builds
//! can be compared without the rest of the binary.
//!
//!   cargo bench -p sb-sim --bench mmcm [-- REPLICATIONS]

use std::time::Instant;

use sb_model::{AgentId, Channel, QueueId};
use sb_routing::{AgentConfig, QueueConfig};
use sb_sim::{HandleTime, Scenario, SimAgent, SimQueue, SimShift, simulate};
use uuid::Uuid;

const HALF_HOUR: u64 = 30 * 60_000;

fn main() {
    let replications: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let intervals = 223;
    let config = QueueConfig::simple(QueueId::from_uuid(Uuid::from_u128(1)));
    let s = Scenario {
        seed: 1,
        replications,
        interval_ms: HALF_HOUR,
        intervals,
        warm_up_intervals: 1,
        queues: vec![SimQueue {
            name: "calls".into(),
            config,
            channel: Channel::Voice,
            arrivals: vec![450.0],
            handle: HandleTime::Exponential { mean_ms: 180_000.0 },
            patience_mean_ms: Some(120_000.0),
            retrial: None,
            callback: None,
        }],
        agents: (0..50u32)
            .map(|i| SimAgent {
                name: format!("agent {i}"),
                config: AgentConfig {
                    id: AgentId::from_uuid(Uuid::from_u128(1000 + u128::from(i))),
                    skills: Vec::new(),
                    capacity: [1, 0, 0, 0],
                    voice_blocks_others: true,
                    attributes: Default::default(),
                },
                shifts: vec![SimShift {
                    start_ms: 0,
                    end_ms: intervals as u64 * HALF_HOUR + 1,
                    breaks: Vec::new(),
                }],
            })
            .collect(),
        answer_delay_ms: 0,
    };
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
