//! Workforce-management maths for Switchboard: how many agents an interval
//! needs to meet a service target, by Erlang C (callers wait as long as it
//! takes) or Erlang A (callers abandon after an exponentially distributed
//! patience), and what to expect: interval volumes and handle times
//! forecast from history. Pure functions of their inputs: no IO, no clock.
//!
//! Everything is computed without factorials or powers that overflow:
//! Erlang B by its recursion (each step divides, so it stays in `[0, 1]`),
//! Erlang C from Erlang B, and Erlang A's incomplete-gamma terms as a
//! series summed in log space. Results are correct from one agent to
//! hundreds of thousands, and for traffic up to (at least) 100,000 Erlangs.

pub mod adherence;
pub mod availability;
pub mod erlang;
pub mod forecast;
pub mod intervals;
pub mod roster;
pub mod schedule;
pub mod staffing;

pub use erlang::{ErlangA, ErlangC};
pub use staffing::{Model, Requirement, StaffingError, Target, staff};
