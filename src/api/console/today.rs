//! `GET /console/today`: the wallboard's figures of today, per queue against
//! its own service-level target, and the IVR's, from the same code as
//! `hotline calls report`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::error::{ApiError, Checked};
use crate::api::Handles;
use crate::queue::ServiceLevel;
use crate::report::{QueueFigures, ReportInput};

/// Each queue's service-level target, in the configuration's order.
#[derive(Clone, Default)]
pub struct Targets(Arc<Vec<(String, ServiceLevel)>>);

impl Targets {
    /// The targets of the configured queues.
    pub fn of(queues: &[crate::queue::QueueConfig]) -> Targets {
        Targets(Arc::new(
            queues
                .iter()
                .map(|q| (q.name.clone(), q.service_level))
                .collect(),
        ))
    }

    /// Targets from names and settings.
    pub fn from_pairs(pairs: Vec<(String, ServiceLevel)>) -> Targets {
        Targets(Arc::new(pairs))
    }

    /// A queue's target; the default (80 % in 20 s) for one not configured.
    pub fn get(&self, queue: &str) -> ServiceLevel {
        self.0
            .iter()
            .find(|(name, _)| name == queue)
            .map(|(_, target)| *target)
            .unwrap_or_default()
    }
}

/// The routes; they expect the [`Targets`] as an extension.
pub(super) fn routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new().routes(routes!(today))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Zone {
    /// The time zone whose day "today" is, e.g. `Europe/Kyiv`; default UTC.
    #[param(schema_with = super::super::report::time_zone)]
    time_zone: Option<String>,
}

/// One queue's figures of today and its target.
#[derive(Serialize)]
struct QueueToday {
    name: String,
    target: ServiceLevel,
    #[serde(flatten)]
    figures: QueueFigures,
    rating: Option<super::rating::Rating>,
}

/// Today's figures for the wallboard: each queue's against its own
/// service-level target (with a rating), and the IVR's calls and tickets.
#[utoipa::path(get, path = "/console/today", params(Zone), responses(
    (status = OK, description = "`queues`: each queue's figures, `target` and `rating`; `ivr`: calls, containment and tickets.", body = Object),
    (status = BAD_REQUEST, description = "The time zone is not known.", body = ApiError),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = ApiError),
))]
async fn today(
    State(handles): State<Handles>,
    axum::Extension(targets): axum::Extension<Targets>,
    Checked(Query(zone)): Checked<Query<Zone>>,
) -> Response {
    let now = chrono::Utc::now();
    let (from_ms, to_ms) = match crate::report::period(None, None, zone.time_zone.as_deref(), now) {
        Ok(range) => range,
        Err(error) => return ApiError::answer(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let input = match handles.db().report_input(from_ms, to_ms, 20).await {
        Ok(input) => input,
        Err(error) => {
            tracing::warn!(%error, "today's figures not readable");
            let message = "the database is not answering; figures will return when it does";
            return ApiError::answer(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    Json(figures(&input, &targets)).into_response()
}

fn figures(input: &ReportInput, targets: &Targets) -> serde_json::Value {
    let report = crate::report::compute(input);
    let queues: Vec<QueueToday> = targets
        .0
        .iter()
        .map(|(name, target)| {
            let figures = crate::report::queue_compute(input, name, target.seconds.into());
            QueueToday {
                name: name.clone(),
                target: *target,
                rating: super::rating::service_level(figures.service_level, *target),
                figures,
            }
        })
        .collect();
    serde_json::json!({
        "queues": queues,
        "ivr": {
            "calls": report.calls.total,
            "containment": report.calls.containment,
            "tickets_registered": report.tickets.registered,
            "tickets_open": report.tickets.open,
            "tickets_overdue": report.tickets.overdue,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_queue_is_measured_against_its_own_target() {
        let targets = Targets::from_pairs(vec![
            (
                "support".into(),
                ServiceLevel {
                    percent: 80,
                    seconds: 20,
                },
            ),
            (
                "sales".into(),
                ServiceLevel {
                    percent: 90,
                    seconds: 10,
                },
            ),
        ]);
        let answered = |queue: &str, waited_ms: u64| json!({"event": "answered", "queue": queue, "waited_ms": waited_ms, "callback": false});
        let input = ReportInput {
            queue_events: vec![
                answered("support", 15_000),
                answered("sales", 15_000),
                answered("sales", 5_000),
            ],
            ..ReportInput::default()
        };
        let today = figures(&input, &targets);
        assert_eq!(today["queues"][0]["name"], "support");
        assert_eq!(today["queues"][0]["answered"], 1);
        assert_eq!(today["queues"][0]["service_level"], 1.0);
        assert_eq!(today["queues"][1]["answered"], 2);
        assert_eq!(today["queues"][1]["service_level"], 0.5);
        assert_eq!(today["queues"][1]["target"]["percent"], 90);
        assert_eq!(today["queues"][1]["rating"]["level"], "red");
    }
}
