//! Callbacks booked for a later time.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::callbacks::{MAX_CALLBACK_NOTES, NewCallback};
use sb_model::{AgentId, ContactId, CustomerId, QueueId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CREATED;
use crate::AppState;
use crate::dto::Check;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_callbacks, book_callback))
        .routes(routes!(cancel_callback))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackOut {
    pub id: String,
    /// The contact created when the callback falls due.
    pub contact_id: String,
    /// The contact it was booked from.
    pub origin_contact_id: Option<String>,
    pub customer_id: Option<String>,
    pub queue_id: String,
    /// Kept for this agent (a personal callback).
    pub agent_id: Option<String>,
    pub phone: Option<String>,
    pub notes: String,
    pub due_at: i64,
    /// `pending`, `released`, `cancelled` or `failed`.
    pub state: String,
    pub booked_by: Option<String>,
    pub created_at: i64,
}

impl From<sb_store::ScheduledCallback> for CallbackOut {
    fn from(c: sb_store::ScheduledCallback) -> Self {
        CallbackOut {
            id: c.id,
            contact_id: c.contact_id,
            origin_contact_id: c.origin_contact_id,
            customer_id: c.customer_id,
            queue_id: c.queue_id,
            agent_id: c.agent_id,
            phone: c.phone,
            notes: c.notes,
            due_at: c.due_at,
            // A claim in progress is still pending to the people waiting.
            state: if c.state == "releasing" {
                "pending".into()
            } else {
                c.state
            },
            booked_by: c.booked_by,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackList {
    pub items: Vec<CallbackOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackIn {
    /// The contact it is booked from: customer and queue default to its.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub contact_id: Option<ContactId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<CustomerId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub queue_id: Option<QueueId>,
    /// When: RFC 3339 with an offset, or a local `YYYY-MM-DDTHH:MM` in the
    /// tenant's time zone.
    pub due_at: String,
    /// Keep it for this agent; agents may name only themselves.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub agent_id: Option<AgentId>,
    /// The number to call, when not the customer's own.
    pub phone: Option<String>,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// `pending`, `released`, `cancelled` or `failed`; all when absent.
    pub state: Option<String>,
}

/// Callbacks soonest first: team leaders see every one, agents those kept
/// for them or booked by them.
#[utoipa::path(get, path = "/callbacks", tag = "work", params(CallbackQuery),
    responses((status = 200, body = CallbackList)))]
async fn list_callbacks(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> ApiResult<Json<CallbackList>> {
    if let Some(st) = q.state.as_deref()
        && !["pending", "released", "cancelled", "failed"].contains(&st)
    {
        return Err(sb_app::AppError::invalid(
            "state",
            "must be pending, released, cancelled or failed",
        )
        .into());
    }
    let items = s.app.list_callbacks(&p, q.state).await?;
    Ok(Json(CallbackList {
        items: items.into_iter().map(CallbackOut::from).collect(),
    }))
}

/// Books a callback: at `due_at` a voice contact is created in the queue
/// (kept for `agent_id` when given) and routed as a callback.
#[utoipa::path(post, path = "/callbacks", tag = "work", request_body = CallbackIn,
    responses((status = 201, body = CallbackOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn book_callback(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CallbackIn>,
) -> ApiResult<(StatusCode, Json<CallbackOut>)> {
    let mut ck = Check::default();
    let phone = ck.opt_text("phone", b.phone.as_deref(), 40);
    let notes = ck.long_text("notes", &b.notes, MAX_CALLBACK_NOTES);
    ck.finish()?;
    let c = s
        .app
        .book_callback(
            &p,
            NewCallback {
                contact_id: b.contact_id,
                customer_id: b.customer_id,
                queue_id: b.queue_id,
                due_at: b.due_at,
                agent_id: b.agent_id,
                phone: phone.flatten(),
                notes: notes.unwrap_or_default(),
            },
        )
        .await?;
    Ok((CREATED, Json(c.into())))
}

/// Cancels a pending callback.
#[utoipa::path(post, path = "/callbacks/{id}/cancel", tag = "work", params(("id" = String, Path)),
    responses((status = 200, body = CallbackOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn cancel_callback(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallbackOut>> {
    Ok(Json(s.app.cancel_callback(&p, &id).await?.into()))
}
