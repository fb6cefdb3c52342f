//! Value types with rules, parsed once at the edge ("parse, don't validate").
//! Each constructor says exactly what it accepts; the fields are private so a
//! value that exists is a valid one.

use std::fmt;

use serde::{Serialize, Serializer};

/// Why a value was refused. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

fn invalid(msg: impl Into<String>) -> InvalidValue {
    InvalidValue(msg.into())
}

/// Personal data (names, numbers, addresses, message bodies). Its `Debug` and
/// `Display` print a placeholder so it cannot reach a log line by accident;
/// read it with [`Pii::expose`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pii<T>(T);

impl<T> Pii<T> {
    pub const fn new(value: T) -> Self {
        Pii(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Serialize> Serialize for Pii<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A short human text (a name, a title): trimmed, 1 to `max` characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    pub fn parse(s: &str, max_chars: usize) -> Result<Self, InvalidValue> {
        let t = s.trim();
        if t.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if t.chars().count() > max_chars {
            return Err(invalid(format!("must be at most {max_chars} characters")));
        }
        if t.chars().any(char::is_control) {
            return Err(invalid("must not contain control characters"));
        }
        Ok(Text(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A long free text (notes): at most `max` characters; line breaks allowed.
pub fn parse_long_text(s: &str, max_chars: usize) -> Result<String, InvalidValue> {
    if s.chars().count() > max_chars {
        return Err(invalid(format!("must be at most {max_chars} characters")));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid("must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// An email address as people type it: `local@domain`, lower-cased domain,
/// at most 254 characters (RFC 5321's path limit).
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.len() > 254 {
            return Err(invalid("must be at most 254 characters"));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| invalid("must look like name@example.com"))?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(invalid("must look like name@example.com"));
        }
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

/// A phone number in E.164: `+` then 8 to 15 digits, the first not zero.
/// Spaces, dashes, dots and brackets people type are removed first.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let compact: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact
            .strip_prefix('+')
            .ok_or_else(|| invalid("must be in E.164 form, like +61291234567"))?;
        let ok = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(invalid("must be in E.164 form, like +61291234567"));
        }
        Ok(PhoneNumber(compact))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(<redacted>)")
    }
}

/// How well an agent holds a skill, 1 (novice) to 10 (expert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Proficiency(u8);

impl Proficiency {
    pub fn new(v: i64) -> Result<Self, InvalidValue> {
        if (1..=10).contains(&v) {
            Ok(Proficiency(v as u8))
        } else {
            Err(invalid("must be from 1 to 10"))
        }
    }
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// How many contacts of one channel an agent handles at once (0 to 50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Capacity(u8);

impl Capacity {
    pub const MAX: i64 = 50;
    pub fn new(v: i64) -> Result<Self, InvalidValue> {
        if (0..=Self::MAX).contains(&v) {
            Ok(Capacity(v as u8))
        } else {
            Err(invalid(format!("must be from 0 to {}", Self::MAX)))
        }
    }
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// A whole percentage, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Percent(u8);

impl Percent {
    pub fn new(v: i64) -> Result<Self, InvalidValue> {
        if (0..=100).contains(&v) {
            Ok(Percent(v as u8))
        } else {
            Err(invalid("must be from 0 to 100"))
        }
    }
    pub const fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_email(input: &str, expect: Option<&str>) {
        assert_eq!(
            EmailAddress::parse(input).ok().map(|e| e.0),
            expect.map(str::to_owned),
            "{input}"
        );
    }

    #[test]
    fn email_addresses() {
        check_email("Ann@Example.COM", Some("Ann@example.com"));
        check_email(" a.b+c@x.co ", Some("a.b+c@x.co"));
        check_email("no-at-sign", None);
        check_email("a@nodot", None);
        check_email("a..b@x.com", None);
        check_email("a@-x.com", None);
        check_email("<script>@x.com", None);
        check_email(&format!("{}@x.com", "a".repeat(65)), None);
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(
            PhoneNumber::parse("+61 (2) 9123-4567").unwrap().as_str(),
            "+61291234567"
        );
        assert!(PhoneNumber::parse("0291234567").is_err());
        assert!(PhoneNumber::parse("+0123456789").is_err());
        assert!(PhoneNumber::parse("+1234").is_err());
        assert!(PhoneNumber::parse("+1234567890123456").is_err());
        assert!(PhoneNumber::parse("+6129x234567").is_err());
    }

    #[test]
    fn bounded_numbers_and_text() {
        assert!(Proficiency::new(0).is_err());
        assert_eq!(Proficiency::new(10).unwrap().get(), 10);
        assert!(Proficiency::new(11).is_err());
        assert!(Capacity::new(-1).is_err());
        assert!(Percent::new(101).is_err());
        assert_eq!(Text::parse("  Ann  ", 10).unwrap().as_str(), "Ann");
        assert!(Text::parse("   ", 10).is_err());
        assert!(Text::parse("abcdefghijk", 10).is_err());
        assert!(Text::parse("a\u{0}b", 10).is_err());
        assert!(parse_long_text("line\nline", 20).is_ok());
    }

    #[test]
    fn pii_never_prints() {
        let p = Pii::new("Ann Smith".to_owned());
        assert_eq!(format!("{p} {p:?}"), "<redacted> <redacted>");
        assert_eq!(
            format!("{:?}", EmailAddress::parse("a@b.co").unwrap()),
            "EmailAddress(<redacted>)"
        );
    }
}
