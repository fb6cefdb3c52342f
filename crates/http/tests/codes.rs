//! Reason and disposition codes: admins keep the lists; while a list has
//! active codes, agents must choose from it; tenants keep their own lists.

mod common;

use common::*;
use reqwest::Method;
use sb_model::Role;
use serde_json::json;

#[tokio::test]
async fn codes_are_kept_by_admins_and_enforced_on_agents() {
    codes_case(TestServer::start().await).await;
}

#[tokio::test]
async fn codes_on_postgres() {
    match TestServer::start_postgres().await {
        Some(s) => codes_case(s).await,
        None => eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
    }
}

async fn state(s: &TestServer, token: &str, agent: &str) -> serde_json::Value {
    s.get(&format!("/api/v1/agents/{agent}/status"), token)
        .await
        .expect(200)
        .body
}

async fn codes_case(s: TestServer) {
    let f = fixture(&s, "codes").await;
    let other = fixture(&s, "codes-other").await;
    let t = f.admin_token.as_str();
    let (_, agent_token) = s.user_with_token(&f.tenant, &[Role::Agent]).await;

    // Bad input names the field and stores nothing.
    for (body, field) in [
        (
            json!({"kind": "mood", "code": "lunch", "label": "Lunch"}),
            "kind",
        ),
        (
            json!({"kind": "reason", "code": "Lunch Break", "label": "Lunch"}),
            "code",
        ),
        (
            json!({"kind": "reason", "code": "-x", "label": "Lunch"}),
            "code",
        ),
        (
            json!({"kind": "reason", "code": "lunch", "label": "  "}),
            "label",
        ),
    ] {
        s.post("/api/v1/codes", t, body)
            .await
            .problem_for(422, field);
    }
    assert_eq!(
        s.get("/api/v1/codes", t).await.expect(200).body["items"],
        json!([])
    );

    // While there are no codes, reasons are free text.
    let away = |reason: &str| json!({"state": "away", "reason": reason});
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", f.agent),
        t,
        Some(away("nap")),
    )
    .await
    .expect(200);

    let lunch = s
        .post(
            "/api/v1/codes",
            t,
            json!({"kind": "reason", "code": "lunch", "label": "Lunch"}),
        )
        .await
        .expect(201);
    assert_eq!(
        (lunch.body["kind"].as_str(), lunch.body["active"].as_bool()),
        (Some("reason"), Some(true))
    );
    let lunch = lunch.id();
    s.post(
        "/api/v1/codes",
        t,
        json!({"kind": "reason", "code": "break", "label": "Break"}),
    )
    .await
    .expect(201);
    s.post(
        "/api/v1/codes",
        t,
        json!({"kind": "reason", "code": "lunch", "label": "Again"}),
    )
    .await
    .expect(409);
    s.post(
        "/api/v1/codes",
        t,
        json!({"kind": "disposition", "code": "resolved", "label": "Resolved"}),
    )
    .await
    .expect(201);

    // Agents read the lists but cannot change them.
    s.post(
        "/api/v1/codes",
        &agent_token,
        json!({"kind": "reason", "code": "nap", "label": "Nap"}),
    )
    .await
    .expect(403);
    let reasons = s
        .get("/api/v1/codes?kind=reason", &agent_token)
        .await
        .expect(200)
        .body;
    let names: Vec<&str> = reasons["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["break", "lunch"]);
    s.get("/api/v1/codes?kind=mood", t)
        .await
        .problem_for(422, "kind");

    // Now a reason outside the list is refused and the state stays as it was.
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", f.agent),
        t,
        Some(away("gym")),
    )
    .await
    .problem_for(422, "reason");
    assert_eq!(state(&s, t, &f.agent).await["reason"], "nap");
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", f.agent),
        t,
        Some(away("lunch")),
    )
    .await
    .expect(200);
    assert_eq!(state(&s, t, &f.agent).await["reason"], "lunch");

    // A retired code can no longer be chosen but is still listed on request.
    let r = s
        .patch(
            &format!("/api/v1/codes/{lunch}"),
            t,
            json!({"active": false, "label": "Lunch (old)"}),
        )
        .await
        .expect(200);
    assert_eq!(
        (r.body["active"].as_bool(), r.body["label"].as_str()),
        (Some(false), Some("Lunch (old)"))
    );
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", f.agent),
        t,
        Some(away("lunch")),
    )
    .await
    .problem_for(422, "reason");
    assert_eq!(
        s.get("/api/v1/codes?kind=reason", t).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get("/api/v1/codes?kind=reason&retired=true", t)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    s.patch(&format!("/api/v1/codes/{lunch}"), t, json!({"label": ""}))
        .await
        .problem_for(422, "label");
    s.patch("/api/v1/codes/nonsense", t, json!({"active": true}))
        .await
        .expect(404);

    // Dispositions likewise.
    let contact = format!("/api/v1/contacts/{}", f.contact);
    s.patch(&contact, t, json!({"disposition": "sold a yacht"}))
        .await
        .problem_for(422, "disposition");
    assert!(s.get(&contact, t).await.body["disposition"].is_null());
    s.patch(&contact, t, json!({"disposition": "resolved"}))
        .await
        .expect(200);
    // Wrapping up needs one of them while the list is in use.
    let wrap = format!("/api/v1/contacts/{}/wrap-up", f.contact);
    s.post(&wrap, t, json!({"notes": "no code"}))
        .await
        .problem_for(422, "disposition");
    assert_eq!(s.get(&contact, t).await.body["notes"], "");

    // Another tenant neither sees these lists nor is bound by them.
    let o = other.admin_token.as_str();
    assert_eq!(s.get("/api/v1/codes", o).await.body["items"], json!([]));
    s.patch(
        &format!("/api/v1/codes/{lunch}"),
        o,
        json!({"active": true}),
    )
    .await
    .expect(404);
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", other.agent),
        o,
        Some(away("gym")),
    )
    .await
    .expect(200);

    // Every change is audited.
    let audit = s
        .get(&format!("/api/v1/audit?object_id={lunch}"), t)
        .await
        .expect(200)
        .body;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"code.created") && actions.contains(&"code.updated"),
        "{actions:?}"
    );
    // The audit log reads newest first, one action at a time, page by page.
    let page = s
        .get("/api/v1/audit?action=code.created&order=newest&limit=2", t)
        .await
        .expect(200)
        .body;
    let codes: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["details"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["resolved", "break"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = s
        .get(
            &format!("/api/v1/audit?action=code.created&order=newest&limit=2&cursor={cursor}"),
            t,
        )
        .await
        .expect(200)
        .body;
    let codes: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["details"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["lunch"]);
    s.get("/api/v1/audit?order=sideways", t)
        .await
        .problem_for(422, "order");
    s.finish().await;
}
