//! Chat load: many widgets held open at once against a running server,
//! each writing every few seconds; the round trip of a message (sent on the
//! WebSocket until its `ack`, which comes only once it is stored) by
//! percentile. Not a test: run through `bench/chat-load.sh`, which starts a
//! release server and passes:
//!
//! `cargo bench -p switchboard --bench chat_load -- BASE WIDGET SESSIONS SECONDS INTERVAL_MS [RAMP_PER_S]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Default)]
struct Counts {
    opened: AtomicU64,
    failed: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    rejected: AtomicU64,
    lost: AtomicU64,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.len() < 5 {
        eprintln!("usage: chat_load BASE WIDGET SESSIONS SECONDS INTERVAL_MS [RAMP_PER_S]");
        return;
    }
    let base = args[0].replace("http://", "ws://");
    let widget = args[1].clone();
    let sessions: u64 = args[2].parse().expect("sessions");
    let seconds: u64 = args[3].parse().expect("seconds");
    let interval = Duration::from_millis(args[4].parse().expect("interval"));
    let ramp: u64 = args.get(5).and_then(|r| r.parse().ok()).unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(base, widget, sessions, seconds, interval, ramp));
}

async fn run(
    base: String,
    widget: String,
    sessions: u64,
    seconds: u64,
    interval: Duration,
    ramp: u64,
) {
    let url = format!("{base}/chat/w/{widget}/ws");
    let counts = Arc::new(Counts::default());
    let rtt = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let start = Instant::now();
    // Everyone holds on until the measuring window ends.
    let measure_from =
        start + Duration::from_secs_f64(sessions as f64 / ramp as f64) + Duration::from_secs(5);
    let end = measure_from + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for i in 0..sessions {
        // The ramp: `ramp` new sessions a second.
        let due = start + Duration::from_secs_f64(i as f64 / ramp as f64);
        tokio::time::sleep_until(due.into()).await;
        let (url, c, rtt) = (url.clone(), counts.clone(), rtt.clone());
        tasks.push(tokio::spawn(async move {
            if session(i, &url, &c, &rtt, interval, measure_from, end)
                .await
                .is_err()
            {
                c.failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
        if i % 1000 == 999 {
            eprintln!(
                "{:>6} sessions asked for, {} open, {} failed ({:.1} s)",
                i + 1,
                counts.opened.load(Ordering::Relaxed),
                counts.failed.load(Ordering::Relaxed),
                start.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "all sessions asked for; measuring until {:.0} s",
        (end - start).as_secs_f64()
    );
    for t in tasks {
        let _ = t.await;
    }
    let h = rtt.lock().await;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("sessions asked for     {sessions}");
    println!(
        "sessions open at once  {}",
        counts.opened.load(Ordering::Relaxed)
    );
    println!(
        "sessions failed        {}",
        counts.failed.load(Ordering::Relaxed)
    );
    println!(
        "messages sent / acked  {} / {} (rejected {}, unanswered {})",
        counts.sent.load(Ordering::Relaxed),
        counts.acked.load(Ordering::Relaxed),
        counts.rejected.load(Ordering::Relaxed),
        counts.lost.load(Ordering::Relaxed)
    );
    println!(
        "messages per second    {:.0}",
        h.len() as f64 / seconds as f64
    );
    println!(
        "round trip ms          p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0
    );
}

async fn session(
    i: u64,
    url: &str,
    counts: &Counts,
    rtt: &Mutex<Histogram<u64>>,
    interval: Duration,
    measure_from: Instant,
    end: Instant,
) -> Result<(), ()> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .map_err(|e| eprintln!("connect {i}: {e}"))?;
    let start = serde_json::json!({"type": "start", "name": format!("Load {i}"),
        "question": format!("Question {i}"), "client_id": "q"});
    ws.send(Message::text(start.to_string()))
        .await
        .map_err(|_| ())?;
    // Until the session is open.
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("\"session\"") => break,
            Ok(Some(Ok(Message::Text(t)))) if t.contains("\"error\"") => {
                eprintln!("start {i}: {t}");
                return Err(());
            }
            Ok(Some(Ok(_))) => continue,
            _ => return Err(()),
        }
    }
    counts.opened.fetch_add(1, Ordering::Relaxed);
    // Spread the writers over the interval.
    let offset = interval.mul_f64((i % 1000) as f64 / 1000.0);
    let mut next = Instant::now() + offset;
    let mut n = 0u64;
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        n += 1;
        let id = format!("m{n}");
        let msg = serde_json::json!({"type": "message", "client_id": id, "text": format!("message {n} from {i}")});
        let sent_at = Instant::now();
        ws.send(Message::text(msg.to_string()))
            .await
            .map_err(|_| ())?;
        counts.sent.fetch_add(1, Ordering::Relaxed);
        let want = format!("\"client_id\":\"{id}\"");
        let answered = loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains("\"ack\"") && t.contains(&want) => {
                    break true;
                }
                Ok(Some(Ok(Message::Text(t)))) if t.contains("\"rejected\"") => {
                    counts.rejected.fetch_add(1, Ordering::Relaxed);
                    break false;
                }
                Ok(Some(Ok(_))) => continue,
                Ok(_) => return Err(()),
                Err(_) => {
                    counts.lost.fetch_add(1, Ordering::Relaxed);
                    break false;
                }
            }
        };
        if answered {
            counts.acked.fetch_add(1, Ordering::Relaxed);
            if sent_at >= measure_from {
                let us = sent_at.elapsed().as_micros() as u64;
                let _ = rtt.lock().await.record(us.max(1));
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}
