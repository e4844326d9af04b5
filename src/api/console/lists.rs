//! The reports page's lists: the calls and the tickets of a period, filtered,
//! a page at a time, and the same rows as CSV. Both are masked per role by
//! [`crate::api::view`], as `GET /calls` is, before they leave the server.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Handles;
use crate::api::access::Caller;
use crate::api::error::{ApiError, Checked};
use crate::api::{csv, view};
use crate::crm::lists::{CallFilter, ListedCall, ListedTicket, TicketFilter};

/// The lists' routes (monitor).
pub fn routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new()
        .routes(routes!(calls))
        .routes(routes!(calls_csv))
        .routes(routes!(tickets))
        .routes(routes!(tickets_csv))
}

/// The most rows one CSV file holds.
const CSV_ROWS: i64 = 100_000;

/// How a call left the flow, as the report counts it.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeFilter {
    ContainedByIvr,
    TicketRegistered,
    ToAgent,
    Transferred,
    Abandoned,
    /// No flow outcome, or one the report does not name.
    Other,
}

impl OutcomeFilter {
    fn as_str(self) -> &'static str {
        match self {
            OutcomeFilter::ContainedByIvr => "contained_by_ivr",
            OutcomeFilter::TicketRegistered => "ticket_registered",
            OutcomeFilter::ToAgent => "to_agent",
            OutcomeFilter::Transferred => "transferred",
            OutcomeFilter::Abandoned => "abandoned",
            OutcomeFilter::Other => "other",
        }
    }
}

/// Which calls: a period as the report reads it, an outcome, a page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    /// First day (`2026-12-01`, in `time_zone`) or an RFC 3339 time; default today.
    #[param(schema_with = crate::api::report::day_or_time)]
    from: Option<String>,
    /// Last day, included, or an end time; default now.
    #[param(schema_with = crate::api::report::day_or_time)]
    to: Option<String>,
    /// The time zone of the days, e.g. `Europe/Kyiv`; default UTC.
    #[param(schema_with = crate::api::report::time_zone)]
    time_zone: Option<String>,
    #[param(inline)]
    outcome: Option<OutcomeFilter>,
    /// 1-based; default 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Rows a page; default 50.
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<u32>,
}

/// Which tickets: registered in a period, of a kind and status, overdue, a page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketsQuery {
    /// First day (`2026-12-01`, in `time_zone`) or an RFC 3339 time; default today.
    #[param(schema_with = crate::api::report::day_or_time)]
    from: Option<String>,
    /// Last day, included, or an end time; default now.
    #[param(schema_with = crate::api::report::day_or_time)]
    to: Option<String>,
    /// The time zone of the days, e.g. `Europe/Kyiv`; default UTC.
    #[param(schema_with = crate::api::report::time_zone)]
    time_zone: Option<String>,
    /// A ticket type, e.g. `line_repair`.
    kind: Option<String>,
    /// A status, e.g. `open`.
    status: Option<String>,
    /// Only open tickets past their due time.
    overdue: Option<bool>,
    /// 1-based; default 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Rows a page; default 50.
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<u32>,
}

/// A page of calls.
#[derive(Serialize, ToSchema)]
pub struct CallsPage {
    /// Calls matching the filters, on every page.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub calls: Vec<ListedCall>,
}

/// A page of tickets.
#[derive(Serialize, ToSchema)]
pub struct TicketsPage {
    /// Tickets matching the filters, on every page.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub tickets: Vec<ListedTicket>,
}

/// The calls of a period, newest first, filtered by outcome.
///
/// Callers' numbers are masked below supervisor and typed digits below admin.
#[utoipa::path(get, path = "/console/calls", params(CallsQuery), responses(
    (status = OK, body = CallsPage),
    (status = BAD_REQUEST, description = "The period or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn calls(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Checked(Query(query)): Checked<Query<CallsQuery>>,
) -> Response {
    let read = |offset, limit| {
        Ok(handles
            .db()
            .filtered_calls(call_filter(&query, offset, limit)?))
    };
    let page = |total, page, per_page, calls| CallsPage {
        total,
        page,
        per_page,
        calls,
    };
    answer(&caller, (query.page, query.per_page), None, read, page).await
}

/// The same calls as CSV, every page (at most 100 000 rows), masked alike;
/// `page` and `per_page` are checked but ignored.
#[utoipa::path(get, path = "/console/calls.csv", params(CallsQuery), responses(
    (status = OK, description = "A header line, then a call a line.", body = String, content_type = "text/csv"),
    (status = BAD_REQUEST, description = "The period or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn calls_csv(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Checked(Query(query)): Checked<Query<CallsQuery>>,
) -> Response {
    let read = |offset, limit| {
        Ok(handles
            .db()
            .filtered_calls(call_filter(&query, offset, limit)?))
    };
    let csv = Some(("calls", &CALL_COLUMNS[..]));
    answer(&caller, (query.page, query.per_page), csv, read, no_page).await
}

/// The tickets registered in a period, newest first, filtered.
///
/// Callers' numbers are masked below supervisor.
#[utoipa::path(get, path = "/console/tickets", params(TicketsQuery), responses(
    (status = OK, body = TicketsPage),
    (status = BAD_REQUEST, description = "The period or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn tickets(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Checked(Query(query)): Checked<Query<TicketsQuery>>,
) -> Response {
    let read = |offset, limit| {
        Ok(handles
            .db()
            .filtered_tickets(ticket_filter(&query, offset, limit)?))
    };
    let page = |total, page, per_page, tickets| TicketsPage {
        total,
        page,
        per_page,
        tickets,
    };
    answer(&caller, (query.page, query.per_page), None, read, page).await
}

/// The same tickets as CSV, every page (at most 100 000 rows), masked alike;
/// `page` and `per_page` are checked but ignored.
#[utoipa::path(get, path = "/console/tickets.csv", params(TicketsQuery), responses(
    (status = OK, description = "A header line, then a ticket a line.", body = String, content_type = "text/csv"),
    (status = BAD_REQUEST, description = "The period or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn tickets_csv(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Checked(Query(query)): Checked<Query<TicketsQuery>>,
) -> Response {
    let read = |offset, limit| {
        Ok(handles
            .db()
            .filtered_tickets(ticket_filter(&query, offset, limit)?))
    };
    let csv = Some(("tickets", &TICKET_COLUMNS[..]));
    answer(&caller, (query.page, query.per_page), csv, read, no_page).await
}

/// Reads the page asked for (or, for a CSV file named `csv`, every row) with
/// `read(offset, limit)`, and answers it masked for the caller's role.
async fn answer<R, S, Rows>(
    caller: &Caller,
    (page, per_page): (Option<u32>, Option<u32>),
    csv: Option<(&str, &[&str])>,
    read: impl FnOnce(i64, i64) -> Result<Rows, String>,
    page_of: impl FnOnce(u64, u32, u32, Vec<R>) -> S,
) -> Response
where
    R: Serialize,
    S: Serialize,
    Rows: std::future::Future<Output = Result<(u64, Vec<R>), crate::crm::DbError>>,
{
    let (page, per_page) = match paging(page, per_page) {
        Ok(paging) => paging,
        Err(error) => return bad_request(error),
    };
    let (offset, limit) = match csv {
        Some(_) => (0, CSV_ROWS),
        None => ((page as i64 - 1) * per_page as i64, per_page as i64),
    };
    let rows = match read(offset, limit) {
        Ok(rows) => rows.await,
        Err(error) => return bad_request(error),
    };
    match (rows, csv) {
        (Ok((_, rows)), Some((name, columns))) => csv_answer(caller, name, columns, &rows),
        (Ok((total, rows)), None) => masked(caller, page_of(total, page, per_page, rows)),
        (Err(error), _) => unavailable(error),
    }
}

/// A CSV file has no pages.
fn no_page<R>(_: u64, _: u32, _: u32, _: Vec<R>) {}

const CALL_COLUMNS: [&str; 10] = [
    "started_at",
    "ended_at",
    "caller",
    "channel",
    "customer_id",
    "flow_outcome",
    "outcome",
    "flow_version",
    "path",
    "node",
];

const TICKET_COLUMNS: [&str; 9] = [
    "ticket",
    "kind",
    "status",
    "priority",
    "caller",
    "customer_id",
    "created_at",
    "due_at",
    "overdue",
];

/// The page asked for and its size; out of range is refused, not guessed at.
fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), String> {
    let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(50));
    if !(1..=1_000_000).contains(&page) {
        return Err("page counts from 1 (at most 1000000)".into());
    }
    if !(1..=500).contains(&per_page) {
        return Err("per_page is 1 to 500".into());
    }
    Ok((page, per_page))
}

/// The answer to a query that cannot be read.
fn bad_request(error: String) -> Response {
    ApiError::answer(StatusCode::BAD_REQUEST, error)
}

fn period(
    from: &Option<String>,
    to: &Option<String>,
    time_zone: &Option<String>,
) -> Result<(i64, i64), String> {
    crate::report::period(
        from.as_deref(),
        to.as_deref(),
        time_zone.as_deref(),
        chrono::Utc::now(),
    )
}

fn call_filter(query: &CallsQuery, offset: i64, limit: i64) -> Result<CallFilter, String> {
    let (from_ms, to_ms) = period(&query.from, &query.to, &query.time_zone)?;
    Ok(CallFilter {
        from_ms,
        to_ms,
        outcome: query.outcome.map(|o| o.as_str().to_owned()),
        offset,
        limit,
    })
}

fn ticket_filter(query: &TicketsQuery, offset: i64, limit: i64) -> Result<TicketFilter, String> {
    let (from_ms, to_ms) = period(&query.from, &query.to, &query.time_zone)?;
    fn given(text: &Option<String>) -> Option<&str> {
        text.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }
    Ok(TicketFilter {
        from_ms,
        to_ms,
        kind: given(&query.kind).map(str::to_owned),
        status: given(&query.status).map(str::to_owned),
        overdue: query.overdue.unwrap_or(false),
        offset,
        limit,
    })
}

/// A page as JSON, masked for the caller's role.
fn masked(caller: &Caller, page: impl Serialize) -> Response {
    let mut value = serde_json::to_value(page).unwrap_or_default();
    view::mask(caller.role, &mut value);
    Json(value).into_response()
}

/// Rows as CSV, masked for the caller's role first, so the file says what the list says.
fn csv_answer(caller: &Caller, name: &str, columns: &[&str], rows: &[impl Serialize]) -> Response {
    let mut value = serde_json::to_value(rows).unwrap_or_default();
    view::mask(caller.role, &mut value);
    let cells = |row: &Value| -> Vec<String> {
        columns
            .iter()
            .map(|column| match &row[*column] {
                Value::Null => String::new(),
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect()
    };
    let rows: Vec<Vec<String>> = value
        .as_array()
        .map(|rows| rows.iter().map(cells).collect())
        .unwrap_or_default();
    let disposition = format!("attachment; filename=\"hotline-{name}.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv::write(columns, &rows),
    )
        .into_response()
}

fn unavailable(error: crate::crm::DbError) -> Response {
    tracing::warn!(%error, "lists: cannot read the database");
    ApiError::answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database cannot be read now; try again later",
    )
}
