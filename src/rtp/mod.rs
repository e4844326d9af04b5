//! RTP media: G.711, packets, RTCP, the paced session and the prompt player.

mod decode;
pub mod g711;
pub mod packet;
pub mod player;
pub mod prompt;
pub mod resample;
pub mod rtcp;
pub mod session;

pub use g711::Codec;
pub use player::{Player, PlayerEvent};
pub use prompt::{Found, Prompt, PromptError, PromptStore};
pub use session::{Channel, FrameSource, Received, RtpSession, SessionStats, Transmit};
