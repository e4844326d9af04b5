//! `GET /report`: the contact-centre report of a period, as JSON.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::call::Services;

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
}

fn default_service_level() -> u64 {
    20
}

pub(super) async fn report(
    State(services): State<Services>,
    Query(period): Query<Period>,
) -> Response {
    let (from_ms, to_ms) = match crate::report::period(
        period.from.as_deref(),
        period.to.as_deref(),
        period.time_zone.as_deref(),
        chrono::Utc::now(),
    ) {
        Ok(range) => range,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    match services
        .db()
        .report_input(from_ms, to_ms, period.service_level_seconds)
        .await
    {
        Ok(input) => Json(crate::report::compute(&input)).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")).into_response(),
    }
}
