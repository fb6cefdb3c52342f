//! Web chat's configuration (the widgets a tenant's websites embed) and
//! the agent's side of a live chat (typing). Replies go through
//! `POST /contacts/{id}/messages` like the other written channels.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::chat::{WidgetSpec, WidgetView};
use sb_model::ContactId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_widgets, create_widget))
        .routes(routes!(put_widget, delete_widget))
        .routes(routes!(typing))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetList {
    pub items: Vec<WidgetView>,
}

/// The tenant's chat widgets. A website embeds one with
/// `<script src="https://SWITCHBOARD/chat/widget.js" data-widget="ID" async></script>`.
#[utoipa::path(get, path = "/chat/widgets", tag = "chat",
    responses((status = 200, body = WidgetList)))]
async fn list_widgets(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<WidgetList>> {
    Ok(Json(WidgetList {
        items: s.app.list_chat_widgets(&p).await?,
    }))
}

/// Creates a widget: its chats go to the queue; only the allowed origins
/// may embed it (none named: any).
#[utoipa::path(post, path = "/chat/widgets", tag = "chat", request_body = WidgetSpec,
    responses((status = 201, body = WidgetView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_widget(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<WidgetSpec>,
) -> ApiResult<(StatusCode, Json<WidgetView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.put_chat_widget(&p, None, b).await?),
    ))
}

#[utoipa::path(put, path = "/chat/widgets/{id}", tag = "chat", request_body = WidgetSpec,
    params(("id" = String, Path)),
    responses((status = 200, body = WidgetView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_widget(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WidgetSpec>,
) -> ApiResult<Json<WidgetView>> {
    Ok(Json(s.app.put_chat_widget(&p, Some(&id), b).await?))
}

#[utoipa::path(delete, path = "/chat/widgets/{id}", tag = "chat",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_widget(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_chat_widget(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingSpec {
    pub on: bool,
}

/// The agent is typing in a chat (or stopped): the customer's widget shows
/// it. Send `on: true` every few seconds while typing.
#[utoipa::path(post, path = "/contacts/{id}/typing", tag = "chat", request_body = TypingSpec,
    params(("id" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn typing(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    ApiJson(b): ApiJson<TypingSpec>,
) -> ApiResult<StatusCode> {
    s.app.agent_typing(&p, id, b.on).await?;
    Ok(StatusCode::NO_CONTENT)
}
