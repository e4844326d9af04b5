//! `GET /metrics`: the server's figures in the Prometheus text format.
//!
//! The counters come from [`crate::metrics::Metrics`]; what is already known
//! elsewhere is read now: calls in progress and the SIP limits' counters from
//! the services, the queue from its snapshot, devices from the registrar and
//! tickets pending from the database (left out when it does not answer in
//! time, so a database outage never holds up a scrape).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::call::Services;
use crate::metrics::scrape::{self, AGENT_STATES, Live, QueueNow};
use crate::server::registrar::RegistrarHandle;

/// How long the scrape waits for the database's count of pending tickets.
const DB_WAIT: Duration = Duration::from_millis(500);

/// The route of this file.
pub fn router(services: Services, registrar: RegistrarHandle) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state((services, registrar))
}

async fn metrics(
    State((services, registrar)): State<(Services, RegistrarHandle)>,
) -> impl IntoResponse {
    let (snapshot, pending) = tokio::join!(
        services.queue().snapshot(),
        tokio::time::timeout(DB_WAIT, services.db().tickets_pending()),
    );
    let limits = services.sip_limit_stats();
    let read = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let mut live = Live {
        calls_active: services.calls_active(),
        calls_rejected: vec![
            ("limit", read(&limits.calls_over_limit)),
            ("source_limit", read(&limits.calls_refused)),
            ("overload", read(&limits.calls_overloaded)),
        ],
        sip_limited: vec![
            ("rejected", read(&limits.rejected)),
            ("dropped", read(&limits.dropped)),
        ],
        tcp_connections: read(&limits.tcp_open),
        registrations: registrar
            .registered()
            .iter()
            .map(|(_, devices)| devices.len() as u64)
            .sum(),
        tickets_pending: pending.ok().and_then(Result::ok),
        ..Live::default()
    };
    read_queue(&snapshot, &mut live);
    let text = scrape::encode(services.metrics(), &live);
    ([(header::CONTENT_TYPE, scrape::CONTENT_TYPE)], text)
}

/// Takes the queues' waiting callers and the agents' states from the queue's
/// snapshot (counts only: the callers' numbers in it stay here).
fn read_queue(snapshot: &serde_json::Value, live: &mut Live) {
    for queue in snapshot["queues"].as_array().into_iter().flatten() {
        let waiting = queue["waiting"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let longest_ms = waiting
            .iter()
            .filter_map(|caller| caller["waited_ms"].as_u64())
            .max()
            .unwrap_or(0);
        live.queues.push(QueueNow {
            name: queue["name"].as_str().unwrap_or_default().to_owned(),
            waiting: waiting.len() as u64,
            longest_wait: Duration::from_millis(longest_ms),
        });
    }
    for agent in snapshot["agents"].as_array().into_iter().flatten() {
        // `"available"`, or `{"paused": {"reason": …}}` for a state with details.
        let state = match &agent["state"] {
            serde_json::Value::String(state) => Some(state.as_str()),
            serde_json::Value::Object(details) => details.keys().next().map(String::as_str),
            _ => None,
        };
        if let Some(index) = AGENT_STATES.iter().position(|known| Some(*known) == state) {
            live.agents[index] += 1;
        }
    }
}
