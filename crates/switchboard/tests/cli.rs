//! The binary as people run it: help, migrate, tenant and user admin,
//! start-up failures with one clear line, serve and demo on port 0, and
//! acknowledged writes surviving kill -9.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::*;

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A start-up failure: non-zero exit, one `error:` line naming the problem, no panic.
fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "no panic: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "expected `{needle}` in: {err}"
    );
}

#[test]
fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["migrate", "--help"],
        vec!["tenant", "add", "--help"],
        vec!["tenant", "list", "--help"],
        vec!["user", "add", "--help"],
    ] {
        let o = run(&args, None);
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    let serve = String::from_utf8_lossy(&run(&["serve", "--help"], None).stdout).into_owned();
    for flag in [
        "--data-dir",
        "--http",
        "--sip",
        "--smtp",
        "--database",
        "--nats",
        "SWITCHBOARD_HTTP",
        "SWITCHBOARD_DATA_DIR",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn migrate_creates_the_database_and_admin_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(&["--data-dir", d, "migrate"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("switchboard.db").exists());
    let o = run(&["--data-dir", d, "migrate"], None);
    assert!(o.status.success(), "migrate twice is fine");

    let o = run(
        &[
            "--data-dir",
            d,
            "tenant",
            "add",
            "--name",
            "Acme",
            "--slug",
            "acme",
            "--admin-email",
            "boss@acme.example",
        ],
        Some("sup3r-secret\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("created tenant acme"));
    let o = run(
        &[
            "--data-dir",
            d,
            "tenant",
            "add",
            "--name",
            "Acme",
            "--slug",
            "acme",
            "--admin-email",
            "other@acme.example",
        ],
        Some("sup3r-secret\n"),
    );
    assert_clean_failure(&o, "slug `acme`");
    let o = run(
        &[
            "--data-dir",
            d,
            "tenant",
            "add",
            "--name",
            "Bad",
            "--slug",
            "Bad Slug",
            "--admin-email",
            "x@y.example",
        ],
        Some("sup3r-secret\n"),
    );
    assert_clean_failure(&o, "slug");
    let o = run(
        &[
            "--data-dir",
            d,
            "tenant",
            "add",
            "--name",
            "Short",
            "--slug",
            "short",
            "--admin-email",
            "x@y.example",
        ],
        Some("abc\n"),
    );
    assert_clean_failure(&o, "admin-password");
    let o = run(
        &[
            "--data-dir",
            d,
            "user",
            "add",
            "--tenant",
            "acme",
            "--email",
            "ann@acme.example",
            "--name",
            "Ann",
            "--roles",
            "agent,team_leader",
        ],
        Some("agent-password\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("with roles agent,team_leader"));
    let o = run(
        &[
            "--data-dir",
            d,
            "user",
            "add",
            "--tenant",
            "nope",
            "--email",
            "x@acme.example",
            "--name",
            "X",
        ],
        Some("agent-password\n"),
    );
    assert_clean_failure(&o, "no tenant with slug `nope`");
    let o = run(
        &[
            "--data-dir",
            d,
            "user",
            "add",
            "--tenant",
            "acme",
            "--email",
            "y@acme.example",
            "--name",
            "Y",
            "--roles",
            "boss",
        ],
        Some("agent-password\n"),
    );
    assert_clean_failure(&o, "--roles");
    let o = run(&["--data-dir", d, "tenant", "list"], None);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("acme\t"));
}

#[test]
fn an_unusable_data_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("data");
    let o = run(
        &["--data-dir", under_file.to_str().unwrap(), "migrate"],
        None,
    );
    assert_clean_failure(&o, "cannot create the data directory");
    let o = run(
        &["--data-dir", "/proc/switchboard-cannot-be-here", "migrate"],
        None,
    );
    assert_clean_failure(&o, "cannot create the data directory");
}

#[test]
fn a_corrupt_database_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("switchboard.db"), vec![0x5a; 8192]).unwrap();
    let o = run(
        &["--data-dir", dir.path().to_str().unwrap(), "migrate"],
        None,
    );
    assert_clean_failure(&o, "is not a Switchboard database or is corrupt");
}

#[test]
fn a_data_directory_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join("switchboard.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let o = run(
        &["--data-dir", dir.path().to_str().unwrap(), "migrate"],
        None,
    );
    assert_clean_failure(&o, "in use by another Switchboard process");
}

#[test]
fn a_database_locked_by_another_program_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(run(&["--data-dir", d, "migrate"], None).status.success());
    // Another program holds an exclusive lock on the file itself.
    let db = dir.path().join("switchboard.db");
    let script = format!(
        "import sqlite3, sys, time\nc = sqlite3.connect({:?}, isolation_level=None)\nc.execute('PRAGMA journal_mode=DELETE') if False else None\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(30)\n",
        db.to_str().unwrap()
    );
    let mut holder = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 holds the lock");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let o = run(&["--data-dir", d, "migrate"], None);
    holder.kill().ok();
    holder.wait().ok();
    assert_clean_failure(&o, "locked");
}

#[test]
fn an_unreachable_postgresql_is_one_clear_line() {
    let o = run(
        &[
            "--database",
            "postgres://switchboard:secret@127.0.0.1:1/none",
            "migrate",
        ],
        None,
    );
    assert_clean_failure(
        &o,
        "cannot connect to PostgreSQL at postgres://switchboard:***@127.0.0.1:1/none",
    );
    assert!(
        !stderr(&o).contains("secret"),
        "the password is never printed"
    );
    let o = run(&["--database", "mysql://x@y/z", "migrate"], None);
    assert_clean_failure(&o, "--database must be a postgres:// URL");
}

#[tokio::test]
async fn serve_says_how_to_begin_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "serve",
            "--http",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let base = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "server exited early: {printed}"
        );
        printed.push_str(&line);
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert!(
        printed.contains("switchboard tenant add"),
        "the empty store says how to begin: {printed}"
    );
    let r = http_client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

#[tokio::test]
async fn demo_creates_a_tenant_with_every_role_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(&["--data-dir", d, "demo", "--http", "0.0.0.0:0"], None);
    assert_clean_failure(&o, "localhost only");
    let server = Server::start(&["--data-dir", d, "demo", "--http", "127.0.0.1:0"]);
    let client = http_client();
    for email in [
        "admin@demo.example",
        "lead@demo.example",
        "trainer@demo.example",
        "planner@demo.example",
        "agent1@demo.example",
        "agent6@demo.example",
    ] {
        let r = client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({"email": email, "password": "switchboard"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{email}");
    }
    let r = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email": "admin@demo.example", "password": "switchboard"}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for (path, at_least) in [
        ("/api/v1/queues", 4),
        ("/api/v1/agents", 7),
        ("/api/v1/customers", 10),
        ("/api/v1/skills", 4),
        ("/api/v1/users", 10),
    ] {
        let body: serde_json::Value = client
            .get(format!("{}{path}", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            body["items"].as_array().unwrap().len() >= at_least,
            "{path}: {body}"
        );
    }
    drop(server);
    let again = Server::start(&["--data-dir", d, "demo", "--http", "127.0.0.1:0"]);
    let _ = again.printed_before_start();
    let r = client
        .post(format!("{}/api/v1/auth/login", again.base))
        .json(&json!({"email": "agent1@demo.example", "password": "switchboard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_traffic_brings_customers_and_agents_who_handle_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    // Ten simulated minutes a real second.
    let server = Server::start(&[
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--traffic-speed",
        "600",
    ]);
    let client = http_client();
    let token = demo_admin_token(&client, &server.base).await;
    let get = |path: &str| {
        let (client, token, url) = (
            client.clone(),
            token.clone(),
            format!("{}{path}", server.base),
        );
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    // Within half a minute contacts have arrived and some have been
    // answered and wrapped up by the simulated agents with a disposition.
    let mut ended = Vec::new();
    for _ in 0..60 {
        let contacts = get(&format!(
            "/api/v1/contacts?state=ended&arrived_from={started}&limit=50"
        ))
        .await;
        ended = contacts["items"].as_array().unwrap().clone();
        if ended.iter().any(|c| c["disposition"] == "resolved") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let handled: Vec<&serde_json::Value> = ended
        .iter()
        .filter(|c| c["disposition"] == "resolved")
        .collect();
    assert!(!handled.is_empty(), "{ended:?}");
    let agent = handled[0]["agent_id"].as_str().unwrap();
    let agents = get("/api/v1/agents?limit=50").await;
    let users = get("/api/v1/users?limit=50").await;
    let user = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent)
        .unwrap()["user_id"]
        .clone();
    let email = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == user)
        .unwrap()["email"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only the simulated agents take contacts; agent5 and agent6 are left
    // for people.
    assert!(
        ["agent1", "agent2", "agent3", "agent4"]
            .iter()
            .any(|a| email.starts_with(a)),
        "{email}"
    );
    // Customers also write: their mail to Support and Sales arrives as real
    // messages, each contact with its conversation and acknowledgement.
    let mut conversation = serde_json::Value::Null;
    for _ in 0..60 {
        let recent = get(&format!(
            "/api/v1/contacts?arrived_from={started}&limit=500"
        ))
        .await;
        let mut found = None;
        for c in recent["items"].as_array().unwrap() {
            if c["channel"] == "email" {
                let conv = get(&format!(
                    "/api/v1/contacts/{}/messages",
                    c["id"].as_str().unwrap()
                ))
                .await;
                if conv["messages"].is_array() {
                    found = Some(conv);
                    break;
                }
            }
        }
        if let Some(conv) = found {
            conversation = conv;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let messages = conversation["messages"]
        .as_array()
        .expect("an email with its conversation");
    assert_eq!(messages[0]["direction"], "in", "{conversation}");
    assert!(!messages[0]["text"].as_str().unwrap().is_empty());
    assert!(
        messages.iter().any(|m| m["automatic"] == "acknowledgement"),
        "{conversation}"
    );
    // A new demo also gets three weeks of simulated history, handled by
    // every agent on shifts.
    let history = get(&format!(
        "/api/v1/contacts?arrived_before={started}&state=ended&limit=500"
    ))
    .await;
    let past = history["items"].as_array().unwrap();
    assert_eq!(past.len(), 500, "a page of history");
    let oldest = past
        .iter()
        .map(|c| c["created_at"].as_i64().unwrap())
        .min()
        .unwrap();
    assert!(oldest < started as i64 - 86_400_000, "{oldest}");
    let o = run(&["--data-dir", d, "demo", "--traffic-speed", "0"], None);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("must be a number from 1 to 3600"),
        "{}",
        stderr(&o)
    );
}

/// Creates contacts from several tasks until told to stop; returns the ids
/// the server acknowledged with 201.
async fn create_until_stopped(
    base: String,
    token: String,
    queue: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let client = http_client();
    let mut acked = Vec::new();
    while !*stop.borrow() {
        let r = client
            .post(format!("{base}/api/v1/contacts"))
            .bearer_auth(&token)
            .json(&json!({"channel": "chat", "queue_id": queue}))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                let v: serde_json::Value = match r.json().await {
                    Ok(v) => v,
                    Err(_) => break,
                };
                acked.push(v["id"].as_str().unwrap().to_owned());
            }
            _ => break,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_contacts_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let mut server = Server::start(&[
        "--data-dir",
        &d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let client = http_client();
    let token = demo_admin_token(&client, &server.base).await;
    let queues: serde_json::Value = client
        .get(format!("{}/api/v1/queues", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queue = queues["items"][0]["id"].as_str().unwrap().to_owned();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut writers = Vec::new();
    for _ in 0..16 {
        writers.push(tokio::spawn(create_until_stopped(
            server.base.clone(),
            token.clone(),
            queue.clone(),
            stop_rx.clone(),
        )));
    }
    // Let the writers get going, then kill the server without warning.
    let started = Instant::now();
    loop {
        let n: serde_json::Value = client
            .get(format!("{}/api/v1/contacts?limit=500", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if n["items"].as_array().map(|a| a.len()).unwrap_or(0) >= 200
            || started.elapsed() > Duration::from_secs(60)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let _ = stop_tx.send(true);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(acked.len() >= 200, "the load ran: {}", acked.len());
    drop(server);

    let server = Server::start(&["--data-dir", &d, "serve", "--http", "127.0.0.1:0"]);
    let mut stored = std::collections::HashSet::new();
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = client
            .get(format!(
                "{}/api/v1/contacts?limit=500&cursor={cursor}",
                server.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in page["items"].as_array().unwrap() {
            stored.insert(c["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged contacts lost",
        lost.len(),
        acked.len()
    );
    assert!(Path::new(&d).join("switchboard.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_queue_keeps_its_order_and_reservations_are_offered_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let mut server = Server::start(&[
        "--data-dir",
        &d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let client = http_client();
    let base = server.base.clone();
    let token = demo_admin_token(&client, &base).await;
    let get = |path: String| {
        let (client, token) = (client.clone(), token.clone());
        async move { json_of(client.get(path).bearer_auth(token).send().await.unwrap()).await }
    };
    let queues = get(format!("{base}/api/v1/queues")).await;
    let support = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nobody is available: contacts wait in arrival order.
    let mut ids = Vec::new();
    for _ in 0..30 {
        let c = json_of(
            client
                .post(format!("{base}/api/v1/contacts"))
                .bearer_auth(&token)
                .json(&json!({"channel": "voice", "queue_id": support}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(c["state"], "queued");
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    // agent2 (technical 7) goes available and is offered the first contact.
    let users = get(format!("{base}/api/v1/users?limit=100")).await;
    let agent_user = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "agent2@demo.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agents = get(format!("{base}/api/v1/agents?limit=100")).await;
    let agent = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user_id"] == agent_user.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let st = json_of(
        client
            .put(format!("{base}/api/v1/agents/{agent}/state"))
            .bearer_auth(&token)
            .json(&json!({"state": "available"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st["reservations"][0]["contact_id"], ids[0].as_str(), "{st}");
    let first_reservation = st["reservations"][0]["id"].as_u64().unwrap();
    let before = get(format!("{base}/api/v1/queues/{support}/status")).await;
    assert_eq!(before["next_contacts"].as_array().unwrap().len(), 29);

    server.child.kill().unwrap(); // SIGKILL: no chance to tidy up
    server.child.wait().unwrap();
    drop(server);

    let server = Server::start(&["--data-dir", &d, "serve", "--http", "127.0.0.1:0"]);
    let base = server.base.clone();
    let after = get(format!("{base}/api/v1/queues/{support}/status")).await;
    assert_eq!(
        after["next_contacts"], before["next_contacts"],
        "the same queue order"
    );
    let st = get(format!("{base}/api/v1/agents/{agent}/status")).await;
    assert_eq!(st["status"], "busy", "{st}");
    assert_eq!(
        st["reservations"][0]["contact_id"],
        ids[0].as_str(),
        "the reservation in flight is offered again"
    );
    assert!(
        st["reservations"][0]["id"].as_u64().unwrap() > first_reservation,
        "with a new reservation number"
    );
    let all = get(format!("{base}/api/v1/contacts?limit=500")).await;
    let mut stored: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    stored.sort();
    let mut expect = ids.clone();
    expect.sort();
    assert_eq!(
        stored, expect,
        "every contact once, none lost or duplicated"
    );
    // And work carries on.
    let rid = st["reservations"][0]["id"].as_u64().unwrap();
    let c = json_of(
        client
            .post(format!("{base}/api/v1/reservations/{rid}/accept"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(c["state"], "active");
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const DAY: &str = "interval_start,contacts,aht_seconds\n\
                   2026-11-27T08:00,100,180\n\
                   2026-11-27T08:30,0,0\n\
                   2026-11-27T09:00,400,240\n";

#[test]
fn wfm_staff_adds_agents_positions_and_what_they_achieve() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("day.csv");
    std::fs::write(&day, DAY).unwrap();
    let day = day.to_str().unwrap();
    let o = run(
        &[
            "wfm",
            "staff",
            "--input",
            day,
            "--sl-target",
            "80",
            "--sl-seconds",
            "20",
            "--shrinkage",
            "30",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "interval_start,contacts,aht_seconds,agents,positions,service_level,asa_seconds,occupancy"
    );
    // 100 calls × 180 s in 30 minutes = 10 Erlangs: 14 agents, 20 positions at 30 % shrinkage.
    assert!(
        lines[1].starts_with("2026-11-27T08:00,100,180,14,20,"),
        "{out}"
    );
    // Nobody calling needs nobody, not an error.
    assert_eq!(lines[2], "2026-11-27T08:30,0,0,0,0,1.0000,0.0,0.0000");
    let agents = |line: &str| line.split(',').nth(3).unwrap().parse::<u64>().unwrap();
    assert!(agents(lines[3]) > 53, "{out}");

    // Erlang A: callers who give up need fewer agents; read from stdin.
    let o = run(
        &[
            "wfm",
            "staff",
            "--input",
            "-",
            "--sl-target",
            "80",
            "--sl-seconds",
            "20",
            "--model",
            "erlang-a",
            "--patience-seconds",
            "90",
        ],
        Some(DAY),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a = stdout(&o);
    let a: Vec<&str> = a.lines().collect();
    assert!(
        agents(a[1]) < 14 && agents(a[3]) < agents(lines[3]),
        "{a:?}"
    );

    // Offsets tell the repeated hour of a daylight-saving change apart.
    let dst = "interval_start,contacts,aht_seconds\n\
               2026-04-05T02:00+11:00,20,180\n\
               2026-04-05T02:30+11:00,20,180\n\
               2026-04-05T02:00+10:00,20,180\n";
    let o = run(
        &["wfm", "staff", "--input", "-", "--asa-seconds", "30"],
        Some(dst),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 4);
}

#[test]
fn wfm_staff_refuses_bad_input_with_one_line_and_writes_nothing() {
    let sl = ["--sl-target", "80", "--sl-seconds", "20"];
    let cases: [(&str, &[&str], &str); 8] = [
        (
            "interval_start,contacts,aht_seconds\n2026-11-27T08:00,-3,180\n2026-11-27T08:30,1,180\n",
            &sl,
            "line 2: contacts must be a number of at least 0",
        ),
        (
            "interval_start,contacts,aht_seconds\n2026-11-27T08:00,5,0\n2026-11-27T08:30,1,180\n",
            &sl,
            "line 2: the average handle time must be more than 0",
        ),
        (
            "interval_start,contacts,aht_seconds\n2026-11-27T08:00,5,abc\n",
            &sl,
            "line 2: aht_seconds must be a number",
        ),
        (
            "start,calls,aht\n2026-11-27T08:00,5,180\n",
            &sl,
            "the header must be interval_start,contacts,aht_seconds",
        ),
        (
            "interval_start,contacts,aht_seconds\n2026-11-27T08:00,5,180\n",
            &sl,
            "give --interval-minutes",
        ),
        (
            "interval_start,contacts,aht_seconds\n2026-11-27T09:00,5,180\n2026-11-27T08:30,5,180\n",
            &sl,
            "line 3: interval_start must increase",
        ),
        (
            DAY,
            &["--sl-target", "180", "--sl-seconds", "20"],
            "--sl-target is a percentage from 0 to 100",
        ),
        (
            DAY,
            &[
                "--sl-target",
                "80",
                "--sl-seconds",
                "20",
                "--model",
                "erlang-a",
            ],
            "needs --patience-seconds",
        ),
    ];
    for (input, flags, want) in cases {
        let mut args = vec!["wfm", "staff", "--input", "-"];
        args.extend_from_slice(flags);
        let o = run(&args, Some(input));
        assert!(!o.status.success(), "{want}: succeeded");
        assert!(stderr(&o).contains(want), "{want}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{want}: wrote output");
    }
    let o = run(&["wfm", "staff", "--input", "-"], Some(DAY));
    assert!(
        stderr(&o).contains("give a service level or an ASA target"),
        "{}",
        stderr(&o)
    );
}

/// Three weeks of 30-minute history with a daily and weekly shape; the
/// quiet nights are left out of the file, as exports often do.
fn three_weeks() -> String {
    let mut out = String::from("interval_start,contacts,aht_seconds\n");
    for day in 0..21u32 {
        let weekday = [1.0, 0.95, 0.9, 0.9, 0.85, 0.45, 0.3][(day % 7) as usize];
        for slot in 0..48u32 {
            let h = f64::from(slot) / 2.0;
            let m = ((-((h - 10.5) / 2.5).powi(2)).exp() * 60.0 + 2.0) * weekday;
            let c = (m + f64::from((day * 7 + slot) % 5) - 2.0).round().max(0.0);
            if h < 6.0 {
                continue;
            }
            // 2026-11-02 is a Monday.
            let date = jiff::civil::date(2026, 11, 2) + jiff::Span::new().days(i64::from(day));
            out.push_str(&format!(
                "{date}T{:02}:{:02},{c},{}\n",
                slot / 2,
                (slot % 2) * 30,
                200 + slot
            ));
        }
    }
    out
}

#[test]
fn wfm_forecast_writes_the_days_ahead_in_the_shape_staff_reads() {
    let history = three_weeks();
    let o = run(
        &[
            "wfm",
            "forecast",
            "--input",
            "-",
            "--days",
            "2",
            "--holidays",
            "2026-11-24",
        ],
        Some(&history),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("WAPE") && stderr(&o).contains("seasonal naive"),
        "{}",
        stderr(&o)
    );
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "interval_start,contacts,aht_seconds");
    assert_eq!(lines.len(), 1 + 2 * 48);
    // The day after the history, from midnight; a Monday again.
    assert!(lines[1].starts_with("2026-11-23T00:00,"), "{}", lines[1]);
    let value = |l: &str, i: usize| l.split(',').nth(i).unwrap().parse::<f64>().unwrap();
    assert!(lines[1..].iter().all(|l| value(l, 1) >= 0.0));
    // Mid-morning is busier than the small hours; handle time follows the
    // same interval in past weeks.
    assert!(
        value(lines[1 + 21], 1) > 10.0 * value(lines[1 + 4], 1).max(0.5),
        "{}",
        lines[1 + 21]
    );
    assert!(
        (value(lines[1 + 21], 2) - 221.0).abs() < 1.0,
        "{}",
        lines[1 + 21]
    );
    // What it writes, staff reads.
    let staffed = run(
        &[
            "wfm",
            "staff",
            "--input",
            "-",
            "--sl-target",
            "80",
            "--sl-seconds",
            "20",
        ],
        Some(&out),
    );
    assert!(staffed.status.success(), "{}", stderr(&staffed));
    assert_eq!(stdout(&staffed).lines().count(), 1 + 2 * 48);

    for (input, args, want) in [
        (
            history.as_str(),
            vec!["--days", "0"],
            "--days must be from 1 to 62",
        ),
        (
            "interval_start,contacts,aht_seconds\n2026-11-02T08:00,5,180\n2026-11-02T08:30,5,180\n",
            vec![],
            "at least 672 intervals",
        ),
        (
            "interval_start,contacts,aht_seconds\n2026-11-02T08:00+11:00,5,180\n2026-11-02T08:30+11:00,5,180\n",
            vec![],
            "without offsets",
        ),
        (
            history.as_str(),
            vec!["--holidays", "Christmas"],
            "is not a date",
        ),
    ] {
        let mut a = vec!["wfm", "forecast", "--input", "-"];
        a.extend(args);
        let o = run(&a, Some(input));
        assert!(
            !o.status.success() && stderr(&o).contains(want),
            "{want}: {}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), "");
    }
}

#[test]
fn wfm_schedule_covers_the_requirement_with_shifts_and_reports_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let shifts = dir.path().join("shifts.json");
    std::fs::write(
        &shifts,
        r#"{"shifts": [{"name": "day", "minutes": 480, "starts": ["08:00", "09:00", "10:00"],
            "breaks": [{"minutes": 60, "earliest_minutes": 180, "latest_minutes": 300}]}]}"#,
    )
    .unwrap();
    // One day, hourly: 2 agents 09:00–17:00, and 1 at 03:00 that no shift reaches.
    let mut req = String::from("interval_start,contacts,aht_seconds,agents,positions\n");
    for h in 0..24 {
        let need = if (9..17).contains(&h) {
            2
        } else {
            u32::from(h == 3)
        };
        req.push_str(&format!("2026-11-30T{h:02}:00,0,0,0,{need}\n"));
    }
    let shifts = shifts.to_str().unwrap();
    let o = run(
        &["wfm", "schedule", "--requirements", "-", "--shifts", shifts],
        Some(&req),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("date,shift,start,end,breaks,agents"));
    let mut cover = [0u32; 24];
    let mut total = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!((f[0], f[1]), ("2026-11-30", "day"));
        let hour = |s: &str| s[..2].parse::<usize>().unwrap();
        let n: u32 = f[5].parse().unwrap();
        let (b0, b1) = f[4].split_once('-').unwrap();
        for (h, c) in cover
            .iter_mut()
            .enumerate()
            .take(hour(f[3]))
            .skip(hour(f[2]))
        {
            if !(hour(b0)..hour(b1)).contains(&h) {
                *c += n;
            }
        }
        total += n;
    }
    for (h, c) in cover.iter().enumerate().take(17).skip(9) {
        assert!(*c >= 2, "{h}:00 has {c}");
    }
    // Each 8-hour shift works 7 hours; 16 agent-hours need at least 3 shifts.
    assert!(total >= 3, "{out}");
    assert!(
        stderr(&o).contains("under-staffing 1 in 1 intervals no shift reaches"),
        "{}",
        stderr(&o)
    );

    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"shifts": [{"name": "x", "minutes": 480, "starts": ["25:00"]}]}"#,
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    let o = run(
        &[
            "wfm",
            "schedule",
            "--requirements",
            "-",
            "--shifts",
            bad.to_str().unwrap(),
        ],
        Some(&req),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("is not a time"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn wfm_roster_names_an_agent_for_each_shift_and_explains_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let shifts = dir.path().join("schedule.csv");
    std::fs::write(
        &shifts,
        "date,shift,start,end,breaks,agents\n\
         2026-11-30,late,22:00,06:00,,1\n\
         2026-12-01,early,07:00,15:00,11:00-11:30,2\n\
         2026-12-02,early,07:00,15:00,11:00-11:30,3\n",
    )
    .unwrap();
    let agents = dir.path().join("agents.json");
    std::fs::write(
        &agents,
        r#"{"agents": [
            {"name": "Ana", "max_hours_per_week": 40},
            {"name": "Ben", "max_hours_per_week": 40, "available": {"tuesday": ["06:00-18:00"]}}
        ]}"#,
    )
    .unwrap();
    let o = run(
        &[
            "wfm",
            "roster",
            "--shifts",
            shifts.to_str().unwrap(),
            "--agents",
            agents.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 6);
    // Ana works the late shift; she cannot start at 07:00 the next day
    // (one hour's rest), so Ben takes one early shift and the other stays open.
    assert_eq!(
        (rows[0][0], rows[0][1], rows[0][4]),
        ("2026-11-30", "late", "Ana")
    );
    let tuesday: Vec<&str> = rows[1..3].iter().map(|r| r[4]).collect();
    assert!(tuesday.contains(&"Ben") && tuesday.contains(&""), "{out}");
    // Wednesday: Ana can (rested), Ben is not available; one of three filled.
    let wednesday: Vec<&str> = rows[3..].iter().map(|r| r[4]).collect();
    assert_eq!(
        wednesday.iter().filter(|n| !n.is_empty()).count(),
        1,
        "{out}"
    );
    let err = stderr(&o);
    assert!(err.contains("rostered 3 of 6 shifts"), "{err}");
    assert!(
        err.contains("would rest too little between shifts"),
        "{err}"
    );
    assert!(err.contains("not available for the whole shift"), "{err}");

    // Bad availability: one line naming the agent and the field, no output.
    for (available, says) in [
        (
            r#"{"funday": ["09:00-17:00"]}"#,
            "Cy: available.funday: is not a day of the week",
        ),
        (
            r#"{"monday": ["08:00-12:00", "11:00-15:00"]}"#,
            "Cy: available.monday: spans overlap",
        ),
        (
            r#"{"monday": ["22:00-06:00"]}"#,
            "Cy: available.monday[0]: must end after it starts",
        ),
    ] {
        std::fs::write(
            &agents,
            format!(r#"{{"agents": [{{"name": "Cy", "max_hours_per_week": 40, "available": {available}}}]}}"#),
        )
        .unwrap();
        let o = run(
            &[
                "wfm",
                "roster",
                "--shifts",
                shifts.to_str().unwrap(),
                "--agents",
                agents.to_str().unwrap(),
            ],
            None,
        );
        assert!(
            !o.status.success() && stderr(&o).contains(says),
            "{}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), "");
    }
}

#[test]
fn simulate_runs_the_example_scenario_and_refuses_bad_ones() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/scenario.toml")
        .canonicalize()
        .unwrap();
    let o = run(&["simulate", example.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "interval,start,queue,offered,answered,abandoned,callbacks,service_level,service_level_ci,asa_seconds,asa_ci,aht_seconds,abandon_rate,occupancy,occupancy_ci,agents_staffed"
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 48 * 2);
    // 10:30 is the calls' peak: 12 agents on the phones (6 early, 6 middle).
    let peak = rows
        .iter()
        .find(|r| r[1] == "day 0 10:30" && r[2] == "Support")
        .unwrap();
    assert!(peak[3].parse::<f64>().unwrap() > 50.0, "{peak:?}");
    assert_eq!(peak[15], "12.0", "{peak:?}");
    // Callers still waiting after a minute at the peak take callbacks.
    assert!(peak[6].parse::<f64>().unwrap() > 0.0, "{peak:?}");
    // At 11:00 the early agents go to lunch (those on a call finish it
    // first): six agents and a little.
    let lunch = rows
        .iter()
        .find(|r| r[1] == "day 0 11:00" && r[2] == "Support")
        .unwrap();
    let staffed: f64 = lunch[15].parse().unwrap();
    assert!((6.0..7.0).contains(&staffed), "{lunch:?}");
    let night = rows
        .iter()
        .find(|r| r[1] == "day 0 03:00" && r[2] == "Support")
        .unwrap();
    assert_eq!(night[3], "0.0");
    let err = stderr(&o);
    assert!(err.contains("10 replications of 48 intervals on "), "{err}");
    assert!(err.contains("Support: offered"), "{err}");
    assert!(!err.contains("refused"), "{err}");
    // The same seed gives the same output.
    let again = run(&["simulate", example.to_str().unwrap()], None);
    assert_eq!(stdout(&again), out);

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&example).unwrap();
    for (from, to, says) in [
        (
            "replications = 10",
            "replications = 0",
            "replications must be from 1 to 1000",
        ),
        (
            "patience_seconds = 90",
            "patience_seconds = -5",
            "queue Support: patience must be above 0",
        ),
        ("channel = \"chat\"", "channel = \"fax\"", "queue Chat:"),
        (
            "end = \"11:30\"",
            "end = \"16:30\"",
            "agent Early 1: a break must lie within its shift",
        ),
        ("seed = 42", "seed = 42\nspeed = 2", "unknown field `speed`"),
        (
            "probability = 0.5, after_seconds = 60",
            "probability = 2, after_seconds = 60",
            "queue Support: a callback offer needs a probability from 0 to 1",
        ),
    ] {
        let bad = dir.path().join("bad.toml");
        assert!(text.contains(from), "{from}");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let o = run(&["simulate", bad.to_str().unwrap()], None);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(says), "{says}: {}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
}
