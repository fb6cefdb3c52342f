//! Helpers for tests that need a real PostgreSQL: each test gets a database
//! of its own, made from `SWITCHBOARD_TEST_DATABASE_URL` and dropped after.

use sqlx::{AnyConnection, Connection, Executor};
use uuid::Uuid;

/// The environment variable naming the PostgreSQL server for tests.
pub const TEST_DATABASE_ENV: &str = "SWITCHBOARD_TEST_DATABASE_URL";

/// A database made for one test.
pub struct ScratchDatabase {
    base_url: String,
    pub name: String,
    pub url: String,
}

fn with_database(url: &str, name: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((a, q)) => (a, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = without_query.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match without_query[scheme_end..].find('/') {
        Some(i) => &without_query[..scheme_end + i],
        None => without_query,
    };
    format!("{base}/{name}{query}")
}

impl ScratchDatabase {
    /// Creates an empty database on the server `base_url` points at.
    pub async fn create(base_url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let name = format!("sb_test_{}", Uuid::now_v7().simple());
        let mut conn = AnyConnection::connect(base_url).await?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        conn.close().await?;
        Ok(ScratchDatabase {
            base_url: base_url.to_owned(),
            url: with_database(base_url, &name),
            name,
        })
    }

    /// The scratch database for this test, if PostgreSQL tests are enabled.
    pub async fn from_env() -> Option<Self> {
        let base = std::env::var(TEST_DATABASE_ENV)
            .ok()
            .filter(|s| !s.is_empty())?;
        Some(
            Self::create(&base)
                .await
                .unwrap_or_else(|e| panic!("{TEST_DATABASE_ENV} is set but unusable: {e}")),
        )
    }

    /// Drops the database (closing other connections to it first).
    pub async fn drop_database(self) -> Result<(), sqlx::Error> {
        let mut conn = AnyConnection::connect(&self.base_url).await?;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .await?;
        conn.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            super::with_database("postgres://h:5432/test", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
