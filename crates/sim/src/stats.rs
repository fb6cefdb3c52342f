//! Replications summarised: each figure's mean over the replications with
//! a 95 % confidence interval from Student's t.

use crate::{Counts, Scenario};

/// A mean over replications and the half-width of its 95 % confidence
/// interval (`None` with a single replication). Replications in which the
/// figure is undefined (a ratio over nothing) are left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub half_width: Option<f64>,
    /// Replications that defined it.
    pub n: usize,
}

impl Estimate {
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let half_width = (n > 1).then(|| {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t975(n - 1) * (var / n as f64).sqrt()
        });
        Some(Estimate {
            mean,
            half_width,
            n,
        })
    }

    /// Whether `x` lies within the interval (widened by `slack`).
    pub fn contains(&self, x: f64, slack: f64) -> bool {
        (x - self.mean).abs() <= self.half_width.unwrap_or(0.0) + slack
    }
}

/// Student's t, 97.5th percentile, for `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// One queue over some intervals (one interval, or the whole run).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueResult {
    pub queue: String,
    pub offered: Option<Estimate>,
    pub answered: Option<Estimate>,
    pub abandoned: Option<Estimate>,
    /// Callbacks taken while waiting (answered later, counted as answered).
    pub callbacks: Option<Estimate>,
    /// Answered within the queue's service-level time, over those who
    /// left the queue (answered or abandoned; those still waiting when the
    /// run ends have no outcome yet).
    pub service_level: Option<Estimate>,
    /// Abandoned over those who left the queue.
    pub abandon_rate: Option<Estimate>,
    /// Mean wait of those answered, seconds.
    pub asa_s: Option<Estimate>,
    /// Mean time in queue of everyone who left it (answered or abandoned),
    /// seconds.
    pub mean_wait_s: Option<Estimate>,
    pub aht_s: Option<Estimate>,
}

/// One interval: each queue's figures and the agents' occupancy.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalResult {
    pub interval: usize,
    pub queues: Vec<QueueResult>,
    /// Every queue together.
    pub all: QueueResult,
    /// Busy over logged in and not away.
    pub occupancy: Option<Estimate>,
    /// Agents logged in and not away, on average.
    pub staffed: Option<Estimate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub replications: u32,
    pub intervals: Vec<IntervalResult>,
    /// Each queue over the run after the warm-up.
    pub totals: Vec<QueueResult>,
    /// Every queue together over the run after the warm-up.
    pub total: QueueResult,
    pub occupancy: Option<Estimate>,
    /// Simulation events handled, over all replications.
    pub events: u64,
    /// Engine inputs refused, over all replications.
    pub refused: u64,
}

fn ratio(n: f64, d: f64) -> Option<f64> {
    (d > 0.0).then(|| n / d)
}

/// The figures of queues `qs` together over the intervals in `range` of
/// each replication.
fn queue_result(
    name: &str,
    qs: &[usize],
    runs: &[Counts],
    range: std::ops::Range<usize>,
) -> QueueResult {
    let sum = |f: &dyn Fn(&Counts, usize, usize) -> f64| -> Vec<f64> {
        runs.iter()
            .map(|c| {
                range
                    .clone()
                    .flat_map(|k| qs.iter().map(move |&q| (q, k)))
                    .map(|(q, k)| f(c, q, k))
                    .sum()
            })
            .collect()
    };
    let offered = sum(&|c, q, k| f64::from(c.offered[q][k]));
    let answered = sum(&|c, q, k| f64::from(c.answered[q][k]));
    let abandoned = sum(&|c, q, k| f64::from(c.abandoned[q][k]));
    let callbacks = sum(&|c, q, k| f64::from(c.callbacks[q][k]));
    let within = sum(&|c, q, k| f64::from(c.within[q][k]));
    let wait_answered = sum(&|c, q, k| c.wait_answered_ms[q][k]);
    let wait_all = sum(&|c, q, k| c.wait_all_ms[q][k]);
    let handle = sum(&|c, q, k| c.handle_ms[q][k]);
    let handled = sum(&|c, q, k| f64::from(c.handled[q][k]));
    let per = |n: &[f64], d: &[f64], scale: f64| -> Option<Estimate> {
        let v: Vec<f64> = n
            .iter()
            .zip(d)
            .filter_map(|(a, b)| ratio(*a, *b).map(|r| r * scale))
            .collect();
        Estimate::of(&v)
    };
    let left: Vec<f64> = answered
        .iter()
        .zip(&abandoned)
        .map(|(a, b)| a + b)
        .collect();
    QueueResult {
        queue: name.to_owned(),
        service_level: per(&within, &left, 1.0),
        abandon_rate: per(&abandoned, &left, 1.0),
        asa_s: per(&wait_answered, &answered, 0.001),
        mean_wait_s: per(&wait_all, &left, 0.001),
        aht_s: per(&handle, &handled, 0.001),
        offered: Estimate::of(&offered),
        answered: Estimate::of(&answered),
        abandoned: Estimate::of(&abandoned),
        callbacks: Estimate::of(&callbacks),
    }
}

pub(crate) fn summarise(s: &Scenario, runs: &[Counts]) -> Report {
    let n = s.intervals;
    let every: Vec<usize> = (0..s.queues.len()).collect();
    let occupancy = |range: std::ops::Range<usize>| {
        let v: Vec<f64> = runs
            .iter()
            .filter_map(|c| {
                let staffed: f64 = range.clone().map(|k| c.staffed_ms[k]).sum();
                let busy: f64 = range.clone().map(|k| c.busy_ms[k]).sum();
                ratio(busy, staffed)
            })
            .collect();
        Estimate::of(&v)
    };
    let intervals = (0..n)
        .map(|k| IntervalResult {
            interval: k,
            queues: s
                .queues
                .iter()
                .enumerate()
                .map(|(q, sq)| queue_result(&sq.name, &[q], runs, k..k + 1))
                .collect(),
            all: queue_result("all", &every, runs, k..k + 1),
            occupancy: occupancy(k..k + 1),
            staffed: Estimate::of(
                &runs
                    .iter()
                    .map(|c| c.staffed_ms[k] / s.interval_ms as f64)
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Report {
        replications: runs.len() as u32,
        intervals,
        totals: s
            .queues
            .iter()
            .enumerate()
            .map(|(q, sq)| queue_result(&sq.name, &[q], runs, s.warm_up_intervals..n))
            .collect(),
        total: queue_result("all", &every, runs, s.warm_up_intervals..n),
        occupancy: occupancy(s.warm_up_intervals..n),
        events: runs.iter().map(|c| c.events).sum(),
        refused: runs.iter().map(|c| c.refused).sum(),
    }
}
