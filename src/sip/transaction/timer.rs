//! Timer values of RFC 3261 Table 4 and RFC 6026.

use std::time::{Duration, Instant};

/// The base timer values; everything else derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: the transaction timeout (Timers B, F, H, J, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// The RFC 3261 / RFC 6026 timers, by their letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit (client, unreliable).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmits (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmit (client, unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE response retransmit (server, unreliable).
    G,
    /// Wait time for ACK receipt (server INVITE).
    H,
    /// Wait time for ACK retransmits (server INVITE, Confirmed).
    I,
    /// Wait time for non-INVITE request retransmits (server).
    J,
    /// Wait time for response retransmits (client non-INVITE).
    K,
    /// Wait time for INVITE retransmits after a 2xx (server, RFC 6026 Accepted).
    L,
    /// Wait time for 2xx retransmits (client, RFC 6026 Accepted).
    M,
}

/// The pending deadlines of one transaction.
#[derive(Debug, Default, Clone)]
pub(crate) struct Timers(Vec<(Timer, Instant)>);

impl Timers {
    pub fn start(&mut self, timer: Timer, at: Instant) {
        self.stop(timer);
        self.0.push((timer, at));
    }

    pub fn stop(&mut self, timer: Timer) {
        self.0.retain(|(t, _)| *t != timer);
    }

    /// Removes and returns every timer due at `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut due: Vec<(Timer, Instant)> = self
            .0
            .iter()
            .copied()
            .filter(|(_, at)| *at <= now)
            .collect();
        due.sort_by_key(|(_, at)| *at);
        self.0.retain(|(_, at)| *at > now);
        due.into_iter().map(|(t, _)| t).collect()
    }

    pub fn next(&self) -> Option<Instant> {
        self.0.iter().map(|(_, at)| *at).min()
    }
}
