//! HTTP digest authentication for SIP (RFC 3261 section 22, RFC 8760):
//! challenges with MD5 and SHA-256, stateless nonces, and checking a
//! response against a stored HA1 (the password itself is never kept).

use hmac::{KeyInit, Mac};
use md5::Digest as _;

/// How long a nonce may be used.
pub const NONCE_LIFE_MS: i64 = 300_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm a header names, MD5 when it names none (RFC 2617).
    fn named(name: Option<&str>) -> Option<Algorithm> {
        match name {
            None => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("md5") => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("sha-256") => Some(Algorithm::Sha256),
            Some(_) => None,
        }
    }

    fn hash(self, s: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(md5::Md5::digest(s.as_bytes())),
            Algorithm::Sha256 => hex::encode(sha2::Sha256::digest(s.as_bytes())),
        }
    }
}

/// `H(username:realm:password)`, what is stored for a phone.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash(&format!("{username}:{realm}:{password}"))
}

fn nonce_mac(secret: &[u8], stamp: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(stamp);
    hex::encode(&mac.finalize().into_bytes()[..12])
}

/// A nonce that proves, without server state, when it was issued.
pub fn make_nonce(secret: &[u8], now_ms: i64) -> String {
    let stamp = now_ms.to_be_bytes();
    format!("{}{}", hex::encode(stamp), nonce_mac(secret, &stamp))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    Fresh,
    /// Ours, but too old: the client may retry with a new one (`stale=true`).
    Stale,
    Bad,
}

pub fn check_nonce(secret: &[u8], nonce: &str, now_ms: i64) -> NonceState {
    if nonce.len() != 40 || !nonce.is_ascii() {
        return NonceState::Bad;
    }
    let Ok(stamp) = hex::decode(&nonce[..16]) else {
        return NonceState::Bad;
    };
    if !constant_eq(
        nonce_mac(secret, &stamp).as_bytes(),
        &nonce.as_bytes()[16..],
    ) {
        return NonceState::Bad;
    }
    let Ok(bytes) = <[u8; 8]>::try_from(stamp.as_slice()) else {
        return NonceState::Bad;
    };
    let issued = i64::from_be_bytes(bytes);
    if issued > now_ms + 1_000 || now_ms - issued > NONCE_LIFE_MS {
        NonceState::Stale
    } else {
        NonceState::Fresh
    }
}

/// A `WWW-Authenticate` value.
pub fn challenge(alg: Algorithm, realm: &str, nonce: &str, stale: bool) -> String {
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
        alg.name(),
        if stale { ", stale=true" } else { "" }
    )
}

/// A parsed `Authorization` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
}

/// The parameters of a `Digest` header value (`Authorization`,
/// `WWW-Authenticate` and their proxy forms): names lower-cased, values
/// unquoted. `None` for another scheme or a malformed list.
fn digest_params(v: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = v.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    crate::msg::split_commas(rest)
        .into_iter()
        .map(|part| {
            let (k, v) = part.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

impl Authorization {
    pub fn parse(v: &str) -> Option<Authorization> {
        let mut a = Authorization::default();
        for (k, v) in digest_params(v)? {
            match k.as_str() {
                "username" => a.username = v,
                "realm" => a.realm = v,
                "nonce" => a.nonce = v,
                "uri" => a.uri = v,
                "response" => a.response = v.to_ascii_lowercase(),
                "algorithm" => a.algorithm = Some(v),
                "qop" => a.qop = Some(v),
                "nc" => a.nc = Some(v),
                "cnonce" => a.cnonce = Some(v),
                _ => {}
            }
        }
        if a.username.is_empty() || a.nonce.is_empty() || a.response.is_empty() {
            return None;
        }
        Some(a)
    }

    /// The algorithm named, MD5 when none is (RFC 2617).
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::named(self.algorithm.as_deref())
    }

    /// Whether the response was made with the password behind `ha1`.
    pub fn verify(&self, method: &str, ha1: &str) -> bool {
        let Some(alg) = self.algorithm() else {
            return false;
        };
        let expected = match self.qop.as_deref() {
            Some("auth") => {
                let (Some(nc), Some(cnonce)) = (&self.nc, &self.cnonce) else {
                    return false;
                };
                response(alg, ha1, method, &self.uri, &self.nonce, Some((nc, cnonce)))
            }
            None => response(alg, ha1, method, &self.uri, &self.nonce, None),
            Some(_) => return false,
        };
        constant_eq(expected.as_bytes(), self.response.as_bytes())
    }
}

/// A challenge from a server we call (`WWW-Authenticate` or
/// `Proxy-Authenticate`), answered with our credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Option<String>,
    /// Whether `qop=auth` is offered.
    pub qop_auth: bool,
}

impl Challenge {
    pub fn parse(v: &str) -> Option<Challenge> {
        let mut c = Challenge::default();
        for (k, v) in digest_params(v)? {
            match k.as_str() {
                "realm" => c.realm = v,
                "nonce" => c.nonce = v,
                "opaque" => c.opaque = Some(v),
                "algorithm" => c.algorithm = Some(v),
                "qop" => c.qop_auth = v.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")),
                _ => {}
            }
        }
        if c.nonce.is_empty() {
            return None;
        }
        Some(c)
    }

    /// The credentials for `method` on `uri`: an `Authorization` value.
    /// `None` for an algorithm we do not know.
    pub fn answer(
        &self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce: &str,
    ) -> Option<String> {
        let alg = Algorithm::named(self.algorithm.as_deref())?;
        let ha1 = ha1(alg, username, &self.realm, password);
        let quote = |s: &str| s.replace(['"', '\\'], "");
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            alg.name()
        );
        let resp = if self.qop_auth {
            let nc = "00000001";
            v.push_str(&format!(
                ", qop=auth, nc={nc}, cnonce=\"{}\"",
                quote(cnonce)
            ));
            response(alg, &ha1, method, uri, &self.nonce, Some((nc, cnonce)))
        } else {
            response(alg, &ha1, method, uri, &self.nonce, None)
        };
        v.push_str(&format!(", response=\"{resp}\""));
        if let Some(o) = &self.opaque {
            v.push_str(&format!(", opaque=\"{}\"", quote(o)));
        }
        Some(v)
    }
}

/// The digest response a client computes (`qop=auth` when `nc` and
/// `cnonce` are given).
pub fn response(
    alg: Algorithm,
    ha1: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cnonce)) => alg.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
        None => alg.hash(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example_verifies() {
        // RFC 2617 section 3.5 (HTTP, but the same computation).
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let a = Authorization::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
             qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert!(a.verify("GET", &ha1));
        assert!(!a.verify("POST", &ha1));
    }

    #[test]
    fn rfc_7616_sha256_example_verifies() {
        // RFC 7616 section 3.9.1.
        let ha1 = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let a = Authorization::parse(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
             uri=\"/dir/index.html\", algorithm=SHA-256, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
             cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\"",
        )
        .unwrap();
        assert!(a.verify("GET", &ha1));
    }

    #[test]
    fn answers_to_challenges_verify() {
        for (alg, name) in [(Algorithm::Md5, "MD5"), (Algorithm::Sha256, "SHA-256")] {
            for qop in [true, false] {
                let c = Challenge::parse(&format!(
                    "Digest realm=\"carrier\", nonce=\"abc\", opaque=\"xyz\", algorithm={name}{}",
                    if qop { ", qop=\"auth,auth-int\"" } else { "" }
                ))
                .unwrap();
                assert_eq!(c.qop_auth, qop);
                let v = c
                    .answer("INVITE", "sip:123@carrier", "acme", "pw", "cn")
                    .unwrap();
                let a = Authorization::parse(&v).unwrap();
                assert_eq!(a.algorithm(), Some(alg));
                assert!(v.contains("opaque=\"xyz\""));
                assert!(a.verify("INVITE", &ha1(alg, "acme", "carrier", "pw")));
                assert!(!a.verify("INVITE", &ha1(alg, "acme", "carrier", "other")));
            }
        }
        assert!(Challenge::parse("Basic realm=\"x\"").is_none());
        assert!(Challenge::parse("Digest realm=\"x\"").is_none());
        let odd = Challenge::parse("Digest realm=x, nonce=n, algorithm=SHA-512").unwrap();
        assert!(odd.answer("INVITE", "sip:x", "u", "p", "c").is_none());
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let secret = b"secret";
        let n = make_nonce(secret, 1_000_000);
        assert_eq!(check_nonce(secret, &n, 1_000_500), NonceState::Fresh);
        assert_eq!(
            check_nonce(secret, &n, 1_000_000 + NONCE_LIFE_MS + 1),
            NonceState::Stale
        );
        assert_eq!(check_nonce(b"other", &n, 1_000_500), NonceState::Bad);
        let mut forged = make_nonce(secret, 2_000_000)[..16].to_string();
        forged.push_str(&n[16..]);
        assert_eq!(check_nonce(secret, &forged, 2_000_000), NonceState::Bad);
        assert_eq!(check_nonce(secret, "short", 0), NonceState::Bad);
        assert_eq!(check_nonce(secret, &"é".repeat(20), 0), NonceState::Bad);
    }
}
