//! The voice channel's configuration (numbers, trunks, agents' phones) and
//! call recordings.

use axum::Json;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_app::AppError;
use sb_app::voice::{
    CallSpec, ConsultSpec, MAX_PROMPT_BYTES, MonitorModeName, NumberSpec, NumberView, PhoneSpec,
    PhoneView, PromptView, RecordingView, TrunkSpec, TrunkView,
};
use sb_model::{AgentId, ContactId};
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
        .routes(routes!(put_number, delete_number))
        .routes(routes!(list_trunks))
        .routes(routes!(put_trunk, delete_trunk))
        .routes(routes!(list_phones))
        .routes(routes!(get_phone, put_phone, delete_phone))
        .routes(routes!(monitor_call, stop_monitoring))
        .routes(routes!(place_call))
        .routes(routes!(consult, call_off_consult))
        .routes(routes!(complete_consult))
        .routes(routes!(pause_recording))
        .routes(routes!(resume_recording))
        .routes(routes!(list_recordings))
        .routes(routes!(recording_audio))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_prompts))
                .routes(routes!(get_prompt, put_prompt))
                .layer(DefaultBodyLimit::max(MAX_PROMPT_BYTES + 64 * 1024)),
        )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromptList {
    pub items: Vec<PromptView>,
}

/// Recorded prompts menus play.
#[utoipa::path(get, path = "/voice/prompts", tag = "voice",
    responses((status = 200, body = PromptList)))]
async fn list_prompts(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<PromptList>> {
    Ok(Json(PromptList {
        items: s.app.list_voice_prompts(&p).await?,
    }))
}

/// A prompt's audio (WAV).
#[utoipa::path(get, path = "/voice/prompts/{name}", tag = "voice",
    params(("name" = String, Path)),
    responses((status = 200, content_type = "audio/wav"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_prompt(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let path = s.app.voice_prompt_file(&p, &name).await?;
    wav_response(&path, &name).await
}

/// A WAV file as a response, streamed.
async fn wav_response(path: &std::path::Path, name: &str) -> ApiResult<Response> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| AppError::Unavailable(format!("the file cannot be read: {e}")))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}.wav\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Uploads a prompt: the body is a WAV file, 8 kHz mono 16-bit PCM, at
/// most 4 MiB. A prompt of the same name is replaced.
#[utoipa::path(put, path = "/voice/prompts/{name}", tag = "voice",
    params(("name" = String, Path)),
    request_body(content = Vec<u8>, content_type = "audio/wav"),
    responses((status = 200, body = PromptView), (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_prompt(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<PromptView>> {
    Ok(Json(s.app.put_voice_prompt(&p, &name, &body).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumberList {
    pub items: Vec<NumberView>,
}

/// The numbers callers dial, and the queue each goes to.
#[utoipa::path(get, path = "/voice/numbers", tag = "voice",
    responses((status = 200, body = NumberList)))]
async fn list_numbers(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<NumberList>> {
    Ok(Json(NumberList {
        items: s.app.list_voice_numbers(&p).await?,
    }))
}

/// Points a dialled number (E.164, like `+61290000000`) at a queue. Calls
/// to it from the tenant's trunks are queued there.
#[utoipa::path(put, path = "/voice/numbers/{number}", tag = "voice", request_body = NumberSpec,
    params(("number" = String, Path)),
    responses((status = 200, body = NumberView), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_number(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(number): Path<String>,
    ApiJson(b): ApiJson<NumberSpec>,
) -> ApiResult<Json<NumberView>> {
    Ok(Json(s.app.put_voice_number(&p, &number, b).await?))
}

#[utoipa::path(delete, path = "/voice/numbers/{number}", tag = "voice",
    params(("number" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_number(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_voice_number(&p, &number).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkList {
    pub items: Vec<TrunkView>,
}

/// Carrier trunks and the addresses their calls may come from.
#[utoipa::path(get, path = "/voice/trunks", tag = "voice",
    responses((status = 200, body = TrunkList)))]
async fn list_trunks(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<TrunkList>> {
    Ok(Json(TrunkList {
        items: s.app.list_voice_trunks(&p).await?,
    }))
}

/// Sets where a trunk's calls may come from (addresses or CIDR blocks).
/// Calls from anywhere else are refused with 403.
#[utoipa::path(put, path = "/voice/trunks/{name}", tag = "voice", request_body = TrunkSpec,
    params(("name" = String, Path)),
    responses((status = 200, body = TrunkView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_trunk(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<TrunkSpec>,
) -> ApiResult<Json<TrunkView>> {
    Ok(Json(s.app.put_voice_trunk(&p, &name, b).await?))
}

#[utoipa::path(delete, path = "/voice/trunks/{name}", tag = "voice",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_trunk(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_voice_trunk(&p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneList {
    pub items: Vec<PhoneView>,
}

/// Every agent's phone: SIP username and whether it is registered.
#[utoipa::path(get, path = "/voice/phones", tag = "voice",
    responses((status = 200, body = PhoneList)))]
async fn list_phones(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<PhoneList>> {
    Ok(Json(PhoneList {
        items: s.app.list_agent_phones(&p).await?,
    }))
}

/// An agent's phone: its SIP username and whether it is registered. Agents
/// may read their own.
#[utoipa::path(get, path = "/agents/{agent_id}/phone", tag = "voice",
    params(("agent_id" = String, Path, format = Uuid)),
    responses((status = 200, body = PhoneView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_phone(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(agent): Path<AgentId>,
) -> ApiResult<Json<PhoneView>> {
    Ok(Json(s.app.get_agent_phone(&p, agent).await?))
}

/// Sets the credentials an agent's phone registers with (digest, realm
/// `switchboard`). Only hashes of the password are kept.
#[utoipa::path(put, path = "/agents/{agent_id}/phone", tag = "voice", request_body = PhoneSpec,
    params(("agent_id" = String, Path, format = Uuid)),
    responses((status = 200, body = PhoneView), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn put_phone(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(agent): Path<AgentId>,
    ApiJson(b): ApiJson<PhoneSpec>,
) -> ApiResult<Json<PhoneView>> {
    Ok(Json(s.app.put_agent_phone(&p, agent, b).await?))
}

#[utoipa::path(delete, path = "/agents/{agent_id}/phone", tag = "voice",
    params(("agent_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_phone(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(agent): Path<AgentId>,
) -> ApiResult<StatusCode> {
    s.app.delete_agent_phone(&p, agent).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorIn {
    pub mode: MonitorModeName,
}

/// A team leader joins a call in progress from their own phone, which
/// rings: `listen` (nobody hears them), `whisper` (the agent hears them) or
/// `barge` (everyone does). Asked again, the mode changes.
#[utoipa::path(post, path = "/contacts/{contact_id}/monitor", tag = "voice", request_body = MonitorIn,
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn monitor_call(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
    ApiJson(b): ApiJson<MonitorIn>,
) -> ApiResult<StatusCode> {
    s.app.monitor_call(&p, contact, b.mode).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Click-to-call: the caller's phone rings at once and, answered, calls
/// the number through the tenant's outbound trunk. The call is an outbound
/// voice contact kept for the caller, recorded like any call.
#[utoipa::path(post, path = "/me/calls", tag = "voice", request_body = CallSpec,
    responses((status = 201, body = crate::dto::ContactOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn place_call(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CallSpec>,
) -> ApiResult<(StatusCode, Json<crate::dto::ContactOut>)> {
    let c = s.app.place_call(&p, b).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Attended transfer, first step: the caller holds (with music) while the
/// call's agent talks to another, available, agent on their phone.
#[utoipa::path(post, path = "/contacts/{contact_id}/consult", tag = "voice", request_body = ConsultSpec,
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn consult(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
    ApiJson(b): ApiJson<ConsultSpec>,
) -> ApiResult<StatusCode> {
    s.app.consult_agent(&p, contact, b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hands the call to the consulted agent, once they have answered: the
/// agent's phone is hung up and the contact moves to them.
#[utoipa::path(post, path = "/contacts/{contact_id}/consult/complete", tag = "voice",
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn complete_consult(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
) -> ApiResult<StatusCode> {
    s.app.finish_consultation(&p, contact, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Calls the consultation off: the caller is back with the agent.
#[utoipa::path(delete, path = "/contacts/{contact_id}/consult", tag = "voice",
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn call_off_consult(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
) -> ApiResult<StatusCode> {
    s.app.finish_consultation(&p, contact, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team leader's phone leaves the call.
#[utoipa::path(delete, path = "/contacts/{contact_id}/monitor", tag = "voice",
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn stop_monitoring(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
) -> ApiResult<StatusCode> {
    s.app.stop_monitoring(&p, contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses the call's recording (while card details are read out, say):
/// silence is recorded and the pause marked on the contact's timeline.
#[utoipa::path(post, path = "/contacts/{contact_id}/recording/pause", tag = "voice",
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn pause_recording(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
) -> ApiResult<StatusCode> {
    s.app.pause_recording(&p, contact, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resumes the call's recording.
#[utoipa::path(post, path = "/contacts/{contact_id}/recording/resume", tag = "voice",
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn resume_recording(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
) -> ApiResult<StatusCode> {
    s.app.pause_recording(&p, contact, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingList {
    pub items: Vec<RecordingView>,
}

/// A contact's call recordings.
#[utoipa::path(get, path = "/contacts/{contact_id}/recordings", tag = "voice",
    params(("contact_id" = String, Path, format = Uuid)),
    responses((status = 200, body = RecordingList), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_recordings(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(contact): Path<ContactId>,
) -> ApiResult<Json<RecordingList>> {
    Ok(Json(RecordingList {
        items: s.app.list_recordings(&p, contact).await?,
    }))
}

/// A recording's audio: a stereo WAV file, the caller left, the agent right.
#[utoipa::path(get, path = "/recordings/{id}/audio", tag = "voice",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, content_type = "audio/wav"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn recording_audio(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (r, path) = s.app.recording_file(&p, &id).await?;
    wav_response(&path, &r.id).await
}
