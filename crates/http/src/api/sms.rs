//! SMS: the numbers a tenant receives texts at, its provider account, and
//! the provider's webhook (no session: its signature is the credential).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_app::sms::{SmsAccountSpec, SmsAccountView, SmsNumberSpec, SmsNumberView};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_numbers))
        .routes(routes!(put_number))
        .routes(routes!(get_account, put_account))
        .routes(routes!(twilio_webhook))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsNumberList {
    pub items: Vec<SmsNumberView>,
}

/// The numbers texts are received at, and the queue each goes to.
#[utoipa::path(get, path = "/sms/numbers", tag = "sms",
    responses((status = 200, body = SmsNumberList)))]
async fn list_numbers(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<SmsNumberList>> {
    Ok(Json(SmsNumberList {
        items: s.app.list_sms_numbers(&p).await?,
    }))
}

/// Points a number (E.164) at a queue: texts to it become `sms` contacts there.
#[utoipa::path(put, path = "/sms/numbers/{number}", tag = "sms", request_body = SmsNumberSpec,
    params(("number" = String, Path)),
    responses((status = 200, body = SmsNumberView), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_number(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<SmsNumberSpec>,
) -> ApiResult<Json<SmsNumberView>> {
    Ok(Json(s.app.put_sms_number(&p, &number, b).await?))
}

/// The tenant's SMS provider account (the token is never shown).
#[utoipa::path(get, path = "/sms/account", tag = "sms",
    responses((status = 200, body = SmsAccountView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_account(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<SmsAccountView>> {
    Ok(Json(s.app.get_sms_account(&p).await?))
}

#[utoipa::path(put, path = "/sms/account", tag = "sms", request_body = SmsAccountSpec,
    responses((status = 200, body = SmsAccountView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_account(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<SmsAccountSpec>,
) -> ApiResult<Json<SmsAccountView>> {
    Ok(Json(s.app.put_sms_account(&p, b).await?))
}

/// The provider's webhook for inbound texts (Twilio's form fields, signed
/// with `X-Twilio-Signature`). Answers an empty TwiML response; a replayed
/// webhook (the same MessageSid) is answered the same and stores nothing.
/// A bad signature, or a number not held here, is 401 alike.
#[utoipa::path(post, path = "/sms/twilio", tag = "sms",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/xml"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn twilio_webhook(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    s.app.receive_sms(&params, signature).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response())
}
