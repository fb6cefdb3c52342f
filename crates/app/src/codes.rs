//! Reason codes (why an agent is away) and disposition codes (how a
//! contact ended): lists an admin keeps so that reports group like with
//! like. While a tenant has active codes of a kind, agents must choose one
//! of them; a tenant without any keeps free text.

use sb_model::{Permission, TenantId, Text};
use sb_store::WorkCode;

use crate::{App, AppError, Principal};

/// The longest label.
pub const MAX_LABEL: usize = 80;
/// The longest code.
pub const MAX_CODE: usize = 40;

/// Which list a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Reason,
    Disposition,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Reason => "reason",
            CodeKind::Disposition => "disposition",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reason" => Some(CodeKind::Reason),
            "disposition" => Some(CodeKind::Disposition),
            _ => None,
        }
    }
}

/// A code is 1–40 of lowercase letters, digits, `_` and `-`, starting with
/// a letter or digit: stable in reports and CSV, safe in any URL.
pub fn parse_code(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.chars().count() <= MAX_CODE
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "must be 1–{MAX_CODE} lowercase letters, digits, '_' or '-', starting with a letter or digit"
        ))
    }
}

impl App {
    /// Codes of one kind or all, active ones only unless `with_retired`.
    pub async fn list_codes(
        &self,
        p: &Principal,
        kind: Option<CodeKind>,
        with_retired: bool,
    ) -> Result<Vec<WorkCode>, AppError> {
        p.require(Permission::TenantRead)?;
        Ok(self
            .store()
            .list_codes(p.tenant_id, kind.map(CodeKind::as_str), !with_retired)
            .await?)
    }

    pub async fn create_code(
        &self,
        p: &Principal,
        kind: CodeKind,
        code: String,
        label: Text,
    ) -> Result<WorkCode, AppError> {
        p.require(Permission::QueueManage)?;
        let now = self.now();
        let c = WorkCode {
            id: self.new_uuid().to_string(),
            tenant_id: p.tenant_id,
            kind: kind.as_str().into(),
            code,
            label: label.into_string(),
            active: 1,
            created_at: now,
            updated_at: now,
        };
        self.store().insert_code(&c, &p.audit(now)).await?;
        Ok(c)
    }

    /// Relabels a code, or retires (`active: false`) or restores it.
    pub async fn update_code(
        &self,
        p: &Principal,
        id: &str,
        label: Option<Text>,
        active: Option<bool>,
    ) -> Result<WorkCode, AppError> {
        p.require(Permission::QueueManage)?;
        let mut c = self
            .store()
            .get_code(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("code"))?;
        if let Some(l) = label {
            c.label = l.into_string();
        }
        if let Some(a) = active {
            c.active = i64::from(a);
        }
        let now = self.now();
        c.updated_at = now;
        self.store().update_code(&c, &p.audit(now)).await?;
        Ok(c)
    }

    /// While the tenant keeps active codes of `kind`, one must be given.
    pub(crate) async fn require_code(
        &self,
        tenant: TenantId,
        kind: CodeKind,
        field: &str,
    ) -> Result<(), AppError> {
        let codes = self
            .store()
            .list_codes(tenant, Some(kind.as_str()), true)
            .await?;
        if codes.is_empty() {
            return Ok(());
        }
        let choices: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
        Err(AppError::invalid(
            field,
            format!(
                "choose one of the centre's {} codes: {}",
                kind.as_str(),
                choices.join(", ")
            ),
        ))
    }

    /// While the tenant keeps active codes of `kind`, `value` must be one
    /// of them; the error names `field` and lists the choices.
    pub(crate) async fn check_code(
        &self,
        tenant: TenantId,
        kind: CodeKind,
        field: &str,
        value: &str,
    ) -> Result<(), AppError> {
        let codes = self
            .store()
            .list_codes(tenant, Some(kind.as_str()), true)
            .await?;
        if codes.is_empty() || codes.iter().any(|c| c.code == value) {
            return Ok(());
        }
        let choices: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
        Err(AppError::invalid(
            field,
            format!(
                "must be one of the centre's {} codes: {}",
                kind.as_str(),
                choices.join(", ")
            ),
        ))
    }
}
