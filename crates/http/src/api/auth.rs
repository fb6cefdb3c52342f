//! Logging in and out with a session cookie, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use sb_model::Permission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth, ClientAddr, SESSION_COOKIE};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure unless serving
/// plain HTTP on loopback.
pub(crate) fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(SESSION_COOKIE, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_path("/");
    c.set_secure(state.cookie_secure);
    c
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginIn, security(),
    responses((status = 200, body = MeOut, description = "Logged in; the session cookie is set"),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn login(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
    ApiJson(b): ApiJson<LoginIn>,
) -> ApiResult<impl IntoResponse> {
    let (secret, user) = s.app.login(&b.email, &b.password, &source).await?;
    let tenant = s
        .app
        .store()
        .get_tenant(user.tenant_id)
        .await
        .map_err(sb_app::AppError::from)?;
    let me = MeOut {
        permissions: Permission::ALL
            .iter()
            .copied()
            .filter(|p| user.roles.allows(*p))
            .collect(),
        user: user.into(),
        tenant: tenant.into(),
    };
    Ok((
        jar.add(session_cookie(&s, secret.expose().to_owned())),
        Json(me),
    ))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204, description = "Logged out; the cookie is cleared")))]
async fn logout(State(s): State<AppState>, jar: CookieJar) -> ApiResult<impl IntoResponse> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        s.app.logout(c.value()).await?;
    }
    Ok((
        jar.remove(session_cookie(&s, String::new())),
        StatusCode::NO_CONTENT,
    ))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = MeOut), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<MeOut>> {
    let uid = p.user_id.ok_or(sb_app::AppError::Unauthorized)?;
    let user = s.app.get_user(&p, uid).await?;
    let tenant = s
        .app
        .store()
        .get_tenant(p.tenant_id)
        .await
        .map_err(sb_app::AppError::from)?;
    Ok(Json(MeOut {
        permissions: Permission::ALL
            .iter()
            .copied()
            .filter(|x| p.roles.allows(*x))
            .collect(),
        user: user.into(),
        tenant: tenant.into(),
    }))
}
