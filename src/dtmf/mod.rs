//! DTMF: every key a caller presses, seen once, however the phone sends it.
//!
//! Three sources — RFC 4733 telephone-events, SIP INFO bodies and in-band
//! tones — feed one [`DigitStream`] per call.

pub mod inband;
pub mod info;
pub mod rfc4733;
mod stream;

pub use stream::DigitStream;

use std::time::Instant;

/// One key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub digit: char,
    /// When the key press began.
    pub at: Instant,
    pub source: DigitSource,
}

/// How the digit reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitSource {
    Rfc4733,
    SipInfo,
    InBand,
}
