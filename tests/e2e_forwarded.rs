//! Behind a reverse proxy: the client a trusted proxy names in
//! `X-Forwarded-For` is who the per-source limits, the sign-in throttle,
//! the loopback rule and the SIP endpoint (over an agent's WebSocket) see;
//! the same header from a peer not trusted changes nothing. The test plays
//! the proxy on loopback.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::http::{Answer, exchange};
use support::{Server, ServerOptions, free_rtp_range};

/// A web-calling server allowing one call per source, trusting `proxies`.
fn server(proxies: &str) -> Server {
    let (min, max) = free_rtp_range();
    let config = format!(
        "[http]\ntrusted_proxies = [{proxies}]\n\n[limits]\ncalls_per_source = 1\n\n\
         [webrtc]\nenabled = true\nport_min = {min}\nport_max = {max}\n"
    );
    Server::start_with(ServerOptions {
        config,
        ..ServerOptions::default()
    })
}

#[test]
fn clients_a_trusted_proxy_forwards_are_limited_each_on_their_own() {
    let server = server("\"127.0.0.1\"");
    let sdp = good_offer();
    let first = offer(server.http, &sdp, "192.0.2.1");
    assert_eq!(first.status, 201, "{}\n{}", first.body, server.log());
    let again = offer(server.http, &sdp, "192.0.2.1");
    assert_eq!(
        again.status, 429,
        "the client's second call is over its allowance: {}",
        again.body
    );
    // A client's own claim to the left of what the proxy appended proves nothing.
    let spoofed = offer(server.http, &sdp, "198.51.100.7, 192.0.2.1");
    assert_eq!(spoofed.status, 429, "{}", spoofed.body);
    let other = offer(server.http, &sdp, "192.0.2.2");
    assert_eq!(
        other.status, 201,
        "another client behind the same proxy has its own allowance: {}",
        other.body
    );

    // Sign-in guesses are counted per forwarded client.
    for _ in 0..10 {
        assert_eq!(sign_in(server.http, "192.0.2.1").status, 401);
    }
    assert_eq!(sign_in(server.http, "192.0.2.1").status, 429);
    assert_eq!(sign_in(server.http, "192.0.2.2").status, 401);

    // The loopback rule (no token yet) is for the client, not the proxy.
    let forwarded = get(server.http, "/status", Some("192.0.2.1"));
    assert_eq!(forwarded.status, 403, "{}", forwarded.body);
    let local = get(server.http, "/status", None);
    assert_eq!(local.status, 200, "{}", local.body);
}

#[test]
fn an_untrusted_peers_forwarded_header_is_ignored() {
    let server = server("\"192.0.2.250\"");
    let sdp = good_offer();
    let first = offer(server.http, &sdp, "192.0.2.1");
    assert_eq!(first.status, 201, "{}\n{}", first.body, server.log());
    let other = offer(server.http, &sdp, "192.0.2.2");
    assert_eq!(
        other.status, 429,
        "a header from a peer not trusted must not make a new source: {}",
        other.body
    );
    let status = get(server.http, "/status", Some("192.0.2.1"));
    assert_eq!(status.status, 200, "{}", status.body);
}

#[test]
fn an_agents_websocket_through_a_trusted_proxy_is_the_forwarded_client_to_sip() {
    let trusted = server("\"127.0.0.1\"");
    trusted.add_agent("alice", "secret-a", "support");
    let via = register_over_websocket(&trusted, "192.0.2.9");
    assert!(via.contains("received=192.0.2.9"), "{via}");

    let untrusted = server("\"192.0.2.250\"");
    untrusted.add_agent("alice", "secret-a", "support");
    let via = register_over_websocket(&untrusted, "192.0.2.9");
    assert!(via.contains("received=127.0.0.1"), "{via}");
}

/// Signs alice in, opens `GET /sip` forwarded for `client` and sends a
/// REGISTER; the Via of the answer, where the endpoint writes the address
/// the request came from.
fn register_over_websocket(server: &Server, client: &str) -> String {
    let http = server.http;
    let signed_in = exchange(
        http,
        &format!(
            "POST /login/agent HTTP/1.0\r\nHost: {http}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n"
        ),
        "login=alice&password=secret-a",
    );
    let cookie = signed_in
        .head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|value| value.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {}", signed_in.head))
        .to_owned();
    let mut socket = TcpStream::connect(http).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        socket,
        "GET /sip HTTP/1.1\r\nHost: {http}\r\nOrigin: http://{http}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\nCookie: {cookie}\r\n\
         X-Forwarded-For: {client}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let register = format!(
        "REGISTER sip:hotline SIP/2.0\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK-fw1\r\n\
         From: <sip:alice@hotline>;tag=fw1\r\nTo: <sip:alice@hotline>\r\nCall-ID: fw1@{client}\r\n\
         CSeq: 1 REGISTER\r\nContact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\n\
         Max-Forwards: 70\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    socket
        .write_all(&masked_text_frame(register.as_bytes()))
        .unwrap();
    let answer = String::from_utf8_lossy(&read_frame(&mut socket)).into_owned();
    assert!(answer.starts_with("SIP/2.0 401"), "{answer}");
    answer
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("via:"))
        .unwrap_or_default()
        .to_owned()
}

/// A client's text frame (RFC 6455 §5.2), masked as clients must.
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | 126];
    frame.extend((payload.len() as u16).to_be_bytes());
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The payload of the server's next (unmasked) frame.
fn read_frame(socket: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; 2];
    socket.read_exact(&mut header).unwrap();
    let length = match header[1] & 0x7f {
        126 => {
            let mut extended = [0u8; 2];
            socket.read_exact(&mut extended).unwrap();
            usize::from(u16::from_be_bytes(extended))
        }
        short => usize::from(short),
    };
    let mut payload = vec![0u8; length];
    socket.read_exact(&mut payload).unwrap();
    payload
}

/// A G.711 offer no browser will follow up (its call stays up until the server stops).
fn good_offer() -> String {
    let address = "127.0.0.1:9".parse().unwrap();
    let (_, _, _, sdp) = hotline::webrtc::loopback::offer(
        Instant::now(),
        hotline::webrtc::loopback::Offers::G711,
        address,
    );
    sdp
}

/// POSTs an offer as a proxy would, for `client`.
fn offer(http: SocketAddr, sdp: &str, client: &str) -> Answer {
    let head = format!(
        "POST /webrtc/calls HTTP/1.0\r\nHost: {http}\r\nX-Forwarded-For: {client}\r\n\
         Content-Type: application/sdp\r\n"
    );
    exchange(http, &head, sdp)
}

/// A sign-in with a wrong token, forwarded for `client`.
fn sign_in(http: SocketAddr, client: &str) -> Answer {
    let head = format!(
        "POST /login HTTP/1.0\r\nHost: {http}\r\nX-Forwarded-For: {client}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n"
    );
    exchange(http, &head, "token=wrong")
}

/// A GET, forwarded for `client` when given.
fn get(http: SocketAddr, path: &str, client: Option<&str>) -> Answer {
    let forwarded = client
        .map(|c| format!("X-Forwarded-For: {c}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.0\r\nHost: {http}\r\n{forwarded}");
    exchange(http, &head, "")
}
