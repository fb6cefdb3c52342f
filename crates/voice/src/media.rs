//! A call's media: two RTP sockets (the caller's leg and the agent's),
//! prompts and music on hold played to the caller, the caller's keys
//! (RFC 4733) read, packets relayed unchanged between
//! the legs once bridged (no transcoding), and both legs recorded to a
//! stereo WAV file (caller left, agent right).
//!
//! A team leader's phone may join as a third leg: it hears caller and agent
//! mixed (listen); in whisper the agent hears caller and team leader mixed;
//! in barge everyone hears the other two. Mixing decodes, adds and encodes
//! 20 ms at a time; directions nobody joins stay plain relays.
//!
//! Recording can be paused (card details read out, say): the file keeps
//! its timing with silence, and how long it was paused is reported.
//!
//! Packets are accepted only from the address each leg's signalling or SDP
//! named; the first such packet fixes where that leg's media is sent
//! (symmetric RTP, for phones behind NAT).

use std::collections::VecDeque;
use std::io::{BufWriter, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sb_sip::MonitorMode;
use sb_sip::sdp::Codec;
use sha2::Digest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Samples per 20 ms packet at 8 kHz.
pub const FRAME: usize = 160;
/// The most samples waiting per channel in the recorder (one second).
const MAX_BUFFERED: usize = 8_000;

/// A sound to play (music on hold, a prompt), pre-encoded for both codecs
/// so nothing is encoded on the hot path.
pub struct Clip {
    pcmu: Vec<u8>,
    pcma: Vec<u8>,
}

impl Clip {
    fn from_samples(samples: &[i16]) -> Clip {
        let mut s: Vec<i16> = samples.to_vec();
        let whole = s.len().div_ceil(FRAME).max(1) * FRAME;
        s.resize(whole, 0);
        Clip {
            pcmu: s
                .iter()
                .map(|&x| audio_codec_algorithms::encode_ulaw(x))
                .collect(),
            pcma: s
                .iter()
                .map(|&x| audio_codec_algorithms::encode_alaw(x))
                .collect(),
        }
    }

    /// A WAV file: 8 kHz, mono, 16-bit.
    pub fn load(path: &Path) -> Result<Clip> {
        let mut r = hound::WavReader::open(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let spec = r.spec();
        if spec.sample_rate != 8_000
            || spec.channels != 1
            || spec.bits_per_sample != 16
            || spec.sample_format != hound::SampleFormat::Int
        {
            anyhow::bail!(
                "{} must be an 8 kHz mono 16-bit WAV file (it is {} Hz, {} channels, {} bits)",
                path.display(),
                spec.sample_rate,
                spec.channels,
                spec.bits_per_sample
            );
        }
        let samples: Vec<i16> = r
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} is damaged", path.display()))?;
        if samples.len() < FRAME {
            anyhow::bail!("{} is shorter than 20 ms", path.display());
        }
        Ok(Clip::from_samples(&samples))
    }

    /// A gentle eight-second phrase, for a centre that has not set its own.
    pub fn built_in() -> Clip {
        // A major arpeggio up and down, half a second a note, with soft edges.
        let notes = [
            261.63, 329.63, 392.0, 523.25, 392.0, 329.63, 261.63, 196.0, 220.0, 261.63, 329.63,
            440.0, 392.0, 329.63, 293.66, 261.63,
        ];
        let per = 4_000usize;
        let mut s = Vec::with_capacity(notes.len() * per);
        for f in notes {
            for i in 0..per {
                let t = i as f64 / 8_000.0;
                let env = (i.min(per - i) as f64 / 400.0).min(1.0);
                let v = (2.0 * std::f64::consts::PI * f * t).sin() * 0.5
                    + (4.0 * std::f64::consts::PI * f * t).sin() * 0.15;
                s.push((v * env * 7_000.0) as i16);
            }
        }
        Clip::from_samples(&s)
    }

    /// How many 20 ms frames it holds.
    fn frames(&self) -> usize {
        self.pcmu.len() / FRAME
    }

    fn frame(&self, codec: Codec, index: usize) -> &[u8] {
        let clip = match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        };
        let frames = clip.len() / FRAME;
        let at = (index % frames) * FRAME;
        &clip[at..at + FRAME]
    }
}

/// Decodes into a mixer input, dropping the oldest past [`MAX_MIX`].
fn decode_capped(codec: Codec, payload: &[u8], out: &mut VecDeque<i16>) {
    decode(codec, payload, out);
    while out.len() > MAX_MIX {
        out.pop_front();
    }
}

fn decode(codec: Codec, payload: &[u8], out: &mut VecDeque<i16>) {
    for &b in payload {
        out.push_back(match codec {
            Codec::Pcmu => audio_codec_algorithms::decode_ulaw(b),
            Codec::Pcma => audio_codec_algorithms::decode_alaw(b),
        });
    }
    while out.len() > MAX_BUFFERED {
        out.pop_front();
    }
}

fn encode(codec: Codec, samples: &[i16], out: &mut Vec<u8>) {
    out.clear();
    out.extend(samples.iter().map(|&x| match codec {
        Codec::Pcmu => audio_codec_algorithms::encode_ulaw(x),
        Codec::Pcma => audio_codec_algorithms::encode_alaw(x),
    }));
}

/// The most samples a mixer input holds (100 ms): more is latency.
const MAX_MIX: usize = 800;

/// One generated RTP stream (sequence, timestamp, source).
struct Stream {
    seq: u16,
    ts: u32,
    ssrc: u32,
}

impl Stream {
    fn new() -> Stream {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        Stream {
            seq: 0,
            ts: 0,
            ssrc: u32::from_be_bytes(b),
        }
    }

    /// Sends one 20 ms frame.
    fn send(
        &mut self,
        socket: &UdpSocket,
        to: SocketAddr,
        pt: u8,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.clear();
        let b = rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(pt)
            .sequence_number(self.seq)
            .timestamp(self.ts)
            .ssrc(self.ssrc)
            .payload(payload);
        if b.write_into_vec(out).is_ok() {
            let _ = socket.try_send_to(out, to);
        }
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME as u32);
    }
}

/// 20 ms from a mixer input, silence where it has nothing.
fn take_frame(q: &mut VecDeque<i16>) -> [i16; FRAME] {
    let mut f = [0i16; FRAME];
    for x in f.iter_mut() {
        match q.pop_front() {
            Some(v) => *x = v,
            None => break,
        }
    }
    f
}

fn mix(a: &[i16; FRAME], b: &[i16; FRAME]) -> [i16; FRAME] {
    std::array::from_fn(|i| a[i].saturating_add(b[i]))
}

/// What a finished recording is.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Relative to the data directory.
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
    pub duration_ms: i64,
    pub paused_ms: i64,
    pub started_at: i64,
    pub ended_at: i64,
}

/// Writes both legs, 20 ms at a time, to a stereo WAV file: the caller
/// left; the agent right, with a team leader who barges in mixed in. The
/// file itself is written on a thread of its own ([`disk`]): the relay
/// never waits for the disk.
struct Recorder {
    id: u64,
    relative: String,
    /// Caller, agent, team leader.
    legs: [VecDeque<i16>; 3],
    /// Interleaved samples not yet handed to the disk thread.
    out: Vec<i16>,
    frames: u64,
    paused: bool,
    paused_frames: u64,
    started_at: i64,
    begun: std::time::Instant,
}

/// How far behind real time the recording is written, in 20 ms frames:
/// packets still on their way land in place.
const LAG_FRAMES: u64 = 10;
/// A leg silent for longer than this (in samples) resumes where real time
/// is, not where it stopped.
const GAP_SAMPLES: u64 = 480;
/// Frames gathered before they go to the disk thread (half a second).
const FLUSH_FRAMES: usize = 25;

/// What the disk thread does with recordings.
enum DiskOp {
    Create {
        id: u64,
        full: PathBuf,
    },
    Write {
        id: u64,
        samples: Vec<i16>,
    },
    /// Close the file; its size and SHA-256 are the answer.
    Finish {
        id: u64,
        reply: tokio::sync::oneshot::Sender<Result<(i64, String)>>,
    },
}

/// The thread that writes every call's recording.
fn disk() -> &'static std::sync::mpsc::Sender<DiskOp> {
    static DISK: std::sync::OnceLock<std::sync::mpsc::Sender<DiskOp>> = std::sync::OnceLock::new();
    DISK.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<DiskOp>();
        std::thread::Builder::new()
            .name("sb-recordings".into())
            .spawn(move || {
                if REALTIME.load(std::sync::atomic::Ordering::Relaxed) {
                    raise_priority(false);
                }
                disk_loop(rx)
            })
            .expect("the recording thread starts");
        tx
    })
}

type Wav = hound::WavWriter<BufWriter<std::fs::File>>;

fn disk_loop(rx: std::sync::mpsc::Receiver<DiskOp>) {
    // A file that could not be made or written is `Err` until finished.
    let mut open: std::collections::HashMap<u64, (PathBuf, Result<Wav>)> =
        std::collections::HashMap::new();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    for op in rx {
        match op {
            DiskOp::Create { id, full } => {
                let w = full
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .map_err(anyhow::Error::from)
                    .and_then(|_| hound::WavWriter::create(&full, spec).map_err(Into::into))
                    .with_context(|| format!("cannot create {}", full.display()));
                if let Err(e) = &w {
                    tracing::error!(error = %e, "the call cannot be recorded");
                }
                open.insert(id, (full, w));
            }
            DiskOp::Write { id, samples } => {
                if let Some((full, w)) = open.get_mut(&id)
                    && let Ok(writer) = w
                {
                    let mut i16w = writer.get_i16_writer(samples.len() as u32);
                    for v in samples {
                        i16w.write_sample(v);
                    }
                    if let Err(e) = i16w.flush() {
                        tracing::error!(error = %e, "the recording failed");
                        *w = Err(anyhow::anyhow!("writing {} failed: {e}", full.display()));
                    }
                }
            }
            DiskOp::Finish { id, reply } => {
                let r = match open.remove(&id) {
                    Some((full, Ok(w))) => finish_file(w, &full),
                    Some((_, Err(e))) => Err(e),
                    None => Err(anyhow::anyhow!("no such recording")),
                };
                let _ = reply.send(r);
            }
        }
    }
}

/// Closes a recording; its size and SHA-256.
fn finish_file(w: Wav, full: &Path) -> Result<(i64, String)> {
    w.finalize()?;
    let mut f = std::fs::File::open(full)?;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0i64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as i64;
        hash.update(&buf[..n]);
    }
    Ok((bytes, hex::encode(hash.finalize())))
}

impl Recorder {
    fn create(data_dir: &Path, relative: String, started_at: i64) -> Result<Recorder> {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let full = data_dir.join(&relative);
        disk()
            .send(DiskOp::Create { id, full })
            .map_err(|_| anyhow::anyhow!("the recording thread stopped"))?;
        Ok(Recorder {
            id,
            relative,
            legs: Default::default(),
            out: Vec::with_capacity(FLUSH_FRAMES * FRAME * 2),
            frames: 0,
            paused: false,
            paused_frames: 0,
            started_at,
            begun: std::time::Instant::now(),
        })
    }

    /// Hands what is gathered to the disk thread.
    fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let samples =
            std::mem::replace(&mut self.out, Vec::with_capacity(FLUSH_FRAMES * FRAME * 2));
        disk()
            .send(DiskOp::Write {
                id: self.id,
                samples,
            })
            .map_err(|_| anyhow::anyhow!("the recording thread stopped"))
    }

    /// Writes the next 20 ms: what each leg sent, silence where it sent
    /// nothing or while paused.
    fn tick(&mut self) -> Result<()> {
        if self.paused {
            self.legs.iter_mut().for_each(VecDeque::clear);
            self.paused_frames += 1;
        }
        for _ in 0..FRAME {
            let l = self.legs[0].pop_front().unwrap_or(0);
            let r = self.legs[1].pop_front().unwrap_or(0);
            let r = r.saturating_add(self.legs[2].pop_front().unwrap_or(0));
            self.out.push(l);
            self.out.push(r);
        }
        self.frames += 1;
        if self.out.len() >= FLUSH_FRAMES * FRAME * 2 {
            self.flush()?;
        }
        Ok(())
    }

    /// Samples since the recording began.
    fn now_index(&self) -> u64 {
        self.begun.elapsed().as_micros() as u64 * 8 / 1_000
    }

    /// Writes every frame due `lag` frames behind real time.
    fn catch_up(&mut self, lag: u64) -> Result<()> {
        let due = (self.now_index() / FRAME as u64).saturating_sub(lag);
        while self.frames < due {
            self.tick()?;
        }
        Ok(())
    }

    /// A leg's packet: placed where real time is if the leg was silent.
    fn push(&mut self, leg: usize, codec: Codec, payload: &[u8]) -> Result<()> {
        self.catch_up(LAG_FRAMES)?;
        if self.paused {
            return Ok(());
        }
        let now = self.now_index();
        let q = &mut self.legs[leg];
        let end = self.frames * FRAME as u64 + q.len() as u64;
        if now > end + GAP_SAMPLES {
            let gap = (now - end).min(MAX_BUFFERED as u64);
            q.extend(std::iter::repeat_n(0, gap as usize));
        }
        decode(codec, payload, q);
        Ok(())
    }

    /// Pauses or resumes: everything up to now is written first, so the
    /// paused span is exact.
    fn set_paused(&mut self, paused: bool) -> Result<()> {
        self.catch_up(0)?;
        if paused {
            // What was heard before the pause is kept.
            while self.legs.iter().any(|q| !q.is_empty()) {
                self.tick()?;
            }
        }
        self.paused = paused;
        Ok(())
    }

    async fn finish(mut self, ended_at: i64) -> Result<Finished> {
        self.catch_up(0)?;
        while self.legs.iter().any(|q| !q.is_empty()) {
            self.tick()?;
        }
        self.flush()?;
        let duration_ms = (self.frames * FRAME as u64 * 1000 / 8_000) as i64;
        let paused_ms = (self.paused_frames * FRAME as u64 * 1000 / 8_000) as i64;
        let (reply, answer) = tokio::sync::oneshot::channel();
        disk()
            .send(DiskOp::Finish { id: self.id, reply })
            .map_err(|_| anyhow::anyhow!("the recording thread stopped"))?;
        let (bytes, sha256) = answer
            .await
            .map_err(|_| anyhow::anyhow!("the recording thread stopped"))??;
        Ok(Finished {
            path: self.relative,
            bytes,
            sha256,
            duration_ms,
            paused_ms,
            started_at: self.started_at,
            ended_at,
        })
    }
}

/// What the call's signalling tells its media.
pub enum Command {
    Caller {
        remote: SocketAddr,
        signal: IpAddr,
        codec: Codec,
        /// The telephone-event payload type the caller sends keys with.
        events: Option<u8>,
    },
    /// Play this to the caller once, then say so.
    Play(Arc<Clip>),
    /// Where the recording goes, once the call has a contact.
    Record(RecordTo),
    /// The team leader's leg's socket, opened when their phone is rung.
    MonitorSocket(std::net::UdpSocket),
    Monitor {
        remote: SocketAddr,
        signal: IpAddr,
        mode: MonitorMode,
    },
    MonitorMode(MonitorMode),
    MonitorStop,
    /// A consulted agent's leg's socket, opened when their phone is rung.
    ConsultSocket(std::net::UdpSocket),
    /// The consulted agent answered: they and the agent hear each other.
    Consult {
        remote: SocketAddr,
        signal: IpAddr,
    },
    ConsultStop,
    /// The consulted agent's leg becomes the agent's.
    ConsultComplete,
    /// Pause (`true`) or resume the recording.
    PauseRecording(bool),
    /// The agent's leg's socket, opened when the phone is rung.
    AgentSocket(std::net::UdpSocket),
    Agent {
        remote: SocketAddr,
        signal: IpAddr,
    },
    Hold,
    Bridge,
    Stop,
}

/// One leg: its socket, where its media comes from, where ours goes.
struct Leg {
    socket: UdpSocket,
    /// Addresses its packets may come from (SDP's and signalling's).
    allowed: Vec<IpAddr>,
    /// Where we send: SDP's address until the first packet fixes it.
    target: Option<SocketAddr>,
    latched: bool,
}

impl Leg {
    /// A leg on a socket opened elsewhere; `None` if it cannot be served
    /// here (called on the media threads).
    fn new(socket: std::net::UdpSocket) -> Option<Leg> {
        let socket = UdpSocket::from_std(socket)
            .map_err(|e| tracing::error!(error = %e, "a media socket cannot be used"))
            .ok()?;
        Some(Leg {
            socket,
            allowed: Vec::new(),
            target: None,
            latched: false,
        })
    }

    fn set_remote(&mut self, remote: SocketAddr, signal: IpAddr) {
        for ip in [remote.ip(), signal] {
            if !self.allowed.contains(&ip) {
                self.allowed.push(ip);
            }
        }
        if !self.latched {
            self.target = Some(remote);
        }
    }

    /// Whether a packet from `from` belongs to this leg (and learns its address).
    fn accept(&mut self, from: SocketAddr) -> bool {
        if !self.allowed.contains(&from.ip()) {
            metrics::counter!("switchboard_rtp_refused_total").increment(1);
            return false;
        }
        if !self.latched {
            self.latched = true;
            self.target = Some(from);
        }
        true
    }
}

async fn recv(leg: Option<&Leg>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match leg {
        Some(l) => l.socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// What a call's media tells its signalling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The caller pressed a key.
    Key(char),
    /// A prompt finished.
    PromptDone,
    /// Recording paused (or resumed) this far into the file.
    Recording { paused: bool, at_ms: i64 },
}

/// Where the recording goes and who is told of it.
pub struct RecordTo {
    pub data_dir: PathBuf,
    pub relative: String,
    pub done: Box<dyn FnOnce(Finished) + Send>,
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs a call's media until [`Command::Stop`] or the sender is dropped.
/// The threads calls' media runs on, apart from signalling and the API.
static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();

/// With `realtime`, starts media threads of their own at real-time
/// priority (round robin, where the process may), so a loaded machine does
/// not delay the relay; otherwise calls' media runs with everything else.
/// Once per process.
pub fn start_runtime(realtime: bool) {
    if realtime {
        let _ = RUNTIME.get_or_init(|| build_runtime(true));
    }
}

fn build_runtime(realtime: bool) -> tokio::runtime::Runtime {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("sb-media")
        .enable_all()
        .on_thread_start(move || {
            if realtime {
                REALTIME.store(true, std::sync::atomic::Ordering::Relaxed);
                raise_priority(true);
            }
        })
        .build()
        .expect("the media threads start")
}

/// Whether media threads run at real-time priority (the recording thread
/// follows them, below them, so it never waits behind ordinary work while
/// holding something a relay needs, yet never delays a relay itself).
static REALTIME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Real-time round robin: the relay's threads above the recording thread.
fn raise_priority(relay: bool) {
    use thread_priority::{RealtimeThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
    let level = if relay {
        ThreadPriority::Crossplatform(20u8.try_into().expect("in range"))
    } else {
        ThreadPriority::Min
    };
    let r = thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        level,
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin),
    );
    if let Err(e) = r {
        tracing::warn!(error = ?e, "media threads stay at normal priority");
    }
}

pub fn spawn<K: Copy + Send + 'static>(
    call: K,
    caller: std::net::UdpSocket,
    moh: Arc<Clip>,
    events: mpsc::UnboundedSender<(K, Event)>,
) -> mpsc::UnboundedSender<Command> {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = async move {
        if let Some(caller) = Leg::new(caller) {
            run(call, caller, moh, events, rx).await;
        }
    };
    match RUNTIME.get() {
        Some(rt) => drop(rt.spawn(task)),
        None => drop(tokio::spawn(task)),
    }
    tx
}

async fn run<K: Copy>(
    call: K,
    mut caller: Leg,
    moh: Arc<Clip>,
    events: mpsc::UnboundedSender<(K, Event)>,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    let mut agent: Option<Leg> = None;
    let mut codec = Codec::Pcmu;
    let mut bridged = false;
    let mut holding = false;
    let mut recorder: Option<Recorder> = None;
    let mut record: Option<RecordTo> = None;
    let mut key_pt: Option<u8> = None;
    let mut keys = sb_sip::dtmf::Receiver::default();
    // A prompt playing, and how far it has got.
    let mut prompt: Option<(Arc<Clip>, usize)> = None;
    // A team leader's leg, how it monitors (once answered), the mixer's
    // inputs (caller, agent, team leader) and the streams it makes (to the
    // team leader, the agent, the caller).
    let mut monitor: Option<Leg> = None;
    let mut mode: Option<MonitorMode> = None;
    let mut mixer: [VecDeque<i16>; 3] = Default::default();
    let mut streams = [Stream::new(), Stream::new(), Stream::new()];
    let mut buf_c = vec![0u8; 2048];
    // A consulted agent's leg, and whether they are on (talking with the
    // agent while the caller holds).
    let mut consult: Option<Leg> = None;
    let mut consulting = false;
    let mut buf_d = vec![0u8; 2048];
    let mut enc = Vec::with_capacity(FRAME);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut seq, mut ts, mut frame) = (0u16, 0u32, 0usize);
    let ssrc = {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        u32::from_be_bytes(b)
    };
    let mut buf_a = vec![0u8; 2048];
    let mut buf_b = vec![0u8; 2048];
    let mut out = Vec::with_capacity(256);
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Caller { remote, signal, codec: c, events: e }) => {
                    codec = c;
                    key_pt = e;
                    caller.set_remote(remote, signal);
                }
                Some(Command::Play(clip)) => {
                    holding = false;
                    bridged = false;
                    prompt = Some((clip, 0));
                }
                Some(Command::Record(r)) => record = Some(r),
                Some(Command::AgentSocket(s)) => agent = Leg::new(s),
                Some(Command::Agent { remote, signal }) => {
                    if let Some(a) = &mut agent {
                        a.set_remote(remote, signal);
                    }
                }
                Some(Command::Hold) => {
                    holding = true;
                    bridged = false;
                    prompt = None;
                }
                Some(Command::Bridge) => {
                    holding = false;
                    bridged = true;
                    prompt = None;
                    if recorder.is_none() && let Some(r) = &record {
                        match Recorder::create(&r.data_dir, r.relative.clone(), wall_ms()) {
                            Ok(rec) => recorder = Some(rec),
                            Err(e) => tracing::error!(error = %e, "the call cannot be recorded"),
                        }
                    }
                }
                Some(Command::MonitorSocket(s)) => {
                    monitor = Leg::new(s);
                    mode = None;
                }
                Some(Command::Monitor { remote, signal, mode: m }) => {
                    if let Some(l) = &mut monitor {
                        l.set_remote(remote, signal);
                        mode = Some(m);
                    }
                }
                Some(Command::MonitorMode(m)) => {
                    if monitor.is_some() && mode.is_some() {
                        mode = Some(m);
                    }
                }
                Some(Command::MonitorStop) => {
                    monitor = None;
                    mode = None;
                    mixer.iter_mut().for_each(VecDeque::clear);
                }
                Some(Command::ConsultSocket(s)) => {
                    consult = Leg::new(s);
                    consulting = false;
                }
                Some(Command::Consult { remote, signal }) => {
                    if let Some(l) = &mut consult {
                        l.set_remote(remote, signal);
                        consulting = true;
                    }
                }
                Some(Command::ConsultStop) => {
                    consult = None;
                    consulting = false;
                }
                Some(Command::ConsultComplete) => {
                    if let Some(l) = consult.take() {
                        agent = Some(l);
                    }
                    consulting = false;
                    holding = false;
                    bridged = true;
                }
                Some(Command::PauseRecording(p)) => {
                    if let Some(rec) = &mut recorder
                        && rec.paused != p
                    {
                        if let Err(e) = rec.set_paused(p) {
                            tracing::error!(error = %e, "the recording failed");
                        }
                        let at_ms = (rec.frames * FRAME as u64 * 1000 / 8_000) as i64;
                        let _ = events.send((call, Event::Recording { paused: p, at_ms }));
                    }
                }
                Some(Command::Stop) | None => break,
            },
            r = caller.socket.recv_from(&mut buf_a) => {
                let Ok((n, from)) = r else { continue };
                if !caller.accept(from) {
                    continue;
                }
                let pkt = &buf_a[..n];
                // The agent hears the caller plainly unless the team leader
                // speaks to them too.
                let agent_mixed = matches!(mode, Some(MonitorMode::Whisper | MonitorMode::Barge));
                if bridged && !agent_mixed && let Some(a) = &agent && let Some(to) = a.target {
                    let _ = a.socket.try_send_to(pkt, to);
                }
                if mode.is_some() && let Ok(p) = rtp_types::RtpPacket::parse(pkt)
                    && p.payload_type() == codec.payload_type()
                {
                    decode_capped(codec, p.payload(), &mut mixer[0]);
                }
                if let (Some(pt), Ok(p)) = (key_pt, rtp_types::RtpPacket::parse(pkt))
                    && p.payload_type() == pt
                    && let Some(k) = keys.packet(p.timestamp(), p.payload())
                {
                    let _ = events.send((call, Event::Key(k)));
                }
                if let (Some(rec), Ok(p)) = (&mut recorder, rtp_types::RtpPacket::parse(pkt))
                    && p.payload_type() == codec.payload_type()
                    && let Err(e) = rec.push(0, codec, p.payload())
                {
                    tracing::error!(error = %e, "the recording failed");
                }
            },
            r = recv(agent.as_ref(), &mut buf_b) => {
                let Ok((n, from)) = r else { continue };
                let Some(a) = &mut agent else { continue };
                if !a.accept(from) {
                    continue;
                }
                let pkt = &buf_b[..n];
                if bridged && mode != Some(MonitorMode::Barge) && let Some(to) = caller.target {
                    let _ = caller.socket.try_send_to(pkt, to);
                }
                if consulting && let Some(k) = &consult && let Some(to) = k.target {
                    let _ = k.socket.try_send_to(pkt, to);
                }
                if mode.is_some() && let Ok(p) = rtp_types::RtpPacket::parse(pkt)
                    && p.payload_type() == codec.payload_type()
                {
                    decode_capped(codec, p.payload(), &mut mixer[1]);
                }
                if let (Some(rec), Ok(p)) = (&mut recorder, rtp_types::RtpPacket::parse(pkt))
                    && p.payload_type() == codec.payload_type()
                    && let Err(e) = rec.push(1, codec, p.payload())
                {
                    tracing::error!(error = %e, "the recording failed");
                }
            },
            r = recv(monitor.as_ref(), &mut buf_c) => {
                let Ok((n, from)) = r else { continue };
                let Some(m) = &mut monitor else { continue };
                if !m.accept(from) || mode.is_none() {
                    continue;
                }
                if let Ok(p) = rtp_types::RtpPacket::parse(&buf_c[..n])
                    && p.payload_type() == codec.payload_type()
                {
                    decode_capped(codec, p.payload(), &mut mixer[2]);
                    // Barging in, the team leader is part of the call.
                    if mode == Some(MonitorMode::Barge)
                        && let Some(rec) = &mut recorder
                        && let Err(e) = rec.push(2, codec, p.payload())
                    {
                        tracing::error!(error = %e, "the recording failed");
                    }
                }
            },
            r = recv(consult.as_ref(), &mut buf_d) => {
                let Ok((n, from)) = r else { continue };
                let Some(k) = &mut consult else { continue };
                if !k.accept(from) || !consulting {
                    continue;
                }
                if let Some(a) = &agent && let Some(to) = a.target {
                    let _ = a.socket.try_send_to(&buf_d[..n], to);
                }
            },
            // Only while something is played or mixed: a plain relay (and
            // its recording) is driven by the packets alone.
            _ = tick.tick(), if holding || prompt.is_some() || (mode.is_some() && bridged) => {
                if let (Some(m), Some(how)) = (&monitor, mode) && bridged {
                    let c = take_frame(&mut mixer[0]);
                    let a = take_frame(&mut mixer[1]);
                    let t = take_frame(&mut mixer[2]);
                    let pt = codec.payload_type();
                    if let Some(to) = m.target {
                        encode(codec, &mix(&c, &a), &mut enc);
                        streams[0].send(&m.socket, to, pt, &enc, &mut out);
                    }
                    if matches!(how, MonitorMode::Whisper | MonitorMode::Barge)
                        && let Some(ag) = &agent && let Some(to) = ag.target
                    {
                        encode(codec, &mix(&c, &t), &mut enc);
                        streams[1].send(&ag.socket, to, pt, &enc, &mut out);
                    }
                    if how == MonitorMode::Barge && let Some(to) = caller.target {
                        encode(codec, &mix(&a, &t), &mut enc);
                        streams[2].send(&caller.socket, to, pt, &enc, &mut out);
                    }
                }
                // What the caller hears from us: the prompt, else music.
                let finished = prompt.as_ref().is_some_and(|(clip, at)| *at >= clip.frames());
                if finished {
                    prompt = None;
                    let _ = events.send((call, Event::PromptDone));
                }
                let sound = if let Some((clip, at)) = &mut prompt {
                    *at += 1;
                    Some((clip.clone(), *at - 1))
                } else if holding {
                    frame += 1;
                    Some((moh.clone(), frame - 1))
                } else {
                    None
                };
                if let (Some((clip, at)), Some(to)) = (sound, caller.target) {
                    out.clear();
                    let b = rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
                        .payload_type(codec.payload_type())
                        .sequence_number(seq)
                        .timestamp(ts)
                        .ssrc(ssrc)
                        .marker_bit(at == 0)
                        .payload(clip.frame(codec, at));
                    if b.write_into_vec(&mut out).is_ok() {
                        let _ = caller.socket.try_send_to(&out, to);
                    }
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(FRAME as u32);
                }
            },
        }
    }
    if let (Some(rec), Some(r)) = (recorder, record.take()) {
        let done = r.done;
        match rec.finish(wall_ms()).await {
            Ok(f) => done(f),
            Err(e) => tracing::error!(error = %e, "the recording could not be finished"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, pt: u8, byte: u8) -> Vec<u8> {
        rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(pt)
            .sequence_number(seq)
            .timestamp(u32::from(seq) * 160)
            .ssrc(7)
            .payload(&[byte; 160][..])
            .write_vec()
            .unwrap()
    }

    async fn bind(ip: &str) -> UdpSocket {
        UdpSocket::bind((ip, 0)).await.unwrap()
    }

    /// A socket for the media threads to serve.
    fn ours() -> std::net::UdpSocket {
        let s = std::net::UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        s.set_nonblocking(true).unwrap();
        s
    }

    async fn recv(s: &UdpSocket) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        match tokio::time::timeout(Duration::from_millis(300), s.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn only_each_legs_own_address_is_relayed_and_keys_are_read() {
        // The caller's phone, the agent's phone, and a stranger on another
        // address (127.0.0.2: loopback, but not the caller's).
        let caller = bind("127.0.0.1").await;
        let agent = bind("127.0.0.1").await;
        let stranger = bind("127.0.0.2").await;
        let ours_caller = ours();
        let ours_agent = ours();
        let to_caller_leg = ours_caller.local_addr().unwrap();
        let to_agent_leg = ours_agent.local_addr().unwrap();
        let (events, mut seen) = mpsc::unbounded_channel();
        let tx = spawn(1u8, ours_caller, Arc::new(Clip::built_in()), events);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        tx.send(Command::Caller {
            remote: caller.local_addr().unwrap(),
            signal: lo,
            codec: Codec::Pcmu,
            events: Some(101),
        })
        .ok();
        tx.send(Command::AgentSocket(ours_agent)).ok();
        tx.send(Command::Agent {
            remote: agent.local_addr().unwrap(),
            signal: lo,
        })
        .ok();
        tx.send(Command::Bridge).ok();
        tokio::time::sleep(Duration::from_millis(50)).await;

        // A stranger's packets to the caller's leg go nowhere.
        stranger
            .send_to(&packet(1, 0, 0x11), to_caller_leg)
            .await
            .unwrap();
        assert_eq!(
            recv(&agent).await,
            None,
            "a stranger's audio is not relayed"
        );
        // The caller's do, unchanged, and back.
        let p = packet(2, 0, 0x22);
        caller.send_to(&p, to_caller_leg).await.unwrap();
        assert_eq!(recv(&agent).await, Some(p));
        let p = packet(3, 0, 0x33);
        agent.send_to(&p, to_agent_leg).await.unwrap();
        assert_eq!(recv(&caller).await, Some(p));
        // A key from the caller (RFC 4733, payload type 101) is read once.
        for _ in 0..3 {
            caller
                .send_to(
                    &rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
                        .payload_type(101)
                        .sequence_number(9)
                        .timestamp(5_000)
                        .ssrc(7)
                        .payload(&[9u8, 0x8a, 3, 32][..])
                        .write_vec()
                        .unwrap(),
                    to_caller_leg,
                )
                .await
                .unwrap();
        }
        let got = tokio::time::timeout(Duration::from_millis(300), seen.recv()).await;
        assert_eq!(got.ok().flatten(), Some((1u8, Event::Key('9'))));
        tx.send(Command::Stop).ok();
    }
}
