//! "Raise hand": agents' help requests and team leaders' answers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_model::ContactId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CREATED;
use crate::AppState;
use crate::dto::{Check, got};
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_help, raise_help))
        .routes(routes!(answer_help))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HelpOut {
    pub id: String,
    pub agent_id: String,
    pub contact_id: Option<String>,
    pub question: String,
    /// `open` or `answered`.
    pub state: String,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
}

impl From<sb_store::HelpRequest> for HelpOut {
    fn from(h: sb_store::HelpRequest) -> Self {
        HelpOut {
            id: h.id,
            agent_id: h.agent_id.to_string(),
            contact_id: h.contact_id,
            question: h.question,
            state: h.state,
            answer: h.answer,
            answered_by: h.answered_by,
            created_at: h.created_at,
            answered_at: h.answered_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HelpList {
    pub items: Vec<HelpOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HelpIn {
    pub question: String,
    /// The contact in hand the question is about.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub contact_id: Option<ContactId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    pub answer: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HelpQuery {
    /// `open` for unanswered requests only.
    pub state: Option<String>,
}

/// Team leaders see every request, agents their own; newest first.
#[utoipa::path(get, path = "/help-requests", tag = "work", params(HelpQuery),
    responses((status = 200, body = HelpList)))]
async fn list_help(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<HelpQuery>,
) -> ApiResult<Json<HelpList>> {
    let open_only = match q.state.as_deref() {
        None => false,
        Some("open") => true,
        Some(_) => return Err(sb_app::AppError::invalid("state", "may only be open").into()),
    };
    let items = s.app.list_hands(&p, open_only).await?;
    Ok(Json(HelpList {
        items: items.into_iter().map(HelpOut::from).collect(),
    }))
}

/// An agent raises a hand.
#[utoipa::path(post, path = "/help-requests", tag = "work", request_body = HelpIn,
    responses((status = 201, body = HelpOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn raise_help(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<HelpIn>,
) -> ApiResult<(StatusCode, Json<HelpOut>)> {
    let mut ck = Check::default();
    let question = ck.text("question", &b.question, sb_app::help::MAX_HELP_TEXT);
    ck.finish()?;
    let h = s.app.raise_hand(&p, got(question)?, b.contact_id).await?;
    Ok((CREATED, Json(h.into())))
}

/// A team leader answers.
#[utoipa::path(post, path = "/help-requests/{id}/answer", tag = "work", params(("id" = String, Path)), request_body = AnswerIn,
    responses((status = 200, body = HelpOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn answer_help(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AnswerIn>,
) -> ApiResult<Json<HelpOut>> {
    let mut ck = Check::default();
    let answer = ck.text("answer", &b.answer, sb_app::help::MAX_HELP_TEXT);
    ck.finish()?;
    let h = s.app.answer_hand(&p, &id, got(answer)?).await?;
    Ok(Json(h.into()))
}
