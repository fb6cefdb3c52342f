//! The email channel's own parts. The pure ones: the SMTP receiver's
//! session (`smtp`), reading a received message (`inbound`: MIME, HTML
//! sanitising, attachments, whether a machine sent it), conversation
//! references and reply subjects (`thread`), and building outgoing
//! messages (`outbound`). The one shell: the SMTP listener (`server`),
//! which asks a [`server::Mailroom`] (the application) what to accept.

pub mod inbound;
pub mod outbound;
pub mod server;
pub mod smtp;
pub mod thread;
