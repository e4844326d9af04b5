//! Places kept for callers who hung up while waiting and call again.
//!
//! A caller whose line dropped, or who gave up and tries again a minute
//! later, should not start at the back. The place is remembered by the
//! caller's number for a while after they abandon; a call from that number to
//! the same queue within the time takes the first call's effective arrival,
//! so it is served as if it had never left (its wait counts from the first
//! arrival, for escalation and max wait too). A place is taken once; callers
//! without a usable number (withheld, anonymous) keep none.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct KeptPlaces {
    keep: Duration,
    places: HashMap<String, Kept>,
}

#[derive(Debug)]
struct Kept {
    queue: String,
    arrived: Instant,
    abandoned_at: Instant,
}

impl KeptPlaces {
    /// Places are kept for `keep` after the caller hangs up; zero keeps none.
    pub fn new(keep: Duration) -> KeptPlaces {
        KeptPlaces {
            keep,
            places: HashMap::new(),
        }
    }

    /// The caller from `number` hung up at `now` while waiting in `queue`,
    /// where their effective arrival was `arrived`.
    pub fn remember(&mut self, number: &str, queue: &str, arrived: Instant, now: Instant) {
        self.forget_expired(now);
        if self.keep.is_zero() || !is_usable(number) {
            return;
        }
        self.places.insert(
            number.to_owned(),
            Kept {
                queue: queue.to_owned(),
                arrived,
                abandoned_at: now,
            },
        );
    }

    /// The effective arrival a new call from `number` to `queue` takes over,
    /// if a place is kept for it; the place is used up.
    pub fn take(&mut self, number: &str, queue: &str, now: Instant) -> Option<Instant> {
        self.forget_expired(now);
        if self.places.get(number)?.queue != queue {
            return None;
        }
        self.places.remove(number).map(|kept| kept.arrived)
    }

    fn forget_expired(&mut self, now: Instant) {
        let keep = self.keep;
        self.places
            .retain(|_, kept| now.saturating_duration_since(kept.abandoned_at) <= keep);
    }
}

/// A number that identifies a caller: not empty, not withheld.
fn is_usable(number: &str) -> bool {
    let number = number.trim();
    !number.is_empty()
        && !["anonymous", "unknown", "restricted", "unavailable"]
            .iter()
            .any(|withheld| number.eq_ignore_ascii_case(withheld))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_redial_within_the_time_takes_the_first_arrival_once() {
        let t0 = Instant::now();
        let mut places = KeptPlaces::new(5 * MINUTE);
        places.remember("+380441234567", "support", t0, t0 + 2 * MINUTE);
        assert_eq!(
            places.take("+380441234567", "support", t0 + 6 * MINUTE),
            Some(t0)
        );
        assert_eq!(
            places.take("+380441234567", "support", t0 + 6 * MINUTE),
            None
        );
    }

    #[test]
    fn a_redial_too_late_or_to_another_queue_starts_afresh() {
        let t0 = Instant::now();
        let mut places = KeptPlaces::new(5 * MINUTE);
        places.remember("+380441234567", "support", t0, t0);
        assert_eq!(places.take("+380441234567", "billing", t0 + MINUTE), None);
        assert_eq!(
            places.take(
                "+380441234567",
                "support",
                t0 + 5 * MINUTE + Duration::from_secs(1)
            ),
            None
        );
        assert!(places.places.is_empty(), "expired places are forgotten");
    }

    #[test]
    fn withheld_numbers_and_a_zero_time_keep_nothing() {
        let t0 = Instant::now();
        let mut places = KeptPlaces::new(5 * MINUTE);
        for number in ["", "anonymous", "Anonymous", "unknown"] {
            places.remember(number, "support", t0, t0);
        }
        assert!(places.places.is_empty());
        let mut none = KeptPlaces::new(Duration::ZERO);
        none.remember("+380441234567", "support", t0, t0);
        assert_eq!(none.take("+380441234567", "support", t0), None);
    }

    #[test]
    fn a_second_abandonment_replaces_the_first_place() {
        let t0 = Instant::now();
        let mut places = KeptPlaces::new(5 * MINUTE);
        places.remember("+380441234567", "support", t0, t0 + MINUTE);
        places.remember("+380441234567", "billing", t0 + 2 * MINUTE, t0 + 3 * MINUTE);
        assert_eq!(places.places.len(), 1);
        assert_eq!(
            places.take("+380441234567", "billing", t0 + 4 * MINUTE),
            Some(t0 + 2 * MINUTE)
        );
    }
}
