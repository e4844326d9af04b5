//! WebRTC media for browsers: a sans-IO peer per browser (`peer`) and the
//! UDP driver that serves many peers on one socket (`driver`).
//!
//! The media stack is str0m rather than webrtc-rs: str0m is sans-IO
//! (`handle_input`/`poll_output`, no tasks, no sockets), so a peer is one more
//! value a media worker can drive beside its RTP legs, and it is tested on a
//! virtual clock like the other protocol cores; webrtc-rs runs a task per
//! connection that owns its sockets, and pulls about twice the dependencies.
//!
//! Only what a G.711 leg needs is negotiated: ICE-lite (the server has a
//! reachable address; the browser does the checks), DTLS-SRTP, RTP/SAVPF with
//! rtcp-mux, PCMU/PCMA and telephone-event (RFC 7874 makes G.711 mandatory for
//! WebRTC endpoints, so every browser offers it).

mod batch_io;
mod driver;
#[cfg(test)]
mod driver_tests;
pub mod loopback;
mod peer;
#[cfg(test)]
mod peer_tests;
mod shell;

pub use driver::{Driver, DriverError, PeerControl, PeerHandle, WebrtcSettings};
pub use peer::{
    EndReason, FRAME_SAMPLES, OfferError, Output, Peer, PeerEvent, Reanswer, SendError, Transmit,
};
