//! Reading what the contact-centre report counts: the calls, queue log and
//! tickets of a period (the figures themselves are in `crate::report`).

use sqlx::Row;

use super::{Db, DbError, now_ms};
use crate::report::{CLOSED, CallFacts, ReportInput, TicketFacts};

impl Db {
    /// The records of calls started, queue events logged and tickets
    /// registered in `[from_ms, to_ms)`, and every open ticket past due.
    pub async fn report_input(
        &self,
        from_ms: i64,
        to_ms: i64,
        service_level_seconds: u64,
    ) -> Result<ReportInput, DbError> {
        let now = now_ms();
        let calls = self
            .period_rows(
                "SELECT flow_outcome, path, channel FROM calls WHERE started_at >= $1 AND started_at < $2",
                from_ms,
                to_ms,
            )
            .await?
            .iter()
            .map(|row| {
                Ok(CallFacts {
                    flow_outcome: row.try_get("flow_outcome")?,
                    path: row.try_get("path")?,
                    channel: row.try_get("channel")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let queue_events = self
            .period_rows(
                "SELECT data FROM queue_events WHERE at >= $1 AND at < $2 ORDER BY at, id",
                from_ms,
                to_ms,
            )
            .await?
            .iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                Ok(serde_json::from_str(&data).unwrap_or(serde_json::Value::Null))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let closed = CLOSED.map(|status| format!("'{status}'")).join(", ");
        let tickets = sqlx::query(&format!(
            "SELECT status, due_at, created_at FROM tickets
             WHERE (created_at >= $1 AND created_at < $2) OR status NOT IN ({closed})"
        ))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            let created_at: i64 = row.try_get("created_at")?;
            Ok(TicketFacts {
                status: row.try_get("status")?,
                due_at_ms: row.try_get("due_at")?,
                in_period: (from_ms..to_ms).contains(&created_at),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(ReportInput {
            calls,
            queue_events,
            tickets,
            now_ms: now,
            service_level_seconds,
        })
    }

    /// The rows of `sql`, whose `$1` and `$2` are the period's bounds.
    async fn period_rows(
        &self,
        sql: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, DbError> {
        Ok(sqlx::query(sql)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(self.pool())
            .await?)
    }
}
