//! A circuit breaker for one CRM source, as a core that is told the time.
//!
//! After `failures` failures in a row the circuit opens: lookups on the
//! source are refused at once for `cool_down`, so callers take the flow's
//! `on_error` path instead of each waiting out a timeout against a source
//! that is down. Then one lookup is let through as a probe (half-open): its
//! success closes the circuit, its failure opens it for another cool-down.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// When a source's circuit opens and for how long (keys of `[[crm.sources]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    /// Failures in a row that open the circuit.
    pub failures_to_open: u32,
    /// How long an open circuit refuses lookups, in milliseconds.
    pub cool_down_ms: u64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures_to_open: 5,
            cool_down_ms: 30_000,
        }
    }
}

/// The circuit of one source.
#[derive(Debug, Clone)]
pub struct Breaker {
    settings: BreakerSettings,
    state: State,
}

/// The circuit's state, named as the pattern names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Lookups run; `failures` in a row so far.
    Closed { failures: u32 },
    /// Lookups are refused until `until`.
    Open { until: Instant },
    /// One probe is running; the others are refused until it answers.
    HalfOpen,
}

/// Whether a lookup may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Run it.
    Allowed,
    /// Run it as the probe of a half-open circuit.
    Probe,
    /// Do not run it: the circuit is open.
    Refused,
}

/// A change of state worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    HalfOpened,
    Closed,
}

impl Breaker {
    /// A closed circuit.
    pub fn new(settings: BreakerSettings) -> Breaker {
        Breaker {
            settings,
            state: State::Closed { failures: 0 },
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Asks to run a lookup at `now`; the answer says whether and how.
    pub fn admit(&mut self, now: Instant) -> (Admission, Option<Transition>) {
        match self.state {
            State::Closed { .. } => (Admission::Allowed, None),
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen;
                (Admission::Probe, Some(Transition::HalfOpened))
            }
            State::Open { .. } | State::HalfOpen => (Admission::Refused, None),
        }
    }

    /// The lookup let through answered (found or not found): the source works.
    pub fn succeeded(&mut self) -> Option<Transition> {
        let was = std::mem::replace(&mut self.state, State::Closed { failures: 0 });
        matches!(was, State::HalfOpen | State::Open { .. }).then_some(Transition::Closed)
    }

    /// The lookup let through failed or timed out at `now`.
    pub fn failed(&mut self, now: Instant) -> Option<Transition> {
        let failures = match self.state {
            State::Closed { failures } => failures + 1,
            // A probe failed, or a lookup admitted before the circuit opened came back.
            State::HalfOpen => self.settings.failures_to_open,
            State::Open { .. } => return None,
        };
        if failures >= self.settings.failures_to_open.max(1) {
            let cool_down = Duration::from_millis(self.settings.cool_down_ms);
            self.state = State::Open {
                until: now + cool_down,
            };
            Some(Transition::Opened)
        } else {
            self.state = State::Closed { failures };
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            failures_to_open: 3,
            cool_down_ms: 10_000,
        })
    }

    #[test]
    fn three_failures_in_a_row_open_the_circuit_for_the_cool_down() {
        let start = Instant::now();
        let mut b = breaker();
        assert_eq!(b.failed(start), None);
        assert_eq!(b.failed(start), None);
        assert_eq!(b.admit(start).0, Admission::Allowed);
        assert_eq!(b.failed(start), Some(Transition::Opened));
        let almost = start + Duration::from_millis(9_999);
        assert_eq!(b.admit(almost), (Admission::Refused, None));
    }

    #[test]
    fn a_success_between_failures_starts_the_count_again() {
        let start = Instant::now();
        let mut b = breaker();
        b.failed(start);
        b.failed(start);
        assert_eq!(b.succeeded(), None);
        b.failed(start);
        b.failed(start);
        assert_eq!(b.state(), State::Closed { failures: 2 });
    }

    #[test]
    fn after_the_cool_down_one_probe_runs_and_its_success_closes_the_circuit() {
        let start = Instant::now();
        let mut b = breaker();
        (0..3).for_each(|_| {
            b.failed(start);
        });
        let later = start + Duration::from_secs(10);
        assert_eq!(
            b.admit(later),
            (Admission::Probe, Some(Transition::HalfOpened))
        );
        assert_eq!(b.admit(later), (Admission::Refused, None), "one probe only");
        assert_eq!(b.succeeded(), Some(Transition::Closed));
        assert_eq!(b.admit(later).0, Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_opens_the_circuit_for_another_cool_down() {
        let start = Instant::now();
        let mut b = breaker();
        (0..3).for_each(|_| {
            b.failed(start);
        });
        let probe_at = start + Duration::from_secs(11);
        assert_eq!(b.admit(probe_at).0, Admission::Probe);
        assert_eq!(b.failed(probe_at), Some(Transition::Opened));
        let before = probe_at + Duration::from_millis(9_999);
        assert_eq!(b.admit(before).0, Admission::Refused);
        let after = probe_at + Duration::from_secs(10);
        assert_eq!(b.admit(after).0, Admission::Probe);
    }

    #[test]
    fn late_failures_of_lookups_admitted_before_the_circuit_opened_do_not_extend_it() {
        let start = Instant::now();
        let mut b = breaker();
        (0..3).for_each(|_| {
            b.failed(start);
        });
        assert_eq!(b.failed(start + Duration::from_secs(5)), None);
        let reopen = start + Duration::from_secs(10);
        assert_eq!(b.admit(reopen).0, Admission::Probe);
    }
}
