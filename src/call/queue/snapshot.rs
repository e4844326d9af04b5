//! The queue as `GET /queue` shows it: agents with their states, and the
//! callers waiting in each queue, with the figures a wallboard shows.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};

use super::WaitingCall;
use crate::queue::{Acd, AgentState, CallerId};

/// Agents and the callers waiting in each queue.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueSnapshot {
    pub agents: Vec<AgentView>,
    pub queues: Vec<QueueView>,
}

/// One agent.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentView {
    pub id: String,
    pub state: AgentState,
    /// Whether a phone of theirs is registered.
    pub registered: bool,
    /// Calls answered since start.
    pub calls_taken: u32,
    /// Since when the agent is in this state (RFC 3339); the server's start
    /// for a state unchanged since.
    #[schema(format = DateTime)]
    pub since: String,
    /// The caller whose call rings for or is with the agent.
    pub call: Option<AgentCall>,
    /// Milliseconds of wrap-up left, while the agent is in wrap-up.
    pub wrap_up_left_ms: Option<u64>,
}

/// The caller an agent is ringing for or talking to.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentCall {
    /// The caller's number (masked below supervisor).
    pub caller: String,
    /// The customer's name, when identified (initials below supervisor).
    pub name: Option<String>,
}

/// What the snapshot shows of an agent beyond the queue core's state.
#[derive(Debug, Default)]
pub struct AgentSeen {
    /// When the agent's state last changed.
    pub since: DateTime<Utc>,
    /// The number and name of the caller ringing for or with the agent.
    pub caller: Option<(String, Option<String>)>,
}

/// One queue and who waits in it, next served first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueView {
    pub name: String,
    /// Callers waiting, not counting callbacks keeping a place.
    pub on_hold: usize,
    /// The longest wait of a caller on hold; none while nobody is.
    pub longest_wait_ms: Option<u64>,
    /// Agents of this queue free to take a call now.
    pub agents_available: usize,
    pub waiting: Vec<WaitingView>,
}

/// One caller waiting.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The same snapshot `age_ms` later, as a node that reads it from the
    /// database shows it: waits longer, wrap-ups shorter.
    pub fn age_by(&mut self, age_ms: u64) {
        for agent in &mut self.agents {
            if let Some(left) = &mut agent.wrap_up_left_ms {
                *left = left.saturating_sub(age_ms);
            }
        }
        for queue in &mut self.queues {
            if let Some(longest) = &mut queue.longest_wait_ms {
                *longest += age_ms;
            }
            for caller in &mut queue.waiting {
                caller.waited_ms += age_ms;
            }
        }
    }

    /// The queue core's agents and queues at `now`, with the waiting calls
    /// `call` finds for the core's callers and what was `seen` of each agent
    /// since the server started at `started`.
    pub fn of<'a>(
        acd: &Acd,
        call: impl Fn(&CallerId) -> Option<&'a WaitingCall>,
        seen: &HashMap<String, AgentSeen>,
        started: DateTime<Utc>,
        now: Instant,
    ) -> QueueSnapshot {
        let agents = acd
            .agents()
            .map(|a| {
                let seen = seen.get(&a.id().0);
                let since = seen.map_or(started, |s| s.since.max(started));
                AgentView {
                    id: a.id().0.clone(),
                    state: a.state().clone(),
                    registered: a.registered(),
                    calls_taken: a.calls_taken(),
                    since: since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    call: seen
                        .and_then(|s| s.caller.clone())
                        .map(|(caller, name)| AgentCall { caller, name }),
                    wrap_up_left_ms: a
                        .wrap_up_until()
                        .map(|t| t.saturating_duration_since(now).as_millis() as u64),
                }
            })
            .collect();
        let queues = acd
            .queue_names()
            .map(|name| {
                let waiting: Vec<WaitingView> = acd
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
                    .collect();
                let on_hold = || waiting.iter().filter(|w| !w.callback);
                QueueView {
                    name: name.to_owned(),
                    on_hold: on_hold().count(),
                    longest_wait_ms: on_hold().map(|w| w.waited_ms).max(),
                    agents_available: acd.available_agents(name),
                    waiting,
                }
            })
            .collect();
        QueueSnapshot { agents, queues }
    }
}
