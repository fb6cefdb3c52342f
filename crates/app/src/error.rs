//! The application's one error type. The HTTP layer maps each variant to a
//! status and an RFC 9457 problem document; the CLI prints it.

use sb_model::Permission;
use sb_store::StoreError;

/// A problem with one field of the input, named by its path (`email`,
/// `skills[2].proficiency`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthorized,
    #[error("wrong email address or password")]
    BadCredentials,
    #[error("your roles do not allow this")]
    Forbidden(Permission),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("the store is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Maps a store error, naming what was not found.
    pub fn from_store(what: &'static str) -> impl Fn(StoreError) -> AppError {
        move |e| match e {
            StoreError::NotFound => AppError::NotFound(what),
            other => AppError::from(other),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("record"),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::WriterGone | StoreError::Unavailable(_) => {
                AppError::Unavailable(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}
