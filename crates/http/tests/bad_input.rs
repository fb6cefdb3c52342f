//! Bad input from outside gets a clear problem document naming the field,
//! and changes nothing.

mod common;

use common::*;
use serde_json::json;

async fn counts(s: &TestServer, token: &str) -> (usize, usize, usize) {
    let n = |path: &'static str| async move {
        s.get(path, token).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .len()
    };
    (
        n("/api/v1/customers?limit=500").await,
        n("/api/v1/contacts?limit=500").await,
        n("/api/v1/audit?limit=500").await,
    )
}

#[tokio::test]
async fn malformed_and_invalid_bodies_name_the_field_and_write_nothing() {
    let s = TestServer::start().await;
    let f = fixture(&s, "bad").await;
    let t = f.admin_token.as_str();
    let before = counts(&s, t).await;

    // Malformed JSON: 400.
    let r = s
        .raw(
            s.client
                .post(s.url("/api/v1/customers"))
                .bearer_auth(t)
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
    let r = r.problem_for(400, "body");
    assert_eq!(r.body["type"], "/problems/malformed-request");
    s.raw(
        s.client
            .post(s.url("/api/v1/customers"))
            .bearer_auth(t)
            .header("content-type", "application/json")
            .body("{\"name\": \"A\"} trailing"),
    )
    .await
    .problem_for(400, "body");
    // Not JSON at all: 415.
    let r = s
        .raw(
            s.client
                .post(s.url("/api/v1/customers"))
                .bearer_auth(t)
                .header("content-type", "text/plain")
                .body("name=A"),
        )
        .await
        .expect(415);
    assert_eq!(r.content_type, "application/problem+json");
    // Unknown field, wrong type, missing field: 422 naming it.
    s.post(
        "/api/v1/customers",
        t,
        json!({"name": "A", "nickname": "B"}),
    )
    .await
    .problem_for(422, "nickname");
    s.post("/api/v1/customers", t, json!({"name": 42}))
        .await
        .problem_for(422, "name");
    s.post("/api/v1/customers", t, json!({"email": "a@b.co"}))
        .await
        .problem_for(422, "name");
    s.post(
        "/api/v1/customers",
        t,
        json!({"name": "A", "status": "vip"}),
    )
    .await
    .problem_for(422, "status");
    // Values with rules.
    s.post(
        "/api/v1/customers",
        t,
        json!({"name": "A", "email": "not-an-address"}),
    )
    .await
    .problem_for(422, "email");
    s.post(
        "/api/v1/customers",
        t,
        json!({"name": "A", "phone": "12345"}),
    )
    .await
    .problem_for(422, "phone");
    s.post("/api/v1/customers", t, json!({"name": "   "}))
        .await
        .problem_for(422, "name");
    s.post("/api/v1/customers", t, json!({"name": "x".repeat(201)}))
        .await
        .problem_for(422, "name");
    let r = s
        .post(
            "/api/v1/customers",
            t,
            json!({"name": "", "email": "bad", "phone": "bad"}),
        )
        .await
        .problem_for(422, "name");
    assert_eq!(
        r.body["errors"].as_array().unwrap().len(),
        3,
        "every field error is reported at once: {}",
        r.text
    );
    s.post(
        "/api/v1/contacts",
        t,
        json!({"channel": "fax", "queue_id": f.queue}),
    )
    .await
    .problem_for(422, "channel");
    s.post(
        "/api/v1/contacts",
        t,
        json!({"channel": "chat", "queue_id": "not-a-uuid"}),
    )
    .await
    .problem_for(422, "queue_id");
    s.post(
        "/api/v1/contacts",
        t,
        json!({"channel": "chat", "queue_id": f.queue, "priority": 101}),
    )
    .await
    .problem_for(422, "priority");
    s.post(
        "/api/v1/contacts",
        t,
        json!({"channel": "chat", "queue_id": f.queue, "priority": "high"}),
    )
    .await
    .problem_for(422, "priority");
    s.patch(
        &format!("/api/v1/contacts/{}", f.contact),
        t,
        json!({"notes": "x".repeat(20_001)}),
    )
    .await
    .problem_for(422, "notes");
    // Nested paths.
    s.patch(
        &format!("/api/v1/agents/{}", f.agent),
        t,
        json!({"skills": [{"skill_id": f.skill, "proficiency": 11}]}),
    )
    .await
    .problem_for(422, "skills[0].proficiency");
    s.patch(
        &format!("/api/v1/agents/{}", f.agent),
        t,
        json!({"capacity": {"voice": -1, "email": 1, "chat": 1, "sms": 1}}),
    )
    .await
    .problem_for(422, "capacity.voice");
    s.patch(
        &format!("/api/v1/agents/{}", f.agent),
        t,
        json!({"capacity": {"voice": 1}}),
    )
    .await
    .problem_for(422, "capacity.email");
    s.post("/api/v1/queues", t, json!({"name": "Q", "routing_rules": {"required_skills": [{"skill_id": f.skill, "min_proficiency": 0}]}}))
        .await
        .problem_for(422, "routing_rules.required_skills[0].min_proficiency");
    s.post(
        "/api/v1/queues",
        t,
        json!({"name": "Q", "service_level_target_pct": 150}),
    )
    .await
    .problem_for(422, "service_level_target_pct");
    s.post(
        "/api/v1/queues",
        t,
        json!({"name": "Q", "wrap_up_seconds": -5}),
    )
    .await
    .problem_for(422, "wrap_up_seconds");
    s.post("/api/v1/queues", t, json!({"name": "Q", "routing_rules": {"escalation": [{"after_seconds": 0, "required_skills": []}]}}))
        .await
        .problem_for(422, "routing_rules.escalation[0].after_seconds");
    s.post(
        "/api/v1/queues",
        t,
        json!({"name": "Q", "department": "x".repeat(81)}),
    )
    .await
    .problem_for(422, "department");
    s.post(
        "/api/v1/users",
        t,
        json!({"email": "z@z.example", "display_name": "Z", "roles": []}),
    )
    .await
    .problem_for(422, "roles");
    s.post(
        "/api/v1/users",
        t,
        json!({"email": "z@z.example", "display_name": "Z", "roles": ["boss"]}),
    )
    .await
    .problem_for(422, "roles[0]");
    s.post("/api/v1/users", t, json!({"email": "z@z.example", "display_name": "Z", "roles": ["agent"], "password": "short"})).await.problem_for(422, "password");
    s.patch(
        &format!("/api/v1/tenants/{}", f.tenant.id),
        t,
        json!({"time_zone": "Mars/Olympus"}),
    )
    .await
    .problem_for(422, "time_zone");
    // Query strings: 400 naming the parameter.
    s.get("/api/v1/customers?limit=abc", t)
        .await
        .problem_for(400, "limit");
    s.get("/api/v1/customers?limit=0", t)
        .await
        .problem_for(422, "limit");
    s.get("/api/v1/customers?limit=501", t)
        .await
        .problem_for(422, "limit");
    s.get("/api/v1/customers?cursor=garbage", t)
        .await
        .problem_for(422, "cursor");
    s.get("/api/v1/customers?colour=blue", t)
        .await
        .problem_for(400, "colour");
    s.get("/api/v1/contacts?channel=fax", t)
        .await
        .problem_for(400, "channel");

    assert_eq!(counts(&s, t).await, before, "no bad request wrote anything");
    // A department is kept, changed and cleared.
    let q = s
        .post(
            "/api/v1/queues",
            t,
            json!({"name": "Referrals", "department": " Accounts "}),
        )
        .await
        .expect(201);
    assert_eq!(q.body["department"], "Accounts");
    let path = format!("/api/v1/queues/{}", q.id());
    let q = s
        .patch(&path, t, json!({"department": "Care"}))
        .await
        .expect(200);
    assert_eq!(q.body["department"], "Care");
    let q = s
        .patch(&path, t, json!({"department": ""}))
        .await
        .expect(200);
    assert_eq!(q.body["department"], "");
    s.finish().await;
}

#[tokio::test]
async fn oversized_bodies_are_413_and_unknown_ids_are_404() {
    let s = TestServer::start().await;
    let f = fixture(&s, "big").await;
    let t = f.admin_token.as_str();
    let before = counts(&s, t).await;
    let big = json!({"name": "A", "external_ref": "x".repeat(70 * 1024)});
    let r = s.post("/api/v1/customers", t, big).await.expect(413);
    assert_eq!(r.content_type, "application/problem+json");
    // A chunked body with no length is cut off at the limit too.
    let chunks = futures_like_stream(80 * 1024);
    let r = s
        .raw(
            s.client
                .post(s.url("/api/v1/customers"))
                .bearer_auth(t)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(chunks)),
        )
        .await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.text);
    for path in [
        "/api/v1/customers/0193a3b0-0000-7000-8000-000000000000",
        "/api/v1/customers/not-a-uuid",
        "/api/v1/contacts/0193a3b0-0000-7000-8000-000000000000",
        "/api/v1/queues/0193a3b0-0000-7000-8000-000000000000",
        "/api/v1/agents/0193a3b0-0000-7000-8000-000000000000",
        "/api/v1/skills/0193a3b0-0000-7000-8000-000000000000",
        "/api/v1/users/0193a3b0-0000-7000-8000-000000000000",
        "/api/v1/no-such-thing",
    ] {
        let r = s.get(path, t).await.expect(404);
        assert_eq!(r.content_type, "application/problem+json", "{path}");
    }
    s.patch(
        "/api/v1/customers/0193a3b0-0000-7000-8000-000000000000",
        t,
        json!({"name": "X"}),
    )
    .await
    .expect(404);
    assert_eq!(counts(&s, t).await, before);
    s.finish().await;
}

/// A body stream of `n` bytes in 8 KiB chunks, without a Content-Length.
fn futures_like_stream(
    n: usize,
) -> impl tokio_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let mut chunks = vec![b"{\"name\": \"".to_vec()];
    let mut left = n;
    while left > 0 {
        let k = left.min(8192);
        chunks.push(vec![b'x'; k]);
        left -= k;
    }
    chunks.push(b"\"}".to_vec());
    tokio_stream::iter(chunks.into_iter().map(Ok))
}

#[tokio::test]
async fn conflicts_are_409_and_change_nothing() {
    let s = TestServer::start().await;
    let f = fixture(&s, "dup").await;
    let t = f.admin_token.as_str();
    let r = s
        .post("/api/v1/skills", t, json!({"name": "billing"}))
        .await
        .expect(409);
    assert_eq!(r.body["type"], "/problems/conflict");
    s.post("/api/v1/queues", t, json!({"name": "Support"}))
        .await
        .expect(409);
    s.post("/api/v1/agents", t, json!({"user_id": f.user}))
        .await
        .expect(409);
    let email = format!("u@{}.example", f.tenant.slug);
    s.post(
        "/api/v1/users",
        t,
        json!({"email": email, "display_name": "Dup", "roles": ["agent"]}),
    )
    .await
    .expect(409);
    assert_eq!(
        s.get("/api/v1/skills", t).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    s.finish().await;
}
