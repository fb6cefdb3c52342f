//! The voice channel's shell: one UDP socket and a TCP listener for SIP
//! driving
//! [`sb_sip::Switch`], the routing engine's reservations turned into rings,
//! and one media task per call (music on hold, relay, recording).
//!
//! The loop owns the switch. It feeds it datagrams, the callers' keys and
//! the ends of prompts from the media tasks, the routing engine's
//! live events (a reservation made for a call rings the agent's phone; one
//! that expired stops the ringing; a contact completed from the desk hangs
//! the call up), the results of work it started (a contact created for a
//! new call), and the time. Everything the switch asks for that needs the
//! store or the engine (create, accept, reject, abandon, complete) runs in
//! its own task, so signalling never waits on a database.

mod media;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sb_app::contacts::NewContact;
use sb_app::voice::VoiceRequest;
use sb_app::{App, AppError, Principal};
use sb_model::{AgentId, Channel, ContactId, Direction, TenantId, Text};
use sb_sip::switch::{Carrier, Dial, Menu, NumberRoute, Phone, Trunk};
use sb_sip::{CallRef, Config, Directory, Media, MonitorError, MonitorMode, Output, Stage, Switch};
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// How long a reservation seen before its call is known is kept.
const EARLY_KEPT: Duration = Duration::from_secs(30);

pub use media::Clip;

/// How the voice channel listens.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// SIP over UDP.
    pub bind: SocketAddr,
    /// The address put in SIP and SDP for peers to reach; the bound address
    /// when it is specific, else 127.0.0.1.
    pub advertise: Option<IpAddr>,
    /// Music on hold (8 kHz mono 16-bit WAV); a built-in phrase when absent.
    pub moh: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// Media threads at real-time priority (when the process may).
    pub media_realtime: bool,
}

/// The running voice channel.
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    /// Where SIP listens.
    pub addr: SocketAddr,
}

/// Binds the SIP socket and starts serving calls.
pub async fn start(app: App, cfg: VoiceConfig) -> Result<Voice> {
    media::start_runtime(cfg.media_realtime);
    let moh = Arc::new(match &cfg.moh {
        Some(p) => Clip::load(p)?,
        None => Clip::built_in(),
    });
    // UDP and TCP on the same address and port. An ephemeral port (`:0`)
    // free for UDP may be taken for TCP: another is tried.
    let mut tries = 0;
    let (socket, tcp, local) = loop {
        tries += 1;
        let socket = UdpSocket::bind(cfg.bind).await.with_context(|| {
            format!(
                "cannot listen for SIP on {} (choose another address with --sip)",
                cfg.bind
            )
        })?;
        let local = socket.local_addr()?;
        match tokio::net::TcpListener::bind(local).await {
            Ok(tcp) => break (socket, tcp, local),
            Err(e)
                if cfg.bind.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && tries < 20 =>
            {
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot listen for SIP over TCP on {local} (choose another address with --sip)"
                    )
                });
            }
        }
    };
    let advertise = cfg.advertise.unwrap_or(if local.ip().is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        local.ip()
    });
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let mut inst = [0u8; 4];
    getrandom::fill(&mut inst).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let (dir, prompt_names) = directory(&app).await?;
    // Calls this node had when it last stopped are gone: their contacts
    // are closed so no queue keeps offering callers who are not there.
    let node = node_name();
    let tenants: Vec<TenantId> = {
        let mut t: Vec<TenantId> = dir.numbers.values().map(|r| r.tenant).collect();
        t.sort();
        t.dedup();
        t
    };
    match app.close_orphaned_calls(&tenants, &node).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(calls = n, "calls cut by the last stop were closed"),
        Err(e) => tracing::warn!(error = %e, "calls cut by the last stop could not be closed"),
    }
    let switch = Switch::new(
        Config {
            sip_addr: SocketAddr::new(advertise, local.port()),
            media_ip: advertise,
            realm: sb_app::voice::SIP_REALM.into(),
            secret,
            instance: hex::encode(inst),
            user_agent: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
        },
        dir,
    );
    let (media_events, media_rx) = mpsc::unbounded_channel();
    let (stream_tx, stream_rx) = mpsc::channel(1024);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    tokio::spawn(accept_tcp(tcp, stream_tx));
    let shell = Shell {
        node,
        app,
        socket: Arc::new(socket),
        switch,
        moh,
        media_ip: local.ip(),
        data_dir: cfg.data_dir,
        calls: HashMap::new(),
        early: HashMap::new(),
        early_order: VecDeque::new(),
        creating: HashSet::new(),
        cancelled: HashSet::new(),
        prompts: HashMap::new(),
        prompt_names,
        media_events,
        connections: HashMap::new(),
        done_tx,
    };
    tokio::spawn(shell.run(media_rx, stream_rx, done_rx));
    Ok(Voice { addr: local })
}

/// Prompt names callers hear while waiting: their place (`position-3`),
/// else a general announcement; a callback offer and its confirmation.
pub const POSITION_PROMPT: &str = "position-";
pub const ANNOUNCEMENT_PROMPT: &str = "queue-announcement";
pub const CALLBACK_OFFER_PROMPT: &str = "callback-offer";
pub const CALLBACK_BOOKED_PROMPT: &str = "callback-booked";

/// The switch's directory from the store's, and which prompts each tenant has.
async fn directory(app: &App) -> Result<(Directory, HashSet<(TenantId, String)>)> {
    let d = app.voice_directory().await?;
    let prompts = d
        .prompts
        .iter()
        .filter_map(|(t, n)| Some((t.parse().ok()?, n.clone())))
        .collect();
    let mut dir = Directory::default();
    for n in d.numbers {
        let Ok(queue) = n.queue_id.parse() else {
            continue;
        };
        let menu = n
            .menu
            .as_deref()
            .and_then(|m| serde_json::from_str::<sb_app::voice::MenuSpec>(m).ok())
            .map(|m| Menu {
                prompt: m.prompt,
                options: m
                    .options
                    .iter()
                    .filter_map(|(k, q)| Some((k.chars().next()?, q.parse().ok()?)))
                    .collect(),
                timeout_ms: i64::from(m.timeout_seconds) * 1000,
                hours: m.business_hours_id.and_then(|h| h.parse().ok()),
                closed_prompt: m.closed_prompt,
            });
        dir.numbers.insert(
            n.number,
            NumberRoute {
                tenant: n.tenant_id,
                queue,
                menu,
            },
        );
    }
    for t in d.trunks {
        // The first trunk (by name) that takes outbound calls carries the
        // tenant's.
        if let (Some(out), Some(caller_id)) = (&t.outbound, &t.caller_id)
            && !dir.carriers.contains_key(&t.tenant_id)
        {
            match resolve(out).await {
                Some((addr, domain)) => {
                    dir.carriers.insert(
                        t.tenant_id,
                        Carrier {
                            addr,
                            domain,
                            username: t.auth_username.clone(),
                            password: t.auth_password.clone(),
                            caller_id: caller_id.clone(),
                            register: t.registration == 1,
                        },
                    );
                }
                None => tracing::warn!(
                    trunk = t.name,
                    "the trunk's outbound address does not resolve"
                ),
            }
        }
        let sources: Vec<String> = serde_json::from_str(&t.sources).unwrap_or_default();
        dir.trunks.push(Trunk {
            tenant: t.tenant_id,
            sources: sources.iter().filter_map(|s| s.parse().ok()).collect(),
        });
    }
    for p in d.phones {
        let Ok(agent) = p.agent_id.parse() else {
            continue;
        };
        dir.phones.insert(
            p.username,
            Phone {
                tenant: p.tenant_id,
                agent,
                ha1_md5: p.ha1_md5,
                ha1_sha256: p.ha1_sha256,
            },
        );
    }
    Ok((dir, prompts))
}

/// `host` or `host:port` (5060 by default) as an address, and the host to
/// name in request URIs.
async fn resolve(out: &str) -> Option<(SocketAddr, String)> {
    if let Ok(a) = out.parse::<SocketAddr>() {
        return Some((a, a.ip().to_string()));
    }
    if let Ok(ip) = out.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Some((SocketAddr::new(ip, 5060), ip.to_string()));
    }
    let (host, port) = match out.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (out, 5060u16),
    };
    let addr = tokio::net::lookup_host((host, port)).await.ok()?.next()?;
    Some((addr, host.to_string()))
}

/// This machine's name (its calls' contacts are closed when it restarts).
fn node_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".into())
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Results of work the loop started.
enum Done {
    /// A new call's media port is open and its menu's hours are known.
    Ready {
        call: CallRef,
        tenant: TenantId,
        socket: std::net::UdpSocket,
        open: bool,
    },
    /// No media port could be opened.
    NoMedia {
        call: CallRef,
    },
    Queued {
        call: CallRef,
        tenant: TenantId,
        contact: ContactId,
    },
    Refused {
        call: CallRef,
    },
    Prompt {
        call: CallRef,
        clip: Option<Arc<Clip>>,
    },
    CallbackBooked {
        call: CallRef,
        tenant: TenantId,
        ok: bool,
    },
    Transferred {
        call: CallRef,
        ok: bool,
    },
    /// A callback (or a call an agent asked for) offered to an agent, with
    /// the number to dial.
    Dial {
        tenant: TenantId,
        contact: ContactId,
        reservation: u64,
        agent: AgentId,
        target: sb_app::voice::DialTarget,
    },
}

struct CallMedia {
    tenant: TenantId,
    contact: Option<ContactId>,
    /// The team leader's agent monitoring the call.
    monitor: Option<AgentId>,
    /// Since when the agent has held the caller.
    held_since: Option<Instant>,
    /// A call an agent asked to make: left unanswered, it is dropped.
    click: bool,
    tx: mpsc::UnboundedSender<media::Command>,
}

struct Shell {
    /// This node's name, kept on the contacts of its calls.
    node: String,
    app: App,
    socket: Arc<UdpSocket>,
    switch: Switch,
    moh: Arc<Clip>,
    media_ip: IpAddr,
    data_dir: PathBuf,
    calls: HashMap<CallRef, CallMedia>,
    /// Reservations seen for voice contacts not yet known to be calls (the
    /// live event can overtake the contact's creation), kept 30 s.
    early: HashMap<ContactId, (u64, AgentId, Instant)>,
    /// The same contacts in the order they were remembered, so that those
    /// kept too long are forgotten from the front without a scan.
    early_order: VecDeque<(Instant, ContactId)>,
    /// Calls whose contact is being created.
    creating: HashSet<CallRef>,
    /// Calls the caller left while their contact was being created.
    cancelled: HashSet<CallRef>,
    /// Prompts read from their files, by tenant and name.
    prompts: HashMap<(TenantId, String), Arc<Clip>>,
    /// The prompts each tenant has.
    prompt_names: HashSet<(TenantId, String)>,
    media_events: mpsc::UnboundedSender<(CallRef, media::Event)>,
    /// Open TCP connections, by peer: where their messages are written.
    connections: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// Where work the loop started reports back.
    done_tx: mpsc::UnboundedSender<Done>,
}

/// What the TCP side tells the loop.
enum Stream {
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>),
    /// One whole SIP message from a peer.
    Message(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
}

/// The most a TCP peer may have sent without completing a message.
const MAX_STREAM_BUFFER: usize = sb_sip::msg::MAX_MESSAGE + sb_sip::msg::MAX_HEAD;

/// Accepts SIP connections; each is read into whole messages (framed by
/// Content-Length) and written from a queue.
async fn accept_tcp(listener: tokio::net::TcpListener, tx: mpsc::Sender<Stream>) {
    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "SIP accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            tracing::debug!(%peer, "SIP over TCP: connected");
            let (mut reader, mut writer) = conn.into_split();
            let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(256);
            if tx.send(Stream::Opened(peer, out_tx)).await.is_err() {
                return;
            }
            let write = tokio::spawn(async move {
                while let Some(data) = out_rx.recv().await {
                    if writer.write_all(&data).await.is_err() {
                        break;
                    }
                }
            });
            let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
            let mut chunk = vec![0u8; 16 * 1024];
            'read: loop {
                let n = match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match sb_sip::Message::parse(&buf, true) {
                        Ok((_, used)) => {
                            let msg: Vec<u8> = buf.drain(..used).collect();
                            if tx.send(Stream::Message(peer, msg)).await.is_err() {
                                break 'read;
                            }
                        }
                        // Keep-alives: nothing to frame yet.
                        Err(_) if buf.iter().all(|b| matches!(b, b'\r' | b'\n')) => {
                            buf.clear();
                            break;
                        }
                        Err(sb_sip::ParseError::Truncated | sb_sip::ParseError::ShortBody)
                            if buf.len() <= MAX_STREAM_BUFFER =>
                        {
                            break;
                        }
                        // A stream that cannot be framed cannot be trusted again.
                        Err(e) => {
                            metrics::counter!("switchboard_sip_refused_total", "what" => "malformed").increment(1);
                            tracing::warn!(%peer, error = %e, "SIP over TCP: connection closed");
                            break 'read;
                        }
                    }
                }
            }
            write.abort();
            let _ = tx.send(Stream::Closed(peer)).await;
        });
    }
}

fn principal(tenant: TenantId) -> Principal {
    Principal {
        source: "voice".into(),
        ..Principal::cli(tenant)
    }
}

/// Binds a media socket next to the SIP one (it is served on the media
/// threads).
async fn media_socket(ip: IpAddr) -> std::io::Result<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl Shell {
    async fn run(
        mut self,
        mut media_rx: mpsc::UnboundedReceiver<(CallRef, media::Event)>,
        mut stream_rx: mpsc::Receiver<Stream>,
        mut done_rx: mpsc::UnboundedReceiver<Done>,
    ) {
        let done_tx = self.done_tx.clone();
        let (req_tx, mut req_rx) = mpsc::channel::<VoiceRequest>(64);
        self.app.voice_state().attach(req_tx);
        let mut live = self.app.subscribe_live();
        let changed = self.app.voice_state().changed;
        let mut reload = tokio::time::interval(Duration::from_secs(5));
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut buf = vec![0u8; 65_536];
        loop {
            let wait = self
                .switch
                .poll_timeout()
                .map(|t| Duration::from_millis((t - wall_ms()).max(0) as u64));
            let timer = async {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        metrics::counter!("switchboard_sip_messages_total").increment(1);
                        self.switch.receive(wall_ms(), from, &buf[..n]);
                    }
                    Err(e) => tracing::debug!(error = %e, "SIP receive"),
                },
                Some(s) = stream_rx.recv() => match s {
                    Stream::Opened(peer, tx) => {
                        self.connections.insert(peer, tx);
                    }
                    Stream::Message(peer, bytes) => {
                        metrics::counter!("switchboard_sip_messages_total").increment(1);
                        self.switch.receive_stream(wall_ms(), peer, &bytes);
                    }
                    Stream::Closed(peer) => {
                        self.connections.remove(&peer);
                        self.switch.connection_closed(peer);
                    }
                },
                Some(d) = done_rx.recv() => self.done(d).await,
                Some(r) = req_rx.recv() => self.request(r).await,
                Some((call, e)) = media_rx.recv() => match e {
                    media::Event::Key(k) => self.switch.dtmf(wall_ms(), call, k),
                    media::Event::PromptDone => self.switch.prompt_done(wall_ms(), call),
                    media::Event::Recording { paused, at_ms } => {
                        if let Some(m) = self.calls.get(&call)
                            && let Some(contact) = m.contact
                        {
                            spawn_event(
                                self.app.clone(),
                                m.tenant,
                                contact,
                                if paused { "call.recording_paused" } else { "call.recording_resumed" },
                                json!({ "at_ms": at_ms }),
                                0,
                            );
                        }
                    }
                },
                r = live.recv() => match r {
                    Ok(e) => self.live(&e).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "the voice channel fell behind the routing events");
                    }
                    Err(_) => break,
                },
                _ = reload.tick() => self.reload().await,
                _ = changed.notified() => self.reload().await,
                _ = timer => self.switch.handle_timeout(wall_ms()),
            }
            self.drain(&done_tx).await;
        }
    }

    async fn reload(&mut self) {
        // Prompts may have been replaced.
        self.prompts.clear();
        match directory(&self.app).await {
            Ok((d, names)) => {
                self.switch.set_directory(d);
                self.prompt_names = names;
            }
            Err(e) => tracing::warn!(error = %e, "the voice directory could not be read"),
        }
    }

    async fn done(&mut self, d: Done) {
        match d {
            Done::Ready {
                call,
                tenant,
                socket,
                open,
            } => {
                let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
                let tx = media::spawn(call, socket, self.moh.clone(), self.media_events.clone());
                self.calls.insert(
                    call,
                    CallMedia {
                        tenant,
                        contact: None,
                        monitor: None,
                        held_since: None,
                        click: false,
                        tx,
                    },
                );
                if !self.switch.accept(wall_ms(), call, port, open) {
                    // The caller left while the port was being opened.
                    if let Some(m) = self.calls.remove(&call) {
                        let _ = m.tx.send(media::Command::Stop);
                    }
                }
            }
            Done::NoMedia { call } => {
                self.switch
                    .call_refused(wall_ms(), call, 503, "Service Unavailable");
            }
            Done::Queued {
                call,
                tenant,
                contact,
            } => {
                self.creating.remove(&call);
                if self.cancelled.remove(&call) {
                    spawn_abandon(self.app.clone(), tenant, contact);
                    return;
                }
                if let Some(m) = self.calls.get_mut(&call) {
                    m.contact = Some(contact);
                }
                self.record(call, tenant, contact);
                self.switch.call_queued(wall_ms(), call, contact);
                if let Some((reservation, agent, _)) = self.early.remove(&contact) {
                    self.ring(contact, reservation, agent).await;
                }
            }
            Done::Dial {
                tenant,
                contact,
                reservation,
                agent,
                target,
            } => self.dial(tenant, contact, reservation, agent, target).await,
            Done::Refused { call } => {
                self.creating.remove(&call);
                self.cancelled.remove(&call);
                self.switch
                    .call_refused(wall_ms(), call, 503, "Service Unavailable");
            }
            Done::Transferred { call, ok } => self.switch.transfer_outcome(wall_ms(), call, ok),
            Done::CallbackBooked { call, tenant, ok } => {
                if ok {
                    let confirm = self
                        .prompt_names
                        .contains(&(tenant, CALLBACK_BOOKED_PROMPT.to_string()))
                        .then_some(CALLBACK_BOOKED_PROMPT);
                    self.switch.callback_booked(wall_ms(), call, confirm);
                }
            }
            Done::Prompt { call, clip } => match (clip, self.calls.get(&call)) {
                (Some(c), Some(m)) => {
                    let _ = m.tx.send(media::Command::Play(c));
                }
                // A prompt that cannot be played counts as played.
                _ => self.switch.prompt_done(wall_ms(), call),
            },
        }
    }

    /// Starts recording a call into the data directory; the recording is
    /// stored against the contact when it ends.
    fn record(&self, call: CallRef, tenant: TenantId, contact: ContactId) {
        let app = self.app.clone();
        let relative = format!(
            "recordings/{tenant}/{contact}-{}.wav",
            self.app.new_uuid().simple()
        );
        let done: Box<dyn FnOnce(media::Finished) + Send> = Box::new(move |f| {
            tokio::spawn(async move {
                let row = sb_store::Recording {
                    id: app.new_uuid().to_string(),
                    tenant_id: tenant,
                    contact_id: contact.to_string(),
                    path: f.path,
                    bytes: f.bytes,
                    sha256: f.sha256,
                    channels: 2,
                    duration_ms: f.duration_ms,
                    paused_ms: f.paused_ms,
                    started_at: f.started_at,
                    ended_at: f.ended_at,
                };
                if let Err(e) = app.add_recording(&row).await {
                    tracing::error!(error = %e, %contact, "the recording could not be stored");
                }
            });
        });
        if let Some(m) = self.calls.get(&call) {
            let _ = m.tx.send(media::Command::Record(media::RecordTo {
                data_dir: self.data_dir.clone(),
                relative,
                done,
            }));
        }
    }

    /// Dials a callback offered to an agent: two media ports, one task,
    /// then the switch rings the agent's phone. A phone not registered here
    /// leaves the reservation to the desk.
    async fn dial(
        &mut self,
        tenant: TenantId,
        contact: ContactId,
        reservation: u64,
        agent: AgentId,
        target: sb_app::voice::DialTarget,
    ) {
        if self.switch.call_of(contact).is_some()
            || !self.switch.is_registered(tenant, agent, wall_ms())
        {
            return;
        }
        self.early.remove(&contact);
        let (far, near) = match (
            media_socket(self.media_ip).await,
            media_socket(self.media_ip).await,
        ) {
            (Ok(f), Ok(n)) => (f, n),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "no media port for an outbound call");
                return;
            }
        };
        let port = |s: &std::net::UdpSocket| s.local_addr().map(|a| a.port()).unwrap_or(0);
        let (far_port, near_port) = (port(&far), port(&near));
        let d = Dial {
            tenant,
            contact,
            queue: target.queue,
            reservation,
            agent,
            number: target.number,
        };
        match self.switch.dial(wall_ms(), d, near_port, far_port) {
            Ok(call) => {
                let tx = media::spawn(call, far, self.moh.clone(), self.media_events.clone());
                let _ = tx.send(media::Command::AgentSocket(near));
                self.calls.insert(
                    call,
                    CallMedia {
                        tenant,
                        contact: Some(contact),
                        monitor: None,
                        held_since: None,
                        click: target.click,
                        tx,
                    },
                );
                self.record(call, tenant, contact);
                spawn_event(
                    self.app.clone(),
                    tenant,
                    contact,
                    "call.dialling",
                    json!({ "agent_id": agent }),
                    0,
                );
            }
            Err(e) => tracing::warn!(%contact, error = %e, "an outbound call was not made"),
        }
    }

    async fn request(&mut self, r: VoiceRequest) {
        match r {
            VoiceRequest::Monitor {
                tenant,
                contact,
                agent,
                mode,
                reply,
            } => {
                let Some(call) = self
                    .switch
                    .call_of(contact)
                    .filter(|c| self.calls.get(c).is_some_and(|m| m.tenant == tenant))
                else {
                    let _ = reply.send(Err(MonitorError::NotTalking.to_string()));
                    return;
                };
                let already = self.calls.get(&call).and_then(|m| m.monitor);
                let mut socket = None;
                if already.is_none() {
                    match media_socket(self.media_ip).await {
                        Ok(s) => socket = Some(s),
                        Err(e) => {
                            let _ = reply.send(Err(format!("no media port: {e}")));
                            return;
                        }
                    }
                }
                let port = socket
                    .as_ref()
                    .and_then(|s| s.local_addr().ok())
                    .map(|a| a.port())
                    .unwrap_or(0);
                match self.switch.monitor(wall_ms(), contact, agent, mode, port) {
                    Ok(_) => {
                        if let Some(m) = self.calls.get_mut(&call) {
                            if let Some(s) = socket {
                                let _ = m.tx.send(media::Command::MonitorSocket(s));
                            }
                            m.monitor = Some(agent);
                        }
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            VoiceRequest::Consult {
                tenant,
                contact,
                agent,
                reply,
            } => {
                let Some(call) = self
                    .switch
                    .call_of(contact)
                    .filter(|c| self.calls.get(c).is_some_and(|m| m.tenant == tenant))
                else {
                    let _ = reply.send(Err(sb_sip::ConsultError::NotTalking.to_string()));
                    return;
                };
                let socket = match media_socket(self.media_ip).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = reply.send(Err(format!("no media port: {e}")));
                        return;
                    }
                };
                let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
                match self.switch.consult(wall_ms(), contact, agent, port) {
                    Ok(_) => {
                        if let Some(m) = self.calls.get(&call) {
                            let _ = m.tx.send(media::Command::ConsultSocket(socket));
                        }
                        spawn_event(
                            self.app.clone(),
                            tenant,
                            contact,
                            "call.consult_started",
                            json!({ "agent_id": agent }),
                            0,
                        );
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            VoiceRequest::FinishConsult {
                tenant,
                contact,
                complete,
                reply,
            } => {
                let ours = self
                    .switch
                    .call_of(contact)
                    .is_some_and(|c| self.calls.get(&c).is_some_and(|m| m.tenant == tenant));
                let r = if ours {
                    self.switch
                        .finish_consult(wall_ms(), contact, complete)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    Err(sb_sip::ConsultError::NoConsultation.to_string())
                };
                let _ = reply.send(r);
            }
            VoiceRequest::PauseRecording {
                tenant,
                contact,
                paused,
                reply,
            } => {
                let found = self
                    .switch
                    .call_of(contact)
                    .and_then(|c| self.calls.get(&c))
                    .filter(|m| m.tenant == tenant);
                let ok = match found {
                    Some(m) => m.tx.send(media::Command::PauseRecording(paused)).is_ok(),
                    None => false,
                };
                let _ = reply.send(ok);
            }
            VoiceRequest::StopMonitor {
                tenant,
                contact,
                reply,
            } => {
                let ours = self
                    .switch
                    .call_of(contact)
                    .is_some_and(|c| self.calls.get(&c).is_some_and(|m| m.tenant == tenant));
                let _ = reply.send(ours && self.switch.stop_monitor(wall_ms(), contact));
            }
        }
    }

    async fn ring(&mut self, contact: ContactId, reservation: u64, agent: AgentId) {
        let Some(call) = self.switch.call_of(contact) else {
            return;
        };
        let Some(m) = self.calls.get(&call) else {
            return;
        };
        if self.switch.adopts(contact, agent) {
            // Already talking to the caller: the reservation is taken.
            self.switch.ring(wall_ms(), contact, reservation, agent, 0);
            return;
        }
        match media_socket(self.media_ip).await {
            Ok(s) => {
                let port = s.local_addr().map(|a| a.port()).unwrap_or(0);
                let _ = m.tx.send(media::Command::AgentSocket(s));
                self.switch
                    .ring(wall_ms(), contact, reservation, agent, port);
            }
            Err(e) => {
                tracing::error!(error = %e, "no media port for the agent's leg");
                spawn_respond(self.app.clone(), m.tenant, reservation, false);
            }
        }
    }

    /// Remembers a reservation for a voice contact not yet known to be a
    /// call, forgetting those remembered more than 30 s ago.
    fn remember_early(&mut self, contact: ContactId, reservation: u64, agent: AgentId) {
        let now = Instant::now();
        while let Some(&(at, old)) = self.early_order.front()
            && now.duration_since(at) >= EARLY_KEPT
        {
            self.early_order.pop_front();
            if self.early.get(&old).is_some_and(|e| e.2 == at) {
                self.early.remove(&old);
            }
        }
        if self.early.len() < 10_000 && self.early_order.len() < 20_000 {
            self.early.insert(contact, (reservation, agent, now));
            self.early_order.push_back((now, contact));
        }
    }

    async fn live(&mut self, e: &sb_app::routing::LiveEvent) {
        let Ok(contact) = e.subject_id.parse::<ContactId>() else {
            return;
        };
        match e.kind {
            "reservation.created" => {
                let reservation = e.payload["reservation"].as_u64().unwrap_or(0);
                let Some(agent) = e.payload["agent_id"]
                    .as_str()
                    .and_then(|a| a.parse::<AgentId>().ok())
                else {
                    return;
                };
                if self.switch.call_of(contact).is_some() {
                    self.ring(contact, reservation, agent).await;
                    return;
                }
                let callback = e.payload["callback"].as_bool() == Some(true);
                if callback || e.payload["channel"] == "voice" {
                    // Perhaps a callback, or a call an agent asked for: the
                    // agent's phone rings, then the number is called.
                    let app = self.app.clone();
                    let done = self.done_tx.clone();
                    let tenant = e.tenant_id;
                    tokio::spawn(async move {
                        if let Some(target) = app.dial_target(tenant, contact, callback).await {
                            let _ = done.send(Done::Dial {
                                tenant,
                                contact,
                                reservation,
                                agent,
                                target,
                            });
                        }
                    });
                }
                // Or a new call whose contact is not known to be one yet
                // (other channels never become calls).
                if e.payload["channel"] == "voice" {
                    self.remember_early(contact, reservation, agent);
                }
            }
            "reservation.ended" => {
                let end = e.payload["end"].as_str().unwrap_or("");
                if matches!(end, "expired" | "cancelled") {
                    let reservation = e.payload["reservation"].as_u64().unwrap_or(0);
                    self.switch
                        .reservation_ended(wall_ms(), contact, reservation);
                }
            }
            // Completed from the desk, closed by the queue's rules, or
            // abandoned by the API: the call is hung up.
            "contact.wrap_up_started" | "contact.ended" | "contact.abandoned"
                if self.switch.hang_up(wall_ms(), contact) =>
            {
                tracing::info!(%contact, kind = e.kind, "call hung up by the contact's end");
            }
            // A waiting caller is told their place (or hears the centre's
            // announcement), where the tenant recorded prompts for it.
            "contact.position" => {
                let Some(call) = self.switch.call_of(contact) else {
                    return;
                };
                let Some(tenant) = self.calls.get(&call).map(|m| m.tenant) else {
                    return;
                };
                let place = e.payload["position"].as_u64().unwrap_or(0);
                let by_place = format!("{POSITION_PROMPT}{place}");
                let prompt = [by_place.as_str(), ANNOUNCEMENT_PROMPT]
                    .into_iter()
                    .find(|p| self.prompt_names.contains(&(tenant, p.to_string())));
                if let Some(p) = prompt {
                    self.switch.play_in_queue(wall_ms(), contact, p, false);
                }
            }
            // Waited the longest the queue allows, and it offers callbacks:
            // "press 1 to be called back".
            "contact.max_wait_reached"
                if e.payload["action"]
                    .as_str()
                    .is_some_and(|a| a.eq_ignore_ascii_case("callback")) =>
            {
                let Some(call) = self.switch.call_of(contact) else {
                    return;
                };
                let Some(tenant) = self.calls.get(&call).map(|m| m.tenant) else {
                    return;
                };
                if self
                    .prompt_names
                    .contains(&(tenant, CALLBACK_OFFER_PROMPT.to_string()))
                {
                    self.switch
                        .play_in_queue(wall_ms(), contact, CALLBACK_OFFER_PROMPT, true);
                }
            }
            // Sent to another queue or agent: the caller waits again.
            "contact.transferred" if self.switch.requeue(wall_ms(), contact) => {
                tracing::info!(%contact, "transferred call back in the queue");
            }
            _ => {}
        }
    }

    async fn drain(&mut self, done: &mpsc::UnboundedSender<Done>) {
        while let Some(o) = self.switch.poll_output() {
            match o {
                Output::Send { to, data } => {
                    if let Some(conn) = self.connections.get(&to) {
                        // A full queue means a peer that does not read: dropped.
                        let _ = conn.try_send(data);
                    } else if let Err(e) = self.socket.send_to(&data, to).await {
                        tracing::debug!(error = %e, %to, "SIP send");
                    }
                }
                Output::Incoming {
                    call,
                    tenant,
                    hours,
                } => {
                    metrics::counter!("switchboard_calls_total", "tenant" => tenant.to_string())
                        .increment(1);
                    let app = self.app.clone();
                    let done = done.clone();
                    let ip = self.media_ip;
                    tokio::spawn(async move {
                        let socket = match media_socket(ip).await {
                            Ok(s) => s,
                            Err(e) => {
                                tracing::error!(error = %e, "no media port for a new call");
                                let _ = done.send(Done::NoMedia { call });
                                return;
                            }
                        };
                        let open = match hours {
                            Some(h) => app.hours_open_now(tenant, h).await.unwrap_or(true),
                            None => true,
                        };
                        let _ = done.send(Done::Ready {
                            call,
                            tenant,
                            socket,
                            open,
                        });
                    });
                }
                Output::NewCall {
                    call,
                    tenant,
                    queue,
                    from,
                    to,
                    choice,
                } => {
                    self.creating.insert(call);
                    let app = self.app.clone();
                    let done = done.clone();
                    let node = self.node.clone();
                    tokio::spawn(async move {
                        let mut attributes = std::collections::BTreeMap::new();
                        attributes.insert("sip_node".to_string(), node);
                        if let Some(k) = choice {
                            attributes.insert("ivr_choice".to_string(), k.to_string());
                        }
                        let c = NewContact {
                            channel: Channel::Voice,
                            direction: Direction::Inbound,
                            queue_id: queue,
                            customer_id: None,
                            priority: None,
                            subject: Text::parse(&format!("Call from {from}"), 200).ok(),
                            from_address: Text::parse(&from, 200).ok(),
                            to_address: Text::parse(&to, 200).ok(),
                            attributes,
                            requested_agent_id: None,
                        };
                        match app.create_contact(&principal(tenant), c).await {
                            Ok(contact) => {
                                let _ = done.send(Done::Queued {
                                    call,
                                    tenant,
                                    contact: contact.id,
                                });
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "a call's contact could not be created");
                                let _ = done.send(Done::Refused { call });
                            }
                        }
                    });
                }
                Output::Media(Media::Play {
                    call,
                    tenant,
                    prompt,
                }) => {
                    if let Some(clip) = self.prompts.get(&(tenant, prompt.clone())) {
                        let clip = clip.clone();
                        let _ = done.send(Done::Prompt {
                            call,
                            clip: Some(clip),
                        });
                        continue;
                    }
                    let app = self.app.clone();
                    let done = done.clone();
                    tokio::spawn(async move {
                        let clip = match app.prompt_file(tenant, &prompt).await {
                            Ok(path) => tokio::task::spawn_blocking(move || Clip::load(&path))
                                .await
                                .ok()
                                .and_then(|r| {
                                    r.map_err(
                                        |e| tracing::warn!(error = %e, "a prompt cannot be played"),
                                    )
                                    .ok()
                                })
                                .map(Arc::new),
                            Err(e) => {
                                tracing::warn!(error = %e, "a menu's prompt is missing");
                                None
                            }
                        };
                        let _ = done.send(Done::Prompt { call, clip });
                    });
                }
                Output::Media(m) => self.media(m),
                Output::AgentAnswered {
                    tenant,
                    reservation,
                    ..
                } => spawn_respond(self.app.clone(), tenant, reservation, true),
                Output::AgentDeclined {
                    call,
                    tenant,
                    reservation,
                    contact,
                    why,
                } => {
                    tracing::info!(reservation, why, "the agent did not take the call");
                    if self.calls.get(&call).is_some_and(|m| m.click) {
                        // A call the agent asked for and then did not take:
                        // dropped rather than offered again.
                        spawn_abandon(self.app.clone(), tenant, contact);
                    } else {
                        spawn_respond(self.app.clone(), tenant, reservation, false);
                    }
                }
                Output::ConsultAnswered {
                    tenant,
                    contact,
                    agent,
                    ..
                } => spawn_event(
                    self.app.clone(),
                    tenant,
                    contact,
                    "call.consult_answered",
                    json!({ "agent_id": agent }),
                    0,
                ),
                Output::ConsultEnded {
                    tenant,
                    contact,
                    why,
                    ..
                } => spawn_event(
                    self.app.clone(),
                    tenant,
                    contact,
                    "call.consult_ended",
                    json!({ "why": why }),
                    0,
                ),
                Output::ConsultCompleted {
                    tenant,
                    contact,
                    agent,
                    ..
                } => {
                    // The contact follows the call: to the consulted agent,
                    // in its queue; their reservation is taken at once.
                    let app = self.app.clone();
                    tokio::spawn(async move {
                        let p = principal(tenant);
                        let _ = app
                            .call_event(
                                tenant,
                                contact,
                                "call.consult_completed",
                                json!({ "agent_id": agent }),
                                0,
                            )
                            .await;
                        let moved = match app.get_contact(&p, contact).await {
                            Ok(c) => app
                                .transfer_contact(&p, contact, c.queue_id, Some(agent))
                                .await
                                .map(|_| ()),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = moved {
                            tracing::warn!(error = %e, "a call handed over could not move its contact");
                        }
                    });
                }
                Output::Connected {
                    tenant, contact, ..
                } => spawn_event(
                    self.app.clone(),
                    tenant,
                    contact,
                    "call.connected",
                    json!({}),
                    0,
                ),
                Output::DialFailed {
                    tenant,
                    contact,
                    code,
                    reason,
                    ..
                } => {
                    tracing::info!(%contact, code, "an outbound call was not answered");
                    spawn_event(
                        self.app.clone(),
                        tenant,
                        contact,
                        "call.dial_failed",
                        json!({ "code": code, "reason": reason }),
                        0,
                    );
                }
                Output::Ended {
                    call,
                    tenant,
                    contact,
                    stage,
                    by,
                } => {
                    tracing::info!(?call, ?stage, ?by, "call ended");
                    if let Some(contact) = contact {
                        // Time still on hold when the call ends counts too.
                        let hold_ms = self
                            .calls
                            .get_mut(&call)
                            .and_then(|m| m.held_since.take())
                            .map(|t| t.elapsed().as_millis() as i64)
                            .unwrap_or(0);
                        let by = match by {
                            sb_sip::EndedBy::Caller => "caller",
                            sb_sip::EndedBy::Agent => "agent",
                            sb_sip::EndedBy::Switch => "switchboard",
                        };
                        let stage = match stage {
                            Stage::Waiting => "waiting",
                            Stage::Talking => "talking",
                            Stage::CallbackKept => "callback",
                            Stage::Unanswered => "unanswered",
                        };
                        spawn_event(
                            self.app.clone(),
                            tenant,
                            contact,
                            "call.hung_up",
                            json!({ "by": by, "stage": stage }),
                            hold_ms,
                        );
                    }
                    match contact {
                        None => {
                            if self.creating.contains(&call) {
                                self.cancelled.insert(call);
                            }
                        }
                        Some(contact) => match stage {
                            Stage::Waiting => spawn_abandon(self.app.clone(), tenant, contact),
                            Stage::Talking => spawn_complete(self.app.clone(), tenant, contact),
                            // The contact keeps its place; an agent rings back.
                            // An unanswered outbound call: the reservation
                            // was declined, the contact stays.
                            Stage::CallbackKept | Stage::Unanswered => {}
                        },
                    }
                }
                Output::Held {
                    call,
                    tenant,
                    contact,
                    held,
                } => {
                    let hold_ms = match self.calls.get_mut(&call) {
                        Some(m) if held => {
                            m.held_since = Some(Instant::now());
                            0
                        }
                        Some(m) => m
                            .held_since
                            .take()
                            .map(|t| t.elapsed().as_millis() as i64)
                            .unwrap_or(0),
                        None => 0,
                    };
                    let (kind, payload) = if held {
                        ("call.held", json!({}))
                    } else {
                        ("call.resumed", json!({ "hold_ms": hold_ms }))
                    };
                    spawn_event(self.app.clone(), tenant, contact, kind, payload, hold_ms);
                }
                Output::CallbackRequested {
                    call,
                    tenant,
                    contact,
                } => {
                    let app = self.app.clone();
                    let done = done.clone();
                    tokio::spawn(async move {
                        let booked = app.request_callback(&principal(tenant), contact).await;
                        if let Err(e) = &booked
                            && !matches!(e, AppError::Conflict(_))
                        {
                            tracing::warn!(error = %e, "a caller's callback could not be booked");
                        }
                        // The queue may have made it a callback already.
                        let ok = matches!(booked, Ok(_) | Err(AppError::Conflict(_)));
                        let _ = done.send(Done::CallbackBooked { call, tenant, ok });
                    });
                }
                Output::TransferRequested {
                    call,
                    tenant,
                    contact,
                    queue,
                    agent,
                } => {
                    let app = self.app.clone();
                    let done = done.clone();
                    tokio::spawn(async move {
                        let p = principal(tenant);
                        let queue = match queue {
                            Some(q) => Some(q),
                            None => app.get_contact(&p, contact).await.ok().map(|c| c.queue_id),
                        };
                        let ok = match queue {
                            Some(q) => match app.transfer_contact(&p, contact, q, agent).await {
                                Ok(_) => true,
                                Err(e) => {
                                    tracing::warn!(error = %e, "a transfer asked for by REFER failed");
                                    false
                                }
                            },
                            None => false,
                        };
                        let _ = done.send(Done::Transferred { call, ok });
                    });
                }
                Output::MonitorEnded {
                    call,
                    tenant,
                    contact,
                    why,
                } => {
                    let by = self.calls.get_mut(&call).and_then(|m| m.monitor.take());
                    spawn_event(
                        self.app.clone(),
                        tenant,
                        contact,
                        "call.monitor_ended",
                        json!({ "agent_id": by, "why": why }),
                        0,
                    );
                }
                Output::CarrierRegistered {
                    tenant,
                    registered,
                    detail,
                } => {
                    if registered {
                        tracing::info!(%tenant, "registered with the carrier");
                    } else {
                        tracing::warn!(%tenant, detail, "not registered with the carrier");
                    }
                    self.app.set_carrier_registration(tenant, detail);
                }
                Output::Registered {
                    tenant,
                    agent,
                    registered,
                } => {
                    tracing::info!(%agent, registered, "SIP registration changed");
                    self.app.set_phone_registered(tenant, agent, registered);
                }
                Output::Refused { from, what, detail } => {
                    metrics::counter!("switchboard_sip_refused_total", "what" => what).increment(1);
                    tracing::warn!(%from, what, detail, "SIP refused");
                }
            }
        }
    }

    /// Puts a team leader's joining a call on the contact's timeline.
    fn monitor_event(&self, call: CallRef, kind: &'static str, mode: MonitorMode) {
        let Some(m) = self.calls.get(&call) else {
            return;
        };
        let Some(contact) = m.contact else {
            return;
        };
        let mode = match mode {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        };
        spawn_event(
            self.app.clone(),
            m.tenant,
            contact,
            kind,
            json!({ "agent_id": m.monitor, "mode": mode }),
            0,
        );
    }

    fn media(&mut self, m: Media) {
        let (call, cmd) = match m {
            Media::Caller {
                call,
                remote,
                signal,
                codec,
                events,
                ..
            } => (
                call,
                media::Command::Caller {
                    remote,
                    signal,
                    codec,
                    events,
                },
            ),
            Media::Agent {
                call,
                remote,
                signal,
                ..
            } => (call, media::Command::Agent { remote, signal }),
            Media::Hold { call } => (call, media::Command::Hold),
            Media::Monitor {
                call,
                remote,
                signal,
                mode,
                ..
            } => {
                self.monitor_event(call, "call.monitor_started", mode);
                (
                    call,
                    media::Command::Monitor {
                        remote,
                        signal,
                        mode,
                    },
                )
            }
            Media::MonitorMode { call, mode } => {
                self.monitor_event(call, "call.monitor_changed", mode);
                (call, media::Command::MonitorMode(mode))
            }
            Media::MonitorStop { call } => (call, media::Command::MonitorStop),
            Media::Consult {
                call,
                remote,
                signal,
                ..
            } => (call, media::Command::Consult { remote, signal }),
            Media::ConsultStop { call } => (call, media::Command::ConsultStop),
            Media::ConsultComplete { call } => (call, media::Command::ConsultComplete),
            // Loaded first; see `drain`.
            Media::Play { call, .. } => {
                self.switch.prompt_done(wall_ms(), call);
                return;
            }
            Media::Bridge { call } => (call, media::Command::Bridge),
            Media::Stop { call } => {
                if let Some(c) = self.calls.remove(&call) {
                    let _ = c.tx.send(media::Command::Stop);
                }
                return;
            }
        };
        if let Some(c) = self.calls.get(&call) {
            let _ = c.tx.send(cmd);
        }
    }
}

fn ignore_settled(what: &str, r: Result<sb_store::Contact, AppError>) {
    match r {
        Ok(_) | Err(AppError::Conflict(_)) | Err(AppError::NotFound(_)) => {}
        Err(e) => tracing::warn!(error = %e, "{what} failed"),
    }
}

fn spawn_event(
    app: App,
    tenant: TenantId,
    contact: ContactId,
    kind: &'static str,
    payload: serde_json::Value,
    hold_ms: i64,
) {
    tokio::spawn(async move {
        if let Err(e) = app
            .call_event(tenant, contact, kind, payload, hold_ms)
            .await
        {
            tracing::warn!(error = %e, kind, "a call event could not be recorded");
        }
    });
}

fn spawn_respond(app: App, tenant: TenantId, reservation: u64, accept: bool) {
    tokio::spawn(async move {
        let r = app
            .respond_to_reservation(&principal(tenant), reservation, accept)
            .await;
        ignore_settled(if accept { "accepting" } else { "rejecting" }, r);
    });
}

fn spawn_abandon(app: App, tenant: TenantId, contact: ContactId) {
    tokio::spawn(async move {
        let r = app.abandon_contact(&principal(tenant), contact).await;
        ignore_settled("abandoning", r);
    });
}

fn spawn_complete(app: App, tenant: TenantId, contact: ContactId) {
    tokio::spawn(async move {
        let r = app.complete_contact(&principal(tenant), contact).await;
        ignore_settled("completing", r);
    });
}
