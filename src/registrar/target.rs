//! Where to send requests for a contact: the address it names, or where its
//! REGISTER came from when that address cannot be reached.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::sip::message::{Host, NameAddr, Uri};
use crate::sip::transaction::Remote;

/// Where to send requests for a binding of `contact` registered from
/// `source` through the proxies of `path` (RFC 3327): the first proxy of the
/// path, as a Route set's first hop is reached, else as [`send_target`] says.
pub fn binding_target(contact: &Uri, path: &[NameAddr], source: Remote) -> Remote {
    match path.is_empty() {
        true => send_target(contact, source),
        false => crate::sip::dialog::first_hop(path, source),
    }
}

/// The address to send requests for `contact` to, given the REGISTER came from `source`.
///
/// - Over TCP the phone expects requests on the connection it opened (it
///   may not listen at all, and NAT lets nothing else in): `source`.
/// - A Contact on the host the REGISTER came from is reachable as written
///   (the phone may send from another port than it listens on).
/// - A public address elsewhere is taken as written (a third-party
///   registration, or a proxy in front of us).
/// - A private, loopback or link-local address, or a host name (we do no
///   RFC 3263 lookups), that is not the source means NAT: `source`.
pub fn send_target(contact: &Uri, source: Remote) -> Remote {
    if source.transport.reliable() {
        return source;
    }
    let Uri::Sip(uri) = contact else {
        return source;
    };
    let ip = match uri.host {
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
        Host::Name(_) => return source,
    };
    if ip == source.addr.ip() || is_public(ip) {
        Remote {
            addr: SocketAddr::new(ip, uri.port.unwrap_or(5060)),
            transport: source.transport,
        }
    } else {
        source
    }
}

/// Whether an address is routable on the internet (not private, shared,
/// loopback, link-local, documentation or multicast space).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // RFC 6598 carrier-grade NAT
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || shared
        || documentation
        || a == 0
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::transaction::Transport;
    use crate::sip::uri::parse_uri;

    fn udp(addr: &str) -> Remote {
        Remote {
            addr: addr.parse().unwrap(),
            transport: Transport::Udp,
        }
    }

    fn target(contact: &str, source: Remote) -> Remote {
        send_target(&parse_uri(contact).unwrap(), source)
    }

    #[test]
    fn private_contact_behind_nat_is_reached_at_the_source() {
        let source = udp("198.18.0.7:40001");
        assert_eq!(target("sip:alice@192.168.1.20:5060", source), source);
        assert_eq!(target("sip:alice@100.64.3.3", source), source);
        assert_eq!(target("sip:alice@phone.lan:5060", source), source);
    }

    #[test]
    fn contact_on_the_source_host_keeps_its_port() {
        let source = udp("127.0.0.1:40001");
        assert_eq!(
            target("sip:alice@127.0.0.1:5062;ob", source),
            udp("127.0.0.1:5062")
        );
        assert_eq!(target("sip:alice@127.0.0.1", source), udp("127.0.0.1:5060"));
    }

    #[test]
    fn public_contact_elsewhere_is_taken_as_written() {
        let source = udp("10.0.0.1:5060");
        assert_eq!(
            target("sip:alice@8.8.4.4:5070", source),
            udp("8.8.4.4:5070")
        );
    }

    #[test]
    fn tcp_registrations_are_reached_on_their_connection() {
        let source = Remote {
            addr: "8.8.4.4:40000".parse().unwrap(),
            transport: Transport::Tcp,
        };
        assert_eq!(
            target("sip:alice@8.8.4.4:5060;transport=tcp", source),
            source
        );
    }

    #[test]
    fn special_ranges_are_not_public() {
        for ip in [
            "10.1.1.1",
            "172.16.0.1",
            "192.168.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2a00:1450::1", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
