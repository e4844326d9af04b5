//! The queue log in the database, for reports.

use sqlx::Row;

use super::calls::ordered_id;
use super::{Db, DbError, now_ms};

impl Db {
    /// Appends one queue event (the JSON of the event stream).
    pub async fn record_queue_event(&self, event: &serde_json::Value) -> Result<(), DbError> {
        let kind = event["event"].as_str().unwrap_or("unknown");
        sqlx::query("INSERT INTO queue_events (id, at, kind, data) VALUES ($1, $2, $3, $4)")
            .bind(ordered_id())
            .bind(now_ms())
            .bind(kind)
            .bind(event.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The queue log's rows after sequence number `after`, in commit order,
    /// at most `limit` (PostgreSQL only: SQLite numbers no rows).
    pub async fn queue_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, serde_json::Value)>, DbError> {
        let rows =
            sqlx::query("SELECT seq, data FROM queue_events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                let event = serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
                Ok((row.try_get("seq")?, event))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The queue log's last sequence number (0 when empty).
    pub async fn last_queue_event_seq(&self) -> Result<i64, DbError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM queue_events")
            .fetch_one(self.pool())
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// The queue log, oldest first.
    pub async fn queue_events(&self, limit: i64) -> Result<Vec<serde_json::Value>, DbError> {
        let rows = sqlx::query("SELECT data FROM queue_events ORDER BY at, id LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                Ok(serde_json::from_str(&data).unwrap_or(serde_json::Value::Null))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}
