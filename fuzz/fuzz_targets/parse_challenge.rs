//! Feeds arbitrary text to the digest challenge parser (a trunk's
//! `WWW-Authenticate` or `Proxy-Authenticate`): it may refuse, never panic.
#![no_main]

use hotline::sip::digest::Challenge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Challenge::parse(text);
    }
});
