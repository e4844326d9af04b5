//! SIP: message facade, transport framing, transactions, dialogs and SDP.

pub mod message;
pub mod sdp;
pub mod transaction;

pub use message::*;
