//! The SMTP listener: a thin tokio shell around [`crate::smtp::Session`].
//! Each connection reads into the session and writes what it says; the
//! decisions (is this mailbox ours, store this message) go to a
//! [`Mailroom`], which the application provides.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::smtp::{Delivery, Envelope, Limits, Recipient, Session, Step};

/// What the listener asks of the application.
pub trait Mailroom: Send + Sync + 'static {
    /// Whether mail for `address` (lower-cased) is taken here.
    fn recipient(&self, address: String) -> impl Future<Output = Recipient> + Send;
    /// Stores a message durably (or refuses it) before it is acknowledged.
    fn deliver(
        &self,
        peer: SocketAddr,
        envelope: Envelope,
    ) -> impl Future<Output = Delivery> + Send;
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The name in the banner and in EHLO.
    pub hostname: String,
    pub limits: Limits,
    /// Connections at once; more are told 421 and closed.
    pub max_connections: usize,
    /// Large messages being taken at once. A message's data is buffered
    /// until it is stored; past `small_message_bytes` a session needs one
    /// of these slots to read on, and waits for one if none is free. So
    /// connections × small size + slots × size limit bounds what mail can
    /// hold in memory, and a slow sender of small messages holds no slot.
    pub max_data: usize,
    pub small_message_bytes: usize,
    /// A client silent this long is told 421 and closed.
    pub idle: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: "switchboard".into(),
            limits: Limits::default(),
            max_connections: 256,
            max_data: 32,
            small_message_bytes: 1024 * 1024,
            idle: Duration::from_secs(300),
        }
    }
}

/// Accepts connections until the listener fails.
pub async fn serve<M: Mailroom>(listener: TcpListener, config: ServerConfig, room: Arc<M>) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let data = Arc::new(Semaphore::new(config.max_data.max(1)));
    let config = Arc::new(config);
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "SMTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"421 4.3.2 Too many connections, try later\r\n")
                    .await;
            });
            continue;
        };
        let room = room.clone();
        let config = config.clone();
        let data = data.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &config, &*room, &data).await {
                tracing::debug!(%peer, error = %e, "SMTP connection ended");
            }
            drop(slot);
        });
    }
}

async fn connection<M: Mailroom>(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
    room: &M,
    data: &Arc<Semaphore>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut session = Session::new(&config.hostname, config.limits.clone());
    stream.write_all(session.greeting().as_bytes()).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut steps = Vec::new();
    // Held while this session takes a message's data.
    let mut taking: Option<tokio::sync::OwnedSemaphorePermit> = None;
    loop {
        // Act on the steps; a decision's answer may bring more.
        let mut out = String::new();
        while !steps.is_empty() {
            let mut next = Vec::new();
            for step in steps.drain(..) {
                match step {
                    Step::Reply(r) => out.push_str(&r),
                    Step::Close => {
                        stream.write_all(out.as_bytes()).await?;
                        let _ = stream.shutdown().await;
                        return Ok(());
                    }
                    Step::Recipient(address) => {
                        // Replies before a decision go out first.
                        if !out.is_empty() {
                            stream.write_all(out.as_bytes()).await?;
                            out.clear();
                        }
                        next.extend(session.recipient(room.recipient(address).await));
                    }
                    Step::Deliver(envelope) => {
                        if !out.is_empty() {
                            stream.write_all(out.as_bytes()).await?;
                            out.clear();
                        }
                        next.extend(session.delivered(room.deliver(peer, envelope).await));
                    }
                }
            }
            steps = next;
        }
        if !out.is_empty() {
            stream.write_all(out.as_bytes()).await?;
        }
        if session.closed() {
            return Ok(());
        }
        if session.data_held() == 0 {
            taking = None;
        } else if taking.is_none() && session.data_held() > config.small_message_bytes {
            taking = match data.clone().acquire_owned().await {
                Ok(p) => Some(p),
                Err(_) => return Ok(()),
            };
        }
        let read = tokio::time::timeout(config.idle, stream.read(&mut buf)).await;
        match read {
            Err(_) => {
                stream
                    .write_all(b"421 4.4.2 Idle too long, closing\r\n")
                    .await?;
                return Ok(());
            }
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => steps = session.input(&buf[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncBufReadExt, BufReader};

    #[derive(Default)]
    struct Room {
        got: Mutex<Vec<Envelope>>,
    }

    impl Mailroom for Room {
        async fn recipient(&self, address: String) -> Recipient {
            if address.ends_with("@demo.example") {
                Recipient::Accepted
            } else {
                Recipient::Unknown
            }
        }
        async fn deliver(&self, _peer: SocketAddr, envelope: Envelope) -> Delivery {
            self.got.lock().unwrap().push(envelope);
            Delivery::Stored("x1".into())
        }
    }

    #[tokio::test]
    async fn messages_beyond_the_data_limit_wait_their_turn() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let room = Arc::new(Room::default());
        let config = ServerConfig {
            max_data: 1,
            small_message_bytes: 4,
            ..ServerConfig::default()
        };
        tokio::spawn(serve(listener, config, room.clone()));
        let mut clients = Vec::new();
        for _ in 0..2 {
            let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
            let mut lines = BufReader::new(r).lines();
            lines.next_line().await.unwrap();
            w.write_all(
                b"HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<support@demo.example>\r\nDATA\r\n",
            )
            .await
            .unwrap();
            for _ in 0..4 {
                lines.next_line().await.unwrap();
            }
            clients.push((lines, w));
        }
        // The first takes the only slot and stops half-way; the second,
        // past the small size too, waits unread.
        clients[0]
            .1
            .write_all(b"Subject: one\r\n\r\nhalf")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        clients[1]
            .1
            .write_all(b"Subject: two\r\n\r\nall")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        clients[1].1.write_all(b"\r\n.\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(room.got.lock().unwrap().is_empty());
        // The first finishes: both are stored, the first first.
        clients[0].1.write_all(b"\r\n.\r\n").await.unwrap();
        for c in clients.iter_mut() {
            assert!(c.0.next_line().await.unwrap().unwrap().starts_with("250 "));
        }
        let got = room.got.lock().unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].data.starts_with(b"Subject: one"));
    }

    #[tokio::test]
    async fn a_client_delivers_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let room = Arc::new(Room::default());
        tokio::spawn(serve(listener, ServerConfig::default(), room.clone()));
        let stream = TcpStream::connect(addr).await.unwrap();
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        assert!(
            lines
                .next_line()
                .await
                .unwrap()
                .unwrap()
                .starts_with("220 ")
        );
        w.write_all(b"HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<nobody@x.test>\r\nRCPT TO:<support@demo.example>\r\nDATA\r\n")
            .await
            .unwrap();
        let mut codes = Vec::new();
        for _ in 0..5 {
            codes.push(lines.next_line().await.unwrap().unwrap()[..3].to_owned());
        }
        assert_eq!(codes, ["250", "250", "550", "250", "354"]);
        w.write_all(b"Subject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n")
            .await
            .unwrap();
        assert!(
            lines
                .next_line()
                .await
                .unwrap()
                .unwrap()
                .starts_with("250 2.0.0 Queued as x1")
        );
        assert!(lines.next_line().await.unwrap().unwrap().starts_with("221"));
        assert_eq!(lines.next_line().await.unwrap(), None);
        let got = room.got.lock().unwrap();
        assert_eq!(got[0].recipients, ["support@demo.example"]);
        assert_eq!(got[0].data, b"Subject: t\r\n\r\nhello\r\n");
    }
}
