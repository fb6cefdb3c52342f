//! Conversation references: the short code in a subject (`[#K3M9Q2XA]`)
//! that ties a customer's mail to its conversation when the message ids
//! do not (a new message, a client that drops In-Reply-To), and the
//! subjects of replies and acknowledgements.

/// Crockford's base 32: no I, L, O or U, so a reference read aloud or
/// typed back cannot be mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a reference.
pub const REFERENCE_LEN: usize = 8;

/// A reference from 40 random bits.
pub fn reference(bits: u64) -> String {
    (0..REFERENCE_LEN)
        .rev()
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The first reference token (`[#XXXXXXXX]`) in a subject.
pub fn find_reference(subject: &str) -> Option<String> {
    let mut rest = subject;
    while let Some(at) = rest.find("[#") {
        let tail = &rest[at + 2..];
        let code: String = tail.chars().take(REFERENCE_LEN).collect();
        if code.len() == REFERENCE_LEN
            && tail[REFERENCE_LEN..].starts_with(']')
            && code
                .bytes()
                .all(|b| ALPHABET.contains(&b.to_ascii_uppercase()))
        {
            return Some(code.to_ascii_uppercase());
        }
        rest = tail;
    }
    None
}

/// The subject without reference tokens and reply or forward prefixes.
pub fn base_subject(subject: &str) -> String {
    let mut s = subject.to_owned();
    while let Some(code) = find_reference(&s) {
        let token = format!("[#{code}]");
        let lower = s.to_ascii_uppercase();
        match lower.find(&token) {
            Some(at) => s.replace_range(at..at + token.len(), ""),
            None => break,
        }
    }
    let mut t = s.trim();
    loop {
        let lower = t.to_ascii_lowercase();
        let cut = ["re:", "aw:", "fw:", "fwd:", "sv:", "antw:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => t = t[n..].trim_start(),
            None => break,
        }
    }
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The subject of a reply in a conversation: `Re: <subject> [#REF]`.
pub fn reply_subject(subject: &str, reference: &str) -> String {
    let base = base_subject(subject);
    if base.is_empty() {
        format!("Re: your message [#{reference}]")
    } else {
        format!("Re: {base} [#{reference}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_made_and_found() {
        let r = reference(0xFF_FFFF_FFFF);
        assert_eq!(r, "ZZZZZZZZ");
        assert_eq!(reference(0), "00000000");
        assert_eq!(reference(33), "00000011");
        assert_eq!(
            find_reference("Re: bill [#K3M9Q2XA] again"),
            Some("K3M9Q2XA".into())
        );
        assert_eq!(find_reference("Re: [#k3m9q2xa]"), Some("K3M9Q2XA".into()));
        assert_eq!(
            find_reference("[#SHORT] [#K3M9Q2XA]"),
            Some("K3M9Q2XA".into())
        );
        assert_eq!(find_reference("[#K3M9Q2XAB]"), None);
        assert_eq!(find_reference("[#ILOUILOU]"), None);
        assert_eq!(find_reference("[#ééééé"), None);
        assert_eq!(find_reference("nothing"), None);
    }

    #[test]
    fn reply_subjects_do_not_pile_up() {
        assert_eq!(
            reply_subject("My bill", "K3M9Q2XA"),
            "Re: My bill [#K3M9Q2XA]"
        );
        assert_eq!(
            reply_subject("RE: Re: AW: My  bill [#K3M9Q2XA]", "K3M9Q2XA"),
            "Re: My bill [#K3M9Q2XA]"
        );
        assert_eq!(
            reply_subject("", "K3M9Q2XA"),
            "Re: your message [#K3M9Q2XA]"
        );
    }
}
