//! Refusing password guessing: failed authentications counted per source.
//!
//! After `max_failures` wrong passwords within `window` from one source,
//! every REGISTER from it is refused 403 for `block`, without a look at its
//! credentials, so guesses stop being answered. IPv6 sources count per /64,
//! as one customer line usually holds a whole /64.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How many failures, how fast, block a source for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    pub max_failures: u32,
    pub window: Duration,
    pub block: Duration,
}

/// Failures per source.
#[derive(Debug)]
pub(crate) struct FailureLimiter {
    limits: FailureLimits,
    sources: HashMap<IpAddr, Source>,
}

#[derive(Debug, Default)]
struct Source {
    /// Failures within the window, oldest first.
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

/// Sources tracked past which idle ones are swept.
const SWEEP_AT: usize = 4096;

/// Sources tracked at most; past it new sources are not counted (guessing
/// from that many addresses at once is beyond what a per-source limit stops).
const MAX_SOURCES: usize = 100_000;

impl FailureLimiter {
    /// A limiter with no failures counted.
    pub fn new(limits: FailureLimits) -> FailureLimiter {
        FailureLimiter {
            limits,
            sources: HashMap::new(),
        }
    }

    /// Whether requests from `ip` are refused at `now`.
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.sources
            .get(&key(ip))
            .and_then(|s| s.blocked_until)
            .is_some_and(|until| now < until)
    }

    /// Counts a failed authentication from `ip`; true when it now blocks it.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.sources.len() >= SWEEP_AT {
            self.sweep(now);
        }
        let key = key(ip);
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&key) {
            return false;
        }
        let limits = self.limits;
        let source = self.sources.entry(key).or_default();
        while source
            .failures
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= limits.window)
        {
            source.failures.pop_front();
        }
        source.failures.push_back(now);
        if source.failures.len() < limits.max_failures as usize {
            return false;
        }
        source.failures.clear();
        source.blocked_until = Some(now + limits.block);
        true
    }

    /// Forgets sources with neither a block nor a failure in the window.
    pub fn sweep(&mut self, now: Instant) {
        let window = self.limits.window;
        self.sources.retain(|_, source| {
            let blocked = source.blocked_until.is_some_and(|until| now < until);
            let recent = source
                .failures
                .back()
                .is_some_and(|at| now.saturating_duration_since(*at) < window);
            blocked || recent
        });
    }
}

/// The counting key of a source address.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6([s[0], s[1], s[2], s[3], 0, 0, 0, 0].into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sources_count_per_slash_64() {
        let limits = FailureLimits {
            max_failures: 2,
            window: Duration::from_secs(60),
            block: Duration::from_secs(60),
        };
        let mut limiter = FailureLimiter::new(limits);
        let now = Instant::now();
        assert!(!limiter.record_failure("2001:db8:1:2::10".parse().unwrap(), now));
        assert!(limiter.record_failure("2001:db8:1:2::99".parse().unwrap(), now));
        assert!(limiter.is_blocked("2001:db8:1:2:ffff::1".parse().unwrap(), now));
        assert!(!limiter.is_blocked("2001:db8:1:3::10".parse().unwrap(), now));
        let later = now + Duration::from_secs(60);
        assert!(!limiter.is_blocked("2001:db8:1:2::10".parse().unwrap(), later));
        limiter.sweep(later);
        assert!(limiter.sources.is_empty(), "idle sources are forgotten");
    }
}
