//! The permission matrix, role by role: each role can do what its work
//! needs and gets 403 (changing nothing) for everything else.

mod common;

use common::*;
use reqwest::Method;
use sb_model::Role;
use serde_json::{Value, json};

use Role::{Admin as AD, Agent as AG, TeamLeader as TL, Trainer as TR, WorkforcePlanner as WP};

/// One API call and the roles that may make it (written out by hand, not
/// derived from the matrix under test).
struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [Role],
}

fn cases(f: &Fixture, role: Role) -> Vec<Case> {
    let r = role.as_str();
    let t = f.tenant.id.to_string();
    let c = |method: Method, path: String, body: Option<Value>, allowed: &'static [Role]| Case {
        method,
        path,
        body,
        allowed,
    };
    use Method as M;
    const ALL: &[Role] = &[AD, AG, TL, TR, WP];
    vec![
        c(M::GET, "/api/v1/tenants".into(), None, ALL),
        c(M::GET, format!("/api/v1/tenants/{t}"), None, ALL),
        c(
            M::PATCH,
            format!("/api/v1/tenants/{t}"),
            Some(json!({"name": format!("Renamed by {r}")})),
            &[AD],
        ),
        c(M::GET, "/api/v1/users".into(), None, &[AD, TL, TR, WP]),
        c(
            M::GET,
            format!("/api/v1/users/{}", f.user),
            None,
            &[AD, TL, TR, WP],
        ),
        c(
            M::POST,
            "/api/v1/users".into(),
            Some(
                json!({"email": format!("new-{r}@x.example"), "display_name": "New", "roles": ["agent"]}),
            ),
            &[AD],
        ),
        c(
            M::PATCH,
            format!("/api/v1/users/{}", f.user),
            Some(json!({"display_name": format!("Una {r}")})),
            &[AD],
        ),
        c(M::GET, "/api/v1/tokens".into(), None, &[AD]),
        c(
            M::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": format!("by {r}"), "user_id": f.user})),
            &[AD],
        ),
        c(
            M::DELETE,
            format!("/api/v1/tokens/{}", f.token),
            None,
            &[AD],
        ),
        c(M::GET, "/api/v1/skills".into(), None, ALL),
        c(M::GET, format!("/api/v1/skills/{}", f.skill), None, ALL),
        c(
            M::POST,
            "/api/v1/skills".into(),
            Some(json!({"name": format!("skill-{r}")})),
            &[AD],
        ),
        c(
            M::PATCH,
            format!("/api/v1/skills/{}", f.skill),
            Some(json!({"description": r})),
            &[AD],
        ),
        c(M::GET, "/api/v1/agents".into(), None, ALL),
        c(M::GET, format!("/api/v1/agents/{}", f.agent), None, ALL),
        c(
            M::POST,
            "/api/v1/agents".into(),
            Some(json!({"user_id": f.spare_user})),
            &[AD],
        ),
        c(
            M::PATCH,
            format!("/api/v1/agents/{}", f.agent),
            Some(json!({"skills": [{"skill_id": f.skill, "proficiency": 4}]})),
            &[AD, TL],
        ),
        c(
            M::PATCH,
            format!("/api/v1/agents/{}", f.agent),
            Some(json!({"capacity": {"voice": 1, "email": 2, "chat": 2, "sms": 2}})),
            &[AD],
        ),
        c(M::GET, "/api/v1/queues".into(), None, ALL),
        c(M::GET, format!("/api/v1/queues/{}", f.queue), None, ALL),
        c(
            M::POST,
            "/api/v1/queues".into(),
            Some(json!({"name": format!("queue-{r}")})),
            &[AD],
        ),
        c(
            M::PATCH,
            format!("/api/v1/queues/{}", f.queue),
            Some(json!({"priority": 40})),
            &[AD],
        ),
        c(M::GET, "/api/v1/customers".into(), None, ALL),
        c(
            M::GET,
            format!("/api/v1/customers/{}", f.customer),
            None,
            ALL,
        ),
        c(
            M::GET,
            format!("/api/v1/customers/{}/status-history", f.customer),
            None,
            ALL,
        ),
        c(
            M::POST,
            "/api/v1/customers".into(),
            Some(json!({"name": format!("Customer of {r}")})),
            &[AD, AG, TL],
        ),
        c(
            M::PATCH,
            format!("/api/v1/customers/{}", f.customer),
            Some(json!({"status": "customer"})),
            &[AD, AG, TL],
        ),
        c(M::GET, "/api/v1/contacts".into(), None, ALL),
        c(M::GET, format!("/api/v1/contacts/{}", f.contact), None, ALL),
        c(
            M::GET,
            format!("/api/v1/contacts/{}/events", f.contact),
            None,
            ALL,
        ),
        c(
            M::POST,
            "/api/v1/contacts".into(),
            Some(json!({"channel": "chat", "queue_id": f.queue})),
            &[AD, AG, TL],
        ),
        c(
            M::PATCH,
            format!("/api/v1/contacts/{}", f.contact),
            Some(json!({"notes": format!("noted by {r}")})),
            &[AD, AG, TL],
        ),
        c(M::GET, "/api/v1/audit".into(), None, &[AD]),
        c(M::GET, "/api/v1/business-hours".into(), None, ALL),
        c(
            M::POST,
            "/api/v1/business-hours".into(),
            Some(json!({"name": format!("Hours of {r}"), "hours": {}})),
            &[AD],
        ),
        c(M::GET, "/api/v1/webhooks".into(), None, &[AD]),
        c(
            M::GET,
            format!("/api/v1/agents/{}/today", f.agent),
            None,
            ALL,
        ),
        c(
            M::GET,
            "/api/v1/reports/intervals?from=2026-01-01&to=2026-01-02&interval=60".into(),
            None,
            &[AD, TL, TR, WP],
        ),
        c(
            M::POST,
            "/api/v1/webhooks".into(),
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["agent.status"]})),
            &[AD],
        ),
        c(M::GET, "/api/v1/voice/numbers".into(), None, &[AD]),
        c(
            M::PUT,
            "/api/v1/voice/numbers/+61290000001".into(),
            Some(json!({"queue_id": f.queue})),
            &[AD],
        ),
        c(M::GET, "/api/v1/voice/trunks".into(), None, &[AD]),
        c(M::GET, "/api/v1/voice/phones".into(), None, &[AD]),
        c(
            M::PUT,
            format!("/api/v1/voice/trunks/trunk-{r}"),
            Some(json!({"sources": ["192.0.2.0/24"]})),
            &[AD],
        ),
        c(
            M::PUT,
            format!("/api/v1/agents/{}/phone", f.agent),
            Some(json!({"username": format!("phone-{r}"), "password": "long-enough"})),
            &[AD],
        ),
        c(
            M::GET,
            format!("/api/v1/contacts/{}/recordings", f.contact),
            None,
            &[AD, TL, TR],
        ),
        c(M::GET, "/api/v1/email/mailboxes".into(), None, &[AD]),
        c(M::GET, "/api/v1/chat/widgets".into(), None, &[AD]),
        c(
            M::POST,
            "/api/v1/chat/widgets".into(),
            Some(json!({"name": format!("Chat {r}"), "queue_id": f.queue})),
            &[AD],
        ),
    ]
}

async fn check_role(role: Role) {
    let s = TestServer::start().await;
    let f = fixture(&s, "roles").await;
    let (_, token) = s.user_with_token(&f.tenant, &[role]).await;
    for case in cases(&f, role) {
        let audit_before = s.get("/api/v1/audit?limit=500", &f.admin_token).await.body["items"]
            .as_array()
            .unwrap()
            .len();
        let events_before = s
            .app
            .store()
            .list_events(f.tenant.id, 0, 10_000)
            .await
            .unwrap()
            .len();
        let reply = s
            .call(case.method.clone(), &case.path, &token, case.body.clone())
            .await;
        let what = format!("{role} {} {}", case.method, case.path);
        if case.allowed.contains(&role) {
            assert!(
                reply.status.is_success(),
                "{what} should be allowed, got {}: {}",
                reply.status,
                reply.text
            );
        } else {
            assert_eq!(
                reply.status.as_u16(),
                403,
                "{what} should be forbidden: {}",
                reply.text
            );
            assert_eq!(reply.content_type, "application/problem+json");
            assert_eq!(reply.body["type"], "/problems/forbidden");
            let audit_after = s.get("/api/v1/audit?limit=500", &f.admin_token).await.body["items"]
                .as_array()
                .unwrap()
                .len();
            let events_after = s
                .app
                .store()
                .list_events(f.tenant.id, 0, 10_000)
                .await
                .unwrap()
                .len();
            assert_eq!(
                (audit_before, events_before),
                (audit_after, events_after),
                "{what} changed something"
            );
        }
    }
    s.finish().await;
}

#[tokio::test]
async fn agent_can_do_what_it_should_and_nothing_more() {
    check_role(AG).await;
}

#[tokio::test]
async fn team_leader_can_do_what_it_should_and_nothing_more() {
    check_role(TL).await;
}

#[tokio::test]
async fn trainer_can_do_what_it_should_and_nothing_more() {
    check_role(TR).await;
}

#[tokio::test]
async fn workforce_planner_can_do_what_it_should_and_nothing_more() {
    check_role(WP).await;
}

#[tokio::test]
async fn admin_can_do_everything() {
    check_role(AD).await;
}

#[tokio::test]
async fn a_team_leader_allocating_duties_changes_skills_only() {
    let s = TestServer::start().await;
    let f = fixture(&s, "alloc").await;
    let (_, lead) = s.user_with_token(&f.tenant, &[TL]).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", f.agent),
            &lead,
            json!({"skills": [{"skill_id": f.skill, "proficiency": 9}], "display_name": "X"}),
        )
        .await
        .expect(403);
    assert_eq!(r.body["type"], "/problems/forbidden");
    let a = s
        .get(&format!("/api/v1/agents/{}", f.agent), &lead)
        .await
        .expect(200);
    assert_eq!(a.body["skills"][0]["proficiency"], 7, "nothing changed");
    let a = s
        .patch(
            &format!("/api/v1/agents/{}", f.agent),
            &lead,
            json!({"skills": [{"skill_id": f.skill, "proficiency": 9}]}),
        )
        .await
        .expect(200);
    assert_eq!(a.body["skills"][0]["proficiency"], 9);
    s.finish().await;
}

#[tokio::test]
async fn a_user_may_read_their_own_record_whatever_their_roles() {
    let s = TestServer::start().await;
    let f = fixture(&s, "self").await;
    let (me, token) = s.user_with_token(&f.tenant, &[AG]).await;
    s.get(&format!("/api/v1/users/{}", me.id), &token)
        .await
        .expect(200);
    s.get(&format!("/api/v1/users/{}", f.user), &token)
        .await
        .expect(403);
    let who = s.get("/api/v1/auth/me", &token).await.expect(200);
    assert_eq!(who.body["user"]["id"], me.id.to_string());
    assert!(
        who.body["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "contact_write")
    );
    assert!(
        !who.body["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "user_manage")
    );
    s.finish().await;
}
