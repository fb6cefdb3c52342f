//! Server-rendered pages: logging in with a form, the signed-in home, the
//! agent desktop, the wallboard and the administration overview, plus the
//! stylesheet and scripts they load (compiled into the binary; no
//! third-party browser code). Templates are compiled in (askama) and
//! escape every value they show; the scripts only ever set text.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use sb_app::Principal;
use sb_model::{AgentId, Permission};
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

/// What the navigation bar shows.
struct Nav {
    page: &'static str,
    tenant: String,
    name: String,
    desk: bool,
    wallboard: bool,
    reports: bool,
    admin: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    email: String,
    roles: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "desk.html")]
struct DeskPage {
    nav: Nav,
    agent_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "wallboard.html")]
struct WallboardPage {
    nav: Nav,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts.html")]
struct ContactsPage {
    nav: Nav,
}

#[derive(Template, WebTemplate)]
#[template(path = "floor.html")]
struct FloorPage {
    nav: Nav,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    today: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "planning.html")]
struct PlanningPage {
    nav: Nav,
    tomorrow: String,
    weekdays: &'static [&'static str],
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    user_id: String,
    time_zone: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "forbidden.html")]
struct ForbiddenPage {
    nav: Nav,
    what: &'static str,
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

/// The signed-in person behind a page request.
struct Visitor {
    principal: Principal,
    user: sb_store::User,
    tenant: sb_store::Tenant,
    agent: Option<AgentId>,
}

impl Visitor {
    /// Today in the tenant's time zone.
    fn today(&self) -> jiff::civil::Date {
        let tz = jiff::tz::TimeZone::get(&self.tenant.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        tz.to_datetime(jiff::Timestamp::now()).date()
    }

    fn nav(&self, page: &'static str) -> Nav {
        let p = &self.principal;
        Nav {
            page,
            tenant: self.tenant.name.clone(),
            name: self.user.display_name.clone(),
            desk: self.agent.is_some(),
            wallboard: p.require(Permission::AgentAllocate).is_ok(),
            reports: p.require(Permission::ReportRead).is_ok(),
            admin: p.require(Permission::UserManage).is_ok(),
        }
    }

    fn forbidden(&self, what: &'static str) -> Response {
        (
            StatusCode::FORBIDDEN,
            ForbiddenPage {
                nav: self.nav(""),
                what,
            },
        )
            .into_response()
    }
}

/// The visitor, or the redirect to the login page.
async fn visitor(s: &AppState, jar: &CookieJar, source: String) -> Result<Visitor, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let cookie = jar.get(SESSION_COOKIE).ok_or_else(to_login)?;
    let principal = match s.app.principal_from_session(cookie.value(), source).await {
        Ok(Some(p)) => p,
        _ => return Err(to_login()),
    };
    let uid = principal.user_id.ok_or_else(to_login)?;
    let (user, tenant) = match (
        s.app.get_user(&principal, uid).await,
        s.app.store().get_tenant(principal.tenant_id).await,
    ) {
        (Ok(u), Ok(t)) => (u, t),
        _ => return Err(to_login()),
    };
    let agent = s.app.own_agent(&principal).await.ok().flatten();
    Ok(Visitor {
        principal,
        user,
        tenant,
        agent,
    })
}

/// The visitor if their roles allow `need`; otherwise the 403 page saying
/// the page is for `what` (or the redirect to the login page).
async fn allowed(
    s: &AppState,
    jar: &CookieJar,
    source: String,
    need: Permission,
    what: &'static str,
) -> Result<Visitor, Response> {
    let v = visitor(s, jar, source).await?;
    if v.principal.require(need).is_err() {
        return Err(v.forbidden(what));
    }
    Ok(v)
}

pub async fn home(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match visitor(&s, &jar, source).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    HomePage {
        nav: v.nav("home"),
        email: v.user.email.clone(),
        roles: v
            .user
            .roles
            .roles()
            .iter()
            .map(|r| r.as_str().replace('_', " "))
            .collect(),
    }
    .into_response()
}

/// The agent desktop: for users who are agents.
pub async fn desk(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match visitor(&s, &jar, source).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match v.agent {
        Some(a) => DeskPage {
            nav: v.nav("desk"),
            agent_id: a.to_string(),
        }
        .into_response(),
        None => v.forbidden("an agent desk (you are not set up as an agent)"),
    }
}

/// The wallboard: for team leaders and administrators.
pub async fn wallboard(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match allowed(
        &s,
        &jar,
        source,
        Permission::AgentAllocate,
        "the wallboard (team leaders and administrators)",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    WallboardPage {
        nav: v.nav("wallboard"),
    }
    .into_response()
}

/// Contact search with timelines: for those who read reports.
pub async fn contacts(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match allowed(
        &s,
        &jar,
        source,
        Permission::ReportRead,
        "contact search (team leaders, planners, trainers and administrators)",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    ContactsPage {
        nav: v.nav("contacts"),
    }
    .into_response()
}

/// The floor view: for team leaders and administrators.
pub async fn floor(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match allowed(
        &s,
        &jar,
        source,
        Permission::AgentAllocate,
        "the floor view (team leaders and administrators)",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    FloorPage {
        nav: v.nav("floor"),
    }
    .into_response()
}

/// The interval report: for team leaders, planners, trainers and
/// administrators.
pub async fn reports(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match allowed(
        &s,
        &jar,
        source,
        Permission::ReportRead,
        "reports (team leaders, planners, trainers and administrators)",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    ReportsPage {
        nav: v.nav("reports"),
        today: v.today().to_string(),
    }
    .into_response()
}

/// Planning: forecast contacts and the agents they need.
pub async fn planning(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match allowed(
        &s,
        &jar,
        source,
        Permission::ReportRead,
        "planning (planners, team leaders, trainers and administrators)",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let today = v.today();
    PlanningPage {
        nav: v.nav("planning"),
        tomorrow: today.tomorrow().unwrap_or(today).to_string(),
        weekdays: &sb_app::rosters::WEEKDAYS,
    }
    .into_response()
}

/// Administration: users, agents, queues, codes, hours, tokens, audit.
pub async fn admin(
    State(s): State<AppState>,
    jar: CookieJar,
    ClientAddr(source): ClientAddr,
) -> Response {
    let v = match allowed(
        &s,
        &jar,
        source,
        Permission::UserManage,
        "administration (administrators)",
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let time_zone = v.tenant.time_zone.clone();
    AdminPage {
        nav: v.nav("admin"),
        user_id: v
            .principal
            .user_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        time_zone,
    }
    .into_response()
}

/// The pages' stylesheet and scripts, compiled in.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.css" => (include_str!("../assets/app.css"), "text/css; charset=utf-8"),
        "common.js" => (
            include_str!("../assets/common.js"),
            "text/javascript; charset=utf-8",
        ),
        "desk.js" => (
            include_str!("../assets/desk.js"),
            "text/javascript; charset=utf-8",
        ),
        "wallboard.js" => (
            include_str!("../assets/wallboard.js"),
            "text/javascript; charset=utf-8",
        ),
        "contacts.js" => (
            include_str!("../assets/contacts.js"),
            "text/javascript; charset=utf-8",
        ),
        "planning.js" => (
            include_str!("../assets/planning.js"),
            "text/javascript; charset=utf-8",
        ),
        "admin.js" => (
            include_str!("../assets/admin.js"),
            "text/javascript; charset=utf-8",
        ),
        "floor.js" => (
            include_str!("../assets/floor.js"),
            "text/javascript; charset=utf-8",
        ),
        "reports.js" => (
            include_str!("../assets/reports.js"),
            "text/javascript; charset=utf-8",
        ),
        "chat.js" => (
            include_str!("../assets/chat.js"),
            "text/javascript; charset=utf-8",
        ),
        "chat.css" => (
            include_str!("../assets/chat.css"),
            "text/css; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, kind),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
