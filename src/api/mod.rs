//! The admin HTTP API (axum): health, live figures and reports for admins and monitors.
//!
//! Who may use which route ([`access`] says how callers are told apart):
//!
//! | route                        | needs      | personal data             |
//! |------------------------------|------------|---------------------------|
//! | `GET /health`                | nobody     | none                      |
//! | `GET /openapi.json`          | nobody     | none                      |
//! | `GET /status`                | monitor    | none                      |
//! | `GET /report`                | monitor    | none                      |
//! | `GET /calls`                 | monitor    | masked per role ([`view`])|
//! | `GET /queue`                 | monitor    | masked per role           |
//! | `GET /queue/events`          | monitor    | masked per role           |
//! | `POST /agents/{agent}/state` | supervisor | -                         |
//! | `GET /registrations`         | supervisor | agents' IP addresses      |
//!
//! Admin may do everything and sees typed digits. `GET /openapi.json`
//! describes every other route, with the role it needs ([`openapi`]).

pub mod access;
mod error;
mod openapi;
mod queue;
mod registrations;
mod report;
mod view;

use std::net::SocketAddr;

use axum::extract::State;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::call::{CallRecord, Services, Status};
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
    let monitor = OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(calls))
        .routes(routes!(report::report))
        .merge(queue::read_routes())
        .with_state(services.clone());
    let supervisor = queue::write_routes()
        .with_state(services)
        .merge(registrations::router(registrar));
    let (app, document) = OpenApiRouter::with_openapi(openapi::frame())
        .routes(routes!(health))
        .merge(openapi::guarded(monitor, Role::Monitor, &gate))
        .merge(openapi::guarded(supervisor, Role::Supervisor, &gate))
        .split_for_parts();
    let app =
        openapi::serve_document(app, &document).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "admin HTTP server stopped");
        }
    });
    Ok(local)
}

/// Whether the server is up; needs no token.
#[utoipa::path(get, path = "/health", responses(
    (status = OK, description = "The server is up: `ok`.", body = String, content_type = "text/plain")
))]
async fn health() -> &'static str {
    "ok\n"
}

/// Calls active and since start, the flows' versions and the SIP limits' counters.
#[utoipa::path(get, path = "/status", responses((status = OK, body = Status)))]
async fn status(State(services): State<Services>) -> Json<Status> {
    Json(services.status())
}

/// Calls in progress and the most recent finished ones, with the keys pressed.
///
/// Callers' numbers are masked below supervisor and typed digits below admin.
#[utoipa::path(get, path = "/calls", responses((status = OK, body = Vec<CallRecord>)))]
async fn calls(
    State(services): State<Services>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut calls = serde_json::to_value(services.recent_calls()).unwrap_or_default();
    view::mask(caller.role, &mut calls);
    Json(calls)
}
