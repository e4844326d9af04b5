//! Calls hotline places, on a virtual clock, against a scripted callee.

use std::time::{Duration, Instant};

use super::super::tests::{events, sent, statuses, ua};
use super::*;
use crate::sip::parse::{parse, parse_via_list};
use crate::sip::ua::EndReason;
use crate::sip::uri::{parse_name_addr, parse_uri};

/// Where the agent's REGISTER came from: the INVITE goes here.
pub(super) const AGENT: &str = "127.0.0.1:5071";
/// The agent's Contact: a private address behind its NAT.
pub(super) const CONTACT: &str = "sip:agent7@192.168.1.20:5062";

pub(super) fn agent(transport: Transport) -> Remote {
    Remote {
        addr: AGENT.parse().unwrap(),
        transport,
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

pub(super) fn outgoing_call(transport: Transport) -> OutgoingCall {
    OutgoingCall {
        request_uri: parse_uri(&format!("{CONTACT};ob")).unwrap(),
        from: parse_name_addr("\"Olena Kovalenko\" <sip:+380441234567@127.0.0.1>").unwrap(),
        to: parse_name_addr("<sip:agent7@127.0.0.1>").unwrap(),
        remote: agent(transport),
        route: Vec::new(),
        sdp: b"v=0 offer\r\n".to_vec(),
        headers: vec![
            header("X-Hotline-Customer", "Olena Kovalenko"),
            header("X-Hotline-Path", "main>2>agent"),
            header("X-Hotline-Account", "100200300\r\nVia: SIP/2.0/UDP evil"),
            header("Call-ID", "chosen-by-the-queue"),
            header("Bad Name", "x"),
        ],
        auth: None,
    }
}

/// Places a call over `transport`; returns its id and the INVITE as sent.
fn dial(ua: &mut UserAgent, now: Instant, transport: Transport) -> (CallId, Request) {
    let call = ua.call(now, outgoing_call(transport));
    let transmit = ua.poll_transmit().expect("the INVITE");
    assert_eq!(
        transmit.remote,
        agent(transport),
        "to the registered source"
    );
    assert!(ua.poll_transmit().is_none());
    let Message::Request(invite) = transmit.message else {
        panic!("not a request")
    };
    (call, invite)
}

/// The callee's response to our INVITE from the fork tagged `tag`.
pub(super) fn response(invite: &Request, status: u16, tag: &str) -> Response {
    let mut response = Response::to_request(invite, status).with_to_tag(tag);
    if (101..300).contains(&status) {
        response.head.contact = vec![parse_name_addr(&format!("<{CONTACT}>")).unwrap()];
    }
    if status == 200 {
        response.head.content_type = Some("application/sdp".into());
        response.body = b"v=0 answer\r\n".to_vec();
    }
    response
}

pub(super) fn receive(ua: &mut UserAgent, now: Instant, response: Response) {
    ua.handle_message(now, Message::Response(response), agent(Transport::Udp));
}

/// A request from the callee inside the dialog of `invite`.
fn from_callee(invite: &Request, method: Method, seq: u32, body: &[u8]) -> Message {
    let mut from = invite.head.to.clone();
    from.params.set("tag", Some("agent".into()));
    let via = format!("SIP/2.0/UDP {AGENT};branch=z9hG4bK-{method}-{seq};rport");
    Message::Request(Request {
        method: method.clone(),
        uri: invite.head.contact[0].uri.clone(),
        head: Head {
            via: parse_via_list(&via).unwrap(),
            from,
            to: invite.head.from.clone(),
            call_id: invite.head.call_id.clone(),
            cseq: CSeq { seq, method },
            max_forwards: Some(70),
            contact: vec![parse_name_addr(&format!("<{CONTACT}>")).unwrap()],
            record_route: Vec::new(),
            route: Vec::new(),
            content_type: (!body.is_empty()).then(|| "application/dtmf-relay".into()),
            other: Vec::new(),
        },
        body: body.to_vec(),
    })
}

pub(super) fn requests(messages: Vec<Message>) -> Vec<Request> {
    messages
        .into_iter()
        .map(|m| match m {
            Message::Request(r) => r,
            Message::Response(r) => panic!("expected a request, got {}", r.status),
        })
        .collect()
}

/// Dials and answers with a 200 from fork `agent`; returns the call, the INVITE and the ACK.
fn answered(ua: &mut UserAgent, now: Instant) -> (CallId, Request, Request) {
    let (call, invite) = dial(ua, now, Transport::Udp);
    receive(ua, now, response(&invite, 180, "agent"));
    receive(ua, now, response(&invite, 200, "agent"));
    let [
        UaEvent::OutgoingProgress { status: 180, .. },
        UaEvent::OutgoingAnswered { sdp, .. },
    ] = &events(ua)[..]
    else {
        panic!("expected ringing then answered")
    };
    assert_eq!(sdp, b"v=0 answer\r\n");
    let mut acks = requests(sent(ua));
    assert_eq!(acks.len(), 1);
    (call, invite, acks.remove(0))
}

#[test]
fn invite_has_fresh_ids_rport_contact_allow_sdp_and_the_callers_context() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.uri.to_string(), format!("{CONTACT};ob"));
    assert_eq!(call.0, invite.head.call_id);
    let via = &invite.head.via[..];
    assert_eq!(via.len(), 1);
    assert_eq!(via[0].transport, "UDP");
    assert_eq!(
        via[0].to_string().split(';').next(),
        Some("SIP/2.0/UDP 127.0.0.1:5060")
    );
    assert!(invite.head.branch().unwrap().starts_with("z9hG4bK"));
    assert!(via[0].params.has("rport"));
    assert_eq!(
        invite.head.from.display_name.as_deref(),
        Some("Olena Kovalenko")
    );
    assert!(invite.head.from_tag().is_some_and(|t| t.len() >= 8));
    assert_eq!(invite.head.to_tag(), None);
    assert_eq!(invite.head.cseq.seq, 1);
    assert_eq!(invite.head.max_forwards, Some(70));
    assert_eq!(
        invite.head.contact[0].to_string(),
        "<sip:hotline@127.0.0.1:5060>"
    );
    assert!(invite.head.header("Allow").unwrap().contains("CANCEL"));
    assert_eq!(invite.head.content_type.as_deref(), Some("application/sdp"));
    assert_eq!(invite.body, b"v=0 offer\r\n");
    assert_eq!(
        invite.head.header("X-Hotline-Customer"),
        Some("Olena Kovalenko")
    );
    assert_eq!(invite.head.header("X-Hotline-Path"), Some("main>2>agent"));

    // What goes on the wire parses back with one Via and the queue's
    // headers unable to add or replace any header of their own.
    let Ok(Message::Request(wire)) = parse(&invite.to_bytes()) else {
        panic!("the INVITE does not parse")
    };
    assert_eq!(wire.head.via.len(), 1);
    assert_eq!(wire.head.call_id, call.0);
    assert_eq!(
        wire.head.header("X-Hotline-Account"),
        Some("100200300  Via: SIP/2.0/UDP evil")
    );
    assert_eq!(wire.head.header("Bad Name"), None);

    let (second, again) = dial(&mut ua, now, Transport::Udp);
    assert_ne!(second, call);
    assert_ne!(again.head.from_tag(), invite.head.from_tag());
    assert_ne!(again.head.branch(), invite.head.branch());
    let (replayed, _) = dial(&mut super::super::tests::ua(), now, Transport::Udp);
    assert_eq!(replayed, call, "the seed fixes the identifiers");
}

#[test]
fn answer_is_acked_at_its_contact_through_the_reversed_record_route() {
    let now = Instant::now();
    let mut ua = ua();
    let (_, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, response(&invite, 100, "agent"));
    assert!(events(&mut ua).is_empty(), "100 Trying is not progress");
    let mut ok = response(&invite, 200, "agent");
    // The proxy nearest the callee is on top.
    ok.head.record_route = vec![
        parse_name_addr("<sip:127.0.0.8:5080;lr>").unwrap(),
        parse_name_addr("<sip:127.0.0.9:5090;lr>").unwrap(),
    ];
    receive(&mut ua, now, ok);
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::OutgoingAnswered { .. }]
    ));
    let transmit = ua.poll_transmit().expect("the ACK");
    assert_eq!(transmit.remote.addr, "127.0.0.9:5090".parse().unwrap());
    let Message::Request(ack) = transmit.message else {
        panic!()
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri.to_string(), CONTACT);
    let route: Vec<String> = ack.head.route.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        route,
        ["<sip:127.0.0.9:5090;lr>", "<sip:127.0.0.8:5080;lr>"]
    );
    assert_eq!(
        (ack.head.cseq.seq, &ack.head.cseq.method),
        (1, &Method::Ack)
    );
    assert_eq!(ack.head.to_tag(), Some("agent"));
    assert_eq!(ack.head.from_tag(), invite.head.from_tag());
    assert_ne!(
        ack.head.branch(),
        invite.head.branch(),
        "a 2xx ACK is its own transaction"
    );
    assert_eq!(ua.call_count(), 1);
}

#[test]
fn retransmitted_2xx_is_acked_again_and_reported_once() {
    let now = Instant::now();
    let mut ua = ua();
    let (_, invite, ack) = answered(&mut ua, now);
    let later = now + Duration::from_millis(500);
    receive(&mut ua, later, response(&invite, 200, "agent"));
    let transmit = ua.poll_transmit().expect("the ACK again");
    assert_eq!(
        transmit.remote,
        agent(Transport::Udp),
        "without a route set the ACK follows the INVITE, not the private Contact"
    );
    assert_eq!(transmit.message, Message::Request(ack));
    assert!(events(&mut ua).is_empty());
    ua.handle_timeout(now + Duration::from_secs(32));
    assert!(sent(&mut ua).is_empty());
    assert_eq!(
        ua.poll_timeout(),
        None,
        "nothing left to wait for once 2xx stop"
    );
    assert_eq!(ua.call_count(), 1, "the call itself goes on");
}

#[test]
fn busy_fails_with_486_and_the_transaction_acks_it() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, response(&invite, 180, "agent"));
    receive(&mut ua, now, response(&invite, 486, "agent"));
    let ack = requests(sent(&mut ua));
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].method, Method::Ack);
    assert_eq!(
        ack[0].head.branch(),
        invite.head.branch(),
        "a non-2xx ACK is hop-by-hop"
    );
    let [
        UaEvent::OutgoingProgress { status: 180, .. },
        UaEvent::OutgoingFailed {
            call: failed,
            status: 486,
        },
    ] = &events(&mut ua)[..]
    else {
        panic!("expected ringing then busy")
    };
    assert_eq!(failed, &call);
    assert_eq!(ua.call_count(), 0);
    receive(&mut ua, now, response(&invite, 486, "agent"));
    assert_eq!(
        statuses(&sent(&mut ua)),
        ["ACK"],
        "a retransmitted 486 is ACKed again"
    );
    assert!(events(&mut ua).is_empty());
}

#[test]
fn no_response_at_all_fails_with_408_when_timer_b_fires() {
    let start = Instant::now();
    let mut ua = ua();
    dial(&mut ua, start, Transport::Udp);
    let mut resent_at = Vec::new();
    let failed_at = loop {
        let at = ua.poll_timeout().expect("Timer A or B pending");
        ua.handle_timeout(at);
        if !sent(&mut ua).is_empty() {
            resent_at.push((at - start).as_millis());
        }
        if let [UaEvent::OutgoingFailed { status, .. }] = events(&mut ua)[..] {
            assert_eq!(status, 408);
            break at - start;
        }
    };
    assert_eq!(resent_at[..4], [500, 1500, 3500, 7500], "Timer A doubles");
    assert_eq!(failed_at, Duration::from_secs(32), "Timer B is 64·T1");
    assert_eq!(ua.call_count(), 0);
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    ua.cancel(now, &call);
    assert!(
        sent(&mut ua).is_empty(),
        "no CANCEL before a provisional response"
    );
    receive(&mut ua, now, response(&invite, 100, "agent"));
    let cancel = requests(sent(&mut ua));
    let [cancel] = &cancel[..] else {
        panic!("expected the CANCEL")
    };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(
        cancel.head.via, invite.head.via,
        "the INVITE's branch, to match it"
    );
    assert_eq!(cancel.head.cseq.seq, invite.head.cseq.seq);
    assert_eq!(cancel.head.to, invite.head.to);
    assert_eq!(cancel.head.from, invite.head.from);
    receive(
        &mut ua,
        now,
        Response::to_request(cancel, 200).with_to_tag("agent"),
    );
    receive(&mut ua, now, response(&invite, 180, "agent"));
    assert!(events(&mut ua).is_empty(), "no progress once cancelled");
    receive(&mut ua, now, response(&invite, 487, "agent"));
    assert_eq!(statuses(&sent(&mut ua)), ["ACK"]);
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::OutgoingFailed { status: 487, .. }]
    ));
}

#[test]
fn a_call_to_a_phone_behind_a_proxy_carries_its_path_as_route_set_in_invite_and_cancel() {
    let now = Instant::now();
    let mut ua = ua();
    let proxy = parse_name_addr("<sip:127.0.0.1:5060;lr>").unwrap();
    let call = ua.call(
        now,
        OutgoingCall {
            route: vec![proxy.clone()],
            ..outgoing_call(Transport::Udp)
        },
    );
    let invite = requests(sent(&mut ua)).remove(0);
    assert_eq!(invite.head.route, std::slice::from_ref(&proxy));
    assert!(
        invite.to_bytes().windows(6).any(|w| w == b"Route:"),
        "the Route header is written"
    );
    receive(&mut ua, now, response(&invite, 180, "agent"));
    events(&mut ua);
    ua.hangup(now, &call);
    let cancel = requests(sent(&mut ua)).remove(0);
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(
        cancel.head.route,
        [proxy],
        "RFC 3261 §9.1: the INVITE's Route"
    );
}

#[test]
fn hangup_while_ringing_sends_cancel_and_the_487_fails_the_call() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, response(&invite, 180, "agent"));
    events(&mut ua);
    ua.hangup(now, &call);
    assert_eq!(statuses(&sent(&mut ua)), ["CANCEL"]);
    ua.hangup(now, &call);
    assert!(sent(&mut ua).is_empty(), "one CANCEL is enough");
    receive(&mut ua, now, response(&invite, 487, "agent"));
    assert_eq!(statuses(&sent(&mut ua)), ["ACK"]);
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::OutgoingFailed { call: c, status: 487 }] if *c == call
    ));
    assert_eq!(ua.call_count(), 0);
}

#[test]
fn answer_crossing_the_cancel_is_acked_then_ended_with_bye() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, response(&invite, 180, "agent"));
    ua.cancel(now, &call);
    sent(&mut ua);
    events(&mut ua);
    receive(&mut ua, now, response(&invite, 200, "agent"));
    let [ack, bye] = &requests(sent(&mut ua))[..] else {
        panic!("expected ACK and BYE")
    };
    assert_eq!((ack.method.clone(), ack.head.cseq.seq), (Method::Ack, 1));
    assert_eq!((bye.method.clone(), bye.head.cseq.seq), (Method::Bye, 2));
    assert_eq!(bye.uri.to_string(), CONTACT);
    assert_eq!(bye.head.to_tag(), Some("agent"));
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::OutgoingFailed { status: 487, .. }]
    ));
    assert_eq!(ua.call_count(), 0);
    receive(&mut ua, now, response(&invite, 200, "agent"));
    assert_eq!(
        statuses(&sent(&mut ua)),
        ["ACK"],
        "its retransmission is only ACKed"
    );
    receive(&mut ua, now, Response::to_request(bye, 200));
    assert!(events(&mut ua).is_empty());
}

#[test]
fn cancel_without_any_final_response_is_given_up_after_64_t1() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, response(&invite, 180, "agent"));
    ua.cancel(now, &call);
    events(&mut ua);
    let gave_up = loop {
        let at = ua.poll_timeout().expect("the give-up deadline");
        ua.handle_timeout(at);
        if let [UaEvent::OutgoingFailed { status, .. }] = events(&mut ua)[..] {
            assert_eq!(status, 408);
            break at - now;
        }
    };
    assert_eq!(gave_up, Duration::from_secs(32));
    assert_eq!(ua.call_count(), 0);
    receive(&mut ua, now + gave_up, response(&invite, 487, "agent"));
    assert!(
        events(&mut ua).is_empty(),
        "a late final response changes nothing"
    );
}

#[test]
fn bye_from_the_callee_ends_the_answered_call() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite, _) = answered(&mut ua, now);
    ua.handle_message(
        now,
        from_callee(&invite, Method::Bye, 1, b""),
        agent(Transport::Udp),
    );
    assert_eq!(statuses(&sent(&mut ua)), ["200 BYE"]);
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::CallEnded { call: c, reason: EndReason::RemoteBye }] if *c == call
    ));
    assert_eq!(ua.call_count(), 0);
}

#[test]
fn our_hangup_sends_bye_through_the_route_set_with_the_next_cseq() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Udp);
    let mut ok = response(&invite, 200, "agent");
    ok.head.record_route = vec![parse_name_addr("<sip:127.0.0.9:5090;lr>").unwrap()];
    receive(&mut ua, now, ok);
    sent(&mut ua);
    events(&mut ua);
    ua.hangup(now, &call);
    let transmit = ua.poll_transmit().expect("the BYE");
    assert_eq!(transmit.remote.addr, "127.0.0.9:5090".parse().unwrap());
    let Message::Request(bye) = transmit.message else {
        panic!()
    };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri.to_string(), CONTACT);
    assert_eq!(bye.head.route.len(), 1);
    assert_eq!(bye.head.cseq.seq, 2);
    assert_eq!(bye.head.from_tag(), invite.head.from_tag());
    assert_eq!(bye.head.to_tag(), Some("agent"));
    receive(&mut ua, now, Response::to_request(&bye, 200));
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::CallEnded {
            reason: EndReason::LocalBye,
            ..
        }]
    ));
}

#[test]
fn a_call_over_tcp_names_tcp_in_via_and_contact_and_is_not_retransmitted() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial(&mut ua, now, Transport::Tcp);
    assert_eq!(invite.head.via[0].transport, "TCP");
    assert_eq!(
        invite.head.contact[0].to_string(),
        "<sip:hotline@127.0.0.1:5060;transport=tcp>"
    );
    ua.handle_timeout(now + Duration::from_secs(2));
    assert!(
        sent(&mut ua).is_empty(),
        "no Timer A on a reliable transport"
    );
    let tcp = agent(Transport::Tcp);
    ua.handle_message(now, Message::Response(response(&invite, 200, "agent")), tcp);
    let ack = ua.poll_transmit().expect("the ACK");
    assert_eq!(ack.remote, tcp);
    ua.hangup(now, &call);
    let bye = ua.poll_transmit().expect("the BYE");
    assert_eq!(bye.remote, tcp);
    assert_eq!(bye.message.head().via[0].transport, "TCP");
}

#[test]
fn second_2xx_from_another_fork_is_acked_and_ended() {
    let now = Instant::now();
    let mut ua = ua();
    let (_, invite, first_ack) = answered(&mut ua, now);
    receive(&mut ua, now, response(&invite, 200, "fork-b"));
    let [ack, bye] = &requests(sent(&mut ua))[..] else {
        panic!("expected ACK and BYE for the second fork")
    };
    assert_eq!(ack.head.to_tag(), Some("fork-b"));
    assert_eq!(
        (bye.method.clone(), bye.head.to_tag()),
        (Method::Bye, Some("fork-b"))
    );
    assert!(events(&mut ua).is_empty(), "the first answer won");
    receive(&mut ua, now, response(&invite, 200, "fork-b"));
    assert_eq!(
        statuses(&sent(&mut ua)),
        ["ACK"],
        "no second BYE for a retransmission"
    );
    receive(&mut ua, now, response(&invite, 200, "agent"));
    assert_eq!(sent(&mut ua), [Message::Request(first_ack)]);
    assert_eq!(ua.call_count(), 1);
}

#[test]
fn info_and_reinvite_from_the_callee_are_handled_like_in_an_incoming_call() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite, _) = answered(&mut ua, now);
    let info = from_callee(&invite, Method::Info, 1, b"Signal=7\r\nDuration=160\r\n");
    ua.handle_message(now, info, agent(Transport::Udp));
    assert_eq!(statuses(&sent(&mut ua)), ["200 INFO"]);
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::Info { body, .. }] if body.starts_with(b"Signal=7")
    ));
    let hold = from_callee(&invite, Method::Invite, 2, b"a=sendonly\r\n");
    ua.handle_message(now, hold, agent(Transport::Udp));
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::ReOffer { sdp, .. }] if sdp == b"a=sendonly\r\n"
    ));
    ua.answer_reoffer(now, &call, b"a=recvonly\r\n".to_vec());
    let messages = sent(&mut ua);
    assert_eq!(statuses(&messages), ["100 INVITE", "200 INVITE"]);
    let Message::Response(ok) = &messages[1] else {
        panic!()
    };
    assert_eq!(
        ok.head.to_tag(),
        invite.head.from_tag(),
        "our tag stays ours"
    );
    assert_eq!(ok.body, b"a=recvonly\r\n");
    let stale = from_callee(&invite, Method::Options, 1, b"");
    ua.handle_message(now, stale, agent(Transport::Udp));
    assert_eq!(
        statuses(&sent(&mut ua)),
        ["500 OPTIONS"],
        "the callee's CSeq must grow"
    );
}

#[test]
fn an_invite_that_cannot_be_sent_fails_the_call_with_503_at_once() {
    let now = Instant::now();
    let mut ua = ua();
    let call = ua.call(now, outgoing_call(Transport::Tcp));
    let invite = ua.poll_transmit().expect("the INVITE");
    ua.handle_send_failure(&invite);
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::OutgoingFailed { call: c, status: 503 }] if *c == call
    ));
    assert_eq!(ua.call_count(), 0);
    assert_eq!(ua.poll_timeout(), None, "no Timer B left behind");
}

/// A call with credentials for `realm`, dialled; its id and INVITE.
fn dial_with_auth(ua: &mut UserAgent, now: Instant) -> (CallId, Request) {
    let call = ua.call(
        now,
        OutgoingCall {
            auth: Some(ClientCredentials {
                username: "hotline".into(),
                password: "trunk-secret".into(),
                realm: Some("trunk".into()),
            }),
            ..outgoing_call(Transport::Udp)
        },
    );
    let Some(Transmit {
        message: Message::Request(invite),
        ..
    }) = ua.poll_transmit()
    else {
        panic!("no INVITE")
    };
    (call, invite)
}

/// A 407 (or 401) with one challenge.
fn challenge(invite: &Request, status: u16, params: &str) -> Response {
    let mut response = response(invite, status, "trunk");
    let name = if status == 407 {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    response
        .head
        .push_header(name, format!("Digest realm=\"trunk\", {params}"));
    response
}

#[test]
fn a_407_is_acked_and_the_invite_sent_again_with_proxy_credentials() {
    let now = Instant::now();
    let mut ua = ua();
    let (call, invite) = dial_with_auth(&mut ua, now);
    receive(
        &mut ua,
        now,
        challenge(&invite, 407, "nonce=\"n1\", qop=\"auth\""),
    );
    let sent = requests(sent(&mut ua));
    let [ack, again] = &sent[..] else {
        panic!("expected the ACK and a new INVITE: {sent:?}")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(again.method, Method::Invite);
    assert_eq!(again.head.call_id, invite.head.call_id);
    assert_eq!(again.head.from_tag(), invite.head.from_tag());
    assert_eq!(again.head.to_tag(), None);
    assert_eq!(again.head.cseq.seq, 2);
    assert_ne!(again.head.branch(), invite.head.branch());
    let credentials = again
        .head
        .header("Proxy-Authorization")
        .expect("credentials");
    assert!(credentials.starts_with("Digest username=\"hotline\", realm=\"trunk\", nonce=\"n1\""));
    assert!(
        credentials.contains("qop=auth, nc=00000001"),
        "{credentials}"
    );
    assert!(events(&mut ua).is_empty(), "the call goes on");
    // The new INVITE is answered: the call is up under the same id.
    receive(&mut ua, now, response(again, 200, "trunk"));
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::OutgoingAnswered { call: answered, .. }] if *answered == call
    ));
}

#[test]
fn credentials_refused_fail_the_call_but_a_stale_nonce_is_answered_again() {
    let now = Instant::now();
    let mut ua = ua();
    let (_, invite) = dial_with_auth(&mut ua, now);
    receive(&mut ua, now, challenge(&invite, 401, "nonce=\"n1\""));
    let again = requests(sent(&mut ua)).pop().unwrap();
    assert!(again.head.header("Authorization").is_some());
    receive(
        &mut ua,
        now,
        challenge(&again, 401, "nonce=\"n2\", stale=true"),
    );
    let third = requests(sent(&mut ua)).pop().unwrap();
    assert_eq!(third.head.cseq.seq, 3);
    assert!(
        third
            .head
            .header("Authorization")
            .unwrap()
            .contains("nonce=\"n2\"")
    );
    assert_eq!(third.head.headers("Authorization").count(), 1);
    receive(&mut ua, now, challenge(&third, 401, "nonce=\"n3\""));
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::OutgoingFailed { status: 401, .. }]
    ));
}

#[test]
fn a_challenge_for_another_realm_or_without_credentials_fails_the_call() {
    let now = Instant::now();
    let mut ua = ua();
    let (_, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, challenge(&invite, 401, "nonce=\"n1\""));
    assert_eq!(statuses(&sent(&mut ua)), ["ACK"]);
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::OutgoingFailed { status: 401, .. }]
    ));
    let (_, invite) = dial_with_auth(&mut ua, now);
    let mut other = response(&invite, 407, "trunk");
    other.head.push_header(
        "Proxy-Authenticate",
        "Digest realm=\"elsewhere\", nonce=\"n\"",
    );
    receive(&mut ua, now, other);
    assert_eq!(statuses(&sent(&mut ua)), ["ACK"]);
    assert!(matches!(
        &events(&mut ua)[..],
        [UaEvent::OutgoingFailed { status: 407, .. }]
    ));
}

#[test]
fn a_183_with_sdp_reports_the_early_answer_and_a_180_without_reports_none() {
    let now = Instant::now();
    let mut ua = ua();
    let (_, invite) = dial(&mut ua, now, Transport::Udp);
    receive(&mut ua, now, response(&invite, 180, "agent"));
    let mut progress = response(&invite, 183, "agent");
    progress.head.content_type = Some("application/sdp".into());
    progress.body = b"v=0 early\r\n".to_vec();
    receive(&mut ua, now, progress);
    let [
        UaEvent::OutgoingProgress {
            status: 180,
            sdp: None,
            ..
        },
        UaEvent::OutgoingProgress {
            status: 183,
            sdp: Some(early),
            ..
        },
    ] = &events(&mut ua)[..]
    else {
        panic!("expected ringing, then progress with SDP")
    };
    assert_eq!(early, b"v=0 early\r\n");
}
