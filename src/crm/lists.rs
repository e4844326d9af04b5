//! The calls and tickets of a period, filtered and a page at a time, as the
//! console's lists and their CSV files show them. The filters use the same
//! columns and definitions as the report (`crate::report`): a call's outcome
//! is its flow outcome; an overdue ticket is an open one past its due time.

use sqlx::Row;

use super::calls::time;
use super::{Db, DbError, now_ms};
use crate::report::CLOSED;

/// A query on the `Any` driver with its arguments bound.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Which calls, and which page of them.
#[derive(Debug, Clone)]
pub struct CallFilter {
    /// Started in `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    /// A flow outcome (`contained_by_ivr`, `ticket_registered`, `to_agent`,
    /// `transferred`, `abandoned`), or `other` for calls without one of those.
    pub outcome: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// Which tickets, and which page of them.
#[derive(Debug, Clone)]
pub struct TicketFilter {
    /// Registered in `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    pub kind: Option<String>,
    pub status: Option<String>,
    /// Only open tickets past their due time.
    pub overdue: bool,
    pub offset: i64,
    pub limit: i64,
}

/// The flow outcomes the report counts by name; any other is `other`.
pub const FLOW_OUTCOMES: [&str; 5] = [
    "contained_by_ivr",
    "ticket_registered",
    "to_agent",
    "transferred",
    "abandoned",
];

/// One call as listed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ListedCall {
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// The calling number (masked below supervisor); empty for a web caller.
    pub caller: String,
    /// Where the call came in: `sip` or `web`.
    pub channel: String,
    pub customer_id: Option<String>,
    /// How the call left the flow; none when it ran none to an end.
    pub flow_outcome: Option<String>,
    /// How the call ended for the SIP side (`completed`, `refused`, …).
    pub outcome: Option<String>,
    pub flow_version: Option<String>,
    /// The way through the menu (typed digits hidden below admin).
    pub path: Option<String>,
    /// On a cluster, the node that took the call.
    pub node: Option<String>,
}

/// One ticket as listed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ListedTicket {
    /// The number read back to the caller, e.g. `T-000042`.
    pub ticket: String,
    pub kind: String,
    pub status: String,
    pub priority: i32,
    /// The caller's number (masked below supervisor).
    pub caller: String,
    pub customer_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub due_at: String,
    pub overdue: bool,
}

impl Db {
    /// The calls matching `filter`, newest first, and how many match in all.
    pub async fn filtered_calls(
        &self,
        filter: CallFilter,
    ) -> Result<(u64, Vec<ListedCall>), DbError> {
        let known = FLOW_OUTCOMES.map(|o| format!("'{o}'")).join(", ");
        let condition = match filter.outcome.as_deref() {
            None => String::new(),
            Some("other") => {
                format!(" AND (flow_outcome IS NULL OR flow_outcome NOT IN ({known}))")
            }
            Some(_) => " AND flow_outcome = $3".to_owned(),
        };
        let matching = format!("FROM calls WHERE started_at >= $1 AND started_at < $2{condition}");
        fn bind<'q>(sql: &'q str, filter: &CallFilter) -> AnyQuery<'q> {
            let query = sqlx::query(sql).bind(filter.from_ms).bind(filter.to_ms);
            match filter.outcome.as_deref() {
                Some(outcome) if outcome != "other" => query.bind(outcome.to_owned()),
                _ => query,
            }
        }
        let count = format!("SELECT COUNT(*) AS n {matching}");
        let total: i64 = bind(&count, &filter)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let select = format!(
            "SELECT caller, channel, customer_id, outcome, flow_version, flow_outcome, path,
                    started_at, ended_at, node
             {matching} ORDER BY started_at DESC, id LIMIT {} OFFSET {}",
            filter.limit.max(0),
            filter.offset.max(0)
        );
        let rows = bind(&select, &filter).fetch_all(self.pool()).await?;
        let calls = rows
            .iter()
            .map(|row| {
                Ok(ListedCall {
                    started_at: time(row.try_get("started_at")?),
                    ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(time),
                    caller: row.try_get("caller")?,
                    channel: row.try_get("channel")?,
                    customer_id: row.try_get("customer_id")?,
                    flow_outcome: row.try_get("flow_outcome")?,
                    outcome: row.try_get("outcome")?,
                    flow_version: row.try_get("flow_version")?,
                    path: row.try_get("path")?,
                    node: row.try_get("node")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((total as u64, calls))
    }

    /// The tickets matching `filter`, newest first, and how many match in all.
    pub async fn filtered_tickets(
        &self,
        filter: TicketFilter,
    ) -> Result<(u64, Vec<ListedTicket>), DbError> {
        let now = now_ms();
        let closed = CLOSED.map(|s| format!("'{s}'")).join(", ");
        let mut condition = String::new();
        let mut next = 3;
        for (value, column) in [(&filter.kind, "kind"), (&filter.status, "status")] {
            if value.is_some() {
                condition.push_str(&format!(" AND {column} = ${next}"));
                next += 1;
            }
        }
        if filter.overdue {
            condition.push_str(&format!(" AND status NOT IN ({closed}) AND due_at < {now}"));
        }
        let matching =
            format!("FROM tickets WHERE created_at >= $1 AND created_at < $2{condition}");
        fn bind<'q>(sql: &'q str, filter: &TicketFilter) -> AnyQuery<'q> {
            let mut query = sqlx::query(sql).bind(filter.from_ms).bind(filter.to_ms);
            for value in [&filter.kind, &filter.status].into_iter().flatten() {
                query = query.bind(value.clone());
            }
            query
        }
        let count = format!("SELECT COUNT(*) AS n {matching}");
        let total: i64 = bind(&count, &filter)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let select = format!(
            "SELECT number, kind, status, priority, phone, customer_id, created_at, due_at
             {matching} ORDER BY created_at DESC, seq DESC LIMIT {} OFFSET {}",
            filter.limit.max(0),
            filter.offset.max(0)
        );
        let rows = bind(&select, &filter).fetch_all(self.pool()).await?;
        let tickets = rows
            .iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let due_at: i64 = row.try_get("due_at")?;
                Ok(ListedTicket {
                    ticket: row.try_get("number")?,
                    kind: row.try_get("kind")?,
                    overdue: !CLOSED.contains(&status.as_str()) && due_at < now,
                    status,
                    priority: row.try_get("priority")?,
                    caller: row.try_get("phone")?,
                    customer_id: row.try_get("customer_id")?,
                    created_at: time(row.try_get("created_at")?),
                    due_at: time(due_at),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((total as u64, tickets))
    }
}

impl Db {
    /// When each call of `[from_ms, to_ms)` started, in Unix milliseconds.
    pub async fn call_starts(&self, from_ms: i64, to_ms: i64) -> Result<Vec<i64>, DbError> {
        let rows =
            sqlx::query("SELECT started_at FROM calls WHERE started_at >= $1 AND started_at < $2")
                .bind(from_ms)
                .bind(to_ms)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| row.try_get("started_at"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}
