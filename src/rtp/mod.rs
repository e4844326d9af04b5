//! RTP media: G.711, packets, RTCP, the paced session and the prompt player.

pub mod g711;
pub mod packet;
pub mod rtcp;
pub mod session;

pub use g711::Codec;
pub use session::{Channel, FrameSource, Received, RtpSession, SessionStats, Transmit};
