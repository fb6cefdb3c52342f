//! Tenants never see each other's data: every object of tenant A, asked for
//! by id by tenant B's administrator, is 404 (not 403: no existence leak),
//! and B's listings hold none of A's rows. Runs on SQLite, and on
//! PostgreSQL when `SWITCHBOARD_TEST_DATABASE_URL` is set.

mod common;

use common::*;
use reqwest::Method;
use sb_model::Role;
use serde_json::json;

async fn isolation(s: TestServer) {
    let a = fixture(&s, "alpha").await;
    let b = fixture(&s, "beta").await;
    let bt = b.admin_token.as_str();
    let ta = a.tenant.id.to_string();
    let by_id: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v1/tenants/{ta}"), None),
        (
            Method::PATCH,
            format!("/api/v1/tenants/{ta}"),
            Some(json!({"name": "Stolen"})),
        ),
        (Method::GET, format!("/api/v1/users/{}", a.user), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{}", a.user),
            Some(json!({"display_name": "Stolen"})),
        ),
        (Method::DELETE, format!("/api/v1/tokens/{}", a.token), None),
        (Method::GET, format!("/api/v1/skills/{}", a.skill), None),
        (
            Method::PATCH,
            format!("/api/v1/skills/{}", a.skill),
            Some(json!({"name": "stolen"})),
        ),
        (Method::GET, format!("/api/v1/agents/{}", a.agent), None),
        (
            Method::PATCH,
            format!("/api/v1/agents/{}", a.agent),
            Some(json!({"display_name": "Stolen"})),
        ),
        (Method::GET, format!("/api/v1/queues/{}", a.queue), None),
        (
            Method::PATCH,
            format!("/api/v1/queues/{}", a.queue),
            Some(json!({"priority": 1})),
        ),
        (
            Method::GET,
            format!("/api/v1/customers/{}", a.customer),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/customers/{}", a.customer),
            Some(json!({"status": "former"})),
        ),
        (
            Method::GET,
            format!("/api/v1/customers/{}/status-history", a.customer),
            None,
        ),
        (Method::GET, format!("/api/v1/contacts/{}", a.contact), None),
        (
            Method::GET,
            format!("/api/v1/contacts/{}/events", a.contact),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/contacts/{}", a.contact),
            Some(json!({"notes": "stolen"})),
        ),
    ];
    for (method, path, body) in by_id {
        let r = s.call(method.clone(), &path, bt, body).await;
        assert_eq!(r.status.as_u16(), 404, "{method} {path}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
    }
    // A's objects are unchanged.
    let at = a.admin_token.as_str();
    assert_eq!(
        s.get(&format!("/api/v1/customers/{}", a.customer), at)
            .await
            .expect(200)
            .body["status"],
        "prospect"
    );
    assert_eq!(
        s.get(&format!("/api/v1/contacts/{}", a.contact), at)
            .await
            .expect(200)
            .body["notes"],
        ""
    );
    assert!(s.get("/api/v1/tokens", at).await.body["items"][0]["revoked_at"].is_null());

    // B's listings hold only B's rows.
    for path in [
        "/api/v1/users",
        "/api/v1/skills",
        "/api/v1/agents",
        "/api/v1/queues",
        "/api/v1/customers",
        "/api/v1/contacts",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/tenants",
    ] {
        let text = s.get(path, bt).await.expect(200).text;
        for id in [
            &a.user,
            &a.skill,
            &a.agent,
            &a.queue,
            &a.customer,
            &a.contact,
            &a.token,
            &ta,
        ] {
            assert!(!text.contains(id.as_str()), "{path} shows tenant A's {id}");
        }
    }
    // References into another tenant are refused as unknown, and nothing is created.
    let before = s.get("/api/v1/contacts", bt).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    s.post(
        "/api/v1/contacts",
        bt,
        json!({"channel": "chat", "queue_id": a.queue}),
    )
    .await
    .problem_for(422, "queue_id");
    s.post(
        "/api/v1/contacts",
        bt,
        json!({"channel": "chat", "queue_id": b.queue, "customer_id": a.customer}),
    )
    .await
    .problem_for(422, "customer_id");
    assert_eq!(
        s.get("/api/v1/contacts", bt).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        before
    );
    s.post("/api/v1/agents", bt, json!({"user_id": a.spare_user}))
        .await
        .problem_for(422, "user_id");
    s.post(
        "/api/v1/tokens",
        bt,
        json!({"name": "x", "user_id": a.user}),
    )
    .await
    .problem_for(422, "user_id");
    s.patch(
        &format!("/api/v1/agents/{}", b.agent),
        bt,
        json!({"skills": [{"skill_id": a.skill, "proficiency": 5}]}),
    )
    .await
    .problem_for(422, "skills[0].skill_id");
    s.post("/api/v1/queues", bt, json!({"name": "Q2", "routing_rules": {"overflow": {"queue_id": a.queue, "after_seconds": 30}}}))
        .await
        .problem_for(422, "routing_rules.overflow.queue_id");
    // Chat widgets: another tenant's is missing, and none points at
    // another tenant's queue.
    let widget = s
        .post(
            "/api/v1/chat/widgets",
            &a.admin_token,
            json!({"name": "A's chat", "queue_id": a.queue}),
        )
        .await
        .expect(201)
        .id();
    let w = format!("/api/v1/chat/widgets/{widget}");
    s.call(
        Method::PUT,
        &w,
        bt,
        Some(json!({"name": "Stolen", "queue_id": b.queue})),
    )
    .await
    .expect(404);
    s.call(Method::DELETE, &w, bt, None).await.expect(404);
    assert!(
        s.get("/api/v1/chat/widgets", bt).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.post(
        "/api/v1/chat/widgets",
        bt,
        json!({"name": "B", "queue_id": a.queue}),
    )
    .await
    .problem_for(422, "queue_id");
    // IMAP mailboxes: another tenant's is missing, and none takes mail
    // for another tenant's address.
    s.call(
        Method::PUT,
        "/api/v1/email/addresses/help@a.example",
        &a.admin_token,
        Some(json!({"queue_id": a.queue, "display_name": "A help"})),
    )
    .await
    .expect(200);
    let imap = json!({"address": "help@a.example", "host": "imap.a.example",
                      "username": "help", "password": "pw-a"});
    let mailbox = s
        .post("/api/v1/email/mailboxes", &a.admin_token, imap.clone())
        .await
        .expect(201)
        .id();
    let m = format!("/api/v1/email/mailboxes/{mailbox}");
    s.call(Method::PUT, &m, bt, Some(imap.clone()))
        .await
        .expect(404);
    s.call(Method::POST, &format!("{m}/poll"), bt, None)
        .await
        .expect(404);
    s.call(Method::DELETE, &m, bt, None).await.expect(404);
    assert!(
        s.get("/api/v1/email/mailboxes", bt).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.post("/api/v1/email/mailboxes", bt, imap)
        .await
        .problem_for(422, "address");
    // A token of tenant A works only in tenant A.
    let (_, a_agent) = s.user_with_token(&a.tenant, &[Role::Agent]).await;
    s.get(&format!("/api/v1/customers/{}", b.customer), &a_agent)
        .await
        .expect(404);
    s.finish().await;
}

#[tokio::test]
async fn tenants_cannot_see_each_other_on_sqlite() {
    isolation(TestServer::start().await).await;
}

#[tokio::test]
async fn tenants_cannot_see_each_other_on_postgres() {
    match TestServer::start_postgres().await {
        Some(s) => isolation(s).await,
        None => eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
    }
}
