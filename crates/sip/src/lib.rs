//! Switchboard's SIP core, pure: no sockets, no clock, no randomness.
//!
//! - [`msg`]: SIP messages parsed from bytes and built back (RFC 3261).
//! - [`sdp`]: one audio stream's offer and answer (RFC 3264), G.711 and
//!   telephone-event.
//! - [`digest`]: digest authentication with MD5 and SHA-256 (RFC 8760).
//! - [`switch`]: call control — registrations, calls from trunks queued,
//!   agents' phones rung, bridged, hung up — as a sans-IO state machine.

pub mod digest;
pub mod dtmf;
pub mod fuzzing;
pub mod msg;
pub mod sdp;
pub mod switch;

pub use msg::{Message, ParseError};
pub use switch::{
    CallRef, Config, ConsultError, Directory, EndedBy, Media, MonitorError, MonitorMode, Output,
    Stage, Switch,
};
