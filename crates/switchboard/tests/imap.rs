//! IMAP polling against a real IMAP server: Dovecot (Debian's
//! `dovecot-imapd`, which scripts/test.sh installs) runs on a free port
//! with a mailbox in a temporary directory, and Python's `imaplib`
//! (`tests/mail/peer.py imap`) puts mail into it and reads its flags, as a
//! mail provider and another mail client would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::*;

const USER: &str = "support";
const PASSWORD: &str = "imap-secret-1";

/// A Dovecot serving one account on 127.0.0.1: IMAP on `port`, and with
/// TLS, IMAP over TLS on `tls_port` (its certificate, for `localhost` only,
/// signed by the authority in `ca.pem`).
struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Makes a certificate authority (`ca.pem`) and a server certificate for
/// `localhost` it signed (`server.pem`, `server.key`) in `d`, with openssl.
fn make_certificates(d: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(d)
            .args(args)
            .output()
            .expect("openssl is needed to make the test's certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Switchboard test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// `$SWITCHBOARD_DOVECOT`, else Debian's.
fn dovecot_binary() -> PathBuf {
    let p = std::env::var_os("SWITCHBOARD_DOVECOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/dovecot"));
    assert!(
        p.exists(),
        "no dovecot at {}: install Debian's dovecot-imapd (scripts/test.sh does)",
        p.display()
    );
    p
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Dovecot {
    fn start(tls: bool) -> Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let tls_port = if tls { free_port() } else { 0 };
        if tls {
            make_certificates(d);
        }
        std::fs::create_dir(d.join("run")).unwrap();
        std::fs::create_dir(d.join("mail")).unwrap();
        // Dovecot's own processes must reach the directory.
        set_mode(d, 0o755);
        // As root, Dovecot's login processes run as its own users (it
        // refuses root for them) and the mail as `dovecot`; otherwise all
        // of it runs as whoever runs the tests.
        let root = id("-u") == "0";
        let (login, internal, group, mail_user) = if root {
            (
                "dovenull".into(),
                "dovecot".into(),
                "dovecot".into(),
                "dovecot".into(),
            )
        } else {
            (id("-un"), id("-un"), id("-gn"), id("-un"))
        };
        if root {
            let ok = Command::new("chown")
                .args(["dovecot:dovecot", d.join("mail").to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let dp = d.display();
        let conf = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {dp}/run\nstate_dir = {dp}/run\n\
log_path = {dp}/dovecot.log\n{ssl}\ndisable_plaintext_auth = no\nauth_mechanisms = plain\n\
default_login_user = {login}\ndefault_internal_user = {internal}\ndefault_internal_group = {group}\n\
first_valid_uid = 0\nmail_location = maildir:{dp}/mail/%u\n\
passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {dp}/passwd\n}}\n\
userdb {{\n  driver = static\n  args = uid={mail_user} gid={mail_user} home={dp}/mail/%u\n}}\n\
service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n  }}\n}}\n",
            ssl = if tls {
                format!("ssl = yes\nssl_cert = <{dp}/server.pem\nssl_key = <{dp}/server.key")
            } else {
                "ssl = no".to_owned()
            }
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        std::fs::write(d.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        set_mode(&d.join("passwd"), 0o644);
        let child = Command::new(dovecot_binary())
            .args(["-F", "-c", d.join("dovecot.conf").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "dovecot did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Dovecot {
            child,
            dir,
            port,
            tls_port,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `peer.py imap` on INBOX; its output.
    fn imap(&self, args: &[&str]) -> String {
        let out = Command::new(peer_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/peer.py"))
            .args(["imap", &self.addr(), USER, PASSWORD, "INBOX"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "imaplib {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Puts a message in INBOX, with flags (`\Seen`) or none.
    fn append(&self, raw: &str, flags: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), raw).unwrap();
        self.imap(&["append", file.path().to_str().unwrap(), flags]);
    }

    /// What INBOX holds: UID → flags.
    fn held(&self) -> serde_json::Map<String, Value> {
        let out = self.imap(&["list"]);
        serde_json::from_str::<Value>(out.trim())
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(from: &str, subject: &str, id: Option<&str>, extra: &str, body: &str) -> String {
    let id = id
        .map(|i| format!("Message-ID: <{i}>\r\n"))
        .unwrap_or_default();
    format!(
        "Return-Path: <{from}>\r\nFrom: {from}\r\nTo: support@demo.example\r\nSubject: {subject}\r\n{id}{extra}\
Date: Sat, 28 Nov 2026 09:00:00 +1300\r\n\r\n{body}\r\n"
    )
}

/// The texts of a conversation's messages one way (`in` or `out`), in order.
fn texts<'a>(thread: &'a Value, direction: &str) -> Vec<&'a str> {
    thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == direction)
        .map(|m| m["text"].as_str().unwrap().trim())
        .collect()
}

impl Api {
    async fn email_contacts(&self) -> Vec<Value> {
        let page = self.get("/contacts?limit=100").await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["channel"] == "email")
            .cloned()
            .collect()
    }

    async fn mailbox(&self, id: &str) -> Value {
        let all = self.get("/email/mailboxes").await;
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no mailbox {id} in {all}"))
    }

    /// Asks for a poll now and waits for it (and any other due) to end;
    /// the mailbox after.
    async fn poll(&self, id: &str) -> Value {
        let before = self.mailbox(id).await["last_polled_at"].as_i64();
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                &format!("/email/mailboxes/{id}/poll"),
                None,
            )
            .await;
        assert_eq!(s, 202, "{v}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.mailbox(id).await;
            // Ended, with no other poll asked for meanwhile (a change
            // saved just before makes the mailbox due at once too).
            if m["last_polled_at"].as_i64() > before
                && m["next_poll_at"].as_i64() > m["last_polled_at"].as_i64()
            {
                return m;
            }
            assert!(Instant::now() < deadline, "no poll ended: {m}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_kept_in_an_imap_mailbox_becomes_contacts_once() {
    let imap = Dovecot::start(false);
    // Already read before Switchboard is pointed at the mailbox: left be.
    imap.append(
        &message(
            "old@customer.example",
            "Old news",
            Some("old@customer.example"),
            "",
            "Read long ago.",
        ),
        "\\Seen",
    );
    imap.append(
        &message(
            "kiri@customer.example",
            "Broken router",
            Some("c1@customer.example"),
            "",
            "All red lights.",
        ),
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
    ]);
    let admin = Api::demo_admin(&server).await;
    let spec = json!({
        "address": "support@demo.example",
        "host": "127.0.0.1",
        "port": imap.port,
        "security": "none",
        "username": USER,
        "password": PASSWORD,
        "interval_seconds": 600,
    });

    // Bad settings: each named, nothing kept.
    let mut bad = spec.clone();
    bad["address"] = json!("nobody@demo.example");
    bad["host"] = json!("imap host");
    bad["security"] = json!("ssl3");
    bad["interval_seconds"] = json!(1);
    bad["folder"] = json!("In\u{7}box");
    let (s, v) = admin
        .call(reqwest::Method::POST, "/email/mailboxes", Some(bad))
        .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["address", "host", "security", "interval_seconds", "folder"] {
        assert!(fields.contains(&f), "{f} not named in {v}");
    }
    let (s, v) = admin
        .call(
            reqwest::Method::POST,
            "/email/mailboxes",
            Some(json!({"address": "support@demo.example", "host": "x.example", "username": "u", "sneaky": 1})),
        )
        .await;
    assert_eq!(s, 422, "unknown fields are refused: {v}");
    assert_eq!(admin.get("/email/mailboxes").await["items"], json!([]));

    // The mailbox: the unread message becomes a contact in Support.
    let (s, created) = admin
        .call(
            reqwest::Method::POST,
            "/email/mailboxes",
            Some(spec.clone()),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["has_password"], true);
    assert!(
        !created.to_string().contains(PASSWORD),
        "the password is never shown"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let contacts = loop {
        let c = admin.email_contacts().await;
        if !c.is_empty() {
            break c;
        }
        assert!(Instant::now() < deadline, "no contact from the mailbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(contacts.len(), 1, "only the unread message: {contacts:?}");
    assert_eq!(contacts[0]["from_address"], "kiri@customer.example");
    assert_eq!(contacts[0]["subject"], "Broken router");
    let first = contacts[0]["id"].as_str().unwrap().to_owned();
    let thread = admin.get(&format!("/contacts/{first}/messages")).await;
    assert_eq!(
        thread["messages"][0]["text"].as_str().unwrap().trim(),
        "All red lights."
    );
    // The mailbox records it; the server has it marked read, and kept.
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = admin.mailbox(&id).await;
        if m["last_polled_at"].is_i64() {
            break m;
        }
        assert!(Instant::now() < deadline, "the poll never ended: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (m["taken"].as_i64(), m["refused"].as_i64()),
        (Some(1), Some(0)),
        "{m}"
    );
    assert_eq!(m["last_error"], Value::Null, "{m}");
    let held = imap.held();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(
        held.values().all(|f| f.to_string().contains("\\\\Seen")),
        "{held:?}"
    );

    // New mail: the customer's reply (threaded into their conversation),
    // a message with no Message-ID, one with no sender at all (refused,
    // marked read, kept), a bounce (taken, never acknowledged), and a new
    // conversation with its answer in the same poll.
    imap.append(
        &message(
            "kiri@customer.example",
            "Re: Broken router",
            Some("c2@customer.example"),
            "In-Reply-To: <c1@customer.example>\r\n",
            "Still red.",
        ),
        "",
    );
    imap.append(
        &message(
            "aroha@customer.example",
            "Billing question",
            None,
            "",
            "Why two charges?",
        ),
        "",
    );
    imap.append("Subject: nobody sent this\r\n\r\nlost\r\n", "");
    imap.append(
        "Return-Path: <>\r\nFrom: Billing <billing@customer.example>\r\nSubject: Undeliverable\r\n\
Message-ID: <b1@customer.example>\r\n\r\nYour message could not be delivered.\r\n",
        "",
    );
    imap.append(
        &message(
            "wiremu@customer.example",
            "Moving house",
            Some("w1@customer.example"),
            "",
            "New address soon.",
        ),
        "",
    );
    imap.append(
        &message(
            "wiremu@customer.example",
            "Re: Moving house",
            Some("w2@customer.example"),
            "In-Reply-To: <w1@customer.example>\r\n",
            "It is 5 Kauri Street.",
        ),
        "",
    );
    let m = admin.poll(&id).await;
    assert_eq!(
        (m["taken"].as_i64(), m["refused"].as_i64()),
        (Some(6), Some(1)),
        "{m}"
    );
    assert!(
        m["last_error"].as_str().unwrap().contains("refused"),
        "the refusal is shown: {m}"
    );
    let contacts = admin.email_contacts().await;
    assert_eq!(
        contacts.len(),
        4,
        "the replies joined their conversations: {contacts:?}"
    );
    let thread_of = |who: &str| {
        let c = contacts.iter().find(|c| c["from_address"] == who).unwrap();
        format!("/contacts/{}/messages", c["id"].as_str().unwrap())
    };
    let wiremu = admin.get(&thread_of("wiremu@customer.example")).await;
    assert_eq!(
        texts(&wiremu, "in"),
        ["New address soon.", "It is 5 Kauri Street."]
    );
    // A person is acknowledged; the bounce is not.
    let aroha = admin.get(&thread_of("aroha@customer.example")).await;
    assert_eq!(texts(&aroha, "out").len(), 1);
    let bounce = admin.get(&thread_of("billing@customer.example")).await;
    assert_eq!(texts(&bounce, "out").len(), 0);
    let thread = admin.get(&format!("/contacts/{first}/messages")).await;
    assert_eq!(texts(&thread, "in"), ["All red lights.", "Still red."]);
    let held = imap.held();
    assert_eq!(held.len(), 8);
    assert!(
        held.values().all(|f| f.to_string().contains("\\\\Seen")),
        "{held:?}"
    );

    // Polling again takes nothing twice.
    let m = admin.poll(&id).await;
    assert_eq!(
        (m["taken"].as_i64(), m["refused"].as_i64()),
        (Some(6), Some(1)),
        "{m}"
    );
    assert_eq!(m["last_error"], Value::Null, "{m}");
    assert_eq!(admin.email_contacts().await.len(), 4);

    // Started afresh (another folder name for the same INBOX) with two
    // taken messages unread again, as after a crash before the server was
    // told: they are fetched again and kept once, by Message-ID, and by
    // their bytes for the one without.
    let uids: Vec<String> = imap.held().keys().cloned().collect();
    for uid in &uids[2..4] {
        imap.imap(&["unseen", uid]);
    }
    let mut again = spec.clone();
    again["folder"] = json!("inbox");
    again["password"] = json!("");
    admin.put(&format!("/email/mailboxes/{id}"), again).await;
    let m = admin.poll(&id).await;
    assert_eq!(m["last_error"], Value::Null, "{m}");
    assert_eq!(m["taken"], 8, "fetched again, {m}");
    let contacts = admin.email_contacts().await;
    assert_eq!(contacts.len(), 4, "nothing kept twice: {contacts:?}");
    let thread = admin.get(&format!("/contacts/{first}/messages")).await;
    assert_eq!(texts(&thread, "in").len(), 2);

    // A wrong password: the poll fails with the server's reason, nothing
    // changes, and the mailbox is tried again at its next turn.
    let mut wrong = spec.clone();
    wrong["password"] = json!("not-it");
    admin.put(&format!("/email/mailboxes/{id}"), wrong).await;
    let m = admin.poll(&id).await;
    assert_eq!(
        m["last_error"],
        "the server refused the login: the server said: [AUTHENTICATIONFAILED] Authentication failed."
    );
    assert_eq!(m["taken"], 8, "{m}");

    // Deleting after taking: new mail is taken and gone from the server.
    let mut delete = spec.clone();
    delete["delete_after"] = json!(true);
    delete["folder"] = json!("inbox");
    let m = admin.put(&format!("/email/mailboxes/{id}"), delete).await;
    assert_eq!(m["delete_after"], true);
    imap.append(
        &message(
            "mere@customer.example",
            "Cancel my plan",
            Some("c5@customer.example"),
            "",
            "Please cancel.",
        ),
        "",
    );
    let before = imap.held().len();
    let m = admin.poll(&id).await;
    assert_eq!(m["last_error"], Value::Null, "{m}");
    assert_eq!(admin.email_contacts().await.len(), 5);
    assert_eq!(
        imap.held().len(),
        before - 1,
        "the taken message is deleted"
    );

    // Removed: no longer listed, no longer polled.
    let (s, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/email/mailboxes/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(admin.get("/email/mailboxes").await["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_over_tls_and_starttls_checks_the_server_certificate() {
    let imap = Dovecot::start(true);
    imap.append(
        &message(
            "kiri@customer.example",
            "Over TLS",
            Some("t1@customer.example"),
            "",
            "Secret one.",
        ),
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = imap.dir.path().join("ca.pem");
    let server = Server::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "demo",
        "--http",
        "127.0.0.1:0",
        "--no-traffic",
        "--mail-ca-file",
        ca.to_str().unwrap(),
    ]);
    let admin = Api::demo_admin(&server).await;
    let spec = |host: &str, security: &str, port: u16| {
        json!({"address": "support@demo.example", "host": host, "port": port, "security": security,
               "username": USER, "password": PASSWORD, "interval_seconds": 600})
    };
    let post = |body: Value| {
        let admin = &admin;
        async move {
            let (s, v) = admin
                .call(reqwest::Method::POST, "/email/mailboxes", Some(body))
                .await;
            assert_eq!(s, 201, "{v}");
            v["id"].as_str().unwrap().to_owned()
        }
    };
    // The certificate names localhost, not 127.0.0.1: refused, nothing taken.
    let wrong = post(spec("127.0.0.1", "tls", imap.tls_port)).await;
    let m = admin.poll(&wrong).await;
    let why = m["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(why.contains("TLS") && why.contains("certificate"), "{m}");
    assert_eq!(m["taken"], 0);
    assert!(admin.email_contacts().await.is_empty());
    admin
        .call(
            reqwest::Method::DELETE,
            &format!("/email/mailboxes/{wrong}"),
            None,
        )
        .await;

    // TLS from the start, to the name the certificate has.
    let id = post(spec("localhost", "tls", imap.tls_port)).await;
    let m = admin.poll(&id).await;
    assert_eq!(
        (m["taken"].as_i64(), m["last_error"].clone()),
        (Some(1), Value::Null),
        "{m}"
    );
    assert_eq!(admin.email_contacts().await.len(), 1);

    // STARTTLS on the plain port: another place, so started afresh from
    // the unread messages (the first was marked read).
    imap.append(
        &message(
            "aroha@customer.example",
            "Over STARTTLS",
            Some("t2@customer.example"),
            "",
            "Secret two.",
        ),
        "",
    );
    let m = admin
        .put(
            &format!("/email/mailboxes/{id}"),
            spec("localhost", "starttls", imap.port),
        )
        .await;
    assert_eq!(m["security"], "starttls");
    let m = admin.poll(&id).await;
    assert_eq!(
        (m["taken"].as_i64(), m["last_error"].clone()),
        (Some(2), Value::Null),
        "{m}"
    );
    let subjects: std::collections::BTreeSet<String> = admin
        .email_contacts()
        .await
        .iter()
        .map(|c| c["subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        subjects,
        ["Over STARTTLS".to_owned(), "Over TLS".to_owned()].into()
    );
}
