//! RFC 4733 telephone-events: one digit per event, reported once; and the
//! sender that relays digits to the other leg of a bridge (`sender.rs`).
//!
//! A phone sends several packets per key press (start, updates, three
//! redundant end packets), all with the same RTP timestamp: the event's start.
//! The timestamp is therefore the event's identity. A digit is reported at the
//! first packet seen of an event, whichever it is (the start may be lost), and
//! never again for that timestamp while the event is fresh. Ordering by
//! sequence number is not relied on: it may go backwards (a replayed stream)
//! or wrap.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{DigitEvent, DigitSource};

mod sender;

pub use sender::{EVENT_DURATION, EventPacket, Rfc4733Sender, code_for};

/// How long an event's timestamp stays "seen": longer than any event and its
/// end retransmissions, shorter than the gap before a replayed stream reuses it.
const EVENT_MEMORY: Duration = Duration::from_millis(1000);

/// How many recent events are remembered (reordered packets of older events).
const REMEMBERED_EVENTS: usize = 16;

/// Turns telephone-event packets into digits.
#[derive(Debug, Default)]
pub struct Rfc4733Receiver {
    recent: VecDeque<(u32, Instant)>,
    digits: VecDeque<DigitEvent>,
    malformed: u64,
    ignored: u64,
}

impl Rfc4733Receiver {
    /// A receiver with no events seen.
    pub fn new() -> Rfc4733Receiver {
        Rfc4733Receiver::default()
    }

    /// One telephone-event packet: its RTP timestamp, sequence number, marker
    /// bit and payload (the caller already checked the payload type).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        timestamp: u32,
        sequence: u16,
        marker: bool,
        payload: &[u8],
    ) {
        let _ = (sequence, marker); // identity is the timestamp; see the module doc
        let [event, _flags, ..] = payload else {
            self.malformed += 1;
            return;
        };
        if payload.len() < 4 {
            self.malformed += 1;
            return;
        }
        let Some(digit) = digit_for(*event) else {
            self.ignored += 1; // flash-hook, tones and other non-DTMF events
            return;
        };
        self.recent
            .retain(|(_, seen)| now.saturating_duration_since(*seen) < EVENT_MEMORY);
        if let Some(entry) = self.recent.iter_mut().find(|(ts, _)| *ts == timestamp) {
            entry.1 = now;
            return;
        }
        if self.recent.len() == REMEMBERED_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back((timestamp, now));
        self.digits.push_back(DigitEvent {
            digit,
            at: now,
            source: DigitSource::Rfc4733,
        });
    }

    /// The next digit, in the order the events were first seen.
    pub fn poll_digit(&mut self) -> Option<DigitEvent> {
        self.digits.pop_front()
    }

    /// Packets too short to be a telephone-event.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Events that are not DTMF digits (codes above 15).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }
}

/// The digit for a telephone-event code (RFC 4733 §3.2): 0–9, `*`, `#`, A–D.
pub fn digit_for(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload: event, end bit, volume 10, duration.
    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let [hi, lo] = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, hi, lo]
    }

    fn digits(receiver: &mut Rfc4733Receiver) -> String {
        std::iter::from_fn(|| receiver.poll_digit())
            .map(|d| d.digit)
            .collect()
    }

    /// A whole key press as a phone sends it: start with marker, updates, three ends.
    fn press(
        receiver: &mut Rfc4733Receiver,
        start: Instant,
        event: u8,
        timestamp: u32,
        first_seq: u16,
    ) {
        let ms = Duration::from_millis;
        receiver.handle_packet(
            start,
            timestamp,
            first_seq,
            true,
            &payload(event, false, 160),
        );
        for i in 1..4u16 {
            receiver.handle_packet(
                start + ms(20 * i as u64),
                timestamp,
                first_seq + i,
                false,
                &payload(event, false, 160 * (i + 1)),
            );
        }
        for i in 4..7u16 {
            receiver.handle_packet(
                start + ms(20 * i as u64),
                timestamp,
                first_seq + i,
                false,
                &payload(event, true, 800),
            );
        }
    }

    #[test]
    fn a_key_press_with_three_end_packets_is_one_digit_at_the_first_packet() {
        let start = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        press(&mut receiver, start, 5, 1000, 10);
        let digit = receiver.poll_digit().unwrap();
        assert_eq!((digit.digit, digit.at), ('5', start));
        assert!(receiver.poll_digit().is_none());
    }

    #[test]
    fn two_identical_keys_in_a_row_are_two_digits() {
        let start = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        press(&mut receiver, start, 1, 1000, 10);
        press(
            &mut receiver,
            start + Duration::from_millis(300),
            1,
            3400,
            17,
        );
        assert_eq!(digits(&mut receiver), "11");
    }

    #[test]
    fn a_lost_start_still_gives_the_digit_from_an_end_packet() {
        let now = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        receiver.handle_packet(now, 5000, 40, false, &payload(11, true, 800));
        receiver.handle_packet(now, 5000, 41, false, &payload(11, true, 800));
        assert_eq!(digits(&mut receiver), "#");
    }

    #[test]
    fn reordered_and_backwards_sequence_numbers_do_not_duplicate() {
        let now = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        receiver.handle_packet(now, 100, 7, true, &payload(2, false, 160));
        receiver.handle_packet(now, 900, 3, true, &payload(3, false, 160));
        // A late end packet of the first event, with an older sequence number.
        receiver.handle_packet(now, 100, 1, false, &payload(2, true, 800));
        assert_eq!(digits(&mut receiver), "23");
    }

    #[test]
    fn a_replayed_stream_reusing_timestamps_later_gives_the_digits_again() {
        let start = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        press(&mut receiver, start, 7, 4242, 100);
        press(&mut receiver, start + Duration::from_secs(3), 7, 4242, 100);
        assert_eq!(digits(&mut receiver), "77");
    }

    #[test]
    fn timestamps_near_wrap_around_are_distinct_events() {
        let now = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        receiver.handle_packet(now, u32::MAX - 80, 65535, true, &payload(4, false, 160));
        receiver.handle_packet(
            now + Duration::from_millis(200),
            1520,
            0,
            true,
            &payload(6, false, 160),
        );
        assert_eq!(digits(&mut receiver), "46");
    }

    #[test]
    fn malformed_and_non_dtmf_events_are_counted_not_reported() {
        let now = Instant::now();
        let mut receiver = Rfc4733Receiver::new();
        receiver.handle_packet(now, 1, 1, true, &[]);
        receiver.handle_packet(now, 2, 2, true, &[5, 0]);
        receiver.handle_packet(now, 3, 3, true, &payload(16, false, 160));
        assert_eq!(digits(&mut receiver), "");
        assert_eq!((receiver.malformed(), receiver.ignored()), (2, 1));
    }

    #[test]
    fn every_code_maps_to_its_digit() {
        let all: String = (0..16).filter_map(digit_for).collect();
        assert_eq!(all, "0123456789*#ABCD");
    }
}
