//! Bridging two legs' media (caller and agent): each leg sends, as its own
//! RTP, the audio the other leg receives.
//!
//! The legs stay two legs, each with its own RTP session (SSRC,
//! sequence, timestamps, pacing, symmetric RTP) and its own codec. Between
//! them runs one `SampleFifo` per direction of decoded linear audio: the
//! receiving leg decodes each packet into it, the sending leg takes a frame at
//! each of its own frames and encodes it in its codec, so PCMU ↔ PCMA and
//! 20 ↔ 30 ms packets need nothing more. Neither leg waits on the other: each
//! reads and writes the shared FIFOs on its own send schedule, so a bridge
//! costs no wake-up and no allocation per packet.
//!
//! Either end going away (`Unbridge`, a new `Bridge`, the leg ending) closes
//! the bridge; the other leg sees it at its next frame, sends silence again
//! and reports `MediaEvent::BridgeEnded`. The shell therefore needs no
//! signalling to learn that the bridge is gone, only to learn why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{MediaCommand, MediaHandle};
use crate::rtp::SampleFifo;

/// Connects two legs' media until either is unbridged or ends; false if a
/// leg had already ended (a leg that got its end then reports `BridgeEnded`).
pub async fn bridge(a: &MediaHandle, b: &MediaHandle) -> bool {
    let (end_a, end_b) = bridge_pair();
    a.send(MediaCommand::Bridge(end_a)).await && b.send(MediaCommand::Bridge(end_b)).await
}

/// The two ends of a new bridge, one for each leg's `MediaCommand::Bridge`.
pub fn bridge_pair() -> (BridgeEnd, BridgeEnd) {
    let link = Arc::new(Link {
        fifos: [Mutex::default(), Mutex::default()],
        open: AtomicBool::new(true),
    });
    (
        BridgeEnd {
            link: Arc::clone(&link),
            side: 0,
        },
        BridgeEnd { link, side: 1 },
    )
}

/// One leg's end of a bridge; dropping it ends the bridge for both legs.
pub struct BridgeEnd {
    link: Arc<Link>,
    /// Which FIFO this leg writes; it reads the other one.
    side: usize,
}

struct Link {
    fifos: [Mutex<SampleFifo>; 2],
    open: AtomicBool,
}

impl BridgeEnd {
    /// Whether the other end is still in place.
    pub(super) fn is_open(&self) -> bool {
        // A flag and nothing more: no other data is handed over through it.
        self.link.open.load(Ordering::Relaxed)
    }

    /// Hands audio this leg received to the other leg.
    pub(super) fn send_audio(&self, samples: &[i16]) {
        lock(&self.link.fifos[self.side]).push(samples);
    }

    /// Takes one frame of the other leg's audio; false when none is ready.
    pub(super) fn receive_frame(&self, out: &mut [i16]) -> bool {
        lock(&self.link.fifos[1 - self.side]).pop_frame(out)
    }
}

impl Drop for BridgeEnd {
    fn drop(&mut self) {
        self.link.open.store(false, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for BridgeEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeEnd")
            .field("side", &self.side)
            .field("open", &self.is_open())
            .finish()
    }
}

/// Each lock is held for one copy of at most a frame. A poisoned lock is used
/// on: the FIFO is samples and indices, and a panic in one leg must not
/// take the other leg down with it.
fn lock(fifo: &Mutex<SampleFifo>) -> MutexGuard<'_, SampleFifo> {
    fifo.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
