//! What one SIP source may cost: a sans-IO policy the endpoint consults.
//!
//! [`SourceLimiter`] keeps a token bucket of messages per source address and
//! counts each source's calls in progress. A message over the rate is
//! rejected cheaply (the shell answers 503 with Retry-After, statelessly)
//! while a second, smaller bucket of rejections lasts; past that the source
//! gets silence. Answering a flood in full would double our traffic and make
//! us a reflector for spoofed UDP sources, while a peer that is only briefly
//! over its rate, and honours Retry-After, still learns why it is refused.
//!
//! Tables are bounded: a source whose buckets have refilled carries no
//! information and is forgotten; when `max_sources` are tracked and none is
//! idle, new sources share one overflow allowance. IPv6 sources are counted
//! by their /64, which one host controls. Time is an argument.

mod connections;
mod settings;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub use connections::{ConnectionCaps, ConnectionRefusal};
pub use settings::{LimitSettings, SourceRange, canonical};
pub use stats::{LimitStats, out_of_descriptors, raise_open_file_limit};

/// What to do with one message from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the source's rate (or a trusted source).
    Allow,
    /// Over the rate: answer 503 with Retry-After if it is a request that takes an answer.
    Reject,
    /// Far over the rate: say nothing.
    Drop,
}

/// A summary of what one source was refused, at most once per log interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The source (an IPv6 source's /64); `None` for the sources beyond `max_sources`.
    pub source: Option<IpAddr>,
    /// Messages answered 503 since the last report.
    pub rejected: u64,
    /// Messages dropped unanswered since the last report.
    pub dropped: u64,
    /// Calls refused for the per-source call limit since the last report.
    pub calls_refused: u64,
}

/// The per-source policy: message rate, rejections, calls in progress.
#[derive(Debug)]
pub struct SourceLimiter {
    settings: LimitSettings,
    sources: HashMap<IpAddr, Source>,
    /// Shared by new sources while the table is full of active ones.
    overflow: Source,
    calls: HashMap<IpAddr, u32>,
    reports: VecDeque<Report>,
    next_sweep: Instant,
}

/// One source's buckets and what it was refused since its last report.
#[derive(Debug, Clone)]
struct Source {
    tokens: f64,
    rejections: f64,
    updated: Instant,
    rejected: u64,
    dropped: u64,
    calls_refused: u64,
    /// When the next report may be made; `None` before the first.
    next_report: Option<Instant>,
}

impl SourceLimiter {
    /// A limiter with no source known yet.
    pub fn new(settings: LimitSettings, now: Instant) -> SourceLimiter {
        let overflow = Source::new(&settings, now);
        SourceLimiter {
            next_sweep: now + settings_interval(&settings),
            settings,
            sources: HashMap::new(),
            overflow,
            calls: HashMap::new(),
            reports: VecDeque::new(),
        }
    }

    /// Spends one message of `ip`'s allowance.
    pub fn check_message(&mut self, now: Instant, ip: IpAddr) -> Verdict {
        if self.settings.is_trusted(ip) {
            return Verdict::Allow;
        }
        let key = source_key(ip);
        let settings = &self.settings;
        let room = self.sources.len() < settings.max_sources;
        let (source, report_as) = if room || self.sources.contains_key(&key) {
            let source = self
                .sources
                .entry(key)
                .or_insert_with(|| Source::new(settings, now));
            (source, Some(key))
        } else {
            (&mut self.overflow, None)
        };
        source.refill(settings, now);
        let verdict = if source.tokens >= 1.0 {
            source.tokens -= 1.0;
            Verdict::Allow
        } else if source.rejections >= 1.0 {
            source.rejections -= 1.0;
            source.rejected += 1;
            Verdict::Reject
        } else {
            source.dropped += 1;
            Verdict::Drop
        };
        if verdict != Verdict::Allow
            && let Some(report) = source.report_due(settings, now, report_as)
        {
            self.reports.push_back(report);
        }
        verdict
    }

    /// Whether `ip` may start one more call; if so the call is counted until [`Self::call_ended`].
    pub fn admit_call(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.settings.is_trusted(ip) {
            return true;
        }
        let key = source_key(ip);
        let calls = self.calls.entry(key).or_insert(0);
        if *calls < self.settings.calls_per_source {
            *calls += 1;
            return true;
        }
        let settings = &self.settings;
        let (source, report_as) = match self.sources.get_mut(&key) {
            Some(source) => (source, Some(key)),
            None => (&mut self.overflow, None),
        };
        source.calls_refused += 1;
        if let Some(report) = source.report_due(settings, now, report_as) {
            self.reports.push_back(report);
        }
        false
    }

    /// A call admitted for `ip` is over.
    pub fn call_ended(&mut self, ip: IpAddr) {
        if self.settings.is_trusted(ip) {
            return;
        }
        let key = source_key(ip);
        if let Some(calls) = self.calls.get_mut(&key) {
            *calls = calls.saturating_sub(1);
            if *calls == 0 {
                self.calls.remove(&key);
            }
        }
    }

    /// Forgets idle sources (reporting what they were refused since their
    /// last report); due every log interval.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + settings_interval(&self.settings);
        let settings = &self.settings;
        let reports = &mut self.reports;
        self.sources.retain(|key, source| {
            if !source.idle(settings, now) {
                return true;
            }
            reports.extend(source.take_report(Some(*key)));
            false
        });
        if self.overflow.idle(settings, now) {
            reports.extend(self.overflow.take_report(None));
        }
    }

    /// When [`Self::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_sweep
    }

    /// The next summary to log.
    pub fn poll_report(&mut self) -> Option<Report> {
        self.reports.pop_front()
    }

    /// Sources tracked now.
    pub fn sources_tracked(&self) -> usize {
        self.sources.len()
    }
}

impl Source {
    fn new(settings: &LimitSettings, now: Instant) -> Source {
        Source {
            tokens: f64::from(settings.burst),
            rejections: rejection_burst(settings),
            updated: now,
            rejected: 0,
            dropped: 0,
            calls_refused: 0,
            next_report: None,
        }
    }

    fn refill(&mut self, settings: &LimitSettings, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now.max(self.updated);
        self.tokens =
            (self.tokens + elapsed * settings.requests_per_second).min(f64::from(settings.burst));
        self.rejections = (self.rejections + elapsed * settings.rejections_per_second)
            .min(rejection_burst(settings));
    }

    /// Whether the source would be indistinguishable from a new one at `now`.
    fn idle(&self, settings: &LimitSettings, now: Instant) -> bool {
        let mut copy = self.clone();
        copy.refill(settings, now);
        let full = copy.tokens >= f64::from(settings.burst)
            && copy.rejections >= rejection_burst(settings);
        let quiet = self.next_report.is_none_or(|at| now >= at);
        full && quiet
    }

    /// A report when one is due: the first refusal of an episode at once,
    /// then at most one per interval.
    fn report_due(
        &mut self,
        settings: &LimitSettings,
        now: Instant,
        key: Option<IpAddr>,
    ) -> Option<Report> {
        if self.next_report.is_some_and(|at| now < at) {
            return None;
        }
        self.next_report = Some(now + settings_interval(settings));
        self.take_report(key)
    }

    fn take_report(&mut self, source: Option<IpAddr>) -> Option<Report> {
        let report = Report {
            source,
            rejected: std::mem::take(&mut self.rejected),
            dropped: std::mem::take(&mut self.dropped),
            calls_refused: std::mem::take(&mut self.calls_refused),
        };
        (report.rejected + report.dropped + report.calls_refused > 0).then_some(report)
    }
}

/// The bucket of rejections holds one second's worth, at least one (none
/// when rejections are turned off: over the rate means silence).
fn rejection_burst(settings: &LimitSettings) -> f64 {
    if settings.rejections_per_second <= 0.0 {
        return 0.0;
    }
    settings.rejections_per_second.max(1.0).ceil()
}

fn settings_interval(settings: &LimitSettings) -> Duration {
    Duration::from_secs(settings.log_interval_seconds)
}

/// The address a source is counted by: IPv4 as is, IPv6 by its /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match settings::canonical(ip) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
