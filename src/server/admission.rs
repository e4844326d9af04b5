//! Admission control: whether the server can set up one more call now.
//!
//! `sip.max_calls` bounds the calls in progress; this bounds the set-up path.
//! A new INVITE is refused (503 with Retry-After) when the record writer holds
//! more than it should, when caller lookups have become slow, or past a rate
//! of new calls measured as what the machine sustains. Refusing early keeps the
//! calls already admitted whole: their records, lookups and audio.
//!
//! [`Admission`] is the policy, a value driven with `now` and the load; the
//! endpoint reads the load from [`SetupLoad`] and asks it for every INVITE.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Limits of the set-up path (`[admission]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionSettings {
    /// Records waiting for the database beyond which new calls are refused; 0: no limit.
    pub max_record_backlog: usize,
    /// Caller-lookup time (smoothed over recent lookups) beyond which new calls
    /// are refused, in milliseconds; 0: no limit.
    pub max_lookup_ms: u64,
    /// New calls per second beyond which new calls are refused; 0: no limit.
    pub max_calls_per_second: u32,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        AdmissionSettings {
            // About ten seconds of records at 500 new calls a second: far
            // above a healthy writer's backlog (a few hundred), far below memory trouble.
            max_record_backlog: 20_000,
            max_lookup_ms: 500,
            max_calls_per_second: 0,
        }
    }
}

/// Why a new call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The record writer is behind.
    RecordBacklog,
    /// Caller lookups are slow.
    LookupLatency,
    /// Over the configured rate of new calls.
    CallRate,
}

/// The set-up path's load, as read when an INVITE arrives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    /// Records handed to the writer and not yet committed.
    pub record_backlog: usize,
    /// Recent caller-lookup time.
    pub lookup_latency: Duration,
}

/// The admission policy.
#[derive(Debug)]
pub struct Admission {
    settings: AdmissionSettings,
    /// Calls the rate allows now, refilled at `max_calls_per_second`.
    tokens: f64,
    refilled: Instant,
}

impl Admission {
    pub fn new(settings: AdmissionSettings, now: Instant) -> Admission {
        Admission {
            tokens: burst(&settings),
            settings,
            refilled: now,
        }
    }

    /// Whether one more call may be set up at `now` under `load`.
    pub fn admit(&mut self, now: Instant, load: Load) -> Result<(), Refusal> {
        let settings = &self.settings;
        if settings.max_record_backlog > 0 && load.record_backlog > settings.max_record_backlog {
            return Err(Refusal::RecordBacklog);
        }
        if settings.max_lookup_ms > 0
            && load.lookup_latency > Duration::from_millis(settings.max_lookup_ms)
        {
            return Err(Refusal::LookupLatency);
        }
        if settings.max_calls_per_second > 0 {
            let rate = f64::from(settings.max_calls_per_second);
            let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(burst(settings));
            self.refilled = now;
            if self.tokens < 1.0 {
                return Err(Refusal::CallRate);
            }
            self.tokens -= 1.0;
        }
        Ok(())
    }
}

/// A tenth of a second's calls may come at once, as INVITEs do.
fn burst(settings: &AdmissionSettings) -> f64 {
    (f64::from(settings.max_calls_per_second) / 10.0).max(1.0)
}

/// Where the set-up path's load is measured: the writer's backlog is read
/// from the writer; lookups report how long they took.
#[derive(Debug, Default)]
pub struct LookupGauge {
    /// Smoothed lookup time, microseconds.
    smoothed_us: AtomicU64,
    /// When the last lookup finished, microseconds since `epoch`.
    last_us: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

/// A lookup time older than this says nothing about now: with new calls
/// refused no lookup runs, and the refusal must lift by itself.
const LOOKUP_MEMORY: Duration = Duration::from_secs(1);

impl LookupGauge {
    /// Notes that a lookup took `took`.
    pub fn record(&self, took: Duration) {
        let now = self.since_epoch(Instant::now());
        let sample = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let old = self.smoothed_us.load(Ordering::Relaxed);
        // Weight 1/8 on the new sample, as TCP smooths its round-trip time.
        let smoothed = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.smoothed_us.store(smoothed, Ordering::Relaxed);
        self.last_us.store(now, Ordering::Relaxed);
    }

    /// The recent lookup time at `now`; zero when no lookup finished lately.
    pub fn latency(&self, now: Instant) -> Duration {
        let last = self.last_us.load(Ordering::Relaxed);
        if self.since_epoch(now).saturating_sub(last) > LOOKUP_MEMORY.as_micros() as u64 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.smoothed_us.load(Ordering::Relaxed))
    }

    fn since_epoch(&self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_init(|| now);
        now.saturating_duration_since(epoch).as_micros() as u64
    }
}

/// What the endpoint reads to judge the load: shared with the services.
#[derive(Clone, Debug)]
pub struct SetupLoad {
    pub records: crate::crm::writer::RecordWriter,
    pub lookups: Arc<LookupGauge>,
}

impl SetupLoad {
    /// The load at `now`.
    pub fn read(&self, now: Instant) -> Load {
        Load {
            record_backlog: self.records.backlog(),
            lookup_latency: self.lookups.latency(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(backlog: usize, lookup_ms: u64, rate: u32) -> AdmissionSettings {
        AdmissionSettings {
            max_record_backlog: backlog,
            max_lookup_ms: lookup_ms,
            max_calls_per_second: rate,
        }
    }

    #[test]
    fn a_writer_behind_refuses_new_calls_until_it_catches_up() {
        let now = Instant::now();
        let mut admission = Admission::new(settings(100, 0, 0), now);
        let behind = Load {
            record_backlog: 101,
            ..Load::default()
        };
        assert_eq!(admission.admit(now, behind), Err(Refusal::RecordBacklog));
        let caught_up = Load {
            record_backlog: 100,
            ..Load::default()
        };
        assert_eq!(admission.admit(now, caught_up), Ok(()));
    }

    #[test]
    fn slow_lookups_refuse_new_calls() {
        let now = Instant::now();
        let mut admission = Admission::new(settings(0, 500, 0), now);
        let slow = Load {
            lookup_latency: Duration::from_millis(600),
            ..Load::default()
        };
        assert_eq!(admission.admit(now, slow), Err(Refusal::LookupLatency));
        assert_eq!(admission.admit(now, Load::default()), Ok(()));
    }

    #[test]
    fn the_call_rate_admits_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut admission = Admission::new(settings(0, 0, 100), start);
        let admitted = (0..20)
            .filter(|_| admission.admit(start, Load::default()).is_ok())
            .count();
        assert_eq!(admitted, 10, "a tenth of a second's calls at once");
        // Over the next second, one every 10 ms: 100 admitted of 200 offered.
        let admitted = (1..=200)
            .filter(|n| {
                let now = start + Duration::from_millis(5 * n);
                admission.admit(now, Load::default()).is_ok()
            })
            .count();
        assert_eq!(admitted, 100);
    }

    #[test]
    fn zero_turns_every_limit_off() {
        let now = Instant::now();
        let mut admission = Admission::new(settings(0, 0, 0), now);
        let heavy = Load {
            record_backlog: usize::MAX,
            lookup_latency: Duration::from_secs(60),
        };
        assert!((0..1000).all(|_| admission.admit(now, heavy).is_ok()));
    }

    #[test]
    fn a_lookup_time_is_forgotten_after_a_second() {
        let gauge = LookupGauge::default();
        gauge.record(Duration::from_millis(800));
        let now = Instant::now();
        assert!(gauge.latency(now) >= Duration::from_millis(700));
        assert_eq!(gauge.latency(now + Duration::from_secs(2)), Duration::ZERO);
    }
}
