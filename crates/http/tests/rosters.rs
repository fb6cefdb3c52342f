//! Rosters through the API: agents' contracts, named agents put on
//! shifts under the rules with what could not be filled explained,
//! publishing, agents' own shifts and calendar feeds, adherence to the
//! published roster, DST in the tenant's zone, and bad input refused.

mod common;

use common::*;
use reqwest::Method;
use sb_model::Role;
use serde_json::{Value, json};

/// An agent record for the fixture's spare user ("Vic"), with no skills.
async fn second_agent(s: &TestServer, f: &Fixture) -> String {
    s.post(
        "/api/v1/agents",
        &f.admin_token,
        json!({"user_id": f.spare_user, "skills": []}),
    )
    .await
    .expect(201)
    .id()
}

/// A token acting as the fixture's agent ("Una").
async fn agent_token(s: &TestServer, f: &Fixture) -> String {
    s.post(
        "/api/v1/tokens",
        &f.admin_token,
        json!({"name": "una", "user_id": f.user}),
    )
    .await
    .expect(201)
    .body["secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn by_label<'a>(r: &'a Value, label: &str) -> Vec<&'a Value> {
    r["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["shift"] == label)
        .collect()
}

fn week() -> Value {
    json!({
        "name": "Week 50",
        "first_day": "2026-12-07",
        "days": 7,
        "shifts": [
            {"day": 0, "shift": "Early", "start": "09:00", "minutes": 480, "agents": 2,
             "breaks": [{"start": "13:00", "minutes": 30}]},
            {"day": 0, "shift": "Late", "start": "20:00", "minutes": 180, "agents": 1},
            {"day": 5, "shift": "Weekend", "start": "09:00", "minutes": 480, "agents": 1, "skill": "billing"}
        ]
    })
}

#[tokio::test]
async fn rosters_are_built_published_and_seen_by_agents() {
    rosters_case(TestServer::start().await).await;
}

#[tokio::test]
async fn rosters_on_postgres() {
    match TestServer::start_postgres().await {
        Some(s) => rosters_case(s).await,
        None => eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
    }
}

async fn rosters_case(s: TestServer) {
    let f = fixture(&s, "roster").await;
    let other = fixture(&s, "roster-other").await;
    let t = f.admin_token.as_str();
    let vic = second_agent(&s, &f).await;
    let una_token = agent_token(&s, &f).await;

    // Vic works weekdays 08:00–18:00, at most 16 hours a week.
    let c = s
        .call(
            Method::PUT,
            &format!("/api/v1/wfm/contracts/{vic}"),
            t,
            Some(json!({"min_hours": 0, "max_hours": 16, "availability": {
                "monday": [["08:00", "18:00"]], "tuesday": [["08:00", "18:00"]],
                "wednesday": [["08:00", "18:00"]], "thursday": [["08:00", "18:00"]],
                "friday": [["08:00", "18:00"]]}})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(c["set"], true);
    assert_eq!(c["availability"]["monday"], json!([["08:00", "18:00"]]));
    let listed = s.get("/api/v1/wfm/contracts", t).await.expect(200).body;
    let una = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["agent_id"] == f.agent.as_str())
        .unwrap();
    assert_eq!(
        (una["set"].as_bool(), una["max_hours"].as_f64()),
        (Some(false), Some(40.0))
    );

    let r = s
        .post("/api/v1/wfm/rosters", t, week())
        .await
        .expect(201)
        .body;
    assert_eq!(r["state"], "draft");
    assert_eq!(r["shifts"].as_array().unwrap().len(), 4);
    // Only Una has billing and works weekends; only she is free at 20:00.
    let weekend = by_label(&r, "Weekend");
    assert_eq!(weekend[0]["agent_id"], f.agent.as_str());
    assert_eq!(weekend[0]["local_start"], "2026-12-12T09:00");
    let late = by_label(&r, "Late");
    assert_eq!(late[0]["agent_id"], f.agent.as_str());
    // So Vic takes an early shift and the other has no one: both already
    // work that Monday.
    let early = by_label(&r, "Early");
    let holders: Vec<&Value> = early.iter().map(|s| &s["agent_id"]).collect();
    assert!(holders.contains(&&json!(vic)), "{holders:?}");
    assert!(holders.contains(&&Value::Null), "{holders:?}");
    let unfilled = r["explanation"]["unfilled"].as_array().unwrap();
    assert_eq!(unfilled.len(), 1, "{unfilled:?}");
    assert_eq!(unfilled[0]["shift"], "Early");
    assert_eq!(
        unfilled[0]["reasons"],
        json!([{"reason": "already works that day", "agents": 2}])
    );
    // Local times are the tenant's (Sydney, +11 in December); breaks kept.
    let vics = early
        .iter()
        .find(|s| s["agent_id"] == vic.as_str())
        .unwrap();
    assert_eq!(vics["local_start"], "2026-12-07T09:00");
    assert_eq!(vics["local_end"], "2026-12-07T17:00");
    let start = jiff::civil::date(2026, 12, 7)
        .at(9, 0, 0, 0)
        .in_tz("Australia/Sydney")
        .unwrap()
        .timestamp()
        .as_millisecond();
    assert_eq!(vics["starts_at"].as_i64(), Some(start));
    assert_eq!(vics["breaks"][0]["local_start"], "2026-12-07T13:00");
    assert_eq!(vics["breaks"][0]["local_end"], "2026-12-07T13:30");
    let id = r["id"].as_str().unwrap().to_owned();

    // Not published yet: Una sees nothing.
    let mine = |tok: String| {
        let s = &s;
        async move {
            s.get("/api/v1/me/shifts?from=2026-12-07&days=7", &tok)
                .await
                .expect(200)
                .body["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    assert!(mine(una_token.clone()).await.is_empty());
    // Another tenant can neither see nor publish it.
    s.get(&format!("/api/v1/wfm/rosters/{id}"), &other.admin_token)
        .await
        .expect(404);
    s.post(
        &format!("/api/v1/wfm/rosters/{id}/publish"),
        &other.admin_token,
        json!({}),
    )
    .await
    .expect(404);
    // Agents may not publish.
    s.post(
        &format!("/api/v1/wfm/rosters/{id}/publish"),
        &una_token,
        json!({}),
    )
    .await
    .expect(403);

    let out = s
        .post(&format!("/api/v1/wfm/rosters/{id}/publish"), t, json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(out["superseded"], json!([]));
    s.post(&format!("/api/v1/wfm/rosters/{id}/publish"), t, json!({}))
        .await
        .expect(409);
    s.call(
        Method::DELETE,
        &format!("/api/v1/wfm/rosters/{id}"),
        t,
        None,
    )
    .await
    .expect(409);
    let shifts = mine(una_token.clone()).await;
    let labels: Vec<&str> = shifts
        .iter()
        .map(|s| s["shift"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Late", "Weekend"]);

    // The calendar feed: no login, UTC times, one event per shift.
    let feed = s
        .post("/api/v1/me/calendar", &una_token, json!({}))
        .await
        .expect(201)
        .body;
    let path = feed["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/calendar/sbc_") && path.ends_with(".ics"));
    let res = s.client.get(s.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = res.text().await.unwrap();
    let cal: icalendar::Calendar = text.parse().unwrap();
    let mut starts: Vec<String> = cal
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .map(|e| {
            icalendar::Component::property_value(e, "DTSTART")
                .unwrap()
                .to_owned()
        })
        .collect();
    starts.sort();
    // Monday 20:00 and Saturday 09:00 in Sydney (+11).
    assert_eq!(starts, ["20261207T090000Z", "20261211T220000Z"]);
    assert!(text.contains("SUMMARY:Shift: Weekend"), "{text}");
    // A new address replaces the old one.
    let again = s
        .post("/api/v1/me/calendar", &una_token, json!({}))
        .await
        .expect(201)
        .body;
    assert_ne!(again["path"], feed["path"]);
    let old = s.client.get(s.url(&path)).send().await.unwrap();
    assert_eq!(old.status(), 404);
    let bogus = s
        .client
        .get(s.url("/calendar/sbc_nothing.ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 404);

    // A second roster over the same week supersedes the first on publishing.
    let mut second = week();
    second["name"] = json!("Week 50, revised");
    second["shifts"] = json!([{"day": 1, "shift": "Tuesday", "start": "10:00", "minutes": 360, "agents": 1, "skill": "billing"}]);
    let r2 = s
        .post("/api/v1/wfm/rosters", t, second)
        .await
        .expect(201)
        .body;
    let id2 = r2["id"].as_str().unwrap();
    let out = s
        .post(&format!("/api/v1/wfm/rosters/{id2}/publish"), t, json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(out["superseded"], json!([id]));
    let labels: Vec<String> = mine(una_token.clone())
        .await
        .iter()
        .map(|s| s["shift"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(labels, ["Tuesday"]);
    let list = s.get("/api/v1/wfm/rosters", t).await.expect(200).body;
    let states: Vec<(&str, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [("Week 50, revised", "published"), ("Week 50", "superseded")]
    );
    assert!(
        s.get("/api/v1/wfm/rosters", &other.admin_token)
            .await
            .expect(200)
            .body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Drafts can be deleted; the audit log has the whole story.
    let r3 = s
        .post("/api/v1/wfm/rosters", t, week())
        .await
        .expect(201)
        .body;
    let id3 = r3["id"].as_str().unwrap();
    s.call(
        Method::DELETE,
        &format!("/api/v1/wfm/rosters/{id3}"),
        t,
        None,
    )
    .await
    .expect(204);
    s.get(&format!("/api/v1/wfm/rosters/{id3}"), t)
        .await
        .expect(404);
    let audit = s
        .get("/api/v1/audit?order=newest&limit=50", t)
        .await
        .expect(200)
        .text;
    for action in ["roster.created", "roster.published", "roster.deleted"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
    s.finish().await;
}

#[tokio::test]
async fn shifts_across_a_dst_change_last_their_length_in_real_time() {
    let s = TestServer::start().await;
    let f = fixture(&s, "roster-dst").await;
    let t = f.admin_token.as_str();
    let hours = |a: &Value| {
        (a["ends_at"].as_i64().unwrap() - a["starts_at"].as_i64().unwrap()) as f64 / 3_600_000.0
    };

    // Sydney: clocks go forward at 02:00 on Sunday 4 October 2026.
    let r = s
        .post(
            "/api/v1/wfm/rosters",
            t,
            json!({"name": "Sydney", "first_day": "2026-10-03", "days": 2, "shifts": [
                {"day": 0, "shift": "Night", "start": "22:00", "minutes": 480, "agents": 1},
                {"day": 1, "shift": "Day", "start": "09:00", "minutes": 480, "agents": 1}]}),
        )
        .await
        .expect(201)
        .body;
    let night = by_label(&r, "Night")[0];
    assert_eq!(night["local_start"], "2026-10-03T22:00");
    assert_eq!(night["local_end"], "2026-10-04T07:00");
    assert_eq!(hours(night), 8.0);
    // 07:00 to 09:00 is two hours of rest: the one agent cannot take both.
    let day = by_label(&r, "Day")[0];
    assert_eq!(night["agent_id"], f.agent.as_str());
    assert_eq!(day["agent_id"], Value::Null);
    assert_eq!(
        r["explanation"]["unfilled"][0]["reasons"],
        json!([{"reason": "would rest too little between shifts", "agents": 1}])
    );

    // Auckland: clocks go back at 03:00 on Sunday 4 April 2027. Una is
    // available Saturday evening into Sunday morning only.
    let tenant = f.tenant.id.to_string();
    s.patch(
        &format!("/api/v1/tenants/{tenant}"),
        t,
        json!({"time_zone": "Pacific/Auckland"}),
    )
    .await
    .expect(200);
    s.call(
        Method::PUT,
        &format!("/api/v1/wfm/contracts/{}", f.agent),
        t,
        Some(json!({"min_hours": 0, "max_hours": 40, "availability": {
            "saturday": [["20:00", "24:00"]], "sunday": [["00:00", "06:00"]]}})),
    )
    .await
    .expect(200);
    let r = s
        .post(
            "/api/v1/wfm/rosters",
            t,
            json!({"name": "Auckland", "first_day": "2027-04-03", "days": 2, "shifts": [
                {"day": 0, "shift": "Night", "start": "22:00", "minutes": 480, "agents": 1,
                 "breaks": [{"start": "02:30", "minutes": 60}]},
                {"day": 1, "shift": "Day", "start": "09:00", "minutes": 480, "agents": 1}]}),
        )
        .await
        .expect(201)
        .body;
    let night = by_label(&r, "Night")[0];
    assert_eq!(night["local_start"], "2027-04-03T22:00");
    assert_eq!(night["local_end"], "2027-04-04T05:00");
    assert_eq!(hours(night), 8.0);
    // The break starts 4½ hours in; 02:30 comes twice that night, and the
    // break is placed by time into the shift.
    assert_eq!(
        night["breaks"][0]["starts_at"].as_i64().unwrap() - night["starts_at"].as_i64().unwrap(),
        (4 * 60 + 30) * 60_000
    );
    assert_eq!(night["agent_id"], f.agent.as_str(), "{r}");
    assert_eq!(
        r["explanation"]["unfilled"][0]["reasons"],
        json!([{"reason": "not available for the whole shift", "agents": 1}])
    );
    s.finish().await;
}

#[tokio::test]
async fn adherence_flags_agents_out_of_their_published_shift() {
    let s = TestServer::start().await;
    let f = fixture(&s, "adherence").await;
    let t = f.admin_token.as_str();
    // A shift for Una from an hour ago (or midnight) for three hours.
    let now = jiff::Timestamp::now().in_tz("Australia/Sydney").unwrap();
    let minute = i64::from(now.hour()) * 60 + i64::from(now.minute());
    let start = (minute - 60).max(0);
    let start_hhmm = format!("{:02}:{:02}", start / 60, start % 60);
    let today = now.date().to_string();
    let r = s
        .post(
            "/api/v1/wfm/rosters",
            t,
            json!({"name": "Today", "first_day": today, "days": 1, "shifts": [
                {"day": 0, "shift": "Now", "start": start_hhmm, "minutes": 180, "agents": 1}]}),
        )
        .await
        .expect(201)
        .body;
    let id = r["id"].as_str().unwrap();
    // Nothing is published yet: no one is rostered.
    let a = s
        .get("/api/v1/wfm/adherence?grace=0", t)
        .await
        .expect(200)
        .body;
    assert!(a["items"].as_array().unwrap().is_empty(), "{a}");
    s.post(&format!("/api/v1/wfm/rosters/{id}/publish"), t, json!({}))
        .await
        .expect(200);

    // Una has not logged in: out of adherence since the shift began.
    let a = s
        .get("/api/v1/wfm/adherence?grace=0", t)
        .await
        .expect(200)
        .body;
    let una = &a["items"][0];
    assert_eq!(una["agent_id"], f.agent.as_str());
    assert_eq!(una["planned_now"], "work");
    assert_eq!(una["actual_now"], "offline");
    assert_eq!(una["out_since"], format!("{today}T{start_hhmm}"));
    assert_eq!(una["adherence_pct"].as_f64(), Some(0.0));

    // Logged in (and offered the fixture's waiting call at once), she is
    // in adherence again; the time out is an exception.
    s.call(
        Method::PUT,
        &format!("/api/v1/agents/{}/state", f.agent),
        t,
        Some(json!({"state": "available"})),
    )
    .await
    .expect(200);
    let a = s
        .get("/api/v1/wfm/adherence?grace=0", t)
        .await
        .expect(200)
        .body;
    let una = &a["items"][0];
    assert!(
        ["available", "busy"].contains(&una["actual_now"].as_str().unwrap()),
        "{una}"
    );
    assert_eq!(una["out_since"], Value::Null);
    let ex = una["exceptions"].as_array().unwrap();
    assert_eq!(ex.len(), 1, "{una}");
    assert_eq!(ex[0]["planned"], "work");
    assert_eq!(ex[0]["actual"], "offline");
    assert_eq!(ex[0]["local_start"], format!("{today}T{start_hhmm}"));

    // The intraday view counts her as scheduled for this interval.
    let day = s
        .get("/api/v1/wfm/intraday?interval=30&history_weeks=2", t)
        .await
        .expect(200)
        .body;
    let current = (minute / 30) as usize;
    assert_eq!(day["intervals"][current]["scheduled"].as_f64(), Some(1.0));
    assert_eq!(
        day["intervals"][(current + 6) % 48]["scheduled"].as_f64(),
        Some(0.0)
    );

    // Team leaders read it; agents do not.
    let (_, lead) = s.user_with_token(&f.tenant, &[Role::TeamLeader]).await;
    s.get("/api/v1/wfm/adherence", &lead).await.expect(200);
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.get("/api/v1/wfm/adherence", &agent).await.expect(403);
    s.get("/api/v1/wfm/adherence?date=today", t)
        .await
        .problem_for(422, "date");
    s.finish().await;
}

#[tokio::test]
async fn bad_contracts_and_rosters_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let f = fixture(&s, "roster-bad").await;
    let other = fixture(&s, "roster-bad-other").await;
    let t = f.admin_token.as_str();
    let put = |agent: String, body: Value| {
        let s = &s;
        async move {
            s.call(
                Method::PUT,
                &format!("/api/v1/wfm/contracts/{agent}"),
                t,
                Some(body),
            )
            .await
        }
    };
    for (body, field) in [
        (
            json!({"min_hours": 0, "max_hours": 40, "availability": {"monday": [["08:00", "12:00"], ["11:00", "15:00"]]}}),
            "availability.monday",
        ),
        (
            json!({"min_hours": 0, "max_hours": 40, "availability": {"funday": [["08:00", "12:00"]]}}),
            "availability.funday",
        ),
        (
            json!({"min_hours": 0, "max_hours": 40, "availability": {"monday": [["12:00", "08:00"]]}}),
            "availability.monday[0]",
        ),
        (
            json!({"min_hours": 0, "max_hours": 40, "availability": {"monday": [["8am", "12:00"]]}}),
            "availability.monday[0]",
        ),
        (json!({"min_hours": 30, "max_hours": 20}), "max_hours"),
        (json!({"min_hours": -1, "max_hours": 20}), "min_hours"),
        (json!({"min_hours": 0, "max_hours": 200}), "max_hours"),
    ] {
        put(f.agent.clone(), body).await.problem_for(422, field);
    }
    // Another tenant's agent is not found.
    put(
        other.agent.clone(),
        json!({"min_hours": 0, "max_hours": 20}),
    )
    .await
    .expect(404);
    let listed = s.get("/api/v1/wfm/contracts", t).await.expect(200).body;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["set"] == false)
    );

    let shift = json!({"day": 0, "shift": "Early", "start": "09:00", "minutes": 480, "agents": 1});
    let roster = |shifts: Value| json!({"name": "x", "first_day": "2026-12-07", "days": 7, "shifts": shifts});
    for (body, field) in [
        (
            roster(
                json!([{"day": 0, "shift": "Long", "start": "09:00", "minutes": 1500, "agents": 1}]),
            ),
            "shifts[0].minutes",
        ),
        (
            roster(
                json!([{"day": 7, "shift": "Late", "start": "09:00", "minutes": 480, "agents": 1}]),
            ),
            "shifts[0].day",
        ),
        (
            roster(
                json!([{"day": 0, "shift": "Odd", "start": "25:00", "minutes": 480, "agents": 1}]),
            ),
            "shifts[0].start",
        ),
        (
            roster(
                json!([{"day": 0, "shift": "Skilled", "start": "09:00", "minutes": 480, "agents": 1, "skill": "juggling"}]),
            ),
            "shifts[0].skill",
        ),
        (
            roster(
                json!([{"day": 0, "shift": "Brk", "start": "09:00", "minutes": 480, "agents": 1,
                           "breaks": [{"start": "16:45", "minutes": 30}]}]),
            ),
            "shifts[0].breaks[0]",
        ),
        (roster(json!([])), "shifts"),
        (
            json!({"name": "x", "first_day": "7 Dec", "days": 7, "shifts": [shift]}),
            "first_day",
        ),
        (
            json!({"name": "x", "first_day": "2026-12-07", "days": 40, "shifts": [shift]}),
            "days",
        ),
        (
            json!({"name": "x", "first_day": "2026-12-07", "days": 7, "shifts": [shift], "min_rest_hours": -3}),
            "min_rest_hours",
        ),
        (
            json!({"name": " ", "first_day": "2026-12-07", "days": 7, "shifts": [shift]}),
            "name",
        ),
    ] {
        s.post("/api/v1/wfm/rosters", t, body)
            .await
            .problem_for(422, field);
    }
    assert!(
        s.get("/api/v1/wfm/rosters", t).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Planners and team leaders build rosters; trainers and agents do not.
    let ok = roster(json!([shift]));
    for (role, status) in [
        (Role::WorkforcePlanner, 201),
        (Role::TeamLeader, 201),
        (Role::Trainer, 403),
        (Role::Agent, 403),
    ] {
        let (_, tok) = s.user_with_token(&f.tenant, &[role]).await;
        s.post("/api/v1/wfm/rosters", &tok, ok.clone())
            .await
            .expect(status);
    }
    // Someone who is not an agent has no shifts or feed of their own.
    s.get("/api/v1/me/shifts", t).await.expect(404);
    s.post("/api/v1/me/calendar", t, json!({}))
        .await
        .expect(404);
    s.finish().await;
}

#[tokio::test]
async fn a_roster_is_run_against_the_forecast_on_the_simulator() {
    let s = TestServer::start().await;
    let f = fixture(&s, "predict").await;
    let other = fixture(&s, "predict-other").await;
    let t = f.admin_token.as_str();
    let r = s
        .post(
            "/api/v1/wfm/rosters",
            t,
            json!({"name": "Tomorrow", "first_day": "2026-12-08", "days": 1, "shifts": [
                {"day": 0, "shift": "Day", "start": "09:00", "minutes": 480, "agents": 1,
                 "breaks": [{"start": "12:00", "minutes": 60}]}]}),
        )
        .await
        .expect(201)
        .body;
    let id = r["id"].as_str().unwrap();
    let path = format!("/api/v1/wfm/rosters/{id}/predict");
    let out = s
        .post(&path, t, json!({"replications": 4}))
        .await
        .expect(200)
        .body;
    assert_eq!(out["replications"], 4);
    let iv = out["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 48);
    assert_eq!(iv[0]["local_start"], "2026-12-08T00:00");
    // Una works 09:00–17:00 with an hour's break at noon.
    let staffed = |k: usize| iv[k]["staffed"]["mean"].as_f64().unwrap();
    assert_eq!(staffed(6), 0.0);
    assert_eq!(staffed(20), 1.0);
    assert_eq!(staffed(24), 0.0);
    assert_eq!(staffed(30), 1.0);
    assert_eq!(staffed(36), 0.0);
    let q = &out["queues"][0];
    assert_eq!(q["name"], "Support");
    assert_eq!(q["channel"], "voice");
    assert_eq!(q["service_level_seconds"], 20.0);
    assert!(out["events"].as_u64().unwrap() > 0);

    for (body, field) in [
        (json!({"replications": 0}), "replications"),
        (json!({"interval": 7}), "interval"),
        (json!({"patience_seconds": -1}), "patience_seconds"),
        (json!({"answer_delay_seconds": 500}), "answer_delay_seconds"),
    ] {
        s.post(&path, t, body).await.problem_for(422, field);
    }
    s.post(&path, &other.admin_token, json!({}))
        .await
        .expect(404);
    let (_, agent) = s.user_with_token(&f.tenant, &[Role::Agent]).await;
    s.post(&path, &agent, json!({})).await.expect(403);
    s.finish().await;
}

#[tokio::test]
async fn simulated_history_is_stored_and_what_if_draws_talk_times_from_it() {
    use sb_sim::{HandleTime, Scenario, SimAgent, SimQueue, SimShift};
    let s = TestServer::start().await;
    let f = fixture(&s, "history").await;
    let t = f.admin_token.as_str();
    let p = sb_app::Principal::cli(f.tenant.id);
    let setup = s.app.engine_setup(&p).await.unwrap();
    // Two days ending at last midnight (Sydney): 4 calls a half hour, 100 s
    // of talk each, a minute's wrap-up, Una on all day.
    let tz = jiff::tz::TimeZone::get("Australia/Sydney").unwrap();
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let first = today - jiff::Span::new().days(2);
    let origin = tz
        .to_timestamp(first.to_datetime(jiff::civil::Time::midnight()))
        .unwrap()
        .as_millisecond();
    let mut config = setup.queues[0].1.clone();
    config.wrap_up_ms = 60_000;
    let scenario = Scenario {
        seed: 9,
        replications: 1,
        interval_ms: 1_800_000,
        intervals: 96,
        warm_up_intervals: 0,
        queues: vec![SimQueue {
            name: setup.queues[0].0.clone(),
            config,
            channel: sb_model::Channel::Voice,
            arrivals: vec![4.0],
            handle: HandleTime::LogNormal {
                mean_ms: 100_000.0,
                cv: 0.3,
            },
            patience_mean_ms: Some(600_000.0),
            retrial: None,
            callback: None,
        }],
        agents: setup
            .agents
            .iter()
            .map(|(name, config)| SimAgent {
                name: name.clone(),
                config: config.clone(),
                shifts: vec![SimShift {
                    start_ms: 0,
                    end_ms: 96 * 1_800_000,
                    breaks: Vec::new(),
                }],
            })
            .collect(),
        answer_delay_ms: 0,
    };
    let trace = sb_sim::trace(&scenario).unwrap();
    let stored = s
        .app
        .import_simulated_history(&p, origin, &scenario, &trace, "resolved")
        .await
        .unwrap();
    let done = trace
        .contacts
        .iter()
        .filter(|c| c.ended.is_some() || c.abandoned.is_some())
        .count();
    assert_eq!(stored, done);
    assert!(stored > 300, "{stored}");
    // Stored as contacts with their timelines, read by the interval report.
    let day = first.to_string();
    let report = s
        .get(
            &format!("/api/v1/reports/intervals?from={day}&to={day}&interval=60"),
            t,
        )
        .await
        .expect(200)
        .body;
    let offered: u64 = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offered"].as_u64().unwrap())
        .sum();
    let first_day_contacts = trace
        .contacts
        .iter()
        .filter(|c| c.arrived < 48 * 1_800_000 && (c.ended.is_some() || c.abandoned.is_some()))
        .count() as u64;
    assert_eq!(offered, first_day_contacts);
    let one = s
        .get(
            &format!(
                "/api/v1/contacts?arrived_before={}&state=ended&limit=1",
                origin + 86_400_000
            ),
            t,
        )
        .await
        .expect(200)
        .body["items"][0]
        .clone();
    assert_eq!(one["disposition"], "resolved");
    let timeline = s
        .get(
            &format!("/api/v1/contacts/{}/events", one["id"].as_str().unwrap()),
            t,
        )
        .await
        .expect(200)
        .body;
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "contact.created",
            "contact.answered",
            "contact.wrap_up_started",
            "contact.ended"
        ]
    );

    // What-if draws talk times from that history (about 100 s), not from
    // the forecast's handle time (which includes the minute of wrap-up).
    let r = s
        .post(
            "/api/v1/wfm/rosters",
            t,
            json!({"name": "Tomorrow", "first_day": (today + jiff::Span::new().days(1)).to_string(),
                   "days": 1, "shifts": [{"day": 0, "shift": "Day", "start": "08:00", "minutes": 480, "agents": 1}]}),
        )
        .await
        .expect(201)
        .body;
    let out = s
        .post(
            &format!("/api/v1/wfm/rosters/{}/predict", r["id"].as_str().unwrap()),
            t,
            json!({"replications": 3}),
        )
        .await
        .expect(200)
        .body;
    let aht = out["queues"][0]["aht_seconds"]["mean"].as_f64().unwrap();
    assert!((85.0..115.0).contains(&aht), "{aht}");
    s.finish().await;
}
