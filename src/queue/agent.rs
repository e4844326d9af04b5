//! Agents: their states, and how login, pause and registration change them.
//!
//! A state change asked for while the agent is on a call waits for the call to
//! end (a pause or a logout never cuts a caller off); one asked for while the
//! agent's phone rings cancels the offer, and the caller moves on.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use serde::Serialize;

use super::config::{AgentConfig, QueueSpec};
use super::entry::CallerId;
use super::events::{EventKind, OfferOutcome};
use super::{Acd, AcdError};

/// The reason given to an agent paused for letting an offer ring out.
pub const NO_ANSWER: &str = "no answer";

/// Identifies an agent, as the shell names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AgentId(pub String);

/// Where an agent is in their working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Not working; offered nothing.
    LoggedOut,
    /// Free to take a call.
    Available,
    /// Their phone rings with an offer.
    Ringing,
    /// Talking to a caller.
    OnCall,
    /// After-call work; available again when the queue's wrap-up time is over.
    WrapUp,
    /// Logged in but taking no calls.
    Paused { reason: String },
}

/// A change to an agent asked for from outside the core (the agent, a supervisor, the SIP registrar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentInput {
    /// Start taking calls.
    Login,
    /// Stop taking calls; on a call, when it ends.
    Logout,
    /// Take no calls for a while; on a call, from when it ends.
    Pause { reason: String },
    /// Take calls again; also ends wrap-up early ("ready").
    Unpause,
    /// The agent's phone registered (true) or its registration ended (false).
    Registered(bool),
}

/// An agent as the core tracks them; read through [`Acd::agent`].
#[derive(Debug, Clone)]
pub struct Agent {
    pub(super) id: AgentId,
    pub(super) skills: BTreeMap<String, u8>,
    pub(super) state: AgentState,
    pub(super) registered: bool,
    pub(super) logged_in_at: Option<Instant>,
    pub(super) last_call_ended: Option<Instant>,
    pub(super) calls_taken: u32,
    pub(super) wrap_up_until: Option<Instant>,
    pub(super) after_call: AfterCall,
    pub(super) call: Option<ActiveCall>,
}

/// Where an agent goes when their current call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AfterCall {
    WrapUp,
    Paused(String),
    LoggedOut,
}

/// The call an agent is on.
#[derive(Debug, Clone, Copy)]
pub(super) struct ActiveCall {
    pub(super) queue: usize,
    pub(super) caller: CallerId,
    pub(super) since: Instant,
}

impl Agent {
    /// The agent's id.
    pub fn id(&self) -> &AgentId {
        &self.id
    }

    /// The agent's current state.
    pub fn state(&self) -> &AgentState {
        &self.state
    }

    /// Skill name → level.
    pub fn skills(&self) -> &BTreeMap<String, u8> {
        &self.skills
    }

    /// Whether the agent's phone is registered; unregistered agents are offered nothing.
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// Calls answered since the core started.
    pub fn calls_taken(&self) -> u32 {
        self.calls_taken
    }

    /// When the agent's wrap-up ends, while they are in wrap-up.
    pub fn wrap_up_until(&self) -> Option<Instant> {
        self.wrap_up_until
    }

    /// When the agent's last call ended.
    pub fn last_call_ended(&self) -> Option<Instant> {
        self.last_call_ended
    }

    pub(super) fn new(config: AgentConfig) -> Agent {
        Agent {
            id: AgentId(config.id),
            skills: config.skills,
            state: AgentState::LoggedOut,
            // A shell that does not track registrations never has to say so.
            registered: true,
            logged_in_at: None,
            last_call_ended: None,
            calls_taken: 0,
            wrap_up_until: None,
            after_call: AfterCall::WrapUp,
            call: None,
        }
    }

    /// Whether the agent has every skill the queue and the caller need.
    pub(super) fn serves(&self, spec: &QueueSpec, caller_skills: &[String]) -> bool {
        needed(spec, caller_skills).all(|s| self.skills.contains_key(s))
    }

    /// The agent's level for a caller: their highest level among the skills needed (1 for none).
    pub(super) fn level(&self, spec: &QueueSpec, caller_skills: &[String]) -> u8 {
        needed(spec, caller_skills)
            .filter_map(|s| self.skills.get(s).copied())
            .max()
            .unwrap_or(1)
    }

    /// Since when the agent has been idle, for longest-idle ordering.
    pub(super) fn idle_since(&self) -> Option<Instant> {
        self.last_call_ended.max(self.logged_in_at)
    }

    /// Whether an offer may go to the agent now.
    pub(super) fn offerable(&self) -> bool {
        self.state == AgentState::Available && self.registered
    }

    pub(super) fn logged_in(&self) -> bool {
        self.state != AgentState::LoggedOut
    }
}

/// The skills a caller in a queue needs: the queue's and their own.
fn needed<'a>(
    spec: &'a QueueSpec,
    caller_skills: &'a [String],
) -> impl Iterator<Item = &'a String> {
    spec.skills.iter().chain(caller_skills)
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AgentId {
    fn from(id: &str) -> AgentId {
        AgentId(id.to_owned())
    }
}

impl Acd {
    /// Applies an outside change to agent `a`.
    pub(super) fn agent_input(
        &mut self,
        now: Instant,
        a: usize,
        input: AgentInput,
    ) -> Result<(), AcdError> {
        let state = self.agents[a].state.clone();
        match input {
            AgentInput::Login => {
                if state == AgentState::LoggedOut {
                    self.agents[a].logged_in_at = Some(now);
                    self.set_agent_state(now, a, AgentState::Available);
                }
            }
            AgentInput::Logout => match state {
                AgentState::LoggedOut => {}
                AgentState::OnCall => self.agents[a].after_call = AfterCall::LoggedOut,
                _ => {
                    self.cancel_agent_offer(now, a);
                    self.agents[a].wrap_up_until = None;
                    self.set_agent_state(now, a, AgentState::LoggedOut);
                    self.after_logout(now);
                }
            },
            AgentInput::Pause { reason } => match state {
                AgentState::LoggedOut => {
                    return Err(AcdError::NotLoggedIn(self.agents[a].id.clone()));
                }
                AgentState::OnCall => self.agents[a].after_call = AfterCall::Paused(reason),
                _ => {
                    self.cancel_agent_offer(now, a);
                    self.agents[a].wrap_up_until = None;
                    self.set_agent_state(now, a, AgentState::Paused { reason });
                }
            },
            AgentInput::Unpause => match state {
                AgentState::Paused { .. } | AgentState::WrapUp => {
                    self.agents[a].wrap_up_until = None;
                    self.set_agent_state(now, a, AgentState::Available);
                }
                AgentState::OnCall => {
                    if matches!(self.agents[a].after_call, AfterCall::Paused(_)) {
                        self.agents[a].after_call = AfterCall::WrapUp;
                    }
                }
                _ => {}
            },
            AgentInput::Registered(registered) => {
                if self.agents[a].registered != registered {
                    self.agents[a].registered = registered;
                    self.event(
                        now,
                        EventKind::AgentRegistration {
                            agent: self.agents[a].id.clone(),
                            registered,
                        },
                    );
                }
                if !registered && state == AgentState::Ringing {
                    self.cancel_agent_offer(now, a);
                    self.set_agent_state(now, a, AgentState::Available);
                }
            }
        }
        Ok(())
    }

    /// The agent's call ended: wrap-up (or straight to what they asked for meanwhile).
    pub(super) fn agent_call_ended(&mut self, now: Instant, a: usize) -> Result<(), AcdError> {
        let call = self.agents[a]
            .call
            .take()
            .ok_or_else(|| AcdError::NotOnCall(self.agents[a].id.clone()))?;
        self.agents[a].last_call_ended = Some(now);
        self.event(
            now,
            EventKind::CallEnded {
                queue: self.queues[call.queue].spec.name.clone(),
                caller: call.caller,
                agent: self.agents[a].id.clone(),
                talk_ms: super::events::ms(now.saturating_duration_since(call.since)),
            },
        );
        let wrap_up = self.queues[call.queue].spec.wrap_up;
        match std::mem::replace(&mut self.agents[a].after_call, AfterCall::WrapUp) {
            AfterCall::LoggedOut => {
                self.set_agent_state(now, a, AgentState::LoggedOut);
                self.after_logout(now);
            }
            AfterCall::Paused(reason) => {
                self.set_agent_state(now, a, AgentState::Paused { reason })
            }
            AfterCall::WrapUp if wrap_up.is_zero() => {
                self.set_agent_state(now, a, AgentState::Available)
            }
            AfterCall::WrapUp => {
                self.agents[a].wrap_up_until = Some(now + wrap_up);
                self.set_agent_state(now, a, AgentState::WrapUp);
            }
        }
        Ok(())
    }

    /// Ends wrap-ups that are over.
    pub(super) fn end_wrap_ups(&mut self, now: Instant) {
        for a in 0..self.agents.len() {
            if self.agents[a].wrap_up_until.is_some_and(|t| t <= now) {
                self.agents[a].wrap_up_until = None;
                self.set_agent_state(now, a, AgentState::Available);
            }
        }
    }

    /// Changes agent `a`'s state and logs it, if it changed.
    pub(super) fn set_agent_state(&mut self, now: Instant, a: usize, state: AgentState) {
        if self.agents[a].state == state {
            return;
        }
        tracing::debug!(agent = %self.agents[a].id, ?state, "agent state");
        self.agents[a].state = state.clone();
        self.event(
            now,
            EventKind::AgentStateChanged {
                agent: self.agents[a].id.clone(),
                state,
            },
        );
    }

    /// Cancels the offer ringing agent `a`, if any; the caller counts the agent as tried.
    fn cancel_agent_offer(&mut self, now: Instant, a: usize) {
        if let Some(pos) = self.offers.iter().position(|o| o.agent == a) {
            self.end_offer(now, pos, OfferOutcome::Cancelled, true);
        }
    }
}
