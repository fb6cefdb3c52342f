//! Tenants: one organisation's contact centre each.

use sb_model::TenantId;
use serde_json::json;
use sqlx::Any;

use crate::audit::write_audit;
use crate::{AuditEntry, Result, Store, StoreError, Tenant};

impl Store {
    pub async fn insert_tenant(&self, t: &Tenant, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, slug, time_zone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t.id.to_string())
        .bind(&t.name)
        .bind(&t.slug)
        .bind(&t.time_zone)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a tenant with slug `{}` exists", t.slug)),
            other => other,
        })?;
        write_audit(
            &mut tx,
            t.id,
            who,
            "tenant.created",
            "tenant",
            &t.id.to_string(),
            json!({"name": t.name, "slug": t.slug}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        Ok(
            sqlx::query_as::<Any, Tenant>("SELECT * FROM tenants WHERE id = $1")
                .bind(id.to_string())
                .fetch_one(self.read())
                .await?,
        )
    }

    pub async fn find_tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        Ok(
            sqlx::query_as::<Any, Tenant>("SELECT * FROM tenants WHERE slug = $1")
                .bind(slug)
                .fetch_optional(self.read())
                .await?,
        )
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        Ok(
            sqlx::query_as::<Any, Tenant>("SELECT * FROM tenants ORDER BY id")
                .fetch_all(self.read())
                .await?,
        )
    }

    pub async fn update_tenant(&self, t: &Tenant, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE tenants SET name = $1, time_zone = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&t.name)
        .bind(&t.time_zone)
        .bind(t.updated_at)
        .bind(t.id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            t.id,
            who,
            "tenant.updated",
            "tenant",
            &t.id.to_string(),
            json!({"name": t.name, "time_zone": t.time_zone}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
