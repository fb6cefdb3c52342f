//! SIP messages (RFC 3261 section 7): parsing bytes from the network into a
//! [`Message`] and building one back into bytes.
//!
//! The parser is strict about structure and generous about spelling: header
//! names are matched case-insensitively and in their compact forms, folded
//! lines are joined. It bounds everything it reads (message size, header
//! count, line length) and never panics; anything else is a [`ParseError`].

use std::fmt::Write as _;

/// The largest message accepted (a UDP datagram's payload).
pub const MAX_MESSAGE: usize = 65_507;
/// The most bytes before the body.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields.
pub const MAX_HEADERS: usize = 100;

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("the header section is larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("the header section does not end")]
    Truncated,
    #[error("the header section is not UTF-8")]
    NotText,
    #[error("bad start line: {0}")]
    StartLine(&'static str),
    #[error("bad header line: {0}")]
    Header(&'static str),
    #[error("Content-Length is not a number")]
    ContentLength,
    #[error("the body is shorter than its Content-Length")]
    ShortBody,
}

/// The first line: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

/// A SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: Start,
    /// Header fields in order, names as written (compact forms expanded).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The long name of a compact header name (RFC 3261 section 7.3.3).
fn expand(name: &str) -> &str {
    match name {
        "i" | "I" => "Call-ID",
        "m" | "M" => "Contact",
        "e" | "E" => "Content-Encoding",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "f" | "F" => "From",
        "s" | "S" => "Subject",
        "k" | "K" => "Supported",
        "t" | "T" => "To",
        "v" | "V" => "Via",
        _ => name,
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Where the header section ends (index of the blank line) and the body starts.
fn head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) if b + 1 < a => Some((b, b + 2)),
        (Some(a), _) => Some((a, a + 4)),
        (None, Some(b)) => Some((b, b + 2)),
        (None, None) => None,
    }
}

impl Message {
    /// Parses one message. `stream` is true for TCP, where Content-Length
    /// is required and what follows the body is the next message; the
    /// number of bytes consumed is returned with the message.
    pub fn parse(bytes: &[u8], stream: bool) -> Result<(Message, usize), ParseError> {
        // Keep-alives and leading blank lines (RFC 3261 section 7.5).
        let skip = bytes
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(bytes.len());
        let bytes = &bytes[skip..];
        let Some((end, body_at)) = head_end(bytes) else {
            return Err(if bytes.len() > MAX_HEAD {
                ParseError::HeadTooLarge
            } else {
                ParseError::Truncated
            });
        };
        if end > MAX_HEAD {
            return Err(ParseError::HeadTooLarge);
        }
        if !stream && bytes.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge);
        }
        let head = std::str::from_utf8(&bytes[..end]).map_err(|_| ParseError::NotText)?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().ok_or(ParseError::StartLine("empty"))?;
        let start = parse_start(first)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut counted = 0;
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let Some(last) = headers.last_mut() else {
                    return Err(ParseError::Header("a continuation line comes first"));
                };
                last.1.push(' ');
                last.1.push_str(line.trim());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ParseError::Header("no colon"));
            };
            let name = name.trim_end();
            if !is_token(name) {
                return Err(ParseError::Header("the name is not a token"));
            }
            let name = expand(name);
            // Content-Length is not counted: a message's own is rebuilt.
            if !name.eq_ignore_ascii_case("Content-Length") {
                if counted == MAX_HEADERS {
                    return Err(ParseError::TooManyHeaders);
                }
                counted += 1;
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut msg = Message {
            start,
            headers,
            body: Vec::new(),
        };
        let rest = &bytes[body_at..];
        let length = match msg.header("Content-Length") {
            Some(v) => Some(v.parse::<usize>().map_err(|_| ParseError::ContentLength)?),
            None => None,
        };
        let take = match (length, stream) {
            (Some(n), _) if n > rest.len() => return Err(ParseError::ShortBody),
            (Some(n), _) => n,
            (None, true) => return Err(ParseError::ContentLength),
            (None, false) => rest.len(),
        };
        msg.body = rest[..take].to_vec();
        Ok((msg, skip + body_at + take))
    }

    /// A request with no headers yet.
    pub fn request(method: &str, uri: &str) -> Message {
        Message {
            start: Start::Request {
                method: method.to_string(),
                uri: uri.to_string(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The request's method, or for a response the CSeq's.
    pub fn method(&self) -> &str {
        match &self.start {
            Start::Request { method, .. } => method,
            Start::Response { .. } => self.cseq().map(|(_, m)| m).unwrap_or(""),
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        match self.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> &str {
        match &self.start {
            Start::Response { reason, .. } => reason,
            Start::Request { .. } => "",
        }
    }

    /// The Request-URI of a request.
    pub fn uri(&self) -> &str {
        match &self.start {
            Start::Request { uri, .. } => uri,
            Start::Response { .. } => "",
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, comma-separated values split apart.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_commas(v))
            .collect()
    }

    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Removes every value of a header.
    pub fn remove(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// The CSeq's number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let (n, m) = self.header("CSeq")?.split_once(char::is_whitespace)?;
        Some((n.trim().parse().ok()?, m.trim()))
    }

    /// The topmost Via.
    pub fn via(&self) -> Option<Via> {
        Via::parse(self.header_all("Via").first()?)
    }

    pub fn from_addr(&self) -> Option<NameAddr> {
        NameAddr::parse(self.header("From")?)
    }

    pub fn to_addr(&self) -> Option<NameAddr> {
        NameAddr::parse(self.header("To")?)
    }

    /// The message as bytes, with a Content-Length that matches its body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512 + self.body.len());
        match &self.start {
            Start::Request { method, uri } => {
                let _ = write!(s, "{method} {uri} SIP/2.0\r\n");
            }
            Start::Response { code, reason } => {
                let _ = write!(s, "SIP/2.0 {code} {reason}\r\n");
            }
        }
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            // A value never carries a line break out (no header injection).
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            let _ = write!(s, "{n}: {v}\r\n");
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// A response to this request (RFC 3261 section 8.2.6): Via, From,
    /// Call-ID and CSeq copied, To copied with `to_tag` added if it has
    /// none.
    pub fn reply(&self, code: u16, reason: &str, to_tag: Option<&str>) -> Message {
        let mut r = Message {
            start: Start::Response {
                code,
                reason: reason.to_string(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        };
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("Via")
                || n.eq_ignore_ascii_case("From")
                || n.eq_ignore_ascii_case("Call-ID")
                || n.eq_ignore_ascii_case("CSeq")
                || n.eq_ignore_ascii_case("Record-Route") && (101..300).contains(&code)
            {
                r.headers.push((n.clone(), v.clone()));
            } else if n.eq_ignore_ascii_case("To") {
                let mut v = v.clone();
                if let Some(tag) = to_tag
                    && NameAddr::parse(&v).is_some_and(|a| a.param("tag").is_none())
                    && code != 100
                {
                    v.push_str(";tag=");
                    v.push_str(tag);
                }
                r.headers.push((n.clone(), v));
            }
        }
        r
    }
}

fn parse_start(line: &str) -> Result<Start, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code
            .parse()
            .map_err(|_| ParseError::StartLine("the status code is not a number"))?;
        if !(100..700).contains(&code) {
            return Err(ParseError::StartLine("the status code is out of range"));
        }
        return Ok(Start::Response {
            code,
            reason: reason.to_string(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine("not three parts"));
    };
    if !is_token(method) {
        return Err(ParseError::StartLine("the method is not a token"));
    }
    if version != "SIP/2.0" {
        return Err(ParseError::StartLine("not SIP/2.0"));
    }
    if uri.is_empty() || !uri.contains(':') {
        return Err(ParseError::StartLine("the Request-URI has no scheme"));
    }
    Ok(Start::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

/// Splits a header value at commas outside quotes and angle brackets.
pub fn split_commas(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut from) = (false, false, 0);
    let mut escaped = false;
    for (i, c) in v.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(v[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    let last = v[from..].trim();
    if !last.is_empty() || out.is_empty() {
        out.push(last);
    }
    out
}

/// `;name=value` parameters, in order.
pub type Params = Vec<(String, Option<String>)>;

fn parse_params(s: &str) -> Params {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
            None => (p.to_ascii_lowercase(), None),
        })
        .collect()
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

/// A Via header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, …
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn parse(v: &str) -> Option<Via> {
        let (proto, rest) = v.trim().split_once(char::is_whitespace)?;
        let transport = proto.strip_prefix("SIP/2.0/")?.to_ascii_uppercase();
        let (sent_by, params) = rest.trim().split_once(';').unwrap_or((rest.trim(), ""));
        let (host, port) = split_host_port(sent_by.trim())?;
        Some(Via {
            transport,
            host,
            port,
            params: parse_params(params),
        })
    }

    pub fn branch(&self) -> Option<&str> {
        param(&self.params, "branch")
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// `host`, `host:port` or `[v6]:port`.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            if h.is_empty() {
                return None;
            }
            Some((h.to_string(), Some(p.parse().ok()?)))
        }
        _ => Some((s.to_string(), None)),
    }
}

/// A SIP URI: `sip:user@host:port;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Uri {
    pub fn parse(s: &str) -> Option<Uri> {
        let (scheme, rest) = s.trim().split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" && scheme != "tel" {
            return None;
        }
        // URI headers (`?…`) are not used here.
        let rest = rest.split('?').next().unwrap_or("");
        let (main, params) = rest.split_once(';').unwrap_or((rest, ""));
        if scheme == "tel" {
            return Some(Uri {
                scheme,
                user: Some(main.to_string()),
                host: String::new(),
                port: None,
                params: parse_params(params),
            });
        }
        let (user, hostport) = match main.rsplit_once('@') {
            Some((u, h)) => {
                let u = u.split(':').next().unwrap_or("");
                (Some(u.to_string()), h)
            }
            None => (None, main),
        };
        let (host, port) = split_host_port(hostport)?;
        Some(Uri {
            scheme,
            user,
            host,
            port,
            params: parse_params(params),
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// A From, To or Contact value: `"Name" <uri>;params` or `uri;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    /// The URI as written.
    pub uri: String,
    pub params: Params,
}

impl NameAddr {
    pub fn parse(v: &str) -> Option<NameAddr> {
        let v = v.trim();
        if v == "*" {
            return Some(NameAddr {
                display: None,
                uri: "*".into(),
                params: Vec::new(),
            });
        }
        if let Some(open) = v.find('<') {
            let display = v[..open].trim().trim_matches('"').trim();
            let close = v[open..].find('>')? + open;
            let uri = v[open + 1..close].trim();
            let params = parse_params(v[close + 1..].trim_start_matches(';'));
            return Some(NameAddr {
                display: (!display.is_empty()).then(|| display.to_string()),
                uri: uri.to_string(),
                params,
            });
        }
        // Without angle brackets, parameters belong to the header.
        let (uri, params) = v.split_once(';').unwrap_or((v, ""));
        if uri.contains(char::is_whitespace) {
            return None;
        }
        Some(NameAddr {
            display: None,
            uri: uri.to_string(),
            params: parse_params(params),
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    pub fn tag(&self) -> Option<&str> {
        self.param("tag")
    }

    pub fn parsed_uri(&self) -> Option<Uri> {
        Uri::parse(&self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+61290000000@switchboard.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n\
v: SIP/2.0/UDP proxy.example;branch=z9hG4bKabc\r\n\
Max-Forwards: 70\r\n\
To: <sip:+61290000000@switchboard.example>\r\n\
f: \"Alice, A\" <sip:+61400000000@carrier.example>;tag=1928301774\r\n\
i: a84b4c76e66710@pc33.example\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.1:5070>\r\n\
Subject: a folded\r\n  line\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\nextra";

    #[test]
    fn parses_a_request_with_compact_and_folded_headers() {
        let (m, used) = Message::parse(INVITE.as_bytes(), false).unwrap();
        assert_eq!(m.method(), "INVITE");
        assert_eq!(m.uri(), "sip:+61290000000@switchboard.example");
        assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33.example"));
        assert_eq!(m.cseq(), Some((314159, "INVITE")));
        assert_eq!(m.header("subject"), Some("a folded line"));
        assert_eq!(m.body, b"v=0\n");
        assert_eq!(used, INVITE.len() - "extra".len());
        let via = m.via().unwrap();
        assert_eq!(via.host, "10.0.0.1");
        assert_eq!(via.port, Some(5070));
        assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(via.param("rport"), Some(""));
        assert_eq!(m.header_all("via").len(), 2);
        let from = m.from_addr().unwrap();
        assert_eq!(from.display.as_deref(), Some("Alice, A"));
        assert_eq!(from.tag(), Some("1928301774"));
        let uri = from.parsed_uri().unwrap();
        assert_eq!(uri.user.as_deref(), Some("+61400000000"));
        assert_eq!(uri.host, "carrier.example");
    }

    #[test]
    fn round_trips_and_replies() {
        let (m, _) = Message::parse(INVITE.as_bytes(), false).unwrap();
        let again = Message::parse(&m.to_bytes(), true).unwrap().0;
        assert_eq!(again, m);
        let r = m.reply(180, "Ringing", Some("xyz"));
        let r = Message::parse(&r.to_bytes(), false).unwrap().0;
        assert_eq!(r.code(), Some(180));
        assert_eq!(r.method(), "INVITE");
        assert_eq!(r.to_addr().unwrap().tag(), Some("xyz"));
        assert_eq!(r.header_all("via").len(), 2);
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        for bad in [
            &b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"[..],
            b"INVITE sip:a@b SIP/3.0\r\n\r\n",
            b"INVITE  SIP/2.0\r\n\r\n",
            b"SIP/2.0 99 Odd\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nshort",
            b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\n bad continuation\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n",
        ] {
            assert!(
                Message::parse(bad, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut many = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(
            Message::parse(many.as_bytes(), false),
            Err(ParseError::TooManyHeaders)
        );
        let huge = format!(
            "OPTIONS sip:a@b SIP/2.0\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        assert_eq!(
            Message::parse(huge.as_bytes(), false),
            Err(ParseError::HeadTooLarge)
        );
    }

    #[test]
    fn values_cannot_inject_lines() {
        let mut m = Message::request("BYE", "sip:a@b");
        m.push("Subject", "x\r\nVia: injected");
        let bytes = m.to_bytes();
        let back = Message::parse(&bytes, false).unwrap().0;
        assert!(back.header("Via").is_none());
    }

    #[test]
    fn splits_commas_outside_quotes() {
        assert_eq!(
            split_commas("\"a,b\" <sip:x@y>, <sip:z@w;p=1,2>"),
            vec!["\"a,b\" <sip:x@y>", "<sip:z@w;p=1,2>"]
        );
        assert_eq!(
            split_host_port("[::1]:5060"),
            Some(("::1".into(), Some(5060)))
        );
        assert_eq!(split_host_port("h:99999"), None);
    }
}
