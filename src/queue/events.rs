//! What the core asks its shell to do ([`Action`]) and what it logs for reports ([`Event`]).
//!
//! Actions are commands: ring this phone, bridge these legs, play this
//! announcement. Events are the queue log (one JSON object a line when
//! serialized) from which reports compute service level, average speed of
//! answer, abandonment and agent activity.

use std::time::Duration;

use serde::Serialize;

use super::agent::{AgentId, AgentState};
use super::config::LimitAction;
use super::entry::CallerId;

/// Identifies one offer of a caller to an agent, so a late report is not taken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OfferId(pub u64);

/// What the shell reports about an offer it rang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferResult {
    /// The agent picked up.
    Answered,
    /// The phone rang out before the core's ring timeout (e.g. 408, 480).
    NoAnswer,
    /// The phone is busy (486, 600).
    Busy,
    /// The agent rejected the call (603).
    Declined,
    /// The phone could not be reached (transport error, 404, 5xx).
    Failed,
}

/// How an offer ended without a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOutcome {
    /// The shell reported that the phone rang out.
    NoAnswer,
    /// The core's ring timeout expired.
    RingTimeout,
    /// The phone was busy.
    Busy,
    /// The agent rejected the call.
    Declined,
    /// The phone could not be reached.
    Failed,
    /// Withdrawn: another agent answered, the caller left, or the agent logged out or paused.
    Cancelled,
}

/// A limit a caller reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The caller waited the queue's `max_wait_seconds`.
    MaxWait,
    /// `max_length` callers were on hold when the caller joined.
    QueueFull,
    /// No logged-in agent can serve the caller.
    NoAgents,
}

/// What the core asks the shell to do; poll with [`Acd::poll_action`](super::Acd::poll_action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ring `agent` for `caller` (for a callback, for calling the caller back); report
    /// [`handle_offer_result`](super::Acd::handle_offer_result).
    Offer {
        offer: OfferId,
        queue: String,
        caller: CallerId,
        agent: AgentId,
        callback: bool,
    },
    /// Stop ringing the agent; if the agent already picked up, hang up their leg.
    CancelOffer {
        offer: OfferId,
        caller: CallerId,
        agent: AgentId,
    },
    /// Bridge the caller with the agent who answered (for a callback, dial the caller from
    /// the agent's leg); report [`handle_call_ended`](super::Acd::handle_call_ended) when it ends.
    Connect {
        offer: OfferId,
        caller: CallerId,
        agent: AgentId,
        callback: bool,
    },
    /// Tell a waiting caller their position and, when known well enough, the wait still ahead.
    Announce {
        caller: CallerId,
        queue: String,
        position: usize,
        estimated_wait: Option<Duration>,
    },
    /// Register a callback ticket; the caller keeps their place as a callback entry, so the
    /// shell may confirm and hang up (a later hangup does not remove the entry).
    RegisterCallback {
        caller: CallerId,
        queue: String,
        position: usize,
        waited: Duration,
        /// The limit that led to the callback; none when the caller asked for it.
        limit: Option<Limit>,
    },
    /// The caller now waits in another queue (switch music on hold if it differs).
    Overflow {
        caller: CallerId,
        from: String,
        to: String,
    },
    /// The caller cannot be served: play a goodbye and hang up.
    Goodbye {
        caller: CallerId,
        queue: String,
        limit: Limit,
    },
}

/// One line of the queue log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Milliseconds since the core was created; the shell adds the wall time it read then.
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened; waits include the time spent in the IVR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A caller entered a queue, from the IVR or by overflow.
    CallerJoined {
        queue: String,
        caller: CallerId,
        priority: i32,
        /// Waited before this queue: in the IVR, and in the queue overflowed from.
        waited_before_ms: u64,
        position: usize,
        overflow_from: Option<String>,
    },
    /// A position announcement (and the estimate given, if any).
    Announced {
        queue: String,
        caller: CallerId,
        position: usize,
        estimated_wait_ms: Option<u64>,
    },
    /// An agent's phone was rung for a caller.
    Offered {
        queue: String,
        caller: CallerId,
        agent: AgentId,
        offer: OfferId,
        callback: bool,
    },
    /// An offer that did not connect; agent activity reports count these as missed.
    OfferEnded {
        queue: String,
        caller: CallerId,
        agent: AgentId,
        offer: OfferId,
        outcome: OfferOutcome,
    },
    /// An agent answered; the caller left the queue connected.
    Answered {
        queue: String,
        caller: CallerId,
        agent: AgentId,
        offer: OfferId,
        waited_ms: u64,
        callback: bool,
    },
    /// A bridged call ended; `talk_ms` is its handle time without wrap-up.
    CallEnded {
        queue: String,
        caller: CallerId,
        agent: AgentId,
        talk_ms: u64,
    },
    /// The caller hung up while on hold.
    Abandoned {
        queue: String,
        caller: CallerId,
        position: usize,
        waited_ms: u64,
    },
    /// A caller's place became a callback entry (asked for, or a limit's action).
    CallbackRequested {
        queue: String,
        caller: CallerId,
        position: usize,
        waited_ms: u64,
    },
    /// A callback entry was withdrawn before it was served.
    CallbackCancelled {
        queue: String,
        caller: CallerId,
        waited_ms: u64,
    },
    /// A limit was reached and `action` applied (after an overflow loop, `goodbye`).
    LimitReached {
        queue: String,
        caller: CallerId,
        limit: Limit,
        action: LimitAction,
        waited_ms: u64,
    },
    /// An agent's state changed.
    AgentStateChanged { agent: AgentId, state: AgentState },
    /// An agent's phone registered or unregistered.
    AgentRegistration { agent: AgentId, registered: bool },
}

/// Whole milliseconds, saturating, for the log.
pub(super) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
