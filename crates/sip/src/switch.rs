//! Call control: the SIP server Switchboard is to trunks and agents' phones,
//! as a sans-IO state machine.
//!
//! The shell feeds it datagrams ([`Switch::receive`]), what the routing
//! engine decided ([`Switch::ring`], [`Switch::reservation_ended`]), what it
//! did with a new call ([`Switch::call_queued`], [`Switch::call_refused`]),
//! and the time ([`Switch::handle_timeout`] at [`Switch::poll_timeout`]);
//! it drains [`Switch::poll_output`] for datagrams to send, media to set up
//! and contacts to create, accept, abandon or complete. It never reads a
//! clock, a socket or a random source: time is an argument, and what must
//! be unguessable (tags, nonces) derives from the secret it is given.
//!
//! UDP transactions follow RFC 3261 section 17: a 2xx or failure to an
//! INVITE is sent again (T1 doubling to T2) until the ACK comes or 64×T1
//! passes; INVITE, BYE and CANCEL requests are sent again until answered;
//! a retransmitted request is answered with the same response.

use std::collections::{BTreeMap, VecDeque};

use core::net::{IpAddr, SocketAddr};
use rustc_hash::FxHashMap as HashMap;

use sb_model::{AgentId, BusinessHoursId, ContactId, QueueId, TenantId};

use crate::digest::{self, Algorithm, Authorization, NonceState};
use crate::msg::{Message, NameAddr, Uri};
use crate::sdp::{self, Codec, Direction};

/// RFC 3261 timer T1 (round-trip estimate), T2 (cap on retransmit intervals).
pub const T1_MS: i64 = 500;
pub const T2_MS: i64 = 4_000;
/// Timers B, F, H: how long a transaction is tried.
pub const TXN_MS: i64 = 64 * T1_MS;
/// Registrations last at most this long, and at least `MIN_EXPIRES_S`.
pub const MAX_EXPIRES_S: i64 = 3_600;
pub const MIN_EXPIRES_S: i64 = 60;
/// Failed authentications from one address within `FAIL_WINDOW_MS` before
/// it is refused for `BLOCK_MS`.
pub const MAX_FAILURES: u32 = 5;
pub const FAIL_WINDOW_MS: i64 = 60_000;
pub const BLOCK_MS: i64 = 300_000;
/// The most calls in progress at once.
pub const MAX_CALLS: usize = 10_000;
/// Requests outside any call (OPTIONS, REGISTER, new INVITEs) one address
/// that is no trunk may send per second before the rest of that second is
/// dropped: a scanner's flood costs little and cannot crowd out calls in
/// progress. Trunks' addresses are not limited (their calls per second are
/// the centre's traffic).
pub const MAX_NEW_PER_SECOND: u32 = 50;

const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, REFER, NOTIFY";

/// Fixed facts about this server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where peers reach this server's SIP (Via, Contact).
    pub sip_addr: SocketAddr,
    /// The address put in SDP for media.
    pub media_ip: IpAddr,
    /// The digest realm.
    pub realm: String,
    /// Keys nonces; at least 16 random bytes.
    pub secret: Vec<u8>,
    /// Makes tags, branches and Call-IDs unique to this run (random).
    pub instance: String,
    pub user_agent: String,
}

/// Where a dialled number goes: a queue, or a menu first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRoute {
    pub tenant: TenantId,
    /// The queue when there is no menu, or no key is pressed in time.
    pub queue: QueueId,
    pub menu: Option<Menu>,
}

/// An IVR menu: a greeting, keys to queues, and what callers hear out of
/// hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// The greeting's prompt name (the shell plays it).
    pub prompt: Option<String>,
    /// Keys (`0`–`9`, `*`, `#`) to queues.
    pub options: BTreeMap<char, QueueId>,
    /// How long after the greeting a key is waited for.
    pub timeout_ms: i64,
    /// Hours the menu is open; out of them callers hear `closed_prompt`
    /// and are hung up.
    pub hours: Option<BusinessHoursId>,
    pub closed_prompt: Option<String>,
}

/// A carrier trunk: the addresses a tenant's calls may come from.
#[derive(Debug, Clone)]
pub struct Trunk {
    pub tenant: TenantId,
    pub sources: Vec<ipnet::IpNet>,
}

/// An agent's phone credentials (hashes only).
#[derive(Debug, Clone)]
pub struct Phone {
    pub tenant: TenantId,
    pub agent: AgentId,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// Where a tenant's outbound calls go: a carrier trunk that takes them,
/// and how to answer its challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier {
    pub addr: SocketAddr,
    /// The host named in request URIs (`sip:+61290000000@host`).
    pub domain: String,
    /// Digest credentials, for a carrier that challenges.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The number the called party sees.
    pub caller_id: String,
    /// Register with the carrier (as `username`), which then sends the
    /// tenant's calls from `addr` and takes them from there.
    pub register: bool,
}

/// How long our registration with a carrier asks to last.
pub const CARRIER_EXPIRES_S: i64 = 600;
/// How soon a failed registration is tried again.
pub const CARRIER_RETRY_MS: i64 = 60_000;

/// Our registration with a tenant's carrier.
#[derive(Debug)]
struct CarrierReg {
    call_id: String,
    tag: String,
    cseq: u32,
    /// The REGISTER in flight, sent again until answered.
    pending: Option<(Vec<u8>, Resend)>,
    auth_tried: bool,
    registered: bool,
    /// When to register (again).
    next_at: i64,
}

/// The configuration the switch acts on, reloaded by the shell.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Dialled numbers (E.164, with `+`).
    pub numbers: HashMap<String, NumberRoute>,
    pub trunks: Vec<Trunk>,
    /// By SIP username.
    pub phones: HashMap<String, Phone>,
    /// Each tenant's outbound trunk.
    pub carriers: HashMap<TenantId, Carrier>,
}

/// An outbound call to make for a reservation: the agent's phone rings
/// first; when it answers, the number is called through the tenant's
/// carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub queue: QueueId,
    pub reservation: u64,
    pub agent: AgentId,
    /// The number to call (digits, `+` first for E.164).
    pub number: String,
}

/// Why an outbound call cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    #[error("the agent's phone is not registered")]
    NotRegistered,
    #[error("the tenant has no trunk for outbound calls")]
    NoCarrier,
    #[error("the contact is already a call")]
    InCall,
    #[error("the number must be 3 to 20 digits, with an optional leading +")]
    BadNumber,
    #[error("too many calls")]
    TooMany,
}

/// How long a called party may ring before the call is given up.
pub const DIAL_RING_MS: i64 = 60_000;

/// A call this switch handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallRef(pub u64);

/// Where a call was when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not yet given to an agent: the caller abandoned.
    Waiting,
    /// Talking to an agent: the conversation is over.
    Talking,
    /// The caller took a callback and keeps their place: not abandoned.
    CallbackKept,
    /// An outbound call the agent's phone never answered: the contact
    /// stays where it was.
    Unanswered,
}

/// Which side ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Caller,
    Agent,
    /// The switch (an unanswered 2xx, an API hang-up).
    Switch,
}

/// How a team leader monitors a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// The team leader hears both; nobody hears the team leader.
    Listen,
    /// The agent hears the team leader too; the caller does not.
    Whisper,
    /// All three hear each other.
    Barge,
}

/// Why a call cannot be monitored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    #[error("the contact is not a call in progress with an agent")]
    NotTalking,
    #[error("the team leader's phone is not registered")]
    NotRegistered,
    #[error("someone else is monitoring the call")]
    Busy,
}

/// Why a consultation cannot start or end as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsultError {
    #[error("the contact is not a call in progress with an agent")]
    NotTalking,
    #[error("the other agent's phone is not registered")]
    NotRegistered,
    #[error("a consultation or monitoring is already under way on the call")]
    Busy,
    #[error("the other agent has not answered yet")]
    NotAnswered,
    #[error("no consultation is under way on the call")]
    NoConsultation,
}

/// How long a consulted agent's phone may ring.
pub const CONSULT_RING_MS: i64 = 30_000;

/// Which of a call's outgoing legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Agent,
    Monitor,
    /// The called party of an outbound call, until it answers.
    Far,
    /// Another agent the agent consults before handing the call over.
    Consult,
}

/// What the media shell should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// The caller's stream: our `port`, their address, the codec.
    /// `signal` is where the caller's signalling comes from: media may
    /// come from there or from `remote`'s address.
    Caller {
        call: CallRef,
        port: u16,
        remote: SocketAddr,
        signal: IpAddr,
        codec: Codec,
        events: Option<u8>,
    },
    /// The agent's stream.
    Agent {
        call: CallRef,
        port: u16,
        remote: SocketAddr,
        signal: IpAddr,
    },
    /// The caller hears music on hold.
    Hold { call: CallRef },
    /// The caller hears a prompt once; the shell says when it has ended
    /// ([`Switch::prompt_done`]).
    Play {
        call: CallRef,
        tenant: TenantId,
        prompt: String,
    },
    /// Caller and agent hear each other; the call is recorded.
    Bridge { call: CallRef },
    /// A team leader's phone answered: send it the call as `mode` says.
    Monitor {
        call: CallRef,
        port: u16,
        remote: SocketAddr,
        signal: IpAddr,
        mode: MonitorMode,
    },
    /// The consulted agent's phone answered: the agent and they talk,
    /// the caller hears music.
    Consult {
        call: CallRef,
        port: u16,
        remote: SocketAddr,
        signal: IpAddr,
    },
    /// The consultation ended: its leg goes.
    ConsultStop { call: CallRef },
    /// The consulted agent takes the call: their leg becomes the agent's.
    ConsultComplete { call: CallRef },
    /// The team leader changes how they monitor.
    MonitorMode { call: CallRef, mode: MonitorMode },
    /// The team leader's leg ends.
    MonitorStop { call: CallRef },
    /// The call's media ends.
    Stop { call: CallRef },
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send {
        to: SocketAddr,
        data: Vec<u8>,
    },
    /// A call arrived for a tenant's number: open a media port, say
    /// whether `hours` (if any) are open now, and call [`Switch::accept`].
    Incoming {
        call: CallRef,
        tenant: TenantId,
        hours: Option<BusinessHoursId>,
    },
    /// The call is answered and goes to a queue: create its contact, then
    /// call [`Switch::call_queued`] (or [`Switch::call_refused`]).
    NewCall {
        call: CallRef,
        tenant: TenantId,
        queue: QueueId,
        from: String,
        to: String,
        /// The menu key the caller pressed, if any.
        choice: Option<char>,
    },
    Media(Media),
    /// The agent's phone answered: accept the reservation.
    AgentAnswered {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        reservation: u64,
    },
    /// The agent's phone is not registered, was busy or declined: reject the
    /// reservation.
    AgentDeclined {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        reservation: u64,
        why: String,
    },
    /// The call is over.
    Ended {
        call: CallRef,
        tenant: TenantId,
        contact: Option<ContactId>,
        stage: Stage,
        by: EndedBy,
    },
    /// The caller pressed 1 after a callback offer: book it (the contact
    /// keeps its place), then call [`Switch::callback_booked`].
    CallbackRequested {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
    },
    /// The agent's phone asked to transfer the caller (a blind transfer,
    /// REFER): to a number's queue, or to the agent whose phone was named
    /// (in the contact's queue). Do it, then call
    /// [`Switch::transfer_outcome`].
    TransferRequested {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        queue: Option<QueueId>,
        agent: Option<AgentId>,
    },
    /// The called party of an outbound call answered: talking starts.
    Connected {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
    },
    /// The called party of an outbound call could not be reached (busy,
    /// no answer, refused); the call then ends.
    DialFailed {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        code: u16,
        reason: String,
    },
    /// The consulted agent answered.
    ConsultAnswered {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        agent: AgentId,
    },
    /// The consultation ended without a handover; the caller is back with
    /// the agent.
    ConsultEnded {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        why: String,
    },
    /// The consulted agent took the call (an attended transfer): move the
    /// contact to them, in its queue; the reservation that makes is taken
    /// by the call already in progress ([`Switch::ring`]).
    ConsultCompleted {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        agent: AgentId,
    },
    /// A team leader's monitoring leg ended (or never started).
    MonitorEnded {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        why: String,
    },
    /// The agent put the caller on hold (`held`) or took them off it.
    Held {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
        held: bool,
    },
    /// Our registration with a tenant's carrier succeeded, or failed
    /// (`detail` says why); it is kept up by itself.
    CarrierRegistered {
        tenant: TenantId,
        registered: bool,
        detail: String,
    },
    /// A phone registered (`true`) or unregistered.
    Registered {
        tenant: TenantId,
        agent: AgentId,
        registered: bool,
    },
    /// Something hostile or broken, for the log and metrics.
    Refused {
        from: SocketAddr,
        what: &'static str,
        detail: String,
    },
}

#[derive(Debug, Clone)]
struct Registration {
    username: String,
    contact: String,
    addr: SocketAddr,
    expires_at: i64,
}

#[derive(Debug, Clone, Copy)]
struct Resend {
    at: i64,
    interval: i64,
    deadline: i64,
}

impl Resend {
    fn new(now: i64) -> Resend {
        Resend {
            at: now + T1_MS,
            interval: T1_MS,
            deadline: now + TXN_MS,
        }
    }

    fn bump(&mut self, now: i64, cap: i64) {
        self.interval = (self.interval * 2).min(cap);
        self.at = now + self.interval;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not answered yet: waiting for the shell's media port.
    Offered,
    /// Answered, in the menu (`deadline`: when the default applies).
    Menu,
    /// Answered out of hours: the closed prompt plays, then the call ends.
    Closing,
    /// Answered, waiting for the shell to create the contact.
    Setup,
    Queued,
    Ringing,
    /// Outbound: the agent's phone rings.
    Dialling,
    /// Outbound: the agent answered; the called party rings.
    Connecting,
    Talking,
    /// Over; kept until a final response is acknowledged.
    Ended,
}

#[derive(Debug)]
struct CallerLeg {
    call_id: String,
    invite: Message,
    invite_branch: String,
    local_tag: String,
    target: String,
    signal: SocketAddr,
    route: Vec<String>,
    cseq: u32,
    final_response: Option<Vec<u8>>,
    resend: Option<Resend>,
    media_port: u16,
    remote_rtp: SocketAddr,
    codec: Codec,
    events: Option<u8>,
    sdp_version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentState {
    Calling,
    Proceeding,
    Answered,
    Cancelling,
}

#[derive(Debug)]
struct AgentLeg {
    reservation: u64,
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    to: String,
    target: String,
    signal: SocketAddr,
    branch: String,
    invite: Vec<u8>,
    state: AgentState,
    resend: Option<Resend>,
    cseq: u32,
    media_port: u16,
    /// The phone put the call on hold (re-INVITE with sendonly or inactive).
    held: bool,
    /// Who the leg's requests come from (the user part of From).
    from_user: String,
}

/// A request we sent outside an INVITE (BYE, CANCEL), tried until answered.
#[derive(Debug)]
struct Pending {
    call_id: String,
    cseq: (u32, String),
    to: SocketAddr,
    data: Vec<u8>,
    resend: Resend,
}

#[derive(Debug)]
struct Call {
    tenant: TenantId,
    contact: Option<ContactId>,
    state: State,
    route: NumberRoute,
    from_number: String,
    to_number: String,
    /// When the menu stops waiting for a key.
    menu_deadline: Option<i64>,
    /// While queued: a prompt interrupts the music; a callback was offered
    /// (key 1 confirms it; hanging up keeps it too); it was asked for; it is
    /// booked (the call ends after its prompt).
    queue_prompt: bool,
    /// The agent's phone asked for a transfer; it is told how it went.
    refer_pending: bool,
    callback_offered: bool,
    callback_asked: bool,
    callback_booked: bool,
    caller: CallerLeg,
    agent: Option<AgentLeg>,
    /// A team leader's phone listening in, how, and whose it is.
    monitor: Option<(AgentLeg, MonitorMode, AgentId)>,
    /// Outbound: the called party while it rings (the caller leg stands
    /// in for it until it answers).
    far: Option<AgentLeg>,
    /// Outbound: credentials were sent once; when ringing is given up.
    outbound: Option<Outbound>,
    /// Another agent consulted, until the call is handed over or not.
    consult: Option<Consult>,
    /// Handed over to this agent: the reservation the transfer makes for
    /// them is taken by the call in progress.
    adopting: Option<AgentId>,
}

#[derive(Debug)]
struct Consult {
    leg: AgentLeg,
    agent: AgentId,
    /// When its ringing is given up.
    until: i64,
}

#[derive(Debug, Clone, Copy)]
struct Outbound {
    auth_tried: bool,
    give_up_at: Option<i64>,
}

impl Call {
    fn leg(&mut self, which: Which) -> Option<&mut AgentLeg> {
        match which {
            Which::Agent => self.agent.as_mut(),
            Which::Monitor => self.monitor.as_mut().map(|(l, _, _)| l),
            Which::Far => self.far.as_mut(),
            Which::Consult => self.consult.as_mut().map(|c| &mut c.leg),
        }
    }

    fn leg_ref(&self, which: Which) -> Option<&AgentLeg> {
        match which {
            Which::Agent => self.agent.as_ref(),
            Which::Monitor => self.monitor.as_ref().map(|(l, _, _)| l),
            Which::Far => self.far.as_ref(),
            Which::Consult => self.consult.as_ref().map(|c| &c.leg),
        }
    }
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    since: i64,
    blocked_until: i64,
}

/// The SIP server's state. See the module docs.
pub struct Switch {
    cfg: Config,
    dir: Directory,
    counter: u64,
    calls: BTreeMap<CallRef, Call>,
    /// Call-ID → call (both legs).
    dialogs: HashMap<String, CallRef>,
    by_contact: HashMap<ContactId, CallRef>,
    registrations: HashMap<(TenantId, AgentId), Registration>,
    /// Responses to non-INVITE requests, by (branch, method), kept to
    /// answer retransmissions.
    answered: HashMap<(String, String), (SocketAddr, Vec<u8>, i64)>,
    pending: Vec<Pending>,
    failures: HashMap<IpAddr, Failures>,
    /// Requests outside calls per address in the current second.
    rates: HashMap<IpAddr, (i64, u32)>,
    /// Peers connected over TCP.
    tcp_peers: std::collections::BTreeSet<SocketAddr>,
    /// Our registrations with carriers, by tenant.
    carrier_regs: HashMap<TenantId, CarrierReg>,
    out: VecDeque<Output>,
}

impl Switch {
    pub fn new(cfg: Config, dir: Directory) -> Switch {
        let mut sw = Switch {
            cfg,
            dir: Directory::default(),
            counter: 0,
            calls: BTreeMap::new(),
            dialogs: HashMap::default(),
            by_contact: HashMap::default(),
            registrations: HashMap::default(),
            answered: HashMap::default(),
            pending: Vec::new(),
            failures: HashMap::default(),
            rates: HashMap::default(),
            tcp_peers: std::collections::BTreeSet::new(),
            carrier_regs: HashMap::default(),
            out: VecDeque::new(),
        };
        sw.set_directory(dir);
        sw
    }

    /// Replaces the directory (numbers, trunks, phones). Registrations of
    /// phones whose credentials were removed are dropped.
    pub fn set_directory(&mut self, dir: Directory) {
        self.registrations.retain(|(t, a), r| {
            dir.phones
                .get(&r.username)
                .is_some_and(|p| p.tenant == *t && p.agent == *a)
        });
        // Registrations with carriers follow the carriers: new ones are
        // made at once, changed ones again.
        let before = std::mem::take(&mut self.dir.carriers);
        self.carrier_regs.retain(|t, _| {
            dir.carriers.get(t).is_some_and(|c| c.register) && before.get(t) == dir.carriers.get(t)
        });
        for (t, c) in &dir.carriers {
            if c.register && !self.carrier_regs.contains_key(t) {
                let reg = CarrierReg {
                    call_id: format!("{}-reg@switchboard", self.unique()),
                    tag: self.unique(),
                    cseq: 0,
                    pending: None,
                    auth_tried: false,
                    registered: false,
                    next_at: 0,
                };
                self.carrier_regs.insert(*t, reg);
            }
        }
        self.dir = dir;
    }

    /// Whether `ip` is the tenant's carrier and we are registered with it.
    fn registered_carrier(&self, tenant: TenantId, ip: IpAddr) -> bool {
        self.carrier_registered(tenant)
            && self
                .dir
                .carriers
                .get(&tenant)
                .is_some_and(|c| c.addr.ip() == ip)
    }

    /// Whether our registration with the tenant's carrier stands.
    pub fn carrier_registered(&self, tenant: TenantId) -> bool {
        self.carrier_regs.get(&tenant).is_some_and(|r| r.registered)
    }

    /// Sends a REGISTER to the tenant's carrier, with credentials when
    /// answering a challenge.
    fn register_with_carrier(&mut self, now: i64, tenant: TenantId, auth: Option<(&str, String)>) {
        let Some(c) = self.dir.carriers.get(&tenant).cloned() else {
            return;
        };
        let branch = format!("z9hG4bK{}", self.unique());
        let via = self.via(&branch, c.addr);
        let ua = self.cfg.user_agent.clone();
        let contact_host = self.cfg.sip_addr;
        let Some(r) = self.carrier_regs.get_mut(&tenant) else {
            return;
        };
        let user = c.username.clone().unwrap_or_default();
        r.cseq += 1;
        let mut m = Message::request("REGISTER", &format!("sip:{}", c.domain));
        m.push("Via", via);
        m.push("Max-Forwards", "70");
        m.push("From", format!("<sip:{user}@{}>;tag={}", c.domain, r.tag));
        m.push("To", format!("<sip:{user}@{}>", c.domain));
        m.push("Call-ID", r.call_id.clone());
        m.push("CSeq", format!("{} REGISTER", r.cseq));
        m.push("Contact", format!("<sip:{user}@{contact_host}>"));
        m.push("Expires", CARRIER_EXPIRES_S.to_string());
        m.push("User-Agent", ua);
        if let Some((h, v)) = auth {
            m.push(h, v);
        }
        let data = m.to_bytes();
        r.pending = Some((data.clone(), Resend::new(now)));
        self.out.push_back(Output::Send { to: c.addr, data });
    }

    /// The carrier's answer to our REGISTER.
    fn carrier_response(
        &mut self,
        now: i64,
        from: SocketAddr,
        resp: &Message,
        code: u16,
        cseq: u32,
    ) {
        let call_id = resp.call_id().unwrap_or_default();
        let Some((&tenant, r)) = self
            .carrier_regs
            .iter_mut()
            .find(|(_, r)| r.call_id == call_id && r.cseq == cseq)
        else {
            return;
        };
        let Some(c) = self.dir.carriers.get(&tenant).cloned() else {
            return;
        };
        if c.addr.ip() != from.ip() {
            return;
        }
        if code < 200 {
            if let Some((_, rs)) = &mut r.pending {
                rs.interval = T2_MS;
                rs.at = now + T2_MS;
            }
            return;
        }
        r.pending = None;
        let was = r.registered;
        let (registered, detail) = match code {
            200..=299 => {
                r.auth_tried = false;
                // What the carrier granted: the Contact's expires, else Expires.
                let granted = resp
                    .header_all("Contact")
                    .iter()
                    .filter_map(|v| NameAddr::parse(v))
                    .find_map(|a| a.param("expires").and_then(|e| e.parse::<i64>().ok()))
                    .or_else(|| resp.header("Expires").and_then(|e| e.trim().parse().ok()))
                    .unwrap_or(CARRIER_EXPIRES_S)
                    .clamp(60, MAX_EXPIRES_S);
                r.next_at = now + granted * 500;
                r.registered = true;
                (true, "registered".to_string())
            }
            401 | 407 if !r.auth_tried => {
                let (header, answer) = challenge_headers(code);
                r.auth_tried = true;
                let cnonce = self.unique();
                let value = resp
                    .header(header)
                    .and_then(digest::Challenge::parse)
                    .and_then(|ch| {
                        ch.answer(
                            "REGISTER",
                            &format!("sip:{}", c.domain),
                            c.username.as_deref()?,
                            c.password.as_deref().unwrap_or_default(),
                            &cnonce,
                        )
                    });
                if let Some(v) = value {
                    self.register_with_carrier(now, tenant, Some((answer, v)));
                    return;
                }
                self.carrier_failed(
                    now,
                    tenant,
                    "the carrier's challenge cannot be answered".into(),
                );
                return;
            }
            _ => {
                self.carrier_failed(now, tenant, format!("the carrier answered {code}"));
                return;
            }
        };
        if !was {
            self.out.push_back(Output::CarrierRegistered {
                tenant,
                registered,
                detail,
            });
        }
    }

    fn carrier_failed(&mut self, now: i64, tenant: TenantId, detail: String) {
        let Some(r) = self.carrier_regs.get_mut(&tenant) else {
            return;
        };
        r.pending = None;
        r.auth_tried = false;
        r.registered = false;
        r.next_at = now + CARRIER_RETRY_MS;
        self.out.push_back(Output::CarrierRegistered {
            tenant,
            registered: false,
            detail,
        });
    }

    /// Registrations with carriers that are due, or whose REGISTER went
    /// unanswered.
    fn carrier_timers(&mut self, now: i64) {
        let tenants: Vec<TenantId> = self.carrier_regs.keys().copied().collect();
        for t in tenants {
            let Some(r) = self.carrier_regs.get_mut(&t) else {
                continue;
            };
            match &mut r.pending {
                Some((data, rs)) if rs.at <= now => {
                    if now >= rs.deadline {
                        self.carrier_failed(now, t, "the carrier did not answer".into());
                    } else {
                        rs.bump(now, T2_MS);
                        let data = data.clone();
                        if let Some(c) = self.dir.carriers.get(&t) {
                            let to = c.addr;
                            self.out.push_back(Output::Send { to, data });
                        }
                    }
                }
                None if r.next_at <= now => {
                    r.auth_tried = false;
                    self.register_with_carrier(now, t, None);
                }
                _ => {}
            }
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Calls in progress.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Whether an agent's phone is registered at `now`.
    pub fn is_registered(&self, tenant: TenantId, agent: AgentId, now: i64) -> bool {
        self.registrations
            .get(&(tenant, agent))
            .is_some_and(|r| r.expires_at > now)
    }

    /// The call a contact is on.
    pub fn call_of(&self, contact: ContactId) -> Option<CallRef> {
        self.by_contact.get(&contact).copied()
    }

    fn unique(&mut self) -> String {
        self.counter += 1;
        format!("{}{:x}", self.cfg.instance, self.counter)
    }

    fn send(&mut self, to: SocketAddr, m: &Message) -> Vec<u8> {
        let data = m.to_bytes();
        self.out.push_back(Output::Send {
            to,
            data: data.clone(),
        });
        data
    }

    fn refused(&mut self, from: SocketAddr, what: &'static str, detail: impl Into<String>) {
        self.out.push_back(Output::Refused {
            from,
            what,
            detail: detail.into(),
        });
    }

    fn our_uri(&self) -> String {
        format!("sip:switchboard@{}", self.cfg.sip_addr)
    }

    /// Our Via for a request to `to`: TCP when that peer is connected over
    /// TCP, else UDP.
    fn via(&self, branch: &str, to: SocketAddr) -> String {
        let transport = if self.tcp_peers.contains(&to) {
            "TCP"
        } else {
            "UDP"
        };
        format!(
            "SIP/2.0/{transport} {};branch={branch};rport",
            self.cfg.sip_addr
        )
    }

    /// A message that arrived over a TCP connection from `from` (framed by
    /// the shell with [`Message::parse`] in stream mode). Requests to that
    /// peer then say TCP in their Via, and the shell sends them down the
    /// connection.
    pub fn receive_stream(&mut self, now: i64, from: SocketAddr, bytes: &[u8]) {
        self.tcp_peers.insert(from);
        self.receive(now, from, bytes);
    }

    /// A TCP connection closed.
    pub fn connection_closed(&mut self, from: SocketAddr) {
        self.tcp_peers.remove(&from);
    }

    /// Answers a non-INVITE request and remembers the answer.
    fn answer(&mut self, now: i64, to: SocketAddr, req: &Message, resp: Message) {
        let data = self.send(to, &resp);
        if let Some(branch) = req.via().and_then(|v| v.branch().map(str::to_string)) {
            self.answered
                .insert((branch, req.method().to_string()), (to, data, now + TXN_MS));
        }
    }

    fn reply(&mut self, now: i64, to: SocketAddr, req: &Message, code: u16, reason: &str) {
        let tag = self.unique();
        let mut r = req.reply(code, reason, Some(&tag));
        r.push("Server", self.cfg.user_agent.clone());
        if code == 405 {
            r.push("Allow", ALLOW);
        }
        self.answer(now, to, req, r);
    }

    /// A datagram from the network.
    pub fn receive(&mut self, now: i64, from: SocketAddr, bytes: &[u8]) {
        let msg = match Message::parse(bytes, false) {
            Ok((m, _)) => m,
            Err(e) => {
                // Nothing trustworthy to answer to: dropped, and said.
                if !bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    self.refused(from, "malformed", e.to_string());
                }
                return;
            }
        };
        if msg.is_request() {
            self.request(now, from, msg);
        } else {
            self.response(now, from, msg);
        }
    }

    fn request(&mut self, now: i64, from: SocketAddr, req: Message) {
        let Some(via) = req.via() else {
            self.refused(from, "malformed", "no usable Via");
            return;
        };
        let Some(branch) = via.branch().map(str::to_string) else {
            self.refused(from, "malformed", "Via has no branch");
            return;
        };
        let method = req.method().to_string();
        let in_call = req.call_id().is_some_and(|c| self.dialogs.contains_key(c));
        let trunk = self
            .dir
            .trunks
            .iter()
            .any(|t| t.sources.iter().any(|n| n.contains(&from.ip())))
            || self
                .carrier_regs
                .iter()
                .any(|(t, _)| self.registered_carrier(*t, from.ip()));
        if !in_call && !trunk && method != "ACK" {
            let second = now.div_euclid(1000);
            let r = self.rates.entry(from.ip()).or_insert((second, 0));
            if r.0 != second {
                *r = (second, 0);
            }
            r.1 += 1;
            if r.1 > MAX_NEW_PER_SECOND {
                if r.1 == MAX_NEW_PER_SECOND + 1 {
                    self.refused(
                        from,
                        "flood",
                        format!("more than {MAX_NEW_PER_SECOND} requests a second"),
                    );
                }
                return;
            }
        }
        if method != "ACK"
            && let Some((_, data, _)) = self.answered.get(&(branch.clone(), method.clone()))
        {
            let data = data.clone();
            self.out.push_back(Output::Send { to: from, data });
            return;
        }
        let well_formed = req.from_addr().is_some()
            && req.to_addr().is_some()
            && req.call_id().is_some_and(|c| !c.is_empty())
            && req.cseq().is_some_and(|(_, m)| m == method);
        if !well_formed {
            self.reply(now, from, &req, 400, "Bad Request");
            self.refused(
                from,
                "malformed",
                "From, To, Call-ID or CSeq missing or wrong",
            );
            return;
        }
        if req.header("Max-Forwards").is_some_and(|v| v.trim() == "0") {
            self.reply(now, from, &req, 483, "Too Many Hops");
            return;
        }
        match method.as_str() {
            "REGISTER" => self.register(now, from, &req),
            "OPTIONS" => {
                let tag = self.unique();
                let mut r = req.reply(200, "OK", Some(&tag));
                r.push("Allow", ALLOW);
                r.push("Accept", "application/sdp");
                r.push("Server", self.cfg.user_agent.clone());
                self.answer(now, from, &req, r);
            }
            "INVITE" => self.invite(now, from, req, branch),
            "ACK" => self.ack(&req),
            "BYE" => self.bye(now, from, &req),
            "CANCEL" => self.cancel(now, from, &req, &branch),
            "REFER" => self.refer(now, from, &req),
            "NOTIFY" => {
                let known = req.call_id().is_some_and(|c| self.dialogs.contains_key(c));
                if known {
                    self.reply(now, from, &req, 200, "OK");
                } else {
                    self.reply(now, from, &req, 481, "Call/Transaction Does Not Exist");
                }
            }
            "INFO" => {
                let call = req.call_id().and_then(|c| self.dialogs.get(c)).copied();
                if let Some(call) = call {
                    self.reply(now, from, &req, 200, "OK");
                    let key = crate::dtmf::from_info(
                        req.header("Content-Type").unwrap_or_default(),
                        &req.body,
                    );
                    let from_caller = self
                        .calls
                        .get(&call)
                        .is_some_and(|c| Some(c.caller.call_id.as_str()) == req.call_id());
                    if let (Some(k), true) = (key, from_caller) {
                        self.dtmf(now, call, k);
                    }
                } else {
                    self.reply(now, from, &req, 481, "Call/Transaction Does Not Exist");
                }
            }
            _ => self.reply(now, from, &req, 405, "Method Not Allowed"),
        }
    }

    fn blocked(&self, ip: IpAddr, now: i64) -> bool {
        self.failures
            .get(&ip)
            .is_some_and(|f| f.blocked_until > now)
    }

    fn failed_auth(&mut self, now: i64, from: SocketAddr, user: &str) {
        let f = self.failures.entry(from.ip()).or_default();
        if now - f.since > FAIL_WINDOW_MS {
            f.count = 0;
            f.since = now;
        }
        f.count += 1;
        let block = f.count >= MAX_FAILURES;
        if block {
            f.blocked_until = now + BLOCK_MS;
            f.count = 0;
        }
        self.refused(
            from,
            if block { "blocked" } else { "bad_credentials" },
            format!("REGISTER as {user:?}"),
        );
    }

    fn challenge(&mut self, now: i64, from: SocketAddr, req: &Message, stale: bool) {
        let nonce = digest::make_nonce(&self.cfg.secret, now);
        let tag = self.unique();
        let mut r = req.reply(401, "Unauthorized", Some(&tag));
        for alg in [Algorithm::Sha256, Algorithm::Md5] {
            r.push(
                "WWW-Authenticate",
                digest::challenge(alg, &self.cfg.realm, &nonce, stale),
            );
        }
        r.push("Server", self.cfg.user_agent.clone());
        self.answer(now, from, req, r);
    }

    fn register(&mut self, now: i64, from: SocketAddr, req: &Message) {
        if self.blocked(from.ip(), now) {
            self.reply(now, from, req, 403, "Forbidden");
            self.refused(from, "blocked", "REGISTER while blocked");
            return;
        }
        let Some(auth) = req.header("Authorization").and_then(Authorization::parse) else {
            self.challenge(now, from, req, false);
            return;
        };
        match digest::check_nonce(&self.cfg.secret, &auth.nonce, now) {
            NonceState::Fresh => {}
            NonceState::Stale => return self.challenge(now, from, req, true),
            NonceState::Bad => return self.challenge(now, from, req, false),
        }
        let to_user = req
            .to_addr()
            .and_then(|a| a.parsed_uri())
            .and_then(|u| u.user);
        let phone = self.dir.phones.get(&auth.username).cloned();
        let ok = match (&phone, auth.algorithm()) {
            (Some(p), Some(alg)) if auth.realm == self.cfg.realm => {
                let ha1 = match alg {
                    Algorithm::Md5 => &p.ha1_md5,
                    Algorithm::Sha256 => &p.ha1_sha256,
                };
                auth.verify("REGISTER", ha1) && to_user.as_deref() == Some(&auth.username)
            }
            _ => false,
        };
        let Some(phone) = phone.filter(|_| ok) else {
            self.failed_auth(now, from, &auth.username);
            self.reply(now, from, req, 403, "Forbidden");
            return;
        };
        let key = (phone.tenant, phone.agent);
        let default_expires = req
            .header("Expires")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(MAX_EXPIRES_S);
        let contacts = req.header_all("Contact");
        let tag = self.unique();
        if contacts.iter().any(|c| c.trim() == "*") {
            if default_expires != 0 {
                self.reply(now, from, req, 400, "Bad Request");
                return;
            }
            if self.registrations.remove(&key).is_some() {
                self.out.push_back(Output::Registered {
                    tenant: phone.tenant,
                    agent: phone.agent,
                    registered: false,
                });
            }
            let mut r = req.reply(200, "OK", Some(&tag));
            r.push("Server", self.cfg.user_agent.clone());
            self.answer(now, from, req, r);
            return;
        }
        let mut r = req.reply(200, "OK", Some(&tag));
        if let Some(c) = contacts.first().and_then(|c| NameAddr::parse(c)) {
            let expires = c
                .param("expires")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default_expires);
            if expires > 0 && expires < MIN_EXPIRES_S {
                let mut r = req.reply(423, "Interval Too Brief", Some(&tag));
                r.push("Min-Expires", MIN_EXPIRES_S.to_string());
                self.answer(now, from, req, r);
                return;
            }
            let expires = expires.clamp(0, MAX_EXPIRES_S);
            if expires == 0 {
                if self.registrations.remove(&key).is_some() {
                    self.out.push_back(Output::Registered {
                        tenant: phone.tenant,
                        agent: phone.agent,
                        registered: false,
                    });
                }
            } else {
                let fresh = !self.is_registered(phone.tenant, phone.agent, now);
                self.registrations.insert(
                    key,
                    Registration {
                        username: auth.username.clone(),
                        contact: c.uri.clone(),
                        addr: from,
                        expires_at: now + expires * 1000,
                    },
                );
                r.push("Contact", format!("<{}>;expires={expires}", c.uri));
                if fresh {
                    self.out.push_back(Output::Registered {
                        tenant: phone.tenant,
                        agent: phone.agent,
                        registered: true,
                    });
                }
            }
        } else if let Some(reg) = self.registrations.get(&key) {
            // A query: the bindings are listed.
            r.push(
                "Contact",
                format!(
                    "<{}>;expires={}",
                    reg.contact,
                    (reg.expires_at - now).max(0) / 1000
                ),
            );
        }
        r.push("Server", self.cfg.user_agent.clone());
        self.answer(now, from, req, r);
    }

    /// Finds the dialled number's route: the Request-URI's user, then To's.
    fn route_of(&self, req: &Message) -> Option<(String, NumberRoute)> {
        let candidates = [
            Uri::parse(req.uri()).and_then(|u| u.user),
            req.to_addr()
                .and_then(|a| a.parsed_uri())
                .and_then(|u| u.user),
        ];
        for user in candidates.into_iter().flatten() {
            let digits: String = user
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            for n in [
                digits.clone(),
                format!("+{}", digits.trim_start_matches('+')),
            ] {
                if let Some(r) = self.dir.numbers.get(&n) {
                    return Some((n, r.clone()));
                }
            }
        }
        None
    }

    fn invite(&mut self, now: i64, from: SocketAddr, req: Message, branch: String) {
        let call_id = req.call_id().unwrap_or_default().to_string();
        let in_dialog = req.to_addr().is_some_and(|t| t.tag().is_some());
        if let Some(&cref) = self.dialogs.get(&call_id) {
            if in_dialog {
                return self.reinvite(now, from, cref, &req);
            }
            // The same INVITE again: the same answer again.
            let again = self.calls.get(&cref).and_then(|c| {
                (c.caller.invite_branch == branch).then(|| c.caller.final_response.clone())
            });
            match again {
                Some(Some(data)) => self.out.push_back(Output::Send { to: from, data }),
                Some(None) => {
                    let r = req.reply(100, "Trying", None);
                    self.send(from, &r);
                }
                None => self.reply(now, from, &req, 482, "Loop Detected"),
            }
            return;
        }
        if in_dialog {
            self.reply(now, from, &req, 481, "Call/Transaction Does Not Exist");
            return;
        }
        let Some((number, route)) = self.route_of(&req) else {
            self.invite_failure(now, from, &req, 404, "Not Found");
            self.refused(from, "unknown_number", req.uri().to_string());
            return;
        };
        let trusted =
            self.dir.trunks.iter().any(|t| {
                t.tenant == route.tenant && t.sources.iter().any(|n| n.contains(&from.ip()))
            }) || self.registered_carrier(route.tenant, from.ip());
        if !trusted {
            self.invite_failure(now, from, &req, 403, "Forbidden");
            self.refused(from, "untrusted_source", format!("INVITE for {number}"));
            return;
        }
        if self.calls.len() >= MAX_CALLS {
            self.invite_failure(now, from, &req, 503, "Service Unavailable");
            return;
        }
        let offer = match sdp::parse(&req.body) {
            Ok(o) => o,
            Err(e) => {
                let code = if req.body.is_empty() { 488 } else { 400 };
                self.invite_failure(now, from, &req, code, "Not Acceptable Here");
                self.refused(from, "bad_sdp", e.to_string());
                return;
            }
        };
        let Some(&codec) = offer.codecs.first() else {
            self.invite_failure(now, from, &req, 488, "Not Acceptable Here");
            return;
        };
        let caller_number = req
            .from_addr()
            .and_then(|a| a.parsed_uri())
            .and_then(|u| u.user)
            .unwrap_or_default();
        let trying = req.reply(100, "Trying", None);
        self.send(from, &trying);
        self.counter += 1;
        let cref = CallRef(self.counter);
        let local_tag = self.unique();
        let from_addr = req.from_addr().expect("checked");
        let target = req
            .header("Contact")
            .and_then(NameAddr::parse)
            .map(|c| c.uri)
            .unwrap_or_else(|| from_addr.uri.clone());
        let route_set: Vec<String> = req
            .header_all("Record-Route")
            .into_iter()
            .map(str::to_string)
            .collect();
        let hours = route.menu.as_ref().and_then(|m| m.hours);
        let call = Call {
            tenant: route.tenant,
            contact: None,
            state: State::Offered,
            route: route.clone(),
            from_number: caller_number,
            to_number: number,
            menu_deadline: None,
            queue_prompt: false,
            refer_pending: false,
            callback_offered: false,
            callback_asked: false,
            callback_booked: false,
            caller: CallerLeg {
                call_id: call_id.clone(),
                invite_branch: branch,
                local_tag,
                target,
                signal: from,
                route: route_set,
                cseq: 0,
                final_response: None,
                resend: None,
                media_port: 0,
                remote_rtp: offer.addr,
                codec,
                events: offer.events,
                sdp_version: 1,
                invite: req,
            },
            agent: None,
            monitor: None,
            far: None,
            outbound: None,
            consult: None,
            adopting: None,
        };
        self.calls.insert(cref, call);
        self.dialogs.insert(call_id, cref);
        self.out.push_back(Output::Incoming {
            call: cref,
            tenant: route.tenant,
            hours,
        });
    }

    /// A final failure to an INVITE outside any call: sent, and sent
    /// again until acknowledged (absorbed by branch).
    fn invite_failure(
        &mut self,
        now: i64,
        from: SocketAddr,
        req: &Message,
        code: u16,
        reason: &str,
    ) {
        let tag = self.unique();
        let mut r = req.reply(code, reason, Some(&tag));
        r.push("Server", self.cfg.user_agent.clone());
        // Retransmitted INVITEs get the same answer; the ACK needs nothing.
        self.answer(now, from, req, r);
    }

    fn caller_sdp(&self, leg: &CallerLeg) -> Vec<u8> {
        let dir = sdp::parse(&leg.invite.body)
            .map(|o| o.direction.answer())
            .unwrap_or(Direction::SendRecv);
        sdp::build(
            leg.local_tag.len() as u64 + 1_000,
            leg.sdp_version,
            SocketAddr::new(self.cfg.media_ip, leg.media_port),
            leg.codec,
            leg.events,
            dir,
        )
    }

    /// The shell opened `media_port` for the call and found its menu's
    /// hours `open` (or not): the call is answered, then goes to its menu,
    /// its closed prompt, or straight to its queue. False if the call is
    /// already gone (the shell closes the port).
    pub fn accept(&mut self, now: i64, call: CallRef, media_port: u16, open: bool) -> bool {
        let our_uri = self.our_uri();
        let user_agent = self.cfg.user_agent.clone();
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if c.state != State::Offered {
            return false;
        }
        c.caller.media_port = media_port;
        let body = self.caller_sdp(&self.calls[&call].caller);
        let c = self.calls.get_mut(&call).expect("present");
        let mut r = c
            .caller
            .invite
            .reply(200, "OK", Some(&c.caller.local_tag.clone()));
        r.push("Contact", format!("<{our_uri}>"));
        r.push("Allow", ALLOW);
        r.push("Server", user_agent);
        r.push("Content-Type", "application/sdp");
        r.body = body;
        let data = r.to_bytes();
        c.caller.final_response = Some(data.clone());
        c.caller.resend = Some(Resend::new(now));
        let (to, remote, codec, events) = (
            c.caller.signal,
            c.caller.remote_rtp,
            c.caller.codec,
            c.caller.events,
        );
        let tenant = c.tenant;
        let menu = c.route.menu.clone();
        self.out.push_back(Output::Send { to, data });
        self.out.push_back(Output::Media(Media::Caller {
            call,
            port: media_port,
            remote,
            signal: to.ip(),
            codec,
            events,
        }));
        let c = self.calls.get_mut(&call).expect("present");
        match menu {
            None => self.send_to_queue(call, None),
            Some(m) if !open => {
                c.state = State::Closing;
                match m.closed_prompt {
                    Some(prompt) => self.out.push_back(Output::Media(Media::Play {
                        call,
                        tenant,
                        prompt,
                    })),
                    None => self.end_call(now, call, EndedBy::Switch),
                }
            }
            Some(m) => {
                c.state = State::Menu;
                match m.prompt {
                    Some(prompt) => self.out.push_back(Output::Media(Media::Play {
                        call,
                        tenant,
                        prompt,
                    })),
                    None => c.menu_deadline = Some(now + m.timeout_ms),
                }
            }
        }
        true
    }

    /// The caller goes to a queue (the number's, or the menu key's): music,
    /// and a contact to create.
    fn send_to_queue(&mut self, call: CallRef, choice: Option<char>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let queue = choice
            .and_then(|k| c.route.menu.as_ref()?.options.get(&k).copied())
            .unwrap_or(c.route.queue);
        c.state = State::Setup;
        c.menu_deadline = None;
        self.out.push_back(Output::Media(Media::Hold { call }));
        self.out.push_back(Output::NewCall {
            call,
            tenant: c.tenant,
            queue,
            from: c.from_number.clone(),
            to: c.to_number.clone(),
            choice,
        });
    }

    /// The caller pressed a key (RFC 4733 in the media, or SIP INFO).
    pub fn dtmf(&mut self, now: i64, call: CallRef, key: char) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state == State::Queued && c.callback_offered && !c.callback_asked && key == '1' {
            c.callback_asked = true;
            if let Some(contact) = c.contact {
                let tenant = c.tenant;
                self.out.push_back(Output::CallbackRequested {
                    call,
                    tenant,
                    contact,
                });
            }
            return;
        }
        if c.state != State::Menu {
            return;
        }
        let known = c
            .route
            .menu
            .as_ref()
            .is_some_and(|m| m.options.contains_key(&key));
        if known {
            self.send_to_queue(call, Some(key));
        } else if let Some(c) = self.calls.get_mut(&call) {
            // Not an option: the caller may try again until the menu's time.
            c.menu_deadline
                .get_or_insert(now + c.route.menu.as_ref().map(|m| m.timeout_ms).unwrap_or(0));
        }
    }

    /// A prompt finished playing.
    pub fn prompt_done(&mut self, now: i64, call: CallRef) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match c.state {
            State::Menu => {
                let wait = c.route.menu.as_ref().map(|m| m.timeout_ms).unwrap_or(0);
                c.menu_deadline = Some(now + wait);
            }
            State::Closing => self.end_call(now, call, EndedBy::Switch),
            State::Queued if c.callback_booked => self.end_call(now, call, EndedBy::Switch),
            State::Queued if c.queue_prompt => {
                c.queue_prompt = false;
                self.out.push_back(Output::Media(Media::Hold { call }));
            }
            _ => {}
        }
    }

    /// A waiting caller hears `prompt` (their place, an announcement, a
    /// callback offer), then music again. With `offer_callback`, key 1
    /// asks for a callback. False if the call is not waiting.
    pub fn play_in_queue(
        &mut self,
        _now: i64,
        contact: ContactId,
        prompt: &str,
        offer_callback: bool,
    ) -> bool {
        let Some(&call) = self.by_contact.get(&contact) else {
            return false;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if c.state != State::Queued || c.callback_booked {
            return false;
        }
        c.queue_prompt = true;
        c.callback_offered |= offer_callback;
        let tenant = c.tenant;
        self.out.push_back(Output::Media(Media::Play {
            call,
            tenant,
            prompt: prompt.to_string(),
        }));
        true
    }

    /// The callback is booked: the caller hears `prompt` (if any), then the
    /// call ends without abandoning the contact.
    pub fn callback_booked(&mut self, now: i64, call: CallRef, prompt: Option<&str>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state != State::Queued {
            return;
        }
        c.callback_booked = true;
        let tenant = c.tenant;
        match prompt {
            Some(p) => self.out.push_back(Output::Media(Media::Play {
                call,
                tenant,
                prompt: p.to_string(),
            })),
            None => self.end_call(now, call, EndedBy::Switch),
        }
    }

    /// The shell created the call's contact: it waits in its queue.
    pub fn call_queued(&mut self, _now: i64, call: CallRef, contact: ContactId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state != State::Setup {
            return;
        }
        c.contact = Some(contact);
        c.state = State::Queued;
        self.by_contact.insert(contact, call);
    }

    /// The shell could not take the call: before answering (no media port)
    /// it is refused with `code`; after, it is hung up.
    pub fn call_refused(&mut self, now: i64, call: CallRef, code: u16, reason: &str) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match c.state {
            State::Offered => {
                c.state = State::Ended;
                let tag = c.caller.local_tag.clone();
                let r = c.caller.invite.reply(code, reason, Some(&tag));
                let data = r.to_bytes();
                c.caller.final_response = Some(data.clone());
                c.caller.resend = Some(Resend::new(now));
                let to = c.caller.signal;
                self.out.push_back(Output::Send { to, data });
            }
            State::Setup => self.end_call(now, call, EndedBy::Switch),
            _ => {}
        }
    }

    fn reinvite(&mut self, now: i64, from: SocketAddr, cref: CallRef, req: &Message) {
        let our_uri = self.our_uri();
        let media_ip = self.cfg.media_ip;
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let is_caller = c.caller.call_id == req.call_id().unwrap_or_default();
        if c.state == State::Ended {
            self.reply(now, from, req, 481, "Call/Transaction Does Not Exist");
            return;
        }
        if !is_caller {
            return self.agent_reinvite(now, from, cref, req);
        }
        match sdp::parse(&req.body) {
            Ok(o) if o.codecs.contains(&c.caller.codec) => {
                c.caller.remote_rtp = o.addr;
                c.caller.sdp_version += 1;
                let body = sdp::build(
                    c.caller.local_tag.len() as u64 + 1_000,
                    c.caller.sdp_version,
                    SocketAddr::new(media_ip, c.caller.media_port),
                    c.caller.codec,
                    c.caller.events,
                    o.direction.answer(),
                );
                let mut r = req.reply(200, "OK", None);
                r.push("Contact", format!("<{our_uri}>"));
                r.push("Content-Type", "application/sdp");
                r.body = body;
                let (port, codec, events) = (c.caller.media_port, c.caller.codec, c.caller.events);
                let signal = c.caller.signal.ip();
                self.answer(now, from, req, r);
                self.out.push_back(Output::Media(Media::Caller {
                    call: cref,
                    port,
                    remote: o.addr,
                    signal,
                    codec,
                    events,
                }));
            }
            Ok(_) => self.reply(now, from, req, 488, "Not Acceptable Here"),
            Err(_) if req.body.is_empty() => {
                // A refresh without an offer: the last answer again.
                let body = self.caller_sdp(&self.calls[&cref].caller);
                let mut r = req.reply(200, "OK", None);
                r.push("Contact", format!("<{}>", self.our_uri()));
                r.push("Content-Type", "application/sdp");
                r.body = body;
                self.answer(now, from, req, r);
            }
            Err(_) => self.reply(now, from, req, 400, "Bad Request"),
        }
    }

    /// The agent's phone changes the session: hold (sendonly, inactive),
    /// resume, or a new address.
    fn agent_reinvite(&mut self, now: i64, from: SocketAddr, cref: CallRef, req: &Message) {
        let our_uri = self.our_uri();
        let media_ip = self.cfg.media_ip;
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let (tenant, contact) = (c.tenant, c.contact);
        let (codec, events) = (c.caller.codec, c.caller.events.or(Some(101)));
        let talking = c.state == State::Talking;
        let Some(leg) = c.agent.as_mut().filter(|a| a.state == AgentState::Answered) else {
            self.reply(now, from, req, 491, "Request Pending");
            return;
        };
        let offer = match sdp::parse(&req.body) {
            Ok(o) if o.codecs.contains(&codec) => o,
            Ok(_) => return self.reply(now, from, req, 488, "Not Acceptable Here"),
            Err(_) => return self.reply(now, from, req, 400, "Bad Request"),
        };
        let hold = matches!(offer.direction, Direction::SendOnly | Direction::Inactive);
        let changed = talking && hold != leg.held;
        leg.held = hold;
        let port = leg.media_port;
        let mut r = req.reply(200, "OK", None);
        r.push("Contact", format!("<{our_uri}>"));
        r.push("Content-Type", "application/sdp");
        r.body = sdp::build(
            cref.0,
            2 + u64::from(req.cseq().map(|c| c.0).unwrap_or(0)),
            SocketAddr::new(media_ip, port),
            codec,
            events,
            offer.direction.answer(),
        );
        self.answer(now, from, req, r);
        self.out.push_back(Output::Media(Media::Agent {
            call: cref,
            port,
            remote: offer.addr,
            signal: from.ip(),
        }));
        if changed && let Some(contact) = contact {
            self.out.push_back(Output::Media(if hold {
                Media::Hold { call: cref }
            } else {
                Media::Bridge { call: cref }
            }));
            self.out.push_back(Output::Held {
                call: cref,
                tenant,
                contact,
                held: hold,
            });
        }
    }

    /// A team leader monitors a call in progress: their phone (`agent`'s
    /// registration) is rung, offering media on `media_port`. Asked again
    /// by the same team leader, it changes the mode.
    pub fn monitor(
        &mut self,
        now: i64,
        contact: ContactId,
        agent: AgentId,
        mode: MonitorMode,
        media_port: u16,
    ) -> Result<CallRef, MonitorError> {
        let cref = *self
            .by_contact
            .get(&contact)
            .ok_or(MonitorError::NotTalking)?;
        let c = self.calls.get_mut(&cref).ok_or(MonitorError::NotTalking)?;
        if c.state != State::Talking {
            return Err(MonitorError::NotTalking);
        }
        let tenant = c.tenant;
        if let Some((leg, m, by)) = &mut c.monitor {
            if *by != agent {
                return Err(MonitorError::Busy);
            }
            *m = mode;
            if leg.state == AgentState::Answered {
                self.out
                    .push_back(Output::Media(Media::MonitorMode { call: cref, mode }));
            }
            return Ok(cref);
        }
        let reg = self
            .registrations
            .get(&(tenant, agent))
            .filter(|r| r.expires_at > now)
            .cloned()
            .ok_or(MonitorError::NotRegistered)?;
        let from_user = self.calls[&cref].from_number.clone();
        let leg = self.new_leg(&reg, 0, media_port, from_user);
        let c = self.calls.get_mut(&cref).expect("present");
        c.monitor = Some((leg, mode, agent));
        if !self.invite_leg(now, cref, Which::Monitor, &[("Subject", "Monitoring")]) {
            return Err(MonitorError::NotTalking);
        }
        Ok(cref)
    }

    /// The agent consults another agent before handing the call over (an
    /// attended transfer): the caller hears music and the other agent's
    /// phone rings, with its media on `media_port`.
    pub fn consult(
        &mut self,
        now: i64,
        contact: ContactId,
        agent: AgentId,
        media_port: u16,
    ) -> Result<CallRef, ConsultError> {
        let cref = *self
            .by_contact
            .get(&contact)
            .ok_or(ConsultError::NotTalking)?;
        let c = self.calls.get(&cref).ok_or(ConsultError::NotTalking)?;
        let answered = c
            .agent
            .as_ref()
            .is_some_and(|a| a.state == AgentState::Answered);
        if c.state != State::Talking || !answered {
            return Err(ConsultError::NotTalking);
        }
        if c.consult.is_some() || c.monitor.is_some() || c.adopting.is_some() {
            return Err(ConsultError::Busy);
        }
        let reg = self
            .registrations
            .get(&(c.tenant, agent))
            .filter(|r| r.expires_at > now)
            .cloned()
            .ok_or(ConsultError::NotRegistered)?;
        let from_user = c.from_number.clone();
        let leg = self.new_leg(&reg, 0, media_port, from_user);
        let c = self.calls.get_mut(&cref).expect("present");
        c.consult = Some(Consult {
            leg,
            agent,
            until: now + CONSULT_RING_MS,
        });
        self.invite_leg(now, cref, Which::Consult, &[("Subject", "Consultation")]);
        self.out
            .push_back(Output::Media(Media::Hold { call: cref }));
        Ok(cref)
    }

    /// Ends the consultation on the contact's call: the consulted agent
    /// takes the call (`complete`, once they have answered; the agent's
    /// phone is hung up), or it is called off and the caller is back with
    /// the agent. Returns the consulted agent.
    pub fn finish_consult(
        &mut self,
        now: i64,
        contact: ContactId,
        complete: bool,
    ) -> Result<AgentId, ConsultError> {
        let cref = *self
            .by_contact
            .get(&contact)
            .ok_or(ConsultError::NoConsultation)?;
        let c = self.calls.get(&cref).ok_or(ConsultError::NoConsultation)?;
        let Some(k) = c.consult.as_ref().filter(|_| c.state == State::Talking) else {
            return Err(ConsultError::NoConsultation);
        };
        let agent = k.agent;
        if !complete {
            self.drop_consult(now, cref, true, "called off");
            return Ok(agent);
        }
        if k.leg.state != AgentState::Answered {
            return Err(ConsultError::NotAnswered);
        }
        self.hand_over(now, cref);
        Ok(agent)
    }

    /// The consulted agent's leg becomes the agent's: the agent's phone is
    /// hung up and the caller bridged to the other agent.
    fn hand_over(&mut self, now: i64, cref: CallRef) {
        if let Some((to, m)) = self.agent_request(cref, "BYE") {
            self.send_pending(now, to, m);
        }
        self.hand_over_after_bye(now, cref);
    }

    fn hand_over_after_bye(&mut self, _now: i64, cref: CallRef) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let Some(k) = c.consult.take() else {
            return;
        };
        if let Some(old) = c.agent.replace(k.leg) {
            self.dialogs.remove(&old.call_id);
        }
        c.adopting = Some(k.agent);
        let (tenant, contact) = (c.tenant, c.contact);
        self.out
            .push_back(Output::Media(Media::ConsultComplete { call: cref }));
        if let Some(contact) = contact {
            self.out.push_back(Output::ConsultCompleted {
                call: cref,
                tenant,
                contact,
                agent: k.agent,
            });
        }
    }

    /// Ends the consultation leg: hung up (`hang_up`) or cancelled if
    /// still ringing; the caller back with the agent unless the call is
    /// over.
    fn drop_consult(&mut self, now: i64, cref: CallRef, hang_up: bool, why: &str) {
        let Some(k) = self.calls.get(&cref).and_then(|c| c.consult.as_ref()) else {
            return;
        };
        let state = k.leg.state;
        if hang_up {
            match state {
                AgentState::Answered => {
                    if let Some((to, m)) = self.leg_request(cref, Which::Consult, "BYE") {
                        self.send_pending(now, to, m);
                    }
                }
                AgentState::Calling | AgentState::Proceeding => {
                    self.cancel_leg(now, cref, Which::Consult);
                }
                AgentState::Cancelling => {}
            }
        }
        let c = self.calls.get_mut(&cref).expect("present");
        if let Some(k) = c.consult.take() {
            self.dialogs.remove(&k.leg.call_id);
        }
        let (tenant, contact, talking) = (c.tenant, c.contact, c.state == State::Talking);
        let held = c.agent.as_ref().is_some_and(|a| a.held);
        self.out
            .push_back(Output::Media(Media::ConsultStop { call: cref }));
        if talking {
            self.out.push_back(Output::Media(if held {
                Media::Hold { call: cref }
            } else {
                Media::Bridge { call: cref }
            }));
        }
        if let Some(contact) = contact {
            self.out.push_back(Output::ConsultEnded {
                call: cref,
                tenant,
                contact,
                why: why.to_string(),
            });
        }
    }

    fn consult_response(
        &mut self,
        now: i64,
        from: SocketAddr,
        cref: CallRef,
        resp: &Message,
        code: u16,
        cseq: u32,
    ) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let (tenant, contact, talking) = (c.tenant, c.contact, c.state == State::Talking);
        let Some(k) = c.consult.as_mut() else {
            return;
        };
        let agent = k.agent;
        let leg = &mut k.leg;
        if leg.signal.ip() != from.ip() {
            self.refused(from, "spoofed", "a response for a call from elsewhere");
            return;
        }
        match code {
            100..=199 => leg_proceeding(leg),
            200..=299 => {
                let first = leg_answered(leg, resp);
                let port = leg.media_port;
                self.send_leg_ack(cref, Which::Consult, cseq);
                if !first {
                    return;
                }
                match (sdp::parse(&resp.body), contact) {
                    (Ok(a), Some(contact)) if talking && a.addr.port() != 0 => {
                        self.out.push_back(Output::Media(Media::Consult {
                            call: cref,
                            port,
                            remote: a.addr,
                            signal: from.ip(),
                        }));
                        self.out.push_back(Output::ConsultAnswered {
                            call: cref,
                            tenant,
                            contact,
                            agent,
                        });
                    }
                    _ => self.drop_consult(
                        now,
                        cref,
                        true,
                        "the other agent's phone could not take the audio",
                    ),
                }
            }
            _ => {
                let invite = leg.invite.clone();
                self.ack_failure(from, &invite, resp, cseq);
                let why = format!("the other agent's phone answered {code}");
                self.drop_consult(now, cref, false, &why);
            }
        }
    }

    /// Stops a team leader's monitoring of the contact's call.
    pub fn stop_monitor(&mut self, now: i64, contact: ContactId) -> bool {
        let Some(&cref) = self.by_contact.get(&contact) else {
            return false;
        };
        let had = self.calls.get(&cref).is_some_and(|c| c.monitor.is_some());
        self.drop_monitor(now, cref, true, "stopped");
        had
    }

    /// Ends the monitoring leg: hung up (`hang_up`) or cancelled if still
    /// ringing, media told, the shell told why.
    fn drop_monitor(&mut self, now: i64, cref: CallRef, hang_up: bool, why: &str) {
        let Some(c) = self.calls.get(&cref) else {
            return;
        };
        let Some((leg, _, _)) = &c.monitor else {
            return;
        };
        let state = leg.state;
        let (tenant, contact) = (c.tenant, c.contact);
        if hang_up {
            match state {
                AgentState::Answered => {
                    if let Some((to, m)) = self.leg_request(cref, Which::Monitor, "BYE") {
                        self.send_pending(now, to, m);
                    }
                }
                AgentState::Calling | AgentState::Proceeding => {
                    self.cancel_leg(now, cref, Which::Monitor);
                }
                AgentState::Cancelling => {}
            }
        }
        let c = self.calls.get_mut(&cref).expect("present");
        if let Some((leg, _, _)) = c.monitor.take() {
            self.dialogs.remove(&leg.call_id);
        }
        if state == AgentState::Answered {
            self.out
                .push_back(Output::Media(Media::MonitorStop { call: cref }));
        }
        if let Some(contact) = contact {
            self.out.push_back(Output::MonitorEnded {
                call: cref,
                tenant,
                contact,
                why: why.to_string(),
            });
        }
    }

    fn monitor_response(
        &mut self,
        now: i64,
        from: SocketAddr,
        cref: CallRef,
        resp: &Message,
        code: u16,
        cseq: u32,
    ) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let talking = c.state == State::Talking;
        let Some((leg, mode, _)) = c.monitor.as_mut() else {
            return;
        };
        let mode = *mode;
        match code {
            100..=199 => leg_proceeding(leg),
            200..=299 => {
                let first = leg_answered(leg, resp);
                let port = leg.media_port;
                self.send_leg_ack(cref, Which::Monitor, cseq);
                if !first {
                    return;
                }
                match sdp::parse(&resp.body) {
                    Ok(a) if talking && a.addr.port() != 0 => {
                        self.out.push_back(Output::Media(Media::Monitor {
                            call: cref,
                            port,
                            remote: a.addr,
                            signal: from.ip(),
                            mode,
                        }));
                    }
                    _ => self.drop_monitor(
                        now,
                        cref,
                        true,
                        "the team leader's phone could not take the audio",
                    ),
                }
            }
            _ => {
                let invite = leg.invite.clone();
                self.ack_failure(from, &invite, resp, cseq);
                let why = format!("the team leader's phone answered {code}");
                self.drop_monitor(now, cref, false, &why);
            }
        }
    }

    /// A REFER from the agent's phone on a call in progress: accepted (202),
    /// and the shell asked to transfer.
    fn refer(&mut self, now: i64, from: SocketAddr, req: &Message) {
        let call_id = req.call_id().unwrap_or_default().to_string();
        let found = self.dialogs.get(&call_id).copied().filter(|c| {
            self.calls.get(c).is_some_and(|c| {
                c.state == State::Talking && c.agent.as_ref().is_some_and(|a| a.call_id == call_id)
            })
        });
        let Some(cref) = found else {
            self.reply(now, from, req, 481, "Call/Transaction Does Not Exist");
            return;
        };
        let target = req
            .header("Refer-To")
            .and_then(NameAddr::parse)
            .and_then(|a| a.parsed_uri())
            .and_then(|u| u.user);
        let Some(target) = target.filter(|t| !t.is_empty()) else {
            self.reply(now, from, req, 400, "Bad Request");
            return;
        };
        let tenant = self.calls[&cref].tenant;
        // Another agent's phone, or one of the tenant's numbers.
        let agent = self
            .dir
            .phones
            .get(&target)
            .filter(|p| p.tenant == tenant)
            .map(|p| p.agent);
        let digits: String = target.chars().filter(|c| c.is_ascii_digit()).collect();
        let queue = self
            .dir
            .numbers
            .get(&format!("+{digits}"))
            .filter(|r| r.tenant == tenant)
            .map(|r| r.queue);
        if agent.is_none() && queue.is_none() {
            self.reply(now, from, req, 404, "Not Found");
            return;
        }
        self.reply(now, from, req, 202, "Accepted");
        let c = self.calls.get_mut(&cref).expect("found");
        c.refer_pending = true;
        if let Some(contact) = c.contact {
            self.out.push_back(Output::TransferRequested {
                call: cref,
                tenant,
                contact,
                queue: if agent.is_some() { None } else { queue },
                agent,
            });
        }
    }

    /// How the phone's transfer went: the phone is told (NOTIFY with the
    /// outcome as a SIP status line, RFC 3515).
    pub fn transfer_outcome(&mut self, now: i64, call: CallRef, ok: bool) {
        match self.calls.get_mut(&call) {
            Some(c) if c.refer_pending => c.refer_pending = false,
            _ => return,
        }
        let Some((to, mut m)) = self.leg_request(call, Which::Agent, "NOTIFY") else {
            return;
        };
        m.push("Event", "refer");
        m.push("Subscription-State", "terminated;reason=noresource");
        m.push("Content-Type", "message/sipfrag;version=2.0");
        m.body = if ok {
            b"SIP/2.0 200 OK\r\n".to_vec()
        } else {
            b"SIP/2.0 503 Service Unavailable\r\n".to_vec()
        };
        self.send_pending(now, to, m);
    }

    /// The contact went back to a queue (a transfer): the agent's phone is
    /// hung up and the caller waits with music for the next agent.
    pub fn requeue(&mut self, now: i64, contact: ContactId) -> bool {
        let Some(&cref) = self.by_contact.get(&contact) else {
            return false;
        };
        // Handed over by a consultation: the caller stays with the agent.
        if self.calls.get(&cref).is_some_and(|c| c.adopting.is_some()) {
            return false;
        }
        let state = self.calls.get(&cref).map(|c| c.state);
        let agent_state = self
            .calls
            .get(&cref)
            .and_then(|c| c.agent.as_ref().map(|a| a.state));
        match (state, agent_state) {
            (Some(State::Talking), Some(AgentState::Answered)) => {
                // A transfer the phone asked for: told it worked first.
                self.transfer_outcome(now, cref, true);
                if let Some((to, m)) = self.agent_request(cref, "BYE") {
                    self.send_pending(now, to, m);
                }
            }
            (Some(State::Ringing), Some(AgentState::Calling | AgentState::Proceeding)) => {
                self.cancel_agent(now, cref);
            }
            _ => return false,
        }
        self.drop_monitor(now, cref, true, "the call went back to a queue");
        self.drop_consult(now, cref, true, "the call went back to a queue");
        let c = self.calls.get_mut(&cref).expect("present");
        c.state = State::Queued;
        if let Some(a) = c.agent.take() {
            // A late answer to the cancelled ring is acknowledged as an orphan.
            self.dialogs.remove(&a.call_id);
        }
        self.out
            .push_back(Output::Media(Media::Hold { call: cref }));
        true
    }

    fn ack(&mut self, req: &Message) {
        let Some(&cref) = req.call_id().and_then(|c| self.dialogs.get(c)) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        if c.caller.call_id == req.call_id().unwrap_or_default() {
            c.caller.resend = None;
            if c.state == State::Ended {
                self.forget(cref);
            }
        }
    }

    fn bye(&mut self, now: i64, from: SocketAddr, req: &Message) {
        let call_id = req.call_id().unwrap_or_default().to_string();
        let Some(&cref) = self.dialogs.get(&call_id) else {
            self.reply(now, from, req, 481, "Call/Transaction Does Not Exist");
            return;
        };
        self.reply(now, from, req, 200, "OK");
        let by_monitor = self.calls.get(&cref).is_some_and(|c| {
            c.leg_ref(Which::Monitor)
                .is_some_and(|l| l.call_id == call_id)
        });
        if by_monitor {
            self.drop_monitor(now, cref, false, "the team leader hung up");
            return;
        }
        let Some(c) = self.calls.get(&cref) else {
            return;
        };
        if c.consult.as_ref().is_some_and(|k| k.leg.call_id == call_id) {
            self.drop_consult(now, cref, false, "the other agent hung up");
            return;
        }
        // The agent hangs up while the consulted agent is on: handed over.
        let handing_over = c.state == State::Talking
            && c.agent.as_ref().is_some_and(|a| a.call_id == call_id)
            && c.consult
                .as_ref()
                .is_some_and(|k| k.leg.state == AgentState::Answered);
        if handing_over {
            self.hand_over_after_bye(now, cref);
            return;
        }
        let by_caller = self
            .calls
            .get(&cref)
            .is_some_and(|c| c.caller.call_id == call_id);
        self.end_call(
            now,
            cref,
            if by_caller {
                EndedBy::Caller
            } else {
                EndedBy::Agent
            },
        );
    }

    fn cancel(&mut self, now: i64, from: SocketAddr, req: &Message, branch: &str) {
        let call_id = req.call_id().unwrap_or_default().to_string();
        let found = self.dialogs.get(&call_id).copied().filter(|c| {
            self.calls
                .get(c)
                .is_some_and(|c| c.caller.call_id == call_id && c.caller.invite_branch == branch)
        });
        let Some(cref) = found else {
            self.reply(now, from, req, 481, "Call/Transaction Does Not Exist");
            return;
        };
        self.reply(now, from, req, 200, "OK");
        let c = self.calls.get_mut(&cref).expect("found");
        if c.state != State::Offered {
            // Already answered: the CANCEL changes nothing (RFC 3261 9.2).
            return;
        }
        let tag = c.caller.local_tag.clone();
        let r = c.caller.invite.reply(487, "Request Terminated", Some(&tag));
        let data = r.to_bytes();
        c.caller.final_response = Some(data.clone());
        c.caller.resend = Some(Resend::new(now));
        let to = c.caller.signal;
        self.out.push_back(Output::Send { to, data });
        self.end_call(now, cref, EndedBy::Caller);
    }

    /// Builds a request inside the caller's dialog.
    fn caller_request(&mut self, cref: CallRef, method: &str) -> Option<(SocketAddr, Message)> {
        let branch = format!("z9hG4bK{}", self.unique());
        let to = self.calls.get(&cref)?.caller.signal;
        let via = self.via(&branch, to);
        let ua = self.cfg.user_agent.clone();
        let c = self.calls.get_mut(&cref)?;
        let leg = &mut c.caller;
        leg.cseq += 1;
        let mut m = Message::request(method, &leg.target);
        m.push("Via", via);
        m.push("Max-Forwards", "70");
        // The route set, in order (a UAS keeps Record-Route as it came, a
        // UAC reversed).
        for r in &leg.route {
            m.push("Route", r.clone());
        }
        let to = leg.invite.header("From").unwrap_or_default().to_string();
        let from = format!(
            "{};tag={}",
            leg.invite
                .header("To")
                .unwrap_or_default()
                .split(";tag=")
                .next()
                .unwrap_or_default(),
            leg.local_tag
        );
        m.push("From", from);
        m.push("To", to);
        m.push("Call-ID", leg.call_id.clone());
        m.push("CSeq", format!("{} {method}", leg.cseq));
        m.push("User-Agent", ua);
        Some((leg.signal, m))
    }

    fn agent_request(&mut self, cref: CallRef, method: &str) -> Option<(SocketAddr, Message)> {
        self.leg_request(cref, Which::Agent, method)
    }

    /// Builds a request inside an outgoing leg's dialog.
    fn leg_request(
        &mut self,
        cref: CallRef,
        which: Which,
        method: &str,
    ) -> Option<(SocketAddr, Message)> {
        let branch = format!("z9hG4bK{}", self.unique());
        let to = self.calls.get(&cref)?.leg_ref(which)?.signal;
        let via = self.via(&branch, to);
        let our = self.our_uri();
        let ua = self.cfg.user_agent.clone();
        let c = self.calls.get_mut(&cref)?;
        let leg = c.leg(which)?;
        leg.cseq += 1;
        let mut m = Message::request(method, &leg.target);
        m.push("Via", via);
        m.push("Max-Forwards", "70");
        m.push(
            "From",
            format!(
                "<sip:{}@{}>;tag={}",
                leg.from_user,
                host_of(&our),
                leg.local_tag
            ),
        );
        m.push(
            "To",
            match &leg.remote_tag {
                Some(t) => format!("<{}>;tag={t}", leg.to),
                None => format!("<{}>", leg.to),
            },
        );
        m.push("Call-ID", leg.call_id.clone());
        m.push("CSeq", format!("{} {method}", leg.cseq));
        m.push("User-Agent", ua);
        Some((leg.signal, m))
    }

    fn send_pending(&mut self, now: i64, to: SocketAddr, m: Message) {
        let data = self.send(to, &m);
        let cseq = m
            .cseq()
            .map(|(n, s)| (n, s.to_string()))
            .unwrap_or((0, String::new()));
        self.pending.push(Pending {
            call_id: m.call_id().unwrap_or_default().to_string(),
            cseq,
            to,
            data,
            resend: Resend::new(now),
        });
    }

    /// Ends a call from wherever it is: the other legs are hung up or
    /// cancelled, media stops, and the shell is told how it ended.
    fn end_call(&mut self, now: i64, cref: CallRef, by: EndedBy) {
        let Some(c) = self.calls.get(&cref) else {
            return;
        };
        if c.state == State::Ended {
            return;
        }
        let prior = c.state;
        // Offered a callback, the caller keeps it by hanging up too.
        let callback = c.callback_booked || c.callback_offered;
        let (tenant, contact) = (c.tenant, c.contact);
        let agent_state = c.agent.as_ref().map(|a| a.state);
        // The caller's leg: hung up unless the caller ended it (or, for an
        // outbound call, cancelled while it rings).
        let far_ringing = c.far.is_some();
        if far_ringing {
            self.cancel_leg(now, cref, Which::Far);
        } else if by != EndedBy::Caller
            && !matches!(prior, State::Offered | State::Dialling)
            && let Some((to, m)) = self.caller_request(cref, "BYE")
        {
            self.send_pending(now, to, m);
        }
        match agent_state {
            Some(AgentState::Answered) if by != EndedBy::Agent => {
                if let Some((to, m)) = self.agent_request(cref, "BYE") {
                    self.send_pending(now, to, m);
                }
            }
            Some(AgentState::Calling | AgentState::Proceeding) => self.cancel_agent(now, cref),
            _ => {}
        }
        self.drop_monitor(now, cref, true, "the call ended");
        let c = self.calls.get_mut(&cref).expect("present");
        c.state = State::Ended;
        self.drop_consult(now, cref, true, "the call ended");
        let c = self.calls.get_mut(&cref).expect("present");
        if let Some(a) = &mut c.agent {
            a.resend = None;
        }
        if let Some(o) = &mut c.outbound {
            o.give_up_at = None;
        }
        c.menu_deadline = None;
        self.out
            .push_back(Output::Media(Media::Stop { call: cref }));
        // Without a contact (yet) the shell is told all the same, so it
        // abandons whatever contact it may be creating.
        self.out.push_back(Output::Ended {
            call: cref,
            tenant,
            contact,
            stage: if matches!(prior, State::Talking | State::Connecting) {
                Stage::Talking
            } else if prior == State::Dialling {
                Stage::Unanswered
            } else if callback {
                Stage::CallbackKept
            } else {
                Stage::Waiting
            },
            by,
        });
        let c = &self.calls[&cref];
        if c.caller.resend.is_none() {
            self.forget(cref);
        }
    }

    fn forget(&mut self, cref: CallRef) {
        if let Some(c) = self.calls.remove(&cref) {
            self.dialogs.remove(&c.caller.call_id);
            if let Some(a) = &c.agent {
                self.dialogs.remove(&a.call_id);
            }
            if let Some(a) = &c.far {
                self.dialogs.remove(&a.call_id);
            }
            if let Some(k) = &c.consult {
                self.dialogs.remove(&k.leg.call_id);
            }
            if let Some(contact) = c.contact {
                self.by_contact.remove(&contact);
            }
        }
    }

    /// Hangs a call up from this side (an agent or team leader asked).
    pub fn hang_up(&mut self, now: i64, contact: ContactId) -> bool {
        match self.by_contact.get(&contact).copied() {
            Some(cref)
                if self
                    .calls
                    .get(&cref)
                    .is_some_and(|c| c.state != State::Ended) =>
            {
                self.end_call(now, cref, EndedBy::Switch);
                true
            }
            _ => false,
        }
    }

    /// Whether the contact's call was handed to `agent` by a consultation,
    /// so that their reservation needs no ring (nor a media port).
    pub fn adopts(&self, contact: ContactId, agent: AgentId) -> bool {
        self.by_contact
            .get(&contact)
            .and_then(|c| self.calls.get(c))
            .is_some_and(|c| c.adopting == Some(agent))
    }

    /// The routing engine reserved `agent` for the contact: ring the agent's
    /// phone, offering media on `media_port` (opened by the shell).
    pub fn ring(
        &mut self,
        now: i64,
        contact: ContactId,
        reservation: u64,
        agent: AgentId,
        media_port: u16,
    ) {
        let Some(&cref) = self.by_contact.get(&contact) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        // The agent a consultation handed the call to: already talking.
        if c.adopting == Some(agent) && c.state == State::Talking {
            c.adopting = None;
            if let Some(a) = &mut c.agent {
                a.reservation = reservation;
            }
            let tenant = c.tenant;
            self.out.push_back(Output::AgentAnswered {
                call: cref,
                tenant,
                contact,
                reservation,
            });
            return;
        }
        if c.state != State::Queued {
            return;
        }
        let tenant = c.tenant;
        let reg = self
            .registrations
            .get(&(tenant, agent))
            .filter(|r| r.expires_at > now)
            .cloned();
        let Some(reg) = reg else {
            self.out.push_back(Output::AgentDeclined {
                call: cref,
                tenant,
                contact,
                reservation,
                why: "the agent's phone is not registered".into(),
            });
            return;
        };
        let from_user = c.from_number.clone();
        let leg = self.new_leg(&reg, reservation, media_port, from_user);
        let c = self.calls.get_mut(&cref).expect("present");
        c.state = State::Ringing;
        if let Some(old) = c.agent.replace(leg) {
            self.dialogs.remove(&old.call_id);
        }
        self.invite_leg(now, cref, Which::Agent, &[("Allow", ALLOW)]);
    }

    /// The routing engine reserved `d.agent` for an outbound contact (a
    /// callback, a call the agent asked to make): the agent's phone rings,
    /// showing the number; when it answers, the number is called through
    /// the tenant's carrier. Media: the agent's on `agent_port`, the called
    /// party's on `far_port` (both opened by the shell).
    pub fn dial(
        &mut self,
        now: i64,
        d: Dial,
        agent_port: u16,
        far_port: u16,
    ) -> Result<CallRef, DialError> {
        if !valid_number(&d.number) {
            return Err(DialError::BadNumber);
        }
        if self.by_contact.contains_key(&d.contact) {
            return Err(DialError::InCall);
        }
        if self.calls.len() >= MAX_CALLS {
            return Err(DialError::TooMany);
        }
        let carrier = self
            .dir
            .carriers
            .get(&d.tenant)
            .cloned()
            .ok_or(DialError::NoCarrier)?;
        let reg = self
            .registrations
            .get(&(d.tenant, d.agent))
            .filter(|r| r.expires_at > now)
            .cloned()
            .ok_or(DialError::NotRegistered)?;
        self.counter += 1;
        let cref = CallRef(self.counter);
        let agent = self.new_leg(&reg, d.reservation, agent_port, d.number.clone());
        let far_uri = format!("sip:{}@{}", d.number, carrier.domain);
        let far = AgentLeg {
            reservation: d.reservation,
            call_id: format!("{}@switchboard", self.unique()),
            local_tag: self.unique(),
            remote_tag: None,
            to: far_uri.clone(),
            target: far_uri.clone(),
            signal: carrier.addr,
            branch: String::new(),
            invite: Vec::new(),
            state: AgentState::Calling,
            resend: None,
            cseq: 0,
            media_port: far_port,
            held: false,
            from_user: carrier.caller_id.clone(),
        };
        // The caller leg stands in for the called party until it answers:
        // it carries the codec offered and, then, the dialog.
        let caller = CallerLeg {
            call_id: far.call_id.clone(),
            invite: Message::request("INVITE", &far_uri),
            invite_branch: String::new(),
            local_tag: far.local_tag.clone(),
            target: far_uri,
            signal: carrier.addr,
            route: Vec::new(),
            cseq: 0,
            final_response: None,
            resend: None,
            media_port: far_port,
            remote_rtp: SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0),
            codec: Codec::Pcmu,
            events: Some(101),
            sdp_version: 1,
        };
        self.calls.insert(
            cref,
            Call {
                tenant: d.tenant,
                contact: Some(d.contact),
                state: State::Dialling,
                route: NumberRoute {
                    tenant: d.tenant,
                    queue: d.queue,
                    menu: None,
                },
                from_number: d.number,
                to_number: carrier.caller_id,
                menu_deadline: None,
                queue_prompt: false,
                refer_pending: false,
                callback_offered: false,
                callback_asked: false,
                callback_booked: false,
                caller,
                agent: Some(agent),
                monitor: None,
                far: Some(far),
                outbound: Some(Outbound {
                    auth_tried: false,
                    give_up_at: None,
                }),
                consult: None,
                adopting: None,
            },
        );
        self.by_contact.insert(d.contact, cref);
        self.invite_leg(now, cref, Which::Agent, &[("Allow", ALLOW)]);
        Ok(cref)
    }

    /// A response to the INVITE of an outbound call's called party.
    fn far_response(
        &mut self,
        now: i64,
        from: SocketAddr,
        cref: CallRef,
        resp: &Message,
        code: u16,
        cseq: u32,
    ) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let (tenant, state) = (c.tenant, c.state);
        let Some(contact) = c.contact else {
            return;
        };
        let Some(leg) = c.far.as_mut() else {
            // Answered already: the 2xx again means our ACK was lost.
            if (200..300).contains(&code) && c.caller.signal.ip() == from.ip() {
                self.send_caller_ack(cref, cseq);
            }
            return;
        };
        if leg.signal.ip() != from.ip() {
            self.refused(from, "spoofed", "a response for a call from elsewhere");
            return;
        }
        if leg.state == AgentState::Cancelling || state != State::Connecting {
            // Given up: a failure is acknowledged, a late answer hung up.
            if code >= 200 {
                c.far = None;
                self.orphan_response(now, from, resp, code, cseq);
            }
            return;
        }
        match code {
            100..=199 => leg_proceeding(leg),
            200..=299 => {
                leg_answered(leg, resp);
                self.send_leg_ack(cref, Which::Far, cseq);
                let codec = self.calls[&cref].caller.codec;
                match sdp::parse(&resp.body) {
                    Ok(a) if a.addr.port() != 0 && a.codecs.contains(&codec) => {
                        self.connected(cref, from, resp, a);
                    }
                    _ => {
                        if let Some((to, m)) = self.leg_request(cref, Which::Far, "BYE") {
                            self.send_pending(now, to, m);
                        }
                        let c = self.calls.get_mut(&cref).expect("present");
                        c.far = None;
                        self.out.push_back(Output::DialFailed {
                            call: cref,
                            tenant,
                            contact,
                            code: 488,
                            reason: "the called party's audio was unusable".into(),
                        });
                        self.end_call(now, cref, EndedBy::Switch);
                    }
                }
            }
            401 | 407 => {
                let invite = leg.invite.clone();
                self.ack_failure(from, &invite, resp, cseq);
                let (header, answer) = challenge_headers(code);
                let cnonce = self.unique();
                let c = self.calls.get_mut(&cref).expect("present");
                let tried = c.outbound.is_some_and(|o| o.auth_tried);
                let creds = self.dir.carriers.get(&tenant).and_then(|k| {
                    Some((k.username.clone()?, k.password.clone().unwrap_or_default()))
                });
                let value = match (
                    tried,
                    creds,
                    resp.header(header).and_then(digest::Challenge::parse),
                ) {
                    (false, Some((user, pass)), Some(ch)) => {
                        let uri = c.far.as_ref().map(|l| l.to.clone()).unwrap_or_default();
                        ch.answer("INVITE", &uri, &user, &pass, &cnonce)
                    }
                    _ => None,
                };
                match value {
                    Some(v) => {
                        if let Some(o) = &mut c.outbound {
                            o.auth_tried = true;
                        }
                        if let Some(l) = &mut c.far {
                            l.state = AgentState::Calling;
                        }
                        self.invite_leg(now, cref, Which::Far, &[(answer, &v)]);
                    }
                    None => self.dial_failed(now, cref, code, resp),
                }
            }
            _ => {
                let invite = leg.invite.clone();
                self.ack_failure(from, &invite, resp, cseq);
                self.dial_failed(now, cref, code, resp);
            }
        }
    }

    /// The called party could not be reached: the agent is hung up.
    fn dial_failed(&mut self, now: i64, cref: CallRef, code: u16, resp: &Message) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        c.far = None;
        let (tenant, Some(contact)) = (c.tenant, c.contact) else {
            return;
        };
        let reason = resp
            .reason()
            .chars()
            .filter(|ch| !ch.is_control())
            .take(100)
            .collect();
        self.out.push_back(Output::DialFailed {
            call: cref,
            tenant,
            contact,
            code,
            reason,
        });
        self.end_call(now, cref, EndedBy::Caller);
    }

    /// The called party answered with usable audio: its leg becomes the
    /// caller's, and the two talk.
    fn connected(&mut self, cref: CallRef, from: SocketAddr, resp: &Message, a: sdp::Audio) {
        let host = host_of(&self.our_uri()).to_string();
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let Some(far) = c.far.take() else {
            return;
        };
        let mut stand_in = Message::request("INVITE", &far.to);
        stand_in.push(
            "From",
            format!("<{}>;tag={}", far.to, far.remote_tag.unwrap_or_default()),
        );
        stand_in.push("To", format!("<sip:{}@{host}>", far.from_user));
        let codec = c.caller.codec;
        // A UAC's route set is the Record-Route reversed.
        let route = resp
            .header_all("Record-Route")
            .into_iter()
            .rev()
            .map(str::to_string)
            .collect();
        c.caller = CallerLeg {
            call_id: far.call_id,
            invite: stand_in,
            invite_branch: String::new(),
            local_tag: far.local_tag,
            target: far.target,
            signal: far.signal,
            route,
            cseq: far.cseq,
            final_response: None,
            resend: None,
            media_port: far.media_port,
            remote_rtp: a.addr,
            codec,
            events: a.events,
            sdp_version: 1,
        };
        c.state = State::Talking;
        if let Some(o) = &mut c.outbound {
            o.give_up_at = None;
        }
        let (tenant, contact) = (c.tenant, c.contact);
        self.out.push_back(Output::Media(Media::Caller {
            call: cref,
            port: far.media_port,
            remote: a.addr,
            signal: from.ip(),
            codec,
            events: a.events,
        }));
        self.out
            .push_back(Output::Media(Media::Bridge { call: cref }));
        if let Some(contact) = contact {
            self.out.push_back(Output::Connected {
                call: cref,
                tenant,
                contact,
            });
        }
    }

    /// A new outgoing leg to a registered phone, not yet invited.
    fn new_leg(
        &mut self,
        reg: &Registration,
        reservation: u64,
        media_port: u16,
        from_user: String,
    ) -> AgentLeg {
        let call_id = format!("{}@switchboard", self.unique());
        let host = host_of(&self.our_uri()).to_string();
        AgentLeg {
            reservation,
            call_id,
            local_tag: self.unique(),
            remote_tag: None,
            to: format!("sip:{}@{host}", reg.username),
            target: reg.contact.clone(),
            signal: reg.addr,
            branch: String::new(),
            invite: Vec::new(),
            state: AgentState::Calling,
            resend: None,
            cseq: 0,
            media_port,
            held: false,
            from_user,
        }
    }

    /// Sends the INVITE of a leg just set on the call, offering the
    /// caller's codec on the leg's media port; it is sent again until
    /// answered. False if there is no such leg.
    fn invite_leg(
        &mut self,
        now: i64,
        cref: CallRef,
        which: Which,
        extra: &[(&str, &str)],
    ) -> bool {
        let Some(c) = self.calls.get(&cref) else {
            return false;
        };
        let (codec, events) = (c.caller.codec, c.caller.events.or(Some(101)));
        let Some(leg) = c.leg_ref(which) else {
            return false;
        };
        let (call_id, port) = (leg.call_id.clone(), leg.media_port);
        self.dialogs.insert(call_id, cref);
        let Some((to, mut m)) = self.leg_request(cref, which, "INVITE") else {
            return false;
        };
        m.push("Contact", format!("<{}>", self.our_uri()));
        for (name, value) in extra {
            m.push(name, *value);
        }
        m.push("Content-Type", "application/sdp");
        m.body = sdp::build(
            cref.0 * 4
                + match which {
                    Which::Agent => 0,
                    Which::Monitor => 1,
                    Which::Far => 2,
                    Which::Consult => 3,
                },
            1,
            SocketAddr::new(self.cfg.media_ip, port),
            codec,
            events,
            Direction::SendRecv,
        );
        let branch = m
            .via()
            .and_then(|v| v.branch().map(str::to_string))
            .unwrap_or_default();
        let data = self.send(to, &m);
        if let Some(leg) = self.calls.get_mut(&cref).and_then(|c| c.leg(which)) {
            leg.branch = branch;
            leg.invite = data;
            leg.resend = Some(Resend::new(now));
        }
        true
    }

    fn cancel_agent(&mut self, now: i64, cref: CallRef) {
        self.cancel_leg(now, cref, Which::Agent);
    }

    fn cancel_leg(&mut self, now: i64, cref: CallRef, which: Which) {
        let Some(leg) = self.calls.get_mut(&cref).and_then(|c| c.leg(which)) else {
            return;
        };
        if !matches!(leg.state, AgentState::Calling | AgentState::Proceeding) {
            return;
        }
        leg.state = AgentState::Cancelling;
        leg.resend = None;
        let Ok((invite, _)) = Message::parse(&leg.invite, false) else {
            return;
        };
        let mut m = Message::request("CANCEL", invite.uri());
        for h in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(v) = invite.header(h) {
                m.push(h, v.to_string());
            }
        }
        m.push(
            "CSeq",
            format!("{} CANCEL", invite.cseq().map(|c| c.0).unwrap_or(1)),
        );
        let to = leg.signal;
        self.send_pending(now, to, m);
    }

    /// The routing engine ended a reservation (it expired or the contact
    /// went elsewhere): a phone still ringing for it stops.
    pub fn reservation_ended(&mut self, now: i64, contact: ContactId, reservation: u64) {
        let Some(&cref) = self.by_contact.get(&contact) else {
            return;
        };
        let ringing = self.calls.get(&cref).is_some_and(|c| {
            matches!(c.state, State::Ringing | State::Dialling)
                && c.agent.as_ref().is_some_and(|a| {
                    a.reservation == reservation
                        && matches!(a.state, AgentState::Calling | AgentState::Proceeding)
                })
        });
        if ringing {
            self.cancel_agent(now, cref);
            let c = self.calls.get_mut(&cref).expect("present");
            if c.state == State::Dialling {
                self.end_call(now, cref, EndedBy::Switch);
            } else {
                c.state = State::Queued;
            }
        }
    }

    fn response(&mut self, now: i64, from: SocketAddr, resp: Message) {
        let Some(code) = resp.code() else {
            return;
        };
        let Some((cseq, method)) = resp.cseq().map(|(n, m)| (n, m.to_string())) else {
            return;
        };
        let call_id = resp.call_id().unwrap_or_default().to_string();
        if method == "REGISTER" {
            return self.carrier_response(now, from, &resp, code, cseq);
        }
        if method != "INVITE" {
            if code >= 200 {
                self.pending
                    .retain(|p| !(p.call_id == call_id && p.cseq == (cseq, method.clone())));
            } else if let Some(p) = self
                .pending
                .iter_mut()
                .find(|p| p.call_id == call_id && p.cseq.0 == cseq)
            {
                // Provisional: keep trying, but at T2 (RFC 3261 17.1.2.2).
                p.resend.interval = T2_MS;
                p.resend.at = now + T2_MS;
            }
            return;
        }
        let monitor = self
            .dialogs
            .get(&call_id)
            .and_then(|cref| self.calls.get(cref))
            .and_then(|c| c.leg_ref(Which::Monitor))
            .is_some_and(|a| a.call_id == call_id);
        if monitor {
            let cref = self.dialogs[&call_id];
            return self.monitor_response(now, from, cref, &resp, code, cseq);
        }
        let consult = self
            .dialogs
            .get(&call_id)
            .and_then(|cref| self.calls.get(cref))
            .and_then(|c| c.consult.as_ref())
            .is_some_and(|k| k.leg.call_id == call_id);
        if consult {
            let cref = self.dialogs[&call_id];
            return self.consult_response(now, from, cref, &resp, code, cseq);
        }
        let far = self
            .dialogs
            .get(&call_id)
            .and_then(|cref| self.calls.get(cref))
            .is_some_and(|c| c.outbound.is_some() && c.caller.call_id == call_id);
        if far {
            let cref = self.dialogs[&call_id];
            return self.far_response(now, from, cref, &resp, code, cseq);
        }
        let ours = self
            .dialogs
            .get(&call_id)
            .and_then(|cref| self.calls.get(cref))
            .and_then(|c| c.agent.as_ref())
            .is_some_and(|a| a.call_id == call_id);
        if !ours {
            return self.orphan_response(now, from, &resp, code, cseq);
        }
        let cref = self.dialogs[&call_id];
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let Some(leg) = c.agent.as_mut().filter(|a| a.call_id == call_id) else {
            return;
        };
        if leg.signal.ip() != from.ip() {
            self.refused(from, "spoofed", "a response for a call from elsewhere");
            return;
        }
        let tenant = c.tenant;
        let Some(contact) = c.contact else {
            return;
        };
        let to_tag = resp.to_addr().and_then(|a| a.tag().map(str::to_string));
        match code {
            100..=199 => leg_proceeding(leg),
            200..=299 => {
                let first = matches!(
                    leg.state,
                    AgentState::Calling | AgentState::Proceeding | AgentState::Cancelling
                ) && leg.remote_tag.is_none();
                leg.remote_tag = to_tag;
                if let Some(t) = resp.header("Contact").and_then(NameAddr::parse) {
                    leg.target = t.uri;
                }
                leg.resend = None;
                let cancelled = leg.state == AgentState::Cancelling
                    || !matches!(c.state, State::Ringing | State::Dialling);
                let outbound = c.state == State::Dialling;
                let answer = sdp::parse(&resp.body);
                if first {
                    leg.state = AgentState::Answered;
                }
                self.send_ack(cref, cseq);
                if !first {
                    return;
                }
                let reservation = leg_reservation(self.calls.get(&cref));
                match answer {
                    Ok(a) if !cancelled && outbound && a.addr.port() != 0 => {
                        // The agent is on: now the number is called, with
                        // the codec the phone chose.
                        let c = self.calls.get_mut(&cref).expect("present");
                        c.state = State::Connecting;
                        if let Some(&codec) = a.codecs.first() {
                            c.caller.codec = codec;
                        }
                        if let Some(o) = &mut c.outbound {
                            o.give_up_at = Some(now + DIAL_RING_MS);
                        }
                        let port = c.agent.as_ref().map(|a| a.media_port).unwrap_or(0);
                        self.out.push_back(Output::AgentAnswered {
                            call: cref,
                            tenant,
                            contact,
                            reservation,
                        });
                        self.out.push_back(Output::Media(Media::Agent {
                            call: cref,
                            port,
                            remote: a.addr,
                            signal: from.ip(),
                        }));
                        self.invite_leg(now, cref, Which::Far, &[("Allow", ALLOW)]);
                    }
                    Ok(a) if !cancelled && a.addr.port() != 0 => {
                        let c = self.calls.get_mut(&cref).expect("present");
                        c.state = State::Talking;
                        let port = c.agent.as_ref().map(|a| a.media_port).unwrap_or(0);
                        self.out.push_back(Output::AgentAnswered {
                            call: cref,
                            tenant,
                            contact,
                            reservation,
                        });
                        self.out.push_back(Output::Media(Media::Agent {
                            call: cref,
                            port,
                            remote: a.addr,
                            signal: from.ip(),
                        }));
                        self.out
                            .push_back(Output::Media(Media::Bridge { call: cref }));
                    }
                    other => {
                        // Answered too late, or with nothing we can use.
                        if let Some((to, m)) = self.agent_request(cref, "BYE") {
                            self.send_pending(now, to, m);
                        }
                        let c = self.calls.get_mut(&cref).expect("present");
                        if let Some(a) = c.agent.take() {
                            self.dialogs.remove(&a.call_id);
                        }
                        let c = self.calls.get_mut(&cref).expect("present");
                        if !cancelled {
                            c.state = State::Queued;
                            self.out.push_back(Output::AgentDeclined {
                                call: cref,
                                tenant,
                                contact,
                                reservation,
                                why: match other {
                                    Err(e) => format!("the phone's answer was unusable: {e}"),
                                    Ok(_) => "the phone refused the audio stream".into(),
                                },
                            });
                            if outbound {
                                c.state = State::Dialling;
                                self.end_call(now, cref, EndedBy::Agent);
                            }
                        }
                    }
                }
            }
            _ => {
                // A failure: acknowledged on the same branch (RFC 3261 17.1.1.3).
                let invite = leg.invite.clone();
                let state = leg.state;
                let reservation = leg.reservation;
                self.ack_failure(from, &invite, &resp, cseq);
                let c = self.calls.get_mut(&cref).expect("present");
                if let Some(a) = c.agent.take() {
                    self.dialogs.remove(&a.call_id);
                }
                if state != AgentState::Cancelling
                    && matches!(c.state, State::Ringing | State::Dialling)
                {
                    let outbound = c.state == State::Dialling;
                    if !outbound {
                        c.state = State::Queued;
                    }
                    self.out.push_back(Output::AgentDeclined {
                        call: cref,
                        tenant,
                        contact,
                        reservation,
                        why: format!("the phone answered {code}"),
                    });
                    if outbound {
                        self.end_call(now, cref, EndedBy::Agent);
                    }
                }
            }
        }
    }

    /// A final response to an INVITE of a leg no longer wanted (cancelled,
    /// replaced): acknowledged, and a late answer hung up.
    fn orphan_response(
        &mut self,
        now: i64,
        from: SocketAddr,
        resp: &Message,
        code: u16,
        cseq: u32,
    ) {
        if code < 200 {
            return;
        }
        let (Some(to), Some(from_h), Some(call_id), Some(via)) = (
            resp.header("To"),
            resp.header("From"),
            resp.call_id(),
            resp.header_all("Via").first().map(|v| v.to_string()),
        ) else {
            return;
        };
        let to_uri = NameAddr::parse(to).map(|a| a.uri).unwrap_or_default();
        let target = resp
            .header("Contact")
            .and_then(NameAddr::parse)
            .map(|c| c.uri)
            .unwrap_or_else(|| to_uri.clone());
        let mut ack = Message::request("ACK", if code < 300 { &target } else { &to_uri });
        if code < 300 {
            // A 2xx ACK is a new transaction.
            let branch = format!("z9hG4bK{}", self.unique());
            ack.push("Via", self.via(&branch, from));
        } else {
            ack.push("Via", via);
        }
        ack.push("Max-Forwards", "70");
        ack.push("From", from_h.to_string());
        ack.push("To", to.to_string());
        ack.push("Call-ID", call_id.to_string());
        ack.push("CSeq", format!("{cseq} ACK"));
        self.send(from, &ack);
        if code < 300 {
            let branch = format!("z9hG4bK{}", self.unique());
            let mut bye = Message::request("BYE", &target);
            bye.push("Via", self.via(&branch, from));
            bye.push("Max-Forwards", "70");
            bye.push("From", from_h.to_string());
            bye.push("To", to.to_string());
            bye.push("Call-ID", call_id.to_string());
            bye.push("CSeq", format!("{} BYE", cseq + 1));
            self.send_pending(now, from, bye);
        }
    }

    /// Acknowledges a failure to one of our INVITEs (the bytes we sent):
    /// the same branch, the response's To (RFC 3261 17.1.1.3).
    fn ack_failure(&mut self, to: SocketAddr, invite: &[u8], resp: &Message, cseq: u32) {
        let Ok((inv, _)) = Message::parse(invite, false) else {
            return;
        };
        let mut ack = Message::request("ACK", inv.uri());
        for h in ["Via", "Max-Forwards", "From", "Call-ID"] {
            if let Some(v) = inv.header(h) {
                ack.push(h, v.to_string());
            }
        }
        if let Some(t) = resp.header("To") {
            ack.push("To", t.to_string());
        }
        ack.push("CSeq", format!("{cseq} ACK"));
        self.send(to, &ack);
    }

    fn send_ack(&mut self, cref: CallRef, cseq: u32) {
        self.send_leg_ack(cref, Which::Agent, cseq);
    }

    /// Acknowledges a 2xx to one of our INVITEs on an outgoing leg.
    fn send_leg_ack(&mut self, cref: CallRef, which: Which, cseq: u32) {
        let Some((to, mut m)) = self.leg_request(cref, which, "ACK") else {
            return;
        };
        // The ACK carries the INVITE's CSeq number, and does not count.
        if let Some(leg) = self.calls.get_mut(&cref).and_then(|c| c.leg(which)) {
            leg.cseq -= 1;
        }
        m.remove("CSeq");
        m.push("CSeq", format!("{cseq} ACK"));
        self.send(to, &m);
    }

    /// Acknowledges a 2xx again on an outbound call's answered leg.
    fn send_caller_ack(&mut self, cref: CallRef, cseq: u32) {
        let Some((to, mut m)) = self.caller_request(cref, "ACK") else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&cref) {
            c.caller.cseq -= 1;
        }
        m.remove("CSeq");
        m.push("CSeq", format!("{cseq} ACK"));
        self.send(to, &m);
    }

    /// When [`Switch::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<i64> {
        let calls = self.calls.values().flat_map(|c| {
            [
                c.caller.resend.map(|r| r.at),
                c.agent.as_ref().and_then(|a| a.resend.map(|r| r.at)),
                c.leg_ref(Which::Monitor)
                    .and_then(|a| a.resend.map(|r| r.at)),
                c.far.as_ref().and_then(|a| a.resend.map(|r| r.at)),
                c.consult.as_ref().and_then(|k| k.leg.resend.map(|r| r.at)),
                c.consult
                    .as_ref()
                    .filter(|k| k.leg.state != AgentState::Answered)
                    .map(|k| k.until),
                c.outbound.and_then(|o| o.give_up_at),
                c.menu_deadline,
            ]
        });
        let pending = self.pending.iter().map(|p| Some(p.resend.at));
        let carriers = self.carrier_regs.values().map(|r| {
            Some(match &r.pending {
                Some((_, rs)) => rs.at,
                None => r.next_at,
            })
        });
        calls.chain(pending).chain(carriers).flatten().min()
    }

    /// Time passed: retransmissions, and transactions that ran out.
    pub fn handle_timeout(&mut self, now: i64) {
        let due: Vec<CallRef> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.menu_deadline.is_some_and(|d| d <= now)
                    || c.leg_ref(Which::Monitor)
                        .is_some_and(|a| a.resend.is_some_and(|r| r.at <= now))
                    || c.caller.resend.is_some_and(|r| r.at <= now)
                    || c.far
                        .as_ref()
                        .is_some_and(|a| a.resend.is_some_and(|r| r.at <= now))
                    || c.outbound
                        .is_some_and(|o| o.give_up_at.is_some_and(|t| t <= now))
                    || c.consult.as_ref().is_some_and(|k| {
                        k.leg.resend.is_some_and(|r| r.at <= now)
                            || (k.leg.state != AgentState::Answered && k.until <= now)
                    })
                    || c.agent
                        .as_ref()
                        .is_some_and(|a| a.resend.is_some_and(|r| r.at <= now))
            })
            .map(|(k, _)| *k)
            .collect();
        for cref in due {
            self.call_timers(now, cref);
        }
        let mut resend = Vec::new();
        self.pending.retain_mut(|p| {
            if p.resend.at > now {
                return true;
            }
            if now >= p.resend.deadline {
                return false;
            }
            p.resend.bump(now, T2_MS);
            resend.push((p.to, p.data.clone()));
            true
        });
        for (to, data) in resend {
            self.out.push_back(Output::Send { to, data });
        }
        self.carrier_timers(now);
        self.answered.retain(|_, (_, _, until)| *until > now);
        self.registrations
            .retain(|_, r| r.expires_at > now - TXN_MS);
        self.failures
            .retain(|_, f| f.blocked_until > now || now - f.since <= FAIL_WINDOW_MS);
        let second = now.div_euclid(1000);
        self.rates.retain(|_, (s, _)| *s >= second - 1);
    }

    fn call_timers(&mut self, now: i64, cref: CallRef) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        if let Some((leg, _, _)) = c.monitor.as_mut()
            && let Some(mut r) = leg.resend.filter(|r| r.at <= now)
        {
            if now >= r.deadline {
                leg.resend = None;
                self.drop_monitor(now, cref, false, "the team leader's phone did not answer");
            } else {
                r.bump(now, i64::MAX);
                leg.resend = Some(r);
                let (to, data) = (leg.signal, leg.invite.clone());
                self.out.push_back(Output::Send { to, data });
            }
        }
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let give_up = c
            .outbound
            .is_some_and(|o| o.give_up_at.is_some_and(|t| t <= now));
        let far_due = c.far.as_mut().and_then(|leg| {
            let mut r = leg.resend.filter(|r| r.at <= now)?;
            if now >= r.deadline {
                leg.resend = None;
                return Some(None);
            }
            r.bump(now, i64::MAX);
            leg.resend = Some(r);
            Some(Some((leg.signal, leg.invite.clone())))
        });
        match far_due {
            Some(Some((to, data))) => self.out.push_back(Output::Send { to, data }),
            // Timer B: the carrier never answered.
            Some(None) => return self.gave_up(now, cref, "the carrier did not answer"),
            None => {}
        }
        if give_up {
            return self.gave_up(now, cref, "no answer");
        }
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let consult_due = c.consult.as_mut().and_then(|k| {
            if k.leg.state != AgentState::Answered && k.until <= now {
                return Some(None);
            }
            let mut r = k.leg.resend.filter(|r| r.at <= now)?;
            if now >= r.deadline {
                k.leg.resend = None;
                return Some(None);
            }
            r.bump(now, i64::MAX);
            k.leg.resend = Some(r);
            Some(Some((k.leg.signal, k.leg.invite.clone())))
        });
        match consult_due {
            Some(Some((to, data))) => self.out.push_back(Output::Send { to, data }),
            Some(None) => self.drop_consult(now, cref, true, "the other agent did not answer"),
            None => {}
        }
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        if c.menu_deadline.is_some_and(|d| d <= now) && c.state == State::Menu {
            // No key in time: the number's own queue.
            self.send_to_queue(cref, None);
        }
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        if let Some(mut r) = c.caller.resend.filter(|r| r.at <= now) {
            if now >= r.deadline {
                c.caller.resend = None;
                if c.state == State::Ended {
                    self.forget(cref);
                } else {
                    // The caller never acknowledged the answer: gone.
                    self.end_call(now, cref, EndedBy::Switch);
                }
                return;
            }
            r.bump(now, T2_MS);
            c.caller.resend = Some(r);
            if let Some(data) = c.caller.final_response.clone() {
                let to = c.caller.signal;
                self.out.push_back(Output::Send { to, data });
            }
        }
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        let tenant = c.tenant;
        let Some(contact) = c.contact else {
            return;
        };
        if let Some(leg) = c.agent.as_mut()
            && let Some(mut r) = leg.resend.filter(|r| r.at <= now)
        {
            if now >= r.deadline {
                // Timer B: the phone never answered at all.
                leg.resend = None;
                let reservation = leg.reservation;
                let id = leg.call_id.clone();
                c.agent = None;
                let outbound = c.state == State::Dialling;
                if !outbound {
                    c.state = State::Queued;
                }
                self.dialogs.remove(&id);
                self.out.push_back(Output::AgentDeclined {
                    call: cref,
                    tenant,
                    contact,
                    reservation,
                    why: "the phone did not answer".into(),
                });
                if outbound {
                    self.end_call(now, cref, EndedBy::Agent);
                }
                return;
            }
            r.bump(now, i64::MAX);
            leg.resend = Some(r);
            let (to, data) = (leg.signal, leg.invite.clone());
            self.out.push_back(Output::Send { to, data });
        }
    }
}

impl Switch {
    /// An outbound call's called party did not answer in time: its ringing
    /// is cancelled and the call ends.
    fn gave_up(&mut self, now: i64, cref: CallRef, why: &str) {
        let Some(c) = self.calls.get_mut(&cref) else {
            return;
        };
        if let Some(o) = &mut c.outbound {
            o.give_up_at = None;
        }
        if c.state != State::Connecting {
            return;
        }
        let (tenant, Some(contact)) = (c.tenant, c.contact) else {
            return;
        };
        self.out.push_back(Output::DialFailed {
            call: cref,
            tenant,
            contact,
            code: 408,
            reason: why.into(),
        });
        self.end_call(now, cref, EndedBy::Switch);
    }
}

fn leg_reservation(c: Option<&Call>) -> u64 {
    c.and_then(|c| c.agent.as_ref())
        .map(|a| a.reservation)
        .unwrap_or(0)
}

/// A number that may be dialled out: 3 to 20 digits, `+` first or not.
pub fn valid_number(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Where a 401 or 407 carries its challenge, and where the answer goes.
fn challenge_headers(code: u16) -> (&'static str, &'static str) {
    if code == 401 {
        ("WWW-Authenticate", "Authorization")
    } else {
        ("Proxy-Authenticate", "Proxy-Authorization")
    }
}

/// A provisional response to a leg's INVITE: it rings, and stops being
/// sent again.
fn leg_proceeding(leg: &mut AgentLeg) {
    if leg.state == AgentState::Calling {
        leg.state = AgentState::Proceeding;
    }
    leg.resend = None;
}

/// A 2xx to a leg's INVITE: the dialog's tag and target kept, the leg
/// answered. True the first time.
fn leg_answered(leg: &mut AgentLeg, resp: &Message) -> bool {
    let first = leg.state != AgentState::Answered;
    leg.remote_tag = resp.to_addr().and_then(|a| a.tag().map(str::to_string));
    if let Some(t) = resp.header("Contact").and_then(NameAddr::parse) {
        leg.target = t.uri;
    }
    leg.resend = None;
    leg.state = AgentState::Answered;
    first
}

fn host_of(uri: &str) -> &str {
    uri.split('@').nth(1).unwrap_or(uri)
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field("calls", &self.calls.len())
            .field("registrations", &self.registrations.len())
            .finish()
    }
}
