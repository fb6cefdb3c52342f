//! The email channel with real mail peers: Python's `smtplib` sends to the
//! binary's SMTP listener, and `aiosmtpd` stands in as the relay replies and
//! acknowledgements go out through (`tests/mail/peer.py`). The peers run
//! under `$SWITCHBOARD_SIP_PYTHON`, else `target/sip-venv/bin/python`
//! (scripts/test.sh installs aiosmtpd there).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/peer.py")
}

/// Sends `raw` with smtplib; what happened.
fn send(smtp: &str, from: &str, to: &str, raw: &str) -> Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), raw).unwrap();
    let out = Command::new(peer_python())
        .arg(script())
        .args(["send", smtp, from, to, file.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "smtplib said nothing useful: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}

/// A peer from `tests/mail/peer.py` that keeps what it is given in a
/// directory: the aiosmtpd relay, or the stand-in SMS provider.
struct Peer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Peer {
    fn start() -> Peer {
        Peer::start_as("relay")
    }

    /// `relay` (aiosmtpd) or `fake-twilio` (an HTTP stand-in for the SMS
    /// provider's API).
    fn start_as(mode: &str) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(peer_python())
            .arg(script())
            .args([mode, &port.to_string(), dir.path().to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the relay did not start");
        Peer { child, dir, port }
    }

    /// The messages taken so far, in order: (raw message, envelope).
    fn messages(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for n in 1.. {
            let eml = self.dir.path().join(format!("{n}.eml"));
            if !eml.exists() {
                break;
            }
            let env = std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).unwrap();
            out.push((
                std::fs::read_to_string(eml).unwrap(),
                serde_json::from_str(&env).unwrap(),
            ));
        }
        out
    }

    /// The fake provider's `n`-th request (waiting for it).
    async fn wait_for_post(&self, n: usize) -> Value {
        let path = self.dir.path().join(format!("{n}.json"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !path.exists() {
            assert!(Instant::now() < deadline, "no request {n} at the provider");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Waits for the `n`-th message.
    async fn wait_for(&self, n: usize) -> (String, Value) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.messages();
            if all.len() >= n {
                return all[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "the relay has {} of {n} messages",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header's value in a raw message (unfolded).
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

impl Api {
    async fn email_contacts(&self) -> Vec<Value> {
        let page = self.get("/contacts?limit=100").await;
        let mut v: Vec<Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["channel"] == "email")
            .cloned()
            .collect();
        v.sort_by_key(|c| c["id"].as_str().unwrap().to_owned());
        v
    }

    /// Waits until there are `n` email contacts; the newest.
    async fn nth_email_contact(&self, n: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let all = self.email_contacts().await;
            if all.len() >= n {
                return all[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} email contacts",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const CUSTOMER: &str = "kiri@customer.example";

fn first_message() -> String {
    format!(
        "From: Kiri Tane <{CUSTOMER}>\r\nTo: Demo Support <support@demo.example>\r\nSubject: Broken router\r\n\
Message-ID: <c1@customer.example>\r\nDate: Fri, 27 Nov 2026 10:00:00 +1300\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy router's lights are all red.\r\n\
--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>My router's lights are <b>all red</b>.<script>steal()</script>\
<img src=\"https://tracker.example/open.gif\"></p>\r\n--alt--\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_write_agents_answer_and_the_thread_holds() {
    let relay = Peer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let relay_url = format!("smtp://127.0.0.1:{}", relay.port);
    let server = Server::start(&[
        "--data-dir",
        d,
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
        "--smtp-max-bytes",
        "200000",
        "--smtp-relay",
        &relay_url,
    ]);
    let smtp = server.printed("smtp://");
    let client = http_client();
    let admin = Api {
        token: demo_admin_token(&client, &server.base).await,
        client: client.clone(),
        base: server.base.clone(),
    };
    let addresses = admin.get("/email/addresses").await;
    assert_eq!(
        addresses["items"].as_array().unwrap().len(),
        2,
        "{addresses}"
    );
    // Support's first-reply target: an hour.
    let support_id = addresses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "support@demo.example")
        .unwrap()["queue_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut rules = admin.get(&format!("/queues/{support_id}")).await["routing_rules"].clone();
    rules["first_response_seconds"] = json!(3600);
    let (s, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/queues/{support_id}"),
            Some(json!({"routing_rules": rules})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // Mail for an address nobody has is refused at RCPT, never dropped.
    let r = send(&smtp, CUSTOMER, "nobody@demo.example", &first_message());
    assert_eq!(r, json!({"ok": false, "code": 550, "stage": "rcpt"}));
    assert!(admin.email_contacts().await.is_empty());

    // A customer writes: a contact in Support, and an acknowledgement with
    // the conversation's reference, threaded under their message.
    let r = send(&smtp, CUSTOMER, "support@demo.example", &first_message());
    assert_eq!(r, json!({"ok": true}));
    let contact = admin.nth_email_contact(1).await;
    let id = contact["id"].as_str().unwrap().to_owned();
    assert_eq!(contact["from_address"], CUSTOMER);
    assert_eq!(contact["subject"], "Broken router");
    let (ack, env) = relay.wait_for(1).await;
    assert_eq!(env["mail_from"], "support@demo.example");
    assert_eq!(env["rcpt_tos"], json!([CUSTOMER]));
    assert_eq!(
        header(&ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(&ack, "In-Reply-To").as_deref(),
        Some("<c1@customer.example>")
    );
    let subject = header(&ack, "Subject").unwrap();
    let reference = subject
        .split("[#")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("no reference in {subject}"))
        .to_owned();
    assert_eq!(subject, format!("Re: Broken router [#{reference}]"));
    assert!(ack.contains(&reference));

    // The conversation as the desk reads it: HTML made safe.
    let conv = admin.get(&format!("/contacts/{id}/messages")).await;
    assert_eq!(conv["reference"], reference.as_str());
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{conv}");
    assert_eq!(msgs[0]["direction"], "in");
    assert!(msgs[0]["text"].as_str().unwrap().contains("all red"));
    let html = msgs[0]["html"].as_str().unwrap();
    assert!(
        html.contains("<b>all red</b>") && !html.contains("script") && !html.contains("tracker"),
        "{html}"
    );
    assert_eq!(msgs[0]["remote_images_blocked"], true);
    assert_eq!(msgs[1]["automatic"], "acknowledgement");

    // Emma takes it (an agent of Support), signs and answers.
    let agent = emma_takes(&admin, &id).await;
    let (s, v) = agent
        .call(
            reqwest::Method::PUT,
            "/me/signature",
            Some(json!({"signature": "Emma Wilson\nDemo Support"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // An empty reply is refused and sends nothing.
    let (s, _) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/messages"),
            Some(json!({"text": "  "})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/messages"),
            Some(
                json!({"text": "Kia ora Kiri,\n\nPlease hold the reset button for ten seconds.",
                "attachments": [{"filename": "steps.txt", "content_base64": "not base64!"}]}),
            ),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["errors"][0]["field"], "attachments[0].content_base64",
        "{v}"
    );
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/messages"),
            Some(
                json!({"text": "Kia ora Kiri,\n\nPlease hold the reset button for ten seconds.",
                "attachments": [{"filename": "../steps.txt", "content_type": "text/plain",
                    "content_base64": "SG9sZCB0aGUgcmVzZXQgYnV0dG9uIGZvciAxMCBzLg=="}]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["attachments"][0]["filename"], "steps.txt", "{v}");
    let file_id = v["attachments"][0]["id"].as_str().unwrap().to_owned();
    let download = agent
        .client
        .get(format!("{}/api/v1/attachments/{file_id}", agent.base))
        .header("cookie", &agent.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"steps.txt\""
    );
    assert_eq!(
        download.bytes().await.unwrap().as_ref(),
        b"Hold the reset button for 10 s."
    );
    let (reply, env) = relay.wait_for(2).await;
    assert_eq!(env["rcpt_tos"], json!([CUSTOMER]));
    assert_eq!(header(&reply, "Auto-Submitted"), None);
    assert_eq!(
        header(&reply, "In-Reply-To").as_deref(),
        Some("<c1@customer.example>")
    );
    assert!(
        header(&reply, "References")
            .unwrap()
            .contains("<c1@customer.example>")
    );
    assert_eq!(header(&reply, "Subject").unwrap(), subject);
    let reply_id = header(&reply, "Message-ID").unwrap();
    assert!(
        reply.contains("ten seconds") && reply.contains("-- \r\nEmma Wilson"),
        "{reply}"
    );
    assert!(
        reply.contains("filename=\"steps.txt\"")
            && reply.contains("Hold the reset button for 10 s."),
        "{reply}"
    );

    // The customer answers the reply: the same contact, no second
    // acknowledgement.
    let answer = format!(
        "From: {CUSTOMER}\r\nTo: support@demo.example\r\nSubject: Re: {subject}\r\nMessage-ID: <c2@customer.example>\r\n\
In-Reply-To: {reply_id}\r\nReferences: <c1@customer.example> {reply_id}\r\n\r\nThat fixed it, thanks!\r\n"
    );
    assert_eq!(
        send(&smtp, CUSTOMER, "support@demo.example", &answer),
        json!({"ok": true})
    );
    let conv = agent.get(&format!("/contacts/{id}/messages")).await;
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "{conv}");
    assert_eq!(msgs[2]["status"], "sent");
    assert_eq!(msgs[3]["contact_id"], id.as_str());
    assert!(msgs[3]["text"].as_str().unwrap().contains("fixed it"));
    assert_eq!(admin.email_contacts().await.len(), 1);

    // The same message delivered again (a retry) is not stored twice.
    assert_eq!(
        send(&smtp, CUSTOMER, "support@demo.example", &answer),
        json!({"ok": true})
    );
    let conv = agent.get(&format!("/contacts/{id}/messages")).await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 4);

    // Emma finishes; a later mail carrying only the reference reopens the
    // conversation as a new contact, with its history.
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/complete"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/wrap-up"),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let later = format!(
        "From: {CUSTOMER}\r\nTo: support@demo.example\r\nSubject: It is red again [#{reference}]\r\n\
Message-ID: <c3@customer.example>\r\n\r\nThe lights are red again.\r\n"
    );
    assert_eq!(
        send(&smtp, CUSTOMER, "support@demo.example", &later),
        json!({"ok": true})
    );
    let second = admin.nth_email_contact(2).await;
    let second_id = second["id"].as_str().unwrap();
    assert_ne!(second_id, id);
    let conv2 = admin.get(&format!("/contacts/{second_id}/messages")).await;
    assert_eq!(conv2["id"], conv["id"]);
    assert_eq!(conv2["messages"].as_array().unwrap().len(), 5);
    // Someone else using the reference, or answering the customer's own
    // Message-ID, does not get into the conversation.
    let stranger = format!(
        "From: eve@elsewhere.example\r\nTo: support@demo.example\r\nSubject: Hi [#{reference}]\r\n\
Message-ID: <e1@elsewhere.example>\r\nIn-Reply-To: <c1@customer.example>\r\n\r\nLet me in.\r\n"
    );
    assert_eq!(
        send(
            &smtp,
            "eve@elsewhere.example",
            "support@demo.example",
            &stranger
        ),
        json!({"ok": true})
    );
    let third = admin.nth_email_contact(3).await;
    let conv3 = admin
        .get(&format!(
            "/contacts/{}/messages",
            third["id"].as_str().unwrap()
        ))
        .await;
    assert_ne!(conv3["id"], conv["id"]);
    assert_ne!(conv3["reference"], reference.as_str());
    // Nobody auto-replies to an auto-reply, a list or a bounce, so the
    // relay has: the first acknowledgement, the reply, and the
    // acknowledgement to the stranger's new conversation.
    let auto = "From: robot@customer.example\r\nTo: sales@demo.example\r\nSubject: Out of office\r\n\
Auto-Submitted: auto-replied\r\nMessage-ID: <ooo@customer.example>\r\n\r\nAway until Monday.\r\n";
    assert_eq!(
        send(&smtp, "robot@customer.example", "sales@demo.example", auto),
        json!({"ok": true})
    );
    let bounce = "From: MAILER-DAEMON@customer.example\r\nTo: support@demo.example\r\nSubject: Undelivered\r\n\
Message-ID: <b1@customer.example>\r\n\r\nGone.\r\n";
    assert_eq!(
        send(&smtp, "", "support@demo.example", bounce),
        json!({"ok": true})
    );
    admin.nth_email_contact(5).await;
    relay.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(relay.messages().len(), 3, "only people are acknowledged");
    let sales = admin.nth_email_contact(4).await;
    let queues = admin.get("/queues").await;
    let sales_queue = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Sales")
        .unwrap()["id"]
        .clone();
    assert_eq!(sales["queue_id"], sales_queue);

    // Service levels: Support has a first-reply target of an hour, met for
    // the first contact; Sales gets targets of a second, so its unanswered
    // auto-reply contact is soon overdue on both.
    let sales_id = sales_queue.as_str().unwrap().to_owned();
    let mut rules = admin.get(&format!("/queues/{sales_id}")).await["routing_rules"].clone();
    rules["first_response_seconds"] = json!(0);
    let (s, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/queues/{sales_id}"),
            Some(json!({"routing_rules": rules})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    rules["first_response_seconds"] = json!(1);
    rules["resolution_seconds"] = json!(1);
    let (s, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/queues/{sales_id}"),
            Some(json!({"routing_rules": rules})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let levels = admin.get("/email/service-levels").await;
    let of = |q: &str| {
        levels["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["queue_id"] == q)
            .cloned()
            .unwrap()
    };
    let s_sales = of(&sales_id);
    assert_eq!(s_sales["open"], 1, "{s_sales}");
    assert_eq!(s_sales["awaiting_first_response"], 1, "{s_sales}");
    assert_eq!(s_sales["first_response_overdue"], 1, "{s_sales}");
    assert_eq!(s_sales["resolution_overdue"], 1, "{s_sales}");
    assert!(s_sales["oldest_awaiting_ms"].as_i64().unwrap() >= 1000);
    let s_support = of(&support_id);
    assert_eq!(s_support["first_response_seconds"], 3600, "{s_support}");
    assert_eq!(s_support["answered_today"], 1, "{s_support}");
    assert_eq!(s_support["answered_today_in_time"], 1, "{s_support}");
    assert_eq!(s_support["resolved_today"], 1, "{s_support}");
    assert_eq!(s_support["open"], 3, "{s_support}");
    assert_eq!(s_support["awaiting_first_response"], 3, "{s_support}");
    assert_eq!(s_support["first_response_overdue"], 0, "{s_support}");

    // Hostile mail: too large (552), a MIME bomb (554); nothing is stored.
    let big = format!(
        "From: {CUSTOMER}\r\nTo: support@demo.example\r\nSubject: big\r\n\r\n{}",
        format!("{}\r\n", "x".repeat(76)).repeat(3000)
    );
    let r = send(&smtp, CUSTOMER, "support@demo.example", &big);
    assert_eq!(r["code"], 552, "{r}");
    let mut bomb = format!(
        "From: {CUSTOMER}\r\nTo: support@demo.example\r\nSubject: bomb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    );
    for _ in 0..1000 {
        bomb.push_str("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n");
    }
    bomb.push_str("--b--\r\n");
    let r = send(&smtp, CUSTOMER, "support@demo.example", &bomb);
    assert_eq!(r["code"], 554, "{r}");
    assert!(r["text"].as_str().unwrap().contains("MIME parts"), "{r}");
    assert_eq!(admin.email_contacts().await.len(), 5);

    // The timeline has the messages; another tenant's reader cannot see them.
    let timeline = admin.get(&format!("/contacts/{id}/events")).await;
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["message.received", "message.queued", "message.sent"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
}

/// Mail acknowledged with 250 survives the server being killed (SIGKILL)
/// mid-stream: after a restart every acknowledged message is stored, each
/// with its contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_mail_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let args = [
        "--data-dir",
        d.as_str(),
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ];
    let mut server = Server::start(&args);
    let smtp = server.printed("smtp://");
    let acked_file = dir.path().join("acked.txt");
    let mut senders: Vec<Child> = (0..3)
        .map(|_| {
            Command::new(peer_python())
                .arg(script())
                .args([
                    "stream",
                    &smtp,
                    "support@demo.example",
                    "100000",
                    acked_file.to_str().unwrap(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    loop {
        let n = std::fs::read_to_string(&acked_file)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n >= 150 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL, mid-stream
    server.child.wait().unwrap();
    for s in &mut senders {
        s.wait().unwrap();
    }
    drop(server);
    let acked: Vec<String> = std::fs::read_to_string(&acked_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(acked.len() >= 150, "the load ran: {}", acked.len());

    // Restarted on the same data: every acknowledged message is there,
    // and no stored message is without its contact.
    let server = Server::start(&args);
    let check = r#"
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "/switchboard.db?mode=ro", uri=True)
stored = {r[0] for r in db.execute("select message_id from messages where direction = 'in'")}
acked = [l.strip() for l in open(sys.argv[2]) if l.strip()]
missing = [a for a in acked if a not in stored]
orphans = db.execute("select count(*) from messages m left join contacts c on c.id = m.contact_id where m.direction = 'in' and c.id is null").fetchone()[0]
dups = db.execute("select count(*) from (select message_id from messages where direction = 'in' group by message_id having count(*) > 1)").fetchone()[0]
print(len(acked), len(stored), len(missing), orphans, dups)
"#;
    let out = Command::new("python3")
        .args(["-c", check, &d, acked_file.to_str().unwrap()])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let n: Vec<usize> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(
        n.len(),
        5,
        "{line} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (acked_n, stored, missing, orphans, dups) = (n[0], n[1], n[2], n[3], n[4]);
    eprintln!("acknowledged {acked_n}, stored {stored}");
    assert_eq!(missing, 0, "acknowledged but lost: {line}");
    assert!(stored >= acked_n);
    assert_eq!(orphans, 0, "messages without their contact: {line}");
    assert_eq!(dups, 0, "messages stored twice: {line}");
    // And the restarted server takes mail again.
    let smtp = server.printed("smtp://");
    let r = send(
        &smtp,
        CUSTOMER,
        "support@demo.example",
        "From: kiri@customer.example\r\nSubject: after\r\nMessage-ID: <after@customer.example>\r\n\r\nstill there?\r\n",
    );
    assert_eq!(r, json!({"ok": true}));
}

/// Posts a provider webhook, signed with `token` (or not at all).
async fn webhook(
    client: &reqwest::Client,
    base: &str,
    params: &[(&str, &str)],
    token: Option<&str>,
) -> u16 {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut r = client
        .post(format!("{base}/api/v1/sms/twilio"))
        .form(&owned);
    if let Some(t) = token {
        r = r.header(
            "x-twilio-signature",
            sb_app::sms::twilio_signature(t, SMS_WEBHOOK, &owned),
        );
    }
    r.send().await.unwrap().status().as_u16()
}

const SMS_WEBHOOK: &str = "https://switchboard.example/api/v1/sms/twilio";
const OURS: &str = "+61480000000";
const THEIRS: &str = "+61412345678";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_arrive_by_signed_webhook_and_replies_go_through_the_provider() {
    let provider = Peer::start_as("fake-twilio");
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
    let client = http_client();
    let admin = Api {
        token: demo_admin_token(&client, &server.base).await,
        client: client.clone(),
        base: server.base.clone(),
    };
    let queues = admin.get("/queues").await;
    let support = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "Support")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = admin
        .call(
            reqwest::Method::PUT,
            "/sms/account",
            Some(json!({"provider": "twilio", "account_sid": "AC123", "auth_token": "tok456",
                "api_base": format!("http://127.0.0.1:{}", provider.port), "webhook_url": SMS_WEBHOOK})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let account = admin.get("/sms/account").await;
    assert_eq!(account["has_token"], true);
    assert!(
        !account.to_string().contains("tok456"),
        "the token is never shown"
    );
    let (s, v) = admin
        .call(
            reqwest::Method::PUT,
            "/sms/numbers/0480000000",
            Some(json!({"queue_id": support})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = admin
        .call(
            reqwest::Method::PUT,
            &format!("/sms/numbers/{OURS}"),
            Some(json!({"queue_id": support})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let text = |sid: &'static str, body: &'static str| {
        vec![
            ("AccountSid", "AC123"),
            ("MessageSid", sid),
            ("From", THEIRS),
            ("To", OURS),
            ("Body", body),
        ]
    };
    // Unsigned, badly signed, or for a number nobody has: refused, nothing stored.
    assert_eq!(
        webhook(&client, &server.base, &text("SM1", "Hi"), None).await,
        401
    );
    assert_eq!(
        webhook(&client, &server.base, &text("SM1", "Hi"), Some("wrong")).await,
        401
    );
    let mut elsewhere = text("SM1", "Hi");
    elsewhere[3] = ("To", "+61480000009");
    assert_eq!(
        webhook(&client, &server.base, &elsewhere, Some("tok456")).await,
        401,
        "a number not held here is refused like a bad signature"
    );
    assert!(
        admin.get("/contacts?limit=50").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["channel"] != "sms")
    );

    // Signed: an sms contact in Support. Replayed: nothing more.
    assert_eq!(
        webhook(
            &client,
            &server.base,
            &text("SM1", "Where is my order?"),
            Some("tok456")
        )
        .await,
        200
    );
    assert_eq!(
        webhook(
            &client,
            &server.base,
            &text("SM1", "Where is my order?"),
            Some("tok456")
        )
        .await,
        200
    );
    let sms: Vec<Value> = admin.get("/contacts?limit=50").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "sms")
        .cloned()
        .collect();
    assert_eq!(sms.len(), 1, "{sms:?}");
    let id = sms[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(sms[0]["queue_id"], support.as_str());
    assert_eq!(sms[0]["from_address"], THEIRS);
    let conv = admin.get(&format!("/contacts/{id}/messages")).await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1, "{conv}");
    assert_eq!(conv["messages"][0]["text"], "Where is my order?");

    // Emma takes it and answers; the provider is asked to send it.
    let agent = emma_takes(&admin, &id).await;
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/messages"),
            Some(json!({"text": "It is on its way."})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let post = provider.wait_for_post(1).await;
    assert_eq!(post["path"], "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(post["authorization"], "Basic QUMxMjM6dG9rNDU2"); // AC123:tok456
    assert_eq!(
        post["form"],
        json!({"From": OURS, "To": THEIRS, "Body": "It is on its way."})
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let conv = agent.get(&format!("/contacts/{id}/messages")).await;
        if conv["messages"][1]["status"] == "sent" {
            break;
        }
        assert!(Instant::now() < deadline, "{conv}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The customer's next text joins the open contact, live.
    assert_eq!(
        webhook(
            &client,
            &server.base,
            &text("SM2", "Thanks!"),
            Some("tok456")
        )
        .await,
        200
    );
    let conv = agent.get(&format!("/contacts/{id}/messages")).await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 3, "{conv}");

    // STOP: nothing more is sent to them, and the agent is told why.
    assert_eq!(
        webhook(
            &client,
            &server.base,
            &text("SM3", " stop "),
            Some("tok456")
        )
        .await,
        200
    );
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/messages"),
            Some(json!({"text": "One more thing"})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("opted out"), "{v}");
    // START lifts it.
    assert_eq!(
        webhook(&client, &server.base, &text("SM4", "START"), Some("tok456")).await,
        200
    );
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/contacts/{id}/messages"),
            Some(json!({"text": "One more thing"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    provider.wait_for_post(2).await;
}
