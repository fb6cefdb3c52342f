//! Opening a store: the data directory and its lock, connection pools with
//! the SQLite pragmas, start-up checks that turn common failures into one
//! clear line, and migrations.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};

use crate::{Backend, Inner, Result, Store, StoreError};

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// An SQLite file `switchboard.db` in this data directory.
    Sqlite { data_dir: PathBuf, sync: SqliteSync },
    /// A PostgreSQL connection URL.
    Postgres { url: String },
}

/// How hard SQLite works to keep a committed transaction (WAL mode either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// `synchronous=FULL`: the WAL is fsynced at every commit, so a
    /// committed write survives a process crash and a power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is fsynced at checkpoints only, so a
    /// committed write survives a process crash; a power loss may lose the
    /// last moments of commits (never corrupts the file).
    Normal,
}

/// The SQLite file's name inside the data directory.
pub const SQLITE_FILE: &str = "switchboard.db";
const LOCK_FILE: &str = "switchboard.lock";

static DRIVERS: Once = Once::new();

/// Hides the password of a database URL for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => "<unparseable database url>".to_owned(),
    }
}

impl Store {
    /// Opens the store and applies pending migrations.
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let store = match config {
            StoreConfig::Sqlite { data_dir, sync } => open_sqlite(data_dir, *sync).await?,
            StoreConfig::Postgres { url } => open_postgres(url).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = match self.inner.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator
            .run(self.write())
            .await
            .map_err(|e| StoreError::Open(format!("migrating the database failed: {e}")))?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(self.read())
                .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

fn build(backend: Backend, read: AnyPool, write: AnyPool, lock: Option<File>) -> Store {
    Store {
        inner: Arc::new(Inner {
            backend,
            read,
            write,
            _lock: lock,
        }),
    }
}

fn lock_data_dir(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(|e| {
        StoreError::Open(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            StoreError::Open(format!(
                "the data directory {} is not writable: {e}",
                dir.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Open(format!(
            "the data directory {} is in use by another Switchboard process (it holds {})",
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Open(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

async fn open_sqlite(data_dir: &Path, sync: SqliteSync) -> Result<Store> {
    let lock = lock_data_dir(data_dir)?;
    let file = data_dir.join(SQLITE_FILE);
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let options: AnyConnectOptions = url
        .parse()
        .map_err(|e| StoreError::Open(format!("bad SQLite path {}: {e}", file.display())))?;
    let describe = |e: sqlx::Error| sqlite_open_error(&file, e);
    // One plain connection first: a corrupt or foreign file, or another
    // program holding the write lock, fails here at once with a clear
    // message instead of inside the pool's retry loop.
    {
        let quiet = options.clone().disable_statement_logging();
        let mut check = AnyConnection::connect_with(&quiet)
            .await
            .map_err(describe)?;
        for sql in [
            "PRAGMA busy_timeout = 5000",
            "SELECT COUNT(*) FROM sqlite_master",
            "PRAGMA journal_mode = WAL",
            "BEGIN IMMEDIATE",
            "ROLLBACK",
        ] {
            check.execute(sql).await.map_err(describe)?;
        }
        check.close().await.map_err(describe)?;
    }
    let write = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // WAL: readers run beside the writer. See `SqliteSync` for what
                // each setting makes an acknowledged write survive.
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute(match sync {
                    SqliteSync::Full => "PRAGMA synchronous = FULL",
                    SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
                })
                .await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}"
                )))
                .await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(describe)?;
    // The first real read tells a corrupt or foreign file apart.
    sqlx::query("SELECT COUNT(*) FROM sqlite_master")
        .execute(&write)
        .await
        .map_err(describe)?;
    let read = AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA query_only = ON").await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(describe)?;
    spawn_checkpointer(options, write.clone());
    Ok(build(Backend::Sqlite, read, write, Some(lock)))
}

/// Copies the WAL back into the database file from its own connection, so
/// the writer never stalls on a checkpoint. SQLite's own automatic
/// checkpoint stays on as a safety net should this task fall behind.
fn spawn_checkpointer(options: AnyConnectOptions, write: AnyPool) {
    tokio::spawn(async move {
        let quiet = options.disable_statement_logging();
        let mut conn: Option<AnyConnection> = None;
        loop {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            if write.is_closed() {
                break;
            }
            if conn.is_none() {
                conn = AnyConnection::connect_with(&quiet).await.ok();
            }
            if let Some(c) = conn.as_mut()
                && let Err(e) = c.execute("PRAGMA wal_checkpoint(PASSIVE)").await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
}

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The WAL size (pages) at which the writer checkpoints by itself.
const AUTOCHECKPOINT_PAGES: u32 = 20_000;

fn sqlite_open_error(file: &Path, e: sqlx::Error) -> StoreError {
    let text = e.to_string();
    let what = if text.contains("not a database") || text.contains("malformed") {
        "is not a Switchboard database or is corrupt"
    } else if text.contains("locked") || text.contains("busy") {
        "is locked by another process"
    } else if text.contains("readonly") || text.contains("unable to open") {
        "cannot be opened for writing"
    } else {
        "cannot be opened"
    };
    StoreError::Open(format!(
        "the SQLite file {} {what} ({text})",
        file.display()
    ))
}

async fn open_postgres(url: &str) -> Result<Store> {
    let shown = redact_url(url);
    let options: AnyConnectOptions = url
        .parse()
        .map_err(|e| StoreError::Open(format!("bad PostgreSQL URL {shown}: {e}")))?;
    // One plain connection first: a refused or unknown server fails here at
    // once instead of after the pool's acquire timeout.
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        AnyConnection::connect_with(&options.clone().disable_statement_logging()),
    )
    .await
    .map_err(|_| {
        StoreError::Open(format!(
            "cannot connect to PostgreSQL at {shown}: no answer within 10 s"
        ))
    })?
    .map_err(|e| StoreError::Open(format!("cannot connect to PostgreSQL at {shown}: {e}")))?;
    let _ = first.close().await;
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Open(format!("cannot connect to PostgreSQL at {shown}: {e}")))?;
    Ok(build(Backend::Postgres, pool.clone(), pool, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("nonsense"), "<unparseable database url>");
    }
}
