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
