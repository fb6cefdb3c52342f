//! The SMTP receiver's session (RFC 5321), sans IO: bytes from the client
//! go in, replies and requests for decisions come out. Commands are read
//! by `smtp-proto`; this module keeps the conversation's state, its limits
//! and every reply code.
//!
//! The shell feeds what it reads with [`Session::input`] and acts on each
//! [`Step`]. Two steps need an answer before the session goes on (later
//! pipelined commands wait in the session): [`Step::Recipient`] is
//! answered with [`Session::recipient`], [`Step::Deliver`] with
//! [`Session::delivered`].

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};

/// What a session allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest message (after dot-unstuffing); larger → 552.
    pub max_message_bytes: usize,
    /// Recipients of one message; more → 452.
    pub max_recipients: usize,
    /// Bad commands in one session before it is closed with 421.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 50,
            max_errors: 10,
        }
    }
}

/// One message as the client handed it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; empty for a bounce (`MAIL FROM:<>`).
    pub mail_from: String,
    /// Accepted recipients, lower-cased, in the order given.
    pub recipients: Vec<String>,
    /// The message, dot-unstuffed, without the final `.`.
    pub data: Vec<u8>,
}

/// Is a recipient served here?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Accepted,
    /// No such mailbox: 550.
    Unknown,
    /// Try later (the store is unavailable): 451.
    TryLater,
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Stored durably: 250 with this reference.
    Stored(String),
    /// Refused for good (a malformed or hostile message): 554 with this text.
    Refused(String),
    /// Not stored; the client should try again: 451.
    TryLater,
}

/// What the shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes to the client.
    Reply(String),
    /// Decide on this recipient (lower-cased), then call `recipient`.
    Recipient(String),
    /// Store this message, then call `delivered`.
    Deliver(Envelope),
    /// Close the connection (after writing the replies before it).
    Close,
}

enum State {
    /// Before HELO/EHLO.
    Start,
    /// Greeted, no transaction.
    Ready,
    /// In a transaction (MAIL given).
    Mail,
    /// Reading the message.
    Data(DataReceiver),
    /// Reading the rest of a message that is too large, to refuse it.
    Discard(DummyDataReceiver),
    /// Waiting for the shell's decision.
    Waiting,
    Closed,
}

pub struct Session {
    hostname: String,
    limits: Limits,
    state: State,
    requests: RequestReceiver,
    /// Input not yet processed (pipelined commands behind a decision).
    pending: Vec<u8>,
    mail_from: String,
    recipients: Vec<String>,
    /// The recipient being decided.
    asking: Option<String>,
    data: Vec<u8>,
    errors: usize,
}

fn reply(code: u16, status: &str, text: &str) -> Step {
    Step::Reply(format!("{code} {status} {text}\r\n"))
}

impl Session {
    pub fn new(hostname: &str, limits: Limits) -> Self {
        Session {
            hostname: hostname.to_owned(),
            limits,
            state: State::Start,
            requests: RequestReceiver::default(),
            pending: Vec::new(),
            mail_from: String::new(),
            recipients: Vec::new(),
            asking: None,
            data: Vec::new(),
            errors: 0,
        }
    }

    /// The 220 banner written when the client connects.
    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP Switchboard\r\n", self.hostname)
    }

    /// Whether the session has ended.
    pub fn closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// How much of a message's data the session holds (0 outside DATA).
    pub fn data_held(&self) -> usize {
        match self.state {
            State::Data(_) => self.data.len(),
            _ => 0,
        }
    }

    /// Whether the session waits for a decision (the shell should not
    /// read more before answering).
    pub fn waiting(&self) -> bool {
        matches!(self.state, State::Waiting)
    }

    /// Bytes read from the client.
    pub fn input(&mut self, bytes: &[u8]) -> Vec<Step> {
        self.pending.extend_from_slice(bytes);
        self.run()
    }

    /// The answer to [`Step::Recipient`].
    pub fn recipient(&mut self, verdict: Recipient) -> Vec<Step> {
        let Some(address) = self.asking.take() else {
            return Vec::new();
        };
        self.state = State::Mail;
        let step = match verdict {
            Recipient::Accepted => {
                self.recipients.push(address);
                reply(250, "2.1.5", "Recipient OK")
            }
            Recipient::Unknown => reply(550, "5.1.1", "No such mailbox here"),
            Recipient::TryLater => reply(451, "4.3.0", "Cannot check the mailbox now, try later"),
        };
        let mut out = vec![step];
        out.extend(self.run());
        out
    }

    /// The answer to [`Step::Deliver`].
    pub fn delivered(&mut self, outcome: Delivery) -> Vec<Step> {
        if !self.waiting() {
            return Vec::new();
        }
        self.reset();
        self.state = State::Ready;
        let step = match outcome {
            Delivery::Stored(id) => reply(250, "2.0.0", &format!("Queued as {id}")),
            Delivery::Refused(why) => reply(554, "5.6.0", &one_line(&why)),
            Delivery::TryLater => reply(451, "4.3.0", "Not stored, try again later"),
        };
        let mut out = vec![step];
        out.extend(self.run());
        out
    }

    fn reset(&mut self) {
        self.mail_from.clear();
        self.recipients.clear();
        self.data = Vec::new();
        self.asking = None;
    }

    fn run(&mut self) -> Vec<Step> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            match &mut self.state {
                State::Closed | State::Waiting => break,
                State::Data(receiver) => {
                    let mut bytes = self.pending[at..].iter();
                    let done = receiver.ingest(&mut bytes, &mut self.data);
                    at = self.pending.len() - bytes.len();
                    if self.data.len() > self.limits.max_message_bytes {
                        self.state = State::Discard(DummyDataReceiver::new_data(receiver));
                        self.data = Vec::new();
                        continue;
                    }
                    if !done {
                        break;
                    }
                    self.state = State::Waiting;
                    out.push(Step::Deliver(Envelope {
                        mail_from: self.mail_from.clone(),
                        recipients: self.recipients.clone(),
                        data: std::mem::take(&mut self.data),
                    }));
                }
                State::Discard(receiver) => {
                    let mut bytes = self.pending[at..].iter();
                    let done = receiver.ingest(&mut bytes);
                    at = self.pending.len() - bytes.len();
                    if !done {
                        break;
                    }
                    self.reset();
                    self.state = State::Ready;
                    out.push(reply(
                        552,
                        "5.3.4",
                        &format!(
                            "Message too large (at most {} bytes)",
                            self.limits.max_message_bytes
                        ),
                    ));
                }
                _ => {
                    if at >= self.pending.len() {
                        break;
                    }
                    let mut bytes = self.pending[at..].iter();
                    let parsed = self.requests.ingest(&mut bytes).map(Request::into_owned);
                    at = self.pending.len() - bytes.len();
                    match parsed {
                        Err(ProtoError::NeedsMoreData { .. }) => break,
                        Ok(request) => out.extend(self.command(request)),
                        Err(e) => {
                            out.push(match e {
                                ProtoError::UnknownCommand => {
                                    reply(500, "5.5.2", "Command not recognised")
                                }
                                ProtoError::InvalidSenderAddress => {
                                    reply(501, "5.1.7", "Bad sender address")
                                }
                                ProtoError::InvalidRecipientAddress => {
                                    reply(501, "5.1.3", "Bad recipient address")
                                }
                                ProtoError::ResponseTooLong => reply(500, "5.5.6", "Line too long"),
                                ProtoError::UnsupportedParameter { .. } => {
                                    reply(555, "5.5.4", "Parameter not supported")
                                }
                                _ => reply(501, "5.5.4", "Syntax error"),
                            });
                            out.extend(self.error());
                        }
                    }
                }
            }
        }
        self.pending.drain(..at);
        out
    }

    /// Counts a bad command; too many close the session.
    fn error(&mut self) -> Vec<Step> {
        self.errors += 1;
        if self.errors >= self.limits.max_errors {
            self.state = State::Closed;
            vec![reply(421, "4.7.0", "Too many errors, closing"), Step::Close]
        } else {
            Vec::new()
        }
    }

    fn out_of_order(&mut self, text: &str) -> Vec<Step> {
        let mut out = vec![reply(503, "5.5.1", text)];
        out.extend(self.error());
        out
    }

    fn command(&mut self, request: Request<String>) -> Vec<Step> {
        let greeted = !matches!(self.state, State::Start);
        match request {
            Request::Ehlo { .. } => {
                self.reset();
                self.state = State::Ready;
                let h = &self.hostname;
                let size = self.limits.max_message_bytes;
                vec![Step::Reply(format!(
                    "250-{h}\r\n250-SIZE {size}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"
                ))]
            }
            Request::Helo { .. } => {
                self.reset();
                self.state = State::Ready;
                vec![Step::Reply(format!("250 {}\r\n", self.hostname))]
            }
            Request::Mail { from } => {
                if !greeted {
                    return self.out_of_order("Say HELO or EHLO first");
                }
                if matches!(self.state, State::Mail) {
                    return self.out_of_order("Sender already given");
                }
                if from.size > self.limits.max_message_bytes {
                    return vec![reply(
                        552,
                        "5.3.4",
                        &format!(
                            "Message too large (at most {} bytes)",
                            self.limits.max_message_bytes
                        ),
                    )];
                }
                self.reset();
                self.mail_from = from.address.to_ascii_lowercase();
                self.state = State::Mail;
                vec![reply(250, "2.1.0", "Sender OK")]
            }
            Request::Rcpt { to } => {
                if !matches!(self.state, State::Mail) {
                    return self.out_of_order("Give the sender first");
                }
                if self.recipients.len() >= self.limits.max_recipients {
                    return vec![reply(452, "4.5.3", "Too many recipients")];
                }
                let address = to.address.trim().to_lowercase();
                if address.is_empty() || !address.contains('@') {
                    return vec![reply(501, "5.1.3", "Bad recipient address")];
                }
                self.state = State::Waiting;
                self.asking = Some(address.clone());
                vec![Step::Recipient(address)]
            }
            Request::Data => {
                if !matches!(self.state, State::Mail) || self.recipients.is_empty() {
                    return self.out_of_order("No valid recipients");
                }
                self.data = Vec::new();
                self.state = State::Data(DataReceiver::new());
                vec![Step::Reply(
                    "354 End data with <CR><LF>.<CR><LF>\r\n".into(),
                )]
            }
            Request::Rset => {
                self.reset();
                if greeted {
                    self.state = State::Ready;
                }
                vec![reply(250, "2.0.0", "OK")]
            }
            Request::Noop { .. } => vec![reply(250, "2.0.0", "OK")],
            Request::Quit => {
                self.state = State::Closed;
                vec![
                    Step::Reply(format!("221 2.0.0 {} closing\r\n", self.hostname)),
                    Step::Close,
                ]
            }
            Request::Vrfy { .. } => vec![reply(252, "2.5.0", "Cannot verify, send a message")],
            Request::Help { .. } => vec![reply(214, "2.0.0", "See RFC 5321")],
            Request::Lhlo { .. } => {
                let mut out = vec![reply(500, "5.5.1", "This is SMTP, not LMTP")];
                out.extend(self.error());
                out
            }
            _ => {
                let mut out = vec![reply(502, "5.5.1", "Command not implemented")];
                out.extend(self.error());
                out
            }
        }
    }
}

/// Text for a reply line: no line breaks, at most 200 characters.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Reply(r) => Some(r.split(' ').next().unwrap_or("").to_owned()),
                _ => None,
            })
            .collect()
    }

    fn small() -> Session {
        Session::new(
            "mx.test",
            Limits {
                max_message_bytes: 100,
                max_recipients: 2,
                max_errors: 3,
            },
        )
    }

    #[test]
    fn a_pipelined_transaction_waits_for_each_decision() {
        let mut s = small();
        let steps = s.input(
            b"EHLO client\r\nMAIL FROM:<A@x.test>\r\nRCPT TO:<Support@Demo.Example>\r\nRCPT TO:<nobody@demo.example>\r\nDATA\r\n",
        );
        assert!(
            matches!(&steps[0], Step::Reply(r) if r.starts_with("250-mx.test\r\n250-SIZE 100"))
        );
        assert_eq!(steps[1], Step::Reply("250 2.1.0 Sender OK\r\n".into()));
        assert_eq!(steps[2], Step::Recipient("support@demo.example".into()));
        assert_eq!(steps.len(), 3);
        let steps = s.recipient(Recipient::Accepted);
        assert_eq!(replies(&steps), ["250"]);
        assert_eq!(steps[1], Step::Recipient("nobody@demo.example".into()));
        let steps = s.recipient(Recipient::Unknown);
        assert_eq!(replies(&steps), ["550", "354"]);
        let steps = s.input(b"Subject: hi\r\n\r\n..dotted\r\n.\r\n");
        assert_eq!(
            steps,
            vec![Step::Deliver(Envelope {
                mail_from: "a@x.test".into(),
                recipients: vec!["support@demo.example".into()],
                data: b"Subject: hi\r\n\r\n.dotted\r\n".to_vec(),
            })]
        );
        assert!(s.waiting());
        let steps = s.delivered(Delivery::Stored("abc".into()));
        assert_eq!(
            steps,
            vec![Step::Reply("250 2.0.0 Queued as abc\r\n".into())]
        );
        let steps = s.input(b"QUIT\r\n");
        assert_eq!(replies(&steps), ["221"]);
        assert_eq!(steps[1], Step::Close);
    }

    #[test]
    fn commands_out_of_order_and_limits_are_refused() {
        let mut s = small();
        assert_eq!(replies(&s.input(b"MAIL FROM:<a@x.test>\r\n")), ["503"]);
        assert_eq!(replies(&s.input(b"HELO c\r\nDATA\r\n")), ["250", "503"]);
        assert_eq!(
            replies(&s.input(b"MAIL FROM:<a@x.test> SIZE=1000\r\n")),
            ["552"]
        );
        s.input(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<a@d.test>\r\n");
        s.recipient(Recipient::Accepted);
        s.input(b"RCPT TO:<b@d.test>\r\n");
        s.recipient(Recipient::Accepted);
        assert_eq!(replies(&s.input(b"RCPT TO:<c@d.test>\r\n")), ["452"]);
        // Third error: the session ends.
        let steps = s.input(b"BOGUS\r\n");
        assert_eq!(replies(&steps), ["500", "421"]);
        assert_eq!(steps.last(), Some(&Step::Close));
        assert!(s.closed());
    }

    #[test]
    fn a_message_over_the_limit_is_read_to_its_end_and_refused() {
        let mut s = small();
        s.input(b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@d.test>\r\n");
        s.recipient(Recipient::Accepted);
        assert_eq!(replies(&s.input(b"DATA\r\n")), ["354"]);
        let mut body = b"Subject: big\r\n\r\n".to_vec();
        for _ in 0..20 {
            body.extend_from_slice(b"0123456789\r\n");
        }
        let mut steps = s.input(&body);
        assert!(replies(&steps).is_empty());
        steps = s.input(b".\r\nNOOP\r\n");
        assert_eq!(replies(&steps), ["552", "250"]);
        assert!(!steps.iter().any(|s| matches!(s, Step::Deliver(_))));
    }

    #[test]
    fn a_refused_delivery_says_why_on_one_line() {
        let mut s = small();
        s.input(b"HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<a@d.test>\r\n");
        s.recipient(Recipient::Accepted);
        s.input(b"DATA\r\nx\r\n.\r\n");
        let steps = s.delivered(Delivery::Refused("too\r\nmany parts".into()));
        assert_eq!(
            steps,
            vec![Step::Reply("554 5.6.0 too  many parts\r\n".into())]
        );
    }

    #[test]
    fn input_split_anywhere_reads_the_same() {
        let all = b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<a@d.test>\r\n";
        for cut in 1..all.len() {
            let mut s = small();
            let mut steps = s.input(&all[..cut]);
            steps.extend(s.input(&all[cut..]));
            assert_eq!(
                steps.last(),
                Some(&Step::Recipient("a@d.test".into())),
                "cut {cut}"
            );
        }
    }
}
