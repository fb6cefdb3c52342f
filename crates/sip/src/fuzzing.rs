//! What the fuzz targets (`fuzz/`) and the robustness tests share: a switch
//! with a number, a trunk and a phone, and one pass over arbitrary bytes.

use crate::switch::{NumberRoute, Phone, Trunk};
use crate::{Config, Directory, Message, Switch, digest};

/// A switch that knows `+61290000000` (trunk 10.1.1.0/24) and the phone
/// `alice`, and the time to drive it from.
pub fn world() -> (Switch, i64) {
    let tenant = "01900000-0000-7000-8000-000000000001"
        .parse()
        .expect("an id");
    let queue = "01900000-0000-7000-8000-000000000002"
        .parse()
        .expect("an id");
    let agent = "01900000-0000-7000-8000-000000000003"
        .parse()
        .expect("an id");
    let mut dir = Directory::default();
    dir.numbers.insert(
        "+61290000000".into(),
        NumberRoute {
            tenant,
            queue,
            menu: None,
        },
    );
    dir.trunks.push(Trunk {
        tenant,
        sources: vec!["10.1.1.0/24".parse().expect("a block")],
    });
    dir.phones.insert(
        "alice".into(),
        Phone {
            tenant,
            agent,
            ha1_md5: digest::ha1(digest::Algorithm::Md5, "alice", "switchboard", "pw"),
            ha1_sha256: digest::ha1(digest::Algorithm::Sha256, "alice", "switchboard", "pw"),
        },
    );
    let cfg = Config {
        sip_addr: "192.0.2.10:5060".parse().expect("an address"),
        media_ip: "192.0.2.10".parse().expect("an address"),
        realm: "switchboard".into(),
        secret: b"fuzzing-secret-fuzzing-secret-00".to_vec(),
        instance: "f".into(),
        user_agent: "Switchboard".into(),
    };
    (Switch::new(cfg, dir), 1_800_000_000_000)
}

/// Parses `data` every way the server does; what parses must build back
/// into a message that parses the same. Panics on a broken promise.
pub fn message_once(data: &[u8]) {
    for stream in [false, true] {
        if let Ok((m, used)) = Message::parse(data, stream) {
            assert!(used <= data.len());
            let again = Message::parse(&m.to_bytes(), true).expect("what is built parses");
            assert_eq!(again.0.start, m.start);
            assert_eq!(again.0.body, m.body);
            let _ = m.via();
            let _ = m.from_addr().and_then(|a| a.parsed_uri());
            let _ = m.to_addr();
            let _ = m.cseq();
            if let Some(a) = m.header("Authorization") {
                let _ = digest::Authorization::parse(a);
            }
            for h in ["WWW-Authenticate", "Proxy-Authenticate"] {
                if let Some(c) = m.header(h).and_then(digest::Challenge::parse) {
                    let _ = c.answer("INVITE", "sip:x@y", "u", "p", "c");
                }
            }
            let _ = crate::sdp::parse(&m.body);
            let _ = crate::dtmf::from_info(m.header("Content-Type").unwrap_or(""), &m.body);
        }
    }
    let _ = crate::sdp::parse(data);
    let _ = crate::dtmf::parse_event(data);
}

/// Feeds `data`, split at NUL bytes, to a fresh switch as datagrams from
/// the trunk and from a stranger in turn, then lets every timer run out.
pub fn switch_once(data: &[u8]) {
    let (mut sw, now) = world();
    for (i, chunk) in data.split(|b| *b == 0).enumerate() {
        let from = if i % 2 == 0 {
            "10.1.1.1:5060"
        } else {
            "203.0.113.9:5060"
        };
        sw.receive(
            now + i as i64 * 100,
            from.parse().expect("an address"),
            chunk,
        );
        // Whatever call arrived is answered, so later datagrams reach it.
        while let Some(o) = sw.poll_output() {
            if let crate::Output::Incoming { call, .. } = o {
                sw.accept(now, call, 30_000, true);
            }
        }
    }
    sw.handle_timeout(now + 64_000);
    while sw.poll_output().is_some() {}
    sw.handle_timeout(now + 200_000);
    while sw.poll_output().is_some() {}
}
