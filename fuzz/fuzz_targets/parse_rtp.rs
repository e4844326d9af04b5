//! Feeds arbitrary datagrams to the RTP packet parser and, as telephone-events,
//! to the RFC 4733 receiver: malformed packets are refused or counted, never a
//! panic, and a parsed payload lies inside the datagram.
//!
//! The property is [`hotline::fuzz::parse_rtp`], which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hotline::fuzz::parse_rtp(data));
