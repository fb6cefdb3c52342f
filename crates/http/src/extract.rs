//! Extractors: who is calling (`Auth`), and request bodies and query
//! strings parsed with errors that name the field at fault.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum_extra::extract::CookieJar;
use sb_app::{AppError, Principal};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = "sb_session";

/// The client's address as the audit log records it.
pub fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client's address, for handlers that act before authentication.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The authenticated principal: from a bearer token if one is sent,
/// otherwise from the session cookie. Anything else is 401.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let source = client_addr(parts);
        if let Some(token) = bearer(parts) {
            let token = token.to_owned();
            return match state.app.principal_from_token(&token, source).await? {
                Some(p) => Ok(Auth(p)),
                None => Err(AppError::Unauthorized.into()),
            };
        }
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(c) = jar.get(SESSION_COOKIE)
            && let Some(p) = state.app.principal_from_session(c.value(), source).await?
        {
            return Ok(Auth(p));
        }
        Err(AppError::Unauthorized.into())
    }
}

/// The platform operator, proved by the configured platform token.
pub struct Platform {
    pub source: String,
}

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.app.config().platform_token.is_none() {
            return Err(ApiError::not_found("endpoint"));
        }
        match bearer(parts) {
            Some(t) if state.app.is_platform_token(t) => Ok(Platform {
                source: client_addr(parts),
            }),
            _ => Err(AppError::Unauthorized.into()),
        }
    }
}

/// Turns a serde error at `path` into a problem naming the field.
fn data_error(path: &serde_path_to_error::Path, message: String) -> ApiError {
    let mut field = path.to_string();
    if field == "." {
        field.clear();
    }
    // serde reports unknown and missing fields at their parent; name the field itself.
    let named = ["unknown field `", "missing field `"].iter().find_map(|p| {
        message
            .strip_prefix(p)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    });
    if let Some(name) = named {
        let already = field == name || field.ends_with(&format!(".{name}"));
        if !already {
            field = if field.is_empty() {
                name
            } else {
                format!("{field}.{name}")
            };
        }
    }
    if field.is_empty() {
        field = "body".into();
    }
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

/// A JSON body parsed into `T`. Malformed JSON is 400; a wrong type, an
/// unknown or missing field is 422 naming it; too large a body is 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || v.to_ascii_lowercase().ends_with("+json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "Request body too large",
                    // Most routes take 64 KiB; uploads such as planning
                    // history take more, so name no single figure.
                    "the body is larger than this request accepts".to_string(),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-request",
                    "The request could not be read",
                    e.body_text(),
                )
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().clone();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => data_error(&path, inner.to_string()),
                _ => ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "body",
                    format!("malformed JSON: {inner}"),
                ),
            }
        })?;
        de.end().map_err(|e| {
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "body",
                format!("malformed JSON: {e}"),
            )
        })?;
        Ok(ApiJson(value))
    }
}

/// A query string parsed into `T`, with errors naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().clone();
                let mut err = data_error(&path, e.into_inner().to_string());
                err.status = StatusCode::BAD_REQUEST;
                err.slug = "malformed-request";
                err.title = "The query string could not be read";
                err
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
    }

    fn field_of(json: &str) -> String {
        let mut de = serde_json::Deserializer::from_str(json);
        let e = serde_path_to_error::deserialize::<_, Outer>(&mut de).unwrap_err();
        let path = e.path().clone();
        data_error(&path, e.into_inner().to_string()).errors[0]
            .field
            .clone()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"name": 5, "inner": []}"#), "name");
        assert_eq!(
            field_of(r#"{"name": "a", "inner": [{"n": "x"}]}"#),
            "inner[0].n"
        );
        assert_eq!(
            field_of(r#"{"name": "a", "inner": [], "extra": 1}"#),
            "extra"
        );
        assert_eq!(field_of(r#"{"inner": []}"#), "name");
        assert_eq!(
            field_of(r#"{"name": "a", "inner": [{"n": 1, "m": 2}]}"#),
            "inner[0].m"
        );
    }
}
