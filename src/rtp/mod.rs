//! RTP media: G.711, packets, RTCP, the paced session, the prompt player and
//! the sample FIFO between bridged legs.

mod decode;
pub mod fifo;
pub mod g711;
pub mod negotiated;
pub mod packet;
pub mod player;
pub mod prompt;
pub mod resample;
pub mod rtcp;
pub mod session;

pub use fifo::SampleFifo;
pub use g711::Codec;
pub use negotiated::{Direction, Negotiated};
pub use player::{Player, PlayerEvent};
pub use prompt::{Found, Prompt, PromptError, PromptStore};
pub use session::{Channel, FrameSource, Received, RtpSession, SessionStats, Transmit};
