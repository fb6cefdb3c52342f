//! Logging in and out, sessions, tokens, CSRF protection, and the login form.

mod common;

use common::*;
use sb_model::Role;
use serde_json::json;

fn session_from(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sb_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
}

#[tokio::test]
async fn login_sets_a_strict_http_only_session_that_logout_ends() {
    let s = TestServer::start().await;
    let (tenant, admin) = s.tenant("login").await;
    let res = s
        .client
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"email": admin.email, "password": "switchboard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = session_from(&res).unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["tenant"]["id"], tenant.id.to_string());

    let me = s
        .client
        .get(s.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // The cookie works for the API from the same origin…
    let ok = s
        .client
        .post(s.url("/api/v1/skills"))
        .header("cookie", &cookie)
        .header("origin", &s.base)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"name": "billing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    // …and is refused from another site (CSRF), writing nothing.
    let evil = s
        .client
        .post(s.url("/api/v1/skills"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"name": "stolen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let skills: serde_json::Value = s
        .client
        .get(s.url("/api/v1/skills"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(skills["items"].as_array().unwrap().len(), 1);

    let out = s
        .client
        .post(s.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", &s.base)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = s
        .client
        .get(s.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    s.finish().await;
}

#[tokio::test]
async fn wrong_passwords_unknown_users_and_inactive_users_cannot_log_in() {
    let s = TestServer::start().await;
    let (tenant, admin) = s.tenant("badlogin").await;
    let login = |email: String, password: &'static str| {
        let s = &s;
        async move {
            s.raw(
                s.client
                    .post(s.url("/api/v1/auth/login"))
                    .json(&json!({"email": email, "password": password})),
            )
            .await
        }
    };
    let r = login(admin.email.clone(), "wrong-password")
        .await
        .expect(401);
    assert_eq!(r.body["type"], "/problems/bad-credentials");
    let r2 = login("nobody@nowhere.example".into(), "switchboard")
        .await
        .expect(401);
    assert_eq!(
        r.body, r2.body,
        "an unknown address looks like a wrong password"
    );
    // Deactivated users can log in no more, and their tokens stop working.
    let (agent, token) = s.user_with_token(&tenant, &[Role::Agent]).await;
    let (_, admin_token) = s.user_with_token(&tenant, &[Role::Admin]).await;
    s.patch(
        &format!("/api/v1/users/{}", agent.id),
        &admin_token,
        json!({"password": "agent-password"}),
    )
    .await
    .expect(200);
    login(agent.email.clone(), "agent-password")
        .await
        .expect(200);
    s.patch(
        &format!("/api/v1/users/{}", agent.id),
        &admin_token,
        json!({"active": false}),
    )
    .await
    .expect(200);
    login(agent.email.clone(), "agent-password")
        .await
        .expect(401);
    s.get("/api/v1/auth/me", &token).await.expect(401);
    // Admins cannot lock themselves out.
    let me = s.get("/api/v1/auth/me", &admin_token).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.patch(
        &format!("/api/v1/users/{me}"),
        &admin_token,
        json!({"active": false}),
    )
    .await
    .problem_for(422, "active");
    s.patch(
        &format!("/api/v1/users/{me}"),
        &admin_token,
        json!({"roles": ["agent"]}),
    )
    .await
    .problem_for(422, "roles");
    s.finish().await;
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let s = TestServer::start().await;
    let (tenant, _) = s.tenant("tokens").await;
    let (_, admin) = s.user_with_token(&tenant, &[Role::Admin]).await;
    let created = s
        .post("/api/v1/tokens", &admin, json!({"name": "crm sync"}))
        .await
        .expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sbt_"));
    let id = created.body["token"]["id"].as_str().unwrap().to_owned();
    s.get("/api/v1/auth/me", &secret).await.expect(200);
    let listed = s.get("/api/v1/tokens", &admin).await.expect(200);
    assert!(
        !listed.text.contains(&secret),
        "listings never show secrets"
    );
    let revoked = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            &admin,
            None,
        )
        .await
        .expect(200);
    assert!(revoked.body["revoked_at"].is_i64());
    s.get("/api/v1/auth/me", &secret).await.expect(401);
    s.get("/api/v1/auth/me", "sbt_made-up").await.expect(401);
    let r = s
        .raw(s.client.get(s.url("/api/v1/customers")))
        .await
        .expect(401);
    assert_eq!(r.content_type, "application/problem+json");
    s.finish().await;
}

#[tokio::test]
async fn the_login_form_signs_in_and_escapes_what_it_shows() {
    let s = TestServer::start().await;
    let (_, admin) = s.tenant("form").await;
    let page = s.client.get(s.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\" action=\"/login\">")
    );
    let res = s
        .client
        .post(s.url("/login"))
        .header("origin", &s.base)
        .form(&[("email", admin.email.as_str()), ("password", "switchboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = session_from(&res).unwrap();
    let home = s
        .client
        .get(s.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Signed in as"), "{home}");
    // A failed login shows the typed address back, escaped.
    let bad = s
        .client
        .post(s.url("/login"))
        .header("origin", &s.base)
        .form(&[("email", "<script>alert(1)</script>"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let html = bad.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
    // Without a session the home page sends you to log in.
    let anon = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(anon.status(), 303);
    s.finish().await;
}

#[tokio::test]
async fn the_platform_token_creates_tenants() {
    let s = TestServer::start().await;
    let body = json!({"name": "Kiwi Care", "slug": "kiwi-care", "time_zone": "Pacific/Auckland", "admin_email": "boss@kiwi.example", "admin_name": "Boss", "admin_password": "long-enough"});
    s.post("/api/v1/tenants", "wrong", body.clone())
        .await
        .expect(401);
    let r = s
        .post("/api/v1/tenants", PLATFORM_TOKEN, body.clone())
        .await
        .expect(201);
    assert_eq!(r.body["tenant"]["time_zone"], "Pacific/Auckland");
    assert_eq!(r.body["admin"]["roles"], json!(["admin"]));
    s.post("/api/v1/tenants", PLATFORM_TOKEN, body)
        .await
        .expect(409);
    let bad = json!({"name": "X", "slug": "Bad Slug", "time_zone": "Nowhere/City", "admin_email": "x@y.example", "admin_name": "X", "admin_password": "short"});
    let r = s
        .post("/api/v1/tenants", PLATFORM_TOKEN, bad)
        .await
        .problem_for(422, "slug");
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 3);
    let login = s
        .raw(
            s.client
                .post(s.url("/api/v1/auth/login"))
                .json(&json!({"email": "boss@kiwi.example", "password": "long-enough"})),
        )
        .await;
    login.expect(200);
    s.finish().await;
}
