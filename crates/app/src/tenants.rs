//! Tenants: creating one with its first administrator, reading and renaming
//! one's own. A principal only ever sees its own tenant.

use sb_model::{Permission, Role, RoleSet, TenantId, Text};
use sb_store::{AuditEntry, StoreError, Tenant, User};

use crate::auth::{check_password_rules, hash_password};
use crate::{App, AppError, FieldError, Principal};

/// A tenant to create, with its first administrator.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: Text,
    pub slug: String,
    pub time_zone: String,
    pub admin_email: sb_model::EmailAddress,
    pub admin_name: Text,
    pub admin_password: String,
}

#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub name: Option<Text>,
    pub time_zone: Option<String>,
}

/// A slug: 2–40 lower-case letters, digits and dashes, starting with a letter.
pub fn parse_slug(s: &str) -> Result<String, String> {
    let ok = (2..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("must be 2 to 40 lower-case letters, digits or dashes, starting with a letter".into())
    }
}

/// An IANA time zone name known to this machine's zone database.
pub fn parse_time_zone(s: &str) -> Result<String, String> {
    if s.len() > 64 {
        return Err("is not a known IANA time zone".into());
    }
    jiff::tz::TimeZone::get(s)
        .map(|_| s.to_owned())
        .map_err(|_| "is not a known IANA time zone, like Australia/Sydney".into())
}

impl App {
    /// Creates a tenant and its first administrator. Called by the CLI and
    /// by the platform operator's API.
    pub async fn create_tenant(
        &self,
        t: NewTenant,
        source: &str,
    ) -> Result<(Tenant, User), AppError> {
        let mut errors = Vec::new();
        if let Err(m) = parse_slug(&t.slug) {
            errors.push(FieldError {
                field: "slug".into(),
                message: m,
            });
        }
        if let Err(m) = parse_time_zone(&t.time_zone) {
            errors.push(FieldError {
                field: "time_zone".into(),
                message: m,
            });
        }
        if let Err(AppError::Invalid(mut e)) = check_password_rules(&t.admin_password) {
            e[0].field = "admin_password".into();
            errors.append(&mut e);
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let now = self.now();
        let tenant = Tenant {
            id: TenantId::from_uuid(self.new_uuid()),
            name: t.name.into_string(),
            slug: t.slug,
            time_zone: t.time_zone,
            created_at: now,
            updated_at: now,
        };
        let password = t.admin_password;
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let admin = User {
            id: sb_model::UserId::from_uuid(self.new_uuid()),
            tenant_id: tenant.id,
            email: t.admin_email.as_str().to_owned(),
            display_name: t.admin_name.into_string(),
            password_hash: Some(hash),
            roles: RoleSet::new([Role::Admin]).expect("one role"),
            active: 1,
            created_at: now,
            updated_at: now,
        };
        // Refuse a taken address before the tenant exists, so a failed
        // request leaves nothing behind.
        if self
            .store()
            .find_user_by_email(&admin.email)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(
                "a user with this email address exists".into(),
            ));
        }
        let who = AuditEntry {
            actor_user_id: None,
            actor_kind: "platform",
            source: source.to_owned(),
            at: now,
        };
        self.store().insert_tenant(&tenant, &who).await?;
        self.store().insert_user(&admin, &who).await?;
        Ok((tenant, admin))
    }

    pub async fn get_tenant(&self, p: &Principal, id: TenantId) -> Result<Tenant, AppError> {
        p.require(Permission::TenantRead)?;
        if id != p.tenant_id {
            return Err(AppError::NotFound("tenant"));
        }
        self.store()
            .get_tenant(id)
            .await
            .map_err(AppError::from_store("tenant"))
    }

    pub async fn update_tenant(
        &self,
        p: &Principal,
        id: TenantId,
        patch: TenantPatch,
    ) -> Result<Tenant, AppError> {
        p.require(Permission::TenantManage)?;
        if id != p.tenant_id {
            return Err(AppError::NotFound("tenant"));
        }
        let mut t = self
            .store()
            .get_tenant(id)
            .await
            .map_err(AppError::from_store("tenant"))?;
        if let Some(tz) = patch.time_zone {
            t.time_zone = parse_time_zone(&tz).map_err(|m| AppError::invalid("time_zone", m))?;
        }
        if let Some(n) = patch.name {
            t.name = n.into_string();
        }
        t.updated_at = self.now();
        self.store()
            .update_tenant(&t, &p.audit(t.updated_at))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::NotFound("tenant"),
                other => other.into(),
            })?;
        Ok(t)
    }

    /// The tenants a principal may see: its own.
    pub async fn list_tenants(&self, p: &Principal) -> Result<Vec<Tenant>, AppError> {
        Ok(vec![self.get_tenant(p, p.tenant_id).await?])
    }

    /// Reads the audit log (admins).
    pub async fn list_audit(
        &self,
        p: &Principal,
        filter: &sb_store::AuditFilter,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<crate::Page<sb_store::AuditRow>, AppError> {
        p.require(Permission::AuditRead)?;
        let (limit, after) = crate::page_args::<String>(limit, cursor)?;
        Ok(self
            .store()
            .list_audit(p.tenant_id, filter, after.as_deref(), limit)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_zones() {
        assert!(parse_slug("demo").is_ok());
        assert!(parse_slug("Demo").is_err());
        assert!(parse_slug("1demo").is_err());
        assert!(parse_slug("d").is_err());
        assert!(parse_time_zone("Australia/Sydney").is_ok());
        assert!(parse_time_zone("Pacific/Auckland").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }
}
