//! DTMF: RFC 4733 telephone-events carried in RTP, and SIP INFO bodies
//! (`application/dtmf-relay` and `application/dtmf`).

/// The key an event number stands for (RFC 4733 section 3.2).
pub fn key(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub key: char,
    /// The last packets of the event carry the end bit.
    pub end: bool,
    /// In timestamp units (1/8000 s).
    pub duration: u16,
}

/// Reads an RFC 4733 payload: event, E|R|volume, duration.
pub fn parse_event(payload: &[u8]) -> Option<Event> {
    let [event, flags, d1, d0, ..] = *payload else {
        return None;
    };
    Some(Event {
        key: key(event)?,
        end: flags & 0x80 != 0,
        duration: u16::from_be_bytes([d1, d0]),
    })
}

/// Turns a stream of telephone-event packets into key presses: one press
/// per event (an event's packets share an RTP timestamp, and its end is
/// sent three times).
#[derive(Debug, Default)]
pub struct Receiver {
    last: Option<u32>,
}

impl Receiver {
    /// The key pressed, the first time a packet of a new event is seen.
    pub fn packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let e = parse_event(payload)?;
        if self.last == Some(timestamp) {
            return None;
        }
        self.last = Some(timestamp);
        Some(e.key)
    }
}

/// The key in a SIP INFO body: `Signal=5` (dtmf-relay) or just `5`.
pub fn from_info(content_type: &str, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let ct = content_type.to_ascii_lowercase();
    let value = if ct.starts_with("application/dtmf-relay") {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                k.trim().eq_ignore_ascii_case("signal").then_some(v.trim())
            })?
            .to_string()
    } else if ct.starts_with("application/dtmf") {
        text.trim().to_string()
    } else {
        return None;
    };
    let mut chars = value.chars();
    let c = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() {
        // A numeric event code, like "10" for '*'.
        return value.parse::<u8>().ok().and_then(key);
    }
    match c {
        '0'..='9' | '*' | '#' | 'A'..='D' => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_one_press_each() {
        let mut r = Receiver::default();
        // '5' starts, continues, ends three times; then '#'.
        assert_eq!(r.packet(1000, &[5, 10, 0, 160]), Some('5'));
        assert_eq!(r.packet(1000, &[5, 10, 1, 64]), None);
        for _ in 0..3 {
            assert_eq!(r.packet(1000, &[5, 0x8a, 3, 32]), None);
        }
        assert_eq!(r.packet(2600, &[11, 0x8a, 3, 32]), Some('#'));
        assert_eq!(r.packet(4000, &[200, 0, 0, 0]), None, "unknown event");
        assert_eq!(r.packet(4100, &[1, 2]), None, "too short");
        assert_eq!(parse_event(&[1, 0x80, 0, 80]).map(|e| e.end), Some(true));
    }

    #[test]
    fn info_bodies() {
        assert_eq!(
            from_info("application/dtmf-relay", b"Signal=1\r\nDuration=160\r\n"),
            Some('1')
        );
        assert_eq!(
            from_info("application/dtmf-relay", b"Signal= *\r\n"),
            Some('*')
        );
        assert_eq!(from_info("application/dtmf", b"11"), Some('#'));
        assert_eq!(from_info("application/dtmf", b"x"), None);
        assert_eq!(from_info("text/plain", b"Signal=1"), None);
        assert_eq!(from_info("application/dtmf-relay", b"\xff"), None);
    }
}
