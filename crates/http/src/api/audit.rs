//! The audit log, for administrators.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::*;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = AuditPage)))]
async fn list_audit(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let newest_first = match q.order.as_deref() {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(_) => {
            return Err(sb_app::AppError::invalid("order", "must be oldest or newest").into());
        }
    };
    let filter = sb_store::AuditFilter {
        object_id: q.object_id,
        action: q.action,
        newest_first,
    };
    Ok(Json(
        s.app
            .list_audit(&p, &filter, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}
