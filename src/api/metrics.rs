//! `GET /metrics`: the server's figures in the Prometheus text format.
//!
//! The counters come from [`crate::metrics::Metrics`]; what is already known
//! elsewhere is read now: calls in progress and the SIP limits' counters from
//! the call layer, the queue from its snapshot, devices from the registrar and
//! tickets pending from the database (left out when it does not answer in
//! time, so a database outage never holds up a scrape).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Handles;
use crate::api::sip_websocket::WebSocketStats;
use crate::call::queue::QueueSnapshot;
use crate::metrics::scrape::{self, Live, QueueNow};
use crate::server::registrar::RegistrarHandle;

/// How long the scrape waits for the database's count of pending tickets.
const DB_WAIT: Duration = Duration::from_millis(500);

/// The route of this file.
pub fn router(
    handles: Handles,
    registrar: RegistrarHandle,
    websockets: Arc<WebSocketStats>,
) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .with_state((handles, registrar, websockets))
}

/// The server's figures in the Prometheus text format (version 0.0.4).
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = OK, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
async fn metrics(
    State((handles, registrar, websockets)): State<(Handles, RegistrarHandle, Arc<WebSocketStats>)>,
) -> impl IntoResponse {
    let (snapshot, pending) = tokio::join!(
        handles.queue().local_snapshot(),
        tokio::time::timeout(DB_WAIT, handles.db().tickets_pending()),
    );
    let limits = handles.sip_limit_stats();
    let read = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let mut live = Live {
        calls_active: handles.calls_active(),
        calls_rejected: vec![
            ("limit", read(&limits.calls_over_limit)),
            ("source_limit", read(&limits.calls_refused)),
            ("overload", read(&limits.calls_overloaded)),
            ("record_backlog", read(&limits.calls_refused_record_backlog)),
            ("lookup_latency", read(&limits.calls_refused_lookup_latency)),
            ("call_rate", read(&limits.calls_refused_call_rate)),
        ],
        sip_limited: vec![
            ("rejected", read(&limits.rejected)),
            ("dropped", read(&limits.dropped)),
        ],
        tcp_connections: read(&limits.tcp_open),
        websocket_connections: read(&websockets.open),
        websocket_events: vec![
            ("accepted", read(&websockets.accepted)),
            ("refused", read(&websockets.refused)),
            ("received", read(&websockets.received)),
            ("sent", read(&websockets.sent)),
            ("unreadable", read(&websockets.unreadable)),
        ],
        registrations: registrar
            .registered()
            .iter()
            .map(|(_, devices)| devices.len() as u64)
            .sum(),
        tickets_pending: pending.ok().and_then(Result::ok),
        db_write_queue_depth: handles.record_backlog() as u64,
        ..Live::default()
    };
    read_queue(&snapshot, &mut live);
    let text = scrape::encode(handles.metrics(), &live);
    ([(header::CONTENT_TYPE, scrape::CONTENT_TYPE)], text)
}

/// Takes the queues' waiting callers and the agents' states from the queue's
/// snapshot (counts only: the callers' numbers in it stay here).
fn read_queue(snapshot: &QueueSnapshot, live: &mut Live) {
    for queue in &snapshot.queues {
        let longest_ms = queue.waiting.iter().map(|caller| caller.waited_ms).max();
        live.queues.push(QueueNow {
            name: queue.name.clone(),
            waiting: queue.waiting.len() as u64,
            longest_wait: Duration::from_millis(longest_ms.unwrap_or(0)),
        });
    }
    for agent in &snapshot.agents {
        live.agents[scrape::agent_state_index(&agent.state)] += 1;
    }
}
