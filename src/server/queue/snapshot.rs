//! The queue as `GET /queue` shows it: agents with their states, and the
//! callers waiting in each queue.

use std::time::Instant;

use serde::Serialize;

use super::WaitingCall;
use crate::queue::{Acd, AgentState, CallerId};

/// Agents and the callers waiting in each queue.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct QueueSnapshot {
    pub agents: Vec<AgentView>,
    pub queues: Vec<QueueView>,
}

/// One agent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentView {
    pub id: String,
    pub state: AgentState,
    /// Whether a phone of theirs is registered.
    pub registered: bool,
    /// Calls answered since start.
    pub calls_taken: u32,
}

/// One queue and who waits in it, next served first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueView {
    pub name: String,
    pub waiting: Vec<WaitingView>,
}

/// One caller waiting.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitingView {
    /// 1 for the next to be served.
    pub position: usize,
    /// The caller's number (masked below supervisor).
    pub number: Option<String>,
    /// The customer's name, when identified (initials below supervisor).
    pub name: Option<String>,
    pub waited_ms: u64,
    /// Higher is served first.
    pub priority: i32,
    /// A callback keeping the place of a caller who hung up.
    pub callback: bool,
    /// An agent's phone is ringing for this caller.
    pub ringing: bool,
}

impl QueueSnapshot {
    /// The queue core's agents and queues at `now`, with the waiting calls
    /// `call` finds for the core's callers.
    pub fn of<'a>(
        acd: &Acd,
        call: impl Fn(&CallerId) -> Option<&'a WaitingCall>,
        now: Instant,
    ) -> QueueSnapshot {
        let agents = acd
            .agents()
            .map(|a| AgentView {
                id: a.id().0.clone(),
                state: a.state().clone(),
                registered: a.registered(),
                calls_taken: a.calls_taken(),
            })
            .collect();
        let queues = acd
            .queue_names()
            .map(|name| QueueView {
                name: name.to_owned(),
                waiting: acd
                    .waiting(name)
                    .into_iter()
                    .map(|w| {
                        let call = call(&w.caller);
                        WaitingView {
                            position: w.position,
                            number: call.map(|c| c.number.clone()),
                            name: call.and_then(|c| c.name.clone()),
                            waited_ms: now.saturating_duration_since(w.arrived).as_millis() as u64,
                            priority: w.priority,
                            callback: w.callback,
                            ringing: w.ringing,
                        }
                    })
                    .collect(),
            })
            .collect();
        QueueSnapshot { agents, queues }
    }
}
