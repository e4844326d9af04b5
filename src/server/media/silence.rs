//! Noticing a peer that has gone quiet: a phone that lost power or network
//! sends no BYE, and without this its call would hold a line, a queue place
//! or an agent until the maximum call duration.

use std::time::{Duration, Instant};

/// Watches the packets a leg accepts from its peer (RTP and RTCP) and says
/// when none has come for `timeout` while the peer is expected to send.
#[derive(Debug)]
pub(super) struct SilenceWatch {
    timeout: Duration,
    heard_at: Instant,
    packets_seen: u64,
    reported: bool,
}

impl SilenceWatch {
    pub(super) fn new(timeout: Duration, now: Instant) -> SilenceWatch {
        SilenceWatch {
            timeout,
            heard_at: now,
            packets_seen: 0,
            reported: false,
        }
    }

    /// Called every frame with the count of packets accepted so far and
    /// whether the peer should be sending (not on hold). Returns how long the
    /// peer has been silent, once, when that reaches the timeout; again only
    /// after the peer has been heard (or on hold) in between.
    pub(super) fn check(&mut self, now: Instant, packets: u64, expected: bool) -> Option<Duration> {
        if packets != self.packets_seen || !expected {
            self.packets_seen = packets;
            self.heard_at = now;
            self.reported = false;
            return None;
        }
        let silent_for = now.saturating_duration_since(self.heard_at);
        if self.reported || silent_for < self.timeout {
            return None;
        }
        self.reported = true;
        Some(silent_for)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(20);

    /// Runs frames from `from` for `duration`, with `packets` accepted in all.
    fn run(
        watch: &mut SilenceWatch,
        from: Instant,
        duration: Duration,
        packets: u64,
        expected: bool,
    ) -> Vec<(Duration, Duration)> {
        let mut reports = Vec::new();
        let mut t = from;
        while t < from + duration {
            t += FRAME;
            if let Some(silent) = watch.check(t, packets, expected) {
                reports.push((t - from, silent));
            }
        }
        reports
    }

    #[test]
    fn a_peer_silent_for_the_timeout_is_reported_once() {
        let start = Instant::now();
        let mut watch = SilenceWatch::new(Duration::from_secs(10), start);
        let reports = run(&mut watch, start, Duration::from_secs(30), 0, true);
        assert_eq!(
            reports,
            [(Duration::from_secs(10), Duration::from_secs(10))]
        );
    }

    #[test]
    fn packets_keep_the_peer_alive_and_a_new_silence_is_reported_again() {
        let start = Instant::now();
        let mut watch = SilenceWatch::new(Duration::from_secs(1), start);
        let mut t = start;
        for packet in 1..=100 {
            t += FRAME;
            assert_eq!(watch.check(t, packet, true), None);
        }
        let reports = run(&mut watch, t, Duration::from_secs(3), 100, true);
        assert_eq!(reports, [(Duration::from_secs(1), Duration::from_secs(1))]);
        let t = t + Duration::from_secs(3);
        assert_eq!(watch.check(t + FRAME, 101, true), None);
        let reports = run(&mut watch, t + FRAME, Duration::from_secs(2), 101, true);
        assert_eq!(reports.len(), 1);
    }

    #[test]
    fn a_peer_on_hold_is_not_expected_to_send() {
        let start = Instant::now();
        let mut watch = SilenceWatch::new(Duration::from_secs(1), start);
        assert!(run(&mut watch, start, Duration::from_secs(5), 0, false).is_empty());
        // The timeout counts from the resumption, not from the last packet.
        let t = start + Duration::from_secs(5);
        let reports = run(&mut watch, t, Duration::from_secs(2), 0, true);
        assert_eq!(reports, [(Duration::from_secs(1), Duration::from_secs(1))]);
    }
}
