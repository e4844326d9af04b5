//! The admin HTTP API (axum): health, live figures and reports for admins and monitors.
//!
//! Who may use which route ([`access`] says how callers are told apart):
//!
//! | route                        | needs      | personal data             |
//! |------------------------------|------------|---------------------------|
//! | `GET /health`                | nobody     | none                      |
//! | `GET /status`                | monitor    | none                      |
//! | `GET /report`                | monitor    | none                      |
//! | `GET /calls`                 | monitor    | masked per role ([`view`])|
//! | `GET /queue`                 | monitor    | masked per role           |
//! | `GET /queue/events`          | monitor    | masked per role           |
//! | `POST /agents/{agent}/state` | supervisor | -                         |
//! | `GET /registrations`         | supervisor | agents' IP addresses      |
//! | `GET /tokens`                | admin      | token names               |
//! | `GET /login`, `POST /login`  | nobody     | -                         |
//! | `GET /`, `GET /reports`      | monitor    | pages ([`console`])       |
//! | `GET /console/today`         | monitor    | none                      |
//! | `GET /agent`, `/agent/events`, `POST /agent/state` | the agent signed in | their own calls |
//!
//! Admin may do everything and sees typed digits. Pages send a browser
//! without a session to `/login`; JSON routes answer it 401.

pub mod access;
pub mod console;
mod csv;
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
    targets: console::Targets,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let needs =
        |role: Role| axum::middleware::from_fn_with_state((gate.clone(), role), access::require);
    let pages = console::monitor_pages()
        .with_state(services.clone())
        .route_layer(axum::middleware::from_fn_with_state(
            (gate.clone(), Role::Monitor),
            access::require_page,
        ));
    let monitor = Router::new()
        .route("/status", get(status))
        .route("/calls", get(calls))
        .route("/report", get(report::report))
        .route("/report.csv", get(report::report_csv))
        .route("/console/whoami", get(console::whoami))
        .merge(queue::read_routes())
        .merge(console::monitor_routes())
        .with_state(services.clone())
        .layer(Extension(targets))
        .route_layer(needs(Role::Monitor));
    let supervisor = queue::write_routes()
        .with_state(services.clone())
        .merge(registrations::router(registrar))
        .route_layer(needs(Role::Supervisor));
    let public = console::public_routes(gate.clone(), services.clone());
    let agent = console::agent_routes(gate.clone()).with_state(services.clone());
    let admin = Router::new()
        .route("/tokens", get(tokens))
        .with_state(services)
        .route_layer(needs(Role::Admin));
    let app = Router::new()
        .route("/health", get(health))
        .merge(public)
        .merge(agent)
        .merge(pages)
        .merge(monitor)
        .merge(supervisor)
        .merge(admin)
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

/// The API tokens by name and role (no secrets), for admins.
async fn tokens(State(services): State<Services>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match access::store::list(services.db()).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(error) => {
            tracing::warn!(%error, "tokens not readable");
            let body = serde_json::json!({ "error": "the database is not answering" });
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
