//! SMS: texts arrive by the provider's webhook (signature checked, a
//! replayed webhook stored once), join the customer's conversation with
//! that number or start one, and are routed as `sms` contacts; agents'
//! replies are queued like email's and sent through the provider adapter
//! ([`SmsProvider`]; [`Twilio`] speaks Twilio's Messages API). STOP and its
//! kin opt the customer out (nothing more is sent to them); START lifts it.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use sb_model::{Channel, ContactId, Direction, Permission, PhoneNumber, QueueId, Text};
use sb_store::{Conversation, MessageRow, Received, SmsAccount, SmsNumber, StoreError};

use crate::contacts::NewContact;
use crate::{App, AppError, FieldError, Principal};

/// Keywords that opt a customer out, and back in (the carriers' list).
pub const STOP_WORDS: &[&str] = &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
pub const START_WORDS: &[&str] = &["START", "UNSTOP", "YES"];
/// The longest text kept or sent (ten segments).
pub const MAX_SMS_CHARS: usize = 1_600;

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsNumberSpec {
    pub queue_id: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SmsNumberView {
    pub number: String,
    pub queue_id: String,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsAccountSpec {
    /// `twilio` (or any provider speaking its Messages API).
    pub provider: String,
    pub account_sid: String,
    /// Kept to check webhooks and send; never shown again. Empty keeps the
    /// one set before.
    #[serde(default)]
    pub auth_token: String,
    /// The provider's API (default `https://api.twilio.com`).
    #[serde(default)]
    pub api_base: Option<String>,
    /// The address the provider posts texts to, exactly as configured
    /// there (signatures cover it), ending in `/api/v1/sms/twilio`.
    pub webhook_url: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SmsAccountView {
    pub provider: String,
    pub account_sid: String,
    pub api_base: String,
    pub webhook_url: String,
    pub has_token: bool,
}

/// What a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    Stored,
    /// The same MessageSid again: nothing stored.
    Duplicate,
    OptedOut,
    OptedIn,
}

/// Sends one text; the provider's id, or whether a failure is permanent and why.
pub trait SmsProvider: Send + Sync {
    fn send(
        &self,
        account: &SmsAccount,
        from: &str,
        to: &str,
        body: &str,
    ) -> impl std::future::Future<Output = Result<String, (bool, String)>> + Send;
}

/// Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`).
pub struct Twilio {
    client: reqwest::Client,
}

impl Twilio {
    pub fn new() -> Result<Self, AppError> {
        crate::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(Twilio { client })
    }
}

impl SmsProvider for Twilio {
    async fn send(
        &self,
        account: &SmsAccount,
        from: &str,
        to: &str,
        body: &str,
    ) -> Result<String, (bool, String)> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            account.api_base.trim_end_matches('/'),
            account.account_sid
        );
        let r = self
            .client
            .post(url)
            .basic_auth(&account.account_sid, Some(&account.auth_token))
            .form(&[("From", from), ("To", to), ("Body", body)])
            .send()
            .await
            .map_err(|e| (false, e.to_string()))?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if status.is_success() {
            Ok(v["sid"].as_str().unwrap_or_default().to_owned())
        } else {
            let why = format!(
                "{} {}",
                status.as_u16(),
                v["message"].as_str().unwrap_or("")
            );
            Err((status.is_client_error() && status.as_u16() != 429, why))
        }
    }
}

/// Twilio's request signature: base64 of HMAC-SHA1 over the URL and every
/// parameter, sorted by name, name then value.
pub fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(twilio_mac(token, url, params).finalize().into_bytes())
}

/// Whether `given` (base64) is the request's signature; compared in
/// constant time by `hmac`.
fn twilio_signed(token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(given)
        .is_ok_and(|sig| twilio_mac(token, url, params).verify_slice(&sig).is_ok())
}

fn twilio_mac(token: &str, url: &str, params: &[(String, String)]) -> hmac::Hmac<sha1::Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("any key");
    mac.update(data.as_bytes());
    mac
}

fn principal(tenant: sb_model::TenantId) -> Principal {
    Principal {
        source: "sms".into(),
        ..Principal::cli(tenant)
    }
}

impl App {
    pub async fn put_sms_number(
        &self,
        p: &Principal,
        number: &str,
        spec: SmsNumberSpec,
    ) -> Result<SmsNumberView, AppError> {
        p.require(Permission::QueueManage)?;
        let mut errors = Vec::new();
        let number = PhoneNumber::parse(number).ok();
        if number.is_none() {
            errors.push(FieldError {
                field: "number".into(),
                message: "must be a number in E.164 form, like +61400000000".into(),
            });
        }
        self.check_queue(p, &spec.queue_id, &mut errors).await?;
        let Some(number) = number.filter(|_| errors.is_empty()) else {
            return Err(AppError::Invalid(errors));
        };
        let row = SmsNumber {
            number: number.as_str().to_owned(),
            tenant_id: p.tenant_id,
            queue_id: spec.queue_id,
            updated_at: self.now(),
        };
        self.store()
            .put_sms_number(&row, &p.audit(row.updated_at))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AppError::Conflict(m),
                other => other.into(),
            })?;
        Ok(SmsNumberView {
            number: row.number,
            queue_id: row.queue_id,
        })
    }

    pub async fn list_sms_numbers(&self, p: &Principal) -> Result<Vec<SmsNumberView>, AppError> {
        p.require(Permission::QueueRead)?;
        Ok(self
            .store()
            .list_sms_numbers(p.tenant_id)
            .await?
            .into_iter()
            .map(|n| SmsNumberView {
                number: n.number,
                queue_id: n.queue_id,
            })
            .collect())
    }

    pub async fn put_sms_account(
        &self,
        p: &Principal,
        spec: SmsAccountSpec,
    ) -> Result<SmsAccountView, AppError> {
        p.require(Permission::QueueManage)?;
        // An empty token keeps the one set before.
        let token = if spec.auth_token.is_empty() {
            self.store()
                .get_sms_account(p.tenant_id)
                .await?
                .map(|a| a.auth_token)
                .unwrap_or_default()
        } else {
            spec.auth_token.clone()
        };
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: &str| {
            errors.push(FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        if spec.provider != "twilio" {
            bad("provider", "must be twilio");
        }
        let plain = |s: &str| {
            !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_alphanumeric())
        };
        if !plain(&spec.account_sid) {
            bad("account_sid", "must be 1 to 200 letters and digits");
        }
        if !plain(&token) {
            bad("auth_token", "must be 1 to 200 letters and digits");
        }
        let api_base = spec
            .api_base
            .clone()
            .unwrap_or_else(|| "https://api.twilio.com".into());
        crate::webhooks::check_url("api_base", &api_base, &mut errors);
        crate::webhooks::check_url("webhook_url", &spec.webhook_url, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let row = SmsAccount {
            tenant_id: p.tenant_id,
            provider: spec.provider,
            account_sid: spec.account_sid,
            auth_token: token,
            api_base,
            webhook_url: spec.webhook_url,
            updated_at: self.now(),
        };
        self.store()
            .put_sms_account(&row, &p.audit(row.updated_at))
            .await?;
        self.mail.wake.notify_one();
        Ok(account_view(row))
    }

    pub async fn get_sms_account(&self, p: &Principal) -> Result<SmsAccountView, AppError> {
        p.require(Permission::QueueRead)?;
        self.store()
            .get_sms_account(p.tenant_id)
            .await?
            .map(account_view)
            .ok_or(AppError::NotFound("SMS account"))
    }

    /// A provider's webhook: `params` as posted (form fields), `signature`
    /// its `X-Twilio-Signature`. A number not held here, a tenant without
    /// a provider account and a bad signature are all unauthorised alike
    /// (a caller without the token learns nothing of which numbers are
    /// here), and none stores anything.
    pub async fn receive_sms(
        &self,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> Result<SmsOutcome, AppError> {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let to = get("To").and_then(|t| PhoneNumber::parse(t).ok());
        let Some(to) = to else {
            return Err(AppError::invalid("To", "must be a number"));
        };
        let ours = self
            .store()
            .find_sms_number(to.as_str())
            .await?
            .ok_or(AppError::Unauthorized)?;
        let tenant = ours.tenant_id;
        let account = self
            .store()
            .get_sms_account(tenant)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let signed = twilio_signed(
            &account.auth_token,
            &account.webhook_url,
            params,
            signature.unwrap_or_default(),
        );
        if !signed || get("AccountSid") != Some(account.account_sid.as_str()) {
            tracing::warn!(tenant = %tenant, "an SMS webhook with a bad signature was refused");
            return Err(AppError::Unauthorized);
        }
        let mut errors = Vec::new();
        let sid = get("MessageSid").filter(|s| {
            !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if sid.is_none() {
            errors.push(FieldError {
                field: "MessageSid".into(),
                message: "must be the provider's message id".into(),
            });
        }
        let from = get("From").and_then(|f| PhoneNumber::parse(f).ok());
        if from.is_none() {
            errors.push(FieldError {
                field: "From".into(),
                message: "must be a number".into(),
            });
        }
        let (Some(sid), Some(from)) = (sid, from) else {
            return Err(AppError::Invalid(errors));
        };
        let from = from.as_str().to_owned();
        let body: String = get("Body")
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(MAX_SMS_CHARS)
            .collect();
        let store = self.store();
        if store
            .find_message_by_message_id(tenant, sid)
            .await?
            .is_some()
        {
            return Ok(SmsOutcome::Duplicate);
        }
        let now = self.now();
        let word = body.trim().to_ascii_uppercase();
        if STOP_WORDS.contains(&word.as_str()) {
            store.set_sms_opt_out(tenant, &from, true, now).await?;
            return Ok(SmsOutcome::OptedOut);
        }
        if START_WORDS.contains(&word.as_str()) {
            store.set_sms_opt_out(tenant, &from, false, now).await?;
            return Ok(SmsOutcome::OptedIn);
        }
        // The customer's conversation with this number, if any; its open
        // contact takes the text.
        let conversation = store
            .find_sms_conversation(tenant, &from, to.as_str())
            .await?;
        let open = match &conversation {
            Some(c) => self.open_contact_of(tenant, &c.id).await?,
            None => None,
        };
        let new_conversation = match conversation {
            Some(_) => None,
            None => Some(Conversation {
                id: self.new_uuid().to_string(),
                tenant_id: tenant,
                channel: "sms".into(),
                reference: crate::email::random_reference()?,
                address: to.as_str().to_owned(),
                customer_address: from.clone(),
                customer_name: None,
                subject: "Text message".into(),
                queue_id: ours.queue_id.clone(),
                created_at: now,
                updated_at: now,
            }),
        };
        let conv = conversation
            .as_ref()
            .or(new_conversation.as_ref())
            .expect("one")
            .clone();
        let contact_id = open.unwrap_or_else(|| ContactId::from_uuid(self.new_uuid()));
        let row = MessageRow {
            id: self.new_uuid().to_string(),
            tenant_id: tenant,
            conversation_id: conv.id.clone(),
            contact_id: contact_id.to_string(),
            direction: "in".into(),
            message_id: sid.to_owned(),
            in_reply_to: None,
            from_address: from.clone(),
            from_name: None,
            to_address: to.as_str().to_owned(),
            subject: String::new(),
            text_body: body,
            html_body: None,
            remote_images_blocked: 0,
            automatic: None,
            author_user_id: None,
            status: "received".into(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            sent_at: None,
            raw: None,
            created_at: now,
            channel: "sms".into(),
        };
        let received = Received {
            conversation: new_conversation,
            message: row.clone(),
            attachments: Vec::new(),
            acknowledgement: None,
        };
        if open.is_some() {
            self.join_open_contact(&received).await?;
        } else {
            let queue: QueueId = conv
                .queue_id
                .parse()
                .map_err(|_| AppError::Internal("a stored queue id does not parse".into()))?;
            let customer = store
                .find_customer_by_phone(tenant, &from)
                .await?
                .and_then(|c| c.parse().ok());
            let mut attributes = BTreeMap::new();
            attributes.insert("reference".to_owned(), conv.reference.clone());
            let new = NewContact {
                channel: Channel::Sms,
                direction: Direction::Inbound,
                queue_id: queue,
                customer_id: customer,
                priority: None,
                subject: Text::parse("Text message", 200).ok(),
                from_address: Text::parse(&from, 320).ok(),
                to_address: Text::parse(to.as_str(), 320).ok(),
                attributes,
                requested_agent_id: None,
            };
            self.create_contact_with(&principal(tenant), contact_id, new, Some(received))
                .await?;
        }
        Ok(SmsOutcome::Stored)
    }

    /// Queues an agent's text to the customer (not to one who opted out).
    pub(crate) async fn queue_sms_reply(
        &self,
        p: &Principal,
        contact: ContactId,
        conv: &Conversation,
        text: &str,
    ) -> Result<MessageRow, AppError> {
        if text.chars().count() > MAX_SMS_CHARS {
            return Err(AppError::invalid(
                "text",
                format!("must be 1 to {MAX_SMS_CHARS} characters"),
            ));
        }
        if self
            .store()
            .sms_opted_out(p.tenant_id, &conv.customer_address)
            .await?
        {
            return Err(AppError::Conflict(
                "the customer has opted out of text messages (STOP)".into(),
            ));
        }
        let now = self.now();
        let row = MessageRow {
            id: self.new_uuid().to_string(),
            tenant_id: p.tenant_id,
            conversation_id: conv.id.clone(),
            contact_id: contact.to_string(),
            direction: "out".into(),
            message_id: format!("{}@sms", self.new_uuid()),
            in_reply_to: None,
            from_address: conv.address.clone(),
            from_name: None,
            to_address: conv.customer_address.clone(),
            subject: String::new(),
            text_body: text.to_owned(),
            html_body: None,
            remote_images_blocked: 0,
            automatic: None,
            author_user_id: p.user_id.map(|u| u.to_string()),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: Some(now),
            last_error: None,
            sent_at: None,
            raw: None,
            created_at: now,
            channel: "sms".into(),
        };
        self.store().insert_outbound(&row, &[]).await?;
        self.mail.wake.notify_one();
        Ok(row)
    }

    /// Sends one queued text through the tenant's provider.
    pub(crate) async fn send_sms(
        &self,
        provider: &impl SmsProvider,
        m: &MessageRow,
    ) -> Result<(), (bool, String)> {
        if self
            .store()
            .sms_opted_out(m.tenant_id, &m.to_address)
            .await
            .map_err(|e| (false, e.to_string()))?
        {
            return Err((true, "the customer has opted out (STOP)".into()));
        }
        let account = self
            .store()
            .get_sms_account(m.tenant_id)
            .await
            .map_err(|e| (false, e.to_string()))?
            .ok_or((true, "no SMS account is set up".to_owned()))?;
        provider
            .send(&account, &m.from_address, &m.to_address, &m.text_body)
            .await
            .map(|_| ())
    }
}

fn account_view(a: SmsAccount) -> SmsAccountView {
    SmsAccountView {
        provider: a.provider,
        account_sid: a.account_sid,
        api_base: a.api_base,
        webhook_url: a.webhook_url,
        has_token: !a.auth_token.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_signatures_match_the_documented_example() {
        // Twilio's documentation: this URL, these parameters and the token
        // 12345 sign as below.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
