//! Reason and disposition codes: the lists agents choose from. Each change
//! is audited in the same transaction.

use sb_model::TenantId;
use serde_json::json;
use sqlx::Any;

use crate::audit::write_audit;
use crate::sql::{Bind, Sql};
use crate::{AuditEntry, Result, Store, StoreError, WorkCode};

fn code_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("a code of this kind with this name exists".into())
        }
        other => other,
    }
}

impl Store {
    pub async fn insert_code(&self, c: &WorkCode, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO work_codes (id, tenant_id, kind, code, label, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.id)
        .bind(c.tenant_id.to_string())
        .bind(&c.kind)
        .bind(&c.code)
        .bind(&c.label)
        .bind(c.active)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(code_conflict)?;
        write_audit(
            &mut tx,
            c.tenant_id,
            who,
            "code.created",
            "code",
            &c.id,
            json!({"kind": c.kind, "code": c.code, "label": c.label}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the label and whether the code may still be chosen.
    pub async fn update_code(&self, c: &WorkCode, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE work_codes SET label = $1, active = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
        )
        .bind(&c.label)
        .bind(c.active)
        .bind(c.updated_at)
        .bind(c.tenant_id.to_string())
        .bind(&c.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            c.tenant_id,
            who,
            "code.updated",
            "code",
            &c.id,
            json!({"label": c.label, "active": c.active != 0}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_code(&self, tenant: TenantId, id: &str) -> Result<WorkCode> {
        Ok(sqlx::query_as::<Any, WorkCode>(
            "SELECT * FROM work_codes WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_owned())
        .fetch_one(self.read())
        .await?)
    }

    /// The tenant's codes, by kind then code; optionally one kind, or only
    /// those still in use.
    pub async fn list_codes(
        &self,
        tenant: TenantId,
        kind: Option<&str>,
        active_only: bool,
    ) -> Result<Vec<WorkCode>> {
        let mut q = Sql::scoped("SELECT * FROM work_codes", tenant);
        if let Some(k) = kind {
            q.bind(" AND kind = ", Bind::Text(k.to_owned()));
        }
        if active_only {
            q.push(" AND active = 1");
        }
        q.push(" ORDER BY kind, code LIMIT 1000");
        Ok(q.query_as::<WorkCode>().fetch_all(self.read()).await?)
    }
}
