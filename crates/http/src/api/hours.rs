//! Business hours and holidays, which queues follow through
//! `routing_rules.business_hours_id`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_model::{BusinessHours, BusinessHoursId, UnixMs};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CREATED, path_id};
use crate::AppState;
use crate::dto::{Check, PageParams, got};
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_hours, create_hours))
        .routes(routes!(get_hours, update_hours, delete_hours))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusinessHoursOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: BusinessHoursId,
    pub name: String,
    /// `{"monday": [{"open": "09:00", "close": "17:00"}], …, "sunday": [],
    /// "holidays": [{"date": "2026-12-25", "name": "Christmas Day", "hours": []}]}`
    #[schema(value_type = Object)]
    pub hours: serde_json::Value,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

impl From<sb_store::BusinessHoursRow> for BusinessHoursOut {
    fn from(h: sb_store::BusinessHoursRow) -> Self {
        BusinessHoursOut {
            id: h.id,
            name: h.name,
            hours: serde_json::from_str(&h.hours).unwrap_or(serde_json::Value::Null),
            created_at: h.created_at,
            updated_at: h.updated_at,
        }
    }
}

crate::dto::page_of!(BusinessHoursPage, BusinessHoursOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursIn {
    pub name: String,
    /// Times are local to the tenant's time zone, `HH:MM`; `close` may be
    /// `24:00`. A holiday with no hours is closed all day.
    #[schema(value_type = Object)]
    pub hours: BusinessHours,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursPatchIn {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub hours: Option<BusinessHours>,
}

#[utoipa::path(get, path = "/business-hours", tag = "directory", params(PageParams),
    responses((status = 200, body = BusinessHoursPage)))]
async fn list_hours(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<BusinessHoursPage>> {
    Ok(Json(
        s.app
            .list_business_hours(&p, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/business-hours", tag = "directory", request_body = BusinessHoursIn,
    responses((status = 201, body = BusinessHoursOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_hours(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<BusinessHoursIn>,
) -> ApiResult<(StatusCode, Json<BusinessHoursOut>)> {
    let mut ck = Check::default();
    let name = ck.text("name", &b.name, 100);
    ck.finish()?;
    let h = s.app.create_business_hours(&p, got(name)?, b.hours).await?;
    Ok((CREATED, Json(h.into())))
}

#[utoipa::path(get, path = "/business-hours/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 200, body = BusinessHoursOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_hours(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<BusinessHoursOut>> {
    let id = path_id(&id, "business hours")?;
    Ok(Json(s.app.get_business_hours(&p, id).await?.into()))
}

#[utoipa::path(patch, path = "/business-hours/{id}", tag = "directory", params(("id" = String, Path)),
    request_body = BusinessHoursPatchIn,
    responses((status = 200, body = BusinessHoursOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_hours(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<BusinessHoursPatchIn>,
) -> ApiResult<Json<BusinessHoursOut>> {
    let id = path_id(&id, "business hours")?;
    let mut ck = Check::default();
    let name = b.name.as_deref().map(|n| ck.text("name", n, 100));
    ck.finish()?;
    let h = s
        .app
        .update_business_hours(&p, id, name.map(got).transpose()?, b.hours)
        .await?;
    Ok(Json(h.into()))
}

#[utoipa::path(delete, path = "/business-hours/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn delete_hours(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, "business hours")?;
    s.app.delete_business_hours(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
