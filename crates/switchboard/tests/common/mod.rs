//! What the binary's tests share: running the binary, a server started
//! for a test, and HTTP helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env_remove("SWITCHBOARD_DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("SWITCHBOARD_SIP", "127.0.0.1:0")
        .env("SWITCHBOARD_SMTP", "127.0.0.1:0")
        .env("SWITCHBOARD_LOG", "warn");
    c
}

/// A running server and the address it printed.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub lines: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let child = bin()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        // From here on, Drop kills and reaps the child whatever happens.
        let mut server = Server {
            child,
            base: String::new(),
            lines: rx,
        };
        let out = BufReader::new(server.child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = server
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no address printed; saw {seen:?}"));
            if let Some(rest) = line.split("listening on ").nth(1) {
                server.base = rest.split_whitespace().next().unwrap().to_owned();
                return server;
            }
            seen.push(line);
        }
    }

    /// The address the server printed after `scheme` (`udp://` for SIP,
    /// `smtp://` for mail), waiting for its line.
    pub fn printed(&self, scheme: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {scheme} address printed"));
            if let Some(rest) = line.split(scheme).nth(1) {
                return rest.trim().to_string();
            }
        }
    }

    pub fn printed_before_start(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs in as the demo's admin and makes an API token.
pub async fn demo_admin_token(client: &reqwest::Client, base: &str) -> String {
    demo_token(client, base, "admin@demo.example").await
}

/// Logs in as one of the demo's users and makes an API token (for those
/// who may).
pub async fn demo_token(client: &reqwest::Client, base: &str, email: &str) -> String {
    let cookie = demo_session(client, base, email).await;
    let t: serde_json::Value = client
        .post(format!("{base}/api/v1/tokens"))
        .header("cookie", cookie)
        .json(&json!({"name": "tests"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["secret"].as_str().unwrap().to_owned()
}

/// Logs in as one of the demo's users; the session cookie (`name=value`).
pub async fn demo_session(client: &reqwest::Client, base: &str, email: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "switchboard"}))
        .send()
        .await
        .unwrap();
    r.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

pub async fn json_of(r: reqwest::Response) -> serde_json::Value {
    r.json().await.unwrap()
}

/// An HTTP client (with the TLS provider the workspace's reqwest needs).
pub fn http_client() -> reqwest::Client {
    sb_app::install_tls_provider();
    reqwest::Client::new()
}

/// The Python with the channel tests' peers (pjsua2, aiosmtpd):
/// `$SWITCHBOARD_SIP_PYTHON`, else `target/sip-venv/bin/python`, which
/// scripts/test.sh makes.
pub fn peer_python() -> std::path::PathBuf {
    let p = std::env::var_os("SWITCHBOARD_SIP_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .nth(2)
                .unwrap()
                .join("target/sip-venv/bin/python")
        });
    assert!(
        p.exists(),
        "no Python with the test peers at {} — run scripts/test.sh once (it installs pjsua2-python \
         and aiosmtpd), or point SWITCHBOARD_SIP_PYTHON at one",
        p.display()
    );
    p
}

/// The JSON API as one user.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    /// An API token, or a session cookie (`name=value`) for those who may
    /// not make tokens.
    pub token: String,
}

impl Api {
    /// The demo's administrator on `server`, by an API token.
    pub async fn demo_admin(server: &Server) -> Api {
        let client = http_client();
        Api {
            token: demo_admin_token(&client, &server.base).await,
            client,
            base: server.base.clone(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut r = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base));
        r = if self.token.contains('=') {
            r.header("cookie", &self.token)
        } else {
            r.bearer_auth(&self.token)
        };
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> serde_json::Value {
        let (s, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (s, v) = self.call(reqwest::Method::PUT, path, Some(body)).await;
        assert_eq!(s, 200, "PUT {path}: {v}");
        v
    }
}

/// Emma (agent5, an agent of Support) logs in, goes available, and accepts
/// the reservation that comes, which must be for `contact`; her API.
pub async fn emma_takes(admin: &Api, contact: &str) -> Api {
    let agents = admin.get("/agents?limit=50").await;
    let emma = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a.to_string().contains("Emma Wilson"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = Api {
        token: demo_session(&admin.client, &admin.base, "agent5@demo.example").await,
        client: admin.client.clone(),
        base: admin.base.clone(),
    };
    agent
        .put(
            &format!("/agents/{emma}/state"),
            serde_json::json!({"state": "available"}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let rid = loop {
        let st = agent.get(&format!("/agents/{emma}/status")).await;
        if let Some(r) = st["reservations"].as_array().and_then(|r| r.first()) {
            assert_eq!(r["contact_id"], contact);
            break r["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "no reservation: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (s, v) = agent
        .call(
            reqwest::Method::POST,
            &format!("/reservations/{rid}/accept"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    agent
}
