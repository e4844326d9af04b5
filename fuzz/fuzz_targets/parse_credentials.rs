//! Feeds arbitrary text to the digest `Authorization` parser: it may refuse,
//! never panic, and what it accepts has every required parameter.
#![no_main]

use hotline::sip::digest::Credentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if Credentials::parse(text).is_ok() {
        assert!(text.to_ascii_lowercase().contains("username"));
    }
});
