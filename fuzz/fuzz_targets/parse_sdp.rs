//! Feeds arbitrary bytes to the SDP parser and to answering an offer, as an
//! INVITE's body reaches them: either may refuse, neither may panic, and an
//! answer that is made parses.
#![no_main]

use hotline::sip::sdp::{LocalMedia, SdpSession, SessionDescription};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let _ = SessionDescription::parse(data);
    let local = LocalMedia {
        address: "192.0.2.10".parse().unwrap(),
        rtp_port: 20_000,
    };
    let mut session = SdpSession::new(local, &mut rand::rngs::StdRng::seed_from_u64(1));
    if let Ok((answer, _)) = session.answer(data) {
        SessionDescription::parse(&answer).expect("our answer parses");
    }
});
