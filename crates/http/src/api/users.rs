//! Users and their roles, and API tokens for integrations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::accounts::{NewUser, UserPatch};
use sb_store::UserFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CREATED, path_id};
use crate::AppState;
use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[utoipa::path(get, path = "/users", tag = "users", params(UserQuery), responses((status = 200, body = UserPage)))]
async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Json<UserPage>> {
    let f = UserFilter {
        role: q.role,
        active: q.active,
    };
    Ok(Json(
        s.app
            .list_users(&p, &f, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let mut ck = Check::default();
    let email = ck.email("email", &b.email);
    let display_name = ck.text("display_name", &b.display_name, 200);
    let roles = ck.roles("roles", &b.roles);
    ck.finish()?;
    let u = s
        .app
        .create_user(
            &p,
            NewUser {
                email: got(email)?,
                display_name: got(display_name)?,
                roles: got(roles)?,
                password: b.password,
            },
        )
        .await?;
    Ok((CREATED, Json(u.into())))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserOut>> {
    Ok(Json(
        s.app.get_user(&p, path_id(&id, "user")?).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UserPatchIn,
    responses((status = 200, body = UserOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UserPatchIn>,
) -> ApiResult<Json<UserOut>> {
    let id = path_id(&id, "user")?;
    let mut ck = Check::default();
    let email = b.email.as_deref().map(|e| ck.email("email", e));
    let display_name = b
        .display_name
        .as_deref()
        .map(|n| ck.text("display_name", n, 200));
    let roles = b.roles.as_deref().map(|r| ck.roles("roles", r));
    ck.finish()?;
    let patch = UserPatch {
        email: email.map(got).transpose()?,
        display_name: display_name.map(got).transpose()?,
        roles: roles.map(got).transpose()?,
        active: b.active,
        password: b.password,
    };
    Ok(Json(s.app.update_user(&p, id, patch).await?.into()))
}

#[utoipa::path(get, path = "/tokens", tag = "users", params(PageParams), responses((status = 200, body = TokenPage)))]
async fn list_tokens(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<TokenPage>> {
    Ok(Json(
        s.app
            .list_tokens(&p, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/tokens", tag = "users", request_body = TokenIn,
    responses((status = 201, body = TokenCreated, description = "The secret is in the response and nowhere else"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<TokenIn>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let (token, secret) = s.app.create_token(&p, b.user_id, &b.name).await?;
    Ok((
        CREATED,
        Json(TokenCreated {
            token: token.into(),
            secret: secret.expose().to_owned(),
        }),
    ))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = TokenOut, description = "Revoked"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenOut>> {
    Ok(Json(
        s.app
            .revoke_token(&p, path_id(&id, "api token")?)
            .await?
            .into(),
    ))
}
