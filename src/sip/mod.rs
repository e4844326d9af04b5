//! SIP: message facade, transport framing, transactions, dialogs and SDP.

pub mod dialog;
pub mod digest;
pub mod framing;
pub mod identity;
pub mod locate;
pub mod message;
pub mod parse;
pub mod relay;
pub mod sdp;
mod serialize;
pub mod transaction;
pub mod ua;
pub mod uri;

pub use message::*;
pub use parse::{MAX_MESSAGE_SIZE, ParseError, bad_request_for, parse};
#[cfg(test)]
mod round_trip_tests;
