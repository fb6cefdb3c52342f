//! Switchboard's storage: one [`Store`] over SQLite (embedded, the default)
//! or PostgreSQL (scale-out), running the same SQL through sqlx's `Any`
//! driver, with a migrations folder per backend.
//!
//! Invariants this crate keeps:
//! - every query on tenant data is scoped by `tenant_id`; a row of another
//!   tenant is indistinguishable from a missing row (`StoreError::NotFound`);
//! - every change to configuration or customer data writes its audit row in
//!   the same transaction as the change;
//! - a write is acknowledged only after its transaction has committed.
//!
//! Durability: SQLite runs in WAL mode; `SqliteSync` says what a committed
//! transaction survives. Contact creation and routing are written in batches
//! by the routing engine's task (`apply_routing`), so one fsync covers many
//! acknowledgements. PostgreSQL uses its default `synchronous_commit=on`.
//!
//! This crate knows nothing of HTTP, sessions or permissions.

mod audit;
mod callbacks;
mod chat;
mod codes;
mod contacts;
mod customers;
mod directory;
mod email;
mod help;
mod hooks;
mod imap;
mod open;
mod rosters;
mod routing;
pub mod rows;
mod sms;
mod sql;
mod tenants;
pub mod testing;
mod users;
mod voice;

use std::sync::Arc;

use sqlx::AnyPool;

pub use audit::{AuditEntry, AuditFilter};
pub use callbacks::{CLAIM_MS, CallbackFilter};
pub use chat::{ChatSession, ChatWidget};
pub use contacts::ContactFilter;
pub use customers::CustomerFilter;
pub use directory::AgentFilter;
pub use email::{
    AttachmentRow, Conversation, EmailAddressRow, MessageRow, Received, WrittenContactRow,
};
pub use imap::ImapMailbox;
pub use open::SQLITE_FILE;
pub use open::{SqliteSync, StoreConfig, redact_url};
pub use routing::{AgentStateRow, NewEvent, RoutingChanges};
pub use rows::*;
pub use sms::{SmsAccount, SmsNumber};
pub use users::UserFilter;
pub use voice::VoiceDirectory;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What can go wrong in the store. `Open` carries a one-line message fit to
/// print at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Open(String),
    #[error("a stored value could not be read: {0}")]
    Corrupt(String),
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("the database cannot be reached: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("a record with the same unique value already exists".into())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The handle to the store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// Reads. On SQLite a pool of read connections (WAL lets them run beside
    /// the writer); on PostgreSQL the one pool.
    read: AnyPool,
    /// Writes. On SQLite exactly one connection: SQLite has one writer, and
    /// queueing here is cheaper than `SQLITE_BUSY` retries.
    write: AnyPool,
    /// Held for the life of the store: a second process on the same data
    /// directory is refused at start.
    _lock: Option<std::fs::File>,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.inner.read).await?;
        Ok(())
    }

    /// Closes the pools, waiting for running queries.
    pub async fn close(&self) {
        self.inner.read.close().await;
        self.inner.write.close().await;
    }

    /// Runs a statement on the writer as it is. Only for tests that check
    /// what the schema itself refuses.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &'static str) -> Result<()> {
        sqlx::query(sql).execute(self.write()).await?;
        Ok(())
    }

    fn read(&self) -> &AnyPool {
        &self.inner.read
    }

    fn write(&self) -> &AnyPool {
        &self.inner.write
    }
}

/// One page of a listing; `next` is the cursor for the page after it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Cuts a `limit + 1` fetch into a page and its cursor.
pub(crate) fn page<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page { items: rows, next }
}
