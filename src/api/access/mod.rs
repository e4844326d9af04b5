//! Who may use the admin API: bearer tokens with roles, and the loopback rule.
//!
//! - While no token exists, only loopback peers are served (as admin), and
//!   `serve` refuses to listen anywhere else until an admin token exists.
//! - Once any token exists, every route but `/health` and `/openapi.json`
//!   needs one: none or an unknown one is 401, a role too low for the route
//!   is 403.
//!
//! The server keeps the active tokens in memory and reloads them every
//! [`REFRESH`], so a revocation takes effect within that; while the database
//! is down it keeps the last set it read.

pub mod cli;
mod role;
pub mod store;
pub mod token;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use role::Role;
use store::ActiveToken;
use token::TokenHash;

use crate::crm::Db;

/// How often a running server reloads the tokens.
pub const REFRESH: Duration = Duration::from_secs(2);

/// The command that makes the first admin token, for messages.
pub const MAKE_ADMIN: &str = "hotline tokens add admin --role admin";

/// The server's current view of the tokens, shared by every request.
#[derive(Clone)]
pub struct Gate {
    tokens: Arc<RwLock<Vec<ActiveToken>>>,
}

/// Who is calling, as handlers see it (a request extension set by [`require`]).
#[derive(Clone)]
pub struct Caller {
    pub role: Role,
    /// The token presented; none for loopback while no token exists.
    token: Option<TokenHash>,
    gate: Gate,
}

impl Caller {
    /// Whether the caller would still be let in: long answers (the event
    /// stream) end once its token is revoked, or once tokens exist for a
    /// caller let in by the loopback rule.
    pub fn still_admitted(&self) -> bool {
        let tokens = self.gate.read();
        match &self.token {
            None => tokens.is_empty(),
            Some(hash) => tokens.iter().any(|t| t.hash.matches(hash)),
        }
    }
}

/// Why `serve` will not expose the API.
#[derive(Debug, thiserror::Error)]
#[error(
    "the admin API would listen on {listen}, which is not a loopback address, and no admin \
     token exists; make one first with `{MAKE_ADMIN}` (same database), or listen on 127.0.0.1"
)]
pub struct Unprotected {
    pub listen: SocketAddr,
}

impl Gate {
    /// Reads the tokens and keeps them fresh in the background.
    pub async fn load(db: Db) -> Result<Gate, crate::crm::DbError> {
        let gate = Gate {
            tokens: Arc::new(RwLock::new(store::active(&db).await?)),
        };
        tokio::spawn(gate.clone().refresh(db));
        Ok(gate)
    }

    /// Refuses a non-loopback listener while no admin token exists.
    pub fn check_exposure(&self, listen: SocketAddr) -> Result<(), Unprotected> {
        let has_admin = self.read().iter().any(|t| t.role == Role::Admin);
        if listen.ip().is_loopback() || has_admin {
            Ok(())
        } else {
            Err(Unprotected { listen })
        }
    }

    /// What the peer at `peer` presenting `authorization` may do, and the
    /// hash of the token that grants it (none under the loopback rule).
    fn admit(
        &self,
        peer: SocketAddr,
        authorization: Option<&str>,
    ) -> Result<(Role, Option<TokenHash>), Refusal> {
        let tokens = self.read();
        if tokens.is_empty() {
            return if peer.ip().is_loopback() {
                Ok((Role::Admin, None))
            } else {
                Err(Refusal::NotLoopback)
            };
        }
        let presented = authorization
            .and_then(token::bearer)
            .ok_or(Refusal::NoToken)?;
        let hash = TokenHash::of(presented);
        // Every token is compared, so the time taken does not say which one nearly matched.
        let found = tokens
            .iter()
            .fold(None, |found, t| match t.hash.matches(&hash) {
                true => Some(t.role),
                false => found,
            });
        found
            .map(|role| (role, Some(hash)))
            .ok_or(Refusal::UnknownToken)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ActiveToken>> {
        self.tokens.read().unwrap_or_else(|p| p.into_inner())
    }

    async fn refresh(self, db: Db) {
        let mut failing = false;
        loop {
            tokio::time::sleep(REFRESH).await;
            match store::active(&db).await {
                Ok(tokens) => {
                    if failing {
                        tracing::info!("API tokens readable again");
                    }
                    failing = false;
                    *self.tokens.write().unwrap_or_else(|p| p.into_inner()) = tokens;
                }
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot reload API tokens; keeping the last set");
                }
                Err(_) => {}
            }
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotLoopback,
    NoToken,
    UnknownToken,
    RoleTooLow { needed: Role, has: Role },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Refusal::NotLoopback => (
                StatusCode::FORBIDDEN,
                "no API token exists, so only loopback is served".to_owned(),
            ),
            Refusal::NoToken => (StatusCode::UNAUTHORIZED, "bearer token required".to_owned()),
            Refusal::UnknownToken => (
                StatusCode::UNAUTHORIZED,
                "unknown or revoked token".to_owned(),
            ),
            Refusal::RoleTooLow { needed, has } => (
                StatusCode::FORBIDDEN,
                format!("this needs the {needed} role; the token has {has}"),
            ),
        };
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                Refusal::UnknownToken => "Bearer realm=\"hotline\", error=\"invalid_token\"",
                _ => "Bearer realm=\"hotline\"",
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Middleware: lets the request through when its caller has at least `needed`,
/// telling the handler who it is ([`Caller`]).
pub async fn require(
    State((gate, needed)): State<(Gate, Role)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (role, token) = match gate.admit(peer, authorization) {
        Ok(granted) => granted,
        Err(refusal) => return refusal.into_response(),
    };
    if !role.allows(needed) {
        return Refusal::RoleTooLow { needed, has: role }.into_response();
    }
    request
        .extensions_mut()
        .insert(Caller { role, token, gate });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(tokens: &[(&str, Role)]) -> Gate {
        let tokens = tokens
            .iter()
            .map(|(secret, role)| ActiveToken {
                name: secret.to_string(),
                role: *role,
                hash: TokenHash::of(secret),
            })
            .collect();
        Gate {
            tokens: Arc::new(RwLock::new(tokens)),
        }
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    fn role(gate: &Gate, peer: SocketAddr, authorization: Option<&str>) -> Result<Role, Refusal> {
        gate.admit(peer, authorization).map(|(role, _)| role)
    }

    fn caller(gate: &Gate, authorization: Option<&str>) -> Caller {
        let (role, token) = gate.admit(peer("127.0.0.1"), authorization).unwrap();
        Caller {
            role,
            token,
            gate: gate.clone(),
        }
    }

    #[test]
    fn a_caller_is_no_longer_admitted_once_its_token_is_revoked() {
        let gate = gate(&[
            ("s3cret-monitor", Role::Monitor),
            ("s3cret-admin", Role::Admin),
        ]);
        let monitor = caller(&gate, Some("Bearer s3cret-monitor"));
        let admin = caller(&gate, Some("Bearer s3cret-admin"));
        assert!(monitor.still_admitted() && admin.still_admitted());
        gate.tokens
            .write()
            .unwrap()
            .retain(|t| t.role != Role::Monitor);
        assert!(!monitor.still_admitted());
        assert!(admin.still_admitted());
    }

    #[test]
    fn a_loopback_caller_is_no_longer_admitted_once_a_token_exists() {
        let gate = gate(&[]);
        let local = caller(&gate, None);
        assert!(local.still_admitted());
        *gate.tokens.write().unwrap() = vec![ActiveToken {
            name: "admin".into(),
            role: Role::Admin,
            hash: TokenHash::of("s3cret"),
        }];
        assert!(!local.still_admitted());
    }

    #[test]
    fn without_tokens_only_loopback_is_served() {
        let gate = gate(&[]);
        assert_eq!(role(&gate, peer("127.0.0.1"), None), Ok(Role::Admin));
        assert_eq!(role(&gate, peer("::1"), None), Ok(Role::Admin));
        assert_eq!(
            role(&gate, peer("192.0.2.7"), Some("Bearer x")),
            Err(Refusal::NotLoopback)
        );
    }

    #[test]
    fn once_a_token_exists_even_loopback_needs_one() {
        let gate = gate(&[
            ("s3cret-monitor", Role::Monitor),
            ("s3cret-admin", Role::Admin),
        ]);
        assert_eq!(role(&gate, peer("127.0.0.1"), None), Err(Refusal::NoToken));
        assert_eq!(
            role(&gate, peer("127.0.0.1"), Some("Bearer wrong")),
            Err(Refusal::UnknownToken)
        );
        assert_eq!(
            role(&gate, peer("192.0.2.7"), Some("Bearer s3cret-monitor")),
            Ok(Role::Monitor)
        );
        assert_eq!(
            role(&gate, peer("127.0.0.1"), Some("Bearer s3cret-admin")),
            Ok(Role::Admin)
        );
        assert_eq!(
            role(&gate, peer("127.0.0.1"), Some("Basic s3cret-admin")),
            Err(Refusal::NoToken)
        );
    }

    #[test]
    fn a_public_listener_needs_an_admin_token() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(gate(&[]).check_exposure(local).is_ok());
        let refused = gate(&[]).check_exposure(public).unwrap_err().to_string();
        assert!(refused.contains(MAKE_ADMIN), "{refused}");
        assert!(
            gate(&[("m", Role::Monitor)])
                .check_exposure(public)
                .is_err()
        );
        assert!(gate(&[("a", Role::Admin)]).check_exposure(public).is_ok());
    }
}
