//! The relay between the ACD's node and a browser's WebSocket, message by
//! message: what the ACD sends reaches the browser and back, what the
//! browser sends in the dialog reaches the ACD and back, and what cannot be
//! relayed is refused with a status that says why.

use super::*;
use crate::sip::parse;

const NODE: &str = "127.0.0.1:5072";
const ACD: &str = "127.0.0.1:5071";
const BROWSER: &str = "127.0.0.1:40123";

fn relay() -> BrowserRelay {
    BrowserRelay::new(NODE.parse().unwrap(), [7; 32])
}

fn udp(addr: &str) -> Remote {
    Remote {
        addr: addr.parse().unwrap(),
        transport: Transport::Udp,
    }
}

fn ws(addr: &str) -> Remote {
    Remote {
        addr: addr.parse().unwrap(),
        transport: Transport::Ws,
    }
}

fn request(text: &str) -> Message {
    parse(text.replace('\n', "\r\n").as_bytes()).expect("a valid message")
}

/// The ACD's INVITE to the browser's contact, routed by the browser's Path.
fn invite_from_acd(route: &NameAddr, to_tag: &str) -> Message {
    request(&format!(
        "INVITE sip:k3h2@df7jal23ls0d.invalid;transport=ws SIP/2.0\n\
         Via: SIP/2.0/UDP {ACD};branch=z9hG4bKacd1\n\
         Route: {route}\n\
         Max-Forwards: 70\n\
         From: <sip:hotline@{ACD}>;tag=a1\n\
         To: <sip:alice@hotline>{to_tag}\n\
         Call-ID: call-1\n\
         CSeq: 1 INVITE\n\
         Contact: <sip:hotline@{ACD}>\n\
         Content-Length: 0\n\n"
    ))
}

fn forwarded(relayed: Relayed) -> (Message, Remote, Option<Box<(Response, Remote)>>) {
    match relayed {
        Relayed::Forward {
            message,
            to,
            fallback,
        } => (message, to, fallback),
        other => panic!("not forwarded: {other:?}"),
    }
}

fn refused(relayed: Relayed) -> (u16, Remote) {
    match relayed {
        Relayed::Refuse { response, to } => (response.status, to),
        other => panic!("not refused: {other:?}"),
    }
}

fn as_request(message: Message) -> Request {
    match message {
        Message::Request(request) => request,
        Message::Response(_) => panic!("a response"),
    }
}

fn answer(request: &Request, status: u16) -> Message {
    Message::Response(Response::to_request(request, status).with_to_tag("b1"))
}

#[test]
fn the_acds_invite_goes_down_the_browsers_websocket_and_its_answer_comes_back() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let (message, to, fallback) = forwarded(relay.handle(invite_from_acd(&route, ""), udp(ACD)));
    assert_eq!(to, ws(BROWSER));
    let invite = as_request(message);
    assert!(invite.head.route.is_empty(), "our Route is consumed");
    assert_eq!(invite.head.record_route, vec![route.clone()]);
    assert_eq!(invite.head.via.len(), 2);
    assert_eq!(invite.head.via[0].transport, "WS");
    assert_eq!(invite.head.max_forwards, Some(69));
    let (busy, back) = *fallback.expect("a closed socket is answered");
    assert_eq!((busy.status, back), (480, udp(ACD)));

    // The browser's 200 (which echoes the Record-Route) goes back to the ACD.
    let (message, to, _) = forwarded(relay.handle(answer(&invite, 200), ws(BROWSER)));
    assert_eq!(to, udp(ACD));
    let Message::Response(ok) = message else {
        panic!("a response")
    };
    assert_eq!(ok.status, 200);
    assert_eq!(ok.head.via.len(), 1);
    assert_eq!(ok.head.branch(), Some("z9hG4bKacd1"));
}

#[test]
fn a_retransmission_and_its_cancel_take_the_same_branch() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let branch = |message: Message| {
        let (message, _, _) = forwarded(relay.handle(message, udp(ACD)));
        as_request(message).head.branch().map(str::to_owned)
    };
    let first = branch(invite_from_acd(&route, ""));
    assert_eq!(first, branch(invite_from_acd(&route, "")));
    let mut cancel = as_request(invite_from_acd(&route, ""));
    cancel.method = Method::Cancel;
    cancel.head.cseq.method = Method::Cancel;
    assert_eq!(first, branch(Message::Request(cancel)));
    assert!(first.unwrap().starts_with(BRANCH_PREFIX));
}

#[test]
fn only_the_initial_invite_is_record_routed() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let (message, _, _) = forwarded(relay.handle(invite_from_acd(&route, ";tag=b1"), udp(ACD)));
    assert!(as_request(message).head.record_route.is_empty());
}

#[test]
fn the_browsers_bye_goes_to_the_acd_and_its_answer_back_over_the_socket() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let bye = request(&format!(
        "BYE sip:hotline@{ACD} SIP/2.0\n\
         Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKbrowser1\n\
         Route: {route}\n\
         Max-Forwards: 69\n\
         From: <sip:alice@hotline>;tag=b1\n\
         To: <sip:hotline@{ACD}>;tag=a1\n\
         Call-ID: call-1\n\
         CSeq: 2 BYE\n\
         Content-Length: 0\n\n"
    ));
    let (message, to, _) = forwarded(relay.handle(bye, ws(BROWSER)));
    assert_eq!(to, udp(ACD));
    let bye = as_request(message);
    assert!(bye.head.route.is_empty());
    assert_eq!(bye.head.via[0].transport, "UDP");
    assert_eq!(bye.head.via[1].params.value("received"), Some("127.0.0.1"));
    assert_eq!(bye.head.via[1].params.value("rport"), Some("40123"));

    let (message, to, _) = forwarded(relay.handle(answer(&bye, 200), udp(ACD)));
    assert_eq!(to, ws(BROWSER));
    let Message::Response(ok) = message else {
        panic!("a response")
    };
    assert_eq!(ok.head.branch(), Some("z9hG4bKbrowser1"));
}

#[test]
fn a_forged_route_is_refused_not_found_and_its_ack_dropped() {
    let relay = relay();
    let mut route = relay.path(BROWSER.parse().unwrap());
    let Uri::Sip(sip) = &mut route.uri else {
        panic!()
    };
    // Another connection's address under this one's MAC.
    let user = sip.user.clone().unwrap();
    let mac = user.rsplit('-').next().unwrap();
    sip.user = Some(format!("ws-{}-{mac}", hex(b"127.0.0.1:40124")));
    let (status, to) = refused(relay.handle(invite_from_acd(&route, ""), udp(ACD)));
    assert_eq!((status, to), (404, udp(ACD)));
    let mut ack = as_request(invite_from_acd(&route, ""));
    ack.method = Method::Ack;
    ack.head.cseq.method = Method::Ack;
    assert_eq!(relay.handle(Message::Request(ack), udp(ACD)), Relayed::Drop);

    // A route signed by another process (this node before a restart).
    let old = BrowserRelay::new(NODE.parse().unwrap(), [8; 32]).path(BROWSER.parse().unwrap());
    let (status, _) = refused(relay.handle(invite_from_acd(&old, ""), udp(ACD)));
    assert_eq!(status, 404);
}

#[test]
fn a_browser_cannot_route_through_another_browsers_connection() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let (status, to) = refused(relay.handle(invite_from_acd(&route, ""), ws("127.0.0.1:40999")));
    assert_eq!((status, to), (404, ws("127.0.0.1:40999")));
}

#[test]
fn a_request_out_of_hops_is_refused() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let mut invite = as_request(invite_from_acd(&route, ""));
    invite.head.max_forwards = Some(0);
    let (status, _) = refused(relay.handle(Message::Request(invite), udp(ACD)));
    assert_eq!(status, 483);
}

#[test]
fn what_is_not_the_relays_goes_to_the_user_agent() {
    let relay = relay();
    let foreign: NameAddr = crate::sip::uri::parse_name_addr("<sip:127.0.0.1:5060;lr>").unwrap();
    let invite = invite_from_acd(&foreign, "");
    assert_eq!(
        relay.handle(invite.clone(), udp(ACD)),
        Relayed::Pass(invite.clone())
    );
    let ok = answer(&as_request(invite), 200);
    assert_eq!(relay.handle(ok.clone(), udp(ACD)), Relayed::Pass(ok));
}

#[test]
fn a_browser_cannot_start_a_request_through_the_relay() {
    let relay = relay();
    let route = relay.path(BROWSER.parse().unwrap());
    let invite = request(&format!(
        "INVITE sip:anyone@192.0.2.9:5060 SIP/2.0\n\
         Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKbrowser2\n\
         Route: {route}\n\
         Max-Forwards: 70\n\
         From: <sip:alice@hotline>;tag=b2\n\
         To: <sip:anyone@192.0.2.9>\n\
         Call-ID: call-2\n\
         CSeq: 1 INVITE\n\
         Content-Length: 0\n\n"
    ));
    let (status, to) = refused(relay.handle(invite, ws(BROWSER)));
    assert_eq!((status, to), (403, ws(BROWSER)));
}
