//! Business hours and holidays close queues in the tenant's time zone;
//! outbound webhooks deliver events, signed, and retry after a failure.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hmac::{KeyInit, Mac};
use reqwest::Method;
use sb_model::Role;
use serde_json::{Value, json};

fn all_week(open: &str, close: &str) -> Value {
    let day = json!([{"open": open, "close": close}]);
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day,
           "friday": day, "saturday": day, "sunday": day})
}

async fn queue_status(s: &TestServer, token: &str, queue: &str) -> Value {
    s.get(&format!("/api/v1/queues/{queue}/status"), token)
        .await
        .expect(200)
        .body
}

async fn new_contact(s: &TestServer, token: &str, queue: &str) -> Value {
    s.post(
        "/api/v1/contacts",
        token,
        json!({"channel": "voice", "queue_id": queue}),
    )
    .await
    .expect(201)
    .body
}

#[tokio::test]
async fn business_hours_and_holidays_open_and_close_a_queue() {
    hours_case(TestServer::start().await).await;
}

#[tokio::test]
async fn business_hours_on_postgres() {
    match TestServer::start_postgres().await {
        Some(s) => hours_case(s).await,
        None => eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
    }
}

async fn hours_case(s: TestServer) {
    let f = fixture(&s, "hours").await;
    let t = f.admin_token.as_str();

    // Hours with no openings at all: closed whenever it is.
    let hours = s
        .post(
            "/api/v1/business-hours",
            t,
            json!({"name": "Never", "hours": {}}),
        )
        .await
        .expect(201)
        .id();
    s.patch(
        &format!("/api/v1/queues/{}", f.queue),
        t,
        json!({"routing_rules": {"required_skills": [{"skill_id": f.skill, "min_proficiency": 5}],
               "business_hours_id": hours, "when_closed": {"action": "voicemail"}}}),
    )
    .await
    .expect(200);
    let st = queue_status(&s, t, &f.queue).await;
    assert_eq!(st["open"], false, "{st}");
    assert_eq!(
        st["waiting"], 1,
        "the caller already waiting keeps their place"
    );
    let c = new_contact(&s, t, &f.queue).await;
    assert_eq!(
        c["state"], "ended",
        "an arrival while closed goes to voicemail: {c}"
    );
    assert_eq!(queue_status(&s, t, &f.queue).await["arrived_closed"], 1);

    // Open round the clock, but today is a holiday: still closed.
    let today = tenant_today();
    s.patch(
        &format!("/api/v1/business-hours/{hours}"),
        t,
        json!({"hours": {"holidays": [{"date": today, "name": "Founders' Day"}],
                         "monday": [{"open": "00:00", "close": "24:00"}],
                         "tuesday": [{"open": "00:00", "close": "24:00"}],
                         "wednesday": [{"open": "00:00", "close": "24:00"}],
                         "thursday": [{"open": "00:00", "close": "24:00"}],
                         "friday": [{"open": "00:00", "close": "24:00"}],
                         "saturday": [{"open": "00:00", "close": "24:00"}],
                         "sunday": [{"open": "00:00", "close": "24:00"}]}}),
    )
    .await
    .expect(200);
    assert_eq!(queue_status(&s, t, &f.queue).await["open"], false);

    // Without the holiday the queue opens and arrivals wait as usual.
    s.patch(
        &format!("/api/v1/business-hours/{hours}"),
        t,
        json!({"hours": all_week("00:00", "24:00")}),
    )
    .await
    .expect(200);
    assert_eq!(queue_status(&s, t, &f.queue).await["open"], true);
    let c = new_contact(&s, t, &f.queue).await;
    assert_eq!(c["state"], "queued", "{c}");
    assert_eq!(queue_status(&s, t, &f.queue).await["waiting"], 2);

    // Bad input names the field and changes nothing.
    let bad = s
        .post(
            "/api/v1/business-hours",
            t,
            json!({"name": "Bad", "hours": {"monday": [{"open": "09:00", "close": "25:00"}],
                                             "holidays": [{"date": "2026-02-30"}]}}),
        )
        .await
        .expect(422);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["hours.monday[0].close", "hours.holidays[0].date"],
        "{}",
        bad.text
    );
    s.post(
        "/api/v1/business-hours",
        t,
        json!({"name": "Typo", "hours": {"mondays": []}}),
    )
    .await
    .expect(422);
    let unknown = s
        .patch(
            &format!("/api/v1/queues/{}", f.queue),
            t,
            json!({"routing_rules": {"business_hours_id": "0190b5a8-0000-7000-8000-000000000000"}}),
        )
        .await
        .expect(422);
    assert!(unknown.text.contains("routing_rules.business_hours_id"));
    // Hours a queue follows cannot be deleted.
    s.call(
        Method::DELETE,
        &format!("/api/v1/business-hours/{hours}"),
        t,
        None,
    )
    .await
    .expect(409);
    let listed = s.get("/api/v1/business-hours", t).await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // Agents may read hours but not change them; other tenants do not see them.
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.get(&format!("/api/v1/business-hours/{hours}"), &agent)
        .await
        .expect(200);
    s.post(
        "/api/v1/business-hours",
        &agent,
        json!({"name": "Mine", "hours": {}}),
    )
    .await
    .expect(403);
    let other = fixture(&s, "hours-other").await;
    s.get(
        &format!("/api/v1/business-hours/{hours}"),
        &other.admin_token,
    )
    .await
    .expect(404);
    s.finish().await;
}

/// A webhook receiver that fails its first request with 500.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
}

async fn receiver() -> Receiver {
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut v = seen.lock().unwrap();
                v.push((headers, body));
                if v.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        got,
    }
}

fn verify(secret: &str, headers: &axum::http::HeaderMap, body: &str) -> bool {
    let sig = headers["switchboard-signature"].to_str().unwrap();
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|r| r.split_once(",v1="))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
}

#[tokio::test]
async fn webhooks_deliver_signed_events_and_retry_after_a_failure() {
    webhooks_case(TestServer::start().await).await;
}

#[tokio::test]
async fn webhooks_on_postgres() {
    match TestServer::start_postgres().await {
        Some(s) => webhooks_case(s).await,
        None => eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
    }
}

async fn webhooks_case(s: TestServer) {
    let f = fixture(&s, "hooks").await;
    let t = f.admin_token.as_str();
    let r = receiver().await;

    let hook = s
        .post(
            "/api/v1/webhooks",
            t,
            json!({"url": r.url, "events": ["contact.created", "queue.*"]}),
        )
        .await
        .expect(201)
        .body;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let read = s
        .get(&format!("/api/v1/webhooks/{hook_id}"), t)
        .await
        .expect(200);
    assert!(
        read.body.get("secret").is_none(),
        "the secret is shown once"
    );
    assert_eq!(read.body["secret_hint"], secret[secret.len() - 4..]);

    let contact = new_contact(&s, t, &f.queue).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The first attempt fails (500); the retry is delivered.
    let mut waited = 0;
    loop {
        if s.get(&format!("/api/v1/webhooks/{hook_id}/deliveries"), t)
            .await
            .body["items"][0]["state"]
            == "delivered"
        {
            break;
        }
        waited += 1;
        assert!(waited < 200, "not delivered within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one failure, one retry");
    for (headers, body) in &got {
        assert!(verify(&secret, headers, body), "signature checks out");
        assert!(!verify("whsec_wrong", headers, body));
        assert_eq!(headers["switchboard-event"], "contact.created");
        let b: Value = serde_json::from_str(body).unwrap();
        assert_eq!(b["type"], "contact.created");
        assert_eq!(b["subject_id"], contact);
        assert_eq!(b["tenant_id"], f.tenant.id.to_string());
        assert_eq!(b["data"]["channel"], "voice");
    }
    assert_eq!(
        got[0].0["switchboard-delivery"], got[1].0["switchboard-delivery"],
        "the retry is the same delivery"
    );
    let deliveries = s
        .get(&format!("/api/v1/webhooks/{hook_id}/deliveries"), t)
        .await
        .expect(200)
        .body;
    let d = &deliveries["items"][0];
    assert_eq!(
        (d["attempts"].as_i64(), d["last_status"].as_i64()),
        (Some(2), Some(204))
    );
    assert_eq!(
        deliveries["items"].as_array().unwrap().len(),
        1,
        "only the subscribed kinds: {deliveries}"
    );

    // Switched off: nothing more is owed to it.
    s.patch(
        &format!("/api/v1/webhooks/{hook_id}"),
        t,
        json!({"active": false}),
    )
    .await
    .expect(200);
    new_contact(&s, t, &f.queue).await;
    let d = s
        .get(&format!("/api/v1/webhooks/{hook_id}/deliveries"), t)
        .await
        .body;
    assert_eq!(d["items"].as_array().unwrap().len(), 1);

    // Rotating shows the new secret once.
    let rotated = s
        .patch(
            &format!("/api/v1/webhooks/{hook_id}"),
            t,
            json!({"rotate_secret": true}),
        )
        .await
        .expect(200)
        .body;
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);

    // Bad input is named; agents and other tenants get nowhere.
    let bad = s
        .post(
            "/api/v1/webhooks",
            t,
            json!({"url": "ftp://example.com/x", "events": ["contact.created", "nothing.here"]}),
        )
        .await
        .expect(422);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["url", "events[1]"]);
    s.post("/api/v1/webhooks", t, json!({"url": r.url, "events": []}))
        .await
        .expect(422);
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.get("/api/v1/webhooks", &agent).await.expect(403);
    let other = fixture(&s, "hooks-other").await;
    s.get(&format!("/api/v1/webhooks/{hook_id}"), &other.admin_token)
        .await
        .expect(404);
    s.get(
        &format!("/api/v1/webhooks/{hook_id}/deliveries"),
        &other.admin_token,
    )
    .await
    .expect(404);
    s.call(
        Method::DELETE,
        &format!("/api/v1/webhooks/{hook_id}"),
        t,
        None,
    )
    .await
    .expect(204);
    s.get(&format!("/api/v1/webhooks/{hook_id}"), t)
        .await
        .expect(404);
    s.finish().await;
}
