//! The record of every call: one row per call and its events.

use sqlx::Row;

use super::{Db, DbError, new_id, now_ms};

/// A call as listed for admins.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallRow {
    pub id: String,
    pub sip_call_id: String,
    pub caller: String,
    /// Where the call came in: `sip` or `web`.
    pub channel: String,
    pub customer_id: Option<String>,
    pub outcome: Option<String>,
    /// The flow version the call ran, e.g. `hotline.yaml@37ebb5aed083`.
    pub flow_version: Option<String>,
    /// How the call left the flow: `contained_by_ivr`, `ticket_registered`, `to_agent`, …
    pub flow_outcome: Option<String>,
    /// Nodes entered and keys chosen, e.g. `welcome identify main [1] balance say_balance`.
    pub path: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub events: Vec<CallEvent>,
}

/// How a call ended, as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallEnd {
    /// How the signalling ended, e.g. `ended: RemoteBye`, `cancelled`.
    pub outcome: String,
    pub flow_outcome: Option<String>,
    pub path: Option<String>,
}

/// Something that happened in a call, e.g. a key pressed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallEvent {
    pub at: String,
    pub kind: String,
    pub detail: String,
}

impl Db {
    /// Records a new call under hotline's own `id` for it; the SIP Call-ID is kept for reference.
    pub async fn start_call(
        &self,
        id: &str,
        sip_call_id: &str,
        caller: &str,
        customer_id: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO calls (id, sip_call_id, caller, customer_id, outcome, started_at, ended_at)
             VALUES ($1, $2, $3, $4, NULL, $5, NULL)",
        )
        .bind(id)
        .bind(sip_call_id)
        .bind(caller)
        .bind(customer_id.map(str::to_owned))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records an event of a call. Events of one call written in order list
    /// in that order (the id sorts after every earlier one of the same call).
    pub async fn record_call_event(
        &self,
        call_id: &str,
        kind: &str,
        detail: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO call_events (id, call_id, at, kind, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ordered_id())
        .bind(call_id)
        .bind(now_ms())
        .bind(kind)
        .bind(detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records who is calling, once identified.
    pub async fn set_call_customer(&self, call_id: &str, customer_id: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE calls SET customer_id = $1 WHERE id = $2")
            .bind(customer_id)
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records the flow version a call runs.
    pub async fn set_call_flow(&self, call_id: &str, version: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE calls SET flow_version = $1 WHERE id = $2")
            .bind(version)
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records how a call ended, and how it left its flow.
    pub async fn finish_call(&self, call_id: &str, end: &CallEnd) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE calls SET outcome = $1, flow_outcome = $2, path = $3, ended_at = $4 WHERE id = $5",
        )
        .bind(&end.outcome)
        .bind(end.flow_outcome.clone())
        .bind(end.path.clone())
        .bind(now_ms())
        .bind(call_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Closes the calls a previous run left open (it was killed, or the
    /// machine stopped) as `interrupted`, ended at their last event; how many.
    /// Run at start, before any call is taken: every open call is then one
    /// no process is running any more.
    pub async fn close_interrupted_calls(&self) -> Result<u64, DbError> {
        self.close_calls_open_since(i64::MAX).await
    }

    /// On a cluster, where other nodes' calls are open too: closes as
    /// interrupted only the calls started before `started_before` (ms), which
    /// no node can still be carrying (they are past the longest call).
    pub async fn close_calls_open_since(&self, started_before: i64) -> Result<u64, DbError> {
        let done = sqlx::query(
            "UPDATE calls SET outcome = 'interrupted',
                 ended_at = COALESCE(
                     (SELECT MAX(e.at) FROM call_events e WHERE e.call_id = calls.id),
                     started_at)
             WHERE ended_at IS NULL AND started_at < $1",
        )
        .bind(started_before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// The most recent calls, newest first, with their events.
    pub async fn list_calls(&self, limit: i64) -> Result<Vec<CallRow>, DbError> {
        let rows = sqlx::query(
            "SELECT id, sip_call_id, caller, channel, customer_id, outcome, flow_version,
                    flow_outcome, path, started_at, ended_at
             FROM calls ORDER BY started_at DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut calls = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let events = sqlx::query(
                "SELECT at, kind, detail FROM call_events WHERE call_id = $1 ORDER BY at, id",
            )
            .bind(&id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|e| {
                Ok(CallEvent {
                    at: time(e.try_get("at")?),
                    kind: e.try_get("kind")?,
                    detail: e.try_get("detail")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            calls.push(CallRow {
                sip_call_id: row.try_get("sip_call_id")?,
                caller: row.try_get("caller")?,
                channel: row.try_get("channel")?,
                customer_id: row.try_get("customer_id")?,
                outcome: row.try_get("outcome")?,
                flow_version: row.try_get("flow_version")?,
                flow_outcome: row.try_get("flow_outcome")?,
                path: row.try_get("path")?,
                started_at: time(row.try_get("started_at")?),
                ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(time),
                events,
                id,
            });
        }
        Ok(calls)
    }
}

/// An id that sorts in creation order within this process (time, then a counter).
pub(crate) fn ordered_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:016x}{}",
        now_ms(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &new_id()[..8]
    )
}

/// An RFC 3339 time from stored milliseconds.
pub(crate) fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
