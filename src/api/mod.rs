//! The admin HTTP API (axum): health, live figures and reports for admins and monitors.
//!
//! Who may use which route ([`access`] says how callers are told apart):
//!
//! | route                        | needs      | personal data             |
//! |------------------------------|------------|---------------------------|
//! | `GET /health`                | nobody     | none                      |
//! | `GET /status`                | monitor    | none                      |
//! | `GET /report`                | monitor    | none                      |
//! | `GET /metrics`               | monitor    | none (Prometheus text)    |
//! | `GET /calls`                 | monitor    | masked per role ([`view`])|
//! | `GET /queue`                 | monitor    | masked per role           |
//! | `GET /queue/events`          | monitor    | masked per role           |
//! | `POST /agents/{agent}/state` | supervisor | -                         |
//! | `GET /registrations`         | supervisor | agents' IP addresses      |
//!
//! Admin may do everything and sees typed digits.

pub mod access;
mod metrics;
mod queue;
mod registrations;
mod report;
mod view;

use std::net::SocketAddr;

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};

use crate::call::Services;
use access::{Caller, Gate, Role};

pub use queue::set_agent_state;

/// Binds the admin API and serves it in the background; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    services: Services,
    registrar: crate::server::registrar::RegistrarHandle,
    gate: Gate,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let needs =
        |role: Role| axum::middleware::from_fn_with_state((gate.clone(), role), access::require);
    let monitor = Router::new()
        .route("/status", get(status))
        .route("/calls", get(calls))
        .route("/report", get(report::report))
        .merge(queue::read_routes())
        .with_state(services.clone())
        .merge(metrics::router(services.clone(), registrar.clone()))
        .route_layer(needs(Role::Monitor));
    let supervisor = queue::write_routes()
        .with_state(services)
        .merge(registrations::router(registrar))
        .route_layer(needs(Role::Supervisor));
    let app = Router::new()
        .route("/health", get(health))
        .merge(monitor)
        .merge(supervisor)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "admin HTTP server stopped");
        }
    });
    Ok(local)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn status(State(services): State<Services>) -> Json<serde_json::Value> {
    Json(services.status())
}

/// Calls in progress and the most recent finished ones, with the keys pressed.
async fn calls(
    State(services): State<Services>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut calls = serde_json::to_value(services.recent_calls()).unwrap_or_default();
    view::mask(caller.role, &mut calls);
    Json(calls)
}
