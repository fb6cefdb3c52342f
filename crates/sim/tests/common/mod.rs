//! The single-queue scenario the theory tests and the `mmcm` benchmark
//! share: `agents` agents on one queue all day, `per_interval` arrivals
//! each half hour, exponential handle times, optionally exponential
//! patience.

use sb_model::{AgentId, Channel, QueueId};
use sb_routing::{AgentConfig, QueueConfig};
use sb_sim::{HandleTime, Scenario, SimAgent, SimQueue, SimShift};
use uuid::Uuid;

pub const HALF_HOUR: u64 = 30 * 60_000;

/// `intervals` half hours, 30 replications, the first 2 half hours left
/// out as warm-up (callers change what they need).
pub fn mmc(
    agents: u32,
    per_interval: f64,
    aht_s: f64,
    patience_s: Option<f64>,
    seed: u64,
    intervals: usize,
) -> Scenario {
    let qid = QueueId::from_uuid(Uuid::from_u128(1));
    let mut config = QueueConfig::simple(qid);
    config.service_level_ms = 20_000;
    config.ring_timeout_ms = 60_000;
    Scenario {
        seed,
        replications: 30,
        interval_ms: HALF_HOUR,
        intervals,
        warm_up_intervals: 2,
        queues: vec![SimQueue {
            name: "support".into(),
            config,
            channel: Channel::Voice,
            arrivals: vec![per_interval],
            handle: HandleTime::Exponential {
                mean_ms: aht_s * 1000.0,
            },
            patience_mean_ms: patience_s.map(|p| p * 1000.0),
            retrial: None,
            callback: None,
        }],
        agents: (0..agents)
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
    }
}
