//! IMAP polling: mail kept in a mailbox elsewhere (a hosted mail service,
//! the company's own server) is fetched and taken like mail received over
//! SMTP, for one of the tenant's receiving addresses (its queue, its
//! threading, its acknowledgement).
//!
//! Each mailbox is polled by one node at a time (a claim in the store). A
//! poll takes the messages after the highest UID already taken (on a
//! mailbox's first poll, or after the folder's UIDVALIDITY changed: the
//! unread ones), in UID order. Each message is stored before the UID is
//! recorded, and the UID recorded before the message is marked seen (or
//! deleted) on the server, so a crash at any point loses nothing; a
//! message fetched twice is kept once (by its Message-ID, or for one
//! without, by an id made from its bytes). Messages that cannot be taken
//! (too large, unreadable, no sender) are counted, marked seen and left on
//! the server.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Client;
use futures_util::TryStreamExt;
use sb_mail::inbound::Inbound;
use sb_model::{Permission, Text, UnixMs};
use sb_store::{EmailAddressRow, ImapMailbox};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{App, AppError, FieldError, Principal};

/// Seconds between polls: the default, and the bounds an administrator may set.
pub const DEFAULT_INTERVAL_SECONDS: i64 = 60;
pub const MIN_INTERVAL_SECONDS: i64 = 10;
pub const MAX_INTERVAL_SECONDS: i64 = 86_400;
/// How long a node's claim on a mailbox holds; a poll is cut off well
/// before (its node is presumed dead after this).
const CLAIM_MS: i64 = 5 * 60_000;
const POLL_TIMEOUT: Duration = Duration::from_secs(4 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Messages taken in one poll at most (the rest wait for the next), and
/// fetched in one command.
const MAX_PER_POLL: usize = 500;
const FETCH_BATCH: usize = 25;
/// Mailboxes polled at once by one node.
const POLLS_AT_ONCE: usize = 8;

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxSpec {
    /// One of the tenant's receiving addresses: the mail is taken as if
    /// sent to it (its queue, its name on replies).
    pub address: String,
    pub host: String,
    /// Default 993 with `tls`, else 143.
    #[serde(default)]
    pub port: Option<u16>,
    /// `tls` (the default), `starttls`, or `none` (a server on this
    /// network only: the password crosses in clear).
    #[serde(default = "default_security")]
    pub security: String,
    pub username: String,
    /// Kept to log in; never shown again. Empty keeps the one set before.
    #[serde(default)]
    pub password: String,
    /// Default `INBOX`.
    #[serde(default)]
    pub folder: Option<String>,
    /// Delete taken messages from the server (default: mark them seen
    /// and keep them).
    #[serde(default)]
    pub delete_after: bool,
    #[serde(default)]
    pub interval_seconds: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_security() -> String {
    "tls".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MailboxView {
    pub id: String,
    pub address: String,
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: String,
    pub has_password: bool,
    pub folder: String,
    pub delete_after: bool,
    pub interval_seconds: i64,
    pub enabled: bool,
    /// Messages taken, and refused (too large or unreadable), in all.
    pub taken: i64,
    pub refused: i64,
    pub last_polled_at: Option<UnixMs>,
    /// Why the last poll failed, or what it refused; None when all went well.
    pub last_error: Option<String>,
    pub next_poll_at: UnixMs,
}

impl From<ImapMailbox> for MailboxView {
    fn from(m: ImapMailbox) -> Self {
        MailboxView {
            has_password: !m.password.is_empty(),
            id: m.id,
            address: m.address,
            host: m.host,
            port: u16::try_from(m.port).unwrap_or_default(),
            security: m.security,
            username: m.username,
            folder: m.folder,
            delete_after: m.delete_after != 0,
            interval_seconds: m.interval_seconds,
            enabled: m.enabled != 0,
            taken: m.taken,
            refused: m.refused,
            last_polled_at: m.last_polled_at,
            last_error: m.last_error,
            next_poll_at: m.next_poll_at,
        }
    }
}

/// A host name or an IP address, as a TLS name and a socket address take it.
fn valid_host(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_ok()
        || (!h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

/// What every poll shares: TLS's trusted roots, and the largest message
/// taken (the SMTP listener's limit).
struct Polling {
    tls: tokio_rustls::TlsConnector,
    max_bytes: usize,
}

/// How one poll went.
#[derive(Debug, Default)]
struct Taken {
    taken: i64,
    refused: i64,
    /// The last refusal's reason.
    refusal: Option<String>,
    /// More were waiting than one poll takes: poll again at once.
    more: bool,
}

impl App {
    pub async fn list_imap_mailboxes(&self, p: &Principal) -> Result<Vec<MailboxView>, AppError> {
        p.require(Permission::QueueManage)?;
        Ok(self
            .store()
            .list_imap_mailboxes(p.tenant_id)
            .await?
            .into_iter()
            .map(MailboxView::from)
            .collect())
    }

    pub async fn create_imap_mailbox(
        &self,
        p: &Principal,
        spec: MailboxSpec,
    ) -> Result<MailboxView, AppError> {
        let id = self.new_uuid().to_string();
        self.save_imap_mailbox(p, id, None, spec).await
    }

    /// Changes a mailbox. Pointing it at another server, account or folder
    /// starts it afresh (the unread messages there are taken).
    pub async fn put_imap_mailbox(
        &self,
        p: &Principal,
        id: &str,
        spec: MailboxSpec,
    ) -> Result<MailboxView, AppError> {
        p.require(Permission::QueueManage)?;
        let before = self
            .store()
            .get_imap_mailbox(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("mailbox"))?;
        self.save_imap_mailbox(p, id.to_owned(), Some(before), spec)
            .await
    }

    async fn save_imap_mailbox(
        &self,
        p: &Principal,
        id: String,
        before: Option<ImapMailbox>,
        spec: MailboxSpec,
    ) -> Result<MailboxView, AppError> {
        p.require(Permission::QueueManage)?;
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: &str| {
            errors.push(FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        let address = crate::email::valid_address(&spec.address);
        match &address {
            None => bad("address", "must be one address like support@example.com"),
            Some(a) => match self.store().find_email_address(a).await? {
                Some(row) if row.tenant_id == p.tenant_id => {}
                _ => bad(
                    "address",
                    "must be one of this tenant's receiving addresses",
                ),
            },
        }
        let host = spec.host.trim().to_ascii_lowercase();
        if !valid_host(&host) {
            bad("host", "must be a host name or an IP address");
        }
        let security = spec.security.trim().to_ascii_lowercase();
        if !["tls", "starttls", "none"].contains(&security.as_str()) {
            bad("security", "must be tls, starttls or none");
        }
        let port = match spec.port {
            Some(0) => {
                bad("port", "must be 1 to 65535");
                0
            }
            Some(p) => p,
            None if security == "tls" => 993,
            None => 143,
        };
        let username = Text::parse(&spec.username, 200);
        if let Err(e) = &username {
            bad("username", &e.0);
        }
        let folder = Text::parse(spec.folder.as_deref().unwrap_or("INBOX"), 200);
        if let Err(e) = &folder {
            bad("folder", &e.0);
        }
        let password = if spec.password.is_empty() {
            before
                .as_ref()
                .map(|b| b.password.clone())
                .unwrap_or_default()
        } else {
            spec.password.clone()
        };
        if password.is_empty() {
            bad("password", "is needed to log in");
        } else if password.len() > 500 || password.chars().any(char::is_control) {
            bad(
                "password",
                "must be at most 500 characters, without control characters",
            );
        }
        let interval = spec.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS);
        if !(MIN_INTERVAL_SECONDS..=MAX_INTERVAL_SECONDS).contains(&interval) {
            bad(
                "interval_seconds",
                &format!("must be {MIN_INTERVAL_SECONDS} to {MAX_INTERVAL_SECONDS}"),
            );
        }
        let (Some(address), Ok(username), Ok(folder), true) =
            (address, username, folder, errors.is_empty())
        else {
            return Err(AppError::Invalid(errors));
        };
        let now = self.now();
        let m = ImapMailbox {
            id,
            tenant_id: p.tenant_id,
            address,
            host,
            port: i64::from(port),
            security,
            username: username.into_string(),
            password,
            folder: folder.into_string(),
            delete_after: i64::from(spec.delete_after),
            interval_seconds: interval,
            enabled: i64::from(spec.enabled),
            uid_validity: None,
            last_uid: 0,
            taken: 0,
            refused: 0,
            next_poll_at: now,
            claimed_until: None,
            last_polled_at: None,
            last_error: None,
            updated_at: now,
        };
        self.store()
            .put_imap_mailbox(&m, &p.audit(now))
            .await
            .map_err(AppError::from_store("mailbox"))?;
        self.mail.imap_wake.notify_one();
        // As stored: a change keeps the poller's state and counts.
        Ok(self
            .store()
            .get_imap_mailbox(p.tenant_id, &m.id)
            .await
            .map_err(AppError::from_store("mailbox"))?
            .into())
    }

    pub async fn delete_imap_mailbox(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::QueueManage)?;
        self.store()
            .delete_imap_mailbox(p.tenant_id, id, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("mailbox"))
    }

    /// Polls a mailbox as soon as a node is free to.
    pub async fn poll_imap_mailbox_now(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::QueueManage)?;
        self.store()
            .poll_imap_mailbox_now(p.tenant_id, id, self.now())
            .await
            .map_err(AppError::from_store("mailbox"))?;
        self.mail.imap_wake.notify_one();
        Ok(())
    }

    /// Polls every tenant's due mailboxes until the process ends; TLS
    /// trusts the web's roots and `extra_roots` ([`read_ca_file`]).
    pub async fn run_imap_polling(
        self,
        extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
        max_message_bytes: usize,
    ) {
        crate::install_tls_provider();
        let how = Arc::new(Polling {
            tls: tls_connector(extra_roots),
            max_bytes: max_message_bytes,
        });
        // Each poll runs on its own task; a slow server holds one slot only.
        let slots = Arc::new(tokio::sync::Semaphore::new(POLLS_AT_ONCE));
        let wake = self.mail.imap_wake.clone();
        loop {
            let free = slots.available_permits() as i64;
            if free > 0 {
                match self
                    .store()
                    .claim_due_imap_mailboxes(self.now(), CLAIM_MS, free)
                    .await
                {
                    Ok(due) if !due.is_empty() => {
                        for m in due {
                            let Ok(slot) = slots.clone().acquire_owned().await else {
                                return;
                            };
                            let (app, how) = (self.clone(), how.clone());
                            tokio::spawn(async move {
                                app.poll_mailbox(&how, m).await;
                                drop(slot);
                                app.mail.imap_wake.notify_one();
                            });
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "claiming mailboxes to poll failed"),
                }
            }
            let next = self.store().next_imap_poll_due().await.ok().flatten();
            let wait = next
                .map(|at| (at - self.now()).clamp(50, 5_000))
                .unwrap_or(5_000);
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
    }

    async fn poll_mailbox(&self, how: &Polling, mut m: ImapMailbox) {
        let began = self.now();
        let outcome = match tokio::time::timeout(POLL_TIMEOUT, self.take_from(how, &mut m)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "the poll took longer than {} s and was cut off",
                POLL_TIMEOUT.as_secs()
            )),
        };
        let error = match &outcome {
            Ok(t) => t.refusal.clone(),
            Err(e) => {
                tracing::info!(tenant = %m.tenant_id, mailbox = %m.id, error = %e, "polling a mailbox failed");
                Some(e.clone())
            }
        };
        let at = self.now();
        let more = matches!(&outcome, Ok(t) if t.more);
        let next = if more {
            at
        } else {
            at + m.interval_seconds * 1_000
        };
        if let Err(e) = self
            .store()
            .finish_imap_poll(&m, began, at, error, next)
            .await
        {
            tracing::warn!(error = %e, "recording a mailbox poll failed");
        }
    }

    /// Connects, logs in and takes what is new.
    async fn take_from(&self, how: &Polling, m: &mut ImapMailbox) -> Result<Taken, String> {
        let to = match self.store().find_email_address(&m.address).await {
            Ok(Some(a)) if a.tenant_id == m.tenant_id => a,
            Ok(_) => {
                return Err(format!(
                    "{} is no longer a receiving address here",
                    m.address
                ));
            }
            Err(e) => return Err(format!("the store: {e}")),
        };
        let port = u16::try_from(m.port).map_err(|_| "the port is out of range".to_owned())?;
        let tcp =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((m.host.as_str(), port)))
                .await
                .map_err(|_| format!("connecting to {}:{port} timed out", m.host))?
                .map_err(|e| format!("connecting to {}:{port}: {e}", m.host))?;
        match m.security.as_str() {
            "none" => {
                let mut client = Client::new(tcp);
                greeting(&mut client).await?;
                self.take_over(how, client, m, &to).await
            }
            "starttls" => {
                let mut client = Client::new(tcp);
                greeting(&mut client).await?;
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| format!("STARTTLS was refused: {}", said(e)))?;
                let stream = tls_over(&how.tls, client.into_inner(), &m.host).await?;
                self.take_over(how, Client::new(stream), m, &to).await
            }
            _ => {
                let stream = tls_over(&how.tls, tcp, &m.host).await?;
                let mut client = Client::new(stream);
                greeting(&mut client).await?;
                self.take_over(how, client, m, &to).await
            }
        }
    }

    async fn take_over<T>(
        &self,
        how: &Polling,
        client: Client<T>,
        m: &mut ImapMailbox,
        to: &EmailAddressRow,
    ) -> Result<Taken, String>
    where
        T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
    {
        let mut session = client
            .login(&m.username, &m.password)
            .await
            .map_err(|(e, _)| format!("the server refused the login: {}", said(e)))?;
        let folder = session
            .select(&m.folder)
            .await
            .map_err(|e| format!("opening the folder {}: {}", m.folder, said(e)))?;
        let validity = i64::from(
            folder
                .uid_validity
                .ok_or("the server gave the folder no UIDVALIDITY")?,
        );
        // A new mailbox, or the folder was made anew: its unread messages.
        let fresh = m.uid_validity != Some(validity);
        let query = if fresh {
            "UNSEEN".to_owned()
        } else {
            format!("UID {}:*", m.last_uid + 1)
        };
        let mut uids: Vec<u32> = session
            .uid_search(&query)
            .await
            .map_err(|e| format!("searching the folder: {}", said(e)))?
            .into_iter()
            .filter(|u| fresh || i64::from(*u) > m.last_uid)
            .collect();
        uids.sort_unstable();
        let all = uids.len() <= MAX_PER_POLL;
        uids.truncate(MAX_PER_POLL);
        let max_bytes = how.max_bytes;
        let limits = sb_mail::inbound::ReadLimits::default();
        let mut done = Taken {
            more: !all,
            ..Taken::default()
        };
        let mut last = if fresh { 0 } else { m.last_uid };
        for batch in uids.chunks(FETCH_BATCH) {
            let set = uid_set(batch);
            let sizes: Vec<(u32, u32)> = session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await
                .map_err(|e| format!("fetching sizes: {}", said(e)))?
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| format!("fetching sizes: {}", said(e)))?
                .into_iter()
                .filter_map(|f| Some((f.uid?, f.size?)))
                .collect();
            let (small, large): (Vec<_>, Vec<_>) = sizes
                .into_iter()
                .partition(|(_, size)| *size as usize <= max_bytes);
            let mut bodies: Vec<(u32, Vec<u8>)> = Vec::new();
            if !small.is_empty() {
                let set = uid_set(&small.iter().map(|(u, _)| *u).collect::<Vec<_>>());
                bodies = session
                    .uid_fetch(&set, "(UID BODY.PEEK[])")
                    .await
                    .map_err(|e| format!("fetching messages: {}", said(e)))?
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| format!("fetching messages: {}", said(e)))?
                    .into_iter()
                    .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                    .collect();
            }
            bodies.sort_unstable_by_key(|(u, _)| *u);
            let mut taken = Vec::new();
            let mut refused = Vec::new();
            for (uid, size) in &large {
                refused.push(*uid);
                done.refusal = Some(format!(
                    "message UID {uid} is {size} bytes, more than the {max_bytes} taken"
                ));
            }
            // Read, then stored: those that answer (or repeat) another of
            // the batch after it, in UID order; the rest at once, so their
            // writes share transactions.
            let mut outcomes: Vec<(u32, Result<(), Refusal>)> = Vec::new();
            let mut now = Vec::new();
            let mut after = Vec::new();
            let mut ids = std::collections::HashSet::new();
            for (uid, raw) in &bodies {
                match read_one(m, raw, &limits) {
                    Err(why) => outcomes.push((*uid, Err(why))),
                    Ok(message) => {
                        let id = message.message_id.clone().unwrap_or_default();
                        let waits = message.answers.iter().any(|a| ids.contains(a));
                        if !ids.insert(id) || waits {
                            after.push((*uid, message));
                        } else {
                            now.push((*uid, message));
                        }
                    }
                }
            }
            let stored = futures_util::future::join_all(
                now.iter()
                    .map(|(_, message)| self.deliver_kept(to, message)),
            )
            .await;
            outcomes.extend(now.iter().map(|(uid, _)| *uid).zip(stored));
            for (uid, message) in &after {
                outcomes.push((*uid, self.deliver_kept(to, message).await));
            }
            outcomes.sort_unstable_by_key(|(uid, _)| *uid);
            for (uid, outcome) in outcomes {
                match outcome {
                    Ok(()) => taken.push(uid),
                    Err(Refusal::Refused(why)) => {
                        refused.push(uid);
                        done.refusal = Some(format!("message UID {uid} was refused: {why}"));
                    }
                    Err(Refusal::Failed(why)) => {
                        // Stop here: this message and those after it are
                        // tried again next time (any of them already
                        // stored is found stored then).
                        taken.retain(|u| *u < uid);
                        refused.retain(|u| *u < uid);
                        self.record_progress(m, fresh, validity, last, &taken, &refused)
                            .await?;
                        return Err(format!("storing message UID {uid}: {why}"));
                    }
                }
            }
            // Every UID of the batch is settled (a message the server no
            // longer has is gone).
            last = last.max(batch.iter().copied().max().map(i64::from).unwrap_or(0));
            self.record_progress(m, fresh, validity, last, &taken, &refused)
                .await?;
            done.taken += taken.len() as i64;
            done.refused += refused.len() as i64;
            // Only now, with the UIDs recorded, is the server told.
            mark(&mut session, &taken, m.delete_after != 0).await?;
            mark(&mut session, &refused, false).await?;
        }
        if fresh && all {
            // From here on, by UID: past every message there now.
            let next = folder.uid_next.map(|u| i64::from(u) - 1).unwrap_or(0);
            m.uid_validity = Some(validity);
            m.last_uid = last.max(next);
            self.store()
                .advance_imap_mailbox(m, Some(validity), m.last_uid, 0, 0)
                .await
                .map_err(|e| format!("the store: {e}"))?;
        }
        let _ = session.logout().await;
        metrics::counter!("switchboard_imap_messages_taken_total").increment(done.taken as u64);
        metrics::counter!("switchboard_imap_messages_refused_total").increment(done.refused as u64);
        Ok(done)
    }

    /// Records the UIDs settled so far. While a fresh start is under way
    /// (the unread ones being taken) the folder's UIDVALIDITY is not yet
    /// kept, so a poll cut short takes the unread ones left next time.
    async fn record_progress(
        &self,
        m: &mut ImapMailbox,
        fresh: bool,
        validity: i64,
        last: i64,
        taken: &[u32],
        refused: &[u32],
    ) -> Result<(), String> {
        let (validity, last) = if fresh {
            (None, 0)
        } else {
            (Some(validity), last)
        };
        let still_ours = self
            .store()
            .advance_imap_mailbox(m, validity, last, taken.len() as i64, refused.len() as i64)
            .await
            .map_err(|e| format!("the store: {e}"))?;
        if !still_ours {
            return Err("the claim on the mailbox lapsed".into());
        }
        m.uid_validity = validity;
        m.last_uid = last;
        Ok(())
    }

    /// Stores one message read from a mailbox.
    async fn deliver_kept(&self, to: &EmailAddressRow, message: &Inbound) -> Result<(), Refusal> {
        match self.deliver_email(to, message).await {
            Ok(_) => Ok(()),
            Err(AppError::Invalid(errors)) => Err(Refusal::Refused(
                errors
                    .first()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .unwrap_or_default(),
            )),
            Err(e) => Err(Refusal::Failed(e.to_string())),
        }
    }
}

/// Reads one message fetched from a mailbox. One without a Message-ID is
/// given one made from its bytes, so that fetched again after a crash it
/// is found stored.
fn read_one(
    m: &ImapMailbox,
    raw: &[u8],
    limits: &sb_mail::inbound::ReadLimits,
) -> Result<Inbound, Refusal> {
    let mut message =
        sb_mail::inbound::read_kept(raw, limits).map_err(|e| Refusal::Refused(e.to_string()))?;
    if message.message_id.is_none() {
        let digest = hex::encode(&Sha256::digest(raw)[..16]);
        message.message_id = Some(format!("kept-{digest}@{}", m.id));
    }
    Ok(message)
}

enum Refusal {
    /// The message cannot be taken, now or later.
    Refused(String),
    /// Storing it failed; it is tried again.
    Failed(String),
}

/// An IMAP error as a person reads it: for the server's NO or BAD, the
/// text it gave.
fn said(e: async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match e {
        Error::No(r) | Error::Bad(r) => {
            let text = r
                .split_once("info: Some(\"")
                .and_then(|(_, rest)| rest.rsplit_once("\")"))
                .map(|(t, _)| t.replace("\\\"", "\""))
                .unwrap_or(r);
            format!("the server said: {text}")
        }
        other => other.to_string(),
    }
}

async fn greeting<T>(client: &mut Client<T>) -> Result<(), String>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the server closed the connection without a greeting".into()),
        Err(e) => Err(format!("reading the server's greeting: {e}")),
    }
}

/// Reads PEM certificates to trust beside the web's roots (a company's
/// own certificate authority, for its own mail server).
pub fn read_ca_file(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificates in it", path.display()));
    }
    Ok(certs)
}

/// Certificates are checked against the web's roots (the same as the
/// SMTP relay's), and those given.
fn tls_connector(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let (added, ignored) = roots.add_parsable_certificates(extra);
    if ignored > 0 {
        tracing::warn!(
            added,
            ignored,
            "some trusted certificates given could not be used"
        );
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_over(
    tls: &tokio_rustls::TlsConnector,
    tcp: TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host} is not a name TLS can check: {e}"))?;
    tls.connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {host}: {e}"))
}

/// `1,3,5` for a command's UID set.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Marks messages seen, or deletes them.
async fn mark<T>(
    session: &mut async_imap::Session<T>,
    uids: &[u32],
    delete: bool,
) -> Result<(), String>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    let flag = if delete { "\\Deleted" } else { "\\Seen" };
    session
        .uid_store(&set, format!("+FLAGS.SILENT ({flag})"))
        .await
        .map_err(|e| format!("marking messages: {}", said(e)))?
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| format!("marking messages: {}", said(e)))?;
    if delete {
        session
            .uid_expunge(&set)
            .await
            .map_err(|e| format!("deleting messages: {}", said(e)))?
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| format!("deleting messages: {}", said(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses() {
        for good in ["imap.example.com", "127.0.0.1", "::1", "mail-1.example"] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "imap example.com",
            "-x.example",
            "a..b",
            "host:993",
            "imap.example.com/x",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn uid_sets_are_comma_lists() {
        assert_eq!(uid_set(&[3, 5, 9]), "3,5,9");
    }
}
