//! What-if: a roster run against the forecast on the simulator (`sb_sim`,
//! which drives the real routing engine) to predict service level,
//! abandonment and occupancy per interval before the roster is worked.
//!
//! Each queue's contacts are forecast from the store's history (as the
//! planning page does) and arrive on the channel most of its recent
//! contacts came on; handle times are drawn from those its contacts on
//! that channel took in the last two weeks (exponential with the
//! forecast's mean while there are fewer than 30); the tenant's queues and agents are configured in the engine as
//! they are live, and each agent follows their shifts in the roster.
//! Simulation time is real time from local midnight of the roster's first
//! day; each interval takes the forecast of the local interval it begins
//! in.

use std::collections::BTreeMap;

use sb_model::{Channel, Permission, UnixMs};
use sb_sim::{Estimate, HandleTime, Scenario, SimAgent, SimBreak, SimQueue, SimShift};
use sb_store::ContactFilter;
use serde::Serialize;
use utoipa::ToSchema;

use crate::wfm::PlanRequest;
use crate::{App, AppError, FieldError, Principal, local_midnight};

/// What to predict.
#[derive(Debug, Clone)]
pub struct PredictRequest {
    pub roster_id: String,
    pub interval_minutes: u32,
    pub history_weeks: u32,
    /// Mean patience of waiting customers; `None`: they never give up.
    pub patience_seconds: Option<f64>,
    pub replications: u32,
    /// How long agents take to accept what rings.
    pub answer_delay_seconds: f64,
    pub default_aht: f64,
}

/// A mean with its 95 % confidence half-width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Predicted {
    pub mean: f64,
    pub half_width: Option<f64>,
}

fn predicted(e: Option<Estimate>) -> Option<Predicted> {
    e.map(|e| Predicted {
        mean: e.mean,
        half_width: e.half_width,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PredictedInterval {
    /// Local `YYYY-MM-DDTHH:MM`.
    pub local_start: String,
    pub offered: Option<Predicted>,
    /// Answered within each queue's service-level time, over those who left
    /// the queue; every queue together.
    pub service_level: Option<Predicted>,
    pub abandon_rate: Option<Predicted>,
    pub asa_seconds: Option<Predicted>,
    pub occupancy: Option<Predicted>,
    /// Agents logged in and not away, on average.
    pub staffed: Option<Predicted>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PredictedQueue {
    pub queue_id: String,
    pub name: String,
    pub channel: String,
    pub offered: Option<Predicted>,
    pub service_level: Option<Predicted>,
    pub service_level_seconds: f64,
    pub abandon_rate: Option<Predicted>,
    pub asa_seconds: Option<Predicted>,
    pub aht_seconds: Option<Predicted>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Prediction {
    pub roster_id: String,
    pub replications: u32,
    pub intervals: Vec<PredictedInterval>,
    pub queues: Vec<PredictedQueue>,
    pub service_level: Option<Predicted>,
    pub abandon_rate: Option<Predicted>,
    pub occupancy: Option<Predicted>,
    /// Simulation events handled, over all replications.
    pub events: u64,
}

/// Handle times a queue needs in its last two weeks for the simulation to
/// draw from them rather than from an exponential distribution.
const MIN_OBSERVED: usize = 30;

fn bad(field: &str, message: &str) -> AppError {
    AppError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

impl App {
    /// The channel most of a queue's recent contacts came on (voice if it
    /// has none), and the talk times (answer to the end of the
    /// conversation, ms; the queue's wrap-up is simulated on top) of those
    /// on it that were answered, from a page of contacts since `since`.
    async fn queue_sample(
        &self,
        p: &Principal,
        queue: sb_model::QueueId,
        since: UnixMs,
    ) -> Result<(Channel, Vec<u64>), AppError> {
        let filter = ContactFilter {
            queue_id: Some(queue),
            arrived_from: Some(since),
            ..Default::default()
        };
        let page = self
            .store()
            .list_contacts(p.tenant_id, &filter, None, 1000)
            .await?;
        let mut counts: BTreeMap<Channel, usize> = BTreeMap::new();
        for c in &page.items {
            *counts.entry(c.channel).or_default() += 1;
        }
        let channel = counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(c, _)| c)
            .unwrap_or(Channel::Voice);
        let handle = page
            .items
            .iter()
            .filter(|c| c.channel == channel)
            .filter_map(|c| {
                let done = c.wrap_started_at.or(c.ended_at)?;
                let answered = c.answered_at?;
                (done > answered).then(|| (done - answered) as u64)
            })
            .collect();
        Ok((channel, handle))
    }

    /// Runs roster `roster_id` against the forecast of its days.
    pub async fn predict_roster(
        &self,
        p: &Principal,
        r: PredictRequest,
    ) -> Result<Prediction, AppError> {
        p.require(Permission::ReportRead)?;
        if !(1..=30).contains(&r.replications) {
            return Err(bad("replications", "must be from 1 to 30"));
        }
        if r.patience_seconds
            .is_some_and(|x| !(x.is_finite() && x > 0.0))
        {
            return Err(bad("patience_seconds", "must be above 0"));
        }
        if !(r.answer_delay_seconds.is_finite() && (0.0..=120.0).contains(&r.answer_delay_seconds))
        {
            return Err(bad("answer_delay_seconds", "must be from 0 to 120"));
        }
        let roster = self.roster(p, &r.roster_id).await?;
        let tz = self.tenant_zone(p.tenant_id).await?;
        let first: jiff::civil::Date = roster
            .roster
            .first_day
            .parse()
            .map_err(|_| AppError::Internal("a roster has a bad first day".into()))?;
        let end = first
            .checked_add(jiff::Span::new().days(roster.roster.days))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let origin = local_midnight(&tz, first)?;
        let step = i64::from(r.interval_minutes) * 60_000;
        let intervals = ((local_midnight(&tz, end)? - origin) / step).max(1) as usize;
        let locals: Vec<String> = (0..intervals)
            .map(|k| crate::rosters::local(&tz, origin + k as i64 * step))
            .collect();
        let (configs, _) = crate::routing::queue_configs(self.store(), p.tenant_id).await?;
        if configs.is_empty() {
            return Err(bad("roster_id", "the centre has no queues to simulate"));
        }
        if configs.len() > 50 {
            return Err(bad("roster_id", "at most 50 queues can be simulated"));
        }
        let names: BTreeMap<String, String> = self
            .store()
            .list_queues(p.tenant_id, None, 500)
            .await?
            .items
            .into_iter()
            .map(|q| (q.id.to_string(), q.name))
            .collect();
        let mut queues = Vec::with_capacity(configs.len());
        for config in configs {
            let plan = self
                .plan(
                    p,
                    PlanRequest {
                        queue: Some(config.id),
                        from: first.to_string(),
                        days: roster.roster.days as u32,
                        interval_minutes: r.interval_minutes,
                        history_weeks: r.history_weeks,
                        history_csv: None,
                        holidays: Vec::new(),
                        default_aht: r.default_aht,
                        model: sb_wfm::Model::ErlangC,
                        target: sb_wfm::Target {
                            service_level: Some((0.8, 20.0)),
                            ..Default::default()
                        },
                    },
                )
                .await?;
            let by_local: BTreeMap<&str, (f64, f64)> = plan
                .intervals
                .iter()
                .map(|i| (i.local_start.as_str(), (i.contacts, i.aht_seconds)))
                .collect();
            let arrivals: Vec<f64> = locals
                .iter()
                .map(|l| by_local.get(l.as_str()).map(|x| x.0).unwrap_or(0.0))
                .collect();
            let total: f64 = plan.intervals.iter().map(|i| i.contacts).sum();
            let weighted: f64 = plan
                .intervals
                .iter()
                .map(|i| i.contacts * i.aht_seconds)
                .sum();
            let aht = if total > 0.0 {
                weighted / total
            } else {
                r.default_aht
            };
            let (channel, observed) = self
                .queue_sample(p, config.id, origin - 14 * 86_400_000)
                .await?;
            queues.push(SimQueue {
                name: names
                    .get(&config.id.to_string())
                    .cloned()
                    .unwrap_or_else(|| config.id.to_string()),
                channel,
                arrivals,
                // Talk times as observed, given enough of them; else
                // exponential with the forecast's mean handle time.
                handle: if observed.len() >= MIN_OBSERVED {
                    HandleTime::Observed(observed)
                } else {
                    HandleTime::Exponential {
                        mean_ms: aht.max(1.0) * 1000.0,
                    }
                },
                patience_mean_ms: r.patience_seconds.map(|x| x * 1000.0),
                retrial: None,
                callback: None,
                config,
            });
        }
        // Agents as the engine knows them, each on their roster shifts.
        let skills = crate::routing::skill_names(self.store(), p.tenant_id).await?;
        let agent_configs =
            crate::routing::agent_configs(self.store(), p.tenant_id, &skills).await?;
        let mut shifts: BTreeMap<String, Vec<SimShift>> = BTreeMap::new();
        let horizon = intervals as i64 * step;
        let rel = |ms: UnixMs| (ms - origin).clamp(0, horizon) as u64;
        for s in &roster.shifts {
            let Some(a) = &s.agent_id else { continue };
            if s.ends_at <= origin || rel(s.starts_at) >= rel(s.ends_at) {
                continue;
            }
            shifts.entry(a.clone()).or_default().push(SimShift {
                start_ms: rel(s.starts_at),
                end_ms: rel(s.ends_at),
                breaks: s
                    .breaks
                    .iter()
                    .filter(|b| rel(b.starts_at) < rel(b.ends_at))
                    .map(|b| SimBreak {
                        start_ms: rel(b.starts_at),
                        end_ms: rel(b.ends_at),
                        reason: "break".into(),
                    })
                    .collect(),
            });
        }
        let agents: Vec<SimAgent> = agent_configs
            .into_iter()
            .map(|config| SimAgent {
                name: config.id.to_string(),
                shifts: shifts.remove(&config.id.to_string()).unwrap_or_default(),
                config,
            })
            .collect();
        let scenario = Scenario {
            seed: 1,
            replications: r.replications,
            interval_ms: step as u64,
            intervals,
            warm_up_intervals: 0,
            queues,
            agents,
            answer_delay_ms: (r.answer_delay_seconds * 1000.0) as u64,
        };
        let report = tokio::task::spawn_blocking({
            let scenario = scenario.clone();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            move || sb_sim::simulate(&scenario, threads, |_| {})
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| bad("roster_id", &e.to_string()))?;
        Ok(Prediction {
            roster_id: r.roster_id,
            replications: report.replications,
            intervals: report
                .intervals
                .iter()
                .zip(&locals)
                .map(|(i, l)| PredictedInterval {
                    local_start: l.clone(),
                    offered: predicted(i.all.offered),
                    service_level: predicted(i.all.service_level),
                    abandon_rate: predicted(i.all.abandon_rate),
                    asa_seconds: predicted(i.all.asa_s),
                    occupancy: predicted(i.occupancy),
                    staffed: predicted(i.staffed),
                })
                .collect(),
            queues: report
                .totals
                .iter()
                .zip(&scenario.queues)
                .map(|(t, q)| PredictedQueue {
                    queue_id: q.config.id.to_string(),
                    name: q.name.clone(),
                    channel: q.channel.to_string(),
                    offered: predicted(t.offered),
                    service_level: predicted(t.service_level),
                    service_level_seconds: q.config.service_level_ms as f64 / 1000.0,
                    abandon_rate: predicted(t.abandon_rate),
                    asa_seconds: predicted(t.asa_s),
                    aht_seconds: predicted(t.aht_s),
                })
                .collect(),
            service_level: predicted(report.total.service_level),
            abandon_rate: predicted(report.total.abandon_rate),
            occupancy: predicted(report.occupancy),
            events: report.events,
        })
    }
}

/// The tenant's queues (with their names) and agents (with their display
/// names) as the routing engine takes them, to build a simulation of the
/// centre as it is set up.
pub struct EngineSetup {
    pub queues: Vec<(String, sb_routing::QueueConfig)>,
    pub agents: Vec<(String, sb_routing::AgentConfig)>,
}

impl App {
    pub async fn engine_setup(&self, p: &Principal) -> Result<EngineSetup, AppError> {
        p.require(Permission::ReportRead)?;
        let (configs, _) = crate::routing::queue_configs(self.store(), p.tenant_id).await?;
        let names: BTreeMap<String, String> = self
            .store()
            .list_queues(p.tenant_id, None, 500)
            .await?
            .items
            .into_iter()
            .map(|q| (q.id.to_string(), q.name))
            .collect();
        let skills = crate::routing::skill_names(self.store(), p.tenant_id).await?;
        let agents = crate::routing::agent_configs(self.store(), p.tenant_id, &skills).await?;
        let agent_names: BTreeMap<String, String> = self
            .all_agents(p)
            .await?
            .into_iter()
            .map(|a| (a.id.to_string(), a.display_name))
            .collect();
        Ok(EngineSetup {
            queues: configs
                .into_iter()
                .map(|c| {
                    let id = c.id.to_string();
                    (names.get(&id).cloned().unwrap_or(id), c)
                })
                .collect(),
            agents: agents
                .into_iter()
                .map(|c| {
                    let id = c.id.to_string();
                    (agent_names.get(&id).cloned().unwrap_or(id), c)
                })
                .collect(),
        })
    }

    /// Stores a simulated replication as the centre's history: each traced
    /// contact as an ended or abandoned contact with its timeline events,
    /// and agents' status changes as status events, from `origin` (epoch
    /// ms) on. Contacts answered get `disposition`. For seeding a demo or
    /// a training centre; returns the contacts written.
    pub async fn import_simulated_history(
        &self,
        p: &Principal,
        origin: UnixMs,
        scenario: &Scenario,
        trace: &sb_sim::Trace,
        disposition: &str,
    ) -> Result<usize, AppError> {
        p.require(Permission::TenantManage)?;
        let at = |ms: u64| origin + ms as i64;
        let mut written = 0;
        for chunk in trace.contacts.chunks(2000) {
            let mut changes = sb_store::RoutingChanges::default();
            for c in chunk {
                // Contacts still open when the run ended are left out.
                let done = c.ended.or(c.abandoned);
                let Some(done) = done else { continue };
                let q = &scenario.queues[c.queue];
                let id = sb_model::ContactId::from_uuid(self.new_uuid());
                let agent = c.agent.map(|a| scenario.agents[a].config.id.to_string());
                let state = if c.abandoned.is_some() {
                    sb_model::ContactState::Abandoned
                } else {
                    sb_model::ContactState::Ended
                };
                let wrap = c
                    .completed
                    .filter(|&x| c.ended.is_some_and(|e| e > x))
                    .map(at);
                changes.new_contacts.push(sb_store::Contact {
                    id,
                    tenant_id: p.tenant_id,
                    channel: q.channel,
                    direction: sb_model::Direction::Inbound,
                    queue_id: q.config.id,
                    customer_id: None,
                    agent_id: agent.clone(),
                    state,
                    priority: 50,
                    subject: String::new(),
                    from_address: None,
                    to_address: None,
                    reason: None,
                    disposition: c.answered.map(|_| disposition.to_owned()),
                    notes: String::new(),
                    arrived_at: at(c.arrived),
                    queued_at: Some(at(c.arrived)),
                    first_reserved_at: c.answered.map(at),
                    answered_at: c.answered.map(at),
                    hold_ms: 0,
                    wrap_started_at: wrap,
                    wrap_ended_at: wrap.and(c.ended.map(at)),
                    ended_at: c.ended.map(at),
                    abandoned_at: c.abandoned.map(at),
                    created_at: at(c.arrived),
                    updated_at: at(done),
                    attributes: "{}".into(),
                    requested_agent_id: None,
                });
                let event = |kind, ms: u64, payload| sb_store::NewEvent {
                    kind,
                    subject_id: id.to_string(),
                    at: at(ms),
                    payload,
                };
                let queue = q.config.id.to_string();
                changes.events.push(event(
                    "contact.created",
                    c.arrived,
                    serde_json::json!({"channel": q.channel, "queue_id": queue, "priority": 50}),
                ));
                if let Some(a) = c.answered {
                    changes.events.push(event(
                        "contact.answered",
                        a,
                        serde_json::json!({"agent_id": agent, "queue_id": queue, "waited_ms": a - c.arrived}),
                    ));
                }
                if let Some(w) = c.completed.filter(|_| wrap.is_some()) {
                    changes.events.push(event(
                        "contact.wrap_up_started",
                        w,
                        serde_json::json!({"agent_id": agent}),
                    ));
                }
                match (c.ended, c.abandoned) {
                    (Some(e), _) => changes.events.push(event(
                        "contact.ended",
                        e,
                        serde_json::json!({"agent_id": agent}),
                    )),
                    (None, Some(ab)) => changes.events.push(event(
                        "contact.abandoned",
                        ab,
                        serde_json::json!({"queue_id": queue, "waited_ms": ab - c.arrived, "short": false}),
                    )),
                    _ => {}
                }
                written += 1;
            }
            self.store().apply_routing(p.tenant_id, &changes).await?;
        }
        for chunk in trace.statuses.chunks(5000) {
            let changes = sb_store::RoutingChanges {
                events: chunk
                    .iter()
                    .map(|s| sb_store::NewEvent {
                        kind: "agent.status",
                        subject_id: scenario.agents[s.agent].config.id.to_string(),
                        at: at(s.at),
                        payload: serde_json::json!({"status": s.status, "reason": s.reason}),
                    })
                    .collect(),
                ..Default::default()
            };
            self.store().apply_routing(p.tenant_id, &changes).await?;
        }
        Ok(written)
    }
}
