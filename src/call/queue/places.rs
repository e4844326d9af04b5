//! The ACD's waiting callers kept in the database, on a cluster.
//!
//! When the ACD's node dies its waiting callers are dropped; the next ACD
//! takes these rows as kept places, so a caller who calls again within
//! `keep_place_seconds` gets their place back. Writes carry the epoch and
//! run in order on a task of their own, so the queue never waits for them.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::warn;

use crate::crm::Db;
use crate::crm::cluster::WaitingPlace;

/// A caller's place: number and queue.
type Place = (String, String);

/// Mirrors the waiting callers into `queue_places`.
pub struct PlacesLog {
    stored: HashMap<Place, i64>,
    changes: mpsc::UnboundedSender<(Vec<WaitingPlace>, Vec<Place>)>,
}

impl PlacesLog {
    /// Starts the writer for the ACD of `epoch`.
    pub fn spawn(db: Db, epoch: i64) -> PlacesLog {
        let (changes, mut pending) = mpsc::unbounded_channel::<(Vec<WaitingPlace>, Vec<Place>)>();
        tokio::spawn(async move {
            while let Some((joined, left)) = pending.recv().await {
                if let Err(error) = db.update_waiting_places(epoch, &joined, &left).await {
                    // A lost row only costs a dropped caller their place.
                    warn!(%error, "waiting callers' places not stored");
                }
            }
        });
        PlacesLog {
            stored: HashMap::new(),
            changes,
        }
    }

    /// Brings the stored places in line with `waiting` (number, queue, and
    /// when the wait began in ms since the Unix epoch).
    pub fn sync<'a>(&mut self, waiting: impl Iterator<Item = (&'a str, &'a str, i64)>) {
        let now: HashMap<Place, i64> = waiting
            .filter(|(number, _, _)| !number.is_empty())
            .map(|(number, queue, since)| ((number.to_owned(), queue.to_owned()), since))
            .collect();
        let joined: Vec<WaitingPlace> = now
            .iter()
            .filter(|(place, _)| !self.stored.contains_key(*place))
            .map(|((number, queue), since)| WaitingPlace {
                number: number.clone(),
                queue: queue.clone(),
                arrived_at: *since,
            })
            .collect();
        let left: Vec<Place> = self
            .stored
            .keys()
            .filter(|place| !now.contains_key(*place))
            .cloned()
            .collect();
        if joined.is_empty() && left.is_empty() {
            return;
        }
        self.stored = now;
        let _ = self.changes.send((joined, left));
    }
}
