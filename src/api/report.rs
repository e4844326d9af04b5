//! `GET /report`: the contact-centre report of a period, as JSON.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};

use super::error::{ApiError, Checked};
use crate::call::Services;
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
fn day_or_time() -> Schema {
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
fn time_zone() -> Schema {
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
    State(services): State<Services>,
    Checked(Query(period)): Checked<Query<Period>>,
) -> Response {
    if period.service_level_seconds > MAX_SERVICE_LEVEL_SECONDS {
        let error = format!("service_level_seconds is at most {MAX_SERVICE_LEVEL_SECONDS} (a day)");
        return ApiError::answer(StatusCode::BAD_REQUEST, error);
    }
    let (from_ms, to_ms) = match crate::report::period(
        period.from.as_deref(),
        period.to.as_deref(),
        period.time_zone.as_deref(),
        chrono::Utc::now(),
    ) {
        Ok(range) => range,
        Err(error) => return ApiError::answer(StatusCode::BAD_REQUEST, error.to_string()),
    };
    match services
        .db()
        .report_input(from_ms, to_ms, period.service_level_seconds)
        .await
    {
        Ok(input) => Json(crate::report::compute(&input)).into_response(),
        Err(error) => {
            // The database's own words stay in the log.
            tracing::warn!(%error, "report: cannot read the database");
            ApiError::answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be read now; try again later",
            )
        }
    }
}
