//! Feeds arbitrary bytes to the SIP parser, the 400 builder and the TCP framer:
//! none may panic, and whatever parses must survive a serialize/parse round trip.
//!
//! The property is [`hotline::fuzz::parse_message`], which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline::fuzz::parse_message(data));
