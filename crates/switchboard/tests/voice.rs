//! The voice channel with real SIP peers: PJSIP (pjsua2, headless) plays a
//! carrier's caller and an agent's desk phone against the real binary.
//!
//! The peers run from `tests/sip/peer.py` under the Python that has
//! `pjsua2-python` installed: `$SWITCHBOARD_SIP_PYTHON`, else
//! `target/sip-venv/bin/python` (scripts/test.sh makes it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::*;

/// Runs the peers; returns what they report.
fn peer(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip/peer.py");
    let out = Command::new(peer_python())
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "the SIP peers said nothing useful: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}

/// Each channel of a WAV file, and its sample rate.
fn channels(path: &Path) -> (u32, Vec<Vec<f64>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let chans = (0..n)
        .map(|c| all.iter().skip(c).step_by(n).map(|&s| s as f64).collect())
        .collect();
    (spec.sample_rate, chans)
}

/// The strength of one frequency in a signal (Goertzel).
fn tone(samples: &[f64], rate: u32, freq: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / rate as f64).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2).max(0.0).sqrt() / samples.len().max(1) as f64
}

fn rms(samples: &[f64]) -> f64 {
    (samples.iter().map(|x| x * x).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

const CALLER_TONE: f64 = 440.0;
const GREETING_TONE: f64 = 700.0;
const LEAD_TONE: f64 = 1500.0;

/// A WAV file of one tone.
fn wav(rate: u32, channels: u16, freq: f64, seconds: f64) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..(rate as f64 * seconds) as usize {
        let v = (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() * 8_000.0;
        for _ in 0..channels {
            w.write_sample(v as i16).unwrap();
        }
    }
    w.finalize().unwrap();
    out.into_inner()
}
const AGENT_TONE: f64 = 1000.0;

impl Api {
    async fn upload(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .client
            .put(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "audio/wav")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The newest voice contact, once it is in one of `states`.
    async fn newest_call(&self, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let page = self.get("/contacts?limit=20").await;
            let call = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["channel"] == "voice")
                .max_by_key(|c| c["id"].as_str().unwrap().to_string())
                .cloned();
            if let Some(c) = &call
                && states.contains(&c["state"].as_str().unwrap())
            {
                return c.clone();
            }
            assert!(Instant::now() < deadline, "no call in {states:?}: {call:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_phones_call_queue_answer_hear_each_other_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let server = Server::start(&[
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let sip = server.printed("udp://");
    let client = http_client();
    let api = Api {
        token: demo_admin_token(&client, &server.base).await,
        client,
        base: server.base.clone(),
    };
    let queues = api.get("/queues").await;
    let support = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let agents = api.get("/agents?limit=50").await;
    let agent = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a.to_string().contains("Emma Wilson"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Bad configuration is refused and changes nothing.
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            "/voice/numbers/0290000000",
            Some(json!({"queue_id": support})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            "/voice/trunks/carrier",
            Some(json!({"sources": ["0.0.0.0/0", "nonsense"]})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(2), "{v}");
    let (s, _) = api
        .call(
            reqwest::Method::PUT,
            &format!("/agents/{agent}/phone"),
            Some(json!({"username": "Emma Wilson", "password": "short"})),
        )
        .await;
    assert_eq!(s, 422);

    api.put("/voice/numbers/+61290000000", json!({"queue_id": support}))
        .await;
    // Only the carrier's address may call in.
    api.put("/voice/trunks/carrier", json!({"sources": ["127.0.0.1"]}))
        .await;
    api.put(
        &format!("/agents/{agent}/phone"),
        json!({"username": "emma", "password": "phone-secret-1"}),
    )
    .await;

    // A wrong password is refused.
    let out = dir.path().join("wrong");
    let r = peer(&[
        "register",
        "--server",
        &sip,
        "--username",
        "emma",
        "--password",
        "not-the-password",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["registration"], 403, "{r}");

    // A greeting for a menu: key 2 for Support; no key, Sales.
    let greeting = wav(8_000, 1, GREETING_TONE, 1.0);
    let (s, v) = api
        .upload("/voice/prompts/greeting", wav(44_100, 2, 500.0, 0.2))
        .await;
    assert_eq!(s, 422, "a CD-quality file is refused: {v}");
    assert!(v.to_string().contains("8 kHz mono"), "{v}");
    let (s, v) = api
        .upload("/voice/prompts/greeting", b"RIFF nonsense".to_vec())
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = api
        .upload("/voice/prompts/greeting", greeting.clone())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["duration_ms"], 1000);
    let sales = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Sales")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            "/voice/numbers/+61290000000",
            Some(json!({"queue_id": sales, "menu": {"prompt": "nothing-here", "options": {"22": support}, "timeout_seconds": 0}})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(3), "{v}");
    api.put(
        "/voice/numbers/+61290000000",
        json!({"queue_id": sales, "menu": {"prompt": "greeting", "options": {"2": support}, "timeout_seconds": 8}}),
    )
    .await;

    // The agent is available; the phone registers (over TCP), a caller
    // dials (over UDP), hears
    // the greeting, presses 2, hears music, the phone rings and answers,
    // they talk (the agent holds the caller a moment), the caller hangs up.
    api.put(
        &format!("/agents/{agent}/state"),
        json!({"state": "available"}),
    )
    .await;
    let out = dir.path().join("answered");
    let r = peer(&[
        "answered",
        "--server",
        &sip,
        "--username",
        "emma",
        "--password",
        "phone-secret-1",
        "--talk",
        "3",
        "--hold",
        "1.5",
        "--keys",
        "2",
        // The agent's phone over TCP (the carrier's calls over UDP).
        "--tcp",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["registration"], 200, "{r}");
    assert_eq!(r["caller_answered"], true, "{r}");
    assert_eq!(r["agent_answered"], true, "{r}");
    assert_eq!(
        r["agent_hung_up"], true,
        "the agent's phone is hung up: {r}"
    );
    assert_eq!(r["caller_hung_up"], true, "{r}");
    let talked = r["talked_seconds"].as_f64().unwrap();

    // Each heard the other.
    let (rate, heard) = channels(&out.join("caller-heard.wav"));
    let c = &heard[0];
    let first = &c[..(rate as usize * 2).min(c.len())];
    assert!(
        tone(first, rate, GREETING_TONE) > 100.0,
        "the caller hears the greeting first: {}",
        tone(first, rate, GREETING_TONE)
    );
    assert!(
        tone(c, rate, AGENT_TONE) > 10.0 * tone(c, rate, CALLER_TONE).max(1.0),
        "the caller hears the agent: {} vs {}",
        tone(c, rate, AGENT_TONE),
        tone(c, rate, CALLER_TONE)
    );
    let (rate, heard) = channels(&out.join("agent-heard.wav"));
    let a = &heard[0];
    assert!(
        tone(a, rate, CALLER_TONE) > 10.0 * tone(a, rate, AGENT_TONE).max(1.0),
        "the agent hears the caller"
    );

    // The contact: answered by the agent, now in wrap-up, with its timings.
    let call = api.newest_call(&["wrap_up", "ended"]).await;
    assert_eq!(call["agent_id"], agent.as_str());
    assert_eq!(call["queue_id"], support.as_str(), "key 2 chose Support");
    assert_eq!(call["attributes"]["ivr_choice"], "2");
    assert_eq!(call["from_address"], "+61400111222");
    assert_eq!(call["to_address"], "+61290000000");
    let t = &call["timeline"];
    assert!(t["answered_at"].as_i64().unwrap() >= t["arrived_at"].as_i64().unwrap());
    assert!(t["wrap_started_at"].as_i64().unwrap() > t["answered_at"].as_i64().unwrap());
    let id = call["id"].as_str().unwrap();
    let events = api.get(&format!("/contacts/{id}/events")).await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "contact.created",
        "reservation.created",
        "contact.answered",
        "contact.wrap_up_started",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }

    // The recording: both legs in stereo, as long as they talked.
    let recs = loop {
        let r = api.get(&format!("/contacts/{id}/recordings")).await;
        if !r["items"].as_array().unwrap().is_empty() {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rec = &recs["items"][0];
    assert_eq!(rec["channels"], 2);
    let ms = rec["duration_ms"].as_i64().unwrap() as f64;
    assert!(
        (ms - talked * 1000.0).abs() < 700.0,
        "recorded {ms} ms of {talked} s"
    );
    let audio = api
        .client
        .get(format!(
            "{}/api/v1/recordings/{}/audio",
            api.base,
            rec["id"].as_str().unwrap()
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/wav");
    let bytes = audio.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, rec["bytes"].as_i64().unwrap());
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        rec["sha256"].as_str().unwrap()
    );
    let file = dir.path().join("recording.wav");
    std::fs::write(&file, &bytes).unwrap();
    let (rate, legs) = channels(&file);
    assert_eq!((rate, legs.len()), (8_000, 2));
    assert!(
        tone(&legs[0], rate, CALLER_TONE) > 10.0 * tone(&legs[0], rate, AGENT_TONE).max(1.0),
        "left is the caller"
    );
    assert!(
        tone(&legs[1], rate, AGENT_TONE) > 10.0 * tone(&legs[1], rate, CALLER_TONE).max(1.0),
        "right is the agent"
    );

    // A team leader listens in from their phone (nobody hears them), then
    // barges in (everyone does). An agent may not.
    let lead = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a.to_string().contains("Lee Team-Leader"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.put(
        &format!("/agents/{lead}/phone"),
        json!({"username": "lee", "password": "phone-secret-2"}),
    )
    .await;
    // The agent wraps the last call up, so is free again at once.
    let (s, v) = api
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/wrap-up"),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let agent_session = demo_session(&api.client, &api.base, "agent1@demo.example").await;
    let lead_session = demo_session(&api.client, &api.base, "lead@demo.example").await;
    let out = dir.path().join("monitor");
    let r = peer(&[
        "monitor",
        "--server",
        &sip,
        "--username",
        "emma",
        "--password",
        "phone-secret-1",
        "--lead-username",
        "lee",
        "--lead-password",
        "phone-secret-2",
        "--api",
        &api.base,
        "--cookie",
        &lead_session,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["lead_registration"], 200, "{r}");
    assert_eq!(r["agent_answered"], true, "{r}");
    assert_eq!(r["listen"], 204, "{r}");
    assert_eq!(r["lead_answered"], true, "{r}");
    assert_eq!(r["barge"], 204, "{r}");
    assert_eq!(r["stop"], 204, "{r}");
    assert_eq!(r["lead_hung_up"], true, "{r}");
    let part = |who: &str, what: &str| -> Vec<f64> {
        let (rate, chans) = channels(&out.join(format!("{who}-heard.wav")));
        let span = &r[format!("{who}_{what}")];
        let from = (span[0].as_f64().unwrap() * rate as f64) as usize;
        let to = ((span[1].as_f64().unwrap() * rate as f64) as usize).min(chans[0].len());
        assert!(to > from + rate as usize, "{who} {what}: {span}");
        chans[0][from..to].to_vec()
    };
    let rate = channels(&out.join("lead-heard.wav")).0;
    let heard = part("lead", "listen");
    assert!(
        tone(&heard, rate, CALLER_TONE) > 100.0 && tone(&heard, rate, AGENT_TONE) > 100.0,
        "listening, the team leader hears both: {} {}",
        tone(&heard, rate, CALLER_TONE),
        tone(&heard, rate, AGENT_TONE)
    );
    for who in ["caller", "agent"] {
        let quiet = part(who, "listen");
        let loud = part(who, "barge");
        assert!(
            tone(&quiet, rate, LEAD_TONE) < 20.0,
            "the {who} does not hear a listening team leader: {}",
            tone(&quiet, rate, LEAD_TONE)
        );
        assert!(
            tone(&loud, rate, LEAD_TONE) > 100.0,
            "the {who} hears a team leader who barges in: {}",
            tone(&loud, rate, LEAD_TONE)
        );
    }
    let contact = r["contact"].as_str().unwrap();
    let events = api.get(&format!("/contacts/{contact}/events")).await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "call.monitor_started",
        "call.monitor_changed",
        "call.monitor_ended",
        "call.recording_paused",
        "call.recording_resumed",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // The recording was paused while the team leader listened: silence
    // there, its length reported, where it began marked.
    assert_eq!(
        (r["pause"].as_u64(), r["resume"].as_u64()),
        (Some(204), Some(204)),
        "{r}"
    );
    let recs = loop {
        let v = api.get(&format!("/contacts/{contact}/recordings")).await;
        if !v["items"].as_array().unwrap().is_empty() {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rec = &recs["items"][0];
    let paused = rec["paused_ms"].as_i64().unwrap();
    assert!((1_500..4_000).contains(&paused), "paused {paused} ms");
    let marker = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "call.recording_paused")
        .unwrap();
    let at = marker["payload"]["at_ms"].as_i64().unwrap() as usize;
    let bytes = api
        .client
        .get(format!(
            "{}/api/v1/recordings/{}/audio",
            api.base,
            rec["id"].as_str().unwrap()
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let file = dir.path().join("paused.wav");
    std::fs::write(&file, &bytes).unwrap();
    let (rate, legs) = channels(&file);
    let from = (at + 200) * rate as usize / 1000;
    let to = (at + paused as usize - 200) * rate as usize / 1000;
    assert!(
        rms(&legs[0][from..to]) < 1.0 && rms(&legs[1][from..to]) < 1.0,
        "silence while paused"
    );
    assert!(
        rms(&legs[0][..from.saturating_sub(rate as usize / 2)]) > 300.0,
        "the caller before the pause"
    );
    // The team leader who barged in is recorded with the agent; before,
    // listening, was not.
    let at_of = |kind: &str| {
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .rfind(|e| e["kind"] == kind)
            .and_then(|e| e["at"].as_i64())
            .unwrap_or_else(|| panic!("no {kind} in {events}"))
    };
    let started = rec["started_at"].as_i64().unwrap();
    let sample =
        |ms: i64| ((ms - started).max(0) as usize * rate as usize / 1000).min(legs[1].len());
    let (b0, b1) = (
        sample(at_of("call.monitor_changed") + 400),
        sample(at_of("call.monitor_ended") - 400),
    );
    assert!(
        b1 > b0 + rate as usize / 2,
        "a barge of {} samples",
        b1 - b0
    );
    assert!(
        tone(&legs[1][b0..b1], rate, LEAD_TONE) > 100.0,
        "the barging team leader is in the recording: {}",
        tone(&legs[1][b0..b1], rate, LEAD_TONE)
    );
    let before = &legs[1][..from.saturating_sub(rate as usize / 2)];
    assert!(tone(before, rate, LEAD_TONE) < 20.0, "nobody else before");
    let forbidden = api
        .client
        .post(format!("{}/api/v1/contacts/{contact}/monitor", api.base))
        .header("cookie", &agent_session)
        .json(&json!({"mode": "listen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let (s, _) = api
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/monitor"),
            Some(json!({"mode": "shout"})),
        )
        .await;
    assert_eq!(s, 422);

    // The agent's phone transfers a caller to another number (REFER): the
    // phone is told it worked and hung up, the caller waits in that
    // number's queue.
    let (s, v) = api
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/wrap-up"),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    api.put("/voice/numbers/+61290000001", json!({"queue_id": sales}))
        .await;
    api.put("/voice/numbers/+61290000000", json!({"queue_id": support}))
        .await;
    let out = dir.path().join("transfer");
    let transfer_to = format!("sip:+61290000001@{sip}");
    let r = peer(&[
        "answered",
        "--server",
        &sip,
        "--username",
        "emma",
        "--password",
        "phone-secret-1",
        "--talk",
        "3",
        "--transfer-to",
        &transfer_to,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["agent_answered"], true, "{r}");
    assert_eq!(r["transferred"], true, "the phone leaves the call: {r}");
    let call = api
        .newest_call(&[
            "queued",
            "reserved",
            "active",
            "wrap_up",
            "abandoned",
            "ended",
        ])
        .await;
    let id = call["id"].as_str().unwrap();
    let events = api.get(&format!("/contacts/{id}/events")).await;
    let transferred = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "contact.transferred")
        .cloned()
        .unwrap_or_default();
    assert_eq!(transferred["payload"]["to"], sales.as_str(), "{events}");

    // Nobody to answer from here on.
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            &format!("/agents/{agent}/state"),
            Some(json!({"state": "offline"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // A queue that offers callbacks after a short wait: the caller hears
    // the offer, presses 1, hears it confirmed and is hung up; the contact
    // keeps its place as a callback.
    let (s, v) = api
        .call(
            reqwest::Method::POST,
            "/queues",
            Some(
                json!({"name": "Callbacks", "max_wait_seconds": 2, "wrap_up_seconds": 0,
                "routing_rules": {"max_wait_action": {"voice": "callback"}}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let callbacks = v["id"].as_str().unwrap().to_string();
    for name in ["callback-offer", "callback-booked"] {
        let (s, v) = api
            .upload(&format!("/voice/prompts/{name}"), wav(8_000, 1, 600.0, 0.8))
            .await;
        assert_eq!(s, 200, "{v}");
    }
    api.put(
        "/voice/numbers/+61290000000",
        json!({"queue_id": callbacks}),
    )
    .await;
    let out = dir.path().join("callback");
    let r = peer(&[
        "abandon",
        "--server",
        &sip,
        "--keys",
        "1",
        // Well after the offer is due (2 s of waiting), so a busy machine
        // that makes it late does not see the key come first.
        "--keys-after",
        "6",
        "--wait",
        "12",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["caller_answered"], true, "{r}");
    assert_eq!(r["ended_by_switchboard"], true, "{r}");
    let call = api.newest_call(&["queued"]).await;
    let id = call["id"].as_str().unwrap();
    let events = api.get(&format!("/contacts/{id}/events")).await;
    let hung_up = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "call.hung_up")
        .cloned()
        .unwrap_or_default();
    assert_eq!(hung_up["payload"]["stage"], "callback", "{events}");
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "contact.max_wait_reached"),
        "{events}"
    );

    // A caller from anywhere but the trunk is refused.
    let out = dir.path().join("stranger");
    let r = peer(&[
        "abandon",
        "--server",
        &sip,
        "--bind",
        "127.0.0.2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["caller_answered"], false, "{r}");
    assert_eq!(r["caller_code"], 403, "{r}");

    // Without the menu, with no agent available, a caller waits with music and hangs up:
    // abandoned.
    api.put("/voice/numbers/+61290000000", json!({"queue_id": support}))
        .await;
    api.put(
        &format!("/agents/{agent}/state"),
        json!({"state": "offline"}),
    )
    .await;
    let out = dir.path().join("abandon");
    let r = peer(&[
        "abandon",
        "--server",
        &sip,
        "--wait",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["caller_answered"], true, "{r}");
    assert_eq!(r["caller_hung_up"], true, "{r}");
    let (_, heard) = channels(&out.join("caller-heard.wav"));
    assert!(rms(&heard[0]) > 300.0, "the caller hears music on hold");
    let call = api.newest_call(&["abandoned"]).await;
    assert!(call["timeline"]["abandoned_at"].as_i64().is_some());
}

/// This machine's name as the server sees it.
fn node_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_cut_by_a_restart_are_closed_not_left_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = [
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ];
    let server = Server::start(&args);
    let client = http_client();
    let api = Api {
        token: demo_admin_token(&client, &server.base).await,
        client,
        base: server.base.clone(),
    };
    let queues = api.get("/queues").await;
    let support = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A call this node was holding (waiting for an agent), and one that
    // belongs to another node, and one that is no call of ours at all.
    let mut ids = Vec::new();
    for node in [node_name(), "another-node".to_string()] {
        let (s, c) = api
            .call(
                reqwest::Method::POST,
                "/contacts",
                Some(json!({"channel": "voice", "queue_id": support, "attributes": {"sip_node": node}})),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let (s, c) = api
        .call(
            reqwest::Method::POST,
            "/contacts",
            Some(json!({"channel": "voice", "queue_id": support})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    ids.push(c["id"].as_str().unwrap().to_string());
    drop(server);

    let server = Server::start(&args);
    let api = Api {
        base: server.base.clone(),
        ..api
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let c = api.get(&format!("/contacts/{}", ids[0])).await;
        if c["state"] == "abandoned" {
            break;
        }
        assert!(Instant::now() < deadline, "still {}", c["state"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = api.get(&format!("/contacts/{}/events", ids[0])).await;
    let hung_up = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "call.hung_up")
        .cloned()
        .unwrap_or_default();
    assert_eq!(hung_up["payload"]["by"], "restart", "{events}");
    for other in &ids[1..] {
        let c = api.get(&format!("/contacts/{other}")).await;
        assert_eq!(c["state"], "queued", "not ours to close: {c}");
    }
}

/// Waits for a contact to reach one of `states`.
async fn contact_in(api: &Api, id: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let c = api.get(&format!("/contacts/{id}")).await;
        if states.contains(&c["state"].as_str().unwrap_or("")) {
            return c;
        }
        assert!(Instant::now() < deadline, "still {}: {c}", c["state"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kinds(events: &Value) -> Vec<String> {
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_call_out_and_booked_callbacks_are_dialled_through_the_trunk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let server = Server::start(&[
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let sip = server.printed("udp://");
    let client = http_client();
    let api = Api {
        token: demo_admin_token(&client, &server.base).await,
        client: client.clone(),
        base: server.base.clone(),
    };
    let session = demo_session(&client, &server.base, "agent5@demo.example").await;
    let me = Api {
        token: session.clone(),
        client: client.clone(),
        base: server.base.clone(),
    };
    let agents = api.get("/agents?limit=50").await;
    let agent = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a.to_string().contains("Emma Wilson"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.put(
        &format!("/agents/{agent}/phone"),
        json!({"username": "emma", "password": "phone-secret-1"}),
    )
    .await;
    api.put(
        &format!("/agents/{agent}/state"),
        json!({"state": "available"}),
    )
    .await;

    // No trunk takes outbound calls yet; a bad number is refused first.
    let (s, v) = me
        .call(
            reqwest::Method::POST,
            "/me/calls",
            Some(json!({"to": "call me maybe"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = me
        .call(
            reqwest::Method::POST,
            "/me/calls",
            Some(json!({"to": "+61 400 111 222"})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v.to_string().contains("outbound"), "{v}");

    // Bad trunk settings are refused and change nothing.
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            "/voice/trunks/carrier",
            Some(json!({"outbound": "bad host:99999", "username": "acme"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["outbound", "caller_id", "password"], "{v}");
    let trunks = api.get("/voice/trunks").await;
    assert!(
        trunks["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["outbound"].is_null()),
        "{trunks}"
    );

    // The carrier: a user agent on a port of this machine.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let v = api
        .put(
            "/voice/trunks/carrier",
            // Outbound only: the demo's trunk already lets this machine call in.
            json!({"outbound": format!("127.0.0.1:{port}"), "caller_id": "+61290000000"}),
        )
        .await;
    assert_eq!(v["outbound"], format!("127.0.0.1:{port}"));
    assert_eq!(v["has_password"], false);
    // The SIP server reloads its directory on the change.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Click-to-call: the agent's phone rings, answers, the number is
    // called and answers; they hear each other; the called party hangs up.
    let out = dir.path().join("click");
    let port_s = port.to_string();
    let r = peer(&[
        "outbound",
        "--server",
        &sip,
        "--username",
        "emma",
        "--password",
        "phone-secret-1",
        "--api",
        &server.base,
        "--cookie",
        &session,
        "--port",
        &port_s,
        "--number",
        "+61400111222",
        "--talk",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["registration"], 200, "{r}");
    assert_eq!(r["api_status"], 201, "{r}");
    assert_eq!(r["agent_answered"], true, "{r}");
    assert_eq!(r["far_answered"], true, "{r}");
    assert_eq!(r["far_hung_up"], true, "{r}");
    assert_eq!(r["agent_hung_up"], true, "{r}");
    let (rate, agent_heard) = channels(Path::new(r["agent_heard"].as_str().unwrap()));
    let (_, far_heard) = channels(Path::new(r["far_heard"].as_str().unwrap()));
    assert!(
        tone(&agent_heard[0], rate, CALLER_TONE) > 500.0,
        "the agent hears the called party"
    );
    assert!(
        tone(&far_heard[0], rate, AGENT_TONE) > 500.0,
        "the called party hears the agent"
    );
    let id = r["contact"].as_str().unwrap().to_string();
    let c = contact_in(&api, &id, &["wrap_up", "completed"]).await;
    assert_eq!(c["direction"], "outbound", "{c}");
    assert_eq!(c["channel"], "voice", "{c}");
    assert_eq!(c["agent_id"], agent.as_str(), "{c}");
    let events = api.get(&format!("/contacts/{id}/events")).await;
    let k = kinds(&events);
    for want in ["call.dialling", "call.connected", "call.hung_up"] {
        assert!(k.iter().any(|e| e == want), "{want} in {k:?}");
    }
    let hung_up = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "call.hung_up")
        .unwrap();
    assert_eq!(hung_up["payload"]["by"], "caller", "{events}");
    assert_eq!(hung_up["payload"]["stage"], "talking", "{events}");
    let recs = api.get(&format!("/contacts/{id}/recordings")).await;
    let rec = &recs["items"][0];
    assert_eq!(rec["channels"], 2, "{recs}");
    let ms = rec["duration_ms"].as_i64().unwrap();
    assert!((2_500..6_000).contains(&ms), "{ms} ms recorded");

    // In wrap-up, the agent cannot start another call.
    let (s, v) = me
        .call(
            reqwest::Method::POST,
            "/me/calls",
            Some(json!({"to": "+61400111222"})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = me
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/wrap-up"),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // A callback booked for the agent is dialled the same way when due.
    let queues = api.get("/queues").await;
    let support = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body =
        json!({"due_at": "{now}", "phone": "+61400111222", "queue_id": support, "agent_id": agent})
            .to_string();
    let out = dir.path().join("callback");
    let r = peer(&[
        "outbound",
        "--server",
        &sip,
        "--username",
        "emma",
        "--password",
        "phone-secret-1",
        "--api",
        &server.base,
        "--cookie",
        &session,
        "--port",
        &port_s,
        "--number",
        "+61400111222",
        "--request-path",
        "/api/v1/callbacks",
        "--request-body",
        &body,
        "--talk",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["api_status"], 201, "{r}");
    assert_eq!(r["agent_answered"], true, "{r}");
    assert_eq!(r["far_answered"], true, "{r}");
    assert_eq!(r["agent_hung_up"], true, "{r}");
    let (rate, agent_heard) = channels(Path::new(r["agent_heard"].as_str().unwrap()));
    assert!(tone(&agent_heard[0], rate, CALLER_TONE) > 500.0);
    let booked = api.get("/callbacks").await;
    let contact = booked["items"][0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = contact_in(&api, &contact, &["wrap_up", "completed"]).await;
    assert_eq!(c["direction"], "outbound", "{c}");
    let k = kinds(&api.get(&format!("/contacts/{contact}/events")).await);
    assert!(k.iter().any(|e| e == "call.connected"), "{k:?}");
    let (s, v) = me
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/wrap-up"),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // A carrier that challenges (SIPp, checking the digest answer against
    // the password it knows): the right password gets the call through and
    // the agent hears their own voice echoed back; a wrong one is refused,
    // and the call ends with why.
    let sipp = which_sipp();
    for (password, good) in [("trunk-pass", true), ("wrong-pass", false)] {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let v = api
            .put(
                "/voice/trunks/carrier",
                json!({"outbound": format!("127.0.0.1:{port}"), "caller_id": "+61290000000",
                       "username": "acme", "password": password}),
            )
            .await;
        assert_eq!(v["has_password"], true, "{v}");
        assert!(!v.to_string().contains(password), "never shown: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip/carrier-auth.xml");
        let mut carrier = Command::new(&sipp)
            .args([
                "-sf",
                scenario.to_str().unwrap(),
                "-i",
                "127.0.0.1",
                "-mi",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &port.to_string(),
                "-rtp_echo",
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                "40s",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = dir.path().join(format!("carrier-{good}"));
        let r = peer(&[
            "outbound",
            "--server",
            &sip,
            "--username",
            "emma",
            "--password",
            "phone-secret-1",
            "--api",
            &server.base,
            "--cookie",
            &session,
            "--number",
            "+61400111222",
            "--far-elsewhere",
            "--out",
            out.to_str().unwrap(),
        ]);
        let _ = carrier.kill();
        let _ = carrier.wait();
        assert_eq!(r["api_status"], 201, "{r}");
        assert_eq!(r["agent_answered"], true, "{r}");
        assert_eq!(r["agent_hung_up"], true, "{r}");
        let id = r["contact"].as_str().unwrap().to_string();
        contact_in(&api, &id, &["wrap_up", "completed"]).await;
        let events = api.get(&format!("/contacts/{id}/events")).await;
        let k = kinds(&events);
        if good {
            assert!(k.iter().any(|e| e == "call.connected"), "{k:?}");
            let (rate, heard) = channels(Path::new(r["agent_heard"].as_str().unwrap()));
            assert!(
                tone(&heard[0], rate, AGENT_TONE) > 500.0,
                "the agent hears the echo through the carrier"
            );
        } else {
            assert!(!k.iter().any(|e| e == "call.connected"), "{k:?}");
            let failed = events["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["kind"] == "call.dial_failed")
                .unwrap_or_else(|| panic!("{events}"));
            assert_eq!(failed["payload"]["code"], 403, "{events}");
        }
        let (s, v) = me
            .call(
                reqwest::Method::POST,
                &format!("/contacts/{id}/wrap-up"),
                Some(json!({"disposition": "resolved"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchboard_registers_with_a_carrier_that_then_may_call_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let server = Server::start(&[
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let sip = server.printed("udp://");
    let client = http_client();
    let api = Api {
        token: demo_admin_token(&client, &server.base).await,
        client,
        base: server.base.clone(),
    };
    // The carrier sends from 127.0.0.3, which no trunk lists: refused.
    let call_in = |name: &str| {
        let out = dir.path().join(name);
        peer(&[
            "abandon",
            "--server",
            &sip,
            "--bind",
            "127.0.0.3",
            "--wait",
            "1",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let r = call_in("before");
    assert_eq!(r["caller_code"], 403, "{r}");
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            "/voice/trunks/registered",
            Some(json!({"register": true, "caller_id": "+61290000000"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("register"), "{v}");

    // The carrier: SIPp taking one registration, checking the digest.
    let port = std::net::UdpSocket::bind("127.0.0.3:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip/carrier-registrar.xml");
    let mut carrier = Command::new(which_sipp())
        .args(["-sf", scenario.to_str().unwrap(), "-i", "127.0.0.3"])
        .args([
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "30s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.put(
        "/voice/trunks/registered",
        json!({"outbound": format!("127.0.0.3:{port}"), "caller_id": "+61290000000",
               "username": "acme", "password": "trunk-pass", "register": true}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let t = api.get("/voice/trunks").await;
        let reg = t["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "registered")
            .unwrap()["registration"]
            .clone();
        if reg == "registered" {
            break;
        }
        assert!(Instant::now() < deadline, "still {reg}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = carrier.wait().unwrap();
    assert!(status.success(), "SIPp saw a good registration: {status}");

    // Registered, the carrier's calls are taken.
    let r = call_in("after");
    assert_eq!(r["caller_answered"], true, "{r}");
}

/// SIPp (Debian's sip-tester), which scripts/test.sh installs.
fn which_sipp() -> PathBuf {
    let p = std::env::var_os("SWITCHBOARD_SIPP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/sipp"));
    assert!(
        p.exists(),
        "no SIPp at {} — run scripts/test.sh once (it installs Debian's sip-tester), \
         or point SWITCHBOARD_SIPP at one",
        p.display()
    );
    p
}

/// One span (`{who}_{what}`, seconds from the start of its recording) of
/// what `who` heard.
fn heard(out: &Path, r: &Value, who: &str, file: &str, what: &str) -> (u32, Vec<f64>) {
    let (rate, chans) = channels(&out.join(format!("{file}-heard.wav")));
    let span = &r[format!("{who}_{what}")];
    let from = (span[0].as_f64().unwrap() * rate as f64) as usize;
    let to = ((span[1].as_f64().unwrap() * rate as f64) as usize).min(chans[0].len());
    assert!(to > from + rate as usize, "{who} {what}: {span}");
    (rate, chans[0][from..to].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_another_then_hands_the_call_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let server = Server::start(&[
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let sip = server.printed("udp://");
    let client = http_client();
    let api = Api {
        token: demo_admin_token(&client, &server.base).await,
        client: client.clone(),
        base: server.base.clone(),
    };
    let agents = api.get("/agents?limit=50").await;
    let id_of = |name: &str| {
        agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a.to_string().contains(name))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (emma, farid) = (id_of("Emma Wilson"), id_of("Farid Haddad"));
    // Emma takes the call; Farid becomes available once she has it.
    api.put(
        &format!("/agents/{emma}/state"),
        json!({"state": "available"}),
    )
    .await;
    api.put(
        &format!("/agents/{farid}/state"),
        json!({"state": "offline"}),
    )
    .await;
    let session = demo_session(&client, &server.base, "agent5@demo.example").await;
    let out = dir.path().join("consult");
    let args: Vec<String> = [
        "consult",
        "--server",
        &sip,
        "--username",
        "agent5",
        "--password",
        "switchboard",
        "--lead-username",
        "agent6",
        "--lead-password",
        "switchboard",
        "--consult-agent",
        &farid,
        "--api",
        &server.base,
        "--cookie",
        &session,
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let peers = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        peer(&args)
    });
    let call = api.newest_call(&["active"]).await;
    assert_eq!(call["agent_id"], emma.as_str(), "{call}");
    api.put(
        &format!("/agents/{farid}/state"),
        json!({"state": "available"}),
    )
    .await;
    let r = peers.join().unwrap();
    assert_eq!(r["agent_answered"], true, "{r}");
    assert_eq!(r["consult"][0], 204, "{r}");
    assert_eq!(r["early_complete"], 409, "not before Farid answers: {r}");
    assert_eq!(r["other_answered"], true, "{r}");
    assert_eq!(r["complete"], 204, "{r}");
    assert_eq!(r["agent_hung_up"], true, "Emma's phone is hung up: {r}");
    assert_eq!(r["other_hung_up"], true, "{r}");

    // While they consult, Emma and Farid hear each other and the caller
    // hears neither; afterwards the caller and Farid hear each other.
    let (rate, s) = heard(&out, &r, "agent", "agent", "consult");
    assert!(tone(&s, rate, LEAD_TONE) > 300.0, "Emma hears Farid");
    let (rate, s) = heard(&out, &r, "other", "lead", "consult");
    assert!(tone(&s, rate, AGENT_TONE) > 300.0, "Farid hears Emma");
    let (rate, s) = heard(&out, &r, "caller", "caller", "consult");
    assert!(
        tone(&s, rate, AGENT_TONE) < 20.0 && tone(&s, rate, LEAD_TONE) < 20.0,
        "the caller hears neither agent while they consult"
    );
    assert!(rms(&s) > 300.0, "but music");
    let (rate, s) = heard(&out, &r, "caller", "caller", "after");
    assert!(tone(&s, rate, LEAD_TONE) > 300.0, "the caller hears Farid");
    let (rate, s) = heard(&out, &r, "other", "lead", "after");
    assert!(
        tone(&s, rate, CALLER_TONE) > 300.0,
        "Farid hears the caller"
    );

    // The contact moved to Farid and closed with him; the steps are on
    // its timeline.
    let id = r["contact"].as_str().unwrap().to_string();
    let c = contact_in(&api, &id, &["wrap_up", "completed"]).await;
    assert_eq!(c["agent_id"], farid.as_str(), "{c}");
    let k = kinds(&api.get(&format!("/contacts/{id}/events")).await);
    for want in [
        "call.consult_started",
        "call.consult_answered",
        "call.consult_completed",
        "contact.transferred",
        "call.hung_up",
    ] {
        assert!(k.iter().any(|e| e == want), "{want} in {k:?}");
    }
}
