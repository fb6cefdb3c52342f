//! Live demo traffic: customers and simulated agents working the demo
//! centre through its own HTTP API, from a daily profile sped up in time,
//! so that the wallboard and floor move while a person watches — and that
//! person can log in as one of the agents left free (agent5, agent6) and
//! take contacts among the simulated ones.
//!
//! Customers arrive by queue and channel at rates that follow the day
//! (quiet at night, peaks mid-morning and mid-afternoon), starting at
//! 08:00 on the simulated clock; callers and chatters hang up when their
//! patience runs out. The simulated agents (agent1–agent4) log in, accept
//! what rings, talk, complete, wrap up with a disposition, and take a break
//! now and then. Everything goes through the API with each agent's own
//! token, as a real client would.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use rand_distr::{Distribution, Exp, LogNormal, Poisson};
use rand_pcg::Pcg64Mcg;
use sb_app::{App, Principal};
use serde_json::{Value, json};

/// How the traffic runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Simulated seconds per real second.
    pub speed: f64,
}

/// Agents the traffic plays; the demo's other agents are left to people.
const SIMULATED: [&str; 4] = [
    "agent1@demo.example",
    "agent2@demo.example",
    "agent3@demo.example",
    "agent4@demo.example",
];

/// Expected contacts per simulated second at `minute` of the day.
pub(crate) fn rate(minute: f64) -> f64 {
    let h = minute / 60.0;
    if !(7.0..21.0).contains(&h) {
        return 2.0 / 3600.0;
    }
    let peak = |at: f64, width: f64| (-((h - at) / width).powi(2)).exp();
    // About 30 contacts in the busiest half hour.
    (4.0 + 26.0 * peak(10.5, 1.8) + 18.0 * peak(14.5, 2.0)) / 1800.0
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            anyhow::bail!("{path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Client {
    /// The ids of a listing's first page.
    async fn ids(&self, path: &str, token: &str) -> Result<Vec<String>> {
        Ok(
            self.call(reqwest::Method::GET, path, token, None).await?["items"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}

fn sleep_sim(seconds: f64, speed: f64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_secs_f64(
        (seconds / speed).clamp(0.0, 3600.0),
    ))
}

fn seeded() -> Pcg64Mcg {
    use rand_core::SeedableRng;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    Pcg64Mcg::seed_from_u64(seed)
}

/// Runs until the process stops; a failure is logged and ends the traffic,
/// never the server.
pub async fn run(app: App, addr: SocketAddr, settings: Settings) {
    if let Err(e) = drive(app, addr, settings).await {
        tracing::warn!(error = %format!("{e:#}"), "demo traffic stopped");
    }
}

async fn token_for(app: &App, p: &Principal, email: &str) -> Result<(String, sb_model::UserId)> {
    let user = app
        .store()
        .find_user_by_email(email)
        .await?
        .filter(|u| u.tenant_id == p.tenant_id)
        .with_context(|| format!("no demo user {email}"))?;
    let (_, secret) = app
        .create_token(p, Some(user.id), "demo traffic")
        .await
        .map_err(|e| anyhow::anyhow!("a token for {email}: {e}"))?;
    Ok((secret.expose().to_owned(), user.id))
}

async fn drive(app: App, addr: SocketAddr, settings: Settings) -> Result<()> {
    let (_, p) = crate::demo::demo_tenant(&app).await?;
    let client = std::sync::Arc::new(Client {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
    });
    let (admin, _) = token_for(&app, &p, "admin@demo.example").await?;
    let queues = client.ids("/api/v1/queues?limit=50", &admin).await?;
    let customers = client.ids("/api/v1/customers?limit=100", &admin).await?;
    let agents = client
        .call(
            reqwest::Method::GET,
            "/api/v1/agents?limit=100",
            &admin,
            None,
        )
        .await?;
    anyhow::ensure!(!queues.is_empty(), "the demo has no queues");
    for email in SIMULATED {
        let (token, user) = token_for(&app, &p, email).await?;
        let Some(agent) = agents["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["user_id"].as_str() == Some(&user.to_string()))
            .and_then(|a| a["id"].as_str())
        else {
            continue;
        };
        tokio::spawn(agent_loop(
            client.clone(),
            token,
            agent.to_owned(),
            settings,
        ));
    }
    // Queues that receive mail: their email contacts arrive as real
    // messages (read, threaded, acknowledged), so the desk has a
    // conversation to show.
    let mut mailboxes = std::collections::HashMap::new();
    for a in app
        .list_email_addresses(&p)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        mailboxes.entry(a.queue_id).or_insert(a.address);
    }
    let writers = client
        .call(
            reqwest::Method::GET,
            "/api/v1/customers?limit=100",
            &admin,
            None,
        )
        .await?["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["name"].as_str()?.to_owned(),
                c["email"].as_str()?.to_owned(),
            ))
        })
        .collect::<Vec<_>>();
    let mail = Mail {
        app,
        mailboxes,
        writers,
    };
    tracing::info!(speed = settings.speed, "demo traffic started");
    arrivals(client, admin, queues, customers, mail, settings).await
}

/// What the traffic needs to write to the centre by email.
struct Mail {
    app: App,
    /// Queue id → an address that receives for it.
    mailboxes: std::collections::HashMap<String, String>,
    /// Customers' names and addresses.
    writers: Vec<(String, String)>,
}

const TOPICS: &[(&str, &str)] = &[
    (
        "My router keeps dropping out",
        "Since Tuesday the internet drops every hour or so. I have restarted the router twice. Can someone help?",
    ),
    (
        "Question about my last bill",
        "My last bill is higher than usual and I cannot see why. Could you explain the extra charges?",
    ),
    (
        "Upgrading my plan",
        "I would like to know what faster plans you have and what they would cost me.",
    ),
    (
        "Parcel not arrived",
        "I ordered the new modem ten days ago and it has still not arrived. Where is it?",
    ),
    (
        "Moving house",
        "We are moving next month. How do I move my service to the new address?",
    ),
];

impl Mail {
    /// A customer writes to the queue's address; false if it has none.
    async fn write(&self, queue: &str, n: usize, k: usize) -> bool {
        let (Some(to), Some((name, from))) = (
            self.mailboxes.get(queue),
            self.writers.get(k % self.writers.len().max(1)),
        ) else {
            return false;
        };
        let (subject, body) = TOPICS[n % TOPICS.len()];
        let id = self.app.new_uuid();
        let raw = format!(
            "From: {name} <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@customers.demo.example>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\r\n{name}\r\n"
        );
        let envelope = sb_mail::smtp::Envelope {
            mail_from: from.clone(),
            recipients: vec![to.clone()],
            data: raw.into_bytes(),
        };
        matches!(
            self.app
                .receive_email(([127, 0, 0, 1], 0).into(), envelope)
                .await,
            sb_mail::smtp::Delivery::Stored(_)
        )
    }
}

/// Customers arriving: every quarter second of real time, a Poisson number
/// of contacts for the simulated time that passed.
async fn arrivals(
    client: std::sync::Arc<Client>,
    admin: String,
    queues: Vec<String>,
    customers: Vec<String>,
    mail: Mail,
    s: Settings,
) -> Result<()> {
    let mut rng = seeded();
    let patience = Exp::new(1.0 / 150.0).map_err(|e| anyhow::anyhow!("patience: {e}"))?;
    let mut minute = 8.0 * 60.0;
    let step = 0.25;
    // Queue shares of the traffic, in the order the demo creates them.
    let weights = [0.4, 0.25, 0.1, 0.25];
    let mut tick = tokio::time::interval(Duration::from_secs_f64(step));
    loop {
        tick.tick().await;
        let sim_seconds = step * s.speed;
        minute = (minute + sim_seconds / 60.0) % 1440.0;
        for (i, q) in queues.iter().enumerate() {
            let mean = rate(minute) * sim_seconds * weights.get(i).copied().unwrap_or(0.1);
            let n = Poisson::new(mean.max(1e-9))
                .map(|d| d.sample(&mut rng))
                .unwrap_or(0.0) as u32;
            for _ in 0..n {
                let u: f64 = rand_distr::Open01.sample(&mut rng);
                let channel = if u < 0.6 {
                    "voice"
                } else if u < 0.85 {
                    "chat"
                } else {
                    "email"
                };
                if channel == "email" {
                    let u: f64 = rand_distr::Open01.sample(&mut rng);
                    let k = (u * 1_000.0) as usize;
                    if mail.write(q, k / 7, k).await {
                        continue;
                    }
                }
                let mut body = json!({"channel": channel, "queue_id": q});
                if !customers.is_empty() {
                    let u: f64 = rand_distr::Open01.sample(&mut rng);
                    let k = (u * customers.len() as f64) as usize;
                    body["customer_id"] = json!(customers[k.min(customers.len() - 1)]);
                }
                let Ok(c) = client
                    .call(
                        reqwest::Method::POST,
                        "/api/v1/contacts",
                        &admin,
                        Some(body),
                    )
                    .await
                else {
                    continue;
                };
                // Callers and chatters give up when their patience runs out
                // (refused, harmlessly, once they are answered).
                if channel != "email"
                    && let Some(id) = c["id"].as_str()
                {
                    let (client, admin, id) = (client.clone(), admin.clone(), id.to_owned());
                    let wait = patience.sample(&mut rng);
                    tokio::spawn(async move {
                        sleep_sim(wait, s.speed).await;
                        let _ = client
                            .call(
                                reqwest::Method::POST,
                                &format!("/api/v1/contacts/{id}/abandon"),
                                &admin,
                                Some(json!({})),
                            )
                            .await;
                    });
                }
            }
        }
    }
}

/// One simulated agent: logged in, accepting what rings, handling it,
/// wrapping up, and away on a break every couple of simulated hours.
async fn agent_loop(client: std::sync::Arc<Client>, token: String, agent: String, s: Settings) {
    let mut rng = seeded();
    let (Ok(talk), Ok(wrap), Ok(every)) = (
        LogNormal::from_mean_cv(240.0, 0.7),
        LogNormal::from_mean_cv(30.0, 0.5),
        Exp::new(1.0 / 7200.0),
    ) else {
        return;
    };
    let state = format!("/api/v1/agents/{agent}/state");
    let status = format!("/api/v1/agents/{agent}/status");
    let put = |body: Value| client.call(reqwest::Method::PUT, &state, &token, Some(body));
    if put(json!({"state": "available"})).await.is_err() {
        return;
    }
    let mut next_break = every.sample(&mut rng);
    let mut clock = 0.0;
    let poll = 0.3;
    loop {
        tokio::time::sleep(Duration::from_secs_f64(poll)).await;
        clock += poll * s.speed;
        let Ok(now) = client
            .call(reqwest::Method::GET, &status, &token, None)
            .await
        else {
            continue;
        };
        for r in now["reservations"].as_array().into_iter().flatten() {
            let (Some(id), Some(contact)) = (r["id"].as_u64(), r["contact_id"].as_str()) else {
                continue;
            };
            let accepted = client
                .call(
                    reqwest::Method::POST,
                    &format!("/api/v1/reservations/{id}/accept"),
                    &token,
                    Some(json!({})),
                )
                .await;
            if accepted.is_err() {
                continue;
            }
            let (client, token, contact) = (client.clone(), token.clone(), contact.to_owned());
            let (t, w) = (talk.sample(&mut rng), wrap.sample(&mut rng));
            tokio::spawn(async move {
                sleep_sim(t, s.speed).await;
                let complete = format!("/api/v1/contacts/{contact}/complete");
                if client
                    .call(reqwest::Method::POST, &complete, &token, Some(json!({})))
                    .await
                    .is_ok()
                {
                    sleep_sim(w, s.speed).await;
                    let _ = client
                        .call(
                            reqwest::Method::POST,
                            &format!("/api/v1/contacts/{contact}/wrap-up"),
                            &token,
                            Some(json!({"disposition": "resolved"})),
                        )
                        .await;
                }
            });
        }
        // A break once nothing is in hand.
        let idle = now["contacts"].as_array().is_none_or(|c| c.is_empty())
            && now["reservations"].as_array().is_none_or(|r| r.is_empty());
        if clock >= next_break && idle {
            if put(json!({"state": "away", "reason": "break"}))
                .await
                .is_ok()
            {
                sleep_sim(15.0 * 60.0, s.speed).await;
                let _ = put(json!({"state": "available"})).await;
            }
            next_break = clock + every.sample(&mut rng);
        }
    }
}
