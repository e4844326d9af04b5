//! The agent desktop (`/agent`): an agent signs in with their SIP login
//! and password, changes their own state, and sees the screen-pop of the
//! call offered to them. An agent sees only their own events and calls.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response, Sse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::super::access::{AgentLogin, Gate, Role, session};
use super::super::forwarded::Client;
use super::super::queue::{Reader, StateChange, change_state, stream};
use crate::api::Handles;
use crate::registrar::AgentCredentials;
use crate::sip::digest::{Algorithm, ha1};

/// The agent's page and routes, behind an agent's session.
pub fn routes(gate: Gate) -> Router<Handles> {
    Router::new()
        .route("/agent", get(|| super::page("Agent", AGENT, "agent.js")))
        .route("/agent/events", get(events))
        .route("/agent/state", post(set_state))
        .route("/agent/sip", post(crate::api::sip_websocket::credentials))
        .route_layer(axum::middleware::from_fn_with_state(
            gate,
            super::super::access::require_agent,
        ))
}

const AGENT: &str = include_str!("assets/agent.html");

/// The agent sign-in form.
#[derive(Deserialize)]
pub(super) struct AgentSignIn {
    login: String,
    password: String,
}

/// The one answer to a wrong login or a wrong password, so it does not
/// tell which logins exist.
pub(super) const REFUSED: &str = "Wrong login or password.";

/// Checks an agent's SIP password against the stored HA1 and hands the
/// browser an agent session.
pub(super) async fn sign_in(
    State(gate): State<Gate>,
    Extension(handles): Extension<Handles>,
    Extension(client): Extension<Client>,
    Form(form): Form<AgentSignIn>,
) -> Response {
    if let Some(refusal) = super::too_many_failures(&gate, client) {
        return refusal;
    }
    let limit = std::time::Duration::from_secs(3);
    let stored = match handles.db().agent_credentials(&form.login, limit).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(%error, "agent sign-in: credentials not readable");
            let message = "The database is not answering; try again shortly.";
            return super::refused_login(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    if !password_matches(stored.as_ref(), &form.login, &form.password) {
        gate.sign_in_failed(client.ip, std::time::Instant::now());
        return super::refused_login(StatusCode::UNAUTHORIZED, REFUSED);
    }
    let secret = gate.sign_in_agent(&form.login, crate::crm::now_ms());
    (
        [(header::SET_COOKIE, session::set_cookie(&secret))],
        Redirect::to("/agent"),
    )
        .into_response()
}

/// Whether `password` is the agent's: its HA1 (RFC 7616 §3.4.2) in the
/// agent's realm equals the stored one. An unknown login is compared
/// against a made-up HA1, so it costs the same time as a known one.
fn password_matches(stored: Option<&AgentCredentials>, login: &str, password: &str) -> bool {
    let (realm, expected) = match stored {
        Some(c) => (c.realm.as_str(), c.ha1_md5.as_str()),
        None => ("hotline", "00000000000000000000000000000000"),
    };
    let presented = ha1(Algorithm::Md5, login, realm, password);
    let same = presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    stored.is_some() && same
}

/// The agent's own events (screen-pops, their state changes, their calls),
/// and a snapshot of their own state each second; callers' numbers and
/// names shown, typed digits hidden.
async fn events(
    State(handles): State<Handles>,
    Extension(AgentLogin(login)): Extension<AgentLogin>,
    headers: HeaderMap,
) -> Sse<
    impl tokio_stream::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    let mine = login.clone();
    let reader = Reader {
        event: move |json: &mut Value| {
            let own = json["agent"] == mine.as_str();
            super::super::view::mask(Role::Supervisor, json);
            own
        },
        snapshot: move |snapshot: &mut Value| {
            let own = snapshot["agents"]
                .as_array()
                .and_then(|agents| agents.iter().find(|a| a["id"] == login.as_str()))
                .cloned();
            *snapshot = serde_json::json!({ "agent": own });
            super::super::view::mask(Role::Supervisor, snapshot);
        },
        admitted: || true,
    };
    stream(handles, &headers, reader)
}

async fn set_state(
    State(handles): State<Handles>,
    Extension(AgentLogin(login)): Extension<AgentLogin>,
    Json(change): Json<StateChange>,
) -> Response {
    change_state(&handles, login, change).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(password: &str) -> AgentCredentials {
        AgentCredentials {
            login: "alice".into(),
            realm: "hotline".into(),
            ha1_md5: ha1(Algorithm::Md5, "alice", "hotline", password),
            ha1_sha256: ha1(Algorithm::Sha256, "alice", "hotline", password),
        }
    }

    #[test]
    fn only_the_agents_own_sip_password_signs_them_in() {
        let stored = alice("secret-a");
        assert!(password_matches(Some(&stored), "alice", "secret-a"));
        assert!(!password_matches(Some(&stored), "alice", "secret-b"));
        assert!(!password_matches(Some(&stored), "bob", "secret-a"));
        assert!(!password_matches(None, "alice", "secret-a"));
    }
}
