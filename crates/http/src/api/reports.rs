//! Reports: the interval report per queue, as JSON or CSV.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sb_app::reports::{AgentRow, IntervalRow, agent_csv, interval_csv};
use sb_model::QueueId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(intervals))
        .routes(routes!(agents))
        .routes(routes!(agent_today))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntervalParams {
    /// First local date, `YYYY-MM-DD` (the tenant's time zone).
    pub from: String,
    /// Last local date, inclusive; at most 31 days after `from`.
    pub to: String,
    /// Minutes per interval: 15, 30 or 60 (default 30).
    pub interval: Option<i64>,
    /// One queue only.
    #[param(value_type = Option<String>, format = Uuid)]
    pub queue_id: Option<QueueId>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalOut {
    pub start: i64,
    /// The interval's start in the tenant's local time.
    pub local_start: String,
    pub queue_id: String,
    pub queue: String,
    pub offered: u64,
    pub answered: u64,
    pub answered_within: u64,
    pub abandoned: u64,
    pub service_level_pct: Option<f64>,
    pub asa_ms: Option<u64>,
    pub aht_ms: Option<u64>,
    /// The centre's occupancy in the interval: of agents' time available,
    /// busy or wrapping up, the share busy or wrapping up, percent.
    pub occupancy_pct: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalReport {
    pub items: Vec<IntervalOut>,
}

impl From<IntervalRow> for IntervalOut {
    fn from(r: IntervalRow) -> Self {
        IntervalOut {
            start: r.start,
            local_start: r.local_start,
            queue_id: r.queue_id.to_string(),
            queue: r.queue,
            offered: r.offered,
            answered: r.answered,
            answered_within: r.answered_within,
            abandoned: r.abandoned,
            service_level_pct: r.service_level_pct,
            asa_ms: r.asa_ms,
            aht_ms: r.aht_ms,
            occupancy_pct: r.occupancy_pct,
        }
    }
}

/// Offered, answered, abandoned, service level, ASA and AHT per queue and
/// interval; contacts count in the interval they arrived in, under the
/// queue they ended in. `format=csv` downloads it as CSV.
#[utoipa::path(get, path = "/reports/intervals", tag = "reports", params(IntervalParams),
    responses((status = 200, body = IntervalReport), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn intervals(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<IntervalParams>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let rows = s
        .app
        .interval_report(&p, &q.from, &q.to, q.interval.unwrap_or(30), q.queue_id)
        .await?;
    if csv {
        return Ok(csv_download(
            format!("intervals-{}-{}.csv", q.from, q.to),
            interval_csv(&rows),
        ));
    }
    Ok(Json(IntervalReport {
        items: rows.into_iter().map(IntervalOut::from).collect(),
    })
    .into_response())
}

fn wants_csv(format: Option<&str>) -> Result<bool, sb_app::AppError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(sb_app::AppError::invalid("format", "must be json or csv")),
    }
}

/// A CSV body offered as a download named `file` (a name made here from
/// checked dates, so it needs no escaping).
fn csv_download(file: String, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentReportParams {
    /// First local date, `YYYY-MM-DD` (the tenant's time zone).
    pub from: String,
    /// Last local date, inclusive; at most 31 days after `from`.
    pub to: String,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentRowOut {
    pub agent_id: String,
    pub agent: String,
    /// Contacts the agent answered that arrived in the range.
    pub handled: u64,
    /// Average handle time (answered to the end of wrap-up) of those finished.
    pub aht_ms: Option<u64>,
    /// Milliseconds in each status within the range.
    #[schema(value_type = Object)]
    pub time_in_state: std::collections::BTreeMap<String, i64>,
    /// Milliseconds away, by reason code.
    #[schema(value_type = Object)]
    pub away_by_reason: std::collections::BTreeMap<String, i64>,
    /// Busy and wrap-up over available, busy and wrap-up, percent.
    pub occupancy_pct: Option<f64>,
}

impl From<AgentRow> for AgentRowOut {
    fn from(r: AgentRow) -> Self {
        AgentRowOut {
            agent_id: r.agent_id.to_string(),
            agent: r.agent,
            handled: r.handled,
            aht_ms: r.aht_ms,
            time_in_state: r.time_in_state,
            away_by_reason: r.away_by_reason,
            occupancy_pct: r.occupancy_pct,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentReport {
    pub items: Vec<AgentRowOut>,
}

/// Every agent over a range of days: contacts handled, average handle
/// time, time in each status (away by reason) and occupancy.
/// `format=csv` downloads it as CSV.
#[utoipa::path(get, path = "/reports/agents", tag = "reports", params(AgentReportParams),
    responses((status = 200, body = AgentReport), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn agents(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<AgentReportParams>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let rows = s.app.agent_report(&p, &q.from, &q.to).await?;
    if csv {
        return Ok(csv_download(
            format!("agents-{}-{}.csv", q.from, q.to),
            agent_csv(&rows),
        ));
    }
    Ok(Json(AgentReport {
        items: rows.into_iter().map(AgentRowOut::from).collect(),
    })
    .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTodayOut {
    /// Contacts answered since local midnight.
    pub handled: u64,
    /// Average handle time (answered to the end of wrap-up) of those finished.
    pub aht_ms: Option<u64>,
    /// Milliseconds in each status since local midnight.
    #[schema(value_type = Object)]
    pub time_in_state: std::collections::BTreeMap<String, i64>,
}

/// An agent's day so far: contacts handled, average handle time and time
/// in each status since midnight in the tenant's time zone.
#[utoipa::path(get, path = "/agents/{id}/today", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, body = AgentTodayOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn agent_today(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentTodayOut>> {
    let t = s.app.agent_today(&p, super::path_id(&id, "agent")?).await?;
    Ok(Json(AgentTodayOut {
        handled: t.handled,
        aht_ms: t.aht_ms,
        time_in_state: t.time_in_state,
    }))
}
