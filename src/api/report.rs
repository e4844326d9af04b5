//! `GET /report`: the contact-centre report of a period, as JSON, and
//! `GET /report.csv?table=…`: one of its tables for a spreadsheet.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};

use super::csv;
use super::error::{ApiError, Checked};
use crate::api::Handles;
use crate::report::Report;

/// The period and service level of a report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Period {
    /// First day (`2026-12-01`, in `time_zone`) or an RFC 3339 time; default today.
    #[param(schema_with = day_or_time)]
    from: Option<String>,
    /// Last day, included, or an end time; default now. Not before `from`.
    #[param(schema_with = day_or_time)]
    to: Option<String>,
    /// The time zone of the days, e.g. `Europe/Kyiv`; default UTC.
    #[param(schema_with = time_zone)]
    time_zone: Option<String>,
    /// Calls answered within this many seconds meet the service level; default 20.
    #[serde(default = "default_service_level")]
    #[param(minimum = 0, maximum = 86_400)]
    service_level_seconds: u64,
}

fn default_service_level() -> u64 {
    20
}

/// The longest service level asked for: a day.
const MAX_SERVICE_LEVEL_SECONDS: u64 = 86_400;

/// A date or an RFC 3339 time, as [`crate::report::period`] reads them.
pub(super) fn day_or_time() -> Schema {
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    OneOfBuilder::new()
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        .into()
}

/// Every IANA time zone name the server knows.
pub(super) fn time_zone() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .into()
}

/// Calls, queue, menu choices, agents and tickets of a period.
#[utoipa::path(get, path = "/report", params(Period), responses(
    (status = OK, body = Report),
    (status = BAD_REQUEST, description = "The period or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
pub(super) async fn report(
    State(handles): State<Handles>,
    Checked(Query(period)): Checked<Query<Period>>,
) -> Response {
    match compute(&handles, &period).await {
        Ok(report) => Json(report).into_response(),
        Err(refusal) => refusal,
    }
}

/// Which table of the report a CSV holds.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct TableChoice {
    /// `calls`, `queue`, `menu`, `agents` or `tickets`.
    #[param(inline)]
    table: Table,
}

/// The report's tables, as CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Table {
    Calls,
    Queue,
    Menu,
    Agents,
    Tickets,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Calls => "calls",
            Table::Queue => "queue",
            Table::Menu => "menu",
            Table::Agents => "agents",
            Table::Tickets => "tickets",
        }
    }

    /// The table's columns.
    fn header(self) -> &'static [&'static str] {
        match self {
            Table::Calls | Table::Queue | Table::Tickets => &["figure", "value"],
            Table::Menu => &["node", "key", "count"],
            Table::Agents => &[
                "agent",
                "offered",
                "answered",
                "missed",
                "handled",
                "talk_seconds",
            ],
        }
    }
}

/// One table of the report of a period, as CSV (same figures as `GET /report`).
#[utoipa::path(get, path = "/report.csv", params(Period, TableChoice), responses(
    (status = OK, description = "The table, a header line first.", body = String, content_type = "text/csv"),
    (status = BAD_REQUEST, description = "The period, the table or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
pub(super) async fn report_csv(
    State(handles): State<Handles>,
    uri: Uri,
    Checked(Query(period)): Checked<Query<Period>>,
) -> Response {
    let table = match Query::<TableChoice>::try_from_uri(&uri) {
        Ok(Query(choice)) => choice.table,
        Err(refusal) => return ApiError::answer(refusal.status(), refusal.body_text()),
    };
    let report = match compute(&handles, &period).await {
        Ok(report) => report,
        Err(refusal) => return refusal,
    };
    let name = table.name();
    let disposition = format!("attachment; filename=\"hotline-{name}.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv::write(table.header(), &rows(&report, table)),
    )
        .into_response()
}

/// A table's rows: the fields of a group of figures as `figure,value`
/// (shares 0 to 1, times in milliseconds, empty when undefined, as in the
/// JSON), or one row per menu choice or agent.
fn rows(report: &Report, table: Table) -> Vec<Vec<String>> {
    let figures = |value: serde_json::Value| -> Vec<Vec<String>> {
        value
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(name, v)| {
                        let v = if v.is_null() {
                            String::new()
                        } else {
                            v.to_string()
                        };
                        vec![name.clone(), v]
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    match table {
        Table::Calls => figures(to_json(&report.calls)),
        Table::Queue => figures(to_json(&report.queue)),
        Table::Tickets => figures(to_json(&report.tickets)),
        Table::Menu => report
            .menu
            .iter()
            .map(|m| vec![m.node.clone(), m.key.clone(), m.count.to_string()])
            .collect(),
        Table::Agents => report
            .agents
            .iter()
            .map(|a| {
                vec![
                    a.agent.clone(),
                    a.offered.to_string(),
                    a.answered.to_string(),
                    a.missed.to_string(),
                    a.handled.to_string(),
                    (a.talk_ms / 1000).to_string(),
                ]
            })
            .collect(),
    }
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// The report of the period asked for, or the answer that says why not.
async fn compute(handles: &Handles, period: &Period) -> Result<Report, Response> {
    if period.service_level_seconds > MAX_SERVICE_LEVEL_SECONDS {
        let error = format!("service_level_seconds is at most {MAX_SERVICE_LEVEL_SECONDS} (a day)");
        return Err(ApiError::answer(StatusCode::BAD_REQUEST, error));
    }
    let (from_ms, to_ms) = crate::report::period(
        period.from.as_deref(),
        period.to.as_deref(),
        period.time_zone.as_deref(),
        chrono::Utc::now(),
    )
    .map_err(|error| ApiError::answer(StatusCode::BAD_REQUEST, error.to_string()))?;
    let input = handles
        .db()
        .report_input(from_ms, to_ms, period.service_level_seconds)
        .await
        .map_err(|error| {
            // The database's own words stay in the log.
            tracing::warn!(%error, "report: cannot read the database");
            ApiError::answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be read now; try again later",
            )
        })?;
    Ok(crate::report::compute(&input))
}
