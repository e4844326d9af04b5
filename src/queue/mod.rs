//! The agent queue's brain: automatic call distribution (ACD) as a sans-IO core.
//!
//! [`Acd`] holds the queues, the agents and the callers waiting, and decides
//! who is offered to whom. It does no I/O and never reads a clock: every input
//! carries `now`, and it needs no randomness. The shell that rings phones, plays
//! music on hold and bridges audio drives it like this:
//!
//! 1. Feed inputs: [`Acd::handle_join`] when a flow enqueues a caller,
//!    [`Acd::handle_hangup`] and [`Acd::handle_callback_request`] for the caller,
//!    [`Acd::handle_agent`] for logins, pauses and registrations,
//!    [`Acd::handle_offer_result`] when an offered phone answers or not, and
//!    [`Acd::handle_call_ended`] when a bridged call ends.
//! 2. After every input, drain [`Acd::poll_action`] (do each [`Action`]) and
//!    [`Acd::poll_event`] (append each [`Event`] to the queue log) until empty.
//! 3. Sleep until [`Acd::poll_timeout`] (or the next input), then call
//!    [`Acd::handle_timeout`] and drain again.
//!
//! Reports on an offer that already ended (a late "answered" after the core's
//! ring timeout, or from the loser of a ring-all race) return
//! [`AcdError::UnknownOffer`]; the [`Action::CancelOffer`] sent for it already
//! told the shell to hang that leg up.
//!
//! # Configuration
//!
//! ```toml
//! wrap_up_seconds = 10                  # for queues that set none
//!
//! [[agents]]
//! id = "anna"
//! skills = { support = 1, billing = 2 }  # lower level is offered first
//!
//! [[queues]]
//! name = "support"
//! strategy = "skill_level"              # longest_idle | round_robin | fewest_calls | ring_all
//! skills = ["support"]
//! ring_timeout_seconds = 15
//! escalation = [{ after_seconds = 0, max_level = 1 }, { after_seconds = 30, max_level = 2 }]
//! announce_every_seconds = 45
//! max_wait_seconds = 600
//! max_length = 20
//! on_max_wait = "callback"              # callback | goodbye | { queue = "name" }
//! on_full = { queue = "general" }
//! on_no_agents = "goodbye"
//! ```
//!
//! # Rules in brief
//!
//! - Callers are served by priority (higher first), then effective arrival
//!   (join time minus `waited_before`, the IVR time), across all queues.
//! - Escalation and max wait count from the effective arrival too; after an
//!   overflow, the new queue's max wait counts from the move.
//! - A callback turns the caller's entry into a callback entry at the same
//!   place: not announced, no max wait, and offered with `callback: true` in turn.
//! - An agent who lets an offer ring out is paused with reason [`NO_ANSWER`];
//!   a declined or busy offer moves on to agents not yet tried for that caller.
//! - The estimated wait is `None` unless recent answers make it reasonably sure:
//!   at least [`MIN_SAMPLES`] backlogged answer intervals in the last [`WINDOW`],
//!   no stall, and a standard error within [`MAX_RELATIVE_ERROR`] of the
//!   estimate or [`SLACK`].

mod agent;
mod config;
mod dispatch;
mod entry;
mod estimate;
mod events;
pub mod fork;
mod kept_places;
mod limits;
mod strategy;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

pub use agent::{Agent, AgentId, AgentInput, AgentState, NO_ANSWER};
pub use config::{
    AcdConfig, AgentConfig, ConfigError, EscalationStep, LimitAction, QueueConfig, ServiceLevel,
};
pub use entry::{CallerId, Join, WaitingCaller};
pub use estimate::{MAX_RELATIVE_ERROR, MAX_SAMPLES, MIN_SAMPLES, SLACK, STALL_FACTOR, WINDOW};
pub use events::{Action, Event, EventKind, Limit, OfferId, OfferOutcome, OfferResult};
pub use kept_places::KeptPlaces;
pub use strategy::Strategy;

use config::QueueSpec;
use dispatch::Offer;
use entry::Entry;
use estimate::WaitEstimator;

/// The ACD: queues, agents and waiting callers, driven by `handle_*` and `poll_*`.
#[derive(Debug)]
pub struct Acd {
    epoch: Instant,
    queues: Vec<Queue>,
    queue_index: HashMap<String, usize>,
    agents: Vec<Agent>,
    agent_index: HashMap<AgentId, usize>,
    /// Every queue's callers, in service order (see `entry`).
    entries: Vec<Entry>,
    offers: Vec<Offer>,
    next_offer: u64,
    next_seq: u64,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

/// A mistake in an input: a name or id the core does not know, or a change that makes no sense now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// A join named a queue not in the configuration.
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    /// An input named an agent never added.
    #[error("unknown agent `{0}`")]
    UnknownAgent(AgentId),
    /// An agent was added twice.
    #[error("agent `{0}` already exists")]
    DuplicateAgent(AgentId),
    /// A pause for an agent who is not logged in.
    #[error("agent `{0}` is logged out")]
    NotLoggedIn(AgentId),
    /// A call end for an agent who has no call.
    #[error("agent `{0}` is not on a call")]
    NotOnCall(AgentId),
    /// An input for a caller who is not in any queue (or not as the input needs).
    #[error("caller {0:?} is not waiting")]
    NotWaiting(CallerId),
    /// A join for a caller already in a queue.
    #[error("caller {0:?} is already waiting")]
    AlreadyWaiting(CallerId),
    /// A second callback request for the same caller.
    #[error("caller {0:?} already holds a callback")]
    AlreadyCallback(CallerId),
    /// A report on an offer that was cancelled or already settled.
    #[error("offer {0:?} already ended")]
    UnknownOffer(OfferId),
}

/// A queue: its spec and what it remembers between offers.
#[derive(Debug)]
struct Queue {
    spec: QueueSpec,
    /// Round robin: the agent index after the one offered last.
    rr_next: usize,
    estimator: WaitEstimator,
}

impl Acd {
    /// Builds the core from checked configuration; `now` is the origin of event times.
    pub fn new(config: AcdConfig, now: Instant) -> Result<Acd, ConfigError> {
        let specs = config::compile(&config)?;
        let mut acd = Acd {
            epoch: now,
            queue_index: specs
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), i))
                .collect(),
            queues: specs
                .into_iter()
                .map(|spec| Queue {
                    spec,
                    rr_next: 0,
                    estimator: WaitEstimator::default(),
                })
                .collect(),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            entries: Vec::new(),
            offers: Vec::new(),
            next_offer: 1,
            next_seq: 0,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        };
        for agent in config.agents {
            acd.add_agent(agent).expect("compile checked agent ids");
        }
        Ok(acd)
    }

    /// Adds an agent, logged out; order of adding breaks ties between agents.
    pub fn add_agent(&mut self, agent: AgentConfig) -> Result<(), AcdError> {
        let id = AgentId(agent.id.clone());
        if self.agent_index.contains_key(&id) {
            return Err(AcdError::DuplicateAgent(id));
        }
        self.agent_index.insert(id, self.agents.len());
        self.agents.push(Agent::new(agent));
        Ok(())
    }

    /// A caller enters a queue (or, through its limits, gets its action).
    pub fn handle_join(&mut self, now: Instant, join: Join) -> Result<(), AcdError> {
        let q = *self
            .queue_index
            .get(&join.queue)
            .ok_or_else(|| AcdError::UnknownQueue(join.queue.clone()))?;
        if self.entries.iter().any(|e| e.caller == join.caller) {
            return Err(AcdError::AlreadyWaiting(join.caller));
        }
        let arrived = now.checked_sub(join.waited_before).unwrap_or(now);
        let entry = Entry::new(join, q, arrived, self.next_seq);
        self.next_seq += 1;
        self.place(now, entry, None, &mut Vec::new());
        self.settle(now);
        Ok(())
    }

    /// The caller on hold hung up (abandoned); any offer for them is cancelled.
    ///
    /// A callback entry is not removed by this: its call ended on purpose. Use
    /// [`Acd::handle_callback_cancelled`] for that.
    pub fn handle_hangup(&mut self, now: Instant, caller: CallerId) -> Result<(), AcdError> {
        let i = self.waiting_index(caller)?;
        if self.entries[i].callback {
            return Ok(());
        }
        let position = entry::position(&self.entries, i);
        self.cancel_caller_offers(now, caller);
        let entry = self.entries.remove(i);
        self.event(
            now,
            EventKind::Abandoned {
                queue: self.queues[entry.queue].spec.name.clone(),
                caller,
                position,
                waited_ms: events::ms(now.saturating_duration_since(entry.arrived)),
            },
        );
        self.settle(now);
        Ok(())
    }

    /// The caller asked to be called back: they keep their place as a callback entry.
    pub fn handle_callback_request(
        &mut self,
        now: Instant,
        caller: CallerId,
    ) -> Result<(), AcdError> {
        let i = self.waiting_index(caller)?;
        if self.entries[i].callback {
            return Err(AcdError::AlreadyCallback(caller));
        }
        self.cancel_caller_offers(now, caller);
        let entry = self.entries.remove(i);
        self.hold_for_callback(now, entry, None);
        self.settle(now);
        Ok(())
    }

    /// A callback is no longer wanted (the ticket closed, the caller phoned again).
    pub fn handle_callback_cancelled(
        &mut self,
        now: Instant,
        caller: CallerId,
    ) -> Result<(), AcdError> {
        let i = self.waiting_index(caller)?;
        if !self.entries[i].callback {
            return Err(AcdError::NotWaiting(caller));
        }
        self.cancel_caller_offers(now, caller);
        let entry = self.entries.remove(i);
        self.event(
            now,
            EventKind::CallbackCancelled {
                queue: self.queues[entry.queue].spec.name.clone(),
                caller,
                waited_ms: events::ms(now.saturating_duration_since(entry.arrived)),
            },
        );
        self.settle(now);
        Ok(())
    }

    /// An outside change to an agent: login, logout, pause, unpause, registration.
    pub fn handle_agent(
        &mut self,
        now: Instant,
        agent: &AgentId,
        input: AgentInput,
    ) -> Result<(), AcdError> {
        let a = self.agent_index(agent)?;
        self.agent_input(now, a, input)?;
        self.settle(now);
        Ok(())
    }

    /// What became of an offer the shell rang.
    pub fn handle_offer_result(
        &mut self,
        now: Instant,
        offer: OfferId,
        result: OfferResult,
    ) -> Result<(), AcdError> {
        self.offer_result(now, offer, result)?;
        self.settle(now);
        Ok(())
    }

    /// The bridged call of `agent` ended: wrap-up, then available.
    pub fn handle_call_ended(&mut self, now: Instant, agent: &AgentId) -> Result<(), AcdError> {
        let a = self.agent_index(agent)?;
        self.agent_call_ended(now, a)?;
        self.settle(now);
        Ok(())
    }

    /// Acts on every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        self.settle(now);
    }

    /// When to call [`Acd::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    /// The next thing for the shell to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next line of the queue log.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// An agent, by id.
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.agent_index.get(id).map(|&a| &self.agents[a])
    }

    /// Every agent, in the order they were added.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.iter()
    }

    /// The queues' names, as configured.
    pub fn queue_names(&self) -> impl Iterator<Item = &str> {
        self.queues.iter().map(|q| q.spec.name.as_str())
    }

    /// Agents free to take a call from `queue` now: available, registered
    /// and with the queue's skills.
    pub fn available_agents(&self, queue: &str) -> usize {
        let Some(&q) = self.queue_index.get(queue) else {
            return 0;
        };
        let spec = &self.queues[q].spec;
        self.agents
            .iter()
            .filter(|a| a.state == AgentState::Available && a.registered && a.serves(spec, &[]))
            .count()
    }

    /// The callers waiting in `queue`, next to be served first; none for an unknown queue.
    pub fn waiting(&self, queue: &str) -> Vec<WaitingCaller> {
        let Some(&q) = self.queue_index.get(queue) else {
            return Vec::new();
        };
        self.entries
            .iter()
            .filter(|e| e.queue == q)
            .enumerate()
            .map(|(i, e)| WaitingCaller {
                caller: e.caller,
                position: i + 1,
                priority: e.priority,
                arrived: e.arrived,
                callback: e.callback,
                ringing: self.offers.iter().any(|o| o.caller == e.caller),
            })
            .collect()
    }

    /// The work every input ends with: offer what can be offered, announce what is due.
    fn settle(&mut self, now: Instant) {
        self.dispatch(now);
        self.announce_due(now);
        for (q, queue) in self.queues.iter_mut().enumerate() {
            if !self.entries.iter().any(|e| e.queue == q) {
                queue.estimator.queue_emptied();
            }
        }
    }

    fn event(&mut self, now: Instant, kind: EventKind) {
        let at_ms = events::ms(now.saturating_duration_since(self.epoch));
        self.events.push_back(Event { at_ms, kind });
    }

    fn waiting_index(&self, caller: CallerId) -> Result<usize, AcdError> {
        self.entries
            .iter()
            .position(|e| e.caller == caller)
            .ok_or(AcdError::NotWaiting(caller))
    }

    fn agent_index(&self, agent: &AgentId) -> Result<usize, AcdError> {
        self.agent_index
            .get(agent)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(agent.clone()))
    }
}

#[cfg(test)]
mod tests;
