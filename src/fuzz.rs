//! What each fuzz target checks, as functions of the input: the libFuzzer
//! targets in `fuzz/` call them, and so does `tests/fuzz_properties.rs`,
//! which runs them over the seed corpus and fixed-seed mutations of it on the
//! stable toolchain. A property returns normally or panics saying what broke.

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;

use crate::dtmf::rfc4733::Rfc4733Receiver;
use crate::flow::{AudioDir, Catalog};
use crate::rtp::packet::RtpPacket;
use crate::sip::digest::{Challenge, Credentials};
use crate::sip::framing::StreamFramer;
use crate::sip::sdp::{LocalMedia, SdpSession, SessionDescription};
use crate::sip::{bad_request_for, parse};

/// A fuzz target's name (its directory under `fuzz/corpus/`) and property.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: [Target; 6] = [
    ("parse_message", parse_message),
    ("parse_sdp", parse_sdp),
    ("parse_rtp", parse_rtp),
    ("parse_credentials", parse_credentials),
    ("parse_challenge", parse_challenge),
    ("compile_flow", compile_flow),
];

/// A SIP datagram or TCP stream: the parser, the 400 builder and the TCP
/// framer never panic, and whatever parses, serialized and parsed again, is
/// the same message.
pub fn parse_message(data: &[u8]) {
    match parse(data) {
        Ok(message) => {
            // The serializer is the parser's inverse on everything the parser accepts.
            let again = parse(&message.to_bytes()).expect("a serialized message parses");
            assert_eq!(
                again, message,
                "a message changed in a serialize/parse round trip"
            );
        }
        Err(error) => {
            let _ = bad_request_for(data, &error);
        }
    }
    let mut framer = StreamFramer::new();
    framer.push(data);
    while let Some(Ok(frame)) = framer.next_message() {
        let _ = parse(&frame);
    }
}

/// An INVITE's body: the SDP parser and answering it as an offer may refuse,
/// never panic, and an answer that is made parses.
pub fn parse_sdp(data: &[u8]) {
    let _ = SessionDescription::parse(data);
    let local = LocalMedia {
        address: std::net::Ipv4Addr::new(192, 0, 2, 10).into(),
        rtp_port: 20_000,
    };
    let mut session = SdpSession::new(local, &mut rand::rngs::StdRng::seed_from_u64(1));
    if let Ok((answer, _)) = session.answer(data) {
        SessionDescription::parse(&answer).expect("our answer parses");
    }
}

/// An RTP datagram, and its payload as an RFC 4733 telephone-event:
/// malformed packets are refused or counted, never a panic, and a parsed
/// payload lies inside the datagram.
pub fn parse_rtp(data: &[u8]) {
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    assert!(
        packet.payload.len() <= data.len(),
        "the payload is longer than the datagram"
    );
    let mut receiver = Rfc4733Receiver::new();
    receiver.handle_packet(
        Instant::now(),
        packet.timestamp,
        packet.sequence,
        packet.marker,
        packet.payload,
    );
    while receiver.poll_digit().is_some() {}
}

/// A caller's digest `Authorization` header: refused or accepted, never a
/// panic, and accepted credentials name a user.
pub fn parse_credentials(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if Credentials::parse(text).is_ok() {
        assert!(
            text.to_ascii_lowercase().contains("username"),
            "credentials without a username were accepted"
        );
    }
}

/// A trunk's `WWW-Authenticate` or `Proxy-Authenticate`: refused or
/// accepted, never a panic.
pub fn parse_challenge(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Challenge::parse(text);
    }
}

/// A flow file: it compiles or gives located diagnostics, never a panic.
pub fn compile_flow(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = Catalog {
        lookups: ["balance".to_owned()].into(),
        ticket_types: [("line_repair".to_owned(), ["phone".to_owned()].into())].into(),
        queues: ["support".to_owned()].into(),
    };
    let _ = crate::flow::compile(
        source,
        Path::new("fuzz.yaml"),
        &catalog,
        &AudioDir::default(),
    );
}
