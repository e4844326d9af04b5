//! Feeds arbitrary text to the digest `Authorization` parser: it may refuse,
//! never panic, and what it accepts has every required parameter.
//!
//! The property is [`hotline::fuzz::parse_credentials`], which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline::fuzz::parse_credentials(data));
