//! Booked callbacks: booked from a contact, released when due as a voice
//! contact kept for the agent, cancelled, refused clearly on bad input,
//! and kept apart between tenants.

mod common;

use std::time::Duration;

use common::*;
use sb_model::Role;
use serde_json::{Value, json};

async fn agent(s: &TestServer, f: &Fixture, name: &str) -> (String, String) {
    let (user, token) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    let id = s
        .post(
            "/api/v1/agents",
            &f.admin_token,
            json!({"user_id": user.id, "display_name": name,
                   "skills": [{"skill_id": f.skill, "proficiency": 8}]}),
        )
        .await
        .expect(201)
        .id();
    (id, token)
}

fn in_ms(ms: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_millis(ms))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn callbacks_are_booked_released_when_due_and_cancelled() {
    callbacks_case(TestServer::start().await).await;
}

#[tokio::test]
async fn callbacks_on_postgres() {
    match TestServer::start_postgres().await {
        Some(s) => callbacks_case(s).await,
        None => eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
    }
}

async fn callbacks_case(s: TestServer) {
    let f = fixture(&s, "callbacks").await;
    let other = fixture(&s, "callbacks-other").await;
    let t = f.admin_token.as_str();
    let (me, my_token) = agent(&s, &f, "Cal Back").await;
    let (_colleague, their_token) = agent(&s, &f, "Col League").await;
    let count = |body: &Value| body["items"].as_array().unwrap().len();

    // Bad input names the field and books nothing.
    for (body, field) in [
        (
            json!({"contact_id": f.contact, "due_at": "tomorrow"}),
            "due_at",
        ),
        (
            json!({"contact_id": f.contact, "due_at": in_ms(-3_600_000)}),
            "due_at",
        ),
        (
            json!({"contact_id": f.contact, "due_at": in_ms(400 * 86_400_000)}),
            "due_at",
        ),
        (
            json!({"contact_id": f.contact, "due_at": in_ms(60_000), "agent_id": f.agent}),
            "agent_id",
        ),
        (
            json!({"contact_id": f.contact, "due_at": in_ms(60_000), "queue_id": uuid::Uuid::nil()}),
            "queue_id",
        ),
        (
            json!({"due_at": in_ms(60_000), "queue_id": f.queue}),
            "customer_id",
        ),
        (
            json!({"contact_id": uuid::Uuid::nil(), "due_at": in_ms(60_000)}),
            "contact_id",
        ),
        (
            json!({"contact_id": f.contact, "due_at": in_ms(60_000), "notes": "x".repeat(2_001)}),
            "notes",
        ),
    ] {
        s.post("/api/v1/callbacks", &my_token, body)
            .await
            .problem_for(422, field);
    }
    assert_eq!(
        count(&s.get("/api/v1/callbacks", t).await.expect(200).body),
        0
    );

    // A local time is read in the tenant's time zone.
    let later =
        jiff::Timestamp::now().in_tz("Australia/Sydney").unwrap() + jiff::Span::new().hours(2);
    let local = later.datetime().strftime("%Y-%m-%dT%H:%M").to_string();
    let want = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", &local)
        .unwrap()
        .in_tz("Australia/Sydney")
        .unwrap()
        .timestamp()
        .as_millisecond();
    let far = s
        .post(
            "/api/v1/callbacks",
            &my_token,
            json!({"contact_id": f.contact, "due_at": local}),
        )
        .await
        .expect(201);
    assert_eq!(far.body["due_at"].as_i64(), Some(want));
    let far = far.id();

    // Cancelling: only the booker (or a team leader), only once.
    s.post(
        &format!("/api/v1/callbacks/{far}/cancel"),
        &their_token,
        json!({}),
    )
    .await
    .expect(404);
    s.post(
        &format!("/api/v1/callbacks/{far}/cancel"),
        &other.admin_token,
        json!({}),
    )
    .await
    .expect(404);
    let c = s
        .post(
            &format!("/api/v1/callbacks/{far}/cancel"),
            &my_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(c.body["state"], "cancelled");
    s.post(
        &format!("/api/v1/callbacks/{far}/cancel"),
        &my_token,
        json!({}),
    )
    .await
    .expect(409);

    // A personal callback due in a moment.
    let booked = s
        .post(
            "/api/v1/callbacks",
            &my_token,
            json!({"contact_id": f.contact, "due_at": in_ms(300), "agent_id": me,
                   "notes": "Call about the refund after 3pm"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(
        (booked["state"].as_str(), booked["agent_id"].as_str()),
        (Some("pending"), Some(me.as_str()))
    );
    let mine = s
        .get("/api/v1/callbacks?state=pending", &my_token)
        .await
        .expect(200)
        .body;
    assert_eq!(count(&mine), 1);
    assert_eq!(
        count(&s.get("/api/v1/callbacks", &their_token).await.body),
        0
    );
    assert_eq!(
        count(&s.get("/api/v1/callbacks", &other.admin_token).await.body),
        0
    );
    s.get("/api/v1/callbacks?state=soon", t)
        .await
        .problem_for(422, "state");

    let mut released = None;
    for _ in 0..100 {
        let r = s
            .get("/api/v1/callbacks?state=released", t)
            .await
            .expect(200)
            .body;
        if count(&r) == 1 {
            released = Some(r["items"][0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let released = released.expect("released within five seconds");
    let contact = s
        .get(
            &format!(
                "/api/v1/contacts/{}",
                released["contact_id"].as_str().unwrap()
            ),
            t,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            contact["channel"].as_str(),
            contact["direction"].as_str(),
            contact["customer_id"].as_str(),
            contact["queue_id"].as_str(),
            contact["requested_agent_id"].as_str(),
            contact["notes"].as_str(),
        ),
        (
            Some("voice"),
            Some("outbound"),
            Some(f.customer.as_str()),
            Some(f.queue.as_str()),
            Some(me.as_str()),
            Some("Call about the refund after 3pm"),
        ),
        "{contact}"
    );
    assert!(
        !["ended", "abandoned"].contains(&contact["state"].as_str().unwrap()),
        "{contact}"
    );

    // The contact it was booked from shows the booking, the cancelled one and the release.
    let events = s
        .get(&format!("/api/v1/contacts/{}/events", f.contact), t)
        .await
        .expect(200)
        .body;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["callback.booked", "callback.cancelled", "callback.released"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    s.finish().await;
}
