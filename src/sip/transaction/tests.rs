//! Every timer path of RFC 3261 Table 4 and RFC 6026, on a virtual clock.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::{Message, parse};

const UDP: Remote = Remote {
    addr: std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5070),
    transport: Transport::Udp,
};
const TCP: Remote = Remote {
    addr: std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5070),
    transport: Transport::Tcp,
};

fn request(method: &str, branch: &str) -> Request {
    let text = format!(
        "{method} sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: <sip:+380441234567@127.0.0.1>;tag=a\r\nTo: <sip:hotline@127.0.0.1>\r\n\
         Call-ID: tx-test\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => unreachable!(),
    }
}

fn response_to(request: &Request, status: u16) -> Response {
    Response::to_request(request, status).with_to_tag("b")
}

fn sent(layer: &mut TransactionLayer) -> Vec<String> {
    std::iter::from_fn(|| layer.poll_transmit())
        .map(|t| match t.message {
            Message::Request(r) => r.method.to_string(),
            Message::Response(r) => r.status.to_string(),
        })
        .collect()
}

fn events(layer: &mut TransactionLayer) -> Vec<TransactionEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

fn new_server(
    layer: &mut TransactionLayer,
    now: Instant,
    method: &str,
    remote: Remote,
) -> ServerTxId {
    layer.handle_request(now, request(method, "z9hG4bK-s1"), remote);
    match events(layer).pop() {
        Some(TransactionEvent::Request { tx, .. }) => tx,
        other => panic!("expected a new request, got {other:?}"),
    }
}

const T1: Duration = Duration::from_millis(500);

/// Runs the clock in 100 ms steps for `span`; returns the end time and the
/// times (ms after `now`) at which something was sent.
fn sends_over(layer: &mut TransactionLayer, now: Instant, span: Duration) -> (Instant, Vec<u128>) {
    let mut sent_at = Vec::new();
    let mut at = now;
    while at < now + span {
        at += Duration::from_millis(100);
        layer.handle_timeout(at);
        if !sent(layer).is_empty() {
            sent_at.push((at - now).as_millis());
        }
    }
    (at, sent_at)
}

#[test]
fn invite_server_sends_100_trying_at_once_and_absorbs_retransmissions() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    new_server(&mut layer, now, "INVITE", UDP);
    assert_eq!(sent(&mut layer), ["100"]);
    layer.handle_request(now + T1, request("INVITE", "z9hG4bK-s1"), UDP);
    assert_eq!(
        sent(&mut layer),
        ["100"],
        "the retransmission gets the last response again"
    );
    assert!(
        events(&mut layer).is_empty(),
        "and is not reported as a new request"
    );
}

#[test]
fn timer_g_retransmits_a_final_response_doubling_up_to_t2_until_the_ack() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = new_server(&mut layer, now, "INVITE", UDP);
    let invite = layer.server_request(tx).unwrap().clone();
    layer.respond(now, tx, response_to(&invite, 486));
    sent(&mut layer);
    let (at, retransmitted_at) = sends_over(&mut layer, now, Duration::from_secs(20));
    // G: 0.5, 1.5 (+1), 3.5 (+2), 7.5 (+4), 11.5 (+4 = T2), 15.5, 19.5
    assert_eq!(
        retransmitted_at,
        [500, 1500, 3500, 7500, 11500, 15500, 19500]
    );
    layer.handle_request(at, request("ACK", "z9hG4bK-s1"), UDP);
    assert_eq!(layer.server_state(tx), Some(ServerState::Confirmed));
    layer.handle_timeout(at + Duration::from_secs(4));
    assert!(sent(&mut layer).is_empty(), "Timer G stops in Confirmed");
    layer.handle_timeout(at + Duration::from_secs(5));
    assert_eq!(
        layer.server_state(tx),
        None,
        "Timer I (T4) ends the transaction"
    );
}

#[test]
fn timer_h_reports_a_missing_ack_after_64_t1() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = new_server(&mut layer, now, "INVITE", UDP);
    let invite = layer.server_request(tx).unwrap().clone();
    layer.respond(now, tx, response_to(&invite, 487));
    layer.handle_timeout(now + T1 * 64 - Duration::from_millis(1));
    assert!(events(&mut layer).is_empty());
    layer.handle_timeout(now + T1 * 64);
    assert!(matches!(
        events(&mut layer)[..],
        [TransactionEvent::ServerTimeout { .. }]
    ));
    assert_eq!(layer.server_state(tx), None);
}

#[test]
fn over_tcp_final_responses_are_not_retransmitted_and_timer_i_is_zero() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = new_server(&mut layer, now, "INVITE", TCP);
    let invite = layer.server_request(tx).unwrap().clone();
    layer.respond(now, tx, response_to(&invite, 486));
    sent(&mut layer);
    layer.handle_timeout(now + Duration::from_secs(10));
    assert!(
        sent(&mut layer).is_empty(),
        "no Timer G on a reliable transport"
    );
    layer.handle_request(
        now + Duration::from_secs(10),
        request("ACK", "z9hG4bK-s1"),
        TCP,
    );
    layer.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(layer.server_state(tx), None);
}

#[test]
fn after_a_2xx_the_invite_is_absorbed_acks_reach_the_tu_and_timer_l_ends_it() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = new_server(&mut layer, now, "INVITE", UDP);
    let invite = layer.server_request(tx).unwrap().clone();
    layer.respond(now, tx, response_to(&invite, 200));
    assert_eq!(sent(&mut layer), ["100", "200"]);
    assert_eq!(layer.server_state(tx), Some(ServerState::Accepted));
    layer.handle_request(now + T1, request("INVITE", "z9hG4bK-s1"), UDP);
    assert!(
        sent(&mut layer).is_empty(),
        "RFC 6026: retransmitted INVITE absorbed in Accepted"
    );
    layer.handle_timeout(now + T1 * 4);
    assert!(
        sent(&mut layer).is_empty(),
        "2xx retransmission is the TU's job"
    );
    layer.handle_request(now + T1 * 5, request("ACK", "z9hG4bK-s1"), UDP);
    assert!(matches!(
        events(&mut layer)[..],
        [TransactionEvent::Ack { .. }]
    ));
    layer.handle_timeout(now + T1 * 64);
    assert_eq!(layer.server_state(tx), None, "Timer L");
}

#[test]
fn non_invite_server_repeats_its_final_response_and_timer_j_ends_it() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = new_server(&mut layer, now, "OPTIONS", UDP);
    assert!(sent(&mut layer).is_empty(), "no 100 for non-INVITE");
    let options = layer.server_request(tx).unwrap().clone();
    layer.respond(now, tx, response_to(&options, 200));
    assert_eq!(sent(&mut layer), ["200"]);
    layer.handle_request(now + T1, request("OPTIONS", "z9hG4bK-s1"), UDP);
    assert_eq!(sent(&mut layer), ["200"]);
    layer.handle_timeout(now + T1 * 64 - Duration::from_millis(1));
    assert!(layer.server_state(tx).is_some());
    layer.handle_timeout(now + T1 * 64);
    assert_eq!(layer.server_state(tx), None, "Timer J");

    let tx = new_server(&mut layer, now, "OPTIONS", TCP);
    let options = layer.server_request(tx).unwrap().clone();
    layer.respond(now, tx, response_to(&options, 200));
    layer.handle_timeout(now);
    assert_eq!(layer.server_state(tx), None, "Timer J is zero on TCP");
}

#[test]
fn invite_client_timer_a_doubles_and_timer_b_times_out() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = layer.send_request(now, request("INVITE", "z9hG4bK-c1"), UDP);
    assert_eq!(sent(&mut layer), ["INVITE"]);
    let (_, resent_at) = sends_over(&mut layer, now, T1 * 64);
    assert_eq!(resent_at, [500, 1500, 3500, 7500, 15500, 31500]);
    assert!(matches!(
        events(&mut layer)[..],
        [TransactionEvent::ClientTimeout { .. }]
    ));
    assert_eq!(layer.client_state(tx), None);
}

#[test]
fn invite_client_acks_a_failure_itself_and_timer_d_absorbs_retransmissions() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = request("INVITE", "z9hG4bK-c2");
    let tx = layer.send_request(now, invite.clone(), UDP);
    sent(&mut layer);
    layer.handle_response(now, response_to(&invite, 180));
    layer.handle_timeout(now + T1 * 2);
    assert!(sent(&mut layer).is_empty(), "Timer A stops in Proceeding");
    layer.handle_response(now + T1 * 2, response_to(&invite, 486));
    assert_eq!(sent(&mut layer), ["ACK"]);
    layer.handle_response(now + T1 * 3, response_to(&invite, 486));
    assert_eq!(
        sent(&mut layer),
        ["ACK"],
        "a retransmitted final is ACKed again"
    );
    let reported: Vec<u16> = events(&mut layer)
        .into_iter()
        .filter_map(|e| match e {
            TransactionEvent::Response { response, .. } => Some(response.status),
            _ => None,
        })
        .collect();
    assert_eq!(reported, [180, 486], "the TU sees the final once");
    layer.handle_timeout(now + T1 * 2 + Duration::from_secs(32));
    assert_eq!(layer.client_state(tx), None, "Timer D is 32 s on UDP");
}

#[test]
fn invite_client_passes_every_2xx_to_the_tu_until_timer_m() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = request("INVITE", "z9hG4bK-c3");
    let tx = layer.send_request(now, invite.clone(), UDP);
    layer.handle_response(now, response_to(&invite, 200));
    layer.handle_response(now + T1, response_to(&invite, 200));
    let oks = events(&mut layer)
        .into_iter()
        .filter(
            |e| matches!(e, TransactionEvent::Response { response, .. } if response.status == 200),
        )
        .count();
    assert_eq!(oks, 2);
    assert_eq!(layer.client_state(tx), Some(ClientState::Accepted));
    layer.handle_timeout(now + T1 * 64);
    assert_eq!(layer.client_state(tx), None, "Timer M");
}

#[test]
fn non_invite_client_timer_e_caps_at_t2_then_f_times_out_and_k_follows_a_final() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let tx = layer.send_request(now, request("BYE", "z9hG4bK-c4"), UDP);
    sent(&mut layer);
    let (_, resent_at) = sends_over(&mut layer, now, T1 * 64);
    assert_eq!(&resent_at[..6], [500, 1500, 3500, 7500, 11500, 15500]);
    assert!(
        matches!(
            events(&mut layer)[..],
            [TransactionEvent::ClientTimeout { .. }]
        ),
        "Timer F"
    );
    assert_eq!(layer.client_state(tx), None);

    let bye = request("BYE", "z9hG4bK-c5");
    let tx = layer.send_request(now, bye.clone(), UDP);
    layer.handle_response(now, response_to(&bye, 200));
    layer.handle_timeout(now + Duration::from_millis(4999));
    assert_eq!(layer.client_state(tx), Some(ClientState::Completed));
    layer.handle_timeout(now + Duration::from_secs(5));
    assert_eq!(layer.client_state(tx), None, "Timer K is T4 on UDP");
}

#[test]
fn non_invite_client_over_tcp_sends_once() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    layer.send_request(now, request("BYE", "z9hG4bK-c6"), TCP);
    assert_eq!(sent(&mut layer), ["BYE"]);
    layer.handle_timeout(now + Duration::from_secs(10));
    assert!(
        sent(&mut layer).is_empty(),
        "no Timer E on a reliable transport"
    );
}

#[test]
fn a_cancel_finds_the_invite_it_refers_to() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite_tx = new_server(&mut layer, now, "INVITE", UDP);
    let cancel = request("CANCEL", "z9hG4bK-s1");
    assert_eq!(layer.find_invite_for(&cancel), Some(invite_tx));
    assert_eq!(
        layer.find_invite_for(&request("CANCEL", "z9hG4bK-other")),
        None
    );
}
