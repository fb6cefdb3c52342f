//! Outbound webhooks: subscriptions and their delivery history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::webhooks::{NewWebhook, WebhookPatch};
use sb_model::{UnixMs, WebhookId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CREATED, path_id};
use crate::AppState;
use crate::dto::PageParams;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: WebhookId,
    pub url: String,
    /// Event kinds (`contact.created`), `prefix.*` or `*`.
    pub events: Vec<String>,
    pub active: bool,
    /// The signing secret: only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The secret's last four characters, to tell secrets apart.
    pub secret_hint: String,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl WebhookOut {
    fn new(w: sb_store::Webhook, show_secret: bool) -> Self {
        let hint = w.secret[w.secret.len().saturating_sub(4)..].to_owned();
        WebhookOut {
            id: w.id,
            url: w.url,
            events: serde_json::from_str(&w.events).unwrap_or_default(),
            active: w.active != 0,
            secret: show_secret.then_some(w.secret),
            secret_hint: hint,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

impl From<sb_store::Webhook> for WebhookOut {
    fn from(w: sb_store::Webhook) -> Self {
        WebhookOut::new(w, false)
    }
}

crate::dto::page_of!(WebhookPage, WebhookOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchIn {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
    /// `true` replaces the signing secret; the answer shows the new one.
    #[serde(default)]
    pub rotate_secret: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: String,
    pub event_kind: String,
    /// `pending` (waiting for its next attempt), `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: UnixMs,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: UnixMs,
    pub delivered_at: Option<UnixMs>,
    /// The JSON that is POSTed.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

impl From<sb_store::WebhookDelivery> for DeliveryOut {
    fn from(d: sb_store::WebhookDelivery) -> Self {
        DeliveryOut {
            id: d.id,
            event_kind: d.event_kind,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

crate::dto::page_of!(DeliveryPage, DeliveryOut);

#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(PageParams),
    responses((status = 200, body = WebhookPage)))]
async fn list_webhooks(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<WebhookPage>> {
    Ok(Json(
        s.app
            .list_webhooks(&p, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = WebhookIn,
    responses((status = 201, body = WebhookOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<WebhookIn>,
) -> ApiResult<(StatusCode, Json<WebhookOut>)> {
    let w = s
        .app
        .create_webhook(
            &p,
            NewWebhook {
                url: b.url,
                events: b.events,
                active: b.active,
            },
        )
        .await?;
    Ok((CREATED, Json(WebhookOut::new(w, true))))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookOut>> {
    let id = path_id(&id, "webhook")?;
    Ok(Json(s.app.get_webhook(&p, id).await?.into()))
}

#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = WebhookPatchIn,
    responses((status = 200, body = WebhookOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WebhookPatchIn>,
) -> ApiResult<Json<WebhookOut>> {
    let id = path_id(&id, "webhook")?;
    let rotate = b.rotate_secret;
    let w = s
        .app
        .update_webhook(
            &p,
            id,
            WebhookPatch {
                url: b.url,
                events: b.events,
                active: b.active,
                rotate_secret: rotate,
            },
        )
        .await?;
    Ok(Json(WebhookOut::new(w, rotate)))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_webhook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, "webhook")?;
    s.app.delete_webhook(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = String, Path), PageParams),
    responses((status = 200, body = DeliveryPage), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_deliveries(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<DeliveryPage>> {
    let id = path_id(&id, "webhook")?;
    Ok(Json(
        s.app
            .list_webhook_deliveries(&p, id, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}
