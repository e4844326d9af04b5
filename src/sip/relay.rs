//! A stateless proxy (RFC 3261 §16.11) between the cluster and the browsers
//! whose SIP WebSocket is open on this node, so that the ACD on another node
//! rings them as it rings phones behind Kamailio.
//!
//! A browser's binding is published with a Path (RFC 3327) naming this node
//! and, in its user part, the browser's connection with a MAC under a key of
//! this process ([`BrowserRelay::path`]): only a node that read the binding
//! can route to the browser, and only over the connection it registered on.
//! A request arriving with that URI as its top Route goes down the
//! WebSocket, record-routed with the same URI so that the browser's ACK, BYE,
//! re-INVITE and INFO come back here and go on to the request-URI over UDP
//! (or TCP); responses follow the Via this relay pushed. Media does not pass
//! here: the node that rings the browser makes the offer/answer.
//!
//! No state is kept, so nothing is retransmitted or timed here: the two ends'
//! transactions do it, and a retransmission takes the same branch.

use std::net::{IpAddr, SocketAddr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::message::{
    Host, Message, Method, NameAddr, Params, Request, Response, SipUri, Uri, Via,
};
use super::transaction::{Remote, Transport};

/// The relay of one node: its SIP address as the cluster reaches it, and the
/// key its browsers' routes are signed with.
#[derive(Clone)]
pub struct BrowserRelay {
    me: SocketAddr,
    key: [u8; 32],
}

impl std::fmt::Debug for BrowserRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserRelay")
            .field("me", &self.me)
            .finish()
    }
}

/// What to do with a message the transports received.
#[derive(Debug, PartialEq)]
pub enum Relayed {
    /// Not for the relay: the user agent takes it.
    Pass(Message),
    /// Send `message` to `to`; if that fails, answer with `fallback` (to the
    /// request's sender: 480 when the browser's connection is gone).
    Forward {
        message: Message,
        to: Remote,
        fallback: Option<Box<(Response, Remote)>>,
    },
    /// Answer the request's sender with this error.
    Refuse { response: Response, to: Remote },
    /// An ACK or response that cannot go anywhere: nothing answers those.
    Drop,
}

/// Branches of the Vias this relay pushes; the user agent's never hold a `-`.
const BRANCH_PREFIX: &str = "z9hG4bK-relay-";

/// The user part of a browser's route: `ws-` then the connection and the MAC, in hex.
const ROUTE_PREFIX: &str = "ws-";

/// Bytes of the MAC kept in a route: 64 bits are beyond guessing over SIP.
const MAC_BYTES: usize = 8;

impl BrowserRelay {
    /// The relay of the node reached at `me`; `key` signs its routes (random per process).
    pub fn new(me: SocketAddr, key: [u8; 32]) -> BrowserRelay {
        BrowserRelay { me, key }
    }

    /// This node's address as the cluster reaches it.
    pub fn address(&self) -> SocketAddr {
        self.me
    }

    /// The Path a binding made over `connection` is published with.
    pub fn path(&self, connection: SocketAddr) -> NameAddr {
        let mut uri = SipUri::new(Host::from(self.me.ip()), Some(self.me.port()));
        let address = connection.to_string();
        let mac = self.mac(&address);
        uri.user = Some(format!(
            "{ROUTE_PREFIX}{}-{}",
            hex(address.as_bytes()),
            hex(&mac[..MAC_BYTES])
        ));
        uri.params.set("lr", None);
        NameAddr {
            display_name: None,
            uri: Uri::Sip(uri),
            params: Params::default(),
        }
    }

    /// Relays `message`, received from `from`, or passes it to the user agent.
    pub fn handle(&self, message: Message, from: Remote) -> Relayed {
        match message {
            Message::Request(request) => self.request(request, from),
            Message::Response(response) => self.response(response),
        }
    }

    fn request(&self, mut request: Request, from: Remote) -> Relayed {
        let Some(route) = request.head.route.first() else {
            return Relayed::Pass(Message::Request(request));
        };
        if !self.names_me(&route.uri) {
            return Relayed::Pass(Message::Request(request));
        }
        let connection = self.connection(&route.uri);
        let upstream = from.transport == Transport::Ws;
        // A browser may only route through its own connection's URI.
        let valid = match connection {
            Some(connection) => !upstream || connection == from.addr,
            None => false,
        };
        if !valid {
            return refuse(&request, 404, from);
        }
        // A browser only continues the dialogs the ACD opened through here:
        // the relay is no way for it to reach other hosts.
        if upstream && request.head.to_tag().is_none() {
            return refuse(&request, 403, from);
        }
        if request.head.max_forwards == Some(0) {
            return refuse(&request, 483, from);
        }
        let branch = self.branch(&request);
        let route = request.head.route.remove(0);
        request.head.max_forwards = Some(request.head.max_forwards.map_or(70, |n| n - 1));
        // The browser's node is gone (480), or the ACD's cannot be reached (503).
        let status = if upstream { 503 } else { 480 };
        let fallback = (request.method != Method::Ack)
            .then(|| Box::new((Response::to_request(&request, status), from)));
        if upstream {
            let Some(to) = next_hop(&request) else {
                return refuse(&request, 404, from);
            };
            if let Some(via) = request.head.via.first_mut() {
                via.params.set("received", Some(from.addr.ip().to_string()));
                via.params.set("rport", Some(from.addr.port().to_string()));
            }
            let via = self.via(to.transport.token(), branch);
            request.head.via.insert(0, via);
            return Relayed::Forward {
                message: Message::Request(request),
                to,
                fallback,
            };
        }
        let Some(connection) = connection else {
            return Relayed::Drop;
        };
        if request.method == Method::Invite && request.head.to_tag().is_none() {
            request.head.record_route.insert(0, route);
        }
        request.head.via.insert(0, self.via("WS", branch));
        Relayed::Forward {
            message: Message::Request(request),
            to: Remote {
                addr: connection,
                transport: Transport::Ws,
            },
            fallback,
        }
    }

    fn response(&self, mut response: Response) -> Relayed {
        let ours = response.head.via.first().is_some_and(|via| {
            via.params
                .value("branch")
                .is_some_and(|b| b.starts_with(BRANCH_PREFIX))
                && sent_by(via) == Some(self.me)
        });
        if !ours {
            return Relayed::Pass(Message::Response(response));
        }
        response.head.via.remove(0);
        let Some(to) = response.head.via.first().and_then(response_target) else {
            return Relayed::Drop;
        };
        Relayed::Forward {
            message: Message::Response(response),
            to,
            fallback: None,
        }
    }

    /// Whether `uri` is a browser's route through this node.
    fn names_me(&self, uri: &Uri) -> bool {
        let Uri::Sip(sip) = uri else { return false };
        let host_is_me = match &sip.host {
            Host::Ipv4(v4) => IpAddr::V4(*v4) == self.me.ip(),
            Host::Ipv6(v6) => IpAddr::V6(*v6) == self.me.ip(),
            Host::Name(_) => false,
        };
        host_is_me
            && sip.port.unwrap_or(5060) == self.me.port()
            && sip
                .user
                .as_deref()
                .is_some_and(|u| u.starts_with(ROUTE_PREFIX))
    }

    /// The connection a route of ours names, if its MAC is good.
    fn connection(&self, uri: &Uri) -> Option<SocketAddr> {
        let user = uri.user()?.strip_prefix(ROUTE_PREFIX)?;
        let (address, mac) = user.split_once('-')?;
        let address = String::from_utf8(unhex(address)?).ok()?;
        let mac = unhex(mac)?;
        if mac.len() != MAC_BYTES {
            return None;
        }
        let mut expected = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        expected.update(address.as_bytes());
        expected.verify_truncated_left(&mac).ok()?;
        address.parse().ok()
    }

    fn mac(&self, text: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(text.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The branch for relaying `request`: the same for its retransmissions,
    /// its CANCEL and the ACK of a failure, as §16.11 asks of a stateless proxy.
    fn branch(&self, request: &Request) -> String {
        let top = request.head.via.first();
        let incoming = format!(
            "{}|{}|{:?}|{}",
            request.head.branch().unwrap_or_default(),
            top.map(|via| via.host.to_string()).unwrap_or_default(),
            top.and_then(|via| via.port),
            request.head.call_id,
        );
        format!("{BRANCH_PREFIX}{}", hex(&self.mac(&incoming)[..10]))
    }

    fn via(&self, transport: &str, branch: String) -> Via {
        Via {
            transport: transport.into(),
            host: Host::from(self.me.ip()),
            port: Some(self.me.port()),
            params: Params(vec![("branch".into(), Some(branch))]),
        }
    }
}

/// A stateless error response to the request's sender; nothing for an ACK.
fn refuse(request: &Request, status: u16, from: Remote) -> Relayed {
    if request.method == Method::Ack {
        return Relayed::Drop;
    }
    Relayed::Refuse {
        response: Response::to_request(request, status),
        to: from,
    }
}

/// Where a request from a browser goes once our Route is popped: the next
/// Route, else the request-URI (an address: nodes are named by address).
fn next_hop(request: &Request) -> Option<Remote> {
    let uri = match request.head.route.first() {
        Some(route) => &route.uri,
        None => &request.uri,
    };
    let Uri::Sip(sip) = uri else { return None };
    let ip = match &sip.host {
        Host::Ipv4(v4) => IpAddr::V4(*v4),
        Host::Ipv6(v6) => IpAddr::V6(*v6),
        Host::Name(_) => return None,
    };
    let transport = match sip.params.value("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        Some(t) if !t.eq_ignore_ascii_case("udp") => return None,
        _ => Transport::Udp,
    };
    Some(Remote {
        addr: SocketAddr::new(ip, sip.port.unwrap_or(5060)),
        transport,
    })
}

/// Where a response goes next: the Via's received address and rport
/// (RFC 3581) when present, else its sent-by; a browser's only over the
/// connection we noted when we relayed its request.
fn response_target(via: &Via) -> Option<Remote> {
    let transport = match via.transport.as_str() {
        "WS" | "WSS" => Transport::Ws,
        "TCP" => Transport::Tcp,
        "UDP" => Transport::Udp,
        _ => return None,
    };
    let ip: IpAddr = match via.params.value("received") {
        Some(received) => received.parse().ok()?,
        None if transport == Transport::Ws => return None,
        None => sent_by(via)?.ip(),
    };
    let port = match via.params.value("rport").and_then(|p| p.parse().ok()) {
        Some(port) => port,
        None if transport == Transport::Ws => return None,
        None => via.port.unwrap_or(5060),
    };
    Some(Remote {
        addr: SocketAddr::new(ip, port),
        transport,
    })
}

fn sent_by(via: &Via) -> Option<SocketAddr> {
    let ip = match &via.host {
        Host::Ipv4(v4) => IpAddr::V4(*v4),
        Host::Ipv6(v6) => IpAddr::V6(*v6),
        Host::Name(_) => return None,
    };
    Some(SocketAddr::new(ip, via.port.unwrap_or(5060)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
