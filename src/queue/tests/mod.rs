//! ACD behaviour on a virtual clock: a base `Instant` plus seconds.

mod agents;
mod callers;
mod config;
mod limits;
mod simulation;
mod strategies;

use std::time::{Duration, Instant};

use super::*;

/// A core on a virtual clock, with the queue log kept for inspection.
struct Rig {
    acd: Acd,
    base: Instant,
    now: Instant,
    log: Vec<Event>,
}

impl Rig {
    fn new(toml: &str) -> Rig {
        let config: AcdConfig = toml::from_str(toml).expect("test config parses");
        let base = Instant::now();
        Rig {
            acd: Acd::new(config, base).expect("test config compiles"),
            base,
            now: base,
            log: Vec::new(),
        }
    }

    /// Moves the clock to `secs` after the start, handling every deadline on the way like a
    /// shell would, and returns the actions.
    fn at(&mut self, secs: f64) -> Vec<Action> {
        let target = self.base + Duration::from_secs_f64(secs);
        let mut actions = Vec::new();
        while let Some(due) = self.acd.poll_timeout().filter(|due| *due <= target) {
            self.now = self.now.max(due);
            self.acd.handle_timeout(self.now);
            actions.extend(self.drain());
        }
        self.now = self.now.max(target);
        actions
    }

    /// Drains actions, keeping the events in the log.
    fn drain(&mut self) -> Vec<Action> {
        self.log
            .extend(std::iter::from_fn(|| self.acd.poll_event()));
        std::iter::from_fn(|| self.acd.poll_action()).collect()
    }

    fn agent(&mut self, id: &str, input: AgentInput) -> Vec<Action> {
        self.acd
            .handle_agent(self.now, &AgentId::from(id), input)
            .expect("agent input accepted");
        self.drain()
    }

    fn login(&mut self, ids: &[&str]) -> Vec<Action> {
        ids.iter()
            .flat_map(|id| self.agent(id, AgentInput::Login))
            .collect()
    }

    fn join(&mut self, caller: u64, queue: &str) -> Vec<Action> {
        self.join_with(caller, queue, 0, 0)
    }

    fn join_with(&mut self, caller: u64, queue: &str, priority: i32, ivr_secs: u64) -> Vec<Action> {
        let join = Join {
            caller: CallerId(caller),
            queue: queue.to_owned(),
            priority,
            waited_before: Duration::from_secs(ivr_secs),
            skills: Vec::new(),
        };
        self.acd.handle_join(self.now, join).expect("join accepted");
        self.drain()
    }

    fn report(&mut self, offer: OfferId, result: OfferResult) -> Vec<Action> {
        self.acd
            .handle_offer_result(self.now, offer, result)
            .expect("offer is live");
        self.drain()
    }

    fn end_call(&mut self, agent: &str) -> Vec<Action> {
        self.acd
            .handle_call_ended(self.now, &AgentId::from(agent))
            .expect("agent was on a call");
        self.drain()
    }

    fn hangup(&mut self, caller: u64) -> Vec<Action> {
        self.acd
            .handle_hangup(self.now, CallerId(caller))
            .expect("caller is waiting");
        self.drain()
    }

    /// Answers `offer` and ends the call at once, leaving the agent in wrap-up or available.
    fn serve(&mut self, offer: OfferId, agent: &str) -> Vec<Action> {
        let mut actions = self.report(offer, OfferResult::Answered);
        actions.extend(self.end_call(agent));
        actions
    }

    fn state(&self, agent: &str) -> AgentState {
        self.acd
            .agent(&AgentId::from(agent))
            .unwrap()
            .state()
            .clone()
    }

    fn secs(&self, secs: f64) -> Instant {
        self.base + Duration::from_secs_f64(secs)
    }
}

/// The offers among `actions`, as (offer, caller, agent).
fn offers(actions: &[Action]) -> Vec<(OfferId, u64, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Offer {
                offer,
                caller,
                agent,
                ..
            } => Some((*offer, caller.0, agent.0.clone())),
            _ => None,
        })
        .collect()
}

/// The only offer among `actions`.
fn one_offer(actions: &[Action]) -> (OfferId, u64, String) {
    let offers = offers(actions);
    assert_eq!(offers.len(), 1, "expected one offer in {actions:?}");
    offers.into_iter().next().unwrap()
}

/// The offers cancelled among `actions`, as (offer, agent).
fn cancels(actions: &[Action]) -> Vec<(OfferId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::CancelOffer { offer, agent, .. } => Some((*offer, agent.0.clone())),
            _ => None,
        })
        .collect()
}

fn paused(reason: &str) -> AgentState {
    AgentState::Paused {
        reason: reason.to_owned(),
    }
}
