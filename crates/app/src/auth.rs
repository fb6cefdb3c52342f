//! Who is acting: passwords (argon2id), browser sessions and API tokens.
//!
//! Session and token secrets are 256 random bits shown to the client once;
//! the store keeps only their SHA-256. A principal is the user behind a
//! session or token, with that user's roles and tenant.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use sb_model::{ApiTokenId, Permission, RoleSet, TenantId, UnixMs, UserId};
use sb_store::{ApiToken, AuditEntry, User};
use sha2::{Digest, Sha256};

use crate::{App, AppError};

/// A secret string: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A browser session cookie.
    Session,
    /// A bearer API token.
    Token(ApiTokenId),
    /// The command line on the server's own machine.
    Cli,
}

/// The user an operation acts as.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    pub roles: RoleSet,
    pub kind: PrincipalKind,
    /// The client's address, for the audit log.
    pub source: String,
}

impl Principal {
    pub fn from_user(u: &User, kind: PrincipalKind, source: String) -> Self {
        Principal {
            tenant_id: u.tenant_id,
            user_id: Some(u.id),
            roles: u.roles.clone(),
            kind,
            source,
        }
    }

    /// The command line acting as an administrator of `tenant`.
    pub fn cli(tenant: TenantId) -> Self {
        Principal {
            tenant_id: tenant,
            user_id: None,
            roles: RoleSet::new([sb_model::Role::Admin]).expect("one role"),
            kind: PrincipalKind::Cli,
            source: "cli".into(),
        }
    }

    /// Fails unless the principal's roles allow `p`.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.roles.allows(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden(p))
        }
    }

    pub fn audit(&self, at: UnixMs) -> AuditEntry {
        AuditEntry {
            actor_user_id: self.user_id,
            actor_kind: match self.kind {
                PrincipalKind::Session => "user",
                PrincipalKind::Token(_) => "token",
                PrincipalKind::Cli => "cli",
            },
            source: self.source.clone(),
            at,
        }
    }
}

/// The least length of a password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The greatest length of a password (hashing cost is bounded by it).
pub const MAX_PASSWORD_CHARS: usize = 256;

pub fn check_password_rules(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// An argon2id PHC string for `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing a password failed: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A fresh secret with a readable prefix (`sbs_` sessions, `sbt_` tokens).
pub fn new_secret(prefix: &str) -> Result<Secret, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(Secret(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// What the store keeps of a secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A hash to verify against when the user does not exist, so that a login
/// for an unknown address costs the same time as one with a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

impl App {
    /// Checks an email address and password; on success opens a session and
    /// returns its secret (for the cookie) and the user.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        source: &str,
    ) -> Result<(Secret, User), AppError> {
        let email = email.trim();
        let user = if email.len() <= 254 {
            self.store().find_user_by_email(email).await?
        } else {
            None
        };
        let password_owned = password.to_owned();
        let hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let ok = tokio::task::spawn_blocking(move || verify_password(&password_owned, &hash))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let user = match user {
            Some(u) if ok && u.is_active() && u.password_hash.is_some() => u,
            _ => {
                tracing::info!(source, "login refused");
                metrics::counter!("switchboard_logins_total", "outcome" => "refused").increment(1);
                return Err(AppError::BadCredentials);
            }
        };
        let secret = new_secret("sbs_")?;
        let now = self.now();
        let ttl_ms = i64::try_from(self.config().session_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.store()
            .insert_session(
                &secret_hash(secret.expose()),
                user.tenant_id,
                user.id,
                now,
                now.saturating_add(ttl_ms),
            )
            .await?;
        metrics::counter!("switchboard_logins_total", "outcome" => "ok").increment(1);
        Ok((secret, user))
    }

    pub async fn logout(&self, session_secret: &str) -> Result<(), AppError> {
        self.store()
            .delete_session(&secret_hash(session_secret))
            .await?;
        Ok(())
    }

    /// The principal behind a session cookie, if the session is live.
    pub async fn principal_from_session(
        &self,
        secret: &str,
        source: String,
    ) -> Result<Option<Principal>, AppError> {
        let user = self
            .store()
            .find_session_user(&secret_hash(secret), self.now())
            .await?;
        Ok(user.map(|u| Principal::from_user(&u, PrincipalKind::Session, source)))
    }

    /// The principal behind a bearer token, if the token is live.
    pub async fn principal_from_token(
        &self,
        secret: &str,
        source: String,
    ) -> Result<Option<Principal>, AppError> {
        let hash = secret_hash(secret);
        let cached = self
            .token_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&hash).cloned());
        if let Some((mut p, at)) = cached
            && at.elapsed() < crate::CACHE_TTL
        {
            p.source = source;
            return Ok(Some(p));
        }
        let found = self.store().find_token_user(&hash).await?;
        let principal =
            found.map(|(t, u)| Principal::from_user(&u, PrincipalKind::Token(t.id), source));
        if let (Some(p), Ok(mut c)) = (&principal, self.token_cache.lock()) {
            if c.len() >= crate::CACHE_MAX_ENTRIES {
                c.clear();
            }
            c.insert(hash, (p.clone(), std::time::Instant::now()));
        }
        Ok(principal)
    }

    /// Forgets cached principals of a token or of a user's tokens.
    pub(crate) fn forget_tokens(&self, token: Option<ApiTokenId>, user: Option<UserId>) {
        if let Ok(mut c) = self.token_cache.lock() {
            c.retain(|_, (p, _)| {
                let token_match = token.is_some_and(|t| p.kind == PrincipalKind::Token(t));
                let user_match = user.is_some_and(|u| p.user_id == Some(u));
                !(token_match || user_match)
            });
        }
    }

    /// Whether `secret` is the configured platform token (constant time).
    pub fn is_platform_token(&self, secret: &str) -> bool {
        match &self.config().platform_token {
            None => false,
            Some(t) => {
                let a = Sha256::digest(secret.as_bytes());
                let b = Sha256::digest(t.expose().as_bytes());
                a.iter()
                    .zip(b.iter())
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0
            }
        }
    }

    // ---- API tokens ----

    /// Creates a token that acts as `user` (default: the caller). The secret
    /// is returned once and never stored.
    pub async fn create_token(
        &self,
        p: &Principal,
        user: Option<UserId>,
        name: &str,
    ) -> Result<(ApiToken, Secret), AppError> {
        p.require(Permission::TokenManage)?;
        let name = sb_model::Text::parse(name, 100).map_err(|e| AppError::invalid("name", e.0))?;
        let user_id = user
            .or(p.user_id)
            .ok_or_else(|| AppError::invalid("user_id", "is required"))?;
        let owner = self
            .store()
            .get_user(p.tenant_id, user_id)
            .await
            .map_err(|e| match e {
                sb_store::StoreError::NotFound => AppError::invalid("user_id", "no such user"),
                other => other.into(),
            })?;
        let secret = new_secret("sbt_")?;
        let token = ApiToken {
            id: ApiTokenId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            user_id: owner.id,
            name: name.into_string(),
            token_hash: secret_hash(secret.expose()),
            created_at: self.now(),
            revoked_at: None,
        };
        self.store()
            .insert_token(&token, &p.audit(token.created_at))
            .await?;
        Ok((token, secret))
    }

    pub async fn list_tokens(
        &self,
        p: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<crate::Page<ApiToken>, AppError> {
        p.require(Permission::TokenManage)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self.store().list_tokens(p.tenant_id, after, limit).await?)
    }

    pub async fn revoke_token(&self, p: &Principal, id: ApiTokenId) -> Result<ApiToken, AppError> {
        p.require(Permission::TokenManage)?;
        let t = self
            .store()
            .revoke_token(p.tenant_id, id, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("api token"))?;
        self.forget_tokens(Some(id), None);
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horse!", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("sbt_").unwrap();
        let b = new_secret("sbt_").unwrap();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("sbt_") && a.expose().len() == 4 + 43);
        assert_eq!(secret_hash("x").len(), 64);
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
    }
}
