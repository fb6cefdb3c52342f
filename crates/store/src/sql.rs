//! A small builder for SQL with optional filters: it numbers `$n`
//! placeholders itself so that the text is the same on SQLite and PostgreSQL.

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;

#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            binds: Vec::new(),
        }
    }

    /// `select` (e.g. `SELECT * FROM users`) restricted to one tenant's rows.
    pub(crate) fn scoped(select: &str, tenant: sb_model::TenantId) -> Self {
        let mut q = Sql::new(select);
        q.bind(" WHERE tenant_id = ", Bind::Text(tenant.to_string()));
        q
    }

    /// Ends a listing: rows after the cursor `after`, in id order, one more
    /// than `limit` so the caller can tell whether another page follows.
    pub(crate) fn page(&mut self, after: Option<String>, limit: i64) -> &mut Self {
        if let Some(a) = after {
            self.bind(" AND id > ", Bind::Text(a));
        }
        self.bind(" ORDER BY id LIMIT ", Bind::Int(limit + 1))
    }

    /// Like `page`, newest (highest id) first: `before` is the last id seen.
    pub(crate) fn page_desc(&mut self, before: Option<String>, limit: i64) -> &mut Self {
        if let Some(b) = before {
            self.bind(" AND id < ", Bind::Text(b));
        }
        self.bind(" ORDER BY id DESC LIMIT ", Bind::Int(limit + 1))
    }

    /// Appends text with no bound value.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `text` followed by a placeholder for `value`.
    pub(crate) fn bind(&mut self, text: &str, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push_str(text);
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn query_as<'q, T>(&'q self) -> QueryAs<'q, Any, T, AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = // Safe: the text is built only from literals in this crate; every
        // value goes through a bound placeholder.
        sqlx::query_as::<Any, T>(sqlx::AssertSqlSafe(self.text.clone()));
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::OptText(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut s = Sql::new("SELECT * FROM t WHERE tenant_id = $1");
        s.binds.push(Bind::Text("t".into()));
        s.bind(" AND a = ", Bind::Int(1))
            .bind(" AND b = ", Bind::Text("x".into()))
            .push(" LIMIT 3");
        assert_eq!(
            s.text(),
            "SELECT * FROM t WHERE tenant_id = $1 AND a = $2 AND b = $3 LIMIT 3"
        );
    }
}
