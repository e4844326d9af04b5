//! Calls placed without an offer (a browser's WebSocket binding): the
//! callee offers in its 2xx and our answer goes in the ACK (RFC 3264 §4).

use std::time::Instant;

use super::super::tests::{events, sent, ua};
use super::tests::{CONTACT, agent, outgoing_call, receive, requests, response};
use super::*;
use crate::sip::ua::EndReason;

/// Places a call without SDP over a WebSocket and has it answered with an offer.
fn answered_with_an_offer(ua: &mut UserAgent, now: Instant) -> CallId {
    let call = ua.call(
        now,
        OutgoingCall {
            sdp: Vec::new(),
            ..outgoing_call(Transport::Ws)
        },
    );
    let invite = requests(sent(ua)).remove(0);
    assert!(invite.body.is_empty(), "no offer in the INVITE");
    assert_eq!(invite.head.content_type, None);
    assert_eq!(invite.head.via[0].transport, "WS");
    receive(ua, now, response(&invite, 200, "browser"));
    let answered = events(ua);
    assert!(
        matches!(&answered[..], [UaEvent::OutgoingAnswered { sdp, .. }] if sdp == b"v=0 answer\r\n"),
        "{answered:?}"
    );
    call
}

#[test]
fn a_late_offer_is_acked_only_with_our_answer() {
    let now = Instant::now();
    let mut ua = ua();
    let call = answered_with_an_offer(&mut ua, now);
    assert!(sent(&mut ua).is_empty(), "the ACK waits for the answer");

    ua.ack_with_answer(&call, b"v=0 our answer\r\n".to_vec());
    let mut acks = requests(sent(&mut ua));
    assert_eq!(acks.len(), 1);
    let ack = acks.remove(0);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.body, b"v=0 our answer\r\n");
    assert_eq!(ack.head.content_type.as_deref(), Some("application/sdp"));

    // Only once: a second answer is not sent.
    ua.ack_with_answer(&call, b"v=0 again\r\n".to_vec());
    assert!(sent(&mut ua).is_empty());
}

#[test]
fn hanging_up_before_the_answer_acks_bare_then_says_bye() {
    let now = Instant::now();
    let mut ua = ua();
    let call = answered_with_an_offer(&mut ua, now);
    ua.hangup(now, &call);
    let sent = requests(sent(&mut ua));
    let methods: Vec<&Method> = sent.iter().map(|r| &r.method).collect();
    assert_eq!(methods, [&Method::Ack, &Method::Bye]);
    assert!(sent[0].body.is_empty());
}

#[test]
fn a_closed_connection_ends_its_calls_and_fails_those_ringing_over_it() {
    let now = Instant::now();
    let mut ua = ua();
    let answered = answered_with_an_offer(&mut ua, now);
    let ringing = ua.call(
        now,
        OutgoingCall {
            sdp: Vec::new(),
            ..outgoing_call(Transport::Ws)
        },
    );
    sent(&mut ua);
    let elsewhere = ua.call(now, outgoing_call(Transport::Udp));
    sent(&mut ua);

    ua.connection_lost(agent(Transport::Ws));
    let ended = events(&mut ua);
    assert!(
        ended.iter().any(|e| matches!(e,
            UaEvent::CallEnded { call, reason: EndReason::ConnectionLost } if *call == answered)),
        "{ended:?}"
    );
    assert!(
        ended.iter().any(|e| matches!(e,
            UaEvent::OutgoingFailed { call, status: 480 } if *call == ringing)),
        "{ended:?}"
    );
    assert!(!ua.knows(&answered) && !ua.knows(&ringing));
    assert!(ua.knows(&elsewhere), "a call over UDP is not touched");
    assert!(
        sent(&mut ua).is_empty(),
        "nothing can be sent over a closed socket"
    );
}

#[test]
fn a_browser_lost_behind_another_nodes_relay_ends_its_calls_by_its_contact() {
    let now = Instant::now();
    let mut ua = ua();
    // Rung through the relay of the node its WebSocket was open on: over UDP.
    let call = ua.call(
        now,
        OutgoingCall {
            sdp: Vec::new(),
            ..outgoing_call(Transport::Udp)
        },
    );
    let invite = requests(sent(&mut ua)).remove(0);
    receive(&mut ua, now, response(&invite, 200, "browser"));
    events(&mut ua);

    ua.target_lost(&crate::sip::uri::parse_uri("sip:agent8@192.168.1.20:5062").unwrap());
    assert!(
        events(&mut ua).is_empty(),
        "another device's loss ends nothing"
    );
    assert!(ua.knows(&call));

    // Its registered Contact, with other parameters than its answer's.
    let registered = crate::sip::uri::parse_uri(&format!("{CONTACT};transport=ws;ob")).unwrap();
    ua.target_lost(&registered);
    let ended = events(&mut ua);
    assert!(
        matches!(&ended[..], [UaEvent::CallEnded { call: ended, reason: EndReason::ConnectionLost }] if *ended == call),
        "{ended:?}"
    );
    assert!(!ua.knows(&call));
}
