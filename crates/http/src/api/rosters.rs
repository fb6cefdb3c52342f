//! Rosters: agents' contracts, rosters built from scheduled shifts and
//! published, agents' own shifts and their calendar feed, and adherence.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use icalendar::{Calendar, Component, EventLike};
use sb_app::rosters::{
    AgentAdherence, ContractSpec, ContractView, RosterRequest, RosterSummary, RosterView,
    ShiftSpec, ShiftView,
};
use sb_app::whatif::{PredictRequest, Prediction};
use sb_model::AgentId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contracts))
        .routes(routes!(put_contract))
        .routes(routes!(list_rosters, build_roster))
        .routes(routes!(get_roster, delete_roster))
        .routes(routes!(publish_roster))
        .routes(routes!(predict_roster))
        .routes(routes!(adherence))
        .routes(routes!(my_shifts))
        .routes(routes!(new_calendar_feed))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContractList {
    pub items: Vec<ContractView>,
}

/// Every agent's contracted hours and availability (defaults — any time,
/// up to 40 hours a week — where none is set).
#[utoipa::path(get, path = "/wfm/contracts", tag = "reports",
    responses((status = 200, body = ContractList)))]
async fn list_contracts(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<ContractList>> {
    Ok(Json(ContractList {
        items: s.app.contracts(&p).await?,
    }))
}

/// Sets an agent's contract: paid hours per week (at least, at most) and
/// when in the week the agent is available, local times by weekday.
#[utoipa::path(put, path = "/wfm/contracts/{agent_id}", tag = "reports", request_body = ContractSpec,
    params(("agent_id" = String, Path, format = Uuid)),
    responses((status = 200, body = ContractView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_contract(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(agent): Path<AgentId>,
    ApiJson(b): ApiJson<ContractSpec>,
) -> ApiResult<Json<ContractView>> {
    Ok(Json(s.app.put_contract(&p, agent, b).await?))
}

fn ten() -> f64 {
    10.0
}
fn six() -> u32 {
    6
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterIn {
    pub name: String,
    /// The first local day, `YYYY-MM-DD`.
    pub first_day: String,
    /// Days it covers, 1–31.
    pub days: u32,
    /// The shifts to fill (a schedule's shifts).
    pub shifts: Vec<ShiftSpec>,
    /// Least rest between an agent's shifts (default 10 hours).
    #[serde(default = "ten")]
    pub min_rest_hours: f64,
    /// Most days an agent works in a row (default 6).
    #[serde(default = "six")]
    pub max_consecutive_days: u32,
}

/// Puts named agents on the shifts, respecting each agent's availability,
/// contracted hours, skills, rest between shifts and days in a row, with
/// weekends shared fairly. Kept as a draft; shifts no one could take are
/// listed with why.
#[utoipa::path(post, path = "/wfm/rosters", tag = "reports", request_body = RosterIn,
    responses((status = 201, body = RosterView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn build_roster(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<RosterIn>,
) -> ApiResult<(StatusCode, Json<RosterView>)> {
    let r = s
        .app
        .build_roster(
            &p,
            RosterRequest {
                name: b.name,
                first_day: b.first_day,
                days: b.days,
                shifts: b.shifts,
                min_rest_hours: b.min_rest_hours,
                max_consecutive_days: b.max_consecutive_days,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterList {
    pub items: Vec<RosterSummary>,
}

/// The rosters, newest first.
#[utoipa::path(get, path = "/wfm/rosters", tag = "reports",
    responses((status = 200, body = RosterList)))]
async fn list_rosters(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<RosterList>> {
    Ok(Json(RosterList {
        items: s.app.list_rosters(&p).await?,
    }))
}

/// A roster with its shifts and what could not be filled.
#[utoipa::path(get, path = "/wfm/rosters/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, body = RosterView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_roster(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RosterView>> {
    Ok(Json(s.app.roster(&p, &id).await?))
}

/// Deletes a draft roster.
#[utoipa::path(delete, path = "/wfm/rosters/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn delete_roster(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_roster(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    /// Published rosters over the same days, now superseded.
    pub superseded: Vec<String>,
}

/// Publishes a draft: its agents see their shifts (and their calendar
/// feeds carry them). Published rosters whose days overlap it are
/// superseded.
#[utoipa::path(post, path = "/wfm/rosters/{id}/publish", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, body = Published), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn publish_roster(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Published>> {
    Ok(Json(Published {
        superseded: s.app.publish_roster(&p, &id).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdherenceQuery {
    /// Local day `YYYY-MM-DD` (default today).
    pub date: Option<String>,
    /// Minutes out of adherence before it counts as an exception (default 5).
    pub grace: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdherenceList {
    pub items: Vec<AgentAdherence>,
}

/// Each rostered agent's adherence to the published roster over a day (up
/// to now): adherence and conformance, exceptions, and who is out of
/// adherence now.
#[utoipa::path(get, path = "/wfm/adherence", tag = "reports", params(AdherenceQuery),
    responses((status = 200, body = AdherenceList), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn adherence(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<AdherenceQuery>,
) -> ApiResult<Json<AdherenceList>> {
    Ok(Json(AdherenceList {
        items: s
            .app
            .adherence(&p, q.date.as_deref(), q.grace.unwrap_or(5))
            .await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShiftsQuery {
    /// The first local day, `YYYY-MM-DD` (default today).
    pub from: Option<String>,
    /// Days, 1–92 (default 14).
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftList {
    pub items: Vec<ShiftView>,
}

/// The caller's published shifts.
#[utoipa::path(get, path = "/me/shifts", tag = "work", params(ShiftsQuery),
    responses((status = 200, body = ShiftList), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn my_shifts(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<ShiftsQuery>,
) -> ApiResult<Json<ShiftList>> {
    Ok(Json(ShiftList {
        items: s
            .app
            .my_shifts(&p, q.from.as_deref(), q.days.unwrap_or(14))
            .await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeed {
    /// The feed's address (path) to subscribe to; shown once. A new one
    /// replaces it.
    pub path: String,
    /// The same, absolute, from the request's Host.
    pub url: String,
}

/// A new iCalendar feed of the caller's published shifts; the address
/// before stops working.
#[utoipa::path(post, path = "/me/calendar", tag = "work",
    responses((status = 201, body = CalendarFeed), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn new_calendar_feed(
    State(s): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<CalendarFeed>)> {
    let secret = s.app.new_calendar_feed(&p).await?;
    let path = format!("/calendar/{}.ics", secret.expose());
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Ok((
        StatusCode::CREATED,
        Json(CalendarFeed {
            url: format!("http://{host}{path}"),
            path,
        }),
    ))
}

/// The iCalendar text of an agent's shifts: one event per shift (breaks
/// in its description), times in UTC so every client shows them right in
/// its own zone.
pub fn shifts_ics(agent: &str, shifts: &[ShiftView]) -> String {
    let utc = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let mut cal = Calendar::new();
    cal.name(&format!("Shifts — {agent}"));
    for s in shifts {
        let breaks: Vec<String> = s
            .breaks
            .iter()
            .map(|b| {
                format!(
                    "{}–{}{}",
                    &b.local_start[11..],
                    &b.local_end[11..],
                    if b.paid { " (paid)" } else { "" }
                )
            })
            .collect();
        let mut description = format!("{} to {}", s.local_start, s.local_end);
        if !breaks.is_empty() {
            description.push_str(&format!("\nBreaks: {}", breaks.join(", ")));
        }
        cal.push(
            icalendar::Event::with_uid(&format!("{}@switchboard", s.id))
                .summary(&format!("Shift: {}", s.shift))
                .description(&description)
                .starts(utc(s.starts_at))
                .ends(utc(s.ends_at))
                .done(),
        );
    }
    cal.done().to_string()
}

/// An agent's calendar feed, read by calendar clients with the secret in
/// the address (no session or token).
pub async fn calendar_feed(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let secret = file.strip_suffix(".ics").unwrap_or(&file);
    match s.app.calendar_feed(secret).await {
        Ok(Some((agent, shifts))) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            shifts_ics(&agent, &shifts),
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such calendar\n").into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

fn default_patience() -> Option<f64> {
    Some(120.0)
}
fn replications() -> u32 {
    10
}
fn answer_delay() -> f64 {
    3.0
}
fn five_minutes() -> f64 {
    300.0
}
fn half_hour() -> u32 {
    30
}
fn eight_weeks() -> u32 {
    8
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictIn {
    /// Minutes per interval: 15, 30 or 60 (default 30).
    #[serde(default = "half_hour")]
    pub interval: u32,
    /// Weeks of the store's contacts the forecast learns from (default 8).
    #[serde(default = "eight_weeks")]
    pub history_weeks: u32,
    /// Customers' mean patience in seconds (default 120); `null`: they
    /// never give up.
    #[serde(default = "default_patience")]
    pub patience_seconds: Option<f64>,
    /// Simulation runs averaged, 1–30 (default 10).
    #[serde(default = "replications")]
    pub replications: u32,
    /// How long agents take to accept what rings (default 3 s).
    #[serde(default = "answer_delay")]
    pub answer_delay_seconds: f64,
    /// Handle time where history has none (default 300 s).
    #[serde(default = "five_minutes")]
    pub default_aht_seconds: f64,
}

/// What-if: the roster worked against the forecast of its days on the
/// simulator (the real routing engine with simulated customers and agents
/// following their shifts): predicted service level, abandonment, ASA and
/// occupancy per interval and per queue, with 95 % confidence intervals.
#[utoipa::path(post, path = "/wfm/rosters/{id}/predict", tag = "reports", params(("id" = String, Path)),
    request_body = PredictIn,
    responses((status = 200, body = Prediction), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn predict_roster(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PredictIn>,
) -> ApiResult<Json<Prediction>> {
    Ok(Json(
        s.app
            .predict_roster(
                &p,
                PredictRequest {
                    roster_id: id,
                    interval_minutes: b.interval,
                    history_weeks: b.history_weeks,
                    patience_seconds: b.patience_seconds,
                    replications: b.replications,
                    answer_delay_seconds: b.answer_delay_seconds,
                    default_aht: b.default_aht_seconds,
                },
            )
            .await?,
    ))
}
