//! Joining and limits: where a caller is placed, and what max wait, a full queue or
//! no agents do to them.
//!
//! A limit applies its queue's action: a goodbye, a callback that keeps the
//! caller's place, or an overflow into another queue, which checks its own
//! limits on entry. An overflow keeps the caller's priority and arrival, so they
//! do not go to the back, but the new queue's max wait counts from the move. A
//! chain of overflows that comes back to a queue already visited ends in a
//! goodbye instead of going round forever.

use std::time::Instant;

use super::Acd;
use super::config::{LimitAction, Resolved};
use super::entry::{self, Entry};
use super::events::{Action, EventKind, Limit, ms};

impl Acd {
    /// Puts `entry` (a live caller) into its queue, unless a limit sends it elsewhere.
    pub(super) fn place(
        &mut self,
        now: Instant,
        mut entry: Entry,
        from: Option<usize>,
        visited: &mut Vec<usize>,
    ) {
        let q = entry.queue;
        visited.push(q);
        let spec = &self.queues[q].spec;
        if !self.servable(&entry) {
            let action = spec.on_no_agents;
            return self.apply_limit(now, entry, Limit::NoAgents, action, visited);
        }
        let on_hold = self
            .entries
            .iter()
            .filter(|e| e.queue == q && !e.callback)
            .count();
        if spec.max_length.is_some_and(|max| on_hold >= max) {
            let action = spec.on_full;
            return self.apply_limit(now, entry, Limit::QueueFull, action, visited);
        }
        let waited = now.saturating_duration_since(entry.arrived);
        entry.steps = spec.steps_reached(waited);
        // Announced at once (unless an agent is offered first), then every period.
        entry.next_announce = spec.announce_every.map(|_| now);
        let (caller, priority) = (entry.caller, entry.priority);
        let i = entry::insert(&mut self.entries, entry);
        self.event(
            now,
            EventKind::CallerJoined {
                queue: self.queues[q].spec.name.clone(),
                caller,
                priority,
                waited_before_ms: ms(waited),
                position: entry::position(&self.entries, i),
                overflow_from: from.map(|f| self.queues[f].spec.name.clone()),
            },
        );
    }

    /// Applies a limit's action to `entry`, already out of the list (or never in it).
    pub(super) fn apply_limit(
        &mut self,
        now: Instant,
        mut entry: Entry,
        limit: Limit,
        action: Resolved,
        visited: &mut Vec<usize>,
    ) {
        let action = match action {
            Resolved::Overflow(target) if visited.contains(&target) => {
                tracing::warn!(
                    queue = %self.queues[entry.queue].spec.name,
                    "overflow loop; the caller gets a goodbye"
                );
                Resolved::Goodbye
            }
            action => action,
        };
        let queue = self.queues[entry.queue].spec.name.clone();
        self.event(
            now,
            EventKind::LimitReached {
                queue: queue.clone(),
                caller: entry.caller,
                limit,
                action: match action {
                    Resolved::Callback => LimitAction::Callback,
                    Resolved::Goodbye => LimitAction::Goodbye,
                    Resolved::Overflow(t) => LimitAction::Queue(self.queues[t].spec.name.clone()),
                },
                waited_ms: ms(now.saturating_duration_since(entry.arrived)),
            },
        );
        match action {
            Resolved::Goodbye => self.actions.push_back(Action::Goodbye {
                caller: entry.caller,
                queue,
                limit,
            }),
            Resolved::Callback => self.hold_for_callback(now, entry, Some(limit)),
            Resolved::Overflow(target) => {
                let from = entry.queue;
                entry.queue = target;
                entry.budget_from = now;
                entry.reset_round();
                self.actions.push_back(Action::Overflow {
                    caller: entry.caller,
                    from: queue,
                    to: self.queues[target].spec.name.clone(),
                });
                self.place(now, entry, Some(from), visited);
            }
        }
    }

    /// Turns `entry` into a callback entry at the caller's place and asks for the ticket.
    pub(super) fn hold_for_callback(
        &mut self,
        now: Instant,
        mut entry: Entry,
        limit: Option<Limit>,
    ) {
        entry.callback = true;
        entry.next_announce = None;
        entry.reset_round();
        let (caller, q) = (entry.caller, entry.queue);
        let waited = now.saturating_duration_since(entry.arrived);
        let i = entry::insert(&mut self.entries, entry);
        let position = entry::position(&self.entries, i);
        let queue = self.queues[q].spec.name.clone();
        self.actions.push_back(Action::RegisterCallback {
            caller,
            queue: queue.clone(),
            position,
            waited,
            limit,
        });
        self.event(
            now,
            EventKind::CallbackRequested {
                queue,
                caller,
                position,
                waited_ms: ms(waited),
            },
        );
    }

    /// Callers on hold past their queue's max wait get its action.
    pub(super) fn expire_waits(&mut self, now: Instant) {
        while let Some(i) = self.entries.iter().position(|e| {
            let max_wait = self.queues[e.queue].spec.max_wait;
            !e.callback && max_wait.is_some_and(|max| e.budget_from + max <= now)
        }) {
            let caller = self.entries[i].caller;
            self.cancel_caller_offers(now, caller);
            let entry = self.entries.remove(i);
            let action = self.queues[entry.queue].spec.on_max_wait;
            let mut visited = vec![entry.queue];
            self.apply_limit(now, entry, Limit::MaxWait, action, &mut visited);
        }
    }

    /// An agent logged out: callers on hold whom no agent still logged in can serve get their
    /// queue's no-agents action.
    ///
    /// Callback entries stay: nobody is on the line, and they are served after the next login.
    pub(super) fn after_logout(&mut self, now: Instant) {
        // Every action takes the caller off hold unservable, so this ends.
        while let Some(i) = self
            .entries
            .iter()
            .position(|e| !e.callback && !self.servable(e))
        {
            let caller = self.entries[i].caller;
            self.cancel_caller_offers(now, caller);
            let entry = self.entries.remove(i);
            let action = self.queues[entry.queue].spec.on_no_agents;
            let mut visited = vec![entry.queue];
            self.apply_limit(now, entry, Limit::NoAgents, action, &mut visited);
        }
    }

    /// Whether some logged-in agent (available or not) can serve the caller.
    fn servable(&self, entry: &Entry) -> bool {
        let spec = &self.queues[entry.queue].spec;
        self.agents
            .iter()
            .any(|a| a.logged_in() && a.serves(spec, &entry.skills))
    }
}
