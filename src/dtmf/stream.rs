//! The one digit stream of a call, fed by every DTMF source.

use std::collections::VecDeque;
use std::time::Duration;

use super::DigitEvent;

/// Two reports of one key press by different methods are this close at most:
/// some phones send RFC 4733 and leave the tone in the audio too, and the
/// in-band detector runs on every call when configured so.
const SAME_PRESS_WINDOW: Duration = Duration::from_millis(150);

/// Merges digits from all sources in arrival order, one per key press.
#[derive(Debug, Default)]
pub struct DigitStream {
    digits: VecDeque<DigitEvent>,
    last: Option<DigitEvent>,
}

impl DigitStream {
    /// An empty stream.
    pub fn new() -> DigitStream {
        DigitStream::default()
    }

    /// A digit from any source; the same key reported by another source
    /// within a short window is the same press and is dropped.
    pub fn push(&mut self, event: DigitEvent) {
        if let Some(last) = self.last {
            let apart = if event.at >= last.at {
                event.at - last.at
            } else {
                last.at - event.at
            };
            if last.digit == event.digit && last.source != event.source && apart < SAME_PRESS_WINDOW
            {
                return;
            }
        }
        self.last = Some(event);
        self.digits.push_back(event);
    }

    /// The next digit.
    pub fn poll(&mut self) -> Option<DigitEvent> {
        self.digits.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::DigitSource;
    use super::*;

    fn event(digit: char, ms: u64, source: DigitSource) -> DigitEvent {
        DigitEvent {
            digit,
            at: Instant::now() + Duration::from_millis(ms),
            source,
        }
    }

    #[test]
    fn one_press_seen_by_two_methods_is_one_digit_but_repeats_are_kept() {
        let base = Instant::now();
        let at = |ms| base + Duration::from_millis(ms);
        let mut stream = DigitStream::new();
        for (digit, ms, source) in [
            ('1', 0, DigitSource::Rfc4733),
            ('1', 30, DigitSource::InBand),
            ('1', 400, DigitSource::Rfc4733),
            ('2', 800, DigitSource::SipInfo),
        ] {
            stream.push(DigitEvent {
                digit,
                at: at(ms),
                source,
            });
        }
        let digits: String = std::iter::from_fn(|| stream.poll())
            .map(|d| d.digit)
            .collect();
        assert_eq!(digits, "112");
        let _ = event('x', 0, DigitSource::InBand);
    }
}
