//! Feeds arbitrary datagrams to the RTP packet parser and, as telephone-events,
//! to the RFC 4733 receiver: malformed packets are refused or counted, never a
//! panic, and a parsed payload lies inside the datagram.
#![no_main]

use std::time::Instant;

use hotline::dtmf::rfc4733::Rfc4733Receiver;
use hotline::rtp::packet::RtpPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    assert!(packet.payload.len() <= data.len());
    let mut receiver = Rfc4733Receiver::new();
    receiver.handle_packet(
        Instant::now(),
        packet.timestamp,
        packet.sequence,
        packet.marker,
        packet.payload,
    );
    while receiver.poll_digit().is_some() {}
});
