//! The ACD's epoch as the database keeps it (`cluster_leader`), for fencing
//! a former leader's writes.

use sqlx::Row;

/// The channel the ACD notifies when it has committed queue events.
pub const QUEUE_EVENTS_CHANNEL: &str = "hotline_queue_events";

/// Notifies [`QUEUE_EVENTS_CHANNEL`] (at the commit of the transaction it runs in).
pub(crate) const NOTIFY_QUEUE_EVENTS: &str = "SELECT pg_notify('hotline_queue_events', '')";

use super::{Db, DbError};

/// Fails with [`DbError::Fenced`] unless `epoch` is the current ACD epoch.
/// The row is locked until `tx` ends, so a takeover (which bumps it) waits
/// for this transaction, and this transaction sees any takeover committed
/// before it.
pub(crate) async fn check_epoch(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    epoch: i64,
) -> Result<(), DbError> {
    let current: i64 = sqlx::query("SELECT epoch FROM cluster_leader WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut **tx)
        .await?
        .try_get("epoch")?;
    if current == epoch {
        Ok(())
    } else {
        Err(DbError::Fenced { epoch, current })
    }
}

/// Who runs the ACD as the database says, for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leader {
    pub epoch: i64,
    /// `None` until a node has led.
    pub node_id: Option<String>,
}

impl Db {
    /// The current ACD epoch and the node that took it.
    pub async fn cluster_leader(&self) -> Result<Leader, DbError> {
        let row = sqlx::query("SELECT epoch, node_id FROM cluster_leader WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok(Leader {
            epoch: row.try_get("epoch")?,
            node_id: row.try_get("node_id")?,
        })
    }
}

/// A caller waiting in a queue, as the ACD keeps it in `queue_places`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingPlace {
    pub number: String,
    pub queue: String,
    /// When the caller's wait began, in ms since the Unix epoch.
    pub arrived_at: i64,
}

impl Db {
    /// Records callers who began waiting and forgets those who stopped, in
    /// one transaction, if `epoch` is still the ACD's.
    pub async fn update_waiting_places(
        &self,
        epoch: i64,
        joined: &[WaitingPlace],
        left: &[(String, String)],
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        check_epoch(&mut tx, epoch).await?;
        for (number, queue) in left {
            sqlx::query("DELETE FROM queue_places WHERE number = $1 AND queue = $2")
                .bind(number)
                .bind(queue)
                .execute(&mut *tx)
                .await?;
        }
        for place in joined {
            sqlx::query(
                "INSERT INTO queue_places (number, queue, arrived_at) VALUES ($1, $2, $3)
                 ON CONFLICT (number, queue) DO UPDATE SET arrived_at = excluded.arrived_at",
            )
            .bind(&place.number)
            .bind(&place.queue)
            .bind(place.arrived_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the places of the callers a former ACD left waiting, if `epoch`
    /// is still the ACD's: they become kept places of the new one.
    pub async fn take_waiting_places(&self, epoch: i64) -> Result<Vec<WaitingPlace>, DbError> {
        let mut tx = self.begin_write().await?;
        check_epoch(&mut tx, epoch).await?;
        let rows = sqlx::query("SELECT number, queue, arrived_at FROM queue_places")
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM queue_places")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(WaitingPlace {
                    number: row.try_get("number")?,
                    queue: row.try_get("queue")?,
                    arrived_at: row.try_get("arrived_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}
