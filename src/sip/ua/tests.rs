//! The user-agent core on a virtual clock, driven by scripted peer messages.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::parse;
use crate::sip::transaction::Transport;

const PEER: &str = "127.0.0.1:5070";

fn peer() -> Remote {
    Remote {
        addr: PEER.parse().unwrap(),
        transport: Transport::Udp,
    }
}

pub(super) fn ua() -> UserAgent {
    let address: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    UserAgent::new(UaConfig::new(address, "hotline-test".into()), 7)
}

/// A request from the peer; `to_tag` makes it in-dialog.
fn request(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>, body: &str) -> Message {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let cseq_method = if method == "ACK" { "ACK" } else { method };
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let text = format!(
        "{method} sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch};rport\r\n\
         From: <sip:+380441234567@127.0.0.1>;tag=caller\r\nTo: <sip:hotline@127.0.0.1>{to_tag}\r\n\
         Call-ID: call-1\r\nCSeq: {cseq} {cseq_method}\r\nContact: <sip:caller@{PEER}>\r\n\
         Max-Forwards: 70\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    parse(text.as_bytes()).unwrap()
}

pub(super) fn sent(ua: &mut UserAgent) -> Vec<Message> {
    std::iter::from_fn(|| ua.poll_transmit())
        .map(|t| t.message)
        .collect()
}

pub(super) fn statuses(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match m {
            Message::Request(r) => r.method.to_string(),
            Message::Response(r) => format!("{} {}", r.status, r.head.cseq.method),
        })
        .collect()
}

pub(super) fn events(ua: &mut UserAgent) -> Vec<UaEvent> {
    std::iter::from_fn(|| ua.poll_event()).collect()
}

/// INVITE → answered with SDP; returns the To tag of the 200.
fn answered_call(ua: &mut UserAgent, now: Instant) -> String {
    ua.handle_message(
        now,
        request("INVITE", "z9hG4bK-i1", 1, None, "v=0\r\n"),
        peer(),
    );
    let call = match events(ua).pop() {
        Some(UaEvent::IncomingCall { call, offer, .. }) => {
            assert_eq!(offer.as_deref(), Some(&b"v=0\r\n"[..]));
            call
        }
        other => panic!("expected an incoming call, got {other:?}"),
    };
    ua.ring(now, &call);
    ua.answer(now, &call, b"v=0 answer".to_vec());
    let messages = sent(ua);
    assert_eq!(
        statuses(&messages),
        ["100 INVITE", "180 INVITE", "200 INVITE"]
    );
    let Message::Response(ok) = &messages[2] else {
        unreachable!()
    };
    assert_eq!(ok.body, b"v=0 answer");
    assert!(!ok.head.contact.is_empty(), "a 2xx carries our Contact");
    ok.head.to_tag().unwrap().to_owned()
}

#[test]
fn invite_answered_then_ack_confirms_and_bye_ends_the_call() {
    let now = Instant::now();
    let mut ua = ua();
    let tag = answered_call(&mut ua, now);
    ua.handle_message(now, request("ACK", "z9hG4bK-a1", 1, Some(&tag), ""), peer());
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::CallConfirmed {
            sdp_in_ack: None,
            ..
        }]
    ));
    ua.handle_message(now, request("BYE", "z9hG4bK-b1", 2, Some(&tag), ""), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["200 BYE"]);
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::CallEnded {
            reason: EndReason::RemoteBye,
            ..
        }]
    ));
    assert_eq!(ua.call_count(), 0);
}

#[test]
fn the_2xx_is_retransmitted_until_the_ack_when_the_first_ack_is_lost() {
    let now = Instant::now();
    let mut ua = ua();
    let tag = answered_call(&mut ua, now);
    let mut resent_at = Vec::new();
    let mut at = now;
    while at < now + Duration::from_secs(8) {
        at += Duration::from_millis(100);
        ua.handle_timeout(at);
        if statuses(&sent(&mut ua)) == ["200 INVITE"] {
            resent_at.push((at - now).as_millis());
        }
    }
    assert_eq!(resent_at, [500, 1500, 3500, 7500], "T1 doubling up to T2");
    ua.handle_message(at, request("ACK", "z9hG4bK-a1", 1, Some(&tag), ""), peer());
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::CallConfirmed { .. }]
    ));
    ua.handle_timeout(at + Duration::from_secs(10));
    assert!(sent(&mut ua).is_empty(), "no retransmission after the ACK");
}

#[test]
fn no_ack_within_64_t1_sends_bye_and_ends_the_call() {
    let now = Instant::now();
    let mut ua = ua();
    answered_call(&mut ua, now);
    let mut at = now;
    let mut bye = None;
    while at <= now + Duration::from_secs(33) && bye.is_none() {
        at += Duration::from_millis(250);
        ua.handle_timeout(at);
        bye = sent(&mut ua)
            .into_iter()
            .find(|m| matches!(m, Message::Request(r) if r.method == Method::Bye));
    }
    assert!(
        at >= now + Duration::from_secs(32),
        "BYE only after 64·T1, at {:?}",
        at - now
    );
    let Some(Message::Request(bye)) = bye else {
        panic!("no BYE")
    };
    assert_eq!(
        bye.uri.to_string(),
        format!("sip:caller@{PEER}"),
        "to the remote target"
    );
    let ok = Response::to_request(&bye, 200);
    ua.handle_message(at, Message::Response(ok), peer());
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::CallEnded {
            reason: EndReason::AckTimeout,
            ..
        }]
    ));
}

#[test]
fn cancel_before_answer_gets_200_and_the_invite_487() {
    let now = Instant::now();
    let mut ua = ua();
    ua.handle_message(now, request("INVITE", "z9hG4bK-i1", 1, None, ""), peer());
    let call = match events(&mut ua).pop() {
        Some(UaEvent::IncomingCall { call, .. }) => call,
        other => panic!("{other:?}"),
    };
    ua.ring(now, &call);
    sent(&mut ua);
    ua.handle_message(now, request("CANCEL", "z9hG4bK-i1", 1, None, ""), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["200 CANCEL", "487 INVITE"]);
    assert!(matches!(
        events(&mut ua)[..],
        [UaEvent::CallCancelled { .. }]
    ));
    ua.answer(now, &call, b"late".to_vec());
    assert!(
        sent(&mut ua).is_empty(),
        "a cancelled call cannot be answered"
    );
}

#[test]
fn cancel_after_the_answer_has_no_effect_and_unknown_cancel_gets_481() {
    let now = Instant::now();
    let mut ua = ua();
    answered_call(&mut ua, now);
    ua.handle_message(now, request("CANCEL", "z9hG4bK-i1", 1, None, ""), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["200 CANCEL"]);
    assert!(events(&mut ua).is_empty());
    ua.handle_message(now, request("CANCEL", "z9hG4bK-nope", 1, None, ""), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["481 CANCEL"]);
}

#[test]
fn bye_before_ack_is_answered_and_ends_the_dialog() {
    let now = Instant::now();
    let mut ua = ua();
    let tag = answered_call(&mut ua, now);
    ua.handle_message(now, request("BYE", "z9hG4bK-b1", 2, Some(&tag), ""), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["200 BYE"]);
    assert!(matches!(events(&mut ua)[..], [UaEvent::CallEnded { .. }]));
    ua.handle_timeout(now + Duration::from_secs(2));
    assert!(
        sent(&mut ua).is_empty(),
        "the 2xx retransmission stops with the dialog"
    );
}

/// An out-of-dialog OPTIONS to `user`, as a proxy's probe sends it.
fn options_to(user: &str, branch: &str) -> Message {
    let text = format!(
        "OPTIONS sip:{user}@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch}\r\n\
         From: <sip:proxy@127.0.0.1>;tag=probe\r\nTo: <sip:{user}@127.0.0.1:5060>\r\n\
         Call-ID: probe-{branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    parse(text.as_bytes()).unwrap()
}

#[test]
fn options_to_the_acd_user_are_200_only_while_this_node_runs_the_acd() {
    let now = Instant::now();
    let mut ua = ua();
    ua.designate_acd("acd".into());
    ua.handle_message(now, options_to("acd", "z9hG4bK-a1"), peer());
    ua.handle_message(now, options_to("hotline", "z9hG4bK-h1"), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["503 OPTIONS", "200 OPTIONS"]);
    ua.set_acd_running(true);
    ua.handle_message(now, options_to("acd", "z9hG4bK-a2"), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["200 OPTIONS"]);
    ua.set_acd_running(false);
    ua.handle_message(now, options_to("acd", "z9hG4bK-a3"), peer());
    assert_eq!(statuses(&sent(&mut ua)), ["503 OPTIONS"]);
}

#[test]
fn options_in_and_out_of_dialog_get_200_with_allow() {
    let now = Instant::now();
    let mut ua = ua();
    ua.handle_message(now, request("OPTIONS", "z9hG4bK-o1", 1, None, ""), peer());
    let messages = sent(&mut ua);
    let [Message::Response(ok)] = &messages[..] else {
        panic!("{messages:?}")
    };
    assert_eq!(ok.status, 200);
    assert!(ok.head.header("Allow").unwrap().contains("INVITE"));
    let tag = answered_call(&mut ua, now);
    ua.handle_message(
        now,
        request("OPTIONS", "z9hG4bK-o2", 2, Some(&tag), ""),
        peer(),
    );
    assert_eq!(statuses(&sent(&mut ua)), ["200 OPTIONS"]);
}

#[test]
fn a_refused_reoffer_gets_488_and_the_next_one_is_taken() {
    let now = Instant::now();
    let mut ua = ua();
    let tag = answered_call(&mut ua, now);
    ua.handle_message(now, request("ACK", "z9hG4bK-a1", 1, Some(&tag), ""), peer());
    events(&mut ua);
    let reoffer = |seq: u32, branch: &str| request("INVITE", branch, seq, Some(&tag), "v=0\r\n");
    ua.handle_message(now, reoffer(2, "z9hG4bK-r1"), peer());
    let Some(UaEvent::ReOffer { call, .. }) = events(&mut ua).pop() else {
        panic!("no re-offer reported")
    };
    ua.refuse_reoffer(now, &call);
    assert_eq!(statuses(&sent(&mut ua)), ["100 INVITE", "488 INVITE"]);
    assert!(ua.knows(&call), "the call goes on");
    ua.handle_message(now, reoffer(3, "z9hG4bK-r2"), peer());
    assert!(matches!(
        events(&mut ua).pop(),
        Some(UaEvent::ReOffer { .. })
    ));
}

#[test]
fn reinvite_for_hold_is_reported_and_answered_and_a_second_one_gets_491() {
    let now = Instant::now();
    let mut ua = ua();
    let tag = answered_call(&mut ua, now);
    ua.handle_message(now, request("ACK", "z9hG4bK-a1", 1, Some(&tag), ""), peer());
    events(&mut ua);
    ua.handle_message(
        now,
        request("INVITE", "z9hG4bK-r1", 2, Some(&tag), "a=sendonly\r\n"),
        peer(),
    );
    let call = match events(&mut ua).pop() {
        Some(UaEvent::ReOffer { call, sdp }) => {
            assert_eq!(sdp, b"a=sendonly\r\n");
            call
        }
        other => panic!("{other:?}"),
    };
    ua.handle_message(
        now,
        request("INVITE", "z9hG4bK-r2", 3, Some(&tag), "x"),
        peer(),
    );
    assert_eq!(
        statuses(&sent(&mut ua)),
        ["100 INVITE", "100 INVITE", "491 INVITE"]
    );
    ua.answer_reoffer(now, &call, b"a=recvonly\r\n".to_vec());
    assert_eq!(statuses(&sent(&mut ua)), ["200 INVITE"]);
    ua.handle_message(now, request("ACK", "z9hG4bK-a2", 2, Some(&tag), ""), peer());
    ua.handle_timeout(now + Duration::from_secs(2));
    let resent = statuses(&sent(&mut ua));
    assert!(
        !resent.contains(&"200 INVITE".to_string()),
        "the re-INVITE's 2xx stops at its ACK: {resent:?}"
    );
    assert!(
        resent.contains(&"491 INVITE".to_string()),
        "the un-ACKed 491 is retransmitted (Timer G)"
    );
}

#[test]
fn info_is_answered_and_reported_and_unknown_methods_get_501() {
    let now = Instant::now();
    let mut ua = ua();
    let tag = answered_call(&mut ua, now);
    let info = request(
        "INFO",
        "z9hG4bK-n1",
        2,
        Some(&tag),
        "Signal=5\r\nDuration=160\r\n",
    );
    ua.handle_message(now, info, peer());
    assert_eq!(statuses(&sent(&mut ua)), ["200 INFO"]);
    assert!(
        matches!(&events(&mut ua)[..], [UaEvent::Info { body, .. }] if body.starts_with(b"Signal=5"))
    );
    ua.handle_message(
        now,
        request("REFER", "z9hG4bK-n2", 3, Some(&tag), ""),
        peer(),
    );
    assert_eq!(statuses(&sent(&mut ua)), ["501 REFER"]);
}

#[test]
fn requests_for_an_unknown_dialog_get_481_and_old_cseq_gets_500() {
    let now = Instant::now();
    let mut ua = ua();
    ua.handle_message(
        now,
        request("BYE", "z9hG4bK-x1", 2, Some("nobody"), ""),
        peer(),
    );
    assert_eq!(statuses(&sent(&mut ua)), ["481 BYE"]);
    let tag = answered_call(&mut ua, now);
    ua.handle_message(
        now,
        request("INFO", "z9hG4bK-x2", 5, Some(&tag), ""),
        peer(),
    );
    ua.handle_message(
        now,
        request("INFO", "z9hG4bK-x3", 4, Some(&tag), ""),
        peer(),
    );
    assert_eq!(statuses(&sent(&mut ua)), ["200 INFO", "500 INFO"]);
}

#[test]
fn local_hangup_sends_bye_through_the_record_route() {
    let now = Instant::now();
    let mut ua = ua();
    let text = format!(
        "INVITE sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK-p\r\n\
         Via: SIP/2.0/UDP {PEER};branch=z9hG4bK-i1\r\nRecord-Route: <sip:127.0.0.9:5060;lr>\r\n\
         From: <sip:+380441234567@127.0.0.1>;tag=caller\r\nTo: <sip:hotline@127.0.0.1>\r\n\
         Call-ID: call-rr\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{PEER}>\r\nContent-Length: 0\r\n\r\n"
    );
    let proxy = Remote {
        addr: "127.0.0.9:5060".parse().unwrap(),
        transport: Transport::Udp,
    };
    ua.handle_message(now, parse(text.as_bytes()).unwrap(), proxy);
    let Some(UaEvent::IncomingCall { call, .. }) = events(&mut ua).pop() else {
        panic!()
    };
    ua.answer(now, &call, b"sdp".to_vec());
    let messages = sent(&mut ua);
    let Message::Response(ok) = &messages[1] else {
        panic!()
    };
    assert_eq!(
        ok.head.record_route.len(),
        1,
        "Record-Route is echoed in the 2xx"
    );
    ua.hangup(now, &call);
    let transmit = ua.poll_transmit().unwrap();
    assert_eq!(transmit.remote, proxy, "the BYE goes to the first route");
    let Message::Request(bye) = transmit.message else {
        panic!()
    };
    assert_eq!(bye.head.route.len(), 1);
    assert_eq!(bye.head.cseq.method, Method::Bye);
}

#[test]
fn rport_and_received_record_the_real_source() {
    let now = Instant::now();
    let mut ua = ua();
    let natted = Remote {
        addr: "127.0.0.5:40000".parse().unwrap(),
        transport: Transport::Udp,
    };
    ua.handle_message(now, request("OPTIONS", "z9hG4bK-o1", 1, None, ""), natted);
    let transmit = ua.poll_transmit().unwrap();
    assert_eq!(transmit.remote, natted);
    let Message::Response(ok) = transmit.message else {
        panic!()
    };
    assert_eq!(ok.head.via[0].params.value("rport"), Some("40000"));
    assert_eq!(ok.head.via[0].params.value("received"), Some("127.0.0.5"));
}

#[test]
fn register_is_reported_and_answered_through_respond() {
    let now = Instant::now();
    let mut ua = ua();
    ua.handle_message(now, request("REGISTER", "z9hG4bK-r1", 1, None, ""), peer());
    assert!(
        sent(&mut ua).is_empty(),
        "the registrar answers, not the UA"
    );
    let Some(UaEvent::Register { tx, request, .. }) = ua.poll_event() else {
        panic!("no Register event")
    };
    ua.respond(now, tx, Response::to_request(&request, 200));
    let messages = sent(&mut ua);
    assert_eq!(statuses(&messages), ["200 REGISTER"]);
    let Message::Response(ok) = &messages[0] else {
        unreachable!()
    };
    assert_eq!(ok.head.header("Server"), Some("hotline-test"));
    assert!(ok.head.to_tag().is_some());
}

#[test]
fn out_of_dialog_options_and_unknown_requests_leave_no_transaction_behind() {
    let mut ua = ua();
    let now = Instant::now();
    for i in 0..1000 {
        let branch = format!("z9hG4bK-flood{i}");
        ua.handle_message(now, request("OPTIONS", &branch, 1, None, ""), peer());
        ua.handle_message(now, request("MESSAGE", &branch, 2, None, ""), peer());
        ua.handle_message(
            now,
            request("BYE", &branch, 3, Some("nodialog"), ""),
            peer(),
        );
        ua.handle_message(now, request("CANCEL", &branch, 1, None, ""), peer());
    }
    let answers = statuses(&sent(&mut ua));
    assert_eq!(answers.len(), 4000);
    assert_eq!(
        &answers[..4],
        ["200 OPTIONS", "405 MESSAGE", "481 BYE", "481 CANCEL"]
    );
    assert_eq!(ua.transaction_count(), 0);
    assert!(events(&mut ua).is_empty());
}

#[test]
fn a_retransmitted_options_gets_the_same_answer_and_to_tag() {
    let mut ua = ua();
    let now = Instant::now();
    let tags: Vec<String> = (0..2)
        .map(|_| {
            ua.handle_message(now, request("OPTIONS", "z9hG4bK-same", 1, None, ""), peer());
            match sent(&mut ua).pop() {
                Some(Message::Response(r)) => {
                    assert_eq!(r.status, 200);
                    assert!(r.head.header("Allow").is_some());
                    r.head.to_tag().unwrap().to_owned()
                }
                other => panic!("expected a 200, got {other:?}"),
            }
        })
        .collect();
    assert_eq!(tags[0], tags[1]);
    ua.handle_message(
        now,
        request("OPTIONS", "z9hG4bK-other", 1, None, ""),
        peer(),
    );
    let Some(Message::Response(other)) = sent(&mut ua).pop() else {
        panic!("no answer");
    };
    assert_ne!(other.head.to_tag(), Some(tags[0].as_str()));
}

#[test]
fn a_retransmitted_bye_still_gets_its_200_after_the_call_ended() {
    let mut ua = ua();
    let now = Instant::now();
    let tag = answered_call(&mut ua, now);
    ua.handle_message(now, request("ACK", "z9hG4bK-a1", 1, Some(&tag), ""), peer());
    events(&mut ua);
    for _ in 0..2 {
        ua.handle_message(now, request("BYE", "z9hG4bK-b1", 2, Some(&tag), ""), peer());
        assert_eq!(statuses(&sent(&mut ua)), ["200 BYE"]);
    }
}
