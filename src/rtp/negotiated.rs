//! What SDP offer/answer agreed for a call's audio, as the RTP stream uses it.
//!
//! Defined here rather than in `sip::sdp`, which produces it, so that RTP does not
//! depend on SIP: the SDP code builds these values, RTP only reads them.

use std::net::SocketAddr;

use super::Codec;

/// What offer/answer agreed for the call's audio: everything the RTP stream needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Where the peer asked to receive RTP (symmetric RTP may later correct it).
    pub remote_rtp: SocketAddr,
    /// The codec we send and expect.
    pub codec: Codec,
    /// The payload type the peer uses for RFC 4733 telephone-events, if it offered them.
    pub telephone_event_pt: Option<u8>,
    /// The packet time the peer wants to receive, in milliseconds.
    pub ptime_ms: u32,
    /// Our direction: whether we send and/or receive (hold mirrors it).
    pub direction: Direction,
}

/// A media direction attribute (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction the other side of the stream has (sendonly ↔ recvonly).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }
}
