//! IMAP mailboxes a tenant's mail is fetched from: where they are, which
//! receiving address takes their mail, and how their polls go.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::imap::{MailboxSpec, MailboxView};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_mailboxes, create_mailbox))
        .routes(routes!(put_mailbox, delete_mailbox))
        .routes(routes!(poll_mailbox))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxList {
    pub items: Vec<MailboxView>,
}

/// The IMAP mailboxes polled for the tenant's mail, with how their last
/// poll went (passwords are never shown).
#[utoipa::path(get, path = "/email/mailboxes", tag = "email",
    responses((status = 200, body = MailboxList)))]
async fn list_mailboxes(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<MailboxList>> {
    Ok(Json(MailboxList {
        items: s.app.list_imap_mailboxes(&p).await?,
    }))
}

/// Adds a mailbox to poll. Its unread messages are taken on the first
/// poll, then each new one, as mail to `address`; taken messages are
/// marked seen (or deleted, with `delete_after`).
#[utoipa::path(post, path = "/email/mailboxes", tag = "email", request_body = MailboxSpec,
    responses((status = 201, body = MailboxView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_mailbox(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<MailboxSpec>,
) -> ApiResult<(StatusCode, Json<MailboxView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_imap_mailbox(&p, b).await?),
    ))
}

/// Changes a mailbox (an empty password keeps the one set). Another
/// server, account or folder starts afresh from its unread messages.
#[utoipa::path(put, path = "/email/mailboxes/{id}", tag = "email", request_body = MailboxSpec,
    params(("id" = String, Path)),
    responses((status = 200, body = MailboxView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_mailbox(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MailboxSpec>,
) -> ApiResult<Json<MailboxView>> {
    Ok(Json(s.app.put_imap_mailbox(&p, &id, b).await?))
}

#[utoipa::path(delete, path = "/email/mailboxes/{id}", tag = "email",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_mailbox(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_imap_mailbox(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Polls the mailbox now rather than at its next turn (202: it is queued;
/// the listing shows the outcome).
#[utoipa::path(post, path = "/email/mailboxes/{id}/poll", tag = "email",
    params(("id" = String, Path)),
    responses((status = 202), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn poll_mailbox(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.poll_imap_mailbox_now(&p, &id).await?;
    Ok(StatusCode::ACCEPTED)
}
