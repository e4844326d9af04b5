//! The async shell of the protocols: sockets, the SIP endpoint, the registrar,
//! media workers, RTP ports and the SIP limits.
//!
//! Everything with I/O or a clock lives here; the protocol cores it drives
//! (`sip`, `rtp`, `dtmf`, `registrar`) do neither. What a call does with them is
//! `call/`; `app.rs` builds and connects them.

pub mod admission;
pub mod agent_leg;
pub mod endpoint;
pub mod journal;
pub mod limits;
pub mod locator;
pub mod media;
pub mod ports;
pub mod registrar;
pub mod transport;

use std::net::IpAddr;

/// The address to write in Contact and SDP: the configured public one, else
/// the bound one, else (for a wildcard bind) loopback's sibling found by routing.
pub fn advertised_ip(bound: IpAddr, public: Option<IpAddr>) -> IpAddr {
    if let Some(public) = public {
        return public;
    }
    if !bound.is_unspecified() {
        return bound;
    }
    // Ask the kernel which source address it would use; no packet is sent.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|addr| addr.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}
