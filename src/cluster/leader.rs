//! Who runs the ACD: the election as a value the shell drives.
//!
//! The shell holds a PostgreSQL advisory lock on a dedicated connection and
//! reports what the database said; this core decides when to try for the
//! lock, when to check the connection, and when to stop acting as the ACD.
//! A leader steps down at once when its lock connection fails, and also
//! when no check has succeeded for `lease`: a connection that hangs (a
//! partition) is as good as lost, since the database releases the lock when
//! its own keepalives give up on us.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How often the election acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often a leader checks its lock connection.
    pub check_every: Duration,
    /// How long a leader acts without a successful check.
    pub lease: Duration,
    /// How often a follower tries for the lock.
    pub retry_every: Duration,
}

/// This node's part in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Another node (or none) runs the ACD.
    Follower,
    /// This node runs the ACD; its writes carry `epoch`.
    Leader { epoch: i64 },
}

/// What the shell is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Try for the lock (connecting first if needed); answer with
    /// [`Election::handle_lock_taken`], [`Election::handle_lock_busy`] or
    /// [`Election::handle_connection_lost`].
    TryLock,
    /// Run a cheap query on the lock connection; answer with
    /// [`Election::handle_check_ok`] or [`Election::handle_connection_lost`].
    Check,
    /// Start the ACD: this node leads from now on, writing with `epoch`.
    TakeOver { epoch: i64 },
    /// Stop the ACD at once, and drop the lock connection so the lock is
    /// released if the database still holds it.
    StepDown { epoch: i64 },
}

/// The election's state.
#[derive(Debug)]
pub struct Election {
    timing: Timing,
    role: Role,
    /// When the leader's connection last answered a check.
    last_ok: Option<Instant>,
    /// When the next `TryLock` or `Check` is due.
    next: Instant,
    /// Whether a `TryLock` or `Check` is out, awaiting its answer.
    waiting: bool,
    actions: VecDeque<Action>,
}

impl Election {
    /// A follower that tries for the lock at once.
    pub fn new(timing: Timing, now: Instant) -> Election {
        Election {
            timing,
            role: Role::Follower,
            last_ok: None,
            next: now,
            waiting: false,
            actions: VecDeque::new(),
        }
    }

    /// This node's part now.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The lock was taken and the epoch bumped to `epoch`.
    pub fn handle_lock_taken(&mut self, now: Instant, epoch: i64) {
        self.waiting = false;
        self.role = Role::Leader { epoch };
        self.last_ok = Some(now);
        self.next = now + self.timing.check_every;
        self.actions.push_back(Action::TakeOver { epoch });
    }

    /// Another node holds the lock.
    pub fn handle_lock_busy(&mut self, now: Instant) {
        self.waiting = false;
        self.next = now + self.timing.retry_every;
    }

    /// The lock connection answered a check.
    pub fn handle_check_ok(&mut self, now: Instant) {
        self.waiting = false;
        if matches!(self.role, Role::Leader { .. }) {
            self.last_ok = Some(now);
        }
        self.next = now + self.timing.check_every;
    }

    /// The lock connection failed (error, timeout, closed): a leader steps down at once.
    pub fn handle_connection_lost(&mut self, now: Instant) {
        self.waiting = false;
        self.step_down();
        self.next = now + self.timing.retry_every;
    }

    /// Time passed: a check or a try may be due, or the lease may have run out.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let (Role::Leader { .. }, Some(last_ok)) = (self.role, self.last_ok)
            && now.saturating_duration_since(last_ok) >= self.timing.lease
        {
            // The check is hanging: as good as a lost connection.
            self.waiting = false;
            self.step_down();
            self.next = now;
        }
        if self.waiting || now < self.next {
            return;
        }
        self.waiting = true;
        self.actions.push_back(match self.role {
            Role::Follower => Action::TryLock,
            Role::Leader { .. } => Action::Check,
        });
    }

    /// When [`Election::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Instant {
        let due = if self.waiting { None } else { Some(self.next) };
        let lease_end = match self.role {
            Role::Leader { .. } => self.last_ok.map(|ok| ok + self.timing.lease),
            Role::Follower => None,
        };
        match (due, lease_end) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            // A try is out and nothing else can happen until it is answered.
            (None, None) => self.next + self.timing.lease,
        }
    }

    /// The next thing the shell must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn step_down(&mut self) {
        if let Role::Leader { epoch } = self.role {
            self.role = Role::Follower;
            self.last_ok = None;
            self.actions.push_back(Action::StepDown { epoch });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        check_every: Duration::from_secs(1),
        lease: Duration::from_secs(3),
        retry_every: Duration::from_secs(1),
    };

    fn drain(election: &mut Election) -> Vec<Action> {
        std::iter::from_fn(|| election.poll_action()).collect()
    }

    #[test]
    fn a_follower_tries_for_the_lock_and_again_while_it_is_busy() {
        let start = Instant::now();
        let mut election = Election::new(TIMING, start);
        election.handle_timeout(start);
        assert_eq!(drain(&mut election), [Action::TryLock]);
        // No second try while the first is out.
        election.handle_timeout(start + Duration::from_secs(5));
        assert!(drain(&mut election).is_empty());
        let later = start + Duration::from_millis(10);
        election.handle_lock_busy(later);
        assert_eq!(election.poll_timeout(), later + TIMING.retry_every);
        election.handle_timeout(later + TIMING.retry_every);
        assert_eq!(drain(&mut election), [Action::TryLock]);
        assert_eq!(election.role(), Role::Follower);
    }

    #[test]
    fn taking_the_lock_starts_the_acd_with_its_epoch_and_checks_the_connection() {
        let start = Instant::now();
        let mut election = Election::new(TIMING, start);
        election.handle_timeout(start);
        drain(&mut election);
        election.handle_lock_taken(start, 7);
        assert_eq!(drain(&mut election), [Action::TakeOver { epoch: 7 }]);
        assert_eq!(election.role(), Role::Leader { epoch: 7 });
        let check = start + TIMING.check_every;
        assert_eq!(election.poll_timeout(), check);
        election.handle_timeout(check);
        assert_eq!(drain(&mut election), [Action::Check]);
        election.handle_check_ok(check);
        assert_eq!(election.role(), Role::Leader { epoch: 7 });
    }

    #[test]
    fn a_lost_lock_connection_steps_down_at_once() {
        let start = Instant::now();
        let mut election = Election::new(TIMING, start);
        election.handle_timeout(start);
        election.handle_lock_taken(start, 3);
        drain(&mut election);
        election.handle_timeout(start + TIMING.check_every);
        drain(&mut election);
        election.handle_connection_lost(start + TIMING.check_every);
        assert_eq!(drain(&mut election), [Action::StepDown { epoch: 3 }]);
        assert_eq!(election.role(), Role::Follower);
        // It tries again later, like any follower.
        let retry = start + TIMING.check_every + TIMING.retry_every;
        election.handle_timeout(retry);
        assert_eq!(drain(&mut election), [Action::TryLock]);
    }

    #[test]
    fn a_check_that_hangs_past_the_lease_steps_down() {
        let start = Instant::now();
        let mut election = Election::new(TIMING, start);
        election.handle_timeout(start);
        election.handle_lock_taken(start, 1);
        drain(&mut election);
        election.handle_timeout(start + TIMING.check_every);
        assert_eq!(drain(&mut election), [Action::Check]);
        // The check never answers: the lease ends the term.
        assert_eq!(election.poll_timeout(), start + TIMING.lease);
        election.handle_timeout(start + TIMING.lease);
        assert_eq!(
            drain(&mut election),
            [Action::StepDown { epoch: 1 }, Action::TryLock]
        );
        // The late answer of the old check changes nothing.
        election.handle_check_ok(start + TIMING.lease + Duration::from_millis(1));
        assert_eq!(election.role(), Role::Follower);
    }

    #[test]
    fn a_lost_connection_of_a_follower_is_no_step_down() {
        let start = Instant::now();
        let mut election = Election::new(TIMING, start);
        election.handle_timeout(start);
        drain(&mut election);
        election.handle_connection_lost(start);
        assert!(drain(&mut election).is_empty());
    }
}
