//! Sending digits as RFC 4733 telephone-events, one packet per RTP frame.
//!
//! The RTP session asks for a packet at every frame it sends; while a digit is
//! being sent, that frame carries the event instead of audio (RFC 4733 §2.5.1):
//! the first packet has the marker bit, every packet of the event has the RTP
//! timestamp of its first frame, the duration grows by one frame per packet up
//! to the event's length, and the last packet is sent three times with the end
//! bit (§2.5.1.4). Digits asked for meanwhile wait their turn.

use std::collections::VecDeque;

/// How long a digit lasts, in 8 kHz timestamp units: 100 ms, a key press of
/// an ordinary phone, well above what detectors need (40 ms).
pub const EVENT_DURATION: u32 = 800;

/// The end packet is sent this many times (RFC 4733 §2.5.1.4).
const END_PACKETS: u8 = 3;
/// Audio between two digits, in timestamp units, so that equipment turning
/// events back into tones plays two presses of one key as two.
const PAUSE: u32 = 160;
/// The volume field: −10 dBm0, the level of a phone's key tones.
const VOLUME: u8 = 10;
/// Digits waiting at most; a shell asking for more is relaying garbage.
const MAX_QUEUED: usize = 32;

/// Turns digits into telephone-event packets; sans-IO, driven frame by frame.
#[derive(Debug, Default)]
pub struct Rfc4733Sender {
    queued: VecDeque<u8>,
    current: Option<Event>,
    /// Timestamp units of audio still owed before the next event starts.
    pause: u32,
}

/// One telephone-event packet to send in place of a frame's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Set on the first packet of the event.
    pub marker: bool,
    /// The RTP timestamp: that of the event's first frame, on every packet.
    pub timestamp: u32,
    /// Event code, end bit and volume, duration (RFC 4733 §2.3).
    pub payload: [u8; 4],
}

#[derive(Debug)]
struct Event {
    code: u8,
    timestamp: u32,
    /// Timestamp units covered so far, up to `EVENT_DURATION`.
    duration: u32,
    ends_sent: u8,
}

impl Rfc4733Sender {
    /// A sender with no digit to send.
    pub fn new() -> Rfc4733Sender {
        Rfc4733Sender::default()
    }

    /// Queues a digit; false if it is not a DTMF key or too many are waiting.
    pub fn queue(&mut self, digit: char) -> bool {
        let Some(code) = code_for(digit) else {
            return false;
        };
        if self.queued.len() >= MAX_QUEUED {
            return false;
        }
        self.queued.push_back(code);
        true
    }

    /// Whether a digit is being sent or waiting.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queued.is_empty()
    }

    /// Forgets every digit (the peer no longer takes telephone-events).
    pub fn clear(&mut self) {
        self.queued.clear();
        self.current = None;
        self.pause = 0;
    }

    /// The packet for the frame starting at `timestamp` and lasting `samples`,
    /// or None to send the frame's audio. Called once for every frame, sent or
    /// not, so that events keep real time.
    pub fn poll_packet(&mut self, timestamp: u32, samples: u32) -> Option<EventPacket> {
        if self.current.is_none() {
            if self.pause > 0 {
                self.pause = self.pause.saturating_sub(samples);
                return None;
            }
            let code = self.queued.pop_front()?;
            self.current = Some(Event {
                code,
                timestamp,
                duration: 0,
                ends_sent: 0,
            });
        }
        let event = self.current.as_mut()?;
        let marker = event.duration == 0;
        event.duration = (event.duration + samples).min(EVENT_DURATION);
        let end = event.duration == EVENT_DURATION;
        if end {
            event.ends_sent += 1;
        }
        let [hi, lo] = (event.duration as u16).to_be_bytes();
        let packet = EventPacket {
            marker,
            timestamp: event.timestamp,
            payload: [event.code, (u8::from(end) << 7) | VOLUME, hi, lo],
        };
        if event.ends_sent == END_PACKETS {
            self.current = None;
            self.pause = PAUSE;
        }
        Some(packet)
    }
}

/// The telephone-event code of a key (RFC 4733 §3.2), the inverse of `digit_for`.
pub fn code_for(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::{Rfc4733Receiver, digit_for};
    use super::*;

    /// Drives the sender for `frames` frames of `samples` each, as the session
    /// does, and returns (frame index, packet) for every frame that held one.
    fn run(
        sender: &mut Rfc4733Sender,
        first: u32,
        samples: u32,
        frames: u32,
    ) -> Vec<(u32, EventPacket)> {
        (0..frames)
            .filter_map(|i| {
                let timestamp = first.wrapping_add(i * samples);
                sender.poll_packet(timestamp, samples).map(|p| (i, p))
            })
            .collect()
    }

    /// What a receiver makes of the packets, sent one frame apart.
    fn received(packets: &[(u32, EventPacket)], frame_ms: u64) -> String {
        let start = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        for (n, (i, p)) in packets.iter().enumerate() {
            let at = start + Duration::from_millis(frame_ms * u64::from(*i));
            receiver.handle_packet(at, p.timestamp, n as u16, p.marker, &p.payload);
        }
        std::iter::from_fn(|| receiver.poll_digit())
            .map(|d| d.digit)
            .collect()
    }

    fn duration(p: &EventPacket) -> u32 {
        u32::from(u16::from_be_bytes([p.payload[2], p.payload[3]]))
    }

    fn end(p: &EventPacket) -> bool {
        p.payload[1] & 0x80 != 0
    }

    #[test]
    fn a_digit_is_one_event_of_100_ms_with_marker_growing_duration_and_three_ends() {
        let mut sender = Rfc4733Sender::new();
        assert!(sender.queue('5'));
        let packets = run(&mut sender, 1000, 160, 20);
        assert_eq!(
            packets.len(),
            7,
            "five frames of tone, two more end packets"
        );
        assert!(packets.iter().all(|(_, p)| p.timestamp == 1000));
        assert!(packets.iter().all(|(_, p)| p.payload[0] == 5));
        let markers: Vec<bool> = packets.iter().map(|(_, p)| p.marker).collect();
        assert_eq!(markers, [true, false, false, false, false, false, false]);
        let durations: Vec<u32> = packets.iter().map(|(_, p)| duration(p)).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|(_, p)| end(p)).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        let frames: Vec<u32> = packets.iter().map(|(i, _)| *i).collect();
        assert_eq!(frames, [0, 1, 2, 3, 4, 5, 6], "consecutive frames");
        assert!(sender.is_idle());
        assert_eq!(received(&packets, 20), "5");
    }

    #[test]
    fn thirty_ms_frames_end_with_the_exact_duration() {
        let mut sender = Rfc4733Sender::new();
        sender.queue('#');
        let packets = run(&mut sender, 0, 240, 10);
        let durations: Vec<u32> = packets.iter().map(|(_, p)| duration(p)).collect();
        assert_eq!(durations, [240, 480, 720, 800, 800, 800]);
        assert_eq!(received(&packets, 30), "#");
    }

    #[test]
    fn queued_digits_follow_each_other_with_new_timestamps_and_a_pause() {
        let mut sender = Rfc4733Sender::new();
        for digit in "1*1D".chars() {
            assert!(sender.queue(digit));
        }
        let packets = run(&mut sender, 50, 160, 40);
        assert_eq!(received(&packets, 20), "1*1D");
        let starts: Vec<u32> = packets
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(i, _)| *i)
            .collect();
        // Seven frames of event, then one frame of audio.
        assert_eq!(starts, [0, 8, 16, 24]);
        assert_eq!(packets[7].1.timestamp, 50 + 8 * 160);
    }

    #[test]
    fn an_event_across_the_timestamp_wrap_keeps_one_timestamp() {
        let mut sender = Rfc4733Sender::new();
        sender.queue('9');
        let first = u32::MAX - 300;
        let packets = run(&mut sender, first, 160, 10);
        assert!(packets.iter().all(|(_, p)| p.timestamp == first));
        assert_eq!(received(&packets, 20), "9");
    }

    #[test]
    fn only_dtmf_keys_are_queued_and_their_codes_round_trip() {
        let mut sender = Rfc4733Sender::new();
        assert!(!sender.queue('x'));
        assert!(!sender.queue('E'));
        assert!(sender.is_idle());
        for digit in "0123456789*#ABCD".chars() {
            assert_eq!(code_for(digit).and_then(digit_for), Some(digit));
        }
        assert_eq!(code_for('b'), Some(13));
    }

    #[test]
    fn clear_forgets_the_event_in_progress_and_the_queue() {
        let mut sender = Rfc4733Sender::new();
        sender.queue('1');
        sender.queue('2');
        assert!(sender.poll_packet(0, 160).is_some());
        sender.clear();
        assert!(sender.is_idle());
        assert_eq!(sender.poll_packet(160, 160), None);
    }
}
