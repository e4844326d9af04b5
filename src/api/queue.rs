//! The queue on the admin API: agents and their states, changing a state, and
//! the live event stream (queue log and agents' screen-pop context) as
//! server-sent events for agent desktops, wallboards and the CRM.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::Caller;
use super::error::{ApiError, Checked};
use crate::call::Services;
use crate::queue::{AcdError, AgentInput};
use crate::server::queue::{AgentChangeError, QueueSnapshot};

/// The queue's routes that only read (monitor).
pub fn read_routes() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(snapshot))
        .routes(routes!(events))
}

/// The queue's routes that change it (supervisor).
pub fn write_routes() -> OpenApiRouter<Services> {
    OpenApiRouter::new().routes(routes!(set_state))
}

/// Agents with their states, and the callers waiting in each queue.
///
/// Callers' numbers and names are masked below supervisor.
#[utoipa::path(get, path = "/queue", responses((status = OK, body = QueueSnapshot)))]
async fn snapshot(
    State(services): State<Services>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut snapshot = serde_json::to_value(services.queue().snapshot().await).unwrap_or_default();
    super::view::mask(caller.role, &mut snapshot);
    Json(snapshot)
}

/// Every queue event as it happens, as server-sent events.
///
/// One JSON object per `data:` line, masked for the caller's role, for as
/// long as the caller's token is valid.
#[utoipa::path(get, path = "/queue/events", responses(
    (status = OK, description = "An endless stream of events.", body = String, content_type = "text/event-stream")
))]
async fn events(
    State(services): State<Services>,
    Extension(caller): Extension<Caller>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let role = caller.role;
    let stream = BroadcastStream::new(services.queue().subscribe())
        // A revoked token's stream ends at the next event.
        .take_while(move |_| caller.still_admitted())
        .filter_map(move |item| {
            // A subscriber too slow to keep up misses events rather than holding up the queue.
            let mut json = item.ok()?;
            super::view::mask(role, &mut json);
            Some(Ok(Event::default().data(json.to_string())))
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `{"state": "login" | "logout" | "pause" | "unpause", "reason": "lunch"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StateChange {
    /// `login`, `logout`, `pause` or `unpause`; another is answered 400.
    #[schema(value_type = StateName)]
    state: String,
    /// Why the agent pauses; shown to supervisors.
    #[serde(default)]
    reason: Option<String>,
}

/// The states an agent can be asked to go to; only in the document, since
/// the handler answers an unknown one itself (400, naming the valid ones).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum StateName {
    Login,
    Logout,
    Pause,
    Unpause,
}

/// The agent whose state changed.
#[derive(Serialize, utoipa::ToSchema)]
struct StateChanged {
    agent: String,
}

/// Logs an agent in or out, pauses or unpauses them.
#[utoipa::path(post, path = "/agents/{agent}/state",
    params(("agent" = String, Path, description = "The agent's id, as in the configuration.")),
    request_body = StateChange,
    responses(
        (status = OK, description = "The state changed.", body = StateChanged),
        (status = BAD_REQUEST, description = "The body is not JSON, or names no state.", body = ApiError),
        (status = NOT_FOUND, description = "No agent has this id.", body = ApiError),
        (status = CONFLICT, description = "The change is not possible now, e.g. a pause while logged out.", body = ApiError),
        (status = SERVICE_UNAVAILABLE, description = "The queue is not running.", body = ApiError),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`.", body = ApiError),
        (status = UNPROCESSABLE_ENTITY, description = "The JSON is not a state change.", body = ApiError),
    ))]
async fn set_state(
    State(services): State<Services>,
    Path(agent): Path<String>,
    Checked(Json(change)): Checked<Json<StateChange>>,
) -> Response {
    let input = match change.state.as_str() {
        "login" => AgentInput::Login,
        "logout" => AgentInput::Logout,
        "pause" => AgentInput::Pause {
            reason: change.reason.unwrap_or_else(|| "paused".into()),
        },
        "unpause" => AgentInput::Unpause,
        other => {
            let error = format!("unknown state `{other}` (login, logout, pause, unpause)");
            return ApiError::answer(StatusCode::BAD_REQUEST, error);
        }
    };
    match services.queue().set_agent(&agent, input).await {
        Ok(()) => Json(StateChanged { agent }).into_response(),
        Err(error) => {
            let status = match &error {
                AgentChangeError::Refused(AcdError::UnknownAgent(_)) => StatusCode::NOT_FOUND,
                AgentChangeError::Refused(_) => StatusCode::CONFLICT,
                AgentChangeError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
            };
            ApiError::answer(status, error.to_string())
        }
    }
}

/// Asks the server whose admin API listens at `address` to change an agent's
/// state, with a bearer `token` when given; the error carries the server's reason.
pub async fn set_agent_state(
    address: std::net::SocketAddr,
    token: Option<&str>,
    agent: &str,
    state: &str,
    reason: Option<&str>,
) -> Result<(), String> {
    let url = format!("http://{address}/agents/{agent}/state");
    let body = serde_json::json!({ "state": state, "reason": reason });
    let mut request = reqwest::Client::new().post(&url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("the server's admin API at {address} is not reachable: {e}"))?;
    if response.status().is_success() {
        return Ok(());
    }
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    Err(answer["error"].as_str().unwrap_or("refused").to_owned())
}
