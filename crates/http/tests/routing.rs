//! A contact's life through the API and the routing engine: reserved to a
//! free agent, accepted, completed, wrapped up with a disposition; rejects,
//! abandons and bad requests answered clearly without changing anything.

mod common;

use common::*;
use reqwest::Method;
use sb_model::Role;
use serde_json::json;

async fn agent_for(
    s: &TestServer,
    admin: &str,
    tenant: &sb_store::Tenant,
    skill: &str,
) -> (String, String) {
    let (user, token) = s.user_with_token(tenant, &[Role::Agent]).await;
    let agent = s
        .post(
            "/api/v1/agents",
            admin,
            json!({"user_id": user.id, "skills": [{"skill_id": skill, "proficiency": 8}]}),
        )
        .await
        .expect(201)
        .id();
    (agent, token)
}

#[tokio::test]
async fn a_contact_is_reserved_answered_completed_and_wrapped_up() {
    let s = TestServer::start().await;
    let f = fixture(&s, "route").await;
    let admin = f.admin_token.as_str();
    let (a1, t1) = agent_for(&s, admin, &f.tenant, &f.skill).await;
    let (_a2, t2) = agent_for(&s, admin, &f.tenant, &f.skill).await;

    // The fixture's voice contact waits: nobody is available yet.
    let q = s
        .get(&format!("/api/v1/queues/{}/status", f.queue), admin)
        .await
        .expect(200);
    assert_eq!(q.body["waiting"], 1);
    assert_eq!(q.body["next_contacts"][0], f.contact);

    // Agent 1 goes available and is reserved the waiting contact.
    let st = s
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{a1}/state"),
            &t1,
            Some(json!({"state": "available"})),
        )
        .await
        .expect(200);
    assert_eq!(st.body["status"], "busy", "{}", st.text);
    let reservation = st.body["reservations"][0]["id"].as_u64().unwrap();
    assert_eq!(st.body["reservations"][0]["contact_id"], f.contact);
    assert_eq!(st.body["reservations"][0]["eligible"], 1);
    let c = s
        .get(&format!("/api/v1/contacts/{}", f.contact), admin)
        .await
        .expect(200);
    assert_eq!(c.body["state"], "reserved");
    assert!(c.body["timeline"]["first_reserved_at"].is_i64());

    // Another agent cannot take it; the right one can.
    s.post(
        &format!("/api/v1/reservations/{reservation}/accept"),
        &t2,
        json!({}),
    )
    .await
    .expect(404);
    let c = s
        .post(
            &format!("/api/v1/reservations/{reservation}/accept"),
            &t1,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(c.body["state"], "active");
    assert_eq!(c.body["agent_id"], a1);
    assert!(c.body["timeline"]["answered_at"].is_i64());
    s.post(
        &format!("/api/v1/reservations/{reservation}/accept"),
        &t1,
        json!({}),
    )
    .await
    .expect(404);

    // Wrap-up cannot come before the end of the conversation.
    s.post(
        &format!("/api/v1/contacts/{}/wrap-up", f.contact),
        &t1,
        json!({"disposition": "resolved"}),
    )
    .await
    .expect(409);
    let c = s
        .post(
            &format!("/api/v1/contacts/{}/complete", f.contact),
            &t1,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(c.body["state"], "wrap_up");
    s.post(
        &format!("/api/v1/contacts/{}/complete", f.contact),
        &t1,
        json!({}),
    )
    .await
    .expect(409);
    let c = s
        .post(
            &format!("/api/v1/contacts/{}/wrap-up", f.contact),
            &t1,
            json!({"disposition": "resolved", "notes": "refund issued"}),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            c.body["state"].as_str(),
            c.body["disposition"].as_str(),
            c.body["notes"].as_str()
        ),
        (Some("ended"), Some("resolved"), Some("refund issued"))
    );
    for k in [
        "arrived_at",
        "queued_at",
        "first_reserved_at",
        "answered_at",
        "wrap_started_at",
        "wrap_ended_at",
        "ended_at",
    ] {
        assert!(c.body["timeline"][k].is_i64(), "timeline {k}: {}", c.text);
    }
    let q = s
        .get(&format!("/api/v1/queues/{}/status", f.queue), admin)
        .await
        .expect(200);
    assert_eq!(
        (q.body["answered"].as_u64(), q.body["waiting"].as_u64()),
        (Some(1), Some(0))
    );

    // A new contact goes straight to the free agent; a rejection puts it back.
    let c2 = s
        .post(
            "/api/v1/contacts",
            admin,
            json!({"channel": "voice", "queue_id": f.queue}),
        )
        .await
        .expect(201);
    assert_eq!(c2.body["state"], "reserved");
    let id2 = c2.id();
    let st = s
        .get(&format!("/api/v1/agents/{a1}/status"), &t1)
        .await
        .expect(200);
    let r2 = st.body["reservations"][0]["id"].as_u64().unwrap();
    let back = s
        .post(&format!("/api/v1/reservations/{r2}/reject"), &t1, json!({}))
        .await
        .expect(200);
    assert_eq!(back.body["state"], "queued");
    // The customer hangs up while waiting.
    let gone = s
        .post(&format!("/api/v1/contacts/{id2}/abandon"), admin, json!({}))
        .await
        .expect(200);
    assert_eq!(gone.body["state"], "abandoned");
    assert!(gone.body["timeline"]["abandoned_at"].is_i64());
    s.post(&format!("/api/v1/contacts/{id2}/abandon"), admin, json!({}))
        .await
        .expect(409);

    // The event log explains the reservation.
    let events = s
        .app
        .store()
        .list_events(f.tenant.id, 0, 1000)
        .await
        .unwrap();
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "reservation.created")
        .collect();
    assert!(created.len() >= 2);
    let why: serde_json::Value = serde_json::from_str(&created[0].payload).unwrap();
    assert_eq!(why["why"]["strategy"], "longest_idle");
    assert!(events.iter().any(|e| e.kind == "contact.answered"));
    s.finish().await;
}

#[tokio::test]
async fn bad_work_requests_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let f = fixture(&s, "badwork").await;
    let admin = f.admin_token.as_str();
    let (a1, t1) = agent_for(&s, admin, &f.tenant, &f.skill).await;
    let (a2, t2) = agent_for(&s, admin, &f.tenant, &f.skill).await;
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{a1}/state"),
        &t1,
        Some(json!({"state": "sleeping"})),
    )
    .await
    .problem_for(422, "state");
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{a1}/state"),
        &t1,
        Some(json!({"state": "away"})),
    )
    .await
    .problem_for(422, "reason");
    // An agent cannot change another agent's state; a team leader can.
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{a2}/state"),
        &t1,
        Some(json!({"state": "available"})),
    )
    .await
    .expect(403);
    let (_, lead) = s.user_with_token(&f.tenant, &[Role::TeamLeader]).await;
    let st = s
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{a2}/state"),
            &lead,
            Some(json!({"state": "away", "reason": "training"})),
        )
        .await
        .expect(200);
    assert_eq!(
        (st.body["status"].as_str(), st.body["reason"].as_str()),
        (Some("away"), Some("training"))
    );
    s.post("/api/v1/reservations/123/accept", &t1, json!({}))
        .await
        .expect(404);
    s.post("/api/v1/reservations/not-a-number/accept", &t1, json!({}))
        .await
        .expect(404);
    s.post(
        &format!("/api/v1/contacts/{}/complete", f.contact),
        &t1,
        json!({}),
    )
    .await
    .expect(409);
    s.post(
        &format!("/api/v1/contacts/{}/transfer", f.contact),
        &t1,
        json!({"queue_id": "0193a3b0-0000-7000-8000-000000000000"}),
    )
    .await
    .problem_for(422, "queue_id");
    // Trainers read but do not work contacts.
    let (_, trainer) = s.user_with_token(&f.tenant, &[Role::Trainer]).await;
    s.post(
        &format!("/api/v1/contacts/{}/abandon", f.contact),
        &trainer,
        json!({}),
    )
    .await
    .expect(403);
    s.get(&format!("/api/v1/queues/{}/status", f.queue), &trainer)
        .await
        .expect(200);
    // Another tenant sees nothing.
    let other = fixture(&s, "otherwork").await;
    s.get(&format!("/api/v1/agents/{a1}/status"), &other.admin_token)
        .await
        .expect(404);
    s.get(
        &format!("/api/v1/queues/{}/status", f.queue),
        &other.admin_token,
    )
    .await
    .expect(404);
    s.post(
        &format!("/api/v1/contacts/{}/abandon", f.contact),
        &other.admin_token,
        json!({}),
    )
    .await
    .expect(404);
    // The contact still waits, untouched.
    let c = s
        .get(&format!("/api/v1/contacts/{}", f.contact), admin)
        .await
        .expect(200);
    assert_eq!(c.body["state"], "queued");
    let _ = t2;
    s.finish().await;
}

#[tokio::test]
async fn live_events_stream_to_subscribers_of_the_tenant_only() {
    let s = TestServer::start().await;
    let f = fixture(&s, "live").await;
    let other = fixture(&s, "livex").await;
    let mut res = s
        .client
        .get(s.url("/api/v1/events/stream"))
        .bearer_auth(&f.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Give the subscription a moment to register, then make things happen in both tenants.
    let created = s
        .post(
            "/api/v1/contacts",
            &f.admin_token,
            json!({"channel": "chat", "queue_id": f.queue}),
        )
        .await
        .expect(201)
        .id();
    let foreign = s
        .post(
            "/api/v1/contacts",
            &other.admin_token,
            json!({"channel": "chat", "queue_id": other.queue}),
        )
        .await
        .expect(201)
        .id();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&created) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains("event: contact.created") || seen.contains("event: contact.queued"),
        "{seen}"
    );
    // A later event of this tenant arrives after the other tenant's, had it been sent here.
    let later = s
        .post(
            "/api/v1/contacts",
            &f.admin_token,
            json!({"channel": "chat", "queue_id": f.queue}),
        )
        .await
        .expect(201)
        .id();
    while !seen.contains(&later) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !seen.contains(&foreign),
        "another tenant's events never reach this stream"
    );
    // Gauges follow the queues.
    let m = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("switchboard_queue_waiting{"), "{m}");
    assert!(m.contains("switchboard_agents{"));
    s.finish().await;
}

#[tokio::test]
async fn conditions_and_requested_agents_pick_who_may_take_a_contact() {
    let s = TestServer::start().await;
    let f = fixture(&s, "cond").await;
    let t = f.admin_token.as_str();

    // A condition that does not parse is refused with where it went wrong.
    let bad = s
        .patch(
            &format!("/api/v1/queues/{}", f.queue),
            t,
            json!({"routing_rules": {"condition": "languages HAS"}}),
        )
        .await
        .expect(422);
    assert!(bad.text.contains("routing_rules.condition"), "{}", bad.text);
    assert!(bad.text.contains("at character"), "{}", bad.text);
    // Reserved or malformed attribute names are refused.
    let (user, _) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    let bad = s
        .post(
            "/api/v1/agents",
            t,
            json!({"user_id": user.id, "attributes": {"skills": "x", "Bad Name": "y"}}),
        )
        .await
        .expect(422);
    assert!(bad.text.contains("attributes.skills"), "{}", bad.text);
    assert!(bad.text.contains("attributes.Bad Name"), "{}", bad.text);

    // The queue serves billing-skilled agents who speak the caller's language.
    s.patch(
        &format!("/api/v1/queues/{}", f.queue),
        t,
        json!({"routing_rules": {"condition": "skills HAS 'billing' AND languages HAS task.language"}}),
    )
    .await
    .expect(200);
    let (en_user, en_token) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    let (fr_user, fr_token) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    let mut agents = Vec::new();
    for (u, langs) in [(&en_user, "en"), (&fr_user, "en,fr")] {
        agents.push(
            s.post(
                "/api/v1/agents",
                t,
                json!({"user_id": u.id, "skills": [{"skill_id": f.skill, "proficiency": 8}],
                       "attributes": {"languages": langs}}),
            )
            .await
            .expect(201)
            .id(),
        );
    }
    // The English-only agent goes available first, but the French caller
    // waits for the agent who speaks French.
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", agents[0]),
        &en_token,
        Some(json!({"state": "available"})),
    )
    .await
    .expect(200);
    let fr = s
        .post(
            "/api/v1/contacts",
            t,
            json!({"channel": "chat", "queue_id": f.queue, "attributes": {"language": "fr"}}),
        )
        .await
        .expect(201);
    assert_eq!(fr.body["state"], "queued", "{}", fr.text);
    assert_eq!(fr.body["attributes"]["language"], "fr");
    let st = s
        .call(
            Method::PUT,
            &format!("/api/v1/agents/{}/state", agents[1]),
            &fr_token,
            Some(json!({"state": "available"})),
        )
        .await
        .expect(200);
    assert_eq!(
        st.body["reservations"][0]["contact_id"], fr.body["id"],
        "{}",
        st.text
    );

    // A contact for a named agent waits for that agent only, here for a
    // second, then goes to anyone eligible.
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", agents[1]),
        &fr_token,
        Some(json!({"state": "away", "reason": "lunch"})),
    )
    .await
    .expect(200);
    s.patch(
        &format!("/api/v1/queues/{}", f.queue),
        t,
        json!({"routing_rules": {"condition": "skills HAS 'billing' AND languages HAS task.language",
                                 "requested_agent_seconds": 1}}),
    )
    .await
    .expect(200);
    let kept = s
        .post(
            "/api/v1/contacts",
            t,
            json!({"channel": "chat", "queue_id": f.queue, "attributes": {"language": "en"},
                   "requested_agent_id": agents[1]}),
        )
        .await
        .expect(201);
    assert_eq!(kept.body["requested_agent_id"], agents[1]);
    let en_status = s
        .get(&format!("/api/v1/agents/{}/status", agents[0]), &en_token)
        .await
        .expect(200);
    assert!(
        en_status.body["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["contact_id"] != kept.body["id"]),
        "{}",
        en_status.text
    );
    assert_eq!(kept.body["state"], "queued", "{}", kept.text);
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    let en_status = s
        .get(&format!("/api/v1/agents/{}/status", agents[0]), &en_token)
        .await
        .expect(200);
    assert!(
        en_status.body["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["contact_id"] == kept.body["id"]),
        "opened to all after a second: {}",
        en_status.text
    );
    s.post(
        "/api/v1/contacts",
        t,
        json!({"channel": "chat", "queue_id": f.queue, "requested_agent_id": "0190b5a8-0000-7000-8000-000000000000"}),
    )
    .await
    .expect(422);
    s.finish().await;
}
