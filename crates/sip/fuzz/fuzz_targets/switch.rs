//! Datagrams from a trunk and from a stranger into a switch: whatever
//! arrives, it answers or drops, never panics, and its timers run out.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sb_sip::fuzzing::switch_once(data));
