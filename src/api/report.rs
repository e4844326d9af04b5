//! `GET /report`: the contact-centre report of a period, as JSON, and
//! `GET /report.csv?table=…`: one of its tables for a spreadsheet.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::csv;
use crate::call::Services;
use crate::report::Report;

#[derive(Debug, Deserialize)]
pub(super) struct Period {
    /// First day (`2026-12-01`, UTC) or an RFC 3339 time; default today.
    from: Option<String>,
    /// Last day, included, or an end time; default now.
    to: Option<String>,
    /// The time zone of the days, e.g. `Europe/Kyiv`; default UTC.
    time_zone: Option<String>,
    #[serde(default = "default_service_level")]
    service_level_seconds: u64,
    /// For CSV: which table (`calls`, `queue`, `menu`, `agents`, `tickets`).
    table: Option<String>,
}

fn default_service_level() -> u64 {
    20
}

pub(super) async fn report(
    State(services): State<Services>,
    Query(period): Query<Period>,
) -> Response {
    match compute(&services, &period).await {
        Ok(report) => Json(report).into_response(),
        Err(refusal) => refusal,
    }
}

pub(super) async fn report_csv(
    State(services): State<Services>,
    Query(period): Query<Period>,
) -> Response {
    let table = period.table.clone().unwrap_or_default();
    let Some(header) = TABLES
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, h)| *h)
    else {
        let names: Vec<&str> = TABLES.iter().map(|(name, _)| *name).collect();
        let message = format!("`table` must be one of {}\n", names.join(", "));
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    let report = match compute(&services, &period).await {
        Ok(report) => report,
        Err(refusal) => return refusal,
    };
    let disposition = format!("attachment; filename=\"hotline-{table}.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv::write(header, &rows(&report, &table)),
    )
        .into_response()
}

/// The report's tables and their columns.
const TABLES: &[(&str, &[&str])] = &[
    ("calls", &["figure", "value"]),
    ("queue", &["figure", "value"]),
    ("menu", &["node", "key", "count"]),
    (
        "agents",
        &[
            "agent",
            "offered",
            "answered",
            "missed",
            "handled",
            "talk_seconds",
        ],
    ),
    ("tickets", &["figure", "value"]),
];

/// A table's rows: the fields of a group of figures as `figure,value`
/// (shares 0 to 1, times in milliseconds, empty when undefined, as in the
/// JSON), or one row per menu choice or agent.
fn rows(report: &Report, table: &str) -> Vec<Vec<String>> {
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
        "calls" => figures(to_json(&report.calls)),
        "queue" => figures(to_json(&report.queue)),
        "tickets" => figures(to_json(&report.tickets)),
        "menu" => report
            .menu
            .iter()
            .map(|m| vec![m.node.clone(), m.key.clone(), m.count.to_string()])
            .collect(),
        "agents" => report
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
        _ => Vec::new(),
    }
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// The report of the period asked for, or the answer that says why not.
async fn compute(services: &Services, period: &Period) -> Result<Report, Response> {
    let (from_ms, to_ms) = crate::report::period(
        period.from.as_deref(),
        period.to.as_deref(),
        period.time_zone.as_deref(),
        chrono::Utc::now(),
    )
    .map_err(|error| (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response())?;
    let input = services
        .db()
        .report_input(from_ms, to_ms, period.service_level_seconds)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "report not readable");
            let message = "the database is not answering; try again shortly\n";
            (StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        })?;
    Ok(crate::report::compute(&input))
}
