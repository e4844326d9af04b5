//! Deadlines: ring timeouts, wrap-up ends, escalation steps, retries, announcements and max waits.
//!
//! Nothing is stored as a timer; each deadline is derived from the state it
//! belongs to, so a deadline cannot outlive its offer, agent or caller.

use std::time::Instant;

use super::Acd;
use super::entry;
use super::events::{Action, EventKind, ms};

impl Acd {
    /// The earliest deadline of all.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let offers = self.offers.iter().map(|o| o.deadline);
        let wrap_ups = self.agents.iter().filter_map(|a| a.wrap_up_until);
        let entries = self.entries.iter().flat_map(|e| {
            let spec = &self.queues[e.queue].spec;
            let step = spec
                .escalation
                .get(e.steps)
                .map(|(after, _)| e.arrived + *after);
            let (announce, max_wait) = match e.callback {
                true => (None, None),
                false => (
                    e.next_announce,
                    spec.max_wait.map(|max| e.budget_from + max),
                ),
            };
            [step, e.retry_at, announce, max_wait].into_iter().flatten()
        });
        offers.chain(wrap_ups).chain(entries).min()
    }

    /// Acts on everything due at `now`, except announcements (see [`Acd::announce_due`]).
    pub(super) fn expire(&mut self, now: Instant) {
        self.expire_offers(now);
        self.end_wrap_ups(now);
        self.expire_waits(now);
        for e in &mut self.entries {
            let spec = &self.queues[e.queue].spec;
            e.steps = spec.steps_reached(now.saturating_duration_since(e.arrived));
            if e.retry_at.is_some_and(|t| t <= now) {
                e.retry_at = None;
            }
        }
    }

    /// Announces position and estimated wait to callers on hold whose announcement is due,
    /// also while an agent's phone rings for them: until it is answered they are still
    /// waiting, and the bridge cuts the announcement short when it is.
    pub(super) fn announce_due(&mut self, now: Instant) {
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            let Some(due) = e.next_announce.filter(|due| *due <= now && !e.callback) else {
                continue;
            };
            let q = e.queue;
            let caller = e.caller;
            let Some(period) = self.queues[q].spec.announce_every else {
                continue;
            };
            let next = due + period;
            self.entries[i].next_announce = Some(if next > now { next } else { now + period });
            let position = entry::position(&self.entries, i);
            let estimated_wait = self.queues[q].estimator.estimate(now, position);
            let queue = self.queues[q].spec.name.clone();
            self.actions.push_back(Action::Announce {
                caller,
                queue: queue.clone(),
                position,
                estimated_wait,
            });
            self.event(
                now,
                EventKind::Announced {
                    queue,
                    caller,
                    position,
                    estimated_wait_ms: estimated_wait.map(ms),
                },
            );
        }
    }
}
