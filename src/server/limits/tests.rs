//! The limiter on a virtual clock.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;

fn settings() -> LimitSettings {
    LimitSettings {
        requests_per_second: 10.0,
        burst: 20,
        rejections_per_second: 2.0,
        calls_per_source: 3,
        max_sources: 4,
        log_interval_seconds: 10,
        trusted: vec!["192.0.2.0/24".parse().unwrap()],
        ..LimitSettings::default()
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Sends `count` messages from `source` at `now`; the verdicts by kind.
fn burst(limiter: &mut SourceLimiter, now: Instant, source: IpAddr, count: usize) -> [usize; 3] {
    let mut seen = [0; 3];
    for _ in 0..count {
        match limiter.check_message(now, source) {
            Verdict::Allow => seen[0] += 1,
            Verdict::Reject => seen[1] += 1,
            Verdict::Drop => seen[2] += 1,
        }
    }
    seen
}

#[test]
fn a_flood_gets_its_burst_then_a_few_rejections_then_silence() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    let flooder = ip("198.51.100.9");
    assert_eq!(burst(&mut limiter, start, flooder, 1000), [20, 2, 978]);
    // One second later: ten more messages and two more rejections.
    let later = start + Duration::from_secs(1);
    assert_eq!(burst(&mut limiter, later, flooder, 1000), [10, 2, 988]);
}

#[test]
fn another_source_keeps_its_own_allowance_during_a_flood() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    burst(&mut limiter, start, ip("198.51.100.9"), 5000);
    assert_eq!(
        burst(&mut limiter, start, ip("198.51.100.10"), 20),
        [20, 0, 0]
    );
}

#[test]
fn trusted_sources_are_never_limited() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    assert_eq!(
        burst(&mut limiter, start, ip("192.0.2.77"), 5000),
        [5000, 0, 0]
    );
    for _ in 0..100 {
        assert!(limiter.admit_call(start, ip("192.0.2.77")));
    }
    assert_eq!(limiter.sources_tracked(), 0);
}

#[test]
fn a_steady_source_within_its_rate_is_never_refused() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    let phone = ip("198.51.100.20");
    for i in 0..10_000u64 {
        let now = start + Duration::from_millis(100 * i);
        assert_eq!(
            limiter.check_message(now, phone),
            Verdict::Allow,
            "message {i}"
        );
    }
}

#[test]
fn calls_per_source_are_capped_and_freed_as_calls_end() {
    let now = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), now);
    let pbx = ip("198.51.100.30");
    assert!(limiter.admit_call(now, pbx));
    assert!(limiter.admit_call(now, pbx));
    assert!(limiter.admit_call(now, pbx));
    assert!(!limiter.admit_call(now, pbx));
    assert!(limiter.admit_call(now, ip("198.51.100.31")));
    limiter.call_ended(pbx);
    assert!(limiter.admit_call(now, pbx));
}

#[test]
fn one_report_per_source_per_interval_with_the_counts_between() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    let flooder = ip("198.51.100.9");
    // 1,000 messages a second for 25 s.
    for ms in 0..25_000u64 {
        let now = start + Duration::from_millis(ms);
        burst(&mut limiter, now, flooder, 1);
        limiter.handle_timeout(now);
    }
    let reports: Vec<Report> = std::iter::from_fn(|| limiter.poll_report()).collect();
    // At the first refusal, then after 10 s and after 20 s.
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert!(reports.iter().all(|r| r.source == Some(flooder)));
    assert_eq!(reports[0].rejected + reports[0].dropped, 1);
    // The rest is reported when the source is forgotten.
    limiter.handle_timeout(start + Duration::from_secs(60));
    let last = limiter.poll_report().expect("a last report");
    let refused: u64 = reports
        .iter()
        .chain([&last])
        .map(|r| r.rejected + r.dropped)
        .sum();
    // 20 at once, then 10 a second for 25 s.
    assert_eq!(refused, 25_000 - 20 - 250 + 1, "{reports:?} {last:?}");
}

#[test]
fn idle_sources_are_forgotten_with_a_last_report() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    let flooder = ip("198.51.100.9");
    burst(&mut limiter, start, flooder, 100);
    assert_eq!(
        limiter.poll_report().map(|r| r.dropped + r.rejected),
        Some(1)
    );
    assert_eq!(limiter.sources_tracked(), 1);
    let later = start + Duration::from_secs(30);
    limiter.handle_timeout(later);
    assert_eq!(limiter.sources_tracked(), 0);
    let last = limiter
        .poll_report()
        .expect("the refusals after the first report");
    assert_eq!(last.rejected + last.dropped, 100 - 20 - 1);
}

#[test]
fn the_table_is_bounded_and_sources_beyond_share_one_allowance() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    for i in 0..4 {
        burst(&mut limiter, start, ip(&format!("198.51.100.{i}")), 1);
    }
    let mut beyond = 0;
    for i in 0..100 {
        if limiter.check_message(start, ip(&format!("203.0.113.{i}"))) == Verdict::Allow {
            beyond += 1;
        }
    }
    assert_eq!(limiter.sources_tracked(), 4);
    assert_eq!(
        beyond, 20,
        "one burst shared by the sources beyond the table"
    );
    // Once the tracked ones are idle they make room again.
    let later = start + Duration::from_secs(30);
    limiter.handle_timeout(later);
    assert_eq!(limiter.sources_tracked(), 0);
    assert_eq!(
        limiter.check_message(later, ip("203.0.113.200")),
        Verdict::Allow
    );
    assert_eq!(limiter.sources_tracked(), 1);
}

#[test]
fn ipv6_sources_are_counted_by_their_64() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(settings(), start);
    let mut allowed = 0;
    for i in 0..100u32 {
        let source = ip(&format!("2001:db8:0:1::{i:x}"));
        if limiter.check_message(start, source) == Verdict::Allow {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 20);
    assert_eq!(
        limiter.check_message(start, ip("2001:db8:0:2::1")),
        Verdict::Allow
    );
}

#[test]
fn without_rejections_over_the_rate_is_silence() {
    let start = Instant::now();
    let mut limiter = SourceLimiter::new(
        LimitSettings {
            rejections_per_second: 0.0,
            ..settings()
        },
        start,
    );
    assert_eq!(
        burst(&mut limiter, start, ip("198.51.100.9"), 100),
        [20, 0, 80]
    );
}
