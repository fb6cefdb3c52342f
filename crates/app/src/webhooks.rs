//! Outbound webhooks: routing and contact events POSTed to a tenant's own
//! systems, signed, retried with back-off, never lost.
//!
//! The routing task writes one outbox row per matching event and webhook
//! in the same transaction as the event (`RoutingChanges::deliveries`), so
//! an event that was acknowledged is owed to every subscriber even across
//! a crash. The delivery worker ([`App::run_webhook_delivery`]) POSTs due
//! rows and records each attempt.
//!
//! Each request carries `Switchboard-Signature: t=<unix seconds>,v1=<hex>`
//! where `<hex>` is HMAC-SHA256 of `"<t>.<body>"` keyed with the webhook's
//! secret, so a receiver can check origin and freshness.

use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use sb_model::{Permission, TenantId, UnixMs, WebhookId};
use sb_store::{Page, Webhook, WebhookDelivery};

use crate::{App, AppError, FieldError, Principal};

/// Every event kind a webhook can subscribe to.
pub const EVENT_KINDS: &[&str] = &[
    "contact.created",
    "contact.queued",
    "contact.position",
    "contact.answered",
    "contact.overflowed",
    "contact.transferred",
    "contact.max_wait_reached",
    "contact.arrived_closed",
    "contact.callback_scheduled",
    "contact.wrap_up_started",
    "contact.abandoned",
    "contact.ended",
    "reservation.created",
    "reservation.ended",
    "agent.status",
    "queue.opened",
    "queue.closed",
];

/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: i64 = 12;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 16;
pub const MAX_WEBHOOKS_PER_TENANT: usize = 50;

/// Whether `kind` matches a subscription pattern: an exact kind, `*`, or
/// `prefix.*`.
pub fn matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.') && kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// The signature header value for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff_ms(base_ms: i64, attempts: i64) -> i64 {
    let shift = (attempts - 1).clamp(0, 20) as u32;
    base_ms.saturating_mul(1 << shift).min(MAX_BACKOFF_MS)
}

/// An http(s) URL with a host, at most 2,000 characters; else an error on `field`.
pub(crate) fn check_url(field: &str, url: &str, errors: &mut Vec<FieldError>) {
    let ok = url.len() <= 2000
        && reqwest::Url::parse(url)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok {
        errors.push(FieldError {
            field: field.into(),
            message: "must be an http or https URL of at most 2000 characters".into(),
        });
    }
}

fn check_events(events: &[String], errors: &mut Vec<FieldError>) {
    if events.is_empty() || events.len() > 50 {
        errors.push(FieldError {
            field: "events".into(),
            message: "must list 1 to 50 event kinds".into(),
        });
    }
    for (i, e) in events.iter().enumerate() {
        if !EVENT_KINDS.iter().any(|k| matches(e, k)) {
            errors.push(FieldError {
                field: format!("events[{i}]"),
                message: "is not an event kind (such as contact.created), contact.* or *".into(),
            });
        }
    }
}

fn new_secret() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
    /// Replace the signing secret (the new one is returned once).
    pub rotate_secret: bool,
}

/// The subscriptions the routing task matches events against.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub id: WebhookId,
    pub patterns: Vec<String>,
}

impl Subscription {
    pub(crate) fn wants(&self, kind: &str) -> bool {
        self.patterns.iter().any(|p| matches(p, kind))
    }
}

/// The tenant's active webhooks.
pub(crate) async fn subscriptions(
    store: &sb_store::Store,
    tenant: TenantId,
) -> Result<Vec<Subscription>, AppError> {
    let page = store
        .list_webhooks(tenant, None, MAX_WEBHOOKS_PER_TENANT as i64)
        .await?;
    Ok(page
        .items
        .into_iter()
        .filter(|w| w.active != 0)
        .map(|w| Subscription {
            id: w.id,
            patterns: serde_json::from_str(&w.events).unwrap_or_default(),
        })
        .collect())
}

impl App {
    /// Creates a webhook; the secret is in the returned row (shown once).
    pub async fn create_webhook(&self, p: &Principal, w: NewWebhook) -> Result<Webhook, AppError> {
        p.require(Permission::TenantManage)?;
        let mut errors = Vec::new();
        check_url("url", &w.url, &mut errors);
        check_events(&w.events, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let existing = self
            .store()
            .list_webhooks(p.tenant_id, None, MAX_WEBHOOKS_PER_TENANT as i64)
            .await?;
        if existing.items.len() >= MAX_WEBHOOKS_PER_TENANT {
            return Err(AppError::Conflict(format!(
                "a tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks"
            )));
        }
        let now = self.now();
        let row = Webhook {
            id: WebhookId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            url: w.url,
            secret: new_secret()?,
            events: serde_json::to_string(&w.events)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            active: i64::from(w.active),
            created_at: now,
            updated_at: now,
        };
        self.store().insert_webhook(&row, &p.audit(now)).await?;
        self.routing_changed(p).await;
        Ok(row)
    }

    pub async fn get_webhook(&self, p: &Principal, id: WebhookId) -> Result<Webhook, AppError> {
        p.require(Permission::TenantManage)?;
        self.store()
            .get_webhook(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("webhook"))
    }

    pub async fn list_webhooks(
        &self,
        p: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Webhook>, AppError> {
        p.require(Permission::TenantManage)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self
            .store()
            .list_webhooks(p.tenant_id, after, limit)
            .await?)
    }

    pub async fn update_webhook(
        &self,
        p: &Principal,
        id: WebhookId,
        patch: WebhookPatch,
    ) -> Result<Webhook, AppError> {
        p.require(Permission::TenantManage)?;
        let mut w = self.get_webhook(p, id).await?;
        let mut errors = Vec::new();
        if let Some(url) = patch.url {
            check_url("url", &url, &mut errors);
            w.url = url;
        }
        if let Some(events) = patch.events {
            check_events(&events, &mut errors);
            w.events =
                serde_json::to_string(&events).map_err(|e| AppError::Internal(e.to_string()))?;
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        if let Some(a) = patch.active {
            w.active = i64::from(a);
        }
        if patch.rotate_secret {
            w.secret = new_secret()?;
        }
        w.updated_at = self.now();
        self.store()
            .update_webhook(&w, &p.audit(w.updated_at))
            .await
            .map_err(AppError::from_store("webhook"))?;
        self.routing_changed(p).await;
        Ok(w)
    }

    pub async fn delete_webhook(&self, p: &Principal, id: WebhookId) -> Result<(), AppError> {
        p.require(Permission::TenantManage)?;
        self.store()
            .delete_webhook(p.tenant_id, id, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("webhook"))?;
        self.routing_changed(p).await;
        Ok(())
    }

    /// A webhook's deliveries, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        p: &Principal,
        id: WebhookId,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<WebhookDelivery>, AppError> {
        p.require(Permission::TenantManage)?;
        self.get_webhook(p, id).await?;
        let (limit, before) = crate::page_args::<String>(limit, cursor)?;
        Ok(self
            .store()
            .list_deliveries(p.tenant_id, id, before, limit)
            .await?)
    }

    /// Delivers webhook events until the process ends: due outbox rows
    /// are POSTed (up to 16 at once) and each attempt is recorded. Wakes
    /// when the routing task writes new rows, and at least every 5 s.
    pub async fn run_webhook_delivery(self) {
        crate::install_tls_provider();
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook delivery cannot start");
                return;
            }
        };
        let wake = self.routing.webhook_wake();
        loop {
            let now = self.now();
            let due = match self.store().due_deliveries(now, 256).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the webhook outbox failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if due.is_empty() {
                let next = self.store().next_delivery_due().await.ok().flatten();
                let wait = next.map(|at| (at - now).clamp(10, 5_000)).unwrap_or(5_000);
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                }
                continue;
            }
            let mut hooks: std::collections::HashMap<(TenantId, WebhookId), Option<Webhook>> =
                std::collections::HashMap::new();
            let mut set = tokio::task::JoinSet::new();
            for d in due {
                let key = (d.tenant_id, d.webhook_id);
                let hook = match hooks.get(&key) {
                    Some(h) => h.clone(),
                    None => {
                        let w = match self.store().get_webhook(key.0, key.1).await {
                            Ok(w) => Some(w),
                            Err(sb_store::StoreError::NotFound) => None,
                            // Leave it pending; the next round tries again.
                            Err(e) => {
                                tracing::warn!(error = %e, "reading a webhook failed");
                                continue;
                            }
                        };
                        hooks.insert(key, w.clone());
                        w
                    }
                };
                while set.len() >= CONCURRENCY {
                    let _ = set.join_next().await;
                }
                let (app, client) = (self.clone(), client.clone());
                set.spawn(async move { app.attempt(&client, d, hook).await });
            }
            while set.join_next().await.is_some() {}
        }
    }

    /// One attempt at one delivery, recorded whatever happens.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        mut d: WebhookDelivery,
        hook: Option<Webhook>,
    ) {
        let now = self.now();
        d.attempts += 1;
        let outcome: Result<u16, String> = match &hook {
            None => Err("the webhook no longer exists".into()),
            Some(w) if w.active == 0 => Err("the webhook is switched off".into()),
            Some(w) => {
                let sig = signature(&w.secret, now / 1000, &d.body);
                let sent = client
                    .post(&w.url)
                    .header("content-type", "application/json")
                    .header("switchboard-event", &d.event_kind)
                    .header("switchboard-delivery", &d.id)
                    .header("switchboard-signature", sig)
                    .body(d.body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                    Ok(r) => {
                        d.last_status = Some(i64::from(r.status().as_u16()));
                        Err(format!("answered {}", r.status()))
                    }
                    Err(e) => {
                        d.last_status = None;
                        Err(if e.is_timeout() {
                            "timed out".into()
                        } else if e.is_connect() {
                            "could not connect".into()
                        } else {
                            "request failed".into()
                        })
                    }
                }
            }
        };
        match outcome {
            Ok(status) => {
                d.state = "delivered".into();
                d.last_status = Some(i64::from(status));
                d.last_error = None;
                d.delivered_at = Some(self.now());
                metrics::counter!("switchboard_webhook_deliveries_total", "outcome" => "delivered")
                    .increment(1);
            }
            Err(why) => {
                let gone = hook.as_ref().is_none_or(|w| w.active == 0);
                if gone || d.attempts >= MAX_ATTEMPTS {
                    d.state = "failed".into();
                    metrics::counter!("switchboard_webhook_deliveries_total", "outcome" => "failed")
                        .increment(1);
                } else {
                    d.next_attempt_at =
                        now + backoff_ms(self.config().webhook_retry_base_ms, d.attempts);
                    metrics::counter!("switchboard_webhook_deliveries_total", "outcome" => "retry")
                        .increment(1);
                }
                tracing::info!(delivery = %d.id, webhook = %d.webhook_id, attempts = d.attempts, error = %why, "webhook delivery failed");
                d.last_error = Some(why);
            }
        }
        if let Err(e) = self.store().record_delivery_attempt(&d).await {
            tracing::warn!(delivery = %d.id, error = %e, "recording a webhook attempt failed");
        }
    }
}

/// The body POSTed for one event.
pub(crate) fn delivery_body(
    delivery: &str,
    tenant: TenantId,
    kind: &str,
    subject: &str,
    at: UnixMs,
    data: &serde_json::Value,
) -> String {
    serde_json::json!({
        "id": delivery,
        "type": kind,
        "tenant_id": tenant,
        "subject_id": subject,
        "at": at,
        "data": data,
    })
    .to_string()
}

/// Wakes the delivery worker when new outbox rows are committed.
pub(crate) type Wake = Arc<tokio::sync::Notify>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_kinds() {
        assert!(matches("*", "contact.created"));
        assert!(matches("contact.*", "contact.created"));
        assert!(!matches("contact.*", "agent.status"));
        assert!(
            !matches("contact*", "contact.created"),
            "a prefix ends at a dot"
        );
        assert!(matches("agent.status", "agent.status"));
        assert!(!matches("agent.status", "agent.statuses"));
    }

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // Known answer: HMAC-SHA256(key = "secret", "1700000000.{}").
        // (Python: hmac.new(b"secret", b"1700000000.{}", hashlib.sha256))
        let s = signature("secret", 1_700_000_000, "{}");
        assert_eq!(
            s,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(s, signature("secret", 1_700_000_001, "{}"));
        assert_ne!(s, signature("other", 1_700_000_000, "{}"));
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff_ms(10_000, 1), 10_000);
        assert_eq!(backoff_ms(10_000, 2), 20_000);
        assert_eq!(backoff_ms(10_000, 5), 160_000);
        assert_eq!(backoff_ms(10_000, 30), 3_600_000);
    }
}
