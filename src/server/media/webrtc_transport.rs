//! A browser's WebRTC peer as a leg's transport: the leg's frames go to the
//! WebRTC driver (which encrypts and sends them on its one socket), and what
//! the browser sent comes back as the peer's events.
//!
//! The driver is a tokio task and the worker a thread; they meet only
//! through the peer handle's channels, used without waiting on either side
//! (`try_send`, `try_recv`): a slow driver drops a frame rather than stall
//! every leg of the worker, and a busy worker leaves events queued.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::TryRecvError;
use tracing::debug;

use super::leg::{LegAudio, Transport};
use super::{MediaCommand, MediaEvent};
use crate::net::udp::Datagrams;
use crate::rtp::SessionStats;
use crate::webrtc::{EndReason, PeerEvent, PeerHandle, SendError};

/// A browser's frame: 20 ms, as the driver and Chromium use.
const FRAME: Duration = Duration::from_millis(20);
/// G.711 bytes in one frame.
const FRAME_BYTES: usize = crate::webrtc::FRAME_SAMPLES;
/// How many frames a late wake-up may send at once, as for RTP; older ones
/// are skipped.
const MAX_BURST: u32 = 5;
/// Events read per frame at most, so a flood cannot starve sending.
const MAX_EVENTS_PER_FRAME: usize = 64;

/// The peer, its frame clock and its counters.
pub(super) struct WebrtcTransport {
    peer: PeerHandle,
    connected: bool,
    ended: bool,
    on_hold: bool,
    next_frame: Instant,
    stats: SessionStats,
}

impl WebrtcTransport {
    /// The transport of `peer`, its first frame at `start`.
    pub(super) fn new(peer: PeerHandle, start: Instant) -> WebrtcTransport {
        WebrtcTransport {
            peer,
            connected: false,
            ended: false,
            on_hold: false,
            next_frame: start,
            stats: SessionStats::default(),
        }
    }

    /// The peer is over: said once to the call, which ends the leg.
    fn end(&mut self, reason: EndReason, audio: &LegAudio) {
        if !self.ended {
            self.ended = true;
            audio.report(MediaEvent::PeerEnded(reason));
        }
    }

    /// Sends one frame, counted as RTP is.
    fn send(&mut self, frame: &[u8], audio: &LegAudio) {
        match self.peer.send_frame(frame) {
            Ok(()) => {
                self.stats.sent_packets += 1;
                self.stats.sent_octets += frame.len() as u64;
            }
            Err(SendError::Ended) => self.end(EndReason::Closed, audio),
            Err(error) => {
                self.stats.skipped_frames += 1;
                debug!(%error, "WebRTC frame not sent");
            }
        }
    }

    /// Sends a key as an RFC 4733 event or, to a browser that did not
    /// negotiate telephone-event, as tones in its audio.
    fn send_digit(&mut self, digit: char, audio: &mut LegAudio) {
        if !self.peer.has_telephone_event() {
            if !audio.digit_tones.queue(digit) {
                debug!(?digit, "key not sent: no DTMF key, or too many waiting");
            }
        } else if let Err(error) = self.peer.send_digit(digit) {
            debug!(?digit, %error, "key not sent to the browser");
        }
    }
}

impl Transport for WebrtcTransport {
    fn due_at(&self) -> Instant {
        self.next_frame
    }

    fn packets(&self) -> (u64, u64) {
        (self.stats.sent_packets, self.stats.receiver.received)
    }

    fn receive(&mut self, now: Instant, _datagrams: &mut Datagrams, audio: &mut LegAudio) {
        for _ in 0..MAX_EVENTS_PER_FRAME {
            match self.peer.try_next_event() {
                Ok(PeerEvent::Connected { codec }) => {
                    self.connected = true;
                    audio.set_codec(codec);
                    audio.report(MediaEvent::PeerConnected);
                }
                Ok(PeerEvent::Audio { payload }) => {
                    self.stats.receiver.received += 1;
                    audio.audio_received(now, &payload);
                }
                Ok(PeerEvent::Digit(digit)) => audio.digit(digit),
                Ok(PeerEvent::Ended(reason)) => self.end(reason, audio),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.end(EndReason::Closed, audio);
                    break;
                }
            }
        }
    }

    fn heard(&self) -> (u64, bool) {
        (
            self.stats.receiver.received,
            self.connected && !self.ended && !self.on_hold,
        )
    }

    fn transmit(&mut self, now: Instant, audio: &mut LegAudio) {
        let mut frame = [0u8; FRAME_BYTES];
        let mut sent = 0;
        while self.next_frame <= now {
            if sent == MAX_BURST {
                self.stats.skipped_frames += 1;
            } else if self.connected && !self.ended {
                // On hold the playback runs on unheard, as on an RTP leg.
                audio.fill_frame(&mut frame);
                if !self.on_hold {
                    self.send(&frame, audio);
                }
                sent += 1;
            }
            self.next_frame += FRAME;
        }
    }

    fn command(&mut self, command: MediaCommand, audio: &mut LegAudio) {
        match command {
            MediaCommand::Hold => self.on_hold = true,
            MediaCommand::Resume => self.on_hold = false,
            MediaCommand::SendDigit(digit) => self.send_digit(digit, audio),
            // A browser's re-offer is answered by its WebRTC peer
            // (`webrtc::PeerControl`); its hold comes here as `Hold`/`Resume`.
            MediaCommand::UpdateRemote(_) => {
                debug!("an RTP re-offer has no meaning for a WebRTC leg; ignored")
            }
            _ => {}
        }
    }

    fn stats(&self) -> SessionStats {
        self.stats.clone()
    }
}

#[cfg(test)]
#[path = "webrtc_tests.rs"]
mod tests;
