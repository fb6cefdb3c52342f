//! Planning: forecast contacts per interval and the agents they need,
//! and the shifts that cover them.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use sb_app::wfm::{Intraday, PlanRequest, PlannedInterval};
use sb_model::QueueId;
use sb_wfm::{Model, Target};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

/// Uploaded history can be months of intervals.
const MAX_PLAN_BODY: usize = 4 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(plan))
        .routes(routes!(schedule_shifts))
        .routes(routes!(intraday))
        .layer(DefaultBodyLimit::max(MAX_PLAN_BODY))
}

fn thirty() -> u32 {
    30
}
fn seven() -> u32 {
    7
}
fn eight() -> u32 {
    8
}
fn erlang_c() -> String {
    "erlang-c".into()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanIn {
    /// One queue's contacts; all queues when absent.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub queue_id: Option<QueueId>,
    /// The first local day to plan, `YYYY-MM-DD`.
    pub from: String,
    /// Days to plan, 1–31 (default 7).
    #[serde(default = "seven")]
    pub days: u32,
    /// Minutes per interval: 15, 30 or 60 (default 30).
    #[serde(default = "thirty")]
    pub interval: u32,
    /// Weeks of Switchboard's own contacts before `from` to learn from,
    /// 2–26 (default 8); ignored when `history_csv` is given.
    #[serde(default = "eight")]
    pub history_weeks: u32,
    /// History to learn from instead: CSV `interval_start,contacts,aht_seconds`
    /// in local time, at least two weeks.
    pub history_csv: Option<String>,
    /// Holiday dates, in history or ahead.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Handle time where history has none yet (default 300).
    pub default_aht_seconds: Option<f64>,
    /// `erlang-c` (default) or `erlang-a`.
    #[serde(default = "erlang_c")]
    pub model: String,
    /// Callers' mean patience, seconds (Erlang A).
    pub patience_seconds: Option<f64>,
    /// Percent answered within `sl_seconds`.
    pub sl_target: Option<f64>,
    pub sl_seconds: Option<f64>,
    pub asa_seconds: Option<f64>,
    /// Percent.
    pub max_occupancy: Option<f64>,
    /// Percent of paid time agents cannot take contacts.
    #[serde(default)]
    pub shrinkage: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPoint {
    pub local_start: String,
    pub contacts: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedOut {
    pub local_start: String,
    /// Forecast contacts.
    pub contacts: f64,
    /// Forecast handle time.
    pub aht_seconds: f64,
    /// Agents taking contacts, and positions to roster after shrinkage.
    pub agents: u64,
    pub positions: u64,
    pub service_level: f64,
    pub asa_seconds: f64,
    pub occupancy: f64,
    /// `skipped` (the clocks go forward over it: nobody is needed) or
    /// `repeated` (they go back over it: it happens twice); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_change: Option<&'static str>,
}

impl From<PlannedInterval> for PlannedOut {
    fn from(p: PlannedInterval) -> Self {
        PlannedOut {
            local_start: p.local_start,
            contacts: p.contacts,
            aht_seconds: p.aht_seconds,
            agents: p.agents,
            positions: p.positions,
            service_level: p.service_level,
            asa_seconds: p.asa_seconds,
            occupancy: p.occupancy,
            clock_change: p.clock_change,
        }
    }
}

/// The forecast's errors on the last week of history, and the
/// seasonal-naive baseline's (`null` with under three weeks of history).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccuracyOut {
    pub wape: Option<f64>,
    pub mape: Option<f64>,
    pub naive_wape: Option<f64>,
    pub naive_mape: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOut {
    /// The last week of history, for comparison.
    pub history: Vec<HistoryPoint>,
    pub intervals: Vec<PlannedOut>,
    pub accuracy: AccuracyOut,
    /// Days of history learnt from.
    pub history_days: usize,
}

fn pct(field: &str, v: f64) -> Result<f64, sb_app::AppError> {
    if (0.0..=100.0).contains(&v) {
        Ok(v / 100.0)
    } else {
        Err(sb_app::AppError::invalid(
            field,
            "must be a percentage from 0 to 100",
        ))
    }
}

/// The queueing model and targets, as the API takes them (percentages).
struct Targets {
    model: String,
    patience_seconds: Option<f64>,
    sl_target: Option<f64>,
    sl_seconds: Option<f64>,
    asa_seconds: Option<f64>,
    max_occupancy: Option<f64>,
    shrinkage: f64,
}

fn model_and_target(b: &Targets) -> Result<(Model, Target), sb_app::AppError> {
    use sb_app::AppError;
    let model = match (b.model.as_str(), b.patience_seconds) {
        ("erlang-c", _) => Model::ErlangC,
        ("erlang-a", Some(patience)) => Model::ErlangA { patience },
        ("erlang-a", None) => {
            return Err(AppError::invalid(
                "patience_seconds",
                "Erlang A needs callers' mean patience",
            ));
        }
        _ => return Err(AppError::invalid("model", "must be erlang-c or erlang-a")),
    };
    let service_level = match (b.sl_target, b.sl_seconds) {
        (Some(t), Some(sec)) => Some((pct("sl_target", t)?, sec)),
        (None, None) if b.asa_seconds.is_some() => None,
        (None, None) => Some((0.8, 20.0)),
        (None, Some(_)) => return Err(AppError::invalid("sl_target", "give it with sl_seconds")),
        (Some(_), None) => return Err(AppError::invalid("sl_seconds", "give it with sl_target")),
    };
    Ok((
        model,
        Target {
            service_level,
            asa: b.asa_seconds,
            max_occupancy: b
                .max_occupancy
                .map(|o| pct("max_occupancy", o))
                .transpose()?,
            shrinkage: pct("shrinkage", b.shrinkage)?,
        },
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntradayQuery {
    #[param(value_type = Option<String>, format = Uuid)]
    pub queue_id: Option<QueueId>,
    /// Minutes per interval: 15, 30 or 60 (default 30).
    pub interval: Option<u32>,
    /// Weeks of history behind today's forecast, 2–26 (default 8).
    pub history_weeks: Option<u32>,
    pub model: Option<String>,
    pub patience_seconds: Option<f64>,
    pub sl_target: Option<f64>,
    pub sl_seconds: Option<f64>,
    pub asa_seconds: Option<f64>,
    pub max_occupancy: Option<f64>,
    pub default_aht_seconds: Option<f64>,
}

/// Today as it goes: forecast, actual contacts, the re-forecast for the
/// rest of the day, agents needed and agents logged in, per interval.
#[utoipa::path(get, path = "/wfm/intraday", tag = "reports", params(IntradayQuery),
    responses((status = 200, body = Intraday), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn intraday(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<IntradayQuery>,
) -> ApiResult<Json<Intraday>> {
    let (model, target) = model_and_target(&Targets {
        model: q.model.unwrap_or_else(erlang_c),
        patience_seconds: q.patience_seconds,
        sl_target: q.sl_target,
        sl_seconds: q.sl_seconds,
        asa_seconds: q.asa_seconds,
        max_occupancy: q.max_occupancy,
        shrinkage: 0.0,
    })?;
    let day = s
        .app
        .intraday(
            &p,
            PlanRequest {
                queue: q.queue_id,
                from: String::new(),
                days: 1,
                interval_minutes: q.interval.unwrap_or(30),
                history_weeks: q.history_weeks.unwrap_or(8),
                history_csv: None,
                holidays: Vec::new(),
                default_aht: q.default_aht_seconds.unwrap_or(300.0),
                model,
                target,
            },
        )
        .await?;
    Ok(Json(day))
}

/// Forecasts contacts and handle time per interval for the days from
/// `from` (learning from the store's contacts or from uploaded history)
/// and the agents each interval needs.
#[utoipa::path(post, path = "/wfm/plan", tag = "reports", request_body = PlanIn,
    responses((status = 200, body = PlanOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn plan(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<PlanIn>,
) -> ApiResult<Json<PlanOut>> {
    let (model, target) = model_and_target(&Targets {
        model: b.model.clone(),
        patience_seconds: b.patience_seconds,
        sl_target: b.sl_target,
        sl_seconds: b.sl_seconds,
        asa_seconds: b.asa_seconds,
        max_occupancy: b.max_occupancy,
        shrinkage: b.shrinkage,
    })?;
    let plan = s
        .app
        .plan(
            &p,
            PlanRequest {
                queue: b.queue_id,
                from: b.from,
                days: b.days,
                interval_minutes: b.interval,
                history_weeks: b.history_weeks,
                history_csv: b.history_csv,
                holidays: b.holidays,
                default_aht: b.default_aht_seconds.unwrap_or(300.0),
                model,
                target,
            },
        )
        .await?;
    Ok(Json(PlanOut {
        history: plan
            .history
            .into_iter()
            .map(|(local_start, contacts)| HistoryPoint {
                local_start,
                contacts,
            })
            .collect(),
        intervals: plan.intervals.into_iter().map(PlannedOut::from).collect(),
        accuracy: AccuracyOut {
            wape: plan.accuracy.wape,
            mape: plan.accuracy.mape,
            naive_wape: plan.accuracy.naive_wape,
            naive_mape: plan.accuracy.naive_mape,
        },
        history_days: plan.history_days,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakIn {
    pub minutes: u32,
    #[serde(default)]
    pub paid: bool,
    /// The break starts between these many minutes after the shift starts.
    pub earliest_minutes: u32,
    pub latest_minutes: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftTemplateIn {
    pub name: String,
    pub minutes: u32,
    /// Allowed start times, `HH:MM`.
    pub starts: Vec<String>,
    #[serde(default)]
    pub breaks: Vec<BreakIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleIn {
    /// Minutes per interval: 15, 30 or 60.
    pub interval: u32,
    /// Agents needed per interval, whole days from local midnight (the
    /// `positions` of a plan).
    pub required: Vec<u32>,
    pub shifts: Vec<ShiftTemplateIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledShiftOut {
    /// Day from the first, from 0.
    pub day: usize,
    pub shift: String,
    pub start: String,
    pub end: String,
    /// Its length, breaks included.
    pub minutes: u32,
    pub breaks: Vec<ScheduledBreakOut>,
    pub agents: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledBreakOut {
    /// `HH:MM`.
    pub start: String,
    pub end: String,
    pub minutes: u32,
    pub paid: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    pub shifts: Vec<ScheduledShiftOut>,
    /// Agents on duty per interval.
    pub coverage: Vec<u32>,
    /// Shifts started, and the fewest any schedule could start.
    pub total: u64,
    pub lower_bound: u64,
    /// Agent-intervals above the requirement.
    pub over: u64,
    /// Agent-intervals no shift can reach, and which intervals.
    pub under: u64,
    pub shortfall: Vec<usize>,
}

/// Shifts to start each day so that every interval's requirement is met
/// with as little over-staffing as possible.
#[utoipa::path(post, path = "/wfm/schedule", tag = "reports", request_body = ScheduleIn,
    responses((status = 200, body = ScheduleOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn schedule_shifts(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<ScheduleIn>,
) -> ApiResult<Json<ScheduleOut>> {
    let mut templates = Vec::with_capacity(b.shifts.len());
    for (i, t) in b.shifts.iter().enumerate() {
        let mut starts = Vec::with_capacity(t.starts.len());
        for (k, st) in t.starts.iter().enumerate() {
            let time = st.parse::<jiff::civil::Time>().map_err(|_| {
                sb_app::AppError::invalid(
                    format!("shifts[{i}].starts[{k}]"),
                    "must be a time HH:MM",
                )
            })?;
            starts.push(time.hour() as u32 * 60 + time.minute() as u32);
        }
        templates.push(sb_wfm::schedule::ShiftTemplate {
            name: t.name.clone(),
            minutes: t.minutes,
            starts,
            breaks: t
                .breaks
                .iter()
                .map(|br| sb_wfm::schedule::Break {
                    minutes: br.minutes,
                    paid: br.paid,
                    earliest: br.earliest_minutes,
                    latest: br.latest_minutes,
                })
                .collect(),
        });
    }
    let out = s
        .app
        .schedule_shifts(&p, &b.required, b.interval, &templates)?;
    let hhmm = |m: u32| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    let mut shifts: Vec<ScheduledShiftOut> = out
        .shifts
        .iter()
        .map(|(pl, n)| {
            let t = &templates[pl.template];
            ScheduledShiftOut {
                day: pl.day,
                shift: t.name.clone(),
                start: hhmm(pl.start),
                end: hhmm(pl.start + t.minutes),
                minutes: t.minutes,
                breaks: pl
                    .breaks
                    .iter()
                    .zip(&t.breaks)
                    .map(|(&at, br)| ScheduledBreakOut {
                        start: hhmm(pl.start + at),
                        end: hhmm(pl.start + at + br.minutes),
                        minutes: br.minutes,
                        paid: br.paid,
                    })
                    .collect(),
                agents: *n,
            }
        })
        .collect();
    shifts.sort_by(|a, b| (a.day, &a.start, &a.shift).cmp(&(b.day, &b.start, &b.shift)));
    Ok(Json(ScheduleOut {
        shifts,
        coverage: out.coverage,
        total: out.total,
        lower_bound: out.lower_bound,
        over: out.over,
        under: out.under,
        shortfall: out.shortfall,
    }))
}
