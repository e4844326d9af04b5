//! Behind a reverse proxy: the client a trusted proxy names in
//! `X-Forwarded-For` is who the per-source limits, the sign-in throttle and
//! the loopback rule see; the same header from a peer not trusted changes
//! nothing. The test plays the proxy on loopback.

mod support;

use std::net::SocketAddr;
use std::time::Instant;

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
