//! Reading a received message: who wrote, what they said (text, and HTML
//! made safe to show), what they attached, which messages it answers, and
//! whether it was sent by a machine (so nobody auto-replies to it).
//! MIME is parsed by `mail-parser`, which decodes encoded words, charsets
//! and transfer encodings; this module bounds what a message may hold.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};

/// What a readable message may hold.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// MIME parts in all (a "MIME bomb" has thousands).
    pub max_parts: usize,
    /// Multiparts and attached messages inside each other.
    pub max_depth: usize,
    /// Attachments kept; the rest are listed as dropped.
    pub max_attachments: usize,
    /// The largest attachment kept.
    pub max_attachment_bytes: usize,
    /// Characters of text (and of HTML) kept.
    pub max_text_chars: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_parts: 200,
            max_depth: 16,
            max_attachments: 20,
            max_attachment_bytes: 5 * 1024 * 1024,
            max_text_chars: 200_000,
        }
    }
}

/// Why a message cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    NoHeaders,
    NoSender,
    TooManyParts(usize),
    TooDeep,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NoHeaders => write!(f, "Not a message: no headers"),
            Unreadable::NoSender => write!(f, "The message has no sender address"),
            Unreadable::TooManyParts(n) => write!(f, "Too many MIME parts ({n})"),
            Unreadable::TooDeep => write!(f, "MIME parts nested too deeply"),
        }
    }
}

/// A file that came with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A received message, read.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Ids this answers: In-Reply-To, then References newest first.
    pub answers: Vec<String>,
    /// The address to answer (Reply-To, else From), lower-cased.
    pub from_address: String,
    pub from_name: Option<String>,
    /// One line, no control characters.
    pub subject: String,
    /// The text (from the text part, or from the HTML when there is none).
    pub text: String,
    /// The HTML part, sanitised: no scripts, styles, forms or event
    /// handlers; remote images removed.
    pub html: Option<String>,
    pub remote_images_blocked: bool,
    pub attachments: Vec<Attachment>,
    /// Attachments not kept, with why.
    pub dropped: Vec<String>,
    /// Why no automatic reply may be sent to it, if so (a bounce, an
    /// auto-reply, a mailing list, bulk mail).
    pub automatic: Option<&'static str>,
}

/// The reverse path of a kept message without a `Return-Path`: not empty
/// (so not a bounce), and not an address (so never its sender).
const KEPT_WITHOUT_RETURN_PATH: &str = "(kept)";

static PARSER: LazyLock<MessageParser> = LazyLock::new(MessageParser::default);

/// Reads `raw`, received with the reverse path `mail_from`.
pub fn read(raw: &[u8], mail_from: &str, limits: &ReadLimits) -> Result<Inbound, Unreadable> {
    read_with(raw, Some(mail_from), limits)
}

/// Reads a message kept in a mailbox (fetched over IMAP). Its reverse path
/// is its `Return-Path` header (`<>`: a bounce); one without the header is
/// read as if its sender had sent it.
pub fn read_kept(raw: &[u8], limits: &ReadLimits) -> Result<Inbound, Unreadable> {
    read_with(raw, None, limits)
}

fn read_with(
    raw: &[u8],
    mail_from: Option<&str>,
    limits: &ReadLimits,
) -> Result<Inbound, Unreadable> {
    let message = PARSER.parse(raw).ok_or(Unreadable::NoHeaders)?;
    if message.headers().is_empty() {
        return Err(Unreadable::NoHeaders);
    }
    let return_path;
    let mail_from = match mail_from {
        Some(m) => m,
        None => {
            return_path = message.header_raw("Return-Path").map(|v| {
                v.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim()
                    .to_owned()
            });
            return_path.as_deref().unwrap_or(KEPT_WITHOUT_RETURN_PATH)
        }
    };
    check_shape(&message, limits, 0)?;
    let sender = message
        .reply_to()
        .and_then(|a| a.first())
        .filter(|a| a.address().is_some_and(plausible_address))
        .or_else(|| message.from().and_then(|a| a.first()))
        .filter(|a| a.address().is_some_and(plausible_address));
    let (from_address, from_name) = match sender {
        Some(a) => (
            a.address().unwrap_or_default().trim().to_lowercase(),
            a.name().map(one_line).filter(|n| !n.is_empty()),
        ),
        None if plausible_address(mail_from) => (mail_from.trim().to_lowercase(), None),
        None => return Err(Unreadable::NoSender),
    };
    let mut answers = ids(message.in_reply_to());
    let mut refs = ids(message.references());
    refs.reverse();
    for r in refs {
        if !answers.contains(&r) {
            answers.push(r);
        }
    }
    answers.truncate(50);
    let html_raw = message
        .html_bodies()
        .find(|p| matches!(p.body, PartType::Html(_)))
        .and_then(|p| p.text_contents().map(str::to_owned));
    let text = match message
        .text_bodies()
        .find(|p| matches!(p.body, PartType::Text(_)))
    {
        Some(p) => p.text_contents().unwrap_or_default().to_owned(),
        None => message
            .body_text(0)
            .map(Cow::into_owned)
            .unwrap_or_default(),
    };
    let (html, remote_images_blocked) = match html_raw {
        Some(h) => {
            let (clean, blocked) = sanitise_html(&truncate(&h, limits.max_text_chars));
            (Some(clean), blocked)
        }
        None => (None, false),
    };
    let mut attachments = Vec::new();
    let mut dropped = Vec::new();
    for part in message.attachments() {
        let filename = part
            .attachment_name()
            .map(safe_filename)
            .unwrap_or_else(|| "attachment".into());
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let bytes = match &part.body {
            PartType::Message(m) => m.raw_message().to_vec(),
            _ => part.contents().to_vec(),
        };
        if bytes.len() > limits.max_attachment_bytes {
            dropped.push(format!(
                "{filename}: {} bytes, more than {}",
                bytes.len(),
                limits.max_attachment_bytes
            ));
        } else if attachments.len() >= limits.max_attachments {
            dropped.push(format!(
                "{filename}: more than {} attachments",
                limits.max_attachments
            ));
        } else {
            attachments.push(Attachment {
                filename,
                content_type,
                bytes,
            });
        }
    }
    Ok(Inbound {
        message_id: message
            .message_id()
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty() && m.len() <= 250),
        answers,
        automatic: automatic(&message, mail_from, &from_address),
        from_address,
        from_name,
        subject: one_line(message.subject().unwrap_or_default()),
        text: truncate(&text, limits.max_text_chars),
        html,
        remote_images_blocked,
        attachments,
        dropped,
    })
}

/// Refuses messages with too many parts or parts nested too deeply
/// (checked without recursion on the parts tree, recursing only into
/// attached messages, which are bounded by the depth).
fn check_shape(message: &Message<'_>, limits: &ReadLimits, depth: usize) -> Result<(), Unreadable> {
    if depth > limits.max_depth {
        return Err(Unreadable::TooDeep);
    }
    if message.parts.len() > limits.max_parts {
        return Err(Unreadable::TooManyParts(message.parts.len()));
    }
    let mut stack = vec![(0u32, depth)];
    let mut seen = 0;
    while let Some((id, d)) = stack.pop() {
        seen += 1;
        if seen > limits.max_parts {
            return Err(Unreadable::TooManyParts(seen));
        }
        if d > limits.max_depth {
            return Err(Unreadable::TooDeep);
        }
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                stack.extend(children.iter().map(|c| (*c, d + 1)));
            }
            PartType::Message(inner) => check_shape(inner, limits, d + 1)?,
            _ => {}
        }
    }
    Ok(())
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match v {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|s| {
            s.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .filter(|s| !s.is_empty() && s.len() <= 250)
        .collect()
}

fn plausible_address(a: &str) -> bool {
    let a = a.trim();
    a.len() <= 254
        && a.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// Why a message is a machine's, so not to be auto-replied to (RFC 3834).
fn automatic(message: &Message<'_>, mail_from: &str, from: &str) -> Option<&'static str> {
    if mail_from.trim().is_empty() {
        return Some("bounce (empty return path)");
    }
    let raw = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if raw("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return Some("automatic (Auto-Submitted)");
    }
    if raw("Precedence").is_some_and(|v| ["bulk", "junk", "list"].iter().any(|p| v.starts_with(p)))
    {
        return Some("bulk (Precedence)");
    }
    if raw("List-Id").is_some() || raw("List-Unsubscribe").is_some() {
        return Some("mailing list");
    }
    if raw("X-Auto-Response-Suppress")
        .is_some_and(|v| ["all", "autoreply", "oof"].iter().any(|p| v.contains(p)))
    {
        return Some("automatic replies suppressed");
    }
    if message.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("delivery report");
    }
    let local = from.split('@').next().unwrap_or_default();
    let machine = [
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
    ];
    if machine.contains(&local) {
        return Some("no-reply sender");
    }
    None
}

/// One line of text: control characters (line breaks too) become spaces.
pub fn one_line(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(998)
        .collect();
    let trimmed = out.trim().len();
    if trimmed != out.len() {
        out = out.trim().to_owned();
    }
    out
}

fn truncate(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => s[..at].to_owned(),
        None => s.to_owned(),
    }
}

/// A file name safe to show and to offer for download: no path, no
/// control characters, at most 200 characters.
pub fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !"\"<>|:*?".contains(*c))
        .take(200)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "attachment".into()
    } else {
        clean
    }
}

/// Sanitises HTML to show to an agent: ammonia's allow-list (no scripts,
/// styles, forms, frames or event handlers), links opened without a
/// referrer, and images only from the message itself (`cid:`); remote
/// images (which tell the sender the mail was read) are removed. Returns
/// whether any was.
pub fn sanitise_html(html: &str) -> (String, bool) {
    let blocked = Arc::new(AtomicBool::new(false));
    let flag = blocked.clone();
    let clean = ammonia::Builder::default()
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && (attribute == "src" || attribute == "srcset") {
                let v = value.trim_start().to_ascii_lowercase();
                if !v.starts_with("cid:") {
                    flag.store(true, Ordering::Relaxed);
                    return None;
                }
            }
            Some(Cow::Borrowed(value))
        })
        .clean(html)
        .to_string();
    (clean, blocked.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_default(raw: &str) -> Result<Inbound, Unreadable> {
        read(raw.as_bytes(), "sender@example.net", &ReadLimits::default())
    }

    #[test]
    fn a_multipart_message_is_read_with_its_thread_and_attachment() {
        let raw = "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@Example.NET>\r\n\
To: support@demo.example\r\n\
Subject: =?utf-8?b?UmU6IFLDqWNsYW1hdGlvbg==?=\r\n\
Message-ID: <m2@example.net>\r\n\
In-Reply-To: <m1@demo.example>\r\n\
References: <m0@demo.example> <m1@demo.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\n\
Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
--b2\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n\
Gr=FC=DFe\r\n\
--b2\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n\
<p onclick=\"x()\">Hi<script>alert(1)</script><img src=\"https://t.example/p.gif\"></p>\r\n\
--b2--\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"../../etc/bill.pdf\"\r\n\
Content-Disposition: attachment; filename=\"../../etc/bill.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQ=\r\n\
--b1--\r\n";
        let m = read_default(raw).unwrap();
        assert_eq!(m.from_address, "joerg@example.net");
        assert_eq!(m.from_name.as_deref(), Some("Jörg Müller"));
        assert_eq!(m.subject, "Re: Réclamation");
        assert_eq!(m.message_id.as_deref(), Some("m2@example.net"));
        assert_eq!(m.answers, ["m1@demo.example", "m0@demo.example"]);
        assert_eq!(m.text.trim(), "Grüße");
        let html = m.html.unwrap();
        assert!(
            !html.contains("script") && !html.contains("onclick") && !html.contains("t.example"),
            "{html}"
        );
        assert!(html.contains("Hi"));
        assert!(m.remote_images_blocked);
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "bill.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
        assert_eq!(m.attachments[0].bytes, b"%PDF-1.4");
        assert_eq!(m.automatic, None);
    }

    #[test]
    fn machines_are_recognised() {
        let base = "From: a@example.net\r\nSubject: x\r\n";
        for (extra, from) in [
            ("Auto-Submitted: auto-replied\r\n", "s@example.net"),
            ("Precedence: bulk\r\n", "s@example.net"),
            ("List-Id: <l.example.net>\r\n", "s@example.net"),
            ("", ""),
        ] {
            let raw = format!("{base}{extra}\r\nbody\r\n");
            let m = read(raw.as_bytes(), from, &ReadLimits::default()).unwrap();
            assert!(m.automatic.is_some(), "{extra:?} {from:?}");
        }
        let raw = format!("{base}Auto-Submitted: no\r\n\r\nbody\r\n");
        assert_eq!(read_default(&raw).unwrap().automatic, None);
        let raw = "From: MAILER-DAEMON@example.net\r\n\r\nx\r\n";
        assert!(read_default(raw).unwrap().automatic.is_some());
    }

    #[test]
    fn a_kept_message_takes_its_reverse_path_from_return_path() {
        let limits = ReadLimits::default();
        let body = "From: Ann <ann@example.net>\r\nSubject: x\r\n\r\nbody\r\n";
        let bounce = format!("Return-Path: <>\r\n{body}");
        assert_eq!(
            read_kept(bounce.as_bytes(), &limits).unwrap().automatic,
            Some("bounce (empty return path)")
        );
        let person = format!("Return-Path: <ann@example.net>\r\n{body}");
        let m = read_kept(person.as_bytes(), &limits).unwrap();
        assert_eq!(
            (m.automatic, m.from_address.as_str()),
            (None, "ann@example.net")
        );
        // Without the header: not a bounce, and still from its sender.
        let m = read_kept(body.as_bytes(), &limits).unwrap();
        assert_eq!(
            (m.automatic, m.from_address.as_str()),
            (None, "ann@example.net")
        );
        // Without a sender, the placeholder never becomes one.
        assert!(matches!(
            read_kept(b"Subject: x\r\n\r\nbody\r\n", &limits),
            Err(Unreadable::NoSender)
        ));
    }

    #[test]
    fn mime_bombs_are_refused() {
        let mut wide = String::from(
            "From: a@example.net\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
        );
        for _ in 0..500 {
            wide.push_str("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n");
        }
        wide.push_str("--b--\r\n");
        assert!(matches!(
            read_default(&wide),
            Err(Unreadable::TooManyParts(_))
        ));

        let mut deep = String::from("From: a@example.net\r\n");
        for i in 0..40 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
            ));
        }
        deep.push_str("Content-Type: text/plain\r\n\r\nx\r\n");
        assert_eq!(read_default(&deep).unwrap_err(), Unreadable::TooDeep);
    }

    #[test]
    fn header_injection_and_garbage_do_not_get_through() {
        let raw =
            "From: a@example.net\r\nSubject: =?utf-8?q?hi=0D=0ABcc:_x@evil.example?=\r\n\r\nx\r\n";
        let m = read_default(raw).unwrap();
        assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
        assert_eq!(read_default("").unwrap_err(), Unreadable::NoHeaders);
        assert!(read(b"Subject: no sender\r\n\r\nx", "", &ReadLimits::default()).is_err());
        // Invalid bytes in a declared charset are replaced, not refused.
        let raw = b"From: a@example.net\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe ok\r\n";
        assert!(
            read(raw, "a@example.net", &ReadLimits::default())
                .unwrap()
                .text
                .contains("ok")
        );
    }

    #[test]
    fn attachments_over_the_limits_are_dropped_and_named() {
        let limits = ReadLimits {
            max_attachment_bytes: 4,
            max_attachments: 1,
            ..ReadLimits::default()
        };
        let raw = "From: a@example.net\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n\r\n0123456789\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\nab\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=b.bin\r\n\r\ncd\r\n\
--b--\r\n";
        let m = read(raw.as_bytes(), "a@example.net", &limits).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "a.bin");
        assert_eq!(m.dropped.len(), 2, "{:?}", m.dropped);
        assert!(m.dropped[0].starts_with("big.bin"));
    }
}
