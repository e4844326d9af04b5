//! Every node's wallboards follow the ACD wherever it runs.
//!
//! The ACD writes its queue log with a sequence number and notifies a
//! PostgreSQL channel at each commit; every node listens, reads the rows
//! after the last it has seen, and publishes them to its own event stream.
//! A notification lost while the listener reconnects only delays: the rows
//! are read again after every reconnect, and at least every
//! [`POLL_EVERY`] anyway.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tracing::{debug, warn};

use crate::crm::Db;
use crate::crm::cluster::QUEUE_EVENTS_CHANNEL;

/// The longest a row waits when no notification comes.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

/// Rows read at once.
const BATCH: i64 = 500;

/// Follows the queue log from now on, handing each new event to `publish`, forever.
pub async fn run(url: String, db: Db, publish: impl Fn(serde_json::Value) + Send + 'static) {
    let mut last = loop {
        match db.last_queue_event_seq().await {
            Ok(last) => break last,
            Err(error) => {
                warn!(%error, "queue log not readable yet; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(listener) => listener,
            Err(error) => {
                warn!(%error, "cannot listen for queue events; reading them every {POLL_EVERY:?}");
                catch_up(&db, &mut last, &publish).await;
                tokio::time::sleep(POLL_EVERY).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(QUEUE_EVENTS_CHANNEL).await {
            warn!(%error, "cannot listen for queue events");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            // Before each wait: what came while not listening, or since the last read.
            catch_up(&db, &mut last, &publish).await;
            match tokio::time::timeout(POLL_EVERY, listener.try_recv()).await {
                Ok(Ok(Some(_))) | Err(_) => {}
                // The connection was lost (try_recv reconnects next time).
                Ok(Ok(None)) => debug!("queue event listener reconnecting"),
                Ok(Err(error)) => {
                    warn!(%error, "queue event listener failed; listening again");
                    break;
                }
            }
        }
    }
}

/// Publishes the rows after `last`, moving `last` on.
async fn catch_up(db: &Db, last: &mut i64, publish: &impl Fn(serde_json::Value)) {
    loop {
        let rows = match db.queue_events_after(*last, BATCH).await {
            Ok(rows) => rows,
            Err(error) => {
                warn!(%error, "queue events not read; trying again");
                return;
            }
        };
        let full = rows.len() as i64 == BATCH;
        for (seq, event) in rows {
            *last = seq;
            publish(event);
        }
        if !full {
            return;
        }
    }
}
