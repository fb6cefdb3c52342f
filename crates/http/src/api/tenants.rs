//! The tenant: the platform operator creates one with its first admin; its
//! own users read it, its admins rename it.

use axum::Json;
use axum::extract::{Path, State};
use sb_app::tenants::{NewTenant, TenantPatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CREATED, path_id};
use crate::AppState;
use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth, Platform};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant))
}

#[utoipa::path(get, path = "/tenants", tag = "tenants", responses((status = 200, body = TenantList, description = "The caller's own tenant")))]
async fn list_tenants(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<TenantList>> {
    let items = s
        .app
        .list_tenants(&p)
        .await?
        .into_iter()
        .map(TenantOut::from)
        .collect();
    Ok(Json(TenantList { items }))
}

#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = TenantIn,
    description = "Creates a tenant and its first administrator. Needs the platform token (`--platform-token`) as bearer.",
    responses((status = 201, body = TenantCreated), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_tenant(
    State(s): State<AppState>,
    platform: Platform,
    ApiJson(b): ApiJson<TenantIn>,
) -> ApiResult<(axum::http::StatusCode, Json<TenantCreated>)> {
    let mut ck = Check::default();
    let name = ck.text("name", &b.name, 200);
    let admin_email = ck.email("admin_email", &b.admin_email);
    let admin_name = ck.text("admin_name", &b.admin_name, 200);
    ck.finish()?;
    let (tenant, admin) = s
        .app
        .create_tenant(
            NewTenant {
                name: got(name)?,
                slug: b.slug,
                time_zone: b.time_zone,
                admin_email: got(admin_email)?,
                admin_name: got(admin_name)?,
                admin_password: b.admin_password,
            },
            &platform.source,
        )
        .await?;
    Ok((
        CREATED,
        Json(TenantCreated {
            tenant: tenant.into(),
            admin: admin.into(),
        }),
    ))
}

#[utoipa::path(get, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = TenantOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_tenant(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantOut>> {
    Ok(Json(
        s.app.get_tenant(&p, path_id(&id, "tenant")?).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path)), request_body = TenantPatchIn,
    responses((status = 200, body = TenantOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_tenant(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TenantPatchIn>,
) -> ApiResult<Json<TenantOut>> {
    let id = path_id(&id, "tenant")?;
    let mut ck = Check::default();
    let name = b.name.as_deref().map(|n| ck.text("name", n, 200));
    ck.finish()?;
    let patch = TenantPatch {
        name: name.map(got).transpose()?,
        time_zone: b.time_zone,
    };
    Ok(Json(s.app.update_tenant(&p, id, patch).await?.into()))
}
