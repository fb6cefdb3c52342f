//! Planning through the API: a forecast and the agents it needs, learnt
//! from uploaded history or from the store's own contacts; bad requests
//! named and refused.

mod common;

use common::*;
use sb_model::Role;
use serde_json::json;

/// Three weeks of 30-minute history from Monday 2026-11-02.
fn three_weeks() -> String {
    three_weeks_from(jiff::civil::date(2026, 11, 2))
}

/// Three weeks of 30-minute history from `first` (a Monday).
fn three_weeks_from(first: jiff::civil::Date) -> String {
    let mut out = String::from("interval_start,contacts,aht_seconds\n");
    for day in 0..21i64 {
        let weekday = [1.0, 0.95, 0.9, 0.9, 0.85, 0.45, 0.3][(day % 7) as usize];
        let date = first + jiff::Span::new().days(day);
        for slot in 0..48i64 {
            let h = slot as f64 / 2.0;
            let m = ((-((h - 10.5) / 2.5).powi(2)).exp() * 80.0 + 1.0) * weekday;
            let c = (m + ((day * 7 + slot) % 5) as f64 - 2.0).round().max(0.0);
            out.push_str(&format!(
                "{date}T{:02}:{:02},{c},240\n",
                slot / 2,
                (slot % 2) * 30
            ));
        }
    }
    out
}

#[tokio::test]
async fn a_plan_forecasts_contacts_and_the_agents_they_need() {
    let s = TestServer::start().await;
    let f = fixture(&s, "plan").await;
    let t = f.admin_token.as_str();

    let plan = s
        .post(
            "/api/v1/wfm/plan",
            t,
            json!({"from": "2026-11-23", "days": 2, "interval": 30, "history_csv": three_weeks(),
                   "sl_target": 80, "sl_seconds": 20, "shrinkage": 30}),
        )
        .await
        .expect(200)
        .body;
    let iv = plan["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 96);
    assert_eq!(iv[0]["local_start"], "2026-11-23T00:00");
    assert_eq!(iv[95]["local_start"], "2026-11-24T23:30");
    assert_eq!(plan["history"].as_array().unwrap().len(), 7 * 48);
    assert_eq!(plan["history_days"], 21);
    assert!(
        plan["accuracy"]["wape"].as_f64().unwrap()
            < plan["accuracy"]["naive_wape"].as_f64().unwrap() + 0.05
    );
    // Monday 10:30 is the peak: more contacts and agents than 03:00.
    let peak = &iv[21];
    let night = &iv[6];
    assert!(peak["contacts"].as_f64().unwrap() > 50.0, "{peak}");
    assert!(
        peak["agents"].as_u64().unwrap() > night["agents"].as_u64().unwrap() + 5,
        "{peak} {night}"
    );
    // Positions allow for 30 % shrinkage; the target is met.
    let (agents, positions) = (
        peak["agents"].as_u64().unwrap(),
        peak["positions"].as_u64().unwrap(),
    );
    assert_eq!(positions, ((agents as f64 / 0.7) - 1e-9).ceil() as u64);
    assert!(peak["service_level"].as_f64().unwrap() >= 0.8);
    assert!((peak["aht_seconds"].as_f64().unwrap() - 240.0).abs() < 1e-9);

    // Erlang A needs no more agents than Erlang C.
    let a = s
        .post(
            "/api/v1/wfm/plan",
            t,
            json!({"from": "2026-11-23", "days": 1, "history_csv": three_weeks(),
                   "model": "erlang-a", "patience_seconds": 60}),
        )
        .await
        .expect(200)
        .body;
    assert!(a["intervals"][21]["agents"].as_u64().unwrap() <= agents);

    // From the store's own contacts: two weeks that hold only today's.
    let today = tenant_today();
    let tomorrow = today
        .parse::<jiff::civil::Date>()
        .unwrap()
        .tomorrow()
        .unwrap()
        .to_string();
    let own = s
        .post(
            "/api/v1/wfm/plan",
            t,
            json!({"from": tomorrow, "days": 1, "history_weeks": 2}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(own["intervals"].as_array().unwrap().len(), 48);
    assert_eq!(own["history_days"], 14);
    let seen: f64 = own["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["contacts"].as_f64().unwrap())
        .sum();
    assert_eq!(seen, 1.0, "the fixture's one contact today");

    // Bad requests are named.
    for (body, field) in [
        (json!({"from": "2026-11-23", "interval": 20}), "interval"),
        (json!({"from": "2026-11-23", "days": 0}), "days"),
        (json!({"from": "23/11/2026"}), "from"),
        (
            json!({"from": "2026-11-23", "history_weeks": 1}),
            "history_weeks",
        ),
        (
            json!({"from": "2026-11-23", "history_csv": "interval_start,contacts,aht_seconds\n2026-11-02T08:00,5,240\n"}),
            "history_csv",
        ),
        (
            json!({"from": "2026-11-23", "history_csv": "interval_start,contacts,aht_seconds\n2026-11-02T08:00,-5,240\n"}),
            "history_csv",
        ),
        (
            json!({"from": "2026-11-23", "history_csv": "when,calls\n"}),
            "history_csv",
        ),
        (
            json!({"from": "2026-11-23", "sl_target": 150, "sl_seconds": 20}),
            "sl_target",
        ),
        (
            json!({"from": "2026-11-23", "model": "erlang-a"}),
            "patience_seconds",
        ),
        (
            json!({"from": "2026-11-23", "queue_id": uuid::Uuid::nil()}),
            "queue_id",
        ),
    ] {
        s.post("/api/v1/wfm/plan", t, body)
            .await
            .problem_for(422, field);
    }
    // Eight weeks of 15-minute history is over the API's usual 64 KiB; a
    // plan accepts it.
    let mut big = String::from("interval_start,contacts,aht_seconds\n");
    for day in 0..56i64 {
        let date = jiff::civil::date(2026, 9, 28) + jiff::Span::new().days(day);
        for q in 0..96 {
            big.push_str(&format!(
                "{date}T{:02}:{:02},{},245.5\n",
                q / 4,
                (q % 4) * 15,
                3 + q % 7
            ));
        }
    }
    assert!(big.len() > 64 * 1024);
    let p = s
        .post(
            "/api/v1/wfm/plan",
            t,
            json!({"from": "2026-11-23", "days": 1, "interval": 15, "history_csv": big}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            p["intervals"].as_array().unwrap().len(),
            p["history_days"].as_u64()
        ),
        (96, Some(56))
    );
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.post("/api/v1/wfm/plan", &agent, json!({"from": "2026-11-23"}))
        .await
        .expect(403);
    let (_, planner) = s
        .user_with_token(&f.tenant, &[Role::WorkforcePlanner])
        .await;
    s.post(
        "/api/v1/wfm/plan",
        &planner,
        json!({"from": "2026-11-23", "days": 1, "history_csv": three_weeks()}),
    )
    .await
    .expect(200);
    s.finish().await;
}

#[tokio::test]
async fn plans_follow_the_local_clock_across_daylight_saving_changes() {
    let s = TestServer::start().await;
    let f = fixture(&s, "dst").await;
    let t = f.admin_token.as_str();
    let changed = |plan: &serde_json::Value| -> Vec<(String, String)> {
        plan["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| {
                i["clock_change"].as_str().map(|c| {
                    (
                        i["local_start"].as_str().unwrap()[11..].to_owned(),
                        c.to_owned(),
                    )
                })
            })
            .collect()
    };
    // Sydney: on Sunday 2026-10-04 the clocks go from 02:00 to 03:00.
    let plan = s
        .post(
            "/api/v1/wfm/plan",
            t,
            json!({"from": "2026-10-04", "days": 2, "history_csv": three_weeks_from(jiff::civil::date(2026, 9, 7))}),
        )
        .await
        .expect(200)
        .body;
    let iv = plan["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 96, "every local day keeps its 48 intervals");
    let skipped = changed(&plan);
    assert_eq!(
        skipped,
        [
            ("02:00".to_owned(), "skipped".to_owned()),
            ("02:30".to_owned(), "skipped".to_owned())
        ]
    );
    for i in iv.iter().filter(|i| i["clock_change"] == "skipped") {
        assert_eq!(
            (i["contacts"].as_f64(), i["agents"].as_u64()),
            (Some(0.0), Some(0)),
            "{i}"
        );
    }
    assert!(
        iv[48 + 4]["clock_change"].is_null(),
        "the next day is ordinary"
    );

    // Auckland: on Sunday 2026-04-05 the clocks go back from 03:00 to 02:00.
    s.patch(
        &format!("/api/v1/tenants/{}", f.tenant.id),
        t,
        json!({"time_zone": "Pacific/Auckland"}),
    )
    .await
    .expect(200);
    let plan = s
        .post(
            "/api/v1/wfm/plan",
            t,
            json!({"from": "2026-04-05", "days": 1, "history_csv": three_weeks_from(jiff::civil::date(2026, 3, 9))}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(plan["intervals"].as_array().unwrap().len(), 48);
    assert_eq!(
        changed(&plan),
        [
            ("02:00".to_owned(), "repeated".to_owned()),
            ("02:30".to_owned(), "repeated".to_owned())
        ]
    );
    let repeated = &plan["intervals"][4];
    assert!(
        repeated["contacts"].as_f64().unwrap() > 0.0 && repeated["agents"].as_u64().unwrap() > 0,
        "{repeated}"
    );
    s.finish().await;
}

#[tokio::test]
async fn shifts_are_scheduled_to_cover_a_requirement() {
    let s = TestServer::start().await;
    let f = fixture(&s, "shifts").await;
    let t = f.admin_token.as_str();
    let required: Vec<u32> = (0..24)
        .map(|h| if (9..17).contains(&h) { 2 } else { 0 })
        .collect();
    let day = json!({"name": "day", "minutes": 480, "starts": ["08:00", "09:00"]});
    let out = s
        .post(
            "/api/v1/wfm/schedule",
            t,
            json!({"interval": 60, "required": required, "shifts": [day]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            out["total"].as_u64(),
            out["lower_bound"].as_u64(),
            out["over"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(
        out["shifts"],
        json!([{"day": 0, "shift": "day", "start": "09:00", "end": "17:00", "minutes": 480, "breaks": [], "agents": 2}])
    );
    let coverage: Vec<u64> = out["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        coverage,
        required.iter().map(|&r| u64::from(r)).collect::<Vec<_>>()
    );

    for (body, field) in [
        (
            json!({"interval": 60, "required": required, "shifts": [{"name": "x", "minutes": 480, "starts": ["25:00"]}]}),
            "shifts[0].starts[0]",
        ),
        (
            json!({"interval": 7, "required": required, "shifts": [day]}),
            "interval",
        ),
        (
            json!({"interval": 60, "required": [1, 2, 3], "shifts": [day]}),
            "required",
        ),
        (
            json!({"interval": 60, "required": required, "shifts": [{"name": "x", "minutes": 1500, "starts": ["08:00"]}]}),
            "shifts",
        ),
    ] {
        s.post("/api/v1/wfm/schedule", t, body)
            .await
            .problem_for(422, field);
    }
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.post(
        "/api/v1/wfm/schedule",
        &agent,
        json!({"interval": 60, "required": required, "shifts": [day]}),
    )
    .await
    .expect(403);
    s.finish().await;
}

#[tokio::test]
async fn intraday_shows_today_so_far_against_the_forecast() {
    let s = TestServer::start().await;
    let f = fixture(&s, "intraday").await;
    let t = f.admin_token.as_str();
    s.call(
        reqwest::Method::PUT,
        &format!("/api/v1/agents/{}/state", f.agent),
        t,
        Some(json!({"state": "available"})),
    )
    .await
    .expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let day = s
        .get("/api/v1/wfm/intraday?interval=30&history_weeks=2", t)
        .await
        .expect(200)
        .body;
    let iv = day["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 48);
    let now = day["now_local"].as_str().unwrap();
    let minute: usize =
        now[11..13].parse::<usize>().unwrap() * 60 + now[14..16].parse::<usize>().unwrap();
    let current = minute / 30;
    // The fixture's contact arrived in this interval; the agent is on now.
    assert_eq!(iv[current]["actual"].as_f64(), Some(1.0), "{}", iv[current]);
    assert!(
        iv[current]["staffed"].as_f64().unwrap() > 0.0,
        "{}",
        iv[current]
    );
    for (k, i) in iv.iter().enumerate() {
        if k < current {
            assert_eq!(
                (i["actual"].as_f64(), i["staffed"].as_f64()),
                (Some(0.0), Some(0.0)),
                "{k}: {i}"
            );
        } else if k > current {
            assert!(i["actual"].is_null() && i["staffed"].is_null(), "{k}: {i}");
        }
        assert!(i["reforecast"].as_f64().unwrap() >= 0.0);
    }
    s.get("/api/v1/wfm/intraday?interval=20", t)
        .await
        .problem_for(422, "interval");
    s.get("/api/v1/wfm/intraday?model=guess", t)
        .await
        .problem_for(422, "model");
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.get("/api/v1/wfm/intraday", &agent).await.expect(403);
    s.finish().await;
}
