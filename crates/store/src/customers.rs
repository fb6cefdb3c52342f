//! Customers and prospects, with the history of their status.

use sb_model::{CustomerId, CustomerStatus, TenantId};
use serde_json::json;
use sqlx::{Any, Transaction};
use uuid::Uuid;

use crate::audit::write_audit;
use crate::sql::{Bind, Sql};
use crate::{AuditEntry, Customer, Page, Result, StatusChange, Store, StoreError, page};

/// Filters for listing customers.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub status: Option<CustomerStatus>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

async fn write_history(
    tx: &mut Transaction<'_, Any>,
    c: &Customer,
    from: Option<CustomerStatus>,
    who: &AuditEntry,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO customer_status_history (id, tenant_id, customer_id, from_status, to_status, changed_at, changed_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(c.tenant_id.to_string())
    .bind(c.id.to_string())
    .bind(from.map(|s| s.as_str()))
    .bind(c.status.as_str())
    .bind(who.at)
    .bind(who.actor_user_id.map(|u| u.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.extend(c.to_lowercase());
    }
    out
}

impl Store {
    pub async fn insert_customer(&self, c: &Customer, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO customers (id, tenant_id, kind, name, email, phone, status, external_ref, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.kind.as_str())
        .bind(&c.name)
        .bind(c.email.clone())
        .bind(c.phone.clone())
        .bind(c.status.as_str())
        .bind(c.external_ref.clone())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        write_history(&mut tx, c, None, who).await?;
        write_audit(
            &mut tx,
            c.tenant_id,
            who,
            "customer.created",
            "customer",
            &c.id.to_string(),
            json!({"status": c.status}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the customer's fields; a changed status is added to its history.
    pub async fn update_customer(
        &self,
        c: &Customer,
        previous_status: CustomerStatus,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE customers SET kind = $1, name = $2, email = $3, phone = $4, status = $5, external_ref = $6, updated_at = $7 \
             WHERE tenant_id = $8 AND id = $9",
        )
        .bind(c.kind.as_str())
        .bind(&c.name)
        .bind(c.email.clone())
        .bind(c.phone.clone())
        .bind(c.status.as_str())
        .bind(c.external_ref.clone())
        .bind(c.updated_at)
        .bind(c.tenant_id.to_string())
        .bind(c.id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if previous_status != c.status {
            write_history(&mut tx, c, Some(previous_status), who).await?;
        }
        write_audit(
            &mut tx,
            c.tenant_id,
            who,
            "customer.updated",
            "customer",
            &c.id.to_string(),
            json!({"status": c.status, "previous_status": previous_status}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_customer(&self, tenant: TenantId, id: CustomerId) -> Result<Customer> {
        Ok(sqlx::query_as::<Any, Customer>(
            "SELECT * FROM customers WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.read())
        .await?)
    }

    pub async fn list_customers(
        &self,
        tenant: TenantId,
        f: &CustomerFilter,
        after: Option<CustomerId>,
        limit: i64,
    ) -> Result<Page<Customer>> {
        let mut q = Sql::scoped("SELECT * FROM customers", tenant);
        if let Some(s) = f.status {
            q.bind(" AND status = ", Bind::Text(s.as_str().to_owned()));
        }
        if let Some(e) = &f.email {
            q.bind(" AND email = ", Bind::Text(e.clone()));
        }
        if let Some(p) = &f.phone {
            q.bind(" AND phone = ", Bind::Text(p.clone()));
        }
        if let Some(n) = &f.name_contains {
            q.bind(
                " AND lower(name) LIKE ",
                Bind::Text(format!("%{}%", like_escape(n))),
            );
            q.push(" ESCAPE '\\'");
        }
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<Customer>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |c| c.id.to_string()))
    }

    /// A customer's status changes, oldest first.
    pub async fn customer_status_history(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Vec<StatusChange>> {
        Ok(sqlx::query_as::<Any, StatusChange>(
            "SELECT id, from_status, to_status, changed_at, changed_by FROM customer_status_history \
             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(self.read())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_escape("50%_A\\b"), "50\\%\\_a\\\\b");
    }
}
