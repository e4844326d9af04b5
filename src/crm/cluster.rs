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
