//! The agent report and the interval report's occupancy, from a contact
//! handled through the API: time in each status comes from the agent's
//! status events, handled contacts from the contacts themselves.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use sb_model::Role;
use serde_json::{Value, json};

async fn pause() {
    tokio::time::sleep(Duration::from_millis(60)).await;
}

#[tokio::test]
async fn agent_report_and_occupancy_follow_what_agents_did() {
    let s = TestServer::start().await;
    let f = fixture(&s, "reports").await;
    let other = fixture(&s, "reports-other").await;
    let t = f.admin_token.as_str();
    let (user, agent_token) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    let agent = s
        .post(
            "/api/v1/agents",
            t,
            json!({"user_id": user.id, "display_name": "Rita \"R\" Reporter",
                   "skills": [{"skill_id": f.skill, "proficiency": 8}]}),
        )
        .await
        .expect(201)
        .id();
    let state = |body: Value| {
        let s = &s;
        let path = format!("/api/v1/agents/{agent}/state");
        let token = agent_token.clone();
        async move {
            s.call(Method::PUT, &path, &token, Some(body))
                .await
                .expect(200)
        }
    };

    // Away, then available: the fixture's waiting call rings, is answered,
    // completed and wrapped up.
    state(json!({"state": "away", "reason": "training"})).await;
    pause().await;
    let st = state(json!({"state": "available"})).await;
    pause().await;
    let reservation = match st.body["reservations"][0]["id"].as_u64() {
        Some(r) => r,
        None => {
            let st = s
                .get(&format!("/api/v1/agents/{agent}/status"), t)
                .await
                .expect(200);
            st.body["reservations"][0]["id"]
                .as_u64()
                .expect("a reservation")
        }
    };
    s.post(
        &format!("/api/v1/reservations/{reservation}/accept"),
        &agent_token,
        json!({}),
    )
    .await
    .expect(200);
    pause().await;
    s.post(
        &format!("/api/v1/contacts/{}/complete", f.contact),
        &agent_token,
        json!({}),
    )
    .await
    .expect(200);
    pause().await;
    s.post(
        &format!("/api/v1/contacts/{}/wrap-up", f.contact),
        &agent_token,
        json!({"disposition": "resolved"}),
    )
    .await
    .expect(200);
    pause().await;

    let today = tenant_today();
    let report = s
        .get(
            &format!("/api/v1/reports/agents?from={today}&to={today}"),
            t,
        )
        .await
        .expect(200)
        .body;
    let rows = report["items"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["agent_id"] == agent.as_str())
        .expect("the agent's row");
    assert_eq!(row["handled"], 1);
    assert!(row["aht_ms"].as_u64().unwrap() >= 100, "{row}");
    let ms = |k: &str| row["time_in_state"][k].as_i64().unwrap_or(0);
    assert!(
        ms("away") >= 50 && ms("available") >= 50 && ms("busy") >= 50 && ms("wrap_up") >= 50,
        "{row}"
    );
    assert_eq!(row["away_by_reason"]["training"].as_i64(), Some(ms("away")));
    let occ = row["occupancy_pct"].as_f64().unwrap();
    let want = 100.0 * (ms("busy") + ms("wrap_up")) as f64
        / (ms("available") + ms("busy") + ms("wrap_up")) as f64;
    assert!(
        (occ - want).abs() < 0.01 && occ > 0.0 && occ < 100.0,
        "{occ} vs {want}"
    );
    // The fixture's own agent never logged in: no time, no occupancy.
    let idle = rows
        .iter()
        .find(|r| r["agent_id"] == f.agent.as_str())
        .unwrap();
    assert_eq!(
        (idle["handled"].as_u64(), idle["occupancy_pct"].is_null()),
        (Some(0), true)
    );
    // Another tenant's report has only its own agent.
    let theirs = s
        .get(
            &format!("/api/v1/reports/agents?from={today}&to={today}"),
            &other.admin_token,
        )
        .await
        .expect(200)
        .body;
    let ids: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [other.agent.as_str()]);

    // As CSV: a header and one line per agent, the name quoted.
    let csv = s
        .raw(
            s.client
                .get(s.url(&format!(
                    "/api/v1/reports/agents?from={today}&to={today}&format=csv"
                )))
                .bearer_auth(t),
        )
        .await
        .expect(200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(lines[0].starts_with("agent,handled,aht_seconds,"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("\"Rita \"\"R\"\" Reporter\",1,")),
        "{}",
        csv.text
    );

    // The interval report carries the centre's occupancy for the interval.
    let iv = s
        .get(
            &format!("/api/v1/reports/intervals?from={today}&to={today}&interval=60"),
            t,
        )
        .await
        .expect(200)
        .body;
    let occ: Vec<f64> = iv["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["occupancy_pct"].as_f64())
        .collect();
    assert!(
        !occ.is_empty() && occ.iter().all(|o| *o > 0.0 && *o <= 100.0),
        "{iv}"
    );

    // Bad input is named; agents may not read reports.
    s.get("/api/v1/reports/agents?from=yesterday&to=2026-01-01", t)
        .await
        .problem_for(422, "from");
    s.get("/api/v1/reports/agents?from=2026-01-10&to=2026-01-01", t)
        .await
        .problem_for(422, "to");
    s.get(
        &format!("/api/v1/reports/agents?from={today}&to={today}&format=xml"),
        t,
    )
    .await
    .problem_for(422, "format");
    s.get(
        &format!("/api/v1/reports/agents?from={today}&to={today}"),
        &agent_token,
    )
    .await
    .expect(403);
    s.finish().await;
}
