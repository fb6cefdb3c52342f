//! Live events over Server-Sent Events: every durable routing event of the
//! caller's tenant as it happens, for wallboards, floor views and desktops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/events/stream", axum::routing::get(stream))
}

/// `text/event-stream`: each event is named by its kind (`contact.queued`,
/// `reservation.created`, `agent.status`, …) with a JSON body; `lagged`
/// says how many events a slow reader missed.
async fn stream(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>> {
    let rx = s.app.live_events(&p)?;
    let tenant = p.tenant_id;
    let events = BroadcastStream::new(rx).filter_map(move |item| match item {
        Ok(e) if e.tenant_id == tenant => {
            let body = serde_json::json!({"kind": e.kind, "subject_id": e.subject_id, "at": e.at, "payload": e.payload});
            Some(Ok(Event::default().event(e.kind).data(body.to_string())))
        }
        Ok(_) => None,
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default().event("lagged").data(n.to_string()))),
    });
    // The stream ends when the server begins to stop (browsers reconnect).
    let mut stopping = s.stopping.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|v| *v).await;
    };
    let events = futures_util::StreamExt::take_until(events, stopped);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
