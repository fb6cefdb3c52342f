//! The email channel: the addresses a tenant receives at, a contact's
//! conversation, replies, attachments, and agents' signatures.

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_app::AppError;
use sb_app::email::{
    AddressSpec, AddressView, ConversationView, MAX_REPLY_ATTACHMENT_BYTES, MessageView, ReplySpec,
    SignatureSpec, WrittenServiceLevel,
};
use sb_model::ContactId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_addresses))
        .routes(routes!(put_address, delete_address))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(conversation, reply))
                // Replies carry their files, base64.
                .layer(DefaultBodyLimit::max(
                    MAX_REPLY_ATTACHMENT_BYTES / 3 * 4 + 256 * 1024,
                )),
        )
        .routes(routes!(attachment))
        .routes(routes!(get_signature, put_signature))
        .routes(routes!(service_levels))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLevelList {
    pub items: Vec<WrittenServiceLevel>,
}

/// Email's first-response and resolution service levels per queue: open
/// contacts, those awaiting a person's first answer, those overdue, and
/// today's answered and resolved within the queue's targets
/// (`routing_rules.first_response_seconds`, `routing_rules.resolution_seconds`).
#[utoipa::path(get, path = "/email/service-levels", tag = "email",
    responses((status = 200, body = ServiceLevelList)))]
async fn service_levels(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<ServiceLevelList>> {
    Ok(Json(ServiceLevelList {
        items: s.app.written_service_levels(&p).await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressList {
    pub items: Vec<AddressView>,
}

/// The addresses mail is received at, and the queue each goes to.
#[utoipa::path(get, path = "/email/addresses", tag = "email",
    responses((status = 200, body = AddressList)))]
async fn list_addresses(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<AddressList>> {
    Ok(Json(AddressList {
        items: s.app.list_email_addresses(&p).await?,
    }))
}

/// Points an address at a queue: mail to it over SMTP becomes email
/// contacts there. An address another tenant holds is refused (409).
#[utoipa::path(put, path = "/email/addresses/{address}", tag = "email", request_body = AddressSpec,
    params(("address" = String, Path)),
    responses((status = 200, body = AddressView), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_address(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(address): Path<String>,
    ApiJson(b): ApiJson<AddressSpec>,
) -> ApiResult<Json<AddressView>> {
    Ok(Json(s.app.put_email_address(&p, &address, b).await?))
}

#[utoipa::path(delete, path = "/email/addresses/{address}", tag = "email",
    params(("address" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_address(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(address): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_email_address(&p, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The conversation an email contact holds: its reference and every
/// message in it, in and out, oldest first (HTML sanitised).
#[utoipa::path(get, path = "/contacts/{id}/messages", tag = "email",
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<ConversationView>> {
    Ok(Json(s.app.contact_conversation(&p, id).await?))
}

/// Answers the customer: the reply (with the agent's signature) is queued
/// and sent through the SMTP relay with the conversation's threading
/// headers. By the contact's agent, or a team leader.
#[utoipa::path(post, path = "/contacts/{id}/messages", tag = "email", request_body = ReplySpec,
    params(("id" = String, Path)),
    responses((status = 201, body = MessageView), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn reply(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    ApiJson(b): ApiJson<ReplySpec>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.reply_to_contact(&p, id, b).await?),
    ))
}

/// An attachment's file, always as a download (never shown inline).
#[utoipa::path(get, path = "/attachments/{id}", tag = "email",
    params(("id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn attachment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (row, path) = s.app.attachment(&p, &id).await?;
    Ok(file_response(&row, &path).await?)
}

/// A stored file as a download (never shown inline), with its checksum.
pub(crate) async fn file_response(
    row: &sb_store::AttachmentRow,
    path: &std::path::Path,
) -> Result<Response, AppError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| AppError::Unavailable(format!("the file cannot be read: {e}")))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let ascii: String = row
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, row.bytes.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::HeaderName::from_static("x-checksum-sha256"),
                row.sha256.clone(),
            ),
        ],
        body,
    )
        .into_response())
}

/// The calling agent's signature for email replies.
#[utoipa::path(get, path = "/me/signature", tag = "email",
    responses((status = 200, body = SignatureSpec)))]
async fn get_signature(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<SignatureSpec>> {
    Ok(Json(SignatureSpec {
        signature: s.app.my_signature(&p).await?.unwrap_or_default(),
    }))
}

#[utoipa::path(put, path = "/me/signature", tag = "email", request_body = SignatureSpec,
    responses((status = 200, body = SignatureSpec), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_signature(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<SignatureSpec>,
) -> ApiResult<Json<SignatureSpec>> {
    s.app.set_my_signature(&p, &b.signature).await?;
    Ok(Json(SignatureSpec {
        signature: s.app.my_signature(&p).await?.unwrap_or_default(),
    }))
}
