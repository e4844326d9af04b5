//! `GET /console/series`: the report's figures over time, for the reports
//! page's charts: calls per hour of the day, and calls and service level per
//! day, each day's computed by `crate::report::compute` like `hotline calls
//! report` for that day.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Handles;
use crate::api::error::{ApiError, Checked};

/// The series' route (monitor).
pub fn routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new().routes(routes!(series))
}

/// The most days one answer covers; each is a report of its own.
const MAX_DAYS: usize = 62;

/// A period as the report reads it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// First day (`2026-12-01`, in `time_zone`) or an RFC 3339 time; default today.
    #[param(schema_with = crate::api::report::day_or_time)]
    from: Option<String>,
    /// Last day, included, or an end time; default now.
    #[param(schema_with = crate::api::report::day_or_time)]
    to: Option<String>,
    /// The time zone of the days and hours, e.g. `Europe/Kyiv`; default UTC.
    #[param(schema_with = crate::api::report::time_zone)]
    time_zone: Option<String>,
    /// Calls answered within this many seconds meet the service level; default 20.
    #[param(minimum = 0, maximum = 86_400)]
    service_level_seconds: Option<u64>,
}

/// The period's figures over time.
#[derive(Serialize, ToSchema)]
pub struct Series {
    /// Calls started in each hour of the day (0 to 23, in the time zone), over the whole period.
    pub calls_per_hour: Vec<u64>,
    /// Each day of the period, oldest first (at most 62).
    pub days: Vec<DayFigures>,
}

/// One day of the period.
#[derive(Serialize, ToSchema)]
pub struct DayFigures {
    /// `2026-12-05`, in the time zone.
    pub day: String,
    pub calls: u64,
    /// Share answered within the service level, 0 to 1; none without queued callers.
    pub service_level: Option<f64>,
}

/// Calls per hour of the day and, per day, calls and service level.
#[utoipa::path(get, path = "/console/series", params(SeriesQuery), responses(
    (status = OK, body = Series),
    (status = BAD_REQUEST, description = "The period or a parameter cannot be read.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn series(
    State(handles): State<Handles>,
    Checked(Query(query)): Checked<Query<SeriesQuery>>,
) -> Response {
    let seconds = query.service_level_seconds.unwrap_or(20);
    if seconds > 86_400 {
        let error = "service_level_seconds is at most 86400 (a day)";
        return ApiError::answer(StatusCode::BAD_REQUEST, error);
    }
    let period = crate::report::period(
        query.from.as_deref(),
        query.to.as_deref(),
        query.time_zone.as_deref(),
        chrono::Utc::now(),
    );
    let (from_ms, to_ms) = match period {
        Ok(period) => period,
        Err(error) => return ApiError::answer(StatusCode::BAD_REQUEST, error),
    };
    // `period` accepted the name, so it parses.
    let zone: chrono_tz::Tz = query
        .time_zone
        .as_deref()
        .and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let db = handles.db();
    let starts = match db.call_starts(from_ms, to_ms).await {
        Ok(starts) => starts,
        Err(error) => return unavailable(error),
    };
    let mut calls_per_hour = vec![0; 24];
    for start in starts {
        if let Some(local) = zone.timestamp_millis_opt(start).single() {
            calls_per_hour[local.hour() as usize] += 1;
        }
    }
    let mut days = Vec::new();
    let mut start = from_ms;
    while start < to_ms && days.len() < MAX_DAYS {
        let Some(local) = zone.timestamp_millis_opt(start).single() else {
            break;
        };
        let date = local.date_naive();
        let next = date
            .succ_opt()
            .map_or(to_ms, |d| crate::report::day_start(d, zone));
        let end = next.min(to_ms).max(start + 1);
        let input = match db.report_input(start, end, seconds).await {
            Ok(input) => input,
            Err(error) => return unavailable(error),
        };
        let report = crate::report::compute(&input);
        days.push(DayFigures {
            day: date.to_string(),
            calls: report.calls.total,
            service_level: report.queue.service_level,
        });
        start = end;
    }
    Json(Series {
        calls_per_hour,
        days,
    })
    .into_response()
}

fn unavailable(error: crate::crm::DbError) -> Response {
    tracing::warn!(%error, "series: cannot read the database");
    ApiError::answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database cannot be read now; try again later",
    )
}
