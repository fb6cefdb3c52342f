//! The one place application errors become HTTP responses: RFC 9457
//! `application/problem+json` documents that name the field at fault.
//! 5xx details go to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_app::{AppError, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/invalid-fields`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The first field at fault, when the problem is with the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field at fault, with what is wrong with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ProblemField>)]
    pub errors: Vec<FieldError>,
}

/// One field at fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn field(status: StatusCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        let (slug, title) = if status == StatusCode::BAD_REQUEST {
            ("malformed-request", "The request could not be read")
        } else {
            ("invalid-fields", "The request has invalid fields")
        };
        let field = field.into();
        let message = message.into();
        ApiError {
            status,
            slug,
            title,
            detail: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} not found"),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthorized => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
                "log in, or send an API token as `Authorization: Bearer <token>`",
            ),
            AppError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad-credentials",
                "Wrong email address or password",
                "the email address or password is wrong, or the account is inactive",
            ),
            AppError::Forbidden(p) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed",
                format!(
                    "your roles do not include the permission `{}`",
                    serde_json::to_value(p)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
            ),
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::Invalid(errors) => {
                let detail = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    slug: "invalid-fields",
                    title: "The request has invalid fields",
                    detail,
                    errors,
                }
            }
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", m),
            AppError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the store cannot be reached; try again",
                )
            }
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "something went wrong on our side; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("/problems/{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.errors.first().map(|e| e.field.clone()),
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
