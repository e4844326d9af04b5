//! The admin HTTP API (axum): health, live figures and reports for admins and monitors.

mod registrations;
mod report;

use std::net::SocketAddr;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::call::Services;

mod queue;

pub use queue::set_agent_state;

/// Binds the admin API and serves it in the background; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    services: Services,
    registrar: crate::server::registrar::RegistrarHandle,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/calls", get(calls))
        .route("/report", get(report::report))
        .merge(queue::routes())
        .with_state(services)
        .merge(registrations::router(registrar));
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
async fn calls(State(services): State<Services>) -> Json<Vec<crate::call::recent::CallRecord>> {
    Json(services.recent_calls())
}
