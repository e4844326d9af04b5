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

mod role;
pub mod session;
pub mod store;
pub mod token;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub use role::Role;
use session::{Grant, Sessions};
use store::ActiveToken;
use token::TokenHash;

use super::forwarded::Client;
use crate::crm::Db;

/// How often a running server reloads the tokens.
pub const REFRESH: Duration = Duration::from_secs(2);

/// The command that makes the first admin token, for messages.
pub const MAKE_ADMIN: &str = "hotline tokens add admin --role admin";

/// The server's current view of the tokens, shared by every request.
#[derive(Clone)]
pub struct Gate {
    tokens: Arc<RwLock<Vec<ActiveToken>>>,
    sessions: Arc<Mutex<Sessions>>,
    /// Failed sign-ins per source, so passwords cannot be guessed at speed.
    guesses: Arc<Mutex<crate::registrar::FailureLimiter>>,
}

/// Failed sign-ins from one address that block it, as the registrar does for REGISTER.
const SIGN_IN_FAILURES: crate::registrar::FailureLimits = crate::registrar::FailureLimits {
    max_failures: 10,
    window: Duration::from_secs(60),
    block: Duration::from_secs(300),
};

/// Who is calling, as handlers see it (a request extension set by [`require`]).
#[derive(Clone)]
pub struct Caller {
    pub role: Role,
    /// The token presented; none for loopback while no token exists.
    token: Option<TokenHash>,
    gate: Gate,
}

impl Caller {
    /// The name of the caller's token, as a record of who did something;
    /// `loopback` for a caller let in without a token.
    pub fn name(&self) -> String {
        let Some(hash) = &self.token else {
            return "loopback".to_owned();
        };
        let tokens = self.gate.read();
        tokens
            .iter()
            .find(|t| t.hash.matches(hash))
            .map_or_else(|| "revoked token".to_owned(), |t| t.name.clone())
    }

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
        let gate = Gate::with(store::active(&db).await?);
        tokio::spawn(gate.clone().refresh(db));
        Ok(gate)
    }

    fn with(tokens: Vec<ActiveToken>) -> Gate {
        Gate {
            tokens: Arc::new(RwLock::new(tokens)),
            sessions: Arc::default(),
            guesses: Arc::new(Mutex::new(crate::registrar::FailureLimiter::new(
                SIGN_IN_FAILURES,
            ))),
        }
    }

    /// Whether sign-ins from `ip` are refused for now, after too many failures.
    pub fn guessing(&self, ip: std::net::IpAddr, now: std::time::Instant) -> bool {
        self.guesses().is_blocked(ip, now)
    }

    /// Counts a failed sign-in from `ip`.
    pub fn sign_in_failed(&self, ip: std::net::IpAddr, now: std::time::Instant) {
        self.guesses().record_failure(ip, now);
    }

    fn guesses(&self) -> std::sync::MutexGuard<'_, crate::registrar::FailureLimiter> {
        self.guesses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a console session for whoever presents an active API token;
    /// the secret for the cookie. One refusal for every wrong token, so the
    /// answer says nothing about which tokens exist.
    pub fn sign_in(&self, token: &str, now_ms: i64) -> Option<String> {
        let hash = TokenHash::of(token.trim());
        self.role_of(&hash)?;
        Some(self.sessions().open(Grant::Token(hash), now_ms))
    }

    /// Opens an agent's session, once their password was checked; the secret for the cookie.
    pub fn sign_in_agent(&self, login: &str, now_ms: i64) -> String {
        self.sessions().open(Grant::Agent(login.to_owned()), now_ms)
    }

    /// The agent whose session the request carries, if any.
    pub fn agent(&self, headers: &axum::http::HeaderMap, now_ms: i64) -> Option<String> {
        match self.sessions().grant(session_cookie(headers)?, now_ms)? {
            Grant::Agent(login) => Some(login),
            Grant::Token(_) => None,
        }
    }

    /// Ends the session whose secret the cookie carries.
    pub fn sign_out(&self, secret: &str) {
        self.sessions().close(secret);
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

    /// What the peer at `peer` presenting `authorization` (or, from a
    /// browser, a session cookie) may do, and the hash of the token that
    /// grants it (none under the loopback rule).
    fn admit(
        &self,
        peer: SocketAddr,
        authorization: Option<&str>,
        session: Option<&str>,
        now_ms: i64,
    ) -> Result<(Role, Option<TokenHash>), Refusal> {
        let tokens = self.read();
        if tokens.is_empty() {
            return if peer.ip().is_loopback() {
                Ok((Role::Admin, None))
            } else {
                Err(Refusal::NotLoopback)
            };
        }
        drop(tokens);
        let hash = match (authorization.and_then(token::bearer), session) {
            (Some(presented), _) => TokenHash::of(presented),
            (None, Some(secret)) => match self.sessions().grant(secret, now_ms) {
                Some(Grant::Token(hash)) => hash,
                Some(Grant::Agent(_)) => return Err(Refusal::AgentSession),
                None => return Err(Refusal::UnknownToken),
            },
            (None, None) => return Err(Refusal::NoToken),
        };
        self.role_of(&hash)
            .map(|role| (role, Some(hash)))
            .ok_or(Refusal::UnknownToken)
    }

    /// The role of an active token.
    fn role_of(&self, hash: &TokenHash) -> Option<Role> {
        // Every token is compared, so the time taken does not say which one nearly matched.
        self.read()
            .iter()
            .fold(None, |found, t| match t.hash.matches(hash) {
                true => Some(t.role),
                false => found,
            })
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
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
    /// An agent's session, which opens only the agent's own desktop.
    AgentSession,
    RoleTooLow {
        needed: Role,
        has: Role,
    },
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::NoToken | Refusal::UnknownToken => StatusCode::UNAUTHORIZED,
            Refusal::NotLoopback | Refusal::AgentSession | Refusal::RoleTooLow { .. } => {
                StatusCode::FORBIDDEN
            }
        }
    }

    fn message(self) -> String {
        match self {
            Refusal::NotLoopback => "no API token exists, so only loopback is served".to_owned(),
            Refusal::NoToken => "bearer token required".to_owned(),
            Refusal::UnknownToken => "unknown or revoked token".to_owned(),
            Refusal::AgentSession => "an agent's sign-in opens the agent desktop only".to_owned(),
            Refusal::RoleTooLow { needed, has } => {
                format!("this needs the {needed} role; the token has {has}")
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = axum::Json(serde_json::json!({ "error": self.message() }));
        let mut response = (status, body).into_response();
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

/// The session secret of a request's cookies.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::from_cookie)
}

/// Middleware for an agent's own pages and routes: lets a request with an
/// agent's session through, telling the handler whose ([`AgentLogin`]); a
/// page without one goes to sign-in, a JSON route gets 401.
pub async fn require_agent(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    match gate.agent(request.headers(), crate::crm::now_ms()) {
        Some(login) => {
            request.extensions_mut().insert(AgentLogin(login));
            next.run(request).await
        }
        None if request.uri().path() == "/agent" => Redirect::to("/login").into_response(),
        None => Refusal::NoToken.into_response(),
    }
}

/// The agent signed in, as handlers of the agent's routes see it.
#[derive(Debug, Clone)]
pub struct AgentLogin(pub String);

/// Middleware: lets the request through when its caller has at least `needed`,
/// telling the handler who it is ([`Caller`]).
pub async fn require(
    State((gate, needed)): State<(Gate, Role)>,
    Extension(client): Extension<Client>,
    request: Request,
    next: Next,
) -> Response {
    let peer = client.connection();
    admit_or(gate, needed, peer, request, next, Refusal::into_response).await
}

/// Middleware for the console's pages: like [`require`], but a browser
/// without a session is sent to the sign-in page, and a role too low gets a
/// page saying so.
pub async fn require_page(
    State((gate, needed)): State<(Gate, Role)>,
    Extension(client): Extension<Client>,
    request: Request,
    next: Next,
) -> Response {
    let peer = client.connection();
    admit_or(gate, needed, peer, request, next, |refusal| match refusal {
        Refusal::NoToken | Refusal::UnknownToken => Redirect::to("/login").into_response(),
        Refusal::AgentSession => Redirect::to("/agent").into_response(),
        refusal => {
            let page = crate::api::console::refused(&refusal.message());
            (refusal.status(), axum::response::Html(page)).into_response()
        }
    })
    .await
}

/// Runs the request with its [`Caller`] when admitted, else answers `refuse`.
async fn admit_or(
    gate: Gate,
    needed: Role,
    peer: SocketAddr,
    mut request: Request,
    next: Next,
    refuse: impl FnOnce(Refusal) -> Response,
) -> Response {
    match gate.check(peer, &request, needed) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refusal) => refuse(refusal),
    }
}

impl Gate {
    fn check(&self, peer: SocketAddr, request: &Request, needed: Role) -> Result<Caller, Refusal> {
        let headers = request.headers();
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let session = session_cookie(headers);
        let (role, token) = self.admit(peer, authorization, session, crate::crm::now_ms())?;
        if !role.allows(needed) {
            return Err(Refusal::RoleTooLow { needed, has: role });
        }
        Ok(Caller {
            role,
            token,
            gate: self.clone(),
        })
    }
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
        Gate::with(tokens)
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    fn role(gate: &Gate, peer: SocketAddr, authorization: Option<&str>) -> Result<Role, Refusal> {
        gate.admit(peer, authorization, None, 0)
            .map(|(role, _)| role)
    }

    fn caller(gate: &Gate, authorization: Option<&str>) -> Caller {
        let (role, token) = gate
            .admit(peer("127.0.0.1"), authorization, None, 0)
            .unwrap();
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
    fn a_session_grants_its_tokens_role_until_the_token_is_revoked() {
        let gate = gate(&[("s3cret-monitor", Role::Monitor)]);
        assert_eq!(gate.sign_in("wrong", 0), None);
        let secret = gate.sign_in("s3cret-monitor", 0).expect("a session");
        let local = peer("127.0.0.1");
        let admitted = gate.admit(local, None, Some(&secret), 1).map(|(r, _)| r);
        assert_eq!(admitted, Ok(Role::Monitor));
        assert_eq!(
            gate.admit(local, None, Some("hotline_guess"), 1),
            Err(Refusal::UnknownToken)
        );
        gate.tokens.write().unwrap().clear();
        gate.tokens.write().unwrap().push(ActiveToken {
            name: "other".into(),
            role: Role::Admin,
            hash: TokenHash::of("s3cret-admin"),
        });
        assert_eq!(
            gate.admit(local, None, Some(&secret), 2),
            Err(Refusal::UnknownToken)
        );
        gate.sign_out(&secret);
    }

    #[test]
    fn an_address_that_fails_to_sign_in_ten_times_in_a_minute_is_refused_for_a_while() {
        let gate = gate(&[]);
        let (guesser, other) = (peer("192.0.2.7").ip(), peer("192.0.2.8").ip());
        let start = std::time::Instant::now();
        for i in 0..10 {
            assert!(!gate.guessing(guesser, start));
            gate.sign_in_failed(guesser, start + Duration::from_secs(i));
        }
        assert!(gate.guessing(guesser, start + Duration::from_secs(10)));
        assert!(!gate.guessing(other, start + Duration::from_secs(10)));
        assert!(!gate.guessing(guesser, start + Duration::from_secs(320)));
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
