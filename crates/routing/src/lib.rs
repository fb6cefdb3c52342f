//! Switchboard's routing engine (automatic contact distribution): which
//! agent gets which contact, and when.
//!
//! # The run-loop contract
//!
//! The engine is a deterministic state machine with no IO, no clock and no
//! global randomness (the quinn-proto / str0m shape):
//!
//! 1. Call [`Engine::handle_input`] with the current monotonic time and one
//!    [`Input`]. Timers due by then fire first, then the input is applied.
//!    Bad input returns a [`RoutingError`] and changes nothing.
//! 2. Drain [`Engine::poll_output`] until it returns `None`; persist and
//!    publish each [`Output`] in order.
//! 3. Call `handle_input(now, Input::Tick)` no later than
//!    [`Engine::poll_timeout`].
//!
//! The same seed, configuration and inputs at the same times give the same
//! outputs, which is what the deterministic simulation tests rely on.
//!
//! This crate knows nothing of storage, HTTP, channels or wall-clock time.

mod agentset;
mod engine;
pub mod expr;
mod types;

pub use engine::{Engine, QueueStats};
pub use expr::{Expr, ExprError};
pub use types::*;
