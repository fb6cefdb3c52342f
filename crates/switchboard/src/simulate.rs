//! `switchboard simulate`: a scenario file (TOML or JSON: queues with
//! their routing, forecast and customers; agents with skills and shifts)
//! run through `sb_sim` on the real routing engine, with a progress bar
//! over replications. Writes per interval and queue CSV (with 95 %
//! confidence half-widths) and a summary on standard error.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use sb_model::{AgentId, Channel, QueueId, SkillId, Strategy};
use sb_routing::{AgentConfig, Need, QueueConfig, Step};
use sb_sim::{
    CallbackOffer, Estimate, HandleTime, Retrial, Scenario, SimAgent, SimBreak, SimQueue, SimShift,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::cli::SimulateArgs;

fn one() -> u64 {
    1
}
fn ten() -> u32 {
    10
}
fn thirty() -> u32 {
    30
}
fn twenty() -> f64 {
    20.0
}
fn voice() -> String {
    "voice".into()
}
fn longest_idle() -> String {
    "longest_idle".into()
}
fn count_one() -> u32 {
    1
}
fn a_break() -> String {
    "break".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default = "one")]
    seed: u64,
    #[serde(default = "ten")]
    replications: u32,
    #[serde(default = "thirty")]
    interval_minutes: u32,
    /// Intervals to simulate; default: the longest forecast.
    intervals: Option<usize>,
    #[serde(default)]
    warm_up_intervals: usize,
    #[serde(default)]
    answer_delay_seconds: f64,
    queues: Vec<QueueFile>,
    agents: Vec<AgentFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueFile {
    name: String,
    #[serde(default = "voice")]
    channel: String,
    #[serde(default = "longest_idle")]
    strategy: String,
    #[serde(default = "twenty")]
    service_level_seconds: f64,
    #[serde(default)]
    wrap_up_seconds: f64,
    /// Skills an agent needs, with the least proficiency.
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    /// Expected contacts per interval.
    arrivals: Option<Vec<f64>>,
    /// Or a forecast CSV `interval_start,contacts,aht_seconds` (as `wfm
    /// forecast` writes), relative to the scenario file.
    forecast_csv: Option<String>,
    handle: Option<HandleFile>,
    patience_seconds: Option<f64>,
    retrial: Option<RetrialFile>,
    /// Offer waiting customers a callback after this long.
    callback: Option<CallbackFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackFile {
    probability: f64,
    after_seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandleFile {
    /// `exponential` or `lognormal`.
    distribution: String,
    mean_seconds: f64,
    #[serde(default)]
    cv: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrialFile {
    probability: f64,
    mean_delay_seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    name: String,
    /// Agents alike (named `name 1`, `name 2`, … when more than one).
    #[serde(default = "count_one")]
    count: u32,
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    /// Contacts at once per channel (default: one voice call).
    #[serde(default)]
    capacity: BTreeMap<String, u8>,
    shifts: Vec<ShiftFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftFile {
    /// Days from the start of the run.
    #[serde(default)]
    day: u32,
    start: String,
    /// At or before `start`: the next day.
    end: String,
    #[serde(default)]
    breaks: Vec<BreakFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakFile {
    start: String,
    end: String,
    #[serde(default = "a_break")]
    reason: String,
}

fn hhmm(what: &str, s: &str) -> Result<u64> {
    sb_model::hours::minutes(s, true)
        .map(u64::from)
        .with_context(|| format!("{what}: {s:?} is not a time HH:MM"))
}

/// Reads a scenario file (`.toml`, or JSON otherwise) into a scenario.
pub fn load(path: &Path) -> Result<Scenario> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: ScenarioFile = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).with_context(|| path.display().to_string())?
    } else {
        serde_json::from_str(&text).with_context(|| path.display().to_string())?
    };
    if !(1..=1440).contains(&f.interval_minutes) || 1440 % f.interval_minutes != 0 {
        bail!("interval_minutes must divide a day");
    }
    if !(f.answer_delay_seconds.is_finite() && f.answer_delay_seconds >= 0.0) {
        bail!("answer_delay_seconds must be 0 or more");
    }
    let interval_ms = u64::from(f.interval_minutes) * 60_000;
    let mut skill_ids: BTreeMap<String, SkillId> = BTreeMap::new();
    let mut skill = |name: &str| {
        let n = skill_ids.len() as u128;
        *skill_ids
            .entry(name.to_owned())
            .or_insert_with(|| SkillId::from_uuid(Uuid::from_u128(10_000 + n)))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut queues = Vec::new();
    for (i, q) in f.queues.iter().enumerate() {
        let who = format!("queue {}", q.name);
        let channel: Channel = q
            .channel
            .parse()
            .map_err(|e| anyhow::anyhow!("{who}: {e}"))?;
        let strategy: Strategy = q
            .strategy
            .parse()
            .map_err(|e| anyhow::anyhow!("{who}: {e}"))?;
        let mut config = QueueConfig::simple(QueueId::from_uuid(Uuid::from_u128(1 + i as u128)));
        config.strategy = strategy;
        if !(q.service_level_seconds.is_finite()
            && q.service_level_seconds >= 0.0
            && q.wrap_up_seconds.is_finite()
            && q.wrap_up_seconds >= 0.0)
        {
            bail!("{who}: service_level_seconds and wrap_up_seconds must be 0 or more");
        }
        config.service_level_ms = (q.service_level_seconds * 1000.0) as u64;
        config.wrap_up_ms = (q.wrap_up_seconds * 1000.0) as u64;
        config.steps = vec![Step {
            after_ms: 0,
            needs: q
                .skills
                .iter()
                .map(|(name, min)| Need {
                    skill: skill(name),
                    min_proficiency: *min,
                })
                .collect(),
        }];
        let (arrivals, aht) = match (&q.arrivals, &q.forecast_csv) {
            (Some(a), None) => (a.clone(), None),
            (None, Some(file)) => {
                let p = dir.join(file);
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("{who}: reading {}", p.display()))?;
                let rows = sb_wfm::intervals::read_intervals(&text)
                    .map_err(|e| anyhow::anyhow!("{who}: {}: {e}", p.display()))?;
                let total: f64 = rows.iter().map(|r| r.contacts).sum();
                let weighted: f64 = rows.iter().map(|r| r.contacts * r.aht).sum();
                (
                    rows.iter().map(|r| r.contacts).collect(),
                    (total > 0.0).then(|| weighted / total),
                )
            }
            _ => bail!("{who}: give arrivals or forecast_csv (one of them)"),
        };
        let handle = match (&q.handle, aht) {
            (Some(h), _) => match h.distribution.as_str() {
                "exponential" => HandleTime::Exponential {
                    mean_ms: h.mean_seconds * 1000.0,
                },
                "lognormal" => HandleTime::LogNormal {
                    mean_ms: h.mean_seconds * 1000.0,
                    cv: h
                        .cv
                        .with_context(|| format!("{who}: a lognormal handle time needs cv"))?,
                },
                other => {
                    bail!("{who}: handle distribution {other:?} is not exponential or lognormal")
                }
            },
            (None, Some(aht)) => HandleTime::Exponential {
                mean_ms: aht * 1000.0,
            },
            (None, None) => bail!("{who}: give handle (or a forecast with handle times)"),
        };
        queues.push(SimQueue {
            name: q.name.clone(),
            config,
            channel,
            arrivals,
            handle,
            patience_mean_ms: q.patience_seconds.map(|p| p * 1000.0),
            retrial: q.retrial.as_ref().map(|r| Retrial {
                probability: r.probability,
                mean_delay_ms: r.mean_delay_seconds * 1000.0,
            }),
            callback: q.callback.as_ref().map(|c| CallbackOffer {
                probability: c.probability,
                after_ms: c.after_seconds * 1000.0,
            }),
        });
    }
    let intervals = f
        .intervals
        .unwrap_or_else(|| queues.iter().map(|q| q.arrivals.len()).max().unwrap_or(0));
    let mut agents = Vec::new();
    for a in &f.agents {
        let who = format!("agent {}", a.name);
        let mut capacity = [0u8; 4];
        if a.capacity.is_empty() {
            capacity[0] = 1;
        }
        for (ch, n) in &a.capacity {
            let c: Channel = ch.parse().map_err(|e| anyhow::anyhow!("{who}: {e}"))?;
            capacity[c as usize] = *n;
        }
        let mut skills = Vec::new();
        for (name, p) in &a.skills {
            if !(1..=10).contains(p) {
                bail!("{who}: proficiency in {name} must be 1 to 10");
            }
            skills.push((skill(name), *p));
        }
        let mut shifts = Vec::new();
        for s in &a.shifts {
            let day = u64::from(s.day) * 1440;
            let start = day + hhmm(&who, &s.start)?;
            let mut end = day + hhmm(&who, &s.end)?;
            if end <= start {
                end += 1440;
            }
            let mut breaks = Vec::new();
            for b in &s.breaks {
                let mut bs = day + hhmm(&who, &b.start)?;
                if bs < start {
                    bs += 1440;
                }
                let mut be = day + hhmm(&who, &b.end)?;
                while be <= bs {
                    be += 1440;
                }
                breaks.push(SimBreak {
                    start_ms: bs * 60_000,
                    end_ms: be * 60_000,
                    reason: b.reason.clone(),
                });
            }
            shifts.push(SimShift {
                start_ms: start * 60_000,
                end_ms: end * 60_000,
                breaks,
            });
        }
        if a.count == 0 || a.count > 10_000 {
            bail!("{who}: count must be from 1 to 10000");
        }
        for k in 0..a.count {
            let n = agents.len() as u128;
            agents.push(SimAgent {
                name: if a.count == 1 {
                    a.name.clone()
                } else {
                    format!("{} {}", a.name, k + 1)
                },
                config: AgentConfig {
                    id: AgentId::from_uuid(Uuid::from_u128(1_000_000 + n)),
                    skills: skills.clone(),
                    capacity,
                    voice_blocks_others: true,
                    attributes: Default::default(),
                },
                shifts: shifts.clone(),
            });
        }
    }
    let s = Scenario {
        seed: f.seed,
        replications: f.replications,
        interval_ms,
        intervals,
        warm_up_intervals: f.warm_up_intervals,
        queues,
        agents,
        answer_delay_ms: (f.answer_delay_seconds * 1000.0) as u64,
    };
    s.validate()?;
    Ok(s)
}

fn est(e: Option<Estimate>, scale: f64, digits: usize) -> [String; 2] {
    match e {
        Some(e) => [
            format!("{:.digits$}", e.mean * scale),
            e.half_width
                .map(|h| format!("{:.digits$}", h * scale))
                .unwrap_or_default(),
        ],
        None => [String::new(), String::new()],
    }
}

pub fn simulate_command(a: &SimulateArgs, out: &mut dyn Write) -> Result<()> {
    let s = load(Path::new(&a.scenario))?;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::from(s.replications)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} replications ({elapsed})")
    {
        bar.set_style(style);
    }
    let started = std::time::Instant::now();
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let r = sb_sim::simulate(&s, threads, |done| bar.set_position(u64::from(done)))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record([
        "interval",
        "start",
        "queue",
        "offered",
        "answered",
        "abandoned",
        "callbacks",
        "service_level",
        "service_level_ci",
        "asa_seconds",
        "asa_ci",
        "aht_seconds",
        "abandon_rate",
        "occupancy",
        "occupancy_ci",
        "agents_staffed",
    ])?;
    let minutes = s.interval_ms / 60_000;
    for iv in &r.intervals {
        let m = iv.interval as u64 * minutes;
        let start = format!("day {} {:02}:{:02}", m / 1440, (m % 1440) / 60, m % 60);
        for q in &iv.queues {
            let [offered, _] = est(q.offered, 1.0, 1);
            let [answered, _] = est(q.answered, 1.0, 1);
            let [abandoned, _] = est(q.abandoned, 1.0, 1);
            let [callbacks, _] = est(q.callbacks, 1.0, 1);
            let [sl, sl_ci] = est(q.service_level, 1.0, 4);
            let [asa, asa_ci] = est(q.asa_s, 1.0, 1);
            let [aht, _] = est(q.aht_s, 1.0, 1);
            let [ab, _] = est(q.abandon_rate, 1.0, 4);
            let [occ, occ_ci] = est(iv.occupancy, 1.0, 4);
            let [staffed, _] = est(iv.staffed, 1.0, 1);
            w.write_record([
                iv.interval.to_string(),
                start.clone(),
                q.queue.clone(),
                offered,
                answered,
                abandoned,
                callbacks,
                sl,
                sl_ci,
                asa,
                asa_ci,
                aht,
                ab,
                occ,
                occ_ci,
                staffed,
            ])?;
        }
    }
    w.flush()?;
    eprintln!(
        "{} replications of {} intervals on {threads} threads, {} events in {secs:.2} s ({:.0} events/s)",
        r.replications,
        s.intervals,
        r.events,
        r.events as f64 / secs.max(1e-9)
    );
    let pm = |e: Option<Estimate>, scale: f64, unit: &str| match e {
        Some(e) => match e.half_width {
            Some(h) => format!("{:.1}{unit} ± {:.1}", e.mean * scale, h * scale),
            None => format!("{:.1}{unit}", e.mean * scale),
        },
        None => "—".into(),
    };
    for t in &r.totals {
        eprintln!(
            "{}: offered {}, service level {}, abandoned {}, callbacks {}, ASA {}, AHT {}",
            t.queue,
            pm(t.offered, 1.0, ""),
            pm(t.service_level, 100.0, " %"),
            pm(t.abandon_rate, 100.0, " %"),
            pm(t.callbacks, 1.0, ""),
            pm(t.asa_s, 1.0, " s"),
            pm(t.aht_s, 1.0, " s"),
        );
    }
    eprintln!("occupancy {}", pm(r.occupancy, 100.0, " %"));
    if r.refused > 0 {
        eprintln!("the routing engine refused {} inputs", r.refused);
    }
    Ok(())
}
