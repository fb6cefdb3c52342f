//! The chat widget's public side: the loader script a website embeds
//! (`/chat/widget.js`), the widget page it frames (`/chat/w/{id}`, which
//! only the widget's allowed origins may frame), the WebSocket the page
//! talks over, and files sent and received. No one is signed in here: a
//! session's secret (`Authorization: Bearer`, or the `resume` frame) is
//! the customer's only key, and it opens that one chat only.
//!
//! The WebSocket speaks JSON frames, each with a `type`:
//! - from the widget: `start` {name, email, question, client_id} or
//!   `resume` {token, after} first; then `message` {client_id, text},
//!   `typing` {on}, `transcript`, `end`;
//! - to the widget: `session` {token (after `start` only), reference,
//!   transcripts}, `message` {id, client_id, from, name, text, at, files},
//!   `ack` {client_id, id}, `rejected` {client_id, reason}, `waiting`
//!   {position, expected_wait_ms}, `agent` {name}, `typing` {on}, `ended`,
//!   `transcript` {sent}, `error` {message, fields}.
//!
//! A message is acknowledged only once it is stored; the widget resends
//! what it holds unacknowledged after a reconnect, and the server keeps
//! each `client_id` once. Customers who send faster than
//! [`sb_app::chat::CHAT_RATE_PER_SECOND`] after a burst of
//! [`sb_app::chat::CHAT_BURST`] have the extra messages rejected (not
//! stored); a client that keeps flooding is disconnected.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sb_app::AppError;
use sb_app::chat::{ChatHandle, ChatPush, MAX_CHAT_FILE_BYTES, RateLimit, StartSpec};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;

/// Rejected messages after which a flooding client is disconnected.
const MAX_STRIKES: u32 = 50;
/// The largest frame a widget may send.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// How long a new socket has to say `start` or `resume`.
const HELLO_WITHIN: Duration = Duration::from_secs(20);

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/chat/widget.js", get(loader))
        .route("/chat/w/{id}", get(page))
        .route("/chat/w/{id}/ws", get(socket))
        .route(
            "/chat/w/{id}/files",
            post(upload).layer(DefaultBodyLimit::max(MAX_CHAT_FILE_BYTES + 1024)),
        )
        .route("/chat/w/{id}/files/{file}", get(download))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "chat.html")]
struct ChatPage {
    id: String,
    name: String,
    greeting: String,
    transcripts: bool,
}

async fn loader() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../assets/widget.js"),
    )
        .into_response()
}

/// The widget's page, framed by the website. Only the widget's allowed
/// origins may frame it (any, when it names none).
async fn page(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let w = s.app.public_chat_widget(&id).await?;
    let origins = sb_app::chat::origins_of(&w);
    let ancestors = if origins.is_empty() {
        "*".to_owned()
    } else {
        format!("'self' {}", origins.join(" "))
    };
    let csp = format!(
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; frame-ancestors {ancestors}"
    );
    let mut res = ChatPage {
        id: w.id.clone(),
        name: w.name.clone(),
        greeting: w.greeting.clone(),
        transcripts: w.transcript_from.is_some(),
    }
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(res)
}

async fn socket(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Refused before the upgrade: an unknown widget is a plain 404.
    let w = s.app.public_chat_widget(&id).await?;
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            metrics::gauge!("switchboard_chat_sockets").increment(1.0);
            run(s, w.id, socket).await;
            metrics::gauge!("switchboard_chat_sockets").decrement(1.0);
        }))
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Frame {
    Start(StartSpec),
    Resume {
        token: String,
        #[serde(default)]
        after: Option<String>,
    },
    Message {
        client_id: String,
        text: String,
    },
    Typing {
        on: bool,
    },
    Transcript,
    End,
}

fn json_frame(v: &impl serde::Serialize) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
    ))
}

fn error_frame(e: &AppError) -> Message {
    let (message, fields) = match e {
        AppError::Invalid(fields) => (
            "some fields are not valid".to_owned(),
            fields
                .iter()
                .map(|f| serde_json::json!({"field": f.field, "message": f.message}))
                .collect(),
        ),
        AppError::Unauthorized => ("the chat session is not known".to_owned(), Vec::new()),
        AppError::NotFound(what) => (format!("no such {what}"), Vec::new()),
        AppError::Conflict(why) => (why.clone(), Vec::new()),
        _ => (
            "the chat is not available just now; try again".to_owned(),
            Vec::new(),
        ),
    };
    json_frame(&serde_json::json!({"type": "error", "message": message, "fields": fields}))
}

/// The first frames: `start` or `resume` (a bad one may be corrected).
async fn hello(
    s: &AppState,
    widget: &str,
    socket: &mut WebSocket,
) -> Option<(ChatHandle, Option<String>)> {
    for _ in 0..5 {
        let text = match tokio::time::timeout(HELLO_WITHIN, socket.recv()).await {
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        };
        let answer = match serde_json::from_str::<Frame>(&text) {
            Ok(Frame::Start(spec)) => match s.app.chat_start(widget, spec).await {
                Ok((h, token)) => {
                    let hello = serde_json::json!({"type": "session", "token": token,
                        "reference": h.reference, "transcripts": h.transcripts()});
                    Ok((h, None, hello))
                }
                Err(e) => Err(e),
            },
            Ok(Frame::Resume { token, after }) => match s.app.chat_resume(&token).await {
                Ok(h) if h.widget.id == widget => {
                    let hello = serde_json::json!({"type": "session",
                        "reference": h.reference, "transcripts": h.transcripts()});
                    Ok((h, after, hello))
                }
                Ok(_) => Err(AppError::Unauthorized),
                Err(e) => Err(e),
            },
            Ok(_) => Err(AppError::invalid("type", "say start or resume first")),
            Err(e) => Err(AppError::invalid("frame", e.to_string())),
        };
        match answer {
            Ok((h, after, hello)) => {
                socket.send(json_frame(&hello)).await.ok()?;
                return Some((h, after));
            }
            Err(e) => {
                socket.send(error_frame(&e)).await.ok()?;
                if matches!(e, AppError::Unauthorized | AppError::NotFound(_)) {
                    return None;
                }
            }
        }
    }
    None
}

async fn run(s: AppState, widget: String, mut socket: WebSocket) {
    let Some((h, after)) = hello(&s, &widget, &mut socket).await else {
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    let Ok(mut sub) = s.app.chat_subscribe(&h).await else {
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    let mut last: Option<String> = after;
    // What the widget missed, then where the chat is.
    match s.app.chat_history(&h, last.as_deref()).await {
        Ok(missed) => {
            for m in missed {
                last = Some(m.id.clone());
                if socket
                    .send(json_frame(&ChatPush::Message(m)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        Err(_) => return,
    }
    if let Ok(now) = s.app.chat_status(&h).await
        && socket.send(json_frame(&now)).await.is_err()
    {
        return;
    }
    let mut rate = RateLimit::default();
    let mut strikes = 0u32;
    let mut typing_at: Option<std::time::Instant> = None;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    let mut stopping = s.stopping.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|v| *v).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let _ = socket.send(error_frame(&AppError::invalid("frame", "frames are JSON text"))).await;
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                let reply = match serde_json::from_str::<Frame>(&text) {
                    Ok(Frame::Message { client_id, text }) => {
                        if !rate.allow() {
                            strikes += 1;
                            metrics::counter!("switchboard_chat_messages_rejected_total").increment(1);
                            if strikes > MAX_STRIKES {
                                let _ = socket.send(Message::Close(Some(CloseFrame {
                                    code: axum::extract::ws::close_code::POLICY,
                                    reason: Utf8Bytes::from_static("too many messages"),
                                }))).await;
                                return;
                            }
                            Some(json_frame(&serde_json::json!({"type": "rejected", "client_id": client_id,
                                "reason": "too many messages at once; wait a moment and send again"})))
                        } else {
                            match s.app.chat_send(&h, &client_id, &text).await {
                                Ok(m) => Some(json_frame(&serde_json::json!({"type": "ack", "client_id": client_id, "id": m.id}))),
                                Err(AppError::Invalid(f)) => Some(json_frame(&serde_json::json!({"type": "rejected", "client_id": client_id,
                                    "reason": f.first().map(|f| format!("{}: {}", f.field, f.message)).unwrap_or_default()}))),
                                // Not acknowledged: the widget sends it again.
                                Err(e) => Some(error_frame(&e)),
                            }
                        }
                    }
                    Ok(Frame::Typing { on }) => {
                        // At most one a second reaches the desk (stopping always does).
                        let due = typing_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                        if !on || due {
                            typing_at = Some(std::time::Instant::now());
                            let _ = s.app.chat_typing(&h, on).await;
                        }
                        None
                    }
                    Ok(Frame::Transcript) => Some(match s.app.chat_transcript(&h).await {
                        Ok(()) => json_frame(&serde_json::json!({"type": "transcript", "sent": true})),
                        Err(e) => error_frame(&e),
                    }),
                    Ok(Frame::End) => {
                        let r = s.app.chat_leave(&h).await;
                        if let Err(e) = r {
                            let _ = socket.send(error_frame(&e)).await;
                        } else {
                            let _ = socket.send(json_frame(&ChatPush::Ended)).await;
                        }
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                    Ok(Frame::Start(_) | Frame::Resume { .. }) => Some(error_frame(&AppError::Conflict("the session is already open".into()))),
                    Err(e) => Some(error_frame(&AppError::invalid("frame", e.to_string()))),
                };
                if let Some(reply) = reply && socket.send(reply).await.is_err() {
                    return;
                }
            }
            push = sub.rx.recv() => {
                let frame = match push {
                    Ok(p) => {
                        if let ChatPush::Message(m) = &*p {
                            if last.as_deref().is_some_and(|l| m.id.as_str() <= l) {
                                continue;
                            }
                            last = Some(m.id.clone());
                        }
                        json_frame(&*p)
                    }
                    // Fell behind: what was missed comes from the store.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(missed) = s.app.chat_history(&h, last.as_deref()).await {
                            for m in missed {
                                last = Some(m.id.clone());
                                if socket.send(json_frame(&ChatPush::Message(m))).await.is_err() {
                                    return;
                                }
                            }
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                if socket.send(frame).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
            () = &mut stopped => {
                let _ = socket.send(Message::Close(Some(CloseFrame {
                    code: axum::extract::ws::close_code::AWAY,
                    reason: Utf8Bytes::from_static("the server is restarting"),
                }))).await;
                return;
            }
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn session(s: &AppState, widget: &str, headers: &HeaderMap) -> Result<ChatHandle, ApiError> {
    let token = bearer(headers).ok_or(AppError::Unauthorized)?;
    let h = s.app.chat_resume(token).await?;
    if h.widget.id != widget {
        return Err(AppError::Unauthorized.into());
    }
    Ok(h)
}

#[derive(Deserialize)]
struct UploadQuery {
    name: String,
    client_id: String,
}

/// A file the customer sends (the body is the file; `?name=` its name,
/// `&client_id=` the widget's id for it). Answers with the message.
async fn upload(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let h = session(&s, &id, &headers).await?;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let m = s
        .app
        .chat_upload(&h, &q.client_id, &q.name, ctype, body.to_vec())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

/// A file of the session's chat, as a download.
async fn download(
    State(s): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let h = session(&s, &id, &headers).await?;
    let (row, path) = s.app.chat_file(&h, &file).await?;
    Ok(crate::api::email::file_response(&row, &path).await?)
}
