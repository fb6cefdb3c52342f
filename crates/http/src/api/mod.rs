//! The JSON API under `/api/v1`, one router per area. Handlers translate:
//! parse into domain types, call one application function, map the result.

mod audit;
mod auth;
pub(crate) use auth::session_cookie;
mod callbacks;
mod chat;
mod codes;
mod crm;
mod directory;
pub(crate) mod email;
mod help;
mod hours;
mod imap;
pub(crate) mod live;
mod reports;
pub mod rosters;
mod sms;
mod tenants;
mod users;
mod voice;
mod webhooks;
mod wfm;
mod work;

use axum::http::StatusCode;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::ApiError;

/// An id from the path; anything that is not one is simply not found.
pub(crate) fn path_id<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError::not_found(what))
}

pub(crate) const CREATED: StatusCode = StatusCode::CREATED;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "The contact centre's JSON API. Errors are RFC 9457 problem documents naming the field at fault. \
                       Authenticate with a session cookie (browser) or `Authorization: Bearer <token>` (integrations).",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "auth", description = "Logging in and out"),
        (name = "tenants", description = "The organisation's contact centre"),
        (name = "users", description = "People who log in, their roles, and API tokens"),
        (name = "directory", description = "Skills, agents, queues, business hours and holidays, reason and disposition codes"),
        (name = "webhooks", description = "Outbound webhooks: routing and contact events POSTed to your systems, signed and retried"),
        (name = "customers", description = "Customers and prospects"),
        (name = "contacts", description = "Interactions on every channel"),
        (name = "audit", description = "Who changed what"),
        (name = "reports", description = "Queue and agent performance, as JSON or CSV; forecasts and staffing plans"),
        (name = "work", description = "Routing: agent state, reservations, completing, wrapping up and transferring contacts, live status"),
        (name = "voice", description = "The voice channel: dialled numbers, carrier trunks, agents' phones, call recordings"),
        (name = "email", description = "The email channel: receiving addresses, conversations, replies, attachments, signatures"),
        (name = "sms", description = "Text messages: receiving numbers, the provider account, the provider's webhook"),
        (name = "chat", description = "Web chat: the widgets websites embed, and typing in a live chat")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::extract::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every API route, with the OpenAPI document describing them.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(auth::router())
        .merge(tenants::router())
        .merge(users::router())
        .merge(directory::router())
        .merge(hours::router())
        .merge(codes::router())
        .merge(callbacks::router())
        .merge(help::router())
        .merge(reports::router())
        .merge(webhooks::router())
        .merge(crm::router())
        .merge(audit::router())
        .merge(wfm::router())
        .merge(rosters::router())
        .merge(voice::router())
        .merge(email::router())
        .merge(imap::router())
        .merge(sms::router())
        .merge(chat::router())
        .merge(work::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1)
}
