//! The queue's live event stream with numbered events, so a page that
//! reconnects (SSE `Last-Event-ID`, WHATWG HTML §9.2) gets what it missed.
//!
//! The last [`KEPT`] events stay in memory: a wallboard that lost its
//! connection for a few seconds, even on a busy queue, is well within that.
//! Ids continue across restarts (the first is the start time in
//! microseconds), so an id from before a restart is never taken for one
//! seen after it; a reconnect from too far back is told it has a gap.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// How many recent events are kept for replay.
pub const KEPT: usize = 4096;

/// One event of the stream, with its id.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub id: u64,
    pub event: Arc<serde_json::Value>,
}

/// The recent events, numbered; a value with no I/O.
#[derive(Debug)]
pub struct Journal {
    next: u64,
    kept: VecDeque<Numbered>,
    capacity: usize,
}

/// What a reconnecting reader missed.
#[derive(Debug)]
pub struct Replay {
    pub events: Vec<Numbered>,
    /// Some events after the reader's last one are no longer kept (or the
    /// id is not one this server gave): the reader should reload its state.
    pub gap: bool,
}

impl Journal {
    /// A journal whose first id is `first`, keeping `capacity` events.
    pub fn new(first: u64, capacity: usize) -> Journal {
        Journal {
            next: first.max(1),
            kept: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Numbers and keeps an event.
    pub fn append(&mut self, event: serde_json::Value) -> Numbered {
        let numbered = Numbered {
            id: self.next,
            event: Arc::new(event),
        };
        self.next += 1;
        if self.kept.len() == self.capacity {
            self.kept.pop_front();
        }
        self.kept.push_back(numbered.clone());
        numbered
    }

    /// The events after `last`, the id a reader saw last.
    pub fn since(&self, last: u64) -> Replay {
        let oldest = self.kept.front().map_or(self.next, |n| n.id);
        let unknown = last >= self.next || last + 1 < oldest;
        let events = self
            .kept
            .iter()
            .filter(|n| unknown || n.id > last)
            .cloned()
            .collect();
        Replay {
            events,
            gap: unknown,
        }
    }
}

/// The stream shared by the queue's task (which publishes) and readers.
#[derive(Clone)]
pub struct EventStream {
    journal: Arc<Mutex<Journal>>,
    live: broadcast::Sender<Numbered>,
}

impl EventStream {
    /// A stream whose ids start from the current time.
    pub fn new() -> EventStream {
        let first = chrono::Utc::now().timestamp_micros().max(1) as u64;
        EventStream {
            journal: Arc::new(Mutex::new(Journal::new(first, KEPT))),
            live: broadcast::channel(1024).0,
        }
    }

    /// Numbers an event and sends it to every reader.
    pub fn publish(&self, event: serde_json::Value) {
        let mut journal = self.journal();
        let numbered = journal.append(event);
        // Sent under the lock, so a reader subscribing now sees it either in
        // its replay or live, never both and never neither.
        let _ = self.live.send(numbered);
    }

    /// Live events from now on, and those after `last` when the reader is reconnecting.
    pub fn subscribe(&self, last: Option<u64>) -> (Replay, broadcast::Receiver<Numbered>) {
        let journal = self.journal();
        let replay = match last {
            Some(last) => journal.since(last),
            None => Replay {
                events: Vec::new(),
                gap: false,
            },
        };
        (replay, self.live.subscribe())
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for EventStream {
    fn default() -> Self {
        EventStream::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(replay: &Replay) -> Vec<u64> {
        replay.events.iter().map(|n| n.id).collect()
    }

    #[test]
    fn ids_rise_by_one_and_a_reader_gets_what_came_after_its_last() {
        let mut journal = Journal::new(100, 10);
        for i in 0..5 {
            assert_eq!(journal.append(json!({ "n": i })).id, 100 + i);
        }
        let replay = journal.since(102);
        assert_eq!(ids(&replay), [103, 104]);
        assert_eq!(*replay.events[0].event, json!({ "n": 3 }));
        assert!(!replay.gap);
        assert!(journal.since(104).events.is_empty());
    }

    #[test]
    fn a_reader_from_before_the_oldest_kept_event_is_told_of_the_gap() {
        let mut journal = Journal::new(1, 3);
        for i in 0..6 {
            journal.append(json!(i));
        }
        // Kept: 4, 5, 6. A reader whose last was 3 missed nothing dropped.
        let replay = journal.since(3);
        assert_eq!((ids(&replay), replay.gap), (vec![4, 5, 6], false));
        let replay = journal.since(2);
        assert_eq!((ids(&replay), replay.gap), (vec![4, 5, 6], true));
    }

    #[test]
    fn an_id_this_journal_never_gave_is_a_gap() {
        let mut journal = Journal::new(50, 10);
        journal.append(json!(1));
        let replay = journal.since(900);
        assert_eq!((ids(&replay), replay.gap), (vec![50], true));
    }

    #[test]
    fn a_subscriber_gets_each_event_once_across_replay_and_live() {
        let stream = EventStream::new();
        stream.publish(json!("a"));
        let (first, _) = stream.subscribe(None);
        assert!(first.events.is_empty());
        let (_, mut live) = stream.subscribe(None);
        stream.publish(json!("b"));
        let b = live.try_recv().unwrap();
        stream.publish(json!("c"));
        let (replay, mut later) = stream.subscribe(Some(b.id));
        assert_eq!(replay.events.len(), 1);
        assert_eq!(*replay.events[0].event, json!("c"));
        assert!(later.try_recv().is_err());
    }
}
