//! Offering: matching waiting callers with free agents, and what the shell reports back.
//!
//! Callers are served front to back in the one ordered list (see `entry`), each
//! taking the agent its queue's strategy picks among the free agents it may
//! have. A caller has one offer at a time, except under ring-all, where every
//! free agent rings and the first to answer wins. An agent tried for a caller
//! is not offered that caller again until every free agent was tried; the new
//! round then waits the queue's retry time, so a declining phone is not rung in
//! a loop.

use std::time::Instant;

use super::agent::{AgentState, NO_ANSWER};
use super::entry::{CallerId, Entry};
use super::events::{Action, EventKind, OfferId, OfferOutcome, OfferResult, ms};
use super::strategy::{self, Strategy};
use super::{Acd, AcdError};

/// An offer ringing an agent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Offer {
    pub(super) id: OfferId,
    pub(super) caller: CallerId,
    pub(super) agent: usize,
    pub(super) queue: usize,
    pub(super) deadline: Instant,
}

impl Acd {
    /// Offers every caller who can be offered now the agents their strategy picks.
    pub(super) fn dispatch(&mut self, now: Instant) {
        // Offers add nothing to and remove nothing from the list, so indices hold.
        for i in 0..self.entries.len() {
            for agent in self.picks(now, i) {
                self.offer(now, i, agent);
            }
        }
    }

    /// The shell's report on an offer.
    pub(super) fn offer_result(
        &mut self,
        now: Instant,
        offer: OfferId,
        result: OfferResult,
    ) -> Result<(), AcdError> {
        let pos = self
            .offers
            .iter()
            .position(|o| o.id == offer)
            .ok_or(AcdError::UnknownOffer(offer))?;
        let outcome = match result {
            OfferResult::Answered => {
                self.answer(now, pos);
                return Ok(());
            }
            OfferResult::NoAnswer => OfferOutcome::NoAnswer,
            OfferResult::Busy => OfferOutcome::Busy,
            OfferResult::Declined => OfferOutcome::Declined,
            OfferResult::Failed => OfferOutcome::Failed,
        };
        self.fail_offer(now, pos, outcome, false);
        Ok(())
    }

    /// Ends offers whose ring timeout expired: cancel them and pause their agents.
    pub(super) fn expire_offers(&mut self, now: Instant) {
        while let Some(pos) = self.offers.iter().position(|o| o.deadline <= now) {
            self.fail_offer(now, pos, OfferOutcome::RingTimeout, true);
        }
    }

    /// Withdraws every offer for `caller`, freeing the agents.
    pub(super) fn cancel_caller_offers(&mut self, now: Instant, caller: CallerId) {
        while let Some(pos) = self.offers.iter().position(|o| o.caller == caller) {
            let offer = self.end_offer(now, pos, OfferOutcome::Cancelled, true);
            self.set_agent_state(now, offer.agent, AgentState::Available);
        }
    }

    /// Removes offer `pos`, logs how it ended and counts its agent as tried; the caller of this
    /// sets the agent's next state.
    pub(super) fn end_offer(
        &mut self,
        now: Instant,
        pos: usize,
        outcome: OfferOutcome,
        cancel: bool,
    ) -> Offer {
        let offer = self.offers.remove(pos);
        let agent = self.agents[offer.agent].id.clone();
        if cancel {
            self.actions.push_back(Action::CancelOffer {
                offer: offer.id,
                caller: offer.caller,
                agent: agent.clone(),
            });
        }
        self.event(
            now,
            EventKind::OfferEnded {
                queue: self.queues[offer.queue].spec.name.clone(),
                caller: offer.caller,
                agent,
                offer: offer.id,
                outcome,
            },
        );
        if let Some(entry) = self.entries.iter_mut().find(|e| e.caller == offer.caller) {
            entry.tried.push(offer.agent);
            entry.last_failure = Some(now);
        }
        offer
    }

    /// The agents to offer `entries[i]` to now (none if it must wait).
    fn picks(&mut self, now: Instant, i: usize) -> Vec<usize> {
        let entry = &self.entries[i];
        let queue = &self.queues[entry.queue];
        let spec = &queue.spec;
        let in_flight = self.offers.iter().any(|o| o.caller == entry.caller);
        if in_flight && spec.strategy != Strategy::RingAll {
            return Vec::new();
        }
        let max_level = spec.max_level(entry.steps);
        let free: Vec<usize> = (0..self.agents.len())
            .filter(|&a| {
                let agent = &self.agents[a];
                agent.offerable()
                    && agent.serves(spec, &entry.skills)
                    && agent.level(spec, &entry.skills) <= max_level
            })
            .collect();
        let untried: Vec<usize> = free
            .iter()
            .copied()
            .filter(|a| !entry.tried.contains(a))
            .collect();
        let candidates = if !untried.is_empty() {
            untried
        } else if in_flight || free.is_empty() {
            return Vec::new();
        } else {
            // Every free agent was tried: a new round, after the retry time.
            let due = entry.last_failure.map(|t| t + spec.retry);
            if due.is_some_and(|due| due > now) {
                self.entries[i].retry_at = due;
                return Vec::new();
            }
            self.entries[i].reset_round();
            free
        };
        let entry = &self.entries[i];
        strategy::choose(
            spec.strategy,
            &candidates,
            &self.agents,
            spec,
            &entry.skills,
            queue.rr_next,
        )
    }

    fn offer(&mut self, now: Instant, i: usize, agent: usize) {
        let id = OfferId(self.next_offer);
        self.next_offer += 1;
        let Entry {
            caller,
            queue,
            callback,
            ..
        } = self.entries[i];
        let spec = &self.queues[queue].spec;
        self.offers.push(Offer {
            id,
            caller,
            agent,
            queue,
            deadline: now + spec.ring_timeout,
        });
        if spec.strategy == Strategy::RoundRobin {
            self.queues[queue].rr_next = agent + 1;
        }
        let name = self.queues[queue].spec.name.clone();
        let agent_id = self.agents[agent].id.clone();
        self.set_agent_state(now, agent, AgentState::Ringing);
        self.actions.push_back(Action::Offer {
            offer: id,
            queue: name.clone(),
            caller,
            agent: agent_id.clone(),
            callback,
        });
        self.event(
            now,
            EventKind::Offered {
                queue: name,
                caller,
                agent: agent_id,
                offer: id,
                callback,
            },
        );
    }

    /// Offer `pos` did not connect: the agent is free again, or paused if it rang out.
    fn fail_offer(&mut self, now: Instant, pos: usize, outcome: OfferOutcome, cancel: bool) {
        let offer = self.end_offer(now, pos, outcome, cancel);
        let rang_out = matches!(outcome, OfferOutcome::NoAnswer | OfferOutcome::RingTimeout);
        let state = if rang_out && self.queues[offer.queue].spec.pause_on_no_answer {
            AgentState::Paused {
                reason: NO_ANSWER.to_owned(),
            }
        } else {
            AgentState::Available
        };
        self.set_agent_state(now, offer.agent, state);
    }

    /// Offer `pos` was answered: connect, and withdraw the caller's other offers.
    fn answer(&mut self, now: Instant, pos: usize) {
        let offer = self.offers.remove(pos);
        let i = self
            .entries
            .iter()
            .position(|e| e.caller == offer.caller)
            .expect("an offer's caller is waiting: offers end when their caller leaves");
        let entry = self.entries.remove(i);
        let backlog = self.entries.iter().any(|e| e.queue == entry.queue);
        self.queues[entry.queue]
            .estimator
            .record_answer(now, backlog);
        let agent = &mut self.agents[offer.agent];
        agent.calls_taken += 1;
        agent.call = Some(super::agent::ActiveCall {
            queue: entry.queue,
            caller: entry.caller,
            since: now,
        });
        let agent_id = agent.id.clone();
        self.set_agent_state(now, offer.agent, AgentState::OnCall);
        self.actions.push_back(Action::Connect {
            offer: offer.id,
            caller: entry.caller,
            agent: agent_id.clone(),
            callback: entry.callback,
        });
        self.event(
            now,
            EventKind::Answered {
                queue: self.queues[entry.queue].spec.name.clone(),
                caller: entry.caller,
                agent: agent_id,
                offer: offer.id,
                waited_ms: ms(now.saturating_duration_since(entry.arrived)),
                callback: entry.callback,
            },
        );
        self.cancel_caller_offers(now, entry.caller);
    }
}
