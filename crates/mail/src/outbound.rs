//! Building the messages Switchboard sends: an agent's reply and the
//! automatic acknowledgement, with the headers that keep the customer's
//! mail client threading them (`In-Reply-To`, `References`) and that stop
//! mail loops (`Auto-Submitted`). `lettre` writes the message (encoded
//! words, quoted-printable, MIME); every value from outside is made one
//! line first, so nothing can add a header.

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::inbound::{one_line, safe_filename};

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub from_name: String,
    pub from_address: String,
    pub to_name: Option<String>,
    pub to_address: String,
    pub subject: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The message answered, without angle brackets.
    pub in_reply_to: Option<String>,
    /// The thread's ids, oldest first, without angle brackets.
    pub references: Vec<String>,
    pub text: String,
    /// An automatic message (`Auto-Submitted: auto-replied`), not a person's.
    pub automatic: bool,
    /// File name, content type, bytes.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// Why a message could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbuildable(pub String);

impl std::fmt::Display for Unbuildable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn mailbox(name: Option<&str>, address: &str, what: &str) -> Result<Mailbox, Unbuildable> {
    let address = address
        .trim()
        .parse()
        .map_err(|_| Unbuildable(format!("bad {what} address")))?;
    Ok(Mailbox::new(
        name.map(one_line).filter(|n| !n.is_empty()),
        address,
    ))
}

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 250
        && id.contains('@')
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// The message's bytes, ready for `DATA`.
pub fn build(o: &Outgoing) -> Result<Vec<u8>, Unbuildable> {
    if !id_ok(&o.message_id) {
        return Err(Unbuildable("bad Message-ID".into()));
    }
    let mut b = Message::builder()
        .from(mailbox(Some(&o.from_name), &o.from_address, "sender")?)
        .to(mailbox(o.to_name.as_deref(), &o.to_address, "recipient")?)
        .subject(one_line(&o.subject))
        .message_id(Some(format!("<{}>", o.message_id)));
    if let Some(r) = o.in_reply_to.as_deref().filter(|r| id_ok(r)) {
        b = b.in_reply_to(format!("<{r}>"));
    }
    let refs: Vec<String> = o
        .references
        .iter()
        .filter(|r| id_ok(r))
        .map(|r| format!("<{r}>"))
        .collect();
    if !refs.is_empty() {
        // At most the first and the last twenty (RFC 5322 §3.6.4 keeps
        // the first; clients keep the recent ones).
        let keep: Vec<String> = if refs.len() > 21 {
            std::iter::once(refs[0].clone())
                .chain(refs[refs.len() - 20..].iter().cloned())
                .collect()
        } else {
            refs
        };
        b = b.references(keep.join(" "));
    }
    if o.automatic {
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ));
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ));
    }
    let text = SinglePart::plain(o.text.clone());
    let message = if o.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for (name, ctype, bytes) in &o.attachments {
            let ctype = ContentType::parse(ctype)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("valid"));
            parts =
                parts.singlepart(Attachment::new(safe_filename(name)).body(bytes.clone(), ctype));
        }
        b.multipart(parts)
    }
    .map_err(|e| Unbuildable(e.to_string()))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::{ReadLimits, read};

    fn reply() -> Outgoing {
        Outgoing {
            from_name: "Demo Support".into(),
            from_address: "support@demo.example".into(),
            to_name: Some("Jörg Müller".into()),
            to_address: "joerg@example.net".into(),
            subject: "Re: Réclamation [#K3M9Q2XA]".into(),
            message_id: "r1@demo.example".into(),
            in_reply_to: Some("m2@example.net".into()),
            references: vec!["m1@example.net".into(), "m2@example.net".into()],
            text: "Hello,\n\nsorted.\n\n-- \nEmma".into(),
            automatic: false,
            attachments: vec![(
                "../x/note.txt".into(),
                "text/plain".into(),
                b"note".to_vec(),
            )],
        }
    }

    #[test]
    fn a_reply_reads_back_with_its_thread() {
        let bytes = build(&reply()).unwrap();
        let back = read(&bytes, "support@demo.example", &ReadLimits::default()).unwrap();
        assert_eq!(back.subject, "Re: Réclamation [#K3M9Q2XA]");
        assert_eq!(back.message_id.as_deref(), Some("r1@demo.example"));
        assert_eq!(back.answers, ["m2@example.net", "m1@example.net"]);
        assert_eq!(back.from_address, "support@demo.example");
        assert!(back.text.contains("sorted."));
        assert_eq!(back.attachments[0].filename, "note.txt");
        assert_eq!(back.automatic, None);
    }

    #[test]
    fn an_acknowledgement_is_marked_automatic() {
        let mut o = reply();
        o.automatic = true;
        let bytes = build(&o).unwrap();
        let back = read(&bytes, "support@demo.example", &ReadLimits::default()).unwrap();
        assert!(back.automatic.is_some());
    }

    #[test]
    fn nothing_from_outside_adds_a_header() {
        let mut o = reply();
        o.subject = "hi\r\nBcc: victim@evil.example".into();
        o.to_name = Some("Eve\r\nBcc: victim@evil.example".into());
        let text = String::from_utf8(build(&o).unwrap()).unwrap();
        assert!(
            !text
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{text}"
        );
        o.to_address = "a@b.example\r\nBcc: x@evil.example".into();
        assert!(build(&o).is_err());
        o = reply();
        o.message_id = "no at sign".into();
        assert!(build(&o).is_err());
    }
}
