//! `GET /registrations`: which agents are logged in, and on which phones.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::registrar::RegistrarHandle;

/// The routes of this file.
pub fn router(registrar: RegistrarHandle) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(registrations))
        .with_state(registrar)
}

/// A registered agent as admins see it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Registered {
    agent: String,
    devices: Vec<Device>,
}

/// One registered phone.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Device {
    /// The Contact as the phone gave it.
    contact: String,
    /// Where requests for it are sent (`IP:port`).
    target: String,
    /// Where its REGISTER came from.
    source: String,
    transport: &'static str,
    expires_in_seconds: u64,
    user_agent: Option<String>,
    /// The proxies it registered through (RFC 3327 Path), which requests
    /// to it pass through; empty when it registered directly.
    path: Vec<String>,
}

/// Agents logged in, and their phones' addresses.
#[utoipa::path(get, path = "/registrations", responses((status = OK, body = Vec<Registered>)))]
async fn registrations(State(registrar): State<RegistrarHandle>) -> Json<Vec<Registered>> {
    let now = Instant::now();
    let registered = registrar
        .registered()
        .into_iter()
        .map(|(agent, bindings)| Registered {
            agent,
            devices: bindings
                .iter()
                .map(|b| Device {
                    contact: b.contact.to_string(),
                    target: b.target.addr.to_string(),
                    source: b.source.addr.to_string(),
                    transport: b.source.transport.token(),
                    expires_in_seconds: b.expires_in(now).as_secs(),
                    user_agent: b.user_agent.clone(),
                    path: b.path.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        })
        .collect();
    Json(registered)
}
