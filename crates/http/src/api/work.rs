//! Live work: agent state, reservations, completing, wrapping up and
//! transferring contacts, callbacks and abandons, live queue and agent status.

use axum::Json;
use axum::extract::{Path, State};
use sb_app::routing::{AgentLive, QueueLive};
use sb_app::work::AgentChoice;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::path_id;
use crate::AppState;
use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_agent_state))
        .routes(routes!(agent_status))
        .routes(routes!(queue_status))
        .routes(routes!(accept))
        .routes(routes!(reject))
        .routes(routes!(complete))
        .routes(routes!(wrap_up))
        .routes(routes!(transfer))
        .routes(routes!(callback))
        .routes(routes!(abandon))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStateIn {
    /// `available`, `away` or `offline`.
    pub state: String,
    /// Why away (break, lunch, training, meeting, …); required with `away`.
    pub reason: Option<String>,
}

/// A reservation ringing for an agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationOut {
    pub id: u64,
    pub contact_id: String,
    pub agent_id: String,
    pub queue_id: String,
    /// When it stops ringing (epoch ms).
    pub expires_at: i64,
    pub callback: bool,
    /// Why this agent: the rule step in force, how many agents were
    /// eligible, and the agent's ordering key under the queue's strategy.
    pub step: usize,
    pub eligible: u32,
    pub key: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentStatusOut {
    /// `offline`, `available`, `busy`, `wrap_up` or `away`.
    pub status: String,
    pub reason: Option<String>,
    /// When the status last changed (epoch ms).
    pub since: Option<i64>,
    pub reservations: Vec<ReservationOut>,
    /// Contacts in progress or in wrap-up.
    pub contacts: Vec<String>,
}

impl From<AgentLive> for AgentStatusOut {
    fn from(a: AgentLive) -> Self {
        AgentStatusOut {
            status: a.status,
            reason: a.reason,
            since: a.since,
            reservations: a
                .reservations
                .into_iter()
                .map(|r| ReservationOut {
                    id: r.id,
                    contact_id: r.contact_id.to_string(),
                    agent_id: r.agent_id.to_string(),
                    queue_id: r.queue_id.to_string(),
                    expires_at: r.expires_at,
                    callback: r.callback,
                    step: r.step,
                    eligible: r.eligible,
                    key: r.key,
                })
                .collect(),
            contacts: a.contacts.into_iter().map(|c| c.to_string()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatusOut {
    /// Within business hours (always true for a queue that follows none).
    pub open: bool,
    pub waiting: usize,
    /// The first waiting contacts, first served first (at most 100).
    pub next_contacts: Vec<String>,
    pub longest_wait_ms: u64,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandons: u64,
    /// Answered within the threshold, over answered (percent).
    pub service_level_pct: Option<f64>,
    /// Answered or abandoned within the threshold over answered plus
    /// abandoned, short abandons left out (percent).
    pub service_level_offered_pct: Option<f64>,
    pub asa_ms: Option<u64>,
    /// Arrivals today that met the closed treatment.
    pub arrived_closed: u64,
}

impl From<QueueLive> for QueueStatusOut {
    fn from(q: QueueLive) -> Self {
        QueueStatusOut {
            open: q.open,
            waiting: q.waiting,
            next_contacts: q.next_contacts.into_iter().map(|c| c.to_string()).collect(),
            longest_wait_ms: q.longest_wait_ms,
            offered: q.offered,
            answered: q.answered,
            abandoned: q.abandoned,
            short_abandons: q.short_abandons,
            service_level_pct: q.service_level_pct,
            service_level_offered_pct: q.service_level_offered_pct,
            asa_ms: q.asa_ms,
            arrived_closed: q.arrived_closed,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUpIn {
    /// The wrap-up code.
    pub disposition: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    /// The queue to transfer to (another department's queue for a referral).
    #[schema(value_type = String, format = Uuid)]
    pub queue_id: sb_model::QueueId,
    /// A named agent to take it, waiting in that queue for them only.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub agent_id: Option<sb_model::AgentId>,
}

#[utoipa::path(put, path = "/agents/{id}/state", tag = "work", params(("id" = String, Path)), request_body = AgentStateIn,
    responses((status = 200, body = AgentStatusOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn set_agent_state(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AgentStateIn>,
) -> ApiResult<Json<AgentStatusOut>> {
    let id = path_id(&id, "agent")?;
    let mut ck = Check::default();
    let choice = match b.state.as_str() {
        "available" => Some(AgentChoice::Available),
        "offline" => Some(AgentChoice::Offline),
        "away" => match b.reason.as_deref() {
            Some(r) => ck.text("reason", r, 50).map(AgentChoice::Away),
            None => {
                ck.add("reason", "is required when away");
                None
            }
        },
        _ => {
            ck.add("state", "must be available, away or offline");
            None
        }
    };
    ck.finish()?;
    Ok(Json(
        s.app.set_agent_state(&p, id, got(choice)?).await?.into(),
    ))
}

#[utoipa::path(get, path = "/agents/{id}/status", tag = "work", params(("id" = String, Path)),
    responses((status = 200, body = AgentStatusOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn agent_status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentStatusOut>> {
    Ok(Json(
        s.app.agent_live(&p, path_id(&id, "agent")?).await?.into(),
    ))
}

#[utoipa::path(get, path = "/queues/{id}/status", tag = "work", params(("id" = String, Path)),
    responses((status = 200, body = QueueStatusOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn queue_status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<QueueStatusOut>> {
    Ok(Json(
        s.app.queue_live(&p, path_id(&id, "queue")?).await?.into(),
    ))
}

#[utoipa::path(post, path = "/reservations/{id}/accept", tag = "work", params(("id" = u64, Path)),
    responses((status = 200, body = ContactOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn accept(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .respond_to_reservation(&p, path_id(&id, "reservation")?, true)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/reservations/{id}/reject", tag = "work", params(("id" = u64, Path)),
    responses((status = 200, body = ContactOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn reject(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .respond_to_reservation(&p, path_id(&id, "reservation")?, false)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/contacts/{id}/complete", tag = "work", params(("id" = String, Path)),
    responses((status = 200, body = ContactOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn complete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .complete_contact(&p, path_id(&id, "contact")?)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/contacts/{id}/wrap-up", tag = "work", params(("id" = String, Path)), request_body = WrapUpIn,
    responses((status = 200, body = ContactOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn wrap_up(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WrapUpIn>,
) -> ApiResult<Json<ContactOut>> {
    let id = path_id(&id, "contact")?;
    let mut ck = Check::default();
    let disposition = ck.opt_text("disposition", b.disposition.as_deref(), 100);
    let notes = b
        .notes
        .as_deref()
        .map(|n| ck.long_text("notes", n, sb_app::contacts::MAX_NOTES_CHARS));
    ck.finish()?;
    Ok(Json(
        s.app
            .wrap_up(&p, id, got(disposition)?, notes.map(got).transpose()?)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/contacts/{id}/transfer", tag = "work", params(("id" = String, Path)), request_body = TransferIn,
    responses((status = 200, body = ContactOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn transfer(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TransferIn>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .transfer_contact(&p, path_id(&id, "contact")?, b.queue_id, b.agent_id)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/contacts/{id}/callback", tag = "work", params(("id" = String, Path)),
    responses((status = 200, body = ContactOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn callback(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .request_callback(&p, path_id(&id, "contact")?)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/contacts/{id}/abandon", tag = "work", params(("id" = String, Path)),
    description = "The channel reports the customer gone (hung up, left the chat).",
    responses((status = 200, body = ContactOut), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn abandon(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .abandon_contact(&p, path_id(&id, "contact")?)
            .await?
            .into(),
    ))
}
