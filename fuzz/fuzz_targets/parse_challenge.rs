//! Feeds arbitrary text to the digest challenge parser (a trunk's
//! `WWW-Authenticate` or `Proxy-Authenticate`): it may refuse, never panic.
//!
//! The property is [`hotline::fuzz::parse_challenge`], which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline::fuzz::parse_challenge(data));
