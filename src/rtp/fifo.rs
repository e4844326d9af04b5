//! The audio between two bridged legs: a short FIFO of linear samples with a
//! latency bound.
//!
//! One leg pushes what it receives, packet by packet; the other pops one frame
//! of its own packet time on its own send schedule. The two schedules are not
//! aligned and the packet sizes may differ (20 ms in, 30 ms out), so a frame is
//! handed out only when it is whole: a frame is never half audio, half silence.
//! After running dry, the FIFO waits for one frame plus a margin before it
//! hands out audio again, which absorbs the jitter between the schedules. When
//! more than a frame plus `MAX_EXTRA` is queued (a burst after a network
//! stall, or a peer whose clock runs fast), the oldest audio is dropped down to
//! a frame plus the margin: a burst costs one glitch, never lasting delay.

/// Storage: 128 ms, above the largest bound (a 60 ms frame plus `MAX_EXTRA`).
const CAPACITY: usize = 1024;
/// The largest frame: 60 ms, the longest packet time a session uses.
const MAX_FRAME: usize = 480;
/// Audio queued beyond one frame, at most: 60 ms.
const MAX_EXTRA: usize = 480;
/// What is waited for beyond one frame before audio flows, and what remains
/// beyond one frame after dropping: 20 ms, one packet of the other leg.
const MARGIN: usize = 160;

/// Linear 8 kHz samples in transit from one leg to the other; sans-IO.
#[derive(Debug)]
pub struct SampleFifo {
    samples: [i16; CAPACITY],
    /// Index of the oldest sample, and how many are queued.
    head: usize,
    len: usize,
    /// The consumer's frame length, learnt from its pops.
    frame: usize,
    /// False after running dry, until a frame plus the margin is queued.
    flowing: bool,
    dropped: u64,
}

impl Default for SampleFifo {
    fn default() -> Self {
        SampleFifo::new()
    }
}

impl SampleFifo {
    /// An empty FIFO for a consumer of 20 ms frames (until it pops others).
    pub fn new() -> SampleFifo {
        SampleFifo {
            samples: [0; CAPACITY],
            head: 0,
            len: 0,
            frame: 160,
            flowing: false,
            dropped: 0,
        }
    }

    /// Appends received audio, dropping the oldest when too much is queued.
    pub fn push(&mut self, samples: &[i16]) {
        let bound = self.frame + MAX_EXTRA;
        // A single packet longer than the bound: only its newest part can play.
        let samples = &samples[samples.len().saturating_sub(bound)..];
        if self.len + samples.len() > bound {
            let keep = (self.frame + MARGIN).saturating_sub(samples.len());
            self.discard(self.len - keep.min(self.len));
        }
        let tail = (self.head + self.len) % CAPACITY;
        let first = samples.len().min(CAPACITY - tail);
        self.samples[tail..tail + first].copy_from_slice(&samples[..first]);
        self.samples[..samples.len() - first].copy_from_slice(&samples[first..]);
        self.len += samples.len();
    }

    /// Takes one whole frame into `out` (its length is the frame); false, with
    /// `out` untouched, when not enough is queued (send silence instead).
    pub fn pop_frame(&mut self, out: &mut [i16]) -> bool {
        let n = out.len().min(MAX_FRAME);
        self.frame = n;
        if !self.flowing && self.len < n + MARGIN {
            return false;
        }
        if self.len < n {
            self.flowing = false;
            return false;
        }
        self.flowing = true;
        let first = n.min(CAPACITY - self.head);
        out[..first].copy_from_slice(&self.samples[self.head..self.head + first]);
        out[first..n].copy_from_slice(&self.samples[..n - first]);
        self.head = (self.head + n) % CAPACITY;
        self.len -= n;
        true
    }

    /// Samples queued now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Samples dropped so far to bound the latency.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn discard(&mut self, n: usize) {
        self.head = (self.head + n) % CAPACITY;
        self.len -= n;
        self.dropped += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ramp that never repeats within the test, so any gap or reordering shows.
    fn ramp(from: usize, n: usize) -> Vec<i16> {
        (from..from + n).map(|i| i as i16).collect()
    }

    /// Pushes `total` samples in packets of `packet`, popping frames of `frame`
    /// in between at the same rate; returns everything popped, in order.
    fn relay(packet: usize, frame: usize, total: usize) -> Vec<i16> {
        let mut fifo = SampleFifo::new();
        let mut out = Vec::new();
        let mut buf = vec![0i16; frame];
        // Both sides on a 10 ms clock: push a packet when one is due, pop likewise.
        let (mut pushed, mut tick) = (0, 0);
        while pushed < total || fifo.len() >= frame {
            if (tick * 80) % packet == 0 && pushed < total {
                fifo.push(&ramp(pushed, packet));
                pushed += packet;
            }
            if (tick * 80) % frame == 0 && fifo.pop_frame(&mut buf) {
                out.extend_from_slice(&buf);
            }
            tick += 1;
        }
        assert_eq!(fifo.dropped(), 0);
        out
    }

    #[test]
    fn twenty_ms_packets_leave_as_whole_thirty_ms_frames_without_a_gap() {
        let out = relay(160, 240, 160 * 30);
        assert_eq!(out, ramp(0, out.len()));
        assert!(out.len() >= 160 * 30 - 240);
    }

    #[test]
    fn thirty_ms_packets_leave_as_twenty_ms_frames_without_a_gap() {
        let out = relay(240, 160, 240 * 20);
        assert_eq!(out, ramp(0, out.len()));
        assert!(out.len() >= 240 * 20 - 160);
    }

    #[test]
    fn audio_flows_once_a_frame_and_the_margin_are_queued() {
        let mut fifo = SampleFifo::new();
        let mut frame = [7i16; 160];
        fifo.push(&ramp(0, 160));
        assert!(!fifo.pop_frame(&mut frame));
        assert_eq!(frame, [7; 160], "untouched: the caller sends silence");
        fifo.push(&ramp(160, 160));
        assert!(fifo.pop_frame(&mut frame));
        assert_eq!(frame[..], ramp(0, 160)[..]);
        // Flowing: the last whole frame is handed out, then it runs dry.
        assert!(fifo.pop_frame(&mut frame));
        assert!(!fifo.pop_frame(&mut frame));
        fifo.push(&ramp(320, 160));
        assert!(
            !fifo.pop_frame(&mut frame),
            "dry: waits for the margin again"
        );
    }

    #[test]
    fn a_burst_is_cut_to_its_newest_audio_and_the_delay_stays_bounded() {
        let mut fifo = SampleFifo::new();
        // Half a second arriving at once.
        for i in 0..25 {
            fifo.push(&ramp(i * 160, 160));
            assert!(fifo.len() <= 160 + MAX_EXTRA);
        }
        assert!(fifo.len() <= 160 + MAX_EXTRA);
        let mut frame = [0i16; 160];
        assert!(fifo.pop_frame(&mut frame));
        let newest = 25 * 160;
        let delay = newest - frame[0] as usize;
        assert!(
            delay <= 160 + MAX_EXTRA,
            "oldest audio kept is {delay} samples old"
        );
        assert_eq!(fifo.dropped() as usize, newest - delay);
        // What is kept is contiguous and ends with the newest sample.
        let mut rest = frame.to_vec();
        while fifo.pop_frame(&mut frame) {
            rest.extend_from_slice(&frame);
        }
        assert_eq!(rest, ramp(newest - delay, rest.len()));
    }

    #[test]
    fn a_packet_longer_than_the_bound_keeps_only_its_end() {
        let mut fifo = SampleFifo::new();
        fifo.push(&ramp(0, 2000));
        assert_eq!(fifo.len(), 160 + MAX_EXTRA);
        let mut frame = [0i16; 160];
        assert!(fifo.pop_frame(&mut frame));
        assert_eq!(frame[0] as usize, 2000 - 160 - MAX_EXTRA);
    }

    #[test]
    fn wrapping_around_the_storage_keeps_the_order() {
        let mut fifo = SampleFifo::new();
        let mut frame = [0i16; 240];
        let mut out = Vec::new();
        for i in 0..100 {
            fifo.push(&ramp(i * 240, 240));
            if fifo.pop_frame(&mut frame) {
                out.extend_from_slice(&frame);
            }
        }
        assert_eq!(out, ramp(0, out.len()));
        assert_eq!(fifo.dropped(), 0);
    }
}
