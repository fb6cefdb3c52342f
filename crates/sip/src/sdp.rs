//! SDP offer/answer for one audio stream (RFC 4566, RFC 3264): G.711
//! (PCMU, PCMA) and telephone-event (RFC 4733).

use core::net::{IpAddr, SocketAddr};

/// The audio codecs relayed (never transcoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// Which way media flows (RFC 3264 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// What the answerer says to an offer of this direction.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

/// What an offer or answer says about its audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// Where the peer receives RTP (port 0: the stream is refused).
    pub addr: SocketAddr,
    /// Codecs offered, in the peer's order of preference.
    pub codecs: Vec<Codec>,
    /// The telephone-event payload type, if offered.
    pub events: Option<u8>,
    pub direction: Direction,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the body is not SDP text")]
    NotText,
    #[error("no audio stream")]
    NoAudio,
    #[error("no connection address for the audio stream")]
    NoConnection,
    #[error("bad line: {0}")]
    Line(&'static str),
}

/// Reads the first audio stream of an SDP body.
pub fn parse(body: &[u8]) -> Result<Audio, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    if text.len() > 16 * 1024 {
        return Err(SdpError::Line("the body is too long"));
    }
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut in_audio = false;
    let mut seen_audio = false;
    let mut port: u16 = 0;
    let mut formats: Vec<u8> = Vec::new();
    let mut maps: Vec<(u8, String)> = Vec::new();
    let mut direction = Direction::SendRecv;
    let mut session_direction = Direction::SendRecv;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once('=') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(SdpError::Line("not type=value"));
        };
        match k {
            "m" => {
                if seen_audio {
                    // Only the first audio stream is used; later ones are ignored.
                    in_audio = false;
                    continue;
                }
                let mut f = v.split_whitespace();
                let media = f.next().unwrap_or("");
                let p = f.next().unwrap_or("");
                let _proto = f.next().ok_or(SdpError::Line("m= has too few fields"))?;
                in_audio = media == "audio";
                if in_audio {
                    seen_audio = true;
                    let p = p.split('/').next().unwrap_or("");
                    port = p.parse().map_err(|_| SdpError::Line("m= port"))?;
                    for fmt in f {
                        if let Ok(pt) = fmt.parse::<u8>()
                            && pt < 128
                        {
                            formats.push(pt);
                        }
                    }
                }
            }
            "c" => {
                let mut f = v.split_whitespace();
                let (Some("IN"), Some(_), Some(addr)) = (f.next(), f.next(), f.next()) else {
                    return Err(SdpError::Line("c="));
                };
                let addr = addr.split('/').next().unwrap_or("");
                let ip: IpAddr = addr.parse().map_err(|_| SdpError::Line("c= address"))?;
                if in_audio {
                    media_ip = Some(ip);
                } else if !seen_audio {
                    session_ip = Some(ip);
                }
            }
            "a" if in_audio || !seen_audio => {
                let d = match v {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                if let Some(d) = d {
                    if in_audio {
                        direction = d;
                    } else {
                        session_direction = d;
                        direction = d;
                    }
                } else if in_audio && let Some(map) = v.strip_prefix("rtpmap:") {
                    let (pt, enc) = map.split_once(' ').ok_or(SdpError::Line("rtpmap"))?;
                    let pt: u8 = pt.parse().map_err(|_| SdpError::Line("rtpmap type"))?;
                    maps.push((pt, enc.trim().to_ascii_lowercase()));
                }
            }
            _ => {}
        }
    }
    let _ = session_direction;
    if !seen_audio {
        return Err(SdpError::NoAudio);
    }
    let ip = media_ip.or(session_ip).ok_or(SdpError::NoConnection)?;
    let name_of = |pt: u8| maps.iter().find(|(p, _)| *p == pt).map(|(_, n)| n.as_str());
    let mut codecs = Vec::new();
    let mut events = None;
    for pt in formats {
        match (pt, name_of(pt)) {
            (0, None) => codecs.push(Codec::Pcmu),
            (8, None) => codecs.push(Codec::Pcma),
            (_, Some(n)) if n.starts_with("pcmu/8000") => codecs.push(Codec::Pcmu),
            (_, Some(n)) if n.starts_with("pcma/8000") => codecs.push(Codec::Pcma),
            (_, Some(n)) if n.starts_with("telephone-event/8000") => {
                events.get_or_insert(pt);
            }
            _ => {}
        }
    }
    Ok(Audio {
        addr: SocketAddr::new(ip, port),
        codecs,
        events,
        direction,
    })
}

/// Builds an SDP body offering or answering one audio stream at `addr`.
pub fn build(
    session_id: u64,
    version: u64,
    addr: SocketAddr,
    codec: Codec,
    events: Option<u8>,
    direction: Direction,
) -> Vec<u8> {
    let family = if addr.is_ipv4() { "IP4" } else { "IP6" };
    let ip = addr.ip();
    let pt = codec.payload_type();
    let mut s = format!(
        "v=0\r\no=switchboard {session_id} {version} IN {family} {ip}\r\ns=switchboard\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {pt}",
        addr.port()
    );
    if let Some(e) = events {
        s.push_str(&format!(" {e}"));
    }
    s.push_str(&format!("\r\na=rtpmap:{pt} {}/8000\r\n", codec.name()));
    if let Some(e) = events {
        s.push_str(&format!(
            "a=rtpmap:{e} telephone-event/8000\r\na=fmtp:{e} 0-16\r\n"
        ));
    }
    s.push_str(&format!("a=ptime:20\r\na={}\r\n", direction.attr()));
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_offer_and_builds_an_answer() {
        let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 9 8 0 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=sendrecv\r\nm=video 40002 RTP/AVP 96\r\nc=IN IP4 10.9.9.9\r\n";
        let a = parse(offer.as_bytes()).unwrap();
        assert_eq!(a.addr, "10.0.0.5:40000".parse().unwrap());
        assert_eq!(a.codecs, vec![Codec::Pcma, Codec::Pcmu]);
        assert_eq!(a.events, Some(101));
        assert_eq!(a.direction, Direction::SendRecv);
        let ans = build(
            7,
            1,
            "192.0.2.1:30000".parse().unwrap(),
            Codec::Pcma,
            Some(101),
            a.direction.answer(),
        );
        let back = parse(&ans).unwrap();
        assert_eq!(back.addr, "192.0.2.1:30000".parse().unwrap());
        assert_eq!(back.codecs, vec![Codec::Pcma]);
        assert_eq!(back.events, Some(101));
    }

    #[test]
    fn hold_and_refusals() {
        let hold = "v=0\r\nc=IN IP4 10.0.0.5\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
        assert_eq!(
            parse(hold.as_bytes()).unwrap().direction,
            Direction::SendOnly
        );
        assert_eq!(
            parse(b"v=0\r\nc=IN IP4 1.2.3.4\r\n"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(
            parse(b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            Err(SdpError::NoConnection)
        );
        assert!(parse(b"v=0\r\nc=IN IP4 nope\r\nm=audio 1 RTP/AVP 0\r\n").is_err());
        assert!(parse(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n").is_err());
        assert!(parse(b"\xff").is_err());
        assert!(parse(b"garbage").is_err());
    }
}
