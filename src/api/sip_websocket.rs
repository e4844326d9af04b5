//! SIP over WebSocket (RFC 7118) on the HTTP listener: `GET /sip`, for the
//! agent desktop's softphone.
//!
//! Each text or binary frame is one SIP message, handed to the same endpoint
//! as UDP and TCP ones (its per-source rate limit, its parser, its 400 for
//! garbage that still names a request); the connection is known by the
//! browser's address, so responses and new requests to a binding made over
//! it go back over it, and when it closes its bindings go with it.
//!
//! Only a browser showing the console's own origin, with an agent's session,
//! may open one; REGISTERs over it are then digest-authenticated as phones'
//! are (with a password minted for the session, see
//! `registrar::SessionCredentials`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use tracing::{debug, info};

use super::access::{AgentLogin, Gate};
use super::forwarded::Client;
use crate::registrar::{MINTED_LIFETIME, SessionCredentials};
use crate::server::endpoint::{EndpointCommand, EndpointHandle};
use crate::server::registrar::RegistrarHandle;
use crate::server::transport::Outbound;
use crate::sip::transaction::{Remote, Transport};

/// What the WebSocket route needs: the SIP transports, the endpoint and the
/// registrar (to end a closed connection's calls and drop its bindings) and
/// the minted passwords.
#[derive(Clone)]
pub struct BrowserSip {
    pub outbound: Outbound,
    /// Told when a connection closes, to end the calls over it.
    pub endpoint: EndpointHandle,
    pub registrar: RegistrarHandle,
    pub credentials: SessionCredentials,
    pub stats: Arc<WebSocketStats>,
    /// Whether browsers can have media (`[webrtc] enabled`): without it a
    /// registered browser would never ring, so the page is told not to.
    pub media: bool,
}

/// Counters of SIP over WebSocket, for `/metrics`.
#[derive(Debug, Default)]
pub struct WebSocketStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Upgrades refused: no agent session, a foreign origin, no `sip` subprotocol.
    pub refused: AtomicU64,
    /// Frames received, and messages sent, since start.
    pub received: AtomicU64,
    pub sent: AtomicU64,
    /// Frames that were no SIP message at all (control frames aside): the
    /// endpoint answers 400 where it can and drops the rest.
    pub unreadable: AtomicU64,
}

/// The WebSocket subprotocol of RFC 7118 §4.
const SUBPROTOCOL: &str = "sip";

/// The WebSocket route; the agent's routes get [`credentials`] separately.
pub fn router(gate: Gate, sip: BrowserSip) -> Router {
    Router::new()
        .route("/sip", get(upgrade))
        .layer(Extension(sip))
        .with_state(gate)
}

/// A SIP password for the signed-in agent's browser, minted now.
#[derive(Serialize)]
pub struct MintedSip {
    /// The SIP user: the agent's login.
    login: String,
    /// A random password good for `expires_in` seconds, this agent only.
    password: String,
    expires_in: u64,
    /// Where the softphone connects, relative to the page's origin.
    path: &'static str,
}

/// `POST /agent/sip`: mints a SIP password for the agent signed in, good
/// until they sign out (or for [`MINTED_LIFETIME`]).
pub async fn credentials(
    Extension(AgentLogin(login)): Extension<AgentLogin>,
    Extension(sip): Extension<BrowserSip>,
    headers: HeaderMap,
) -> Response {
    if !sip.media {
        let reason = "the softphone needs WebRTC media: set [webrtc] enabled = true";
        return super::error::ApiError::answer(StatusCode::SERVICE_UNAVAILABLE, reason);
    }
    let session = session_tag(&headers).unwrap_or_default();
    let password = sip
        .credentials
        .mint(&login, &session, Instant::now(), &mut rand::rng());
    let minted = MintedSip {
        login,
        password,
        expires_in: MINTED_LIFETIME.as_secs(),
        path: "/sip",
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(minted)).into_response()
}

/// Signing out revokes the passwords minted for that sign-in.
pub fn signed_out(sip: &BrowserSip, headers: &HeaderMap) {
    if let Some(session) = session_tag(headers) {
        sip.credentials.revoke(&session);
    }
}

/// Names the sign-in a request carries without keeping its secret: the
/// SHA-256 of the session cookie.
fn session_tag(headers: &HeaderMap) -> Option<String> {
    use sha2::Digest;
    let secret = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(super::access::session::from_cookie)?;
    let digest = sha2::Sha256::digest(secret.as_bytes());
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

async fn upgrade(
    State(gate): State<Gate>,
    Extension(sip): Extension<BrowserSip>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let refusal = if gate.agent(&headers, crate::crm::now_ms()).is_none() {
        Some((StatusCode::UNAUTHORIZED, "sign in as an agent first"))
    } else if !same_origin(&headers) {
        Some((
            StatusCode::FORBIDDEN,
            "connections are taken from the console's own pages only",
        ))
    } else if !upgrade
        .requested_protocols()
        .any(|p| p.as_bytes().eq_ignore_ascii_case(SUBPROTOCOL.as_bytes()))
    {
        Some((
            StatusCode::BAD_REQUEST,
            "the WebSocket subprotocol must be `sip` (RFC 7118)",
        ))
    } else {
        None
    };
    if let Some((status, reason)) = refusal {
        sip.stats.refused.fetch_add(1, Ordering::Relaxed);
        debug!(from = %client.ip, %status, reason, "SIP WebSocket refused");
        return (status, reason).into_response();
    }
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(crate::sip::MAX_MESSAGE_SIZE)
        .max_frame_size(crate::sip::MAX_MESSAGE_SIZE)
        .on_upgrade(move |socket| serve(socket, client, sip))
}

/// Whether the page that opens the socket was served by us: its Origin
/// names the host the request was sent to. Browsers always send Origin on
/// a WebSocket; without this check any site an agent visits could use
/// their session.
fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// Carries one browser's SIP messages both ways until either side ends.
///
/// The connection is known by the client's address (behind a trusted proxy,
/// the one it forwards) with the peer's port, so the SIP endpoint's
/// per-source limits and the registrations see the browser, not the proxy.
async fn serve(socket: WebSocket, client: Client, sip: BrowserSip) {
    // Two proxies could forward one client from the same port; the proxy's
    // own address then tells the second connection apart.
    let opened = [client.connection(), client.peer]
        .into_iter()
        .find_map(|peer| Some((peer, sip.outbound.open_websocket(peer)?)));
    let Some((peer, outgoing)) = opened else {
        sip.stats.refused.fetch_add(1, Ordering::Relaxed);
        debug!(from = %client.ip, "SIP WebSocket closed: its address is in use");
        return;
    };
    carry(socket, peer, outgoing, &sip).await;
}

/// Carries the SIP messages of the connection known as `peer`.
async fn carry(
    mut socket: WebSocket,
    peer: SocketAddr,
    mut outgoing: tokio::sync::mpsc::Receiver<Vec<u8>>,
    sip: &BrowserSip,
) {
    let stats = &sip.stats;
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    stats.open.fetch_add(1, Ordering::Relaxed);
    info!(from = %peer, "SIP WebSocket connected");
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let bytes = match frame {
                    Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(error)) => {
                        // Broken framing or a message over the size limit: the
                        // stream cannot be trusted any more.
                        stats.unreadable.fetch_add(1, Ordering::Relaxed);
                        debug!(%error, from = %peer, "closing SIP WebSocket");
                        break;
                    }
                };
                stats.received.fetch_add(1, Ordering::Relaxed);
                if crate::sip::parse(&bytes).is_err() {
                    stats.unreadable.fetch_add(1, Ordering::Relaxed);
                }
                if !sip.outbound.receive_websocket(peer, bytes).await {
                    break;
                }
            }
            message = outgoing.recv() => {
                let Some(bytes) = message else { break };
                let frame = match String::from_utf8(bytes) {
                    Ok(text) => Message::text(text),
                    Err(binary) => Message::binary(binary.into_bytes()),
                };
                if socket.send(frame).await.is_err() {
                    break;
                }
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    sip.outbound.close_websocket(peer);
    let connection = Remote {
        addr: peer,
        transport: Transport::Ws,
    };
    // A browser gone without a BYE: its calls end now, not when ICE consent
    // runs out, and its devices are no longer rung.
    sip.endpoint
        .send(EndpointCommand::ConnectionClosed(connection))
        .await;
    sip.registrar.connection_closed(connection).await;
    stats.open.fetch_sub(1, Ordering::Relaxed);
    info!(from = %peer, "SIP WebSocket closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: &str, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, origin.parse().unwrap());
        headers.insert(header::HOST, host.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_consoles_own_origin_may_connect() {
        assert!(same_origin(&headers(
            "http://127.0.0.1:8080",
            "127.0.0.1:8080"
        )));
        assert!(same_origin(&headers(
            "https://hotline.example",
            "hotline.example"
        )));
        assert!(!same_origin(&headers(
            "https://evil.example",
            "hotline.example"
        )));
        assert!(!same_origin(&headers(
            "http://127.0.0.1:9999",
            "127.0.0.1:8080"
        )));
        assert!(!same_origin(&HeaderMap::new()));
    }
}
