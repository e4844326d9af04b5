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
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let role = caller.role;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let (replay, live) = services.queue().subscribe(last);
    let gap = replay
        .gap
        .then(|| Ok::<_, Infallible>(Event::default().event("gap").data("{}")));
    let replayed = replay
        .events
        .into_iter()
        .map(move |n| Ok::<_, Infallible>(numbered(role, &n)));
    // A subscriber too slow to keep up misses events rather than holding up the queue.
    let live =
        BroadcastStream::new(live).filter_map(move |item| Some(Ok(numbered(role, &item.ok()?))));
    let mut every_second = tokio::time::interval(SNAPSHOT_EVERY);
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let snapshots = IntervalStream::new(every_second).then(move |_| {
        let queue = services.queue().clone();
        let targets = targets.clone();
        async move {
            let mut snapshot = queue.snapshot().await;
            super::console::rating::rate_live(&mut snapshot, &targets);
            super::view::mask(role, &mut snapshot);
            Ok(Event::default()
                .event("snapshot")
                .data(snapshot.to_string()))
        }
    });
    let stream = tokio_stream::iter(gap.into_iter().chain(replayed))
        .chain(live)
        .merge(snapshots)
        // A revoked token's stream ends within a second.
        .take_while(move |_| caller.still_admitted());
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// How often the event stream carries a snapshot.
const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn numbered(role: super::access::Role, numbered: &Numbered) -> Event {
    let mut json = (*numbered.event).clone();
    super::view::mask(role, &mut json);
    Event::default()
        .id(numbered.id.to_string())
        .data(json.to_string())
}

/// `{"state": "login" | "logout" | "pause" | "unpause", "reason": "lunch"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateChange {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn set_state(
    State(services): State<Services>,
    Path(agent): Path<String>,
    Json(change): Json<StateChange>,
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
    match services.queue().set_agent(&agent, input).await {
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
