//! Switchboard's HTTP shell: the JSON API under `/api/v1` with its OpenAPI
//! document, the server-rendered pages, health and metrics endpoints, and
//! the layers every request passes (request ids, tracing, body limit, CSRF
//! protection, security headers).
//!
//! Handlers translate and nothing more: no SQL and no business rules here.

mod api;
mod chat;
mod dto;
mod error;
mod extract;
mod web;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sb_app::App;
use tower_http::csrf::CsrfLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, Problem};
pub use extract::SESSION_COOKIE;

/// The largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// Whether session cookies carry `Secure` (everywhere but plain HTTP on loopback).
    pub cookie_secure: bool,
    metrics: PrometheusHandle,
    openapi: std::sync::Arc<String>,
    /// Set when the server begins to stop: live streams end then, so that
    /// a graceful shutdown does not wait on them for ever.
    stopping: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by an embedding
            // program); then this handle renders an empty page.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

impl AppState {
    pub fn new(app: App, cookie_secure: bool) -> Self {
        let (_, openapi) = api::router().split_for_parts();
        let openapi = openapi.to_json().unwrap_or_else(|_| "{}".into());
        AppState {
            app,
            cookie_secure,
            metrics: metrics_handle(),
            openapi: std::sync::Arc::new(openapi),
            stopping: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, _) = api::router().split_for_parts();
    let x_request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(api::live::router())
        .merge(chat::router())
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/login", get(web::login_page).post(web::login_submit))
        .route("/logout", post(web::logout_submit))
        .route("/", get(web::home))
        .route("/desk", get(web::desk))
        .route("/wallboard", get(web::wallboard))
        .route("/admin", get(web::admin))
        .route("/reports", get(web::reports))
        .route("/planning", get(web::planning))
        .route("/floor", get(web::floor))
        .route("/contacts", get(web::contacts))
        .route("/assets/{name}", get(web::asset))
        .route("/calendar/{file}", get(api::rosters::calendar_feed))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CsrfLayer::new())
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(middleware::map_response(frame_options))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// Serves until `shutdown` completes, then drains requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = state.stopping.clone();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        stopping.send_replace(true);
    })
    .await
}

/// No page may be framed, but for one that names who may frame it (the
/// chat widget's `frame-ancestors`).
async fn frame_options(mut res: Response) -> Response {
    let framable = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("frame-ancestors"));
    if !framable {
        res.headers_mut()
            .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

/// Counts requests and their latency by route template and status.
async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("switchboard_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("switchboard_http_request_duration_seconds", "method" => method, "route" => route).record(start.elapsed().as_secs_f64());
    res
}

async fn not_found() -> ApiError {
    ApiError::not_found("page")
}

async fn openapi_json(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        s.openapi.as_str().to_owned(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<AppState>) -> Response {
    match s.app.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is not reachable\n",
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}
