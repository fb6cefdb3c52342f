//! Server-rendered pages: logging in with a form, and the signed-in home.
//! Templates are compiled in (askama) and escape every value they show.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::AppState;
use crate::api::session_cookie;
use crate::extract::{ClientAddr, SESSION_COOKIE};

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    email: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    tenant: String,
    name: String,
    email: String,
    roles: Vec<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

pub async fn login_page() -> impl IntoResponse {
    LoginPage {
        email: String::new(),
        error: None,
    }
}

pub async fn login_submit(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
    Form(f): Form<LoginForm>,
) -> Response {
    match s.app.login(&f.email, &f.password, &source).await {
        Ok((secret, _)) => (
            jar.add(session_cookie(&s, secret.expose().to_owned())),
            Redirect::to("/"),
        )
            .into_response(),
        Err(e) => {
            let error = match e {
                sb_app::AppError::BadCredentials => "Wrong email address or password.".to_owned(),
                _ => "Logging in is not possible right now; try again.".to_owned(),
            };
            let status = axum::http::StatusCode::UNAUTHORIZED;
            (
                status,
                LoginPage {
                    email: f.email,
                    error: Some(error),
                },
            )
                .into_response()
        }
    }
}

pub async fn logout_submit(State(s): State<AppState>, jar: CookieJar) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let _ = s.app.logout(c.value()).await;
    }
    (
        jar.remove(session_cookie(&s, String::new())),
        Redirect::to("/login"),
    )
        .into_response()
}

pub async fn home(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Redirect::to("/login").into_response();
    };
    let principal = match s.app.principal_from_session(cookie.value(), source).await {
        Ok(Some(p)) => p,
        _ => return Redirect::to("/login").into_response(),
    };
    let Some(uid) = principal.user_id else {
        return Redirect::to("/login").into_response();
    };
    let (user, tenant) = match (
        s.app.get_user(&principal, uid).await,
        s.app.store().get_tenant(principal.tenant_id).await,
    ) {
        (Ok(u), Ok(t)) => (u, t),
        _ => return Redirect::to("/login").into_response(),
    };
    HomePage {
        tenant: tenant.name,
        name: user.display_name,
        email: user.email,
        roles: user
            .roles
            .roles()
            .iter()
            .map(|r| r.as_str().replace('_', " "))
            .collect(),
    }
    .into_response()
}
