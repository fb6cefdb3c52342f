//! Users: creating them with roles, changing roles, names, passwords and
//! whether they may log in. Administrators cannot lock themselves out.

use sb_model::{EmailAddress, Permission, Role, RoleSet, Text, UserId};
use sb_store::{Page, User, UserFilter};

use crate::auth::{check_password_rules, hash_password};
use crate::{App, AppError, Principal};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: EmailAddress,
    pub display_name: Text,
    pub roles: RoleSet,
    /// Without a password the user cannot log in until one is set.
    pub password: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<EmailAddress>,
    pub display_name: Option<Text>,
    pub roles: Option<RoleSet>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

async fn hash_off_thread(password: String) -> Result<String, AppError> {
    check_password_rules(&password)?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

impl App {
    pub async fn create_user(&self, p: &Principal, u: NewUser) -> Result<User, AppError> {
        p.require(Permission::UserManage)?;
        let password_hash = match u.password {
            Some(pw) => Some(hash_off_thread(pw).await?),
            None => None,
        };
        let now = self.now();
        let user = User {
            id: UserId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.into_string(),
            password_hash,
            roles: u.roles,
            active: 1,
            created_at: now,
            updated_at: now,
        };
        self.store().insert_user(&user, &p.audit(now)).await?;
        Ok(user)
    }

    pub async fn get_user(&self, p: &Principal, id: UserId) -> Result<User, AppError> {
        if p.user_id != Some(id) {
            p.require(Permission::UserRead)?;
        }
        self.store()
            .get_user(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("user"))
    }

    pub async fn list_users(
        &self,
        p: &Principal,
        f: &UserFilter,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<User>, AppError> {
        p.require(Permission::UserRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self
            .store()
            .list_users(p.tenant_id, f, after, limit)
            .await?)
    }

    pub async fn update_user(
        &self,
        p: &Principal,
        id: UserId,
        patch: UserPatch,
    ) -> Result<User, AppError> {
        p.require(Permission::UserManage)?;
        let mut u = self
            .store()
            .get_user(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("user"))?;
        if p.user_id == Some(id) {
            if patch.active == Some(false) {
                return Err(AppError::invalid(
                    "active",
                    "you cannot deactivate yourself",
                ));
            }
            if patch
                .roles
                .as_ref()
                .is_some_and(|r| !r.contains(Role::Admin))
            {
                return Err(AppError::invalid(
                    "roles",
                    "you cannot remove your own admin role",
                ));
            }
        }
        let mut action = "user.updated";
        if let Some(pw) = patch.password {
            u.password_hash = Some(hash_off_thread(pw).await?);
            action = "user.password_set";
        }
        if let Some(e) = patch.email {
            u.email = e.as_str().to_owned();
        }
        if let Some(n) = patch.display_name {
            u.display_name = n.into_string();
        }
        if let Some(r) = patch.roles {
            u.roles = r;
        }
        if let Some(a) = patch.active {
            u.active = i64::from(a);
            if !a {
                action = "user.deactivated";
            }
        }
        u.updated_at = self.now();
        self.store()
            .update_user(&u, action, &p.audit(u.updated_at))
            .await
            .map_err(AppError::from_store("user"))?;
        // Roles or activity may have changed: cached token principals go.
        self.forget_tokens(None, Some(u.id));
        Ok(u)
    }
}
