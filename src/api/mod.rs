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
//! | `GET /metrics`               | monitor    | none (Prometheus text)    |
//! | `GET /calls`                 | monitor    | masked per role ([`view`])|
//! | `GET /queue`                 | monitor    | masked per role           |
//! | `GET /queue/events`          | monitor    | masked per role           |
//! | `POST /agents/{agent}/state` | supervisor | -                         |
//! | `GET /registrations`         | supervisor | agents' IP addresses      |
//! | `GET /tokens`                | admin      | token names               |
//! | `GET /flows/…`, `POST /flows/…` | admin  | flow sources, publishers  |
//! | `GET /flows` (page)          | admin      | page ([`console`])        |
//! | `GET /login`, `POST /login`  | nobody     | -                         |
//! | `GET /`, `GET /reports`      | monitor    | pages ([`console`])       |
//! | `GET /console/today`         | monitor    | none                      |
//! | `GET /console/calls`, `/console/tickets` (and `.csv`) | monitor | masked per role |
//! | `GET /console/series`        | monitor    | none                      |
//! | `GET /agent`, `/agent/events`, `POST /agent/state` | the agent signed in | their own calls |
//! | `POST /agent/sip`, `GET /sip` (WebSocket) | the agent signed in | a SIP password minted for them |
//! | `POST /webrtc/calls`, `DELETE /webrtc/calls/{id}` | nobody (allowed origins, limits) | - |
//! | `GET /widget.js`, `GET /call` | nobody | - ([`web_calls`]) |
//!
//! Admin may do everything and sees typed digits. Pages send a browser
//! without a session to `/login`; JSON routes answer it 401. `GET
//! /openapi.json` describes every JSON route of a role, with the role it
//! needs ([`openapi`]); pages, their files, sign-in and the agent desktop
//! are not in it.

pub mod access;
pub mod console;
mod csv;
mod error;
pub mod forwarded;
mod handles;
mod metrics;
mod openapi;
mod queue;
mod registrations;
mod report;
pub mod sip_websocket;
pub mod tls;
mod view;
mod web_calls;

use std::net::SocketAddr;

use axum::extract::State;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::call::{CallRecord, Status};
use access::{Caller, Gate, Role};
pub use handles::Handles;

pub use queue::set_agent_state;

/// Binds the admin API and serves it in the background, over TLS when given
/// an acceptor, telling every handler its request's client (as `proxies`
/// forward it); returns the bound address.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    proxies: forwarded::TrustedProxies,
    handles: Handles,
    registrar: crate::server::registrar::RegistrarHandle,
    gate: Gate,
    targets: console::Targets,
    browser_sip: sip_websocket::BrowserSip,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let pages = console::monitor_pages()
        .with_state(handles.clone())
        .route_layer(axum::middleware::from_fn_with_state(
            (gate.clone(), Role::Monitor),
            access::require_page,
        ));
    let admin_pages = console::admin_pages()
        .with_state(handles.clone())
        .route_layer(axum::middleware::from_fn_with_state(
            (gate.clone(), Role::Admin),
            access::require_page,
        ));
    let monitor = OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(calls))
        .routes(routes!(report::report))
        .routes(routes!(report::report_csv))
        .routes(routes!(console::whoami))
        .merge(queue::read_routes())
        .merge(console::monitor_routes())
        .with_state(handles.clone())
        .layer(Extension(targets))
        .merge(metrics::router(
            handles.clone(),
            registrar.clone(),
            browser_sip.stats.clone(),
        ));
    let supervisor = queue::write_routes()
        .with_state(handles.clone())
        .merge(registrations::router(registrar));
    let admin = OpenApiRouter::new()
        .routes(routes!(tokens))
        .merge(console::admin_routes())
        .with_state(handles.clone());
    let public = console::public_routes(gate.clone(), handles.clone())
        .layer(Extension(browser_sip.clone()))
        .merge(web_calls::widget().with_state(handles.clone()));
    let web = web_calls::routes().with_state(handles.clone());
    let agent = console::agent_routes(gate.clone())
        .with_state(handles)
        .layer(Extension(browser_sip.clone()));
    let sip = sip_websocket::router(gate.clone(), browser_sip);
    let (app, document) = OpenApiRouter::with_openapi(openapi::frame())
        .routes(routes!(health))
        .merge(web)
        .merge(openapi::guarded(monitor, Role::Monitor, &gate))
        .merge(openapi::guarded(supervisor, Role::Supervisor, &gate))
        .merge(openapi::guarded(admin, Role::Admin, &gate))
        .split_for_parts();
    let app = app
        .merge(public)
        .merge(agent)
        .merge(sip)
        .merge(pages)
        .merge(admin_pages);
    let app = openapi::serve_document(app, &document)
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(proxies),
            forwarded::identify,
        ))
        .into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(acceptor) => {
            use axum::serve::ListenerExt;
            // `tap_io` only so that axum gives handlers the client's address.
            let listener = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::error!(%error, "admin HTTPS server stopped");
                }
            });
        }
        None => {
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::error!(%error, "admin HTTP server stopped");
                }
            });
        }
    }
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
async fn status(State(handles): State<Handles>) -> Json<Status> {
    Json(handles.status())
}

/// Calls in progress and the most recent finished ones, with the keys pressed.
///
/// Callers' numbers are masked below supervisor and typed digits below admin.
#[utoipa::path(get, path = "/calls", responses((status = OK, body = Vec<CallRecord>)))]
async fn calls(
    State(handles): State<Handles>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let mut calls = serde_json::to_value(handles.recent_calls()).unwrap_or_default();
    view::mask(caller.role, &mut calls);
    Json(calls)
}

/// The API tokens by name and role, revoked ones too (no secrets).
#[utoipa::path(get, path = "/tokens", responses(
    (status = OK, body = Vec<access::store::ListedToken>),
    (status = SERVICE_UNAVAILABLE, description = "The database cannot be read now.", body = error::ApiError),
))]
async fn tokens(State(handles): State<Handles>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match access::store::list(handles.db()).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(error) => {
            tracing::warn!(%error, "tokens not readable");
            error::ApiError::answer(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the database is not answering",
            )
        }
    }
}
