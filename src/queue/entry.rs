//! Waiting callers: who is in which queue, in what order.
//!
//! Every queue's callers live in one list ordered by priority (higher first),
//! then effective arrival (earliest first; time in the IVR counts), then join
//! order. Serving that list front to back is fair within a queue and, for agents
//! who serve several queues, across them. A callback keeps its caller's entry
//! where it was, so it is served before everyone who arrived later.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Identifies a caller: the shell's handle for the call, opaque to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CallerId(pub u64);

/// A caller handed to a queue (by the flow's `enqueue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The shell's handle for the call.
    pub caller: CallerId,
    /// The queue's name.
    pub queue: String,
    /// Higher is served first.
    pub priority: i32,
    /// Time already spent in the IVR; it counts toward the wait and the order.
    pub waited_before: Duration,
    /// Skills an agent needs for this caller besides the queue's (the flow's `skills`).
    pub skills: Vec<String>,
}

/// A caller waiting in a queue, as a wallboard shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCaller {
    /// The shell's handle for the call.
    pub caller: CallerId,
    /// 1 for the next to be served.
    pub position: usize,
    /// Higher is served first.
    pub priority: i32,
    /// The effective arrival: join time minus the time spent in the IVR.
    pub arrived: Instant,
    /// A callback entry keeping the place of a caller who hung up.
    pub callback: bool,
    /// An agent's phone is ringing for this caller.
    pub ringing: bool,
}

/// One caller in a queue.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) caller: CallerId,
    pub(super) queue: usize,
    pub(super) priority: i32,
    pub(super) arrived: Instant,
    pub(super) skills: Vec<String>,
    seq: u64,
    /// When the queue's max wait started counting: arrival, or the overflow into this queue.
    pub(super) budget_from: Instant,
    /// Holding the caller's place for a callback instead of the caller on hold.
    pub(super) callback: bool,
    /// Agents offered this caller in the current round.
    pub(super) tried: Vec<usize>,
    pub(super) last_failure: Option<Instant>,
    /// When a new round may start once every free agent was tried.
    pub(super) retry_at: Option<Instant>,
    pub(super) next_announce: Option<Instant>,
    /// Escalation steps reached.
    pub(super) steps: usize,
}

impl Entry {
    pub(super) fn new(join: Join, queue: usize, arrived: Instant, seq: u64) -> Entry {
        Entry {
            caller: join.caller,
            queue,
            priority: join.priority,
            arrived,
            skills: join.skills,
            seq,
            budget_from: arrived,
            callback: false,
            tried: Vec::new(),
            last_failure: None,
            retry_at: None,
            next_announce: None,
            steps: 0,
        }
    }

    /// Forgets the offers of the current round, e.g. on moving to another queue.
    pub(super) fn reset_round(&mut self) {
        self.tried.clear();
        self.last_failure = None;
        self.retry_at = None;
    }

    fn key(&self) -> (Reverse<i32>, Instant, u64) {
        (Reverse(self.priority), self.arrived, self.seq)
    }
}

/// Inserts `entry` at its place in the order and returns its index.
pub(super) fn insert(entries: &mut Vec<Entry>, entry: Entry) -> usize {
    let key = entry.key();
    let at = entries.partition_point(|e| e.key() < key);
    entries.insert(at, entry);
    at
}

/// The 1-based position of `entries[i]` within its own queue.
pub(super) fn position(entries: &[Entry], i: usize) -> usize {
    let queue = entries[i].queue;
    entries[..i].iter().filter(|e| e.queue == queue).count() + 1
}
