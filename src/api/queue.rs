//! The queue on the admin API: agents and their states, changing a state, and
//! the live event stream (queue log and agents' screen-pop context) as
//! server-sent events for agent desktops, wallboards and the CRM.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::Caller;
use super::console::Targets;
use super::error::{ApiError, Checked};
use crate::api::Handles;
use crate::call::queue::{AgentChangeError, QueueSnapshot};
use crate::queue::{AcdError, AgentInput};
use crate::server::journal::Numbered;

/// The queue's routes that only read (monitor).
pub fn read_routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new()
        .routes(routes!(snapshot))
        .routes(routes!(events))
}

/// The queue's routes that change it (supervisor).
pub fn write_routes() -> OpenApiRouter<Handles> {
    OpenApiRouter::new().routes(routes!(set_state))
}

/// Agents with their states, and the callers waiting in each queue.
///
/// Callers' numbers and names are masked below supervisor.
#[utoipa::path(get, path = "/queue", responses((status = OK, body = QueueSnapshot)))]
async fn snapshot(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut snapshot = serde_json::to_value(handles.queue().snapshot().await).unwrap_or_default();
    super::view::mask(caller.role, &mut snapshot);
    Json(snapshot)
}

/// Every queue event as it happens, as server-sent events.
///
/// One JSON object per `data:` line with its id (`id:`), masked for the
/// caller's role, for as long as the caller's token or session is valid. A
/// reader that reconnects with `Last-Event-ID` first gets what it missed (or
/// a `gap` event when that is no longer kept). Once a second a `snapshot`
/// event carries the queues and agents as `GET /queue` shows them, with each
/// queue's target and ratings.
#[utoipa::path(get, path = "/queue/events",
    params(("Last-Event-ID" = Option<u64>, Header, description = "The id of the last event the reader saw; the stream starts after it.")),
    responses(
        (status = OK, description = "An endless stream of events.", body = String, content_type = "text/event-stream")
    ))]
async fn events(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
    Extension(targets): Extension<Targets>,
    headers: HeaderMap,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>> + use<>> {
    let role = caller.role;
    let reader = Reader {
        event: move |json: &mut Value| {
            super::view::mask(role, json);
            true
        },
        snapshot: move |snapshot: &mut Value| {
            super::console::rating::rate_live(snapshot, &targets);
            super::view::mask(role, snapshot);
        },
        // A revoked token's stream ends within a second.
        admitted: move || caller.still_admitted(),
    };
    stream(handles, &headers, reader)
}

/// How one reader sees the event stream.
pub(super) struct Reader<E, S, A> {
    /// Masks an event for the reader; false leaves it out.
    pub event: E,
    /// Shapes and masks the snapshot for the reader.
    pub snapshot: S,
    /// Whether the reader may still read; the stream ends once not.
    pub admitted: A,
}

/// The event stream for `reader`: what it missed since its `Last-Event-ID`
/// (or a `gap` event), live events with their ids, and a snapshot each second.
pub(super) fn stream<E, S, A>(
    handles: Handles,
    headers: &HeaderMap,
    reader: Reader<E, S, A>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>> + use<E, S, A>>
where
    E: Fn(&mut Value) -> bool + Clone + Send + Sync + 'static,
    S: Fn(&mut Value) + Clone + Send + Sync + 'static,
    A: Fn() -> bool + Send + 'static,
{
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let (replay, live) = handles.queue().subscribe(last);
    let gap = replay
        .gap
        .then(|| Ok::<_, Infallible>(Event::default().event("gap").data("{}")));
    let view = reader.event.clone();
    let replayed = replay
        .events
        .into_iter()
        .filter_map(move |n| numbered(&view, &n).map(Ok::<_, Infallible>));
    let view = reader.event;
    // A subscriber too slow to keep up misses events rather than holding up the queue.
    let live =
        BroadcastStream::new(live).filter_map(move |item| numbered(&view, &item.ok()?).map(Ok));
    let mut every_second = tokio::time::interval(SNAPSHOT_EVERY);
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let shape = reader.snapshot;
    let snapshots = IntervalStream::new(every_second).then(move |_| {
        let queue = handles.queue().clone();
        let shape = shape.clone();
        async move {
            let mut snapshot = serde_json::to_value(queue.snapshot().await).unwrap_or_default();
            shape(&mut snapshot);
            Ok(Event::default()
                .event("snapshot")
                .data(snapshot.to_string()))
        }
    });
    let admitted = reader.admitted;
    let stream = tokio_stream::iter(gap.into_iter().chain(replayed))
        .chain(live)
        .merge(snapshots)
        .take_while(move |_| admitted());
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// How often the event stream carries a snapshot.
const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The SSE event of a numbered queue event, as `view` lets the reader see it.
fn numbered(view: &impl Fn(&mut Value) -> bool, numbered: &Numbered) -> Option<Event> {
    let mut json = (*numbered.event).clone();
    view(&mut json).then(|| {
        Event::default()
            .id(numbered.id.to_string())
            .data(json.to_string())
    })
}

/// `{"state": "login" | "logout" | "pause" | "unpause", "reason": "lunch"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StateChange {
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
    State(handles): State<Handles>,
    Path(agent): Path<String>,
    Checked(Json(change)): Checked<Json<StateChange>>,
) -> Response {
    change_state(&handles, agent, change).await
}

/// Changes `agent`'s state as asked; the answer says why not.
pub(super) async fn change_state(
    handles: &Handles,
    agent: String,
    change: StateChange,
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
    match handles.queue().set_agent(&agent, input).await {
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
