//! The switch driven by scripted peers on a fake clock: a phone registers,
//! a trunk's call is queued, rung, answered, bridged and hung up; the
//! hostile cases are refused.

use std::net::SocketAddr;

use sb_model::{AgentId, ContactId, QueueId, TenantId};
use sb_sip::digest::{self, Algorithm};
use sb_sip::switch::{Carrier, ConsultError, Dial, DialError, Menu, NumberRoute, Phone, Trunk};
use sb_sip::{
    Config, Directory, EndedBy, Media, Message, MonitorError, MonitorMode, Output, Stage, Switch,
};
use uuid::Uuid;

const TRUNK: &str = "10.1.1.1:5060";
const PHONE: &str = "10.2.2.2:5062";
const STRANGER: &str = "203.0.113.9:5060";
const CARRIER: &str = "10.3.3.3:5060";
const PHONE2: &str = "10.2.2.3:5062";
/// The second agent's id in every world.
const BOB: &str = "01900000-0000-7000-8000-0000000000b0";

struct World {
    sw: Switch,
    tenant: TenantId,
    agent: AgentId,
    queue: QueueId,
    now: i64,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn world() -> World {
    world_with(false)
}

/// A world whose tenant registers with its carrier (`register`) or not.
fn world_with(register: bool) -> World {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let agent = AgentId::from_uuid(Uuid::now_v7());
    let queue = QueueId::from_uuid(Uuid::now_v7());
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
        sources: vec!["10.1.1.0/24".parse().unwrap()],
    });
    dir.phones.insert(
        "alice".into(),
        Phone {
            tenant,
            agent,
            ha1_md5: digest::ha1(Algorithm::Md5, "alice", "switchboard", "s3cret-pass"),
            ha1_sha256: digest::ha1(Algorithm::Sha256, "alice", "switchboard", "s3cret-pass"),
        },
    );
    dir.phones.insert(
        "bob".into(),
        Phone {
            tenant,
            agent: BOB.parse().unwrap(),
            ha1_md5: digest::ha1(Algorithm::Md5, "bob", "switchboard", "bob-pass"),
            ha1_sha256: digest::ha1(Algorithm::Sha256, "bob", "switchboard", "bob-pass"),
        },
    );
    dir.carriers.insert(
        tenant,
        Carrier {
            addr: addr(CARRIER),
            domain: "carrier.example".into(),
            username: Some("acme".into()),
            password: Some("trunk-pass".into()),
            caller_id: "+61290000000".into(),
            register,
        },
    );
    let cfg = Config {
        sip_addr: addr("192.0.2.10:5060"),
        media_ip: "192.0.2.10".parse().unwrap(),
        realm: "switchboard".into(),
        secret: b"0123456789abcdef0123456789abcdef".to_vec(),
        instance: "t".into(),
        user_agent: "Switchboard".into(),
    };
    World {
        sw: Switch::new(cfg, dir),
        tenant,
        agent,
        queue,
        now: 1_800_000_000_000,
    }
}

impl World {
    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.sw.poll_output()).collect()
    }

    /// Sends `text` from `from`, returns what was sent back to anyone, parsed.
    fn send(&mut self, from: &str, text: &str) -> (Vec<(SocketAddr, Message)>, Vec<Output>) {
        let bytes = text.replace('\n', "\r\n");
        self.sw.receive(self.now, addr(from), bytes.as_bytes());
        split(self.outputs())
    }
}

fn split(outs: Vec<Output>) -> (Vec<(SocketAddr, Message)>, Vec<Output>) {
    let mut sent = Vec::new();
    let mut other = Vec::new();
    for o in outs {
        match o {
            Output::Send { to, data } => sent.push((to, Message::parse(&data, false).unwrap().0)),
            o => other.push(o),
        }
    }
    (sent, other)
}

fn register(branch: &str, cseq: u32, auth: Option<&str>, expires: u32) -> String {
    format!(
        "REGISTER sip:switchboard SIP/2.0
Via: SIP/2.0/UDP {PHONE};branch={branch};rport
From: <sip:alice@switchboard>;tag=ph1
To: <sip:alice@switchboard>
Call-ID: reg-1@phone
CSeq: {cseq} REGISTER
Contact: <sip:alice@{PHONE}>;expires={expires}
{}Content-Length: 0

",
        auth.map(|a| format!("Authorization: {a}\n"))
            .unwrap_or_default()
    )
}

fn authorization(nonce: &str, password: &str, alg: Algorithm) -> String {
    let ha1 = digest::ha1(alg, "alice", "switchboard", password);
    let resp = digest::response(
        alg,
        &ha1,
        "REGISTER",
        "sip:switchboard",
        nonce,
        Some(("00000001", "c0ffee")),
    );
    format!(
        "Digest username=\"alice\", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"sip:switchboard\", \
         response=\"{resp}\", algorithm={}, qop=auth, nc=00000001, cnonce=\"c0ffee\"",
        alg.name()
    )
}

fn nonce_of(m: &Message) -> String {
    let v = m.header("WWW-Authenticate").unwrap();
    let start = v.find("nonce=\"").unwrap() + 7;
    v[start..start + 40].to_string()
}

fn register_phone(w: &mut World, alg: Algorithm) {
    let (sent, _) = w.send(PHONE, &register("z9hG4bKr1", 1, None, 600));
    assert_eq!(sent[0].1.code(), Some(401));
    let challenges: Vec<&str> = sent[0]
        .1
        .headers
        .iter()
        .filter(|(n, _)| n == "WWW-Authenticate")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].contains("algorithm=SHA-256"));
    assert!(challenges[1].contains("algorithm=MD5"));
    let nonce = nonce_of(&sent[0].1);
    let auth = authorization(&nonce, "s3cret-pass", alg);
    let (sent, outs) = w.send(PHONE, &register("z9hG4bKr2", 2, Some(&auth), 600));
    assert_eq!(sent[0].1.code(), Some(200), "{:?}", sent[0].1);
    assert!(sent[0].1.header("Contact").unwrap().contains("expires=600"));
    assert_eq!(
        outs,
        vec![Output::Registered {
            tenant: w.tenant,
            agent: w.agent,
            registered: true
        }]
    );
    assert!(w.sw.is_registered(w.tenant, w.agent, w.now));
}

fn invite(branch: &str, call_id: &str) -> String {
    let sdp = "v=0\no=- 1 1 IN IP4 10.1.1.1\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\nm=audio 40000 RTP/AVP 8 0 101\na=rtpmap:101 telephone-event/8000\n";
    let length = sdp.replace('\n', "\r\n").len();
    format!(
        "INVITE sip:+61290000000@192.0.2.10 SIP/2.0
Via: SIP/2.0/UDP {TRUNK};branch={branch}
From: <sip:+61400111222@carrier>;tag=car1
To: <sip:+61290000000@192.0.2.10>
Call-ID: {call_id}
CSeq: 1 INVITE
Contact: <sip:carrier@{TRUNK}>
Content-Type: application/sdp
Content-Length: {length}

{sdp}"
    )
}

/// Answers a call with no menu and gives it a contact.
fn queue_it(w: &mut World, call: sb_sip::CallRef, port: u16) -> ContactId {
    assert!(w.sw.accept(w.now, call, port, true));
    w.outputs();
    let contact = ContactId::from_uuid(Uuid::now_v7());
    w.sw.call_queued(w.now, call, contact);
    contact
}

#[test]
fn a_phone_registers_with_sha256_or_md5() {
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let mut w = world();
        register_phone(&mut w, alg);
    }
}

#[test]
fn wrong_passwords_are_refused_then_blocked() {
    let mut w = world();
    for i in 0..5 {
        let (sent, _) = w.send(PHONE, &register(&format!("z9hG4bKa{i}"), 1, None, 600));
        let nonce = nonce_of(&sent[0].1);
        let auth = authorization(&nonce, "guess", Algorithm::Sha256);
        let (sent, outs) = w.send(
            PHONE,
            &register(&format!("z9hG4bKb{i}"), 2, Some(&auth), 600),
        );
        assert_eq!(sent[0].1.code(), Some(403));
        assert!(matches!(outs[0], Output::Refused { .. }));
    }
    // Blocked now, even with the right password.
    let (sent, _) = w.send(PHONE, &register("z9hG4bKc", 1, None, 600));
    assert_eq!(sent[0].1.code(), Some(403));
    assert!(!w.sw.is_registered(w.tenant, w.agent, w.now));
    // Until the block ends.
    w.now += sb_sip::switch::BLOCK_MS + 1;
    w.sw.handle_timeout(w.now);
    register_phone(&mut w, Algorithm::Sha256);
}

#[test]
fn calls_from_strangers_and_to_unknown_numbers_are_refused() {
    let mut w = world();
    let text = invite("z9hG4bKs1", "fraud@x").replace(TRUNK, STRANGER);
    let (sent, outs) = w.send(STRANGER, &text);
    assert_eq!(sent[0].1.code(), Some(403));
    assert!(matches!(
        outs[0],
        Output::Refused {
            what: "untrusted_source",
            ..
        }
    ));
    let text = invite("z9hG4bKs2", "nowhere@x").replace("+61290000000", "+61299999999");
    let (sent, _) = w.send(TRUNK, &text);
    assert_eq!(sent[0].1.code(), Some(404));
    // Retransmitted: the same answer, nothing new.
    let (again, outs) = w.send(TRUNK, &text);
    assert_eq!(again[0].1, sent[0].1);
    assert!(outs.is_empty());
    assert_eq!(w.sw.calls(), 0);
    // Bad SDP.
    let text = invite("z9hG4bKs3", "badsdp@x").replace("c=IN IP4 10.1.1.1", "c=IN IP4 10.1.1.x");
    let (sent, _) = w.send(TRUNK, &text);
    assert_eq!(sent[0].1.code(), Some(400));
    // Garbage is dropped and reported, never answered.
    let (sent, outs) = w.send(TRUNK, "INVITE nonsense\n\n");
    assert!(sent.is_empty());
    assert!(matches!(
        outs[0],
        Output::Refused {
            what: "malformed",
            ..
        }
    ));
}

#[test]
fn a_call_is_queued_rung_answered_bridged_and_hung_up() {
    let mut w = world();
    register_phone(&mut w, Algorithm::Sha256);
    let (sent, outs) = w.send(TRUNK, &invite("z9hG4bKi1", "call-1@carrier"));
    assert_eq!(sent[0].1.code(), Some(100));
    let Output::Incoming {
        call,
        tenant,
        hours,
    } = outs[0].clone()
    else {
        panic!("{outs:?}")
    };
    assert_eq!((tenant, hours), (w.tenant, None));
    assert!(w.sw.accept(w.now, call, 30_000, true));
    let (sent, outs) = split(w.outputs());
    let ok = sent[0].1.clone();
    assert_eq!(ok.code(), Some(200));
    let answer = sb_sip::sdp::parse(&ok.body).unwrap();
    assert_eq!(answer.addr, addr("192.0.2.10:30000"));
    assert_eq!(answer.codecs, vec![sb_sip::sdp::Codec::Pcma]);
    assert_eq!(
        outs,
        vec![
            Output::Media(Media::Caller {
                call,
                port: 30_000,
                remote: addr("10.1.1.1:40000"),
                signal: addr(TRUNK).ip(),
                codec: sb_sip::sdp::Codec::Pcma,
                events: Some(101)
            }),
            Output::Media(Media::Hold { call }),
            Output::NewCall {
                call,
                tenant: w.tenant,
                queue: w.queue,
                from: "+61400111222".into(),
                to: "+61290000000".into(),
                choice: None
            }
        ]
    );
    let contact = ContactId::from_uuid(Uuid::now_v7());
    w.sw.call_queued(w.now, call, contact);
    assert!(w.outputs().is_empty());
    let local_tag = ok.to_addr().unwrap().tag().unwrap().to_string();

    // No ACK yet: the 200 is sent again after T1, then 2×T1.
    w.now += 500;
    w.sw.handle_timeout(w.now);
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.code(), Some(200));
    let ack = format!(
        "ACK sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bKack1
From: <sip:+61400111222@carrier>;tag=car1
To: <sip:+61290000000@192.0.2.10>;tag={local_tag}
Call-ID: call-1@carrier
CSeq: 1 ACK
Content-Length: 0

"
    );
    w.send(TRUNK, &ack);
    w.now += 10_000;
    w.sw.handle_timeout(w.now);
    assert!(
        w.outputs().is_empty(),
        "no more retransmissions after the ACK"
    );

    // The engine reserves the agent: the phone rings.
    w.sw.ring(w.now, contact, 7, w.agent, 30_002);
    let (sent, _) = split(w.outputs());
    let (to, inv) = &sent[0];
    assert_eq!(*to, addr(PHONE));
    assert_eq!(inv.method(), "INVITE");
    assert_eq!(inv.uri(), format!("sip:alice@{PHONE}"));
    assert_eq!(
        sb_sip::sdp::parse(&inv.body).unwrap().addr,
        addr("192.0.2.10:30002")
    );
    // The phone says 180, then 200 with its SDP.
    let ringing = inv.reply(180, "Ringing", Some("phone-tag"));
    w.sw.receive(w.now, addr(PHONE), &ringing.to_bytes());
    assert!(w.outputs().is_empty());
    let mut ok = inv.reply(200, "OK", Some("phone-tag"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50000 RTP/AVP 8 101\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(sent[0].1.cseq(), Some((1, "ACK")));
    assert_eq!(
        outs,
        vec![
            Output::AgentAnswered {
                call,
                tenant: w.tenant,
                contact,
                reservation: 7
            },
            Output::Media(Media::Agent {
                call,
                port: 30_002,
                remote: addr("10.2.2.2:50000"),
                signal: addr(PHONE).ip(),
            }),
            Output::Media(Media::Bridge { call })
        ]
    );
    // A retransmitted 200 is acknowledged again, and nothing else happens.
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent.len(), 1);
    assert!(outs.is_empty());

    // The phone holds the caller (re-INVITE, sendonly): music for the
    // caller; then takes them back.
    let reinvite = |cseq: u32, dir: &str| {
        let body = format!("v=0\nc=IN IP4 10.2.2.2\nm=audio 50000 RTP/AVP 8\na={dir}\n");
        let len = body.replace('\n', "\r\n").len();
        let to = inv.header("From").unwrap();
        let cid = inv.call_id().unwrap();
        format!(
            "INVITE sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKre{cseq}
From: <sip:alice@{PHONE}>;tag=phone-tag
To: {to}
Call-ID: {cid}
CSeq: {cseq} INVITE
Content-Type: application/sdp
Content-Length: {len}

{body}"
        )
    };
    let (sent, outs) = w.send(PHONE, &reinvite(2, "sendonly"));
    assert_eq!(sent[0].1.code(), Some(200));
    assert_eq!(
        sb_sip::sdp::parse(&sent[0].1.body).unwrap().direction,
        sb_sip::sdp::Direction::RecvOnly
    );
    assert!(
        outs.contains(&Output::Media(Media::Hold { call })),
        "{outs:?}"
    );
    assert!(outs.contains(&Output::Held {
        call,
        tenant: w.tenant,
        contact,
        held: true
    }));
    let (sent, outs) = w.send(PHONE, &reinvite(3, "sendrecv"));
    assert_eq!(sent[0].1.code(), Some(200));
    assert!(
        outs.contains(&Output::Media(Media::Bridge { call })),
        "{outs:?}"
    );
    assert!(outs.contains(&Output::Held {
        call,
        tenant: w.tenant,
        contact,
        held: false
    }));

    // The caller hangs up: 200, the phone gets a BYE, the call ends talking.
    let bye = ack
        .replace("ACK sip", "BYE sip")
        .replace("CSeq: 1 ACK", "CSeq: 2 BYE")
        .replace("z9hG4bKack1", "z9hG4bKbye1");
    let (sent, outs) = w.send(TRUNK, &bye);
    assert_eq!(sent[0].1.code(), Some(200));
    assert_eq!(sent[1].0, addr(PHONE));
    assert_eq!(sent[1].1.method(), "BYE");
    assert_eq!(
        outs,
        vec![
            Output::Media(Media::Stop { call }),
            Output::Ended {
                call,
                tenant: w.tenant,
                contact: Some(contact),
                stage: Stage::Talking,
                by: EndedBy::Caller
            }
        ]
    );
    // The phone's BYE is sent again until answered.
    w.now += 500;
    w.sw.handle_timeout(w.now);
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "BYE");
    let done = sent[0].1.reply(200, "OK", None);
    w.sw.receive(w.now, addr(PHONE), &done.to_bytes());
    w.now += 60_000;
    w.sw.handle_timeout(w.now);
    assert!(w.outputs().is_empty());
    assert_eq!(w.sw.calls(), 0);
}

#[test]
fn unanswered_rings_are_declined_and_cancelled_and_hanging_up_in_queue_abandons() {
    let mut w = world();
    // Nobody registered: the reservation is declined at once.
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKj1", "call-2@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    let contact = queue_it(&mut w, call, 30_010);
    w.sw.ring(w.now, contact, 1, w.agent, 30_012);
    let (_, outs) = split(w.outputs());
    assert!(matches!(
        outs[0],
        Output::AgentDeclined { reservation: 1, .. }
    ));

    // Registered but the phone is busy: declined.
    register_phone(&mut w, Algorithm::Md5);
    w.sw.ring(w.now, contact, 2, w.agent, 30_012);
    let (sent, _) = split(w.outputs());
    let busy = sent[0].1.reply(486, "Busy Here", Some("p"));
    w.sw.receive(w.now, addr(PHONE), &busy.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert!(matches!(
        outs[0],
        Output::AgentDeclined { reservation: 2, .. }
    ));

    // Ringing when the reservation expires: CANCEL.
    w.sw.ring(w.now, contact, 3, w.agent, 30_012);
    let (sent, _) = split(w.outputs());
    let inv = sent[0].1.clone();
    w.sw.receive(
        w.now,
        addr(PHONE),
        &inv.reply(180, "Ringing", Some("p")).to_bytes(),
    );
    w.sw.reservation_ended(w.now, contact, 3);
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "CANCEL");
    assert_eq!(sent[0].1.via(), inv.via());

    // The caller hangs up while queued: abandoned.
    let bye = format!(
        "BYE sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bKbye2
From: <sip:+61400111222@carrier>;tag=car1
To: <sip:+61290000000@192.0.2.10>;tag=x
Call-ID: call-2@carrier
CSeq: 2 BYE
Content-Length: 0

"
    );
    let (sent, outs) = w.send(TRUNK, &bye);
    assert_eq!(sent[0].1.code(), Some(200));
    assert!(outs.contains(&Output::Ended {
        call,
        tenant: w.tenant,
        contact: Some(contact),
        stage: Stage::Waiting,
        by: EndedBy::Caller
    }));
    // The BYE again: the same 200, no second end.
    let (sent, outs) = w.send(TRUNK, &bye);
    assert_eq!(sent[0].1.code(), Some(200));
    assert!(outs.is_empty());
}

#[test]
fn a_transferred_call_waits_again_and_rings_the_next_phone() {
    let mut w = world();
    register_phone(&mut w, Algorithm::Sha256);
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKt1", "call-3@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    let contact = queue_it(&mut w, call, 30_020);
    w.sw.ring(w.now, contact, 4, w.agent, 30_022);
    let (sent, _) = split(w.outputs());
    let inv = sent[0].1.clone();
    let mut ok = inv.reply(200, "OK", Some("p1"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50000 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    w.outputs();
    // Transferred: the phone is hung up, the caller hears music again.
    assert!(w.sw.requeue(w.now, contact));
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "BYE");
    assert_eq!(sent[0].1.call_id(), inv.call_id());
    assert_eq!(outs, vec![Output::Media(Media::Hold { call })]);
    // The next reservation rings again, on a new dialog.
    w.sw.ring(w.now, contact, 5, w.agent, 30_024);
    let (sent, _) = split(w.outputs());
    let inv2 = sent[0].1.clone();
    assert_eq!(inv2.method(), "INVITE");
    assert_ne!(inv2.call_id(), inv.call_id());
    // The reservation expires: CANCEL; the phone answers all the same, too
    // late: acknowledged and hung up, and nobody is told it answered.
    w.sw.reservation_ended(w.now, contact, 5);
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "CANCEL");
    let mut late = inv2.reply(200, "OK", Some("p2"));
    late.push("Contact", format!("<sip:alice@{PHONE}>"));
    late.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50002 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &late.to_bytes());
    let (sent, outs) = split(w.outputs());
    let methods: Vec<&str> = sent.iter().map(|(_, m)| m.method()).collect();
    assert_eq!(methods, vec!["ACK", "BYE"]);
    assert!(outs.is_empty(), "{outs:?}");
    // A failure for a dialog long gone is still acknowledged.
    let stale = inv.reply(487, "Request Terminated", Some("p1"));
    w.sw.receive(w.now, addr(PHONE), &stale.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(sent[0].1.via(), inv.via());
    assert!(outs.is_empty());
}

fn with_menu(w: &mut World) -> QueueId {
    let sales = QueueId::from_uuid(Uuid::now_v7());
    let mut dir = Directory::default();
    let mut options = std::collections::BTreeMap::new();
    options.insert('1', sales);
    dir.numbers.insert(
        "+61290000000".into(),
        NumberRoute {
            tenant: w.tenant,
            queue: w.queue,
            menu: Some(Menu {
                prompt: Some("greeting".into()),
                options,
                timeout_ms: 5_000,
                hours: None,
                closed_prompt: Some("closed".into()),
            }),
        },
    );
    dir.trunks.push(Trunk {
        tenant: w.tenant,
        sources: vec!["10.1.1.0/24".parse().unwrap()],
    });
    w.sw.set_directory(dir);
    sales
}

fn info(call_id: &str, tag: &str, cseq: u32, key: &str) -> String {
    let body = format!("Signal={key}\nDuration=160\n");
    let len = body.replace('\n', "\r\n").len();
    format!(
        "INFO sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {TRUNK};branch=z9hG4bKinfo{cseq}
From: <sip:+61400111222@carrier>;tag=car1
To: <sip:+61290000000@192.0.2.10>;tag={tag}
Call-ID: {call_id}
CSeq: {cseq} INFO
Content-Type: application/dtmf-relay
Content-Length: {len}

{body}"
    )
}

#[test]
fn a_menu_greets_then_routes_by_key_or_by_default_and_closed_hours_say_so() {
    let mut w = world();
    let sales = with_menu(&mut w);
    // A key: its queue.
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKm1", "menu-1@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    assert!(w.sw.accept(w.now, call, 30_100, true));
    let (sent, outs) = split(w.outputs());
    let tag = sent[0].1.to_addr().unwrap().tag().unwrap().to_string();
    assert_eq!(
        outs.last(),
        Some(&Output::Media(Media::Play {
            call,
            tenant: w.tenant,
            prompt: "greeting".into()
        }))
    );
    // A key that is no option changes nothing.
    let (sent, outs) = w.send(TRUNK, &info("menu-1@carrier", &tag, 2, "7"));
    assert_eq!(sent[0].1.code(), Some(200));
    assert!(outs.is_empty());
    let (_, outs) = w.send(TRUNK, &info("menu-1@carrier", &tag, 3, "1"));
    assert_eq!(outs[0], Output::Media(Media::Hold { call }));
    assert!(
        matches!(&outs[1], Output::NewCall { queue, choice: Some('1'), .. } if *queue == sales)
    );

    // No key: after the greeting and the wait, the number's queue.
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKm2", "menu-2@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    w.sw.accept(w.now, call, 30_102, true);
    w.outputs();
    w.now += 3_000;
    w.sw.prompt_done(w.now, call);
    w.now += 5_000;
    w.sw.handle_timeout(w.now);
    let (_, outs) = split(w.outputs());
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::NewCall { queue, choice: None, .. } if *queue == w.queue)),
        "{outs:?}"
    );

    // Out of hours: the closed prompt, then the call is hung up, no contact.
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKm3", "menu-3@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    w.sw.accept(w.now, call, 30_104, false);
    let (_, outs) = split(w.outputs());
    assert_eq!(
        outs.last(),
        Some(&Output::Media(Media::Play {
            call,
            tenant: w.tenant,
            prompt: "closed".into()
        }))
    );
    w.sw.prompt_done(w.now, call);
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "BYE");
    assert!(outs.contains(&Output::Ended {
        call,
        tenant: w.tenant,
        contact: None,
        stage: Stage::Waiting,
        by: EndedBy::Switch
    }));
}

#[test]
fn a_team_leader_monitors_a_call_and_leaves_it() {
    let mut w = world();
    register_phone(&mut w, Algorithm::Md5);
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKmo1", "call-4@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    let contact = queue_it(&mut w, call, 30_200);
    let stranger = AgentId::from_uuid(Uuid::now_v7());
    assert_eq!(
        w.sw.monitor(w.now, contact, w.agent, MonitorMode::Listen, 30_204),
        Err(MonitorError::NotTalking),
        "only a call in progress"
    );
    w.sw.ring(w.now, contact, 9, w.agent, 30_202);
    let (sent, _) = split(w.outputs());
    let mut ok = sent[0].1.reply(200, "OK", Some("p9"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50000 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    w.outputs();
    assert_eq!(
        w.sw.monitor(w.now, contact, stranger, MonitorMode::Listen, 30_204),
        Err(MonitorError::NotRegistered)
    );
    // The (registered) phone monitors: rung, answers, media joins.
    w.sw.monitor(w.now, contact, w.agent, MonitorMode::Listen, 30_204)
        .unwrap();
    let (sent, _) = split(w.outputs());
    let inv = sent[0].1.clone();
    assert_eq!(inv.method(), "INVITE");
    assert_eq!(inv.header("Subject"), Some("Monitoring"));
    let mut ok = inv.reply(200, "OK", Some("tl"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50010 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(
        outs,
        vec![Output::Media(Media::Monitor {
            call,
            port: 30_204,
            remote: addr("10.2.2.2:50010"),
            signal: addr(PHONE).ip(),
            mode: MonitorMode::Listen
        })]
    );
    // Someone else cannot take over; the same team leader changes mode.
    assert_eq!(
        w.sw.monitor(w.now, contact, stranger, MonitorMode::Barge, 0),
        Err(MonitorError::Busy)
    );
    w.sw.monitor(w.now, contact, w.agent, MonitorMode::Barge, 0)
        .unwrap();
    assert_eq!(
        w.outputs(),
        vec![Output::Media(Media::MonitorMode {
            call,
            mode: MonitorMode::Barge
        })]
    );
    // The team leader hangs up: only their leg ends.
    let bye = format!(
        "BYE sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKtlbye
From: <sip:alice@{PHONE}>;tag=tl
To: {}
Call-ID: {}
CSeq: 2 BYE
Content-Length: 0

",
        inv.header("From").unwrap(),
        inv.call_id().unwrap()
    );
    let (sent, outs) = w.send(PHONE, &bye);
    assert_eq!(sent[0].1.code(), Some(200));
    assert_eq!(
        outs,
        vec![
            Output::Media(Media::MonitorStop { call }),
            Output::MonitorEnded {
                call,
                tenant: w.tenant,
                contact,
                why: "the team leader hung up".into()
            }
        ]
    );
    assert_eq!(w.sw.calls(), 1, "the call goes on");
    assert!(!w.sw.stop_monitor(w.now, contact), "nothing left to stop");
}

#[test]
fn waiting_callers_hear_announcements_and_may_take_a_callback() {
    let mut w = world();
    let (sent, outs) = w.send(TRUNK, &invite("z9hG4bKcb1", "call-5@carrier"));
    assert_eq!(sent[0].1.code(), Some(100));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    assert!(w.sw.accept(w.now, call, 30_300, true));
    let (sent, _) = split(w.outputs());
    let tag = sent[0].1.to_addr().unwrap().tag().unwrap().to_string();
    let contact = ContactId::from_uuid(Uuid::now_v7());
    w.sw.call_queued(w.now, call, contact);
    // An announcement interrupts the music, which then resumes; a key
    // means nothing without an offer.
    assert!(w.sw.play_in_queue(w.now, contact, "position-2", false));
    assert_eq!(
        w.outputs(),
        vec![Output::Media(Media::Play {
            call,
            tenant: w.tenant,
            prompt: "position-2".into()
        })]
    );
    let (_, outs) = w.send(TRUNK, &info("call-5@carrier", &tag, 2, "1"));
    assert!(outs.is_empty());
    w.sw.prompt_done(w.now, call);
    assert_eq!(w.outputs(), vec![Output::Media(Media::Hold { call })]);
    // Offered a callback, key 1 asks for it (once); booked, the caller hears
    // it confirmed and the call ends, keeping the contact's place.
    assert!(w.sw.play_in_queue(w.now, contact, "callback-offer", true));
    w.outputs();
    let (_, outs) = w.send(TRUNK, &info("call-5@carrier", &tag, 3, "1"));
    assert_eq!(
        outs,
        vec![Output::CallbackRequested {
            call,
            tenant: w.tenant,
            contact
        }]
    );
    let (_, outs) = w.send(TRUNK, &info("call-5@carrier", &tag, 4, "1"));
    assert!(outs.is_empty(), "asked once");
    w.sw.callback_booked(w.now, call, Some("callback-booked"));
    assert!(
        matches!(&w.outputs()[0], Output::Media(Media::Play { prompt, .. }) if prompt == "callback-booked")
    );
    w.sw.prompt_done(w.now, call);
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "BYE");
    assert!(outs.contains(&Output::Ended {
        call,
        tenant: w.tenant,
        contact: Some(contact),
        stage: Stage::CallbackKept,
        by: EndedBy::Switch
    }));
}

#[test]
fn a_scanners_flood_is_cut_off_without_touching_calls_in_progress() {
    let mut w = world();
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKfl1", "call-6@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    assert!(w.sw.accept(w.now, call, 30_400, true));
    let (sent, _) = split(w.outputs());
    let tag = sent[0].1.to_addr().unwrap().tag().unwrap().to_string();
    let options = |i: u32| {
        format!(
            "OPTIONS sip:192.0.2.10 SIP/2.0
Via: SIP/2.0/UDP {STRANGER};branch=z9hG4bKscan{i}
From: <sip:scan@x>;tag=s
To: <sip:192.0.2.10>
Call-ID: scan-{i}
CSeq: 1 OPTIONS
Content-Length: 0

"
        )
    };
    let mut answered = 0;
    let mut refused = 0;
    for i in 0..500 {
        let (sent, outs) = w.send(STRANGER, &options(i));
        answered += sent.len();
        refused += outs.len();
    }
    assert_eq!(answered, sb_sip::switch::MAX_NEW_PER_SECOND as usize);
    assert_eq!(refused, 1, "the flood is logged once a second");
    // The call in progress is still served at once (its INFO is answered).
    let (sent, _) = w.send(TRUNK, &info("call-6@carrier", &tag, 2, "5"));
    assert_eq!(sent[0].1.code(), Some(200));
    // The next second, the scanner is answered again.
    w.now += 1_000;
    let (sent, _) = w.send(STRANGER, &options(999));
    assert_eq!(sent[0].1.code(), Some(200));
}

#[test]
fn a_phone_on_tcp_is_called_over_tcp() {
    let mut w = world();
    // The phone's REGISTERs arrive over its TCP connection.
    let text = register("z9hG4bKt1", 1, None, 600).replace('\n', "\r\n");
    w.sw.receive_stream(w.now, addr(PHONE), text.as_bytes());
    let (sent, _) = split(w.outputs());
    let nonce = nonce_of(&sent[0].1);
    let auth = authorization(&nonce, "s3cret-pass", Algorithm::Sha256);
    let text = register("z9hG4bKt2", 2, Some(&auth), 600).replace('\n', "\r\n");
    w.sw.receive_stream(w.now, addr(PHONE), text.as_bytes());
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.code(), Some(200));
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKt3", "call-7@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    let contact = queue_it(&mut w, call, 30_500);
    w.sw.ring(w.now, contact, 11, w.agent, 30_502);
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].0, addr(PHONE));
    assert_eq!(sent[0].1.via().unwrap().transport, "TCP");
    // The carrier's leg stays on UDP.
    w.sw.connection_closed(addr(PHONE));
    w.sw.hang_up(w.now, contact);
    let (sent, _) = split(w.outputs());
    let to_trunk = sent.iter().find(|(to, _)| *to == addr(TRUNK)).unwrap();
    assert_eq!(to_trunk.1.via().unwrap().transport, "UDP");
}

#[test]
fn a_phone_transfers_the_caller_by_refer() {
    let mut w = world();
    register_phone(&mut w, Algorithm::Sha256);
    let (_, outs) = w.send(TRUNK, &invite("z9hG4bKrf1", "call-8@carrier"));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!()
    };
    let contact = queue_it(&mut w, call, 30_600);
    w.sw.ring(w.now, contact, 12, w.agent, 30_602);
    let (sent, _) = split(w.outputs());
    let inv = sent[0].1.clone();
    let mut ok = inv.reply(200, "OK", Some("p12"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50000 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    w.outputs();
    let refer = |cseq: u32, to: &str| {
        format!(
            "REFER sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKrefer{cseq}
From: <sip:alice@{PHONE}>;tag=p12
To: {from}
Call-ID: {cid}
CSeq: {cseq} REFER
Refer-To: <{to}>
Content-Length: 0

",
            from = inv.header("From").unwrap(),
            cid = inv.call_id().unwrap(),
        )
    };
    // Nowhere known: refused.
    let (sent, outs) = w.send(PHONE, &refer(2, "sip:+61299999999@192.0.2.10"));
    assert_eq!(sent[0].1.code(), Some(404));
    assert!(outs.is_empty());
    // A number of the tenant's: its queue.
    let (sent, outs) = w.send(PHONE, &refer(3, "sip:+61290000000@192.0.2.10"));
    assert_eq!(sent[0].1.code(), Some(202));
    assert_eq!(
        outs,
        vec![Output::TransferRequested {
            call,
            tenant: w.tenant,
            contact,
            queue: Some(w.queue),
            agent: None
        }]
    );
    // Done: the phone is told it worked, then hung up; the caller waits.
    assert!(w.sw.requeue(w.now, contact));
    let (sent, outs) = split(w.outputs());
    let methods: Vec<&str> = sent.iter().map(|(_, m)| m.method()).collect();
    assert_eq!(methods, vec!["NOTIFY", "BYE"]);
    assert_eq!(sent[0].1.body, b"SIP/2.0 200 OK\r\n");
    assert_eq!(outs, vec![Output::Media(Media::Hold { call })]);
    w.sw.transfer_outcome(w.now, call, true);
    assert!(w.outputs().is_empty(), "told once");
}

/// Dials `number` for a reservation and answers on the agent's phone:
/// returns the call, the contact and the INVITE sent to the carrier.
fn dial_and_answer(w: &mut World, number: &str) -> (sb_sip::CallRef, ContactId, Message) {
    let contact = ContactId::from_uuid(Uuid::now_v7());
    let d = Dial {
        tenant: w.tenant,
        contact,
        queue: w.queue,
        reservation: 9,
        agent: w.agent,
        number: number.into(),
    };
    let call = w.sw.dial(w.now, d.clone(), 31_000, 31_002).unwrap();
    assert_eq!(w.sw.dial(w.now, d, 1, 2), Err(DialError::InCall));
    let (sent, outs) = split(w.outputs());
    assert!(outs.is_empty(), "{outs:?}");
    let (to, inv) = &sent[0];
    assert_eq!(*to, addr(PHONE));
    assert_eq!(inv.method(), "INVITE");
    // The phone shows the number it is calling.
    assert_eq!(
        inv.from_addr()
            .unwrap()
            .parsed_uri()
            .unwrap()
            .user
            .as_deref(),
        Some(number)
    );
    let mut ok = inv.reply(200, "OK", Some("phone-tag"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50000 RTP/AVP 0 101\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(
        outs,
        vec![
            Output::AgentAnswered {
                call,
                tenant: w.tenant,
                contact,
                reservation: 9
            },
            Output::Media(Media::Agent {
                call,
                port: 31_000,
                remote: addr("10.2.2.2:50000"),
                signal: addr(PHONE).ip(),
            }),
        ]
    );
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(sent[0].0, addr(PHONE));
    let (to, far) = sent[1].clone();
    assert_eq!(to, addr(CARRIER));
    assert_eq!(far.method(), "INVITE");
    assert_eq!(far.uri(), format!("sip:{number}@carrier.example"));
    assert_eq!(
        far.from_addr()
            .unwrap()
            .parsed_uri()
            .unwrap()
            .user
            .as_deref(),
        Some("+61290000000")
    );
    let offer = sb_sip::sdp::parse(&far.body).unwrap();
    assert_eq!(offer.addr, addr("192.0.2.10:31002"));
    assert_eq!(offer.codecs, vec![sb_sip::sdp::Codec::Pcmu]);
    (call, contact, far)
}

#[test]
fn an_outbound_call_rings_the_agent_then_the_number_through_a_challenging_carrier() {
    let mut w = world();
    // Not registered, a bad number, a tenant without a carrier: refused.
    let mut d = Dial {
        tenant: w.tenant,
        contact: ContactId::from_uuid(Uuid::now_v7()),
        queue: w.queue,
        reservation: 1,
        agent: w.agent,
        number: "+61400111222".into(),
    };
    assert_eq!(
        w.sw.dial(w.now, d.clone(), 1, 2),
        Err(DialError::NotRegistered)
    );
    register_phone(&mut w, Algorithm::Sha256);
    d.number = "0400 111 222".into();
    assert_eq!(w.sw.dial(w.now, d.clone(), 1, 2), Err(DialError::BadNumber));
    d.number = "+61400111222".into();
    d.tenant = TenantId::from_uuid(Uuid::now_v7());
    assert_eq!(w.sw.dial(w.now, d, 1, 2), Err(DialError::NoCarrier));
    assert_eq!(w.sw.calls(), 0);

    let (call, contact, far) = dial_and_answer(&mut w, "+61400111222");
    // The carrier challenges: acknowledged, and asked again with
    // credentials that verify against the trunk's password.
    let mut challenge = far.reply(407, "Proxy Authentication Required", Some("c1"));
    challenge.push(
        "Proxy-Authenticate",
        "Digest realm=\"carrier.example\", nonce=\"n0nce\", qop=\"auth\", algorithm=MD5",
    );
    w.sw.receive(w.now, addr(CARRIER), &challenge.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert!(outs.is_empty(), "{outs:?}");
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(sent[0].1.via(), far.via());
    let again = sent[1].1.clone();
    assert_eq!(again.method(), "INVITE");
    assert_eq!(again.call_id(), far.call_id());
    assert_eq!(again.cseq(), Some((2, "INVITE")));
    assert_ne!(again.via(), far.via());
    let auth = digest::Authorization::parse(again.header("Proxy-Authorization").unwrap()).unwrap();
    assert_eq!(auth.username, "acme");
    assert!(auth.verify(
        "INVITE",
        &digest::ha1(Algorithm::Md5, "acme", "carrier.example", "trunk-pass")
    ));

    // It rings, then answers: ACK, and caller and agent are bridged.
    w.sw.receive(
        w.now,
        addr(CARRIER),
        &again.reply(180, "Ringing", Some("c2")).to_bytes(),
    );
    assert!(w.outputs().is_empty());
    let mut ok = again.reply(200, "OK", Some("c2"));
    ok.push("Contact", "<sip:gw@10.3.3.3:5060>");
    ok.push("Record-Route", "<sip:p2.carrier.example;lr>");
    ok.push("Record-Route", "<sip:p1.carrier.example;lr>");
    ok.body = b"v=0\r\nc=IN IP4 10.3.3.4\r\nm=audio 42000 RTP/AVP 0\r\n".to_vec();
    w.sw.receive(w.now, addr(CARRIER), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(sent[0].1.uri(), "sip:gw@10.3.3.3:5060");
    assert_eq!(sent[0].1.cseq(), Some((2, "ACK")));
    assert_eq!(
        outs,
        vec![
            Output::Media(Media::Caller {
                call,
                port: 31_002,
                remote: addr("10.3.3.4:42000"),
                signal: addr(CARRIER).ip(),
                codec: sb_sip::sdp::Codec::Pcmu,
                events: None,
            }),
            Output::Media(Media::Bridge { call }),
            Output::Connected {
                call,
                tenant: w.tenant,
                contact
            },
        ]
    );
    // The 200 again (our ACK was lost): acknowledged again, nothing else.
    w.sw.receive(w.now, addr(CARRIER), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.method(), "ACK");
    assert!(outs.is_empty());
    // A team leader may listen in like on any call.
    assert_eq!(w.sw.call_of(contact), Some(call));

    // The desk hangs up: BYE to both, inside their dialogs, the carrier's
    // along its route.
    assert!(w.sw.hang_up(w.now, contact));
    let (sent, outs) = split(w.outputs());
    let byes: Vec<_> = sent.iter().filter(|(_, m)| m.method() == "BYE").collect();
    assert_eq!(byes.len(), 2, "{sent:?}");
    let to_carrier = byes.iter().find(|(a, _)| *a == addr(CARRIER)).unwrap();
    assert_eq!(to_carrier.1.uri(), "sip:gw@10.3.3.3:5060");
    assert_eq!(
        to_carrier.1.header_all("Route"),
        vec!["<sip:p1.carrier.example;lr>", "<sip:p2.carrier.example;lr>"]
    );
    assert_eq!(to_carrier.1.cseq(), Some((3, "BYE")));
    assert!(to_carrier.1.header("To").unwrap().contains("tag=c2"));
    assert!(outs.contains(&Output::Ended {
        call,
        tenant: w.tenant,
        contact: Some(contact),
        stage: Stage::Talking,
        by: EndedBy::Switch
    }));
}

#[test]
fn outbound_calls_that_fail_end_and_say_why() {
    let mut w = world();
    register_phone(&mut w, Algorithm::Md5);

    // Busy: acknowledged, the agent hung up, the call over as talked.
    let (call, contact, far) = dial_and_answer(&mut w, "+61400111222");
    w.sw.receive(
        w.now,
        addr(CARRIER),
        &far.reply(486, "Busy Here", Some("b")).to_bytes(),
    );
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert!(
        sent.iter()
            .any(|(a, m)| *a == addr(PHONE) && m.method() == "BYE")
    );
    assert_eq!(
        outs[0],
        Output::DialFailed {
            call,
            tenant: w.tenant,
            contact,
            code: 486,
            reason: "Busy Here".into()
        }
    );
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Ended {
            stage: Stage::Talking,
            ..
        }
    )));

    // A second challenge after credentials: wrong credentials, given up.
    let (_, _, far) = dial_and_answer(&mut w, "+61400111223");
    let mut challenge = far.reply(401, "Unauthorized", Some("c1"));
    challenge.push("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n1\"");
    w.sw.receive(w.now, addr(CARRIER), &challenge.to_bytes());
    let (sent, _) = split(w.outputs());
    let again = sent[1].1.clone();
    assert!(again.header("Authorization").is_some());
    let mut challenge = again.reply(401, "Unauthorized", Some("c2"));
    challenge.push("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n2\"");
    w.sw.receive(w.now, addr(CARRIER), &challenge.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::DialFailed { code: 401, .. })),
        "{outs:?}"
    );

    // Rings too long: cancelled, no answer.
    let (_, _, far) = dial_and_answer(&mut w, "+61400111224");
    w.sw.receive(
        w.now,
        addr(CARRIER),
        &far.reply(180, "Ringing", Some("r")).to_bytes(),
    );
    w.now += sb_sip::switch::DIAL_RING_MS;
    w.sw.handle_timeout(w.now);
    let (sent, outs) = split(w.outputs());
    let cancel = sent.iter().find(|(_, m)| m.method() == "CANCEL").unwrap();
    assert_eq!(cancel.0, addr(CARRIER));
    assert_eq!(cancel.1.via(), far.via());
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::DialFailed { code: 408, .. })),
        "{outs:?}"
    );
    // The carrier's 487 is acknowledged.
    w.sw.receive(
        w.now,
        addr(CARRIER),
        &far.reply(487, "Request Terminated", Some("r")).to_bytes(),
    );
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");

    // The agent's phone declines: the reservation is declined and the
    // call ends unanswered, the carrier never called.
    let contact = ContactId::from_uuid(Uuid::now_v7());
    let call =
        w.sw.dial(
            w.now,
            Dial {
                tenant: w.tenant,
                contact,
                queue: w.queue,
                reservation: 4,
                agent: w.agent,
                number: "+61400111225".into(),
            },
            1,
            2,
        )
        .unwrap();
    let (sent, _) = split(w.outputs());
    w.sw.receive(
        w.now,
        addr(PHONE),
        &sent[0].1.reply(603, "Decline", Some("d")).to_bytes(),
    );
    let (sent, outs) = split(w.outputs());
    assert!(sent.iter().all(|(a, _)| *a == addr(PHONE)), "{sent:?}");
    assert!(matches!(
        outs[0],
        Output::AgentDeclined { reservation: 4, .. }
    ));
    assert!(outs.contains(&Output::Ended {
        call,
        tenant: w.tenant,
        contact: Some(contact),
        stage: Stage::Unanswered,
        by: EndedBy::Agent
    }));
    assert_eq!(w.sw.call_of(contact), None);
}

/// Registers the second phone, `bob`, from PHONE2.
fn register_bob(w: &mut World) {
    let reg = |cseq: u32, auth: Option<&str>| {
        format!(
            "REGISTER sip:switchboard SIP/2.0
Via: SIP/2.0/UDP {PHONE2};branch=z9hG4bKb{cseq}
From: <sip:bob@switchboard>;tag=b1
To: <sip:bob@switchboard>
Call-ID: reg-bob@phone
CSeq: {cseq} REGISTER
Contact: <sip:bob@{PHONE2}>;expires=600
{}Content-Length: 0

",
            auth.map(|a| format!("Authorization: {a}\n"))
                .unwrap_or_default()
        )
    };
    let (sent, _) = w.send(PHONE2, &reg(1, None));
    let nonce = nonce_of(&sent[0].1);
    let ha1 = digest::ha1(Algorithm::Md5, "bob", "switchboard", "bob-pass");
    let resp = digest::response(
        Algorithm::Md5,
        &ha1,
        "REGISTER",
        "sip:switchboard",
        &nonce,
        None,
    );
    let auth = format!(
        "Digest username=\"bob\", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"sip:switchboard\", response=\"{resp}\", algorithm=MD5"
    );
    let (sent, _) = w.send(PHONE2, &reg(2, Some(&auth)));
    assert_eq!(sent[0].1.code(), Some(200), "{:?}", sent[0].1);
}

/// A call from the trunk answered by alice's phone: the call, its contact,
/// the Call-ID of alice's leg.
fn talking(w: &mut World, call_id: &str) -> (sb_sip::CallRef, ContactId, String) {
    let (_, outs) = w.send(TRUNK, &invite(&format!("z9hG4bK{call_id}"), call_id));
    let Output::Incoming { call, .. } = outs[0].clone() else {
        panic!("{outs:?}")
    };
    let contact = queue_it(w, call, 30_400);
    w.sw.ring(w.now, contact, 1, w.agent, 30_402);
    let (sent, _) = split(w.outputs());
    let mut ok = sent[0].1.reply(200, "OK", Some("alice-tag"));
    ok.push("Contact", format!("<sip:alice@{PHONE}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.2\r\nm=audio 50000 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE), &ok.to_bytes());
    w.outputs();
    (call, contact, sent[0].1.call_id().unwrap().to_string())
}

/// The consulted phone answers the consultation INVITE.
fn bob_answers(w: &mut World, inv: &Message) -> Vec<Output> {
    let mut ok = inv.reply(200, "OK", Some("bob-tag"));
    ok.push("Contact", format!("<sip:bob@{PHONE2}>"));
    ok.body = b"v=0\r\nc=IN IP4 10.2.2.3\r\nm=audio 51000 RTP/AVP 8\r\n".to_vec();
    w.sw.receive(w.now, addr(PHONE2), &ok.to_bytes());
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "ACK");
    assert_eq!(sent[0].0, addr(PHONE2));
    outs
}

#[test]
fn an_agent_consults_another_then_hands_the_call_over() {
    let mut w = world();
    let bob: AgentId = BOB.parse().unwrap();
    register_phone(&mut w, Algorithm::Sha256);
    let (call, contact, _) = talking(&mut w, "call-c1@carrier");
    assert_eq!(
        w.sw.consult(w.now, contact, bob, 30_404),
        Err(ConsultError::NotRegistered)
    );
    register_bob(&mut w);
    w.sw.consult(w.now, contact, bob, 30_404).unwrap();
    let (sent, outs) = split(w.outputs());
    let inv = sent[0].1.clone();
    assert_eq!((sent[0].0, inv.method()), (addr(PHONE2), "INVITE"));
    assert_eq!(inv.header("Subject"), Some("Consultation"));
    assert_eq!(
        sb_sip::sdp::parse(&inv.body).unwrap().addr,
        addr("192.0.2.10:30404")
    );
    assert_eq!(outs, vec![Output::Media(Media::Hold { call })]);
    assert_eq!(
        w.sw.consult(w.now, contact, bob, 1),
        Err(ConsultError::Busy)
    );
    assert_eq!(
        w.sw.finish_consult(w.now, contact, true),
        Err(ConsultError::NotAnswered)
    );
    let outs = bob_answers(&mut w, &inv);
    assert_eq!(
        outs,
        vec![
            Output::Media(Media::Consult {
                call,
                port: 30_404,
                remote: addr("10.2.2.3:51000"),
                signal: addr(PHONE2).ip(),
            }),
            Output::ConsultAnswered {
                call,
                tenant: w.tenant,
                contact,
                agent: bob
            },
        ]
    );
    // Handed over: alice's phone is hung up, bob's leg is the agent's.
    assert_eq!(w.sw.finish_consult(w.now, contact, true), Ok(bob));
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0, sent[0].1.method()), (addr(PHONE), "BYE"));
    assert_eq!(
        outs,
        vec![
            Output::Media(Media::ConsultComplete { call }),
            Output::ConsultCompleted {
                call,
                tenant: w.tenant,
                contact,
                agent: bob
            },
        ]
    );
    // The engine moves the contact to bob: the call stays where it is, and
    // bob's reservation is taken without ringing.
    assert!(!w.sw.requeue(w.now, contact));
    w.sw.ring(w.now, contact, 12, bob, 1);
    let (sent, outs) = split(w.outputs());
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(
        outs,
        vec![Output::AgentAnswered {
            call,
            tenant: w.tenant,
            contact,
            reservation: 12
        }]
    );
    // The desk hangs up: bob's phone gets the BYE.
    assert!(w.sw.hang_up(w.now, contact));
    let (sent, _) = split(w.outputs());
    assert!(
        sent.iter()
            .any(|(a, m)| *a == addr(PHONE2) && m.method() == "BYE")
    );
    assert!(!sent.iter().any(|(a, _)| *a == addr(PHONE)));
}

#[test]
fn a_consultation_called_off_or_hung_up_brings_the_caller_back() {
    let mut w = world();
    let bob: AgentId = BOB.parse().unwrap();
    register_phone(&mut w, Algorithm::Md5);
    register_bob(&mut w);
    let (call, contact, alice_leg) = talking(&mut w, "call-c2@carrier");
    assert_eq!(
        w.sw.finish_consult(w.now, contact, false),
        Err(ConsultError::NoConsultation)
    );

    // Called off while ringing: CANCEL, and the caller is back.
    w.sw.consult(w.now, contact, bob, 30_404).unwrap();
    let (sent, _) = split(w.outputs());
    let inv = sent[0].1.clone();
    w.sw.receive(
        w.now,
        addr(PHONE2),
        &inv.reply(180, "Ringing", Some("bob-tag")).to_bytes(),
    );
    assert_eq!(w.sw.finish_consult(w.now, contact, false), Ok(bob));
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "CANCEL");
    assert!(outs.contains(&Output::Media(Media::Bridge { call })));
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::ConsultEnded { .. }))
    );

    // Rings too long: given up the same way.
    w.sw.consult(w.now, contact, bob, 30_404).unwrap();
    let (sent, _) = split(w.outputs());
    w.sw.receive(
        w.now,
        addr(PHONE2),
        &sent[0].1.reply(180, "Ringing", Some("b2")).to_bytes(),
    );
    w.now += sb_sip::switch::CONSULT_RING_MS;
    w.sw.handle_timeout(w.now);
    let (sent, outs) = split(w.outputs());
    assert_eq!(sent[0].1.method(), "CANCEL");
    assert!(outs.iter().any(
        |o| matches!(o, Output::ConsultEnded { why, .. } if why == "the other agent did not answer")
    ));

    // Answered, then the consulted agent hangs up: the caller is back.
    w.sw.consult(w.now, contact, bob, 30_404).unwrap();
    let (sent, _) = split(w.outputs());
    let inv = sent[0].1.clone();
    bob_answers(&mut w, &inv);
    let bye = format!(
        "BYE sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {PHONE2};branch=z9hG4bKbb1
From: <sip:bob@{PHONE2}>;tag=bob-tag
To: {}
Call-ID: {}
CSeq: 5 BYE
Content-Length: 0

",
        inv.header("From").unwrap(),
        inv.call_id().unwrap()
    );
    let (sent, outs) = w.send(PHONE2, &bye);
    assert_eq!(sent[0].1.code(), Some(200));
    assert!(outs.contains(&Output::Media(Media::ConsultStop { call })));
    assert!(outs.contains(&Output::Media(Media::Bridge { call })));

    // Answered, then the agent's own phone hangs up: handed over.
    w.sw.consult(w.now, contact, bob, 30_404).unwrap();
    let (sent, _) = split(w.outputs());
    bob_answers(&mut w, &sent[0].1.clone());
    let bye = format!(
        "BYE sip:switchboard@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKab1
From: <sip:alice@{PHONE}>;tag=alice-tag
To: <sip:x@192.0.2.10>
Call-ID: {}
CSeq: 9 BYE
Content-Length: 0

",
        alice_leg
    );
    let (sent, outs) = w.send(PHONE, &bye);
    assert_eq!(sent[0].1.code(), Some(200));
    assert!(
        outs.contains(&Output::ConsultCompleted {
            call,
            tenant: w.tenant,
            contact,
            agent: bob
        }),
        "{outs:?}"
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::Ended { .. })));
}

#[test]
fn the_switch_registers_with_a_carrier_that_then_may_call_in() {
    let mut w = world_with(true);
    // Before registering, the carrier's address is no trunk: refused.
    let from_carrier = invite("z9hG4bKcr0", "call-r0@carrier").replace(TRUNK, CARRIER);
    let (sent, _) = w.send(CARRIER, &from_carrier);
    assert_eq!(sent[0].1.code(), Some(403));
    w.sw.handle_timeout(w.now);
    let (sent, _) = split(w.outputs());
    let (to, reg) = sent[0].clone();
    assert_eq!(
        (to, reg.method(), reg.uri()),
        (addr(CARRIER), "REGISTER", "sip:carrier.example")
    );
    assert_eq!(reg.header("Expires"), Some("600"));
    assert!(
        reg.header("Contact")
            .unwrap()
            .contains("acme@192.0.2.10:5060")
    );
    // Unanswered: sent again after T1.
    w.now += 500;
    w.sw.handle_timeout(w.now);
    let (sent, _) = split(w.outputs());
    assert_eq!(sent[0].1.cseq(), Some((1, "REGISTER")));
    // Challenged: asked again with credentials that verify.
    let mut ch = reg.reply(401, "Unauthorized", Some("x"));
    ch.push(
        "WWW-Authenticate",
        "Digest realm=\"carrier.example\", nonce=\"rn\", algorithm=SHA-256",
    );
    w.sw.receive(w.now, addr(CARRIER), &ch.to_bytes());
    let (sent, _) = split(w.outputs());
    let again = sent[0].1.clone();
    assert_eq!(again.cseq(), Some((2, "REGISTER")));
    let auth = digest::Authorization::parse(again.header("Authorization").unwrap()).unwrap();
    assert!(auth.verify(
        "REGISTER",
        &digest::ha1(Algorithm::Sha256, "acme", "carrier.example", "trunk-pass")
    ));
    // Accepted for 120 s: registered, and renewed halfway.
    let mut ok = again.reply(200, "OK", Some("x"));
    ok.push("Contact", "<sip:acme@192.0.2.10:5060>;expires=120");
    w.sw.receive(w.now, addr(CARRIER), &ok.to_bytes());
    let (_, outs) = split(w.outputs());
    assert_eq!(
        outs,
        vec![Output::CarrierRegistered {
            tenant: w.tenant,
            registered: true,
            detail: "registered".into()
        }]
    );
    assert!(w.sw.carrier_registered(w.tenant));
    // Now the carrier's calls are taken.
    let (_, outs) = w.send(
        CARRIER,
        &from_carrier
            .replace("z9hG4bKcr0", "z9hG4bKcr1")
            .replace("call-r0", "call-r1"),
    );
    assert!(matches!(outs[0], Output::Incoming { .. }), "{outs:?}");
    w.now += 60_000;
    w.sw.handle_timeout(w.now);
    let (sent, _) = split(w.outputs());
    let renew = sent.iter().find(|(_, m)| m.method() == "REGISTER").unwrap();
    assert_eq!(renew.1.cseq(), Some((3, "REGISTER")));
    // Refused: not registered, tried again a minute later.
    w.sw.receive(
        w.now,
        addr(CARRIER),
        &renew.1.reply(403, "Forbidden", Some("x")).to_bytes(),
    );
    let (_, outs) = split(w.outputs());
    assert_eq!(
        outs,
        vec![Output::CarrierRegistered {
            tenant: w.tenant,
            registered: false,
            detail: "the carrier answered 403".into()
        }]
    );
    assert!(!w.sw.carrier_registered(w.tenant));
    w.now += sb_sip::switch::CARRIER_RETRY_MS;
    w.sw.handle_timeout(w.now);
    let (sent, _) = split(w.outputs());
    assert!(sent.iter().any(|(_, m)| m.method() == "REGISTER"));
}
