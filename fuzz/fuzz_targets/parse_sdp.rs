//! Feeds arbitrary bytes to the SDP parser and to answering an offer, as an
//! INVITE's body reaches them: either may refuse, neither may panic, and an
//! answer that is made parses.
//!
//! The property is [`hotline::fuzz::parse_sdp`], which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline::fuzz::parse_sdp(data));
