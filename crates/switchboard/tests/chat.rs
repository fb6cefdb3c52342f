//! Web chat through the binary: a WebSocket client (tokio-tungstenite)
//! plays the widget against the demo's chat widget, an agent answers
//! through the API, and `aiosmtpd` (`tests/mail/peer.py relay`) takes the
//! transcript. The browser side is in `e2e/chat.test.js`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::*;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(base: &str, widget: &str) -> Ws {
    let url = format!("{}/chat/w/{widget}/ws", base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn say(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next JSON frame (pings skipped); None when the server closed.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("no frame within 15 s")?;
        match m {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Frames until one of `kind` (returned); the others are dropped.
async fn until(ws: &mut Ws, kind: &str) -> Value {
    let mut seen = Vec::new();
    loop {
        let f = next(ws)
            .await
            .unwrap_or_else(|| panic!("closed before {kind}; saw {seen:?}"));
        if f["type"] == kind {
            return f;
        }
        seen.push(f);
    }
}

struct Relay {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Relay {
    fn start() -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(peer_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/peer.py"))
            .args(["relay", &port.to_string(), dir.path().to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Relay { child, dir, port }
    }

    async fn wait_for_first(&self) -> String {
        let p = self.dir.path().join("1.eml");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !p.exists() {
            assert!(Instant::now() < deadline, "no mail at the relay");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::fs::read_to_string(p).unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chat_contacts(api: &Api) -> Vec<Value> {
    let page = api.get("/contacts?limit=100").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "chat")
        .cloned()
        .collect()
}

fn server(dir: &str, relay: &Relay) -> Server {
    Server::start(&[
        "--data-dir",
        dir,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
        "--smtp-relay",
        &format!("smtp://127.0.0.1:{}", relay.port),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_chats_with_an_agent_through_the_widget() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut srv = server(d, &relay);
    let client = http_client();
    let admin = Api {
        token: demo_admin_token(&client, &srv.base).await,
        client: client.clone(),
        base: srv.base.clone(),
    };

    // The demo's widget, and the checks on a new one.
    let widgets = admin.get("/chat/widgets").await;
    let widget = widgets["items"][0].clone();
    let wid = widget["id"].as_str().unwrap().to_owned();
    assert_eq!(widget["transcript_from"], "support@demo.example");
    let (s, v) = admin
        .call(
            reqwest::Method::POST,
            "/chat/widgets",
            Some(json!({"name": "Shop", "queue_id": widget["queue_id"],
                "allowed_origins": ["https://shop.example/path", "https://ok.example"],
                "transcript_from": "nobody@elsewhere.example"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["allowed_origins[0]", "transcript_from"], "{v}");
    let (s, shop) = admin
        .call(
            reqwest::Method::POST,
            "/chat/widgets",
            Some(json!({"name": "Shop", "queue_id": widget["queue_id"],
                "allowed_origins": ["https://Shop.Example/"]})),
        )
        .await;
    assert_eq!(s, 201, "{shop}");
    assert_eq!(shop["allowed_origins"], json!(["https://shop.example"]));

    // Only the widget's page may be framed, and only by its sites.
    let page = client
        .get(format!(
            "{}/chat/w/{}",
            srv.base,
            shop["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'self' https://shop.example"),
        "{csp}"
    );
    assert!(page.headers().get("x-frame-options").is_none());
    let login = client
        .get(format!("{}/login", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    let url = format!(
        "{}/chat/w/{}/ws",
        srv.base.replace("http://", "ws://"),
        uuid_like()
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 404),
        other => panic!("an unknown widget opened a socket: {:?}", other.map(|_| ())),
    }

    // The pre-chat form: a bad one is told what is wrong, then a good one
    // opens the chat, waiting first in the queue.
    let mut ws = open(&srv.base, &wid).await;
    say(&mut ws, json!({"type": "start", "name": " ", "email": "not-an-address", "question": "Hi", "client_id": "q1"})).await;
    let e = until(&mut ws, "error").await;
    let fields: Vec<&str> = e["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "email"], "{e}");
    say(
        &mut ws,
        json!({"type": "start", "name": "Kiri <b>Tane</b>", "email": "kiri@customer.example",
        "question": "Where is my order?", "client_id": "q1"}),
    )
    .await;
    let session = until(&mut ws, "session").await;
    let token = session["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sbc_"));
    assert_eq!(session["transcripts"], true);
    let first = until(&mut ws, "message").await;
    assert_eq!(first["from"], "customer");
    assert_eq!(first["text"], "Where is my order?");
    assert_eq!(first["client_id"], "q1");
    let waiting = until(&mut ws, "waiting").await;
    assert_eq!(waiting["position"], 1, "{waiting}");

    let contacts = chat_contacts(&admin).await;
    assert_eq!(contacts.len(), 1);
    let contact = contacts[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(contacts[0]["state"], "queued");
    assert_eq!(contacts[0]["subject"], "Where is my order?");

    // A message is acknowledged once stored; sent again (no ack seen), it
    // is kept once.
    say(
        &mut ws,
        json!({"type": "message", "client_id": "m1", "text": "Order 1234"}),
    )
    .await;
    let ack = until(&mut ws, "ack").await;
    assert_eq!(ack["client_id"], "m1");
    say(
        &mut ws,
        json!({"type": "message", "client_id": "m1", "text": "Order 1234"}),
    )
    .await;
    let again = until(&mut ws, "ack").await;
    assert_eq!(again["id"], ack["id"]);

    // Emma takes it; the widget names her. She types, then answers.
    let emma = emma_takes(&admin, &contact).await;
    let agent = until(&mut ws, "agent").await;
    assert_eq!(agent["name"], "Emma Wilson");
    let (s, v) = emma
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/typing"),
            Some(json!({"on": true})),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(until(&mut ws, "typing").await["on"], true);
    let (s, v) = emma
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/messages"),
            Some(json!({"text": "It ships <today>."})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "sent");
    let reply = until(&mut ws, "message").await;
    assert_eq!(reply["from"], "agent");
    assert_eq!(reply["name"], "Emma Wilson");
    assert_eq!(reply["text"], "It ships <today>.");
    let seen_last = reply["id"].as_str().unwrap().to_owned();

    // The widget drops; Emma writes meanwhile. Back with what it saw last,
    // it gets only what it missed, and resends what was not acknowledged.
    drop(ws);
    let (s, _) = emma
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/messages"),
            Some(json!({"text": "Anything else?"})),
        )
        .await;
    assert_eq!(s, 201);
    let mut ws = open(&srv.base, &wid).await;
    say(
        &mut ws,
        json!({"type": "resume", "token": token, "after": seen_last}),
    )
    .await;
    let s2 = until(&mut ws, "session").await;
    assert!(s2.get("token").is_none(), "the secret is given once: {s2}");
    let missed = until(&mut ws, "message").await;
    assert_eq!(missed["text"], "Anything else?");
    assert_eq!(until(&mut ws, "agent").await["name"], "Emma Wilson");
    say(
        &mut ws,
        json!({"type": "message", "client_id": "m2", "text": "No, thanks"}),
    )
    .await;
    assert_eq!(until(&mut ws, "ack").await["client_id"], "m2");

    // The thread as the desk reads it: every message once, in order.
    let conv = emma.get(&format!("/contacts/{contact}/messages")).await;
    let texts: Vec<&str> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Where is my order?",
            "Order 1234",
            "It ships <today>.",
            "Anything else?",
            "No, thanks"
        ]
    );
    assert_eq!(conv["customer_name"], "Kiri <b>Tane</b>");

    // A flood: past the burst, messages are rejected (not stored).
    for i in 0..25 {
        say(
            &mut ws,
            json!({"type": "message", "client_id": format!("f{i}"), "text": format!("flood {i}")}),
        )
        .await;
    }
    let (mut acked, mut rejected) = (0, 0);
    while acked + rejected < 25 {
        let f = next(&mut ws).await.unwrap();
        match f["type"].as_str().unwrap() {
            "ack" => acked += 1,
            "rejected" => {
                rejected += 1;
                assert!(f["reason"].as_str().unwrap().contains("too many"), "{f}");
            }
            _ => {}
        }
    }
    assert!(
        rejected >= 10 && acked >= 8,
        "acked {acked}, rejected {rejected}"
    );
    let conv = emma.get(&format!("/contacts/{contact}/messages")).await;
    let floods = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"].as_str().unwrap().starts_with("flood"))
        .count();
    assert_eq!(floods, acked);

    // A file from the customer: the agent sees it; the customer may fetch
    // it again with the session's secret, nobody else.
    let files = format!("{}/chat/w/{wid}/files", srv.base);
    let r = client
        .post(format!("{files}?name=receipt.pdf&client_id=file1"))
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4 receipt".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    let fid = m["files"][0]["id"].as_str().unwrap().to_owned();
    let r = client
        .post(format!("{files}?name=x.bin&client_id=file2"))
        .bearer_auth("sbc_wrong")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // (Its own connection: the server answers 413 without reading the
    // rest and closes it.)
    let r = http_client()
        .post(format!("{files}?name=big.bin&client_id=file3"))
        .bearer_auth(&token)
        .body(vec![0u8; 6 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let got = client
        .get(format!("{files}/{fid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"%PDF-1.4 receipt");
    let conv = emma.get(&format!("/contacts/{contact}/messages")).await;
    let with_file = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| !m["attachments"].as_array().unwrap().is_empty())
        .unwrap()
        .clone();
    assert_eq!(with_file["attachments"][0]["filename"], "receipt.pdf");
    assert_eq!(with_file["attachments"][0]["bytes"], 16);

    // Another widget's address does not open this session.
    let mut other = open(&srv.base, shop["id"].as_str().unwrap()).await;
    say(&mut other, json!({"type": "resume", "token": token})).await;
    assert_eq!(
        until(&mut other, "error").await["message"],
        "the chat session is not known"
    );
    assert!(next(&mut other).await.is_none(), "the socket closes");

    // The transcript by email, from the widget's address.
    say(&mut ws, json!({"type": "transcript"})).await;
    assert_eq!(until(&mut ws, "transcript").await["sent"], true);
    let mail = relay.wait_for_first().await;
    assert!(mail.contains("kiri@customer.example"), "{mail}");
    assert!(mail.contains("Auto-Submitted: auto-replied"), "{mail}");
    assert!(mail.contains("It ships <today>."), "{mail}");
    assert!(mail.contains(&format!("[#{}]", session["reference"].as_str().unwrap())));

    // Acknowledged is durable: killed at once, the server comes back with
    // the chat as it was. (The flood spent the allowance: wait for more.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    say(
        &mut ws,
        json!({"type": "message", "client_id": "last", "text": "Before the crash"}),
    )
    .await;
    assert_eq!(until(&mut ws, "ack").await["client_id"], "last");
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    drop(srv);
    let srv = server(d, &relay);
    let mut ws = open(&srv.base, &wid).await;
    say(
        &mut ws,
        json!({"type": "resume", "token": token, "after": seen_last}),
    )
    .await;
    until(&mut ws, "session").await;
    let mut texts = Vec::new();
    loop {
        let f = next(&mut ws).await.unwrap();
        if f["type"] != "message" {
            break;
        }
        texts.push(f["text"].as_str().unwrap().to_owned());
    }
    assert_eq!(texts.last().map(String::as_str), Some("Before the crash"));
    assert_eq!(texts.iter().filter(|t| *t == "No, thanks").count(), 1);

    // Emma completes the chat: the widget hears it is over.
    let client = http_client();
    let emma = Api {
        token: demo_session(&client, &srv.base, "agent5@demo.example").await,
        client,
        base: srv.base.clone(),
    };
    let (s, v) = emma
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{contact}/complete"),
            Some(json!({})),
        )
        .await;
    assert!(s == 200 || s == 204, "{s} {v}");
    until(&mut ws, "ended").await;
}

/// A widget that leaves while waiting abandons its contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_while_waiting_abandons_the_chat() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path().to_str().unwrap(), &relay);
    let client = http_client();
    let admin = Api {
        token: demo_admin_token(&client, &srv.base).await,
        client: client.clone(),
        base: srv.base.clone(),
    };
    let wid = admin.get("/chat/widgets").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = open(&srv.base, &wid).await;
    // Not JSON, or not a greeting: told, and may try again.
    ws.send(Message::text("{not json")).await.unwrap();
    until(&mut ws, "error").await;
    say(
        &mut ws,
        json!({"type": "message", "client_id": "x", "text": "hi"}),
    )
    .await;
    assert!(
        until(&mut ws, "error").await["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("start or resume")
    );
    say(
        &mut ws,
        json!({"type": "start", "name": "Ana", "question": "Hello?", "client_id": "q"}),
    )
    .await;
    let session = until(&mut ws, "session").await;
    assert_eq!(session["transcripts"], false, "no email, no transcript");
    until(&mut ws, "waiting").await;
    say(&mut ws, json!({"type": "end"})).await;
    until(&mut ws, "ended").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = chat_contacts(&admin).await;
        if c[0]["state"] == "abandoned" {
            break;
        }
        assert!(Instant::now() < deadline, "{c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn uuid_like() -> &'static str {
    "01900000-0000-7000-8000-000000000000"
}
