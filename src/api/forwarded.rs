//! The client's address behind a reverse proxy.
//!
//! Behind a proxy every request comes from the proxy's address, so the
//! per-source limits of web calls and SIP over WebSocket, the sign-in
//! throttle and the loopback rule would treat all clients as one. Proxies
//! listed in `[http] trusted_proxies` name the client in a forwarding
//! header (`X-Forwarded-For`, or RFC 7239 `Forwarded`); each proxy appends
//! the address it was reached from, so the client is the right-most address
//! that is not itself a trusted proxy. Anything to its left was written by
//! the client and proves nothing.
//!
//! A peer that is not a trusted proxy is its own client: its forwarding
//! headers are ignored, so nobody can choose their address by sending one.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use crate::config::ForwardedHeader;
use crate::server::limits::{SourceRange, canonical};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub ranges: Vec<SourceRange>,
    pub header: ForwardedHeader,
}

impl TrustedProxies {
    /// The `[http]` settings' proxies.
    pub fn from_settings(http: &crate::config::HttpSettings) -> TrustedProxies {
        TrustedProxies {
            ranges: http.trusted_proxies.clone(),
            header: http.forwarded_header,
        }
    }
}

/// Who a request is from, as handlers see it (a request extension set by
/// [`identify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the peer's own, or the one a trusted proxy named.
    pub ip: IpAddr,
    /// The TCP peer: the client itself, or the proxy.
    pub peer: SocketAddr,
}

impl Client {
    /// The address one connection is known by: the client's, with the
    /// peer's port (which tells apart the connections a proxy holds).
    pub fn connection(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.peer.port())
    }
}

impl TrustedProxies {
    /// The client of a request from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> Client {
        let ip = self.client_ip(canonical(peer.ip()), headers);
        Client { ip, peer }
    }

    fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = headers
            .get_all(self.header.header_name())
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|element| match self.header {
                ForwardedHeader::XForwardedFor => parse_address(element),
                ForwardedHeader::Forwarded => forwarded_for(element),
            })
            .collect::<Vec<_>>();
        // From the right: the nearest hop our trusted proxy saw, and so on
        // while the hops are trusted proxies too.
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // `unknown`, an obfuscated name, garbage: the proxy nearest
                // it could not say who reached it, so it is the client.
                None => break,
            }
        }
        client
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }
}

/// Middleware: tells every handler its request's [`Client`].
pub async fn identify(
    State(proxies): State<Arc<TrustedProxies>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = proxies.client(peer, request.headers());
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// The `for=` of one element of a `Forwarded` header (RFC 7239 §4), if it
/// is an address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        parse_address(value)
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(canonical(address.ip()));
    }
    let bracketed = text.strip_prefix('[')?.strip_suffix(']')?;
    bracketed.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(ranges: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies {
            ranges: ranges.iter().map(|r| r.parse().unwrap()).collect(),
            header,
        }
    }

    fn client(proxies: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> String {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let peer = SocketAddr::new(peer.parse().unwrap(), 40000);
        proxies.client(peer, &map).ip.to_string()
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn an_untrusted_peers_header_is_ignored() {
        let none = proxies(&[], XFF);
        let xff = [("x-forwarded-for", "192.0.2.1")];
        assert_eq!(client(&none, "127.0.0.1", &xff), "127.0.0.1");
        let other = proxies(&["10.0.0.0/8"], XFF);
        assert_eq!(client(&other, "198.51.100.9", &xff), "198.51.100.9");
    }

    #[test]
    fn a_trusted_proxy_names_the_client_right_most_untrusted_first() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"], XFF);
        let one = [("x-forwarded-for", "192.0.2.1")];
        assert_eq!(client(&p, "127.0.0.1", &one), "192.0.2.1");
        // The client wrote 6.6.6.6 itself; 192.0.2.1 is who reached our proxies.
        let spoofed = [("x-forwarded-for", "6.6.6.6, 192.0.2.1, 10.1.2.3")];
        assert_eq!(client(&p, "127.0.0.1", &spoofed), "192.0.2.1");
        // Several header lines are one list, in order.
        let lines = [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "192.0.2.7, 10.0.0.5"),
        ];
        assert_eq!(client(&p, "10.9.9.9", &lines), "192.0.2.7");
        // Ports and IPv6 as proxies write them; IPv4-mapped is IPv4.
        let ported = [("x-forwarded-for", "[2001:db8::5]:4711")];
        assert_eq!(client(&p, "127.0.0.1", &ported), "2001:db8::5");
        let v4_ported = [("x-forwarded-for", "192.0.2.9:1234")];
        assert_eq!(client(&p, "127.0.0.1", &v4_ported), "192.0.2.9");
        let mapped = [("x-forwarded-for", "::ffff:192.0.2.3")];
        assert_eq!(client(&p, "::ffff:127.0.0.1", &mapped), "192.0.2.3");
    }

    #[test]
    fn without_a_usable_header_the_nearest_proxy_is_the_client() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"], XFF);
        assert_eq!(client(&p, "127.0.0.1", &[]), "127.0.0.1");
        let garbage = [("x-forwarded-for", "6.6.6.6, not-an-address")];
        assert_eq!(client(&p, "127.0.0.1", &garbage), "127.0.0.1");
        let unknown_behind = [("x-forwarded-for", "unknown, 10.0.0.2")];
        assert_eq!(client(&p, "127.0.0.1", &unknown_behind), "10.0.0.2");
        // Every hop trusted: the left-most is the client (an internal host).
        let internal = [("x-forwarded-for", "10.0.0.7, 10.0.0.2")];
        assert_eq!(client(&p, "127.0.0.1", &internal), "10.0.0.7");
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let p = proxies(&["127.0.0.1"], ForwardedHeader::Forwarded);
        let both = [
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"),
        ];
        assert_eq!(client(&p, "127.0.0.1", &both), "192.0.2.60");
        let xff_only = [("x-forwarded-for", "6.6.6.6")];
        assert_eq!(client(&p, "127.0.0.1", &xff_only), "127.0.0.1");
        let x = proxies(&["127.0.0.1"], XFF);
        assert_eq!(client(&x, "127.0.0.1", &both), "6.6.6.6");
    }

    #[test]
    fn forwarded_elements_are_read_as_rfc_7239_writes_them() {
        let p = proxies(&["127.0.0.1"], ForwardedHeader::Forwarded);
        let quoted = [(
            "forwarded",
            "for=6.6.6.6, FOR=\"[2001:db8:cafe::17]:4711\";proto=https",
        )];
        assert_eq!(client(&p, "127.0.0.1", &quoted), "2001:db8:cafe::17");
        let hidden = [("forwarded", "for=_hidden, for=\"192.0.2.43:80\"")];
        assert_eq!(client(&p, "127.0.0.1", &hidden), "192.0.2.43");
        let obfuscated = [("forwarded", "for=192.0.2.1, for=_gazonk")];
        assert_eq!(client(&p, "127.0.0.1", &obfuscated), "127.0.0.1");
        let no_for = [("forwarded", "proto=https;by=10.0.0.1")];
        assert_eq!(client(&p, "127.0.0.1", &no_for), "127.0.0.1");
    }

    #[test]
    fn a_forwarded_client_keeps_the_proxys_port_for_its_connection() {
        let p = proxies(&["127.0.0.1"], XFF);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "192.0.2.1".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:51000".parse().unwrap();
        let client = p.client(peer, &headers);
        assert_eq!(client.connection(), "192.0.2.1:51000".parse().unwrap());
        let direct = p.client(peer, &HeaderMap::new());
        assert_eq!(direct.connection(), peer);
    }
}
