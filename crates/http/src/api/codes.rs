//! Reason and disposition codes: the lists agents choose from when going
//! away and when wrapping up a contact.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::codes::{CodeKind, MAX_LABEL, parse_code};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CREATED;
use crate::AppState;
use crate::dto::{Check, got};
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_codes, create_code))
        .routes(routes!(update_code))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeOut {
    pub id: String,
    /// `reason` (why an agent is away) or `disposition` (how a contact ended).
    pub kind: String,
    pub code: String,
    pub label: String,
    /// Retired codes stay on old contacts but can no longer be chosen.
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<sb_store::WorkCode> for CodeOut {
    fn from(c: sb_store::WorkCode) -> Self {
        CodeOut {
            id: c.id,
            kind: c.kind,
            code: c.code,
            label: c.label,
            active: c.active != 0,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeList {
    pub items: Vec<CodeOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeIn {
    /// `reason` or `disposition`.
    pub kind: String,
    /// 1–40 lowercase letters, digits, `_` or `-`: what is stored and reported.
    pub code: String,
    /// What agents see.
    pub label: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodePatchIn {
    pub label: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CodeQuery {
    /// `reason` or `disposition`; both when absent.
    pub kind: Option<String>,
    /// Include retired codes.
    pub retired: Option<bool>,
}

fn kind(ck: &mut Check, v: &str) -> Option<CodeKind> {
    let k = CodeKind::parse(v);
    if k.is_none() {
        ck.add("kind", "must be reason or disposition");
    }
    k
}

/// The codes agents may choose, by kind then code.
#[utoipa::path(get, path = "/codes", tag = "directory", params(CodeQuery),
    responses((status = 200, body = CodeList)))]
async fn list_codes(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Json<CodeList>> {
    let mut ck = Check::default();
    let k = q.kind.as_deref().map(|v| kind(&mut ck, v));
    ck.finish()?;
    let items = s
        .app
        .list_codes(&p, k.flatten(), q.retired.unwrap_or(false))
        .await?;
    Ok(Json(CodeList {
        items: items.into_iter().map(CodeOut::from).collect(),
    }))
}

/// Adds a code to a list.
#[utoipa::path(post, path = "/codes", tag = "directory", request_body = CodeIn,
    responses((status = 201, body = CodeOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_code(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CodeIn>,
) -> ApiResult<(StatusCode, Json<CodeOut>)> {
    let mut ck = Check::default();
    let k = kind(&mut ck, &b.kind);
    let code = match parse_code(b.code.trim()) {
        Ok(c) => Some(c),
        Err(m) => {
            ck.add("code", m);
            None
        }
    };
    let label = ck.text("label", &b.label, MAX_LABEL);
    ck.finish()?;
    let c = s
        .app
        .create_code(&p, got(k)?, got(code)?, got(label)?)
        .await?;
    Ok((CREATED, Json(c.into())))
}

/// Relabels a code, or retires or restores it.
#[utoipa::path(patch, path = "/codes/{id}", tag = "directory", params(("id" = String, Path)), request_body = CodePatchIn,
    responses((status = 200, body = CodeOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_code(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CodePatchIn>,
) -> ApiResult<Json<CodeOut>> {
    let mut ck = Check::default();
    let label = b.label.as_deref().map(|l| ck.text("label", l, MAX_LABEL));
    ck.finish()?;
    let label = match label {
        Some(l) => Some(got(l)?),
        None => None,
    };
    let c = s.app.update_code(&p, &id, label, b.active).await?;
    Ok(Json(c.into()))
}
