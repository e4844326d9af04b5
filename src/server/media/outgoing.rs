//! What a leg sends in each frame: a playback, else the other leg's audio
//! when bridged, else silence; digits sent in-band go over any of them.

use crate::dtmf::inband::ToneGenerator;
use crate::rtp::{Codec, FrameSource, Player};

use super::BridgeEnd;

/// The largest frame a session asks for: 60 ms.
const MAX_FRAME: usize = 480;

/// The frame source of a media leg, borrowed for one `transmit`.
pub(super) struct Outgoing<'a> {
    pub(super) player: &'a mut Player,
    pub(super) bridge: Option<&'a BridgeEnd>,
    pub(super) digit_tones: &'a mut ToneGenerator,
}

impl FrameSource for Outgoing<'_> {
    fn fill_frame(&mut self, codec: Codec, out: &mut [u8]) -> bool {
        let mut audio = self.player.fill_frame(codec, out);
        if self.bridge.is_none() && self.digit_tones.is_idle() {
            return audio;
        }
        let n = out.len().min(MAX_FRAME);
        let out = &mut out[..n];
        let mut linear = [0i16; MAX_FRAME];
        let linear = &mut linear[..n];
        // Taken even while a prompt plays over it, so the other leg's audio is
        // current again the moment the prompt ends.
        let relayed = self.bridge.is_some_and(|b| b.receive_frame(linear));
        if relayed && !audio {
            codec.encode_into(linear, out);
            audio = true;
        }
        if self.digit_tones.fill(linear) {
            codec.encode_into(linear, out);
            audio = true;
        }
        audio
    }
}
