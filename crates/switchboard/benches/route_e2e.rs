//! Benchmark: contacts created and reserved per second end to end through
//! the API (SQLite store), and the latency from create to reservation.
//!
//! Starts the release `switchboard demo` on a fresh data directory, adds a
//! queue any agent may serve, sets the demo's agents available, then runs
//! CLIENTS loops of: create a chat contact (answered `201` once it is
//! stored and reserved to a free agent), then report the customer gone so
//! the agent's slot frees. The create's latency is create-to-reservation:
//! the reservation is made and committed before the response.
//!
//!   cargo bench -p switchboard --bench route_e2e -- [SECONDS] [CLIENTS]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = args.first().copied().unwrap_or(20);
    let clients = args.get(1).copied().unwrap_or(16) as usize;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "demo",
            "--http",
            "127.0.0.1:0",
            "--no-traffic",
        ])
        .env("SWITCHBOARD_LOG", "warn")
        .env("SWITCHBOARD_SIP", "127.0.0.1:0")
        .env("SWITCHBOARD_SMTP", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut base = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = rest.split_whitespace().next().unwrap().to_owned();
            break;
        }
    }
    sb_app::install_tls_provider();
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@demo.example", "password": "switchboard"}))
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token: Value = http
        .post(format!("{base}/api/v1/tokens"))
        .header("cookie", cookie)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["secret"].as_str().unwrap().to_owned();
    let queue: Value = http
        .post(format!("{base}/api/v1/queues"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench", "wrap_up_seconds": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queue = queue["id"].as_str().unwrap().to_owned();
    let agents: Value = http
        .get(format!("{base}/api/v1/agents?limit=100"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut slots = 0;
    for a in agents["items"].as_array().unwrap() {
        slots += a["capacity"]["chat"].as_u64().unwrap_or(0);
        let id = a["id"].as_str().unwrap();
        http.put(format!("{base}/api/v1/agents/{id}/state"))
            .bearer_auth(&token)
            .json(&json!({"state": "available"}))
            .send()
            .await
            .unwrap();
    }
    println!("agents with {slots} chat slots, {clients} clients, {seconds} s");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, token, queue) = (http.clone(), base.clone(), token.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            let mut not_reserved = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let c: Value = http
                    .post(format!("{base}/api/v1/contacts"))
                    .bearer_auth(&token)
                    .json(&json!({"channel": "chat", "queue_id": queue}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                hist.record(t.elapsed().as_micros() as u64).unwrap();
                if c["state"] != "reserved" {
                    not_reserved += 1;
                }
                let id = c["id"].as_str().unwrap();
                http.post(format!("{base}/api/v1/contacts/{id}/abandon"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
            }
            (hist, not_reserved)
        }));
    }
    let started = Instant::now();
    let mut all = Histogram::<u64>::new(3).unwrap();
    let mut not_reserved = 0;
    for t in tasks {
        let (h, n) = t.await.unwrap();
        all.add(h).unwrap();
        not_reserved += n;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "RESULT created_and_reserved={} not_reserved={} seconds={secs:.2} per_sec={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        all.len() - not_reserved,
        not_reserved,
        all.len() as f64 / secs,
        all.value_at_quantile(0.5) as f64 / 1000.0,
        all.value_at_quantile(0.9) as f64 / 1000.0,
        all.value_at_quantile(0.99) as f64 / 1000.0,
        all.max() as f64 / 1000.0
    );
    let _ = child.kill();
    let _ = child.wait();
}
