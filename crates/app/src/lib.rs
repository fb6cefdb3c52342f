//! Switchboard's use cases: the operations behind the API and the CLI.
//!
//! Every operation takes the [`Principal`] acting, checks its permission
//! against the matrix in `sb_model::roles` (the one place permissions are
//! decided), scopes every store call by the principal's tenant, and writes
//! the audit log through the store. Inputs arrive already parsed into domain
//! types; outputs are storage rows the HTTP layer maps to its own shapes.
//!
//! This crate knows nothing of HTTP, cookies or JSON bodies.

pub mod accounts;
pub mod auth;
pub mod callbacks;
pub mod chat;
pub mod codes;
pub mod contacts;
pub mod customers;
pub mod directory;
pub mod email;
mod error;
pub mod help;
pub mod hours;
pub mod imap;
pub mod reports;
pub mod rosters;
pub mod routing;
pub mod sms;
pub mod tenants;
pub mod voice;
pub mod webhooks;
pub mod wfm;
pub mod whatif;
pub mod work;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use auth::{Principal, PrincipalKind, Secret};
pub use error::{AppError, FieldError};
use sb_model::{QueueId, TenantId, UnixMs};
use sb_store::Store;
use uuid::Uuid;

/// Settings the application needs, loaded once by the binary.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How long a browser session lasts without logging in again.
    pub session_ttl: Duration,
    /// A secret that lets its holder create tenants through the API; `None`
    /// turns that endpoint off.
    pub platform_token: Option<Secret>,
    /// The wait before a failed webhook delivery's first retry; it
    /// doubles with each failure, up to an hour.
    pub webhook_retry_base_ms: i64,
    /// Where files (call recordings) are kept.
    pub data_dir: std::path::PathBuf,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_ttl: Duration::from_secs(12 * 3600),
            platform_token: None,
            webhook_retry_base_ms: 10_000,
            data_dir: std::path::PathBuf::from("."),
        }
    }
}

/// The application: the store plus what the use cases share.
#[derive(Clone)]
pub struct App {
    store: Store,
    config: Arc<AppConfig>,
    /// Queues known to exist, with their priority, kept for [`CACHE_TTL`].
    /// Queues are never deleted; a priority changed on this node is updated
    /// at once, one changed on another node within the TTL. Saves a read on
    /// every contact creation.
    pub(crate) queue_cache: Arc<Mutex<QueueCache>>,
    /// Principals of recently used API tokens, by token hash, kept for
    /// [`CACHE_TTL`]. Revoking a token or changing its user clears the entry
    /// on this node at once (other nodes: within the TTL). Saves two reads on
    /// every API call.
    pub(crate) token_cache: Arc<Mutex<TokenCache>>,
    /// The tenants' routing engines on this node.
    pub(crate) routing: routing::RoutingHub,
    /// What the SIP server shares with the use cases.
    pub(crate) voice: voice::VoiceState,
    /// What the email use cases share with the delivery worker.
    pub(crate) mail: email::MailState,
    /// The rooms of open chat widgets on this node.
    pub(crate) chat: chat::ChatState,
}

/// Queue priorities by queue, with when they were read.
type QueueCache = HashMap<(TenantId, QueueId), (i64, Instant)>;
/// Token principals by token hash, with when they were read.
type TokenCache = HashMap<String, (Principal, Instant)>;

/// How long cached lookups are trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// The most entries a cache holds; past it the cache starts afresh.
pub const CACHE_MAX_ENTRIES: usize = 10_000;

/// A page of results with the cursor for the next one.
pub use sb_store::Page;

/// The most rows one listing returns.
pub const MAX_PAGE: i64 = 500;
pub const DEFAULT_PAGE: i64 = 50;

impl App {
    pub fn new(store: Store, config: AppConfig) -> Self {
        App {
            routing: routing::RoutingHub::new(store.clone()),
            store,
            config: Arc::new(config),
            queue_cache: Arc::default(),
            token_cache: Arc::default(),
            voice: voice::VoiceState::default(),
            mail: email::MailState::default(),
            chat: chat::ChatState::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The wall clock in epoch milliseconds. Shells own the clock; cores
    /// receive time as a value.
    pub fn now(&self) -> UnixMs {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Live routing events of every tenant on this node (filter by tenant).
    pub fn subscribe_live(&self) -> tokio::sync::broadcast::Receiver<Arc<routing::LiveEvent>> {
        self.routing.subscribe()
    }

    /// A fresh UUIDv7.
    pub fn new_uuid(&self) -> Uuid {
        Uuid::now_v7()
    }

    /// The tenant's time zone (UTC should its name ever not resolve).
    pub(crate) async fn tenant_zone(
        &self,
        tenant: sb_model::TenantId,
    ) -> Result<jiff::tz::TimeZone, AppError> {
        let t = self.store().get_tenant(tenant).await?;
        Ok(jiff::tz::TimeZone::get(&t.time_zone).unwrap_or(jiff::tz::TimeZone::UTC))
    }
}

/// The instant (epoch ms) local midnight begins `day` in `tz`.
pub(crate) fn local_midnight(
    tz: &jiff::tz::TimeZone,
    day: jiff::civil::Date,
) -> Result<UnixMs, AppError> {
    tz.to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .map(|t| t.as_millisecond())
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Makes ring the process's TLS provider. reqwest is built without one
/// (the default would pull in a C build); call this before building any
/// HTTP client. Calling it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Parses a listing's `limit` and `cursor` into a page size and the id to
/// start after.
pub fn page_args<T: std::str::FromStr>(
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<(i64, Option<T>), AppError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("must be from 1 to {MAX_PAGE}"),
        ));
    }
    let after = match cursor {
        None | Some("") => None,
        Some(c) => Some(
            c.parse()
                .map_err(|_| AppError::invalid("cursor", "is not a cursor from this listing"))?,
        ),
    };
    Ok((limit, after))
}
