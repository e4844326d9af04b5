//! The peer against a simulated browser ([`super::loopback::Pair`]) on a
//! virtual clock.

use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::format::Codec as RtcCodec;
use str0m::media::{Direction, Frequency, MediaTime, TelephoneEvent};

use super::loopback::{BROWSER, Offers, Pair, SERVER, browser, offer};
use super::peer::{EndReason, OfferError, Peer, PeerEvent, Reanswer, SendError};
use crate::dtmf::DigitSource;
use crate::rtp::g711::Codec;

fn frame(n: u8) -> Vec<u8> {
    (0..160)
        .map(|i| n.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

#[test]
fn browser_offer_gets_an_ice_lite_g711_answer_and_both_ends_connect() {
    let (mut pair, answer) = Pair::new();
    assert!(answer.contains("a=ice-lite"), "{answer}");
    assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "{answer}");
    assert!(answer.contains("a=rtcp-mux"), "{answer}");
    assert!(answer.contains("a=fingerprint:sha-256"), "{answer}");
    assert!(answer.contains("PCMU/8000"), "{answer}");
    assert!(answer.contains("telephone-event/8000"), "{answer}");
    assert!(!answer.to_lowercase().contains("opus"), "{answer}");
    assert!(answer.contains("192.0.2.1 20001 typ host"), "{answer}");
    assert_eq!(pair.peer.codec(), Codec::Pcmu);

    pair.run_until(Duration::from_secs(5), |p| {
        p.browser_connected
            && p.peer_events
                .contains(&PeerEvent::Connected { codec: Codec::Pcmu })
    });
    assert!(
        pair.now - pair.start < Duration::from_secs(2),
        "connecting took {:?}",
        pair.now - pair.start
    );
}

#[test]
fn audio_frames_flow_both_ways_unchanged() {
    let mut pair = Pair::connected();
    for n in 0..10u8 {
        pair.peer
            .send_frame(pair.now, &frame(n))
            .expect("frame sent");
        pair.browser_sends(&frame(100 + n), u64::from(n) * 160);
        pair.run_for(Duration::from_millis(20));
    }
    pair.run_for(Duration::from_millis(200));
    let sent: Vec<Vec<u8>> = (0..10).map(frame).collect();
    assert_eq!(pair.browser_heard, sent, "the browser heard other audio");
    let from_browser: Vec<Vec<u8>> = (100..110).map(frame).collect();
    assert_eq!(
        pair.peer_audio(),
        from_browser,
        "the peer heard other audio"
    );
}

#[test]
fn a_key_pressed_in_the_browser_is_one_digit() {
    let mut pair = Pair::connected();
    let now = pair.now;
    let writer = pair.browser.writer(pair.browser_mid).expect("audio media");
    let pt = writer
        .payload_params()
        .find(|p| p.spec().codec == RtcCodec::PCMU)
        .unwrap()
        .pt();
    let press = TelephoneEvent {
        event: 11, // '#'
        end: true,
        volume: 10,
        duration: Duration::from_millis(120),
    };
    writer
        .telephone_event(press)
        .write(
            pt,
            now,
            MediaTime::new(8000, Frequency::EIGHT_KHZ),
            Vec::new(),
        )
        .expect("key written");
    pair.run_for(Duration::from_secs(1));
    let digits: Vec<_> = pair
        .peer_events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Digit(d) => Some((d.digit, d.source)),
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec![('#', DigitSource::Rfc4733)]);
}

#[test]
fn keys_sent_to_the_browser_arrive_in_order_as_telephone_events() {
    let mut pair = Pair::connected();
    pair.peer.send_digit(pair.now, '1').unwrap();
    pair.peer.send_digit(pair.now, '*').unwrap();
    pair.run_for(Duration::from_secs(1));
    let mut distinct = pair.browser_digits.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        vec![1, 10],
        "the browser saw events {:?}",
        pair.browser_digits
    );
    assert_eq!(
        pair.peer.send_digit(pair.now, 'x'),
        Err(SendError::NotADigit('x'))
    );
}

#[test]
fn consent_is_lost_when_the_browser_vanishes() {
    let mut pair = Pair::connected();
    pair.run_for(Duration::from_secs(20));
    assert!(
        !pair
            .peer_events
            .iter()
            .any(|e| matches!(e, PeerEvent::Ended(_))),
        "ended while the browser was there"
    );
    pair.browser_reachable = false;
    let gone = pair.now;
    pair.run_until(Duration::from_secs(60), |p| p.peer.is_ended());
    assert_eq!(
        pair.peer_events.last(),
        Some(&PeerEvent::Ended(EndReason::ConsentLost))
    );
    // RFC 7675 §5.1: consent expires 30 s after the last check answered.
    let after = pair.now - gone;
    assert!(
        after <= Duration::from_secs(30),
        "consent loss took {after:?}"
    );
    assert_eq!(
        pair.peer.send_frame(pair.now, &frame(0)),
        Err(SendError::Ended)
    );
}

#[test]
fn closing_ends_the_peer_once() {
    let mut pair = Pair::connected();
    pair.peer.close();
    pair.peer.close();
    pair.run_for(Duration::from_millis(100));
    let ends: Vec<_> = pair
        .peer_events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Ended(_)))
        .collect();
    assert_eq!(ends, vec![&PeerEvent::Ended(EndReason::Closed)]);
}

#[test]
fn frames_before_connecting_or_of_the_wrong_size_are_refused() {
    let (mut pair, _) = Pair::new();
    assert_eq!(
        pair.peer.send_frame(pair.now, &frame(0)),
        Err(SendError::NotConnected)
    );
    pair.run_until(Duration::from_secs(5), |p| {
        p.peer_events
            .iter()
            .any(|e| matches!(e, PeerEvent::Connected { .. }))
    });
    assert_eq!(
        pair.peer.send_frame(pair.now, &[0u8; 80]),
        Err(SendError::FrameSize(80))
    );
}

#[test]
fn an_offer_without_g711_is_refused() {
    let now = Instant::now();
    let (_, _, _, offer) = offer(now, Offers::OpusOnly, BROWSER.parse().unwrap());
    let refused = Peer::answer(now, &offer, SERVER.parse().unwrap()).err();
    assert_eq!(refused, Some(OfferError::NoG711));
}

#[test]
fn malformed_or_audioless_offers_are_refused() {
    let now = Instant::now();
    let server = SERVER.parse().unwrap();
    let garbage = Peer::answer(now, "v=0\r\nthis is not sdp\r\n", server).err();
    assert!(
        matches!(garbage, Some(OfferError::Malformed(_))),
        "{garbage:?}"
    );

    let mut rtc = browser(now, Offers::G711, BROWSER.parse().unwrap());
    let mut change = rtc.sdp_api();
    change.add_channel("chat".into());
    let (offer, _) = change.apply().unwrap();
    let audioless = Peer::answer(now, &offer.to_sdp_string(), server).err();
    assert_eq!(audioless, Some(OfferError::NoAudio));
}

/// The browser re-offers its audio as `direction` (JsSIP's hold and
/// resume); the peer answers on the running session and the browser takes
/// the answer.
fn reoffer(pair: &mut Pair, direction: Direction) -> Reanswer {
    let mut change = pair.browser.sdp_api();
    change.set_direction(pair.browser_mid, direction);
    let (offer, pending) = change.apply().expect("a re-offer");
    let answer = pair
        .peer
        .accept_reoffer(&offer.to_sdp_string())
        .expect("the re-offer is answered");
    let sdp = SdpAnswer::from_sdp_string(&answer.sdp).expect("a valid answer");
    pair.browser
        .sdp_api()
        .accept_answer(pending, sdp)
        .expect("the browser accepts the answer");
    answer
}

#[test]
fn a_reoffer_holds_then_resumes_the_running_session() {
    let mut pair = Pair::connected();
    let held = reoffer(&mut pair, Direction::SendOnly);
    assert!(!held.sending, "we may not send to a browser that holds");
    assert!(held.sdp.contains("a=recvonly"), "{}", held.sdp);
    // The session goes on: what the holding browser sends still arrives.
    for n in 0..5u8 {
        pair.browser_sends(&frame(n), u64::from(n) * 160);
        pair.run_for(Duration::from_millis(20));
    }
    pair.run_for(Duration::from_millis(200));
    assert!(
        pair.peer_audio().contains(&frame(4)),
        "{:?}",
        pair.peer_events
    );

    let resumed = reoffer(&mut pair, Direction::SendRecv);
    assert!(resumed.sending);
    assert!(resumed.sdp.contains("a=sendrecv"), "{}", resumed.sdp);
    for n in 2..5u8 {
        pair.peer
            .send_frame(pair.now, &frame(n))
            .expect("frame sent");
        pair.run_for(Duration::from_millis(20));
    }
    pair.run_for(Duration::from_millis(200));
    assert!(
        pair.browser_heard.contains(&frame(4)),
        "the browser hears the peer again"
    );
    assert_eq!(pair.peer.codec(), Codec::Pcmu, "the codec is kept");
    assert!(
        !pair
            .peer_events
            .iter()
            .any(|e| matches!(e, PeerEvent::Ended(_))),
        "{:?}",
        pair.peer_events
    );
}

#[test]
fn a_malformed_reoffer_is_refused_and_the_session_kept() {
    let mut pair = Pair::connected();
    let refused = pair.peer.accept_reoffer("v=0\r\nnot sdp\r\n").err();
    assert!(
        matches!(refused, Some(OfferError::Malformed(_))),
        "{refused:?}"
    );
    pair.peer
        .send_frame(pair.now, &frame(7))
        .expect("frame sent");
    pair.run_for(Duration::from_millis(200));
    assert_eq!(pair.browser_heard, vec![frame(7)]);
}
