//! The queue on the admin API: agents and their states, changing a state, and
//! the live event stream (queue log and agents' screen-pop context) as
//! server-sent events for agent desktops, wallboards and the CRM.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::Value;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

use super::access::Caller;
use super::console::Targets;
use crate::call::Services;
use crate::queue::AgentInput;
use crate::server::journal::Numbered;

/// The queue's routes that only read (monitor).
pub fn read_routes() -> Router<Services> {
    Router::new()
        .route("/queue", get(snapshot))
        .route("/queue/events", get(events))
}

/// The queue's routes that change it (supervisor).
pub fn write_routes() -> Router<Services> {
    Router::new().route("/agents/{agent}/state", post(set_state))
}

async fn snapshot(
    State(services): State<Services>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut snapshot = services.queue().snapshot().await;
    super::view::mask(caller.role, &mut snapshot);
    Json(snapshot)
}

/// Every queue event as it happens, one JSON object per `data:` line with
/// its id (`id:`), masked for the caller's role, for as long as the
/// caller's token is valid. A reader that reconnects with `Last-Event-ID`
/// first gets what it missed (or a `gap` event when that is no longer
/// kept). Once a second a `snapshot` event carries the queues and agents
/// as `GET /queue` shows them, with each queue's target and ratings.
async fn events(
    State(services): State<Services>,
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
    stream(services, &headers, reader)
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
    services: Services,
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
    let (replay, live) = services.queue().subscribe(last);
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
        let queue = services.queue().clone();
        let shape = shape.clone();
        async move {
            let mut snapshot = queue.snapshot().await;
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateChange {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn set_state(
    State(services): State<Services>,
    Path(agent): Path<String>,
    Json(change): Json<StateChange>,
) -> (StatusCode, Json<serde_json::Value>) {
    change_state(&services, &agent, change).await
}

/// Changes `agent`'s state as asked; the answer says why not.
pub(super) async fn change_state(
    services: &Services,
    agent: &str,
    change: StateChange,
) -> (StatusCode, Json<serde_json::Value>) {
    let input = match change.state.as_str() {
        "login" => AgentInput::Login,
        "logout" => AgentInput::Logout,
        "pause" => AgentInput::Pause {
            reason: change.reason.unwrap_or_else(|| "paused".into()),
        },
        "unpause" => AgentInput::Unpause,
        other => {
            let error = format!("unknown state `{other}` (login, logout, pause, unpause)");
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": error })),
            );
        }
    };
    match services.queue().set_agent(agent, input).await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({ "agent": agent }))),
        Err(error) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": error })),
        ),
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
