//! Users, browser sessions and API tokens. Sessions and tokens are stored
//! only as hashes of the secret the client holds.

use sb_model::{ApiTokenId, TenantId, UnixMs, UserId};
use serde_json::json;
use sqlx::Any;

use crate::audit::write_audit;
use crate::sql::{Bind, Sql};
use crate::{ApiToken, AuditEntry, Page, Result, Store, StoreError, User, page};

/// Filters for listing users.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<sb_model::Role>,
    pub active: Option<bool>,
}

fn email_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("a user with this email address exists".into())
        }
        other => other,
    }
}

impl Store {
    pub async fn insert_user(&self, u: &User, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, display_name, password_hash, roles, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(u.id.to_string())
        .bind(u.tenant_id.to_string())
        .bind(&u.email)
        .bind(&u.display_name)
        .bind(u.password_hash.clone())
        .bind(u.roles.to_list())
        .bind(u.active)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(email_conflict)?;
        write_audit(
            &mut tx,
            u.tenant_id,
            who,
            "user.created",
            "user",
            &u.id.to_string(),
            json!({"roles": u.roles.to_list()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<User> {
        Ok(
            sqlx::query_as::<Any, User>("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(self.read())
                .await?,
        )
    }

    /// Login looks a user up by address across tenants: an address belongs
    /// to one user of one tenant.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        Ok(
            sqlx::query_as::<Any, User>("SELECT * FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(self.read())
                .await?,
        )
    }

    /// Writes the user's mutable fields. `action` names the change for the audit log.
    pub async fn update_user(&self, u: &User, action: &str, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET email = $1, display_name = $2, password_hash = $3, roles = $4, active = $5, updated_at = $6 \
             WHERE tenant_id = $7 AND id = $8",
        )
        .bind(&u.email)
        .bind(&u.display_name)
        .bind(u.password_hash.clone())
        .bind(u.roles.to_list())
        .bind(u.active)
        .bind(u.updated_at)
        .bind(u.tenant_id.to_string())
        .bind(u.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(email_conflict)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if u.active == 0 {
            // A deactivated user's sessions end at once.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(u.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        write_audit(
            &mut tx,
            u.tenant_id,
            who,
            action,
            "user",
            &u.id.to_string(),
            json!({"roles": u.roles.to_list(), "active": u.active != 0}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_users(
        &self,
        tenant: TenantId,
        f: &UserFilter,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Page<User>> {
        let mut q = Sql::scoped("SELECT * FROM users", tenant);
        if let Some(r) = f.role {
            q.bind(
                " AND (',' || roles || ',') LIKE ",
                Bind::Text(format!("%,{},%", r.as_str())),
            );
        }
        if let Some(a) = f.active {
            q.bind(" AND active = ", Bind::Int(i64::from(a)));
        }
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<User>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |u| u.id.to_string()))
    }

    // ---- sessions ----

    pub async fn insert_session(
        &self,
        token_hash: &str,
        tenant: TenantId,
        user: UserId,
        now: UnixMs,
        expires_at: UnixMs,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, tenant_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .bind(expires_at)
            .execute(self.write())
            .await?;
        Ok(())
    }

    /// The active user of an unexpired session.
    pub async fn find_session_user(&self, token_hash: &str, now: UnixMs) -> Result<Option<User>> {
        Ok(sqlx::query_as::<Any, User>(
            "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.read())
        .await?)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.write())
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_sessions(&self, now: UnixMs) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.write())
            .await?;
        Ok(done.rows_affected())
    }

    // ---- API tokens ----

    pub async fn insert_token(&self, t: &ApiToken, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(t.id.to_string())
        .bind(t.tenant_id.to_string())
        .bind(t.user_id.to_string())
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(t.created_at)
        .execute(&mut *tx)
        .await?;
        write_audit(
            &mut tx,
            t.tenant_id,
            who,
            "api_token.created",
            "api_token",
            &t.id.to_string(),
            json!({"user_id": t.user_id, "name": t.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The token and its active user, if the token is not revoked.
    pub async fn find_token_user(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        let token = sqlx::query_as::<Any, ApiToken>(
            "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(self.read())
        .await?;
        let Some(token) = token else { return Ok(None) };
        match self.get_user(token.tenant_id, token.user_id).await {
            Ok(u) if u.is_active() => Ok(Some((token, u))),
            Ok(_) | Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn list_tokens(
        &self,
        tenant: TenantId,
        after: Option<ApiTokenId>,
        limit: i64,
    ) -> Result<Page<ApiToken>> {
        let mut q = Sql::scoped("SELECT * FROM api_tokens", tenant);
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<ApiToken>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |t| t.id.to_string()))
    }

    pub async fn get_token(&self, tenant: TenantId, id: ApiTokenId) -> Result<ApiToken> {
        Ok(sqlx::query_as::<Any, ApiToken>(
            "SELECT * FROM api_tokens WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(self.read())
        .await?)
    }

    /// Revokes a token; revoking a revoked token changes nothing.
    pub async fn revoke_token(
        &self,
        tenant: TenantId,
        id: ApiTokenId,
        who: &AuditEntry,
    ) -> Result<ApiToken> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
            .bind(who.at)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            write_audit(
                &mut tx,
                tenant,
                who,
                "api_token.revoked",
                "api_token",
                &id.to_string(),
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        self.get_token(tenant, id).await
    }
}
