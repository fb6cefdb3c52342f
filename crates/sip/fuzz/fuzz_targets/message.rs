//! Any bytes: the SIP parser, SDP and digest readers answer without
//! panicking, and what parses builds back into the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sb_sip::fuzzing::message_once(data));
