//! The registrar of agents' phones (RFC 3261 §10.3) with digest authentication.
//!
//! A sans-IO value. The shell hands it each REGISTER with its server
//! transaction, feeds back the credentials it was asked to look up, and gives
//! it the clock; it answers through [`Action`]s (respond, look up
//! credentials, store bindings) and reports agents logging in and out as
//! [`RegistrarEvent`]s. Bindings expire on the clock (`poll_timeout`).
//! Credentials come from the database, so the registrar never waits for
//! them: a REGISTER whose user is not in its short-lived cache is parked
//! until the lookup is fed back.

mod bindings;
mod limiter;
mod minted;
mod request;
mod target;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

pub use bindings::Binding;
pub(crate) use limiter::FailureLimiter;
pub use limiter::FailureLimits;
pub use minted::{MINTED_LIFETIME, SessionCredentials};
pub use target::{binding_target, is_public, send_target};

use crate::sip::digest::Verdict;
use crate::sip::digest::{Algorithm, Credentials, CredentialsError, DigestAuth, DigestSettings};
use crate::sip::message::{Header, Method, Request, Response};
use crate::sip::transaction::{Remote, ServerTxId};
use bindings::BindingLimits;
use request::{Change, Refusal, Register};

/// Settings of the registrar.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    pub digest: DigestSettings,
    /// Shortest registration accepted; shorter ones get 423 with Min-Expires.
    pub min_expires: u32,
    /// Longer registrations are cut to this.
    pub max_expires: u32,
    /// Used when a REGISTER names no expiry.
    pub default_expires: u32,
    pub failures: FailureLimits,
    /// How long looked-up credentials are used before they are asked for again.
    pub credentials_ttl: Duration,
    /// How long a lookup may take before the REGISTER is answered 503.
    pub lookup_timeout: Duration,
    /// Devices one agent may register at once.
    pub max_devices: usize,
}

/// An agent's stored digest secrets: HA1 per algorithm, for one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCredentials {
    pub login: String,
    /// The realm the HA1 values were computed with.
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl AgentCredentials {
    /// The HA1 for `algorithm`.
    pub fn ha1(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// The outcome of a credentials lookup, fed back with `handle_credentials`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(AgentCredentials),
    /// No agent has this login.
    Unknown,
    /// The database failed or timed out; the REGISTER is answered 503.
    Unavailable,
}

/// What the shell must do.
#[derive(Debug)]
// Moved once from producer to consumer, never stored in bulk: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Answer a REGISTER's server transaction.
    Respond { tx: ServerTxId, response: Response },
    /// Look up an agent's credentials and feed them to `handle_credentials`.
    LookupCredentials { login: String },
    /// An agent's bindings changed (refreshes included): keep them.
    StoreBindings {
        agent: String,
        bindings: Vec<Binding>,
    },
}

/// Agents logging in and out, for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// The agent's first device registered.
    AgentRegistered {
        agent: String,
        contacts: Vec<Binding>,
    },
    /// A device was added or removed while others stay registered.
    ContactsChanged {
        agent: String,
        contacts: Vec<Binding>,
    },
    /// The agent's last binding was removed or expired.
    AgentUnregistered { agent: String, reason: Unregistered },
}

/// Why an agent's last binding went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unregistered {
    /// The phone un-registered (expires 0, or `Contact: *`).
    Removed,
    /// It was not refreshed in time.
    Expired,
}

/// The registrar: every agent's bindings.
pub struct Registrar {
    config: RegistrarConfig,
    auth: DigestAuth,
    rng: StdRng,
    agents: HashMap<String, Vec<Binding>>,
    cache: HashMap<String, Cached>,
    pending: HashMap<String, Pending>,
    limiter: FailureLimiter,
    /// Passwords minted for browser sessions, accepted beside the stored one.
    minted: Option<SessionCredentials>,
    actions: VecDeque<Action>,
    events: VecDeque<RegistrarEvent>,
}

struct Cached {
    credentials: Option<AgentCredentials>,
    until: Instant,
}

/// REGISTERs waiting for one login's credentials.
struct Pending {
    deadline: Instant,
    requests: Vec<Parked>,
}

struct Parked {
    tx: ServerTxId,
    request: Request,
    remote: Remote,
    register: Register,
    credentials: Credentials,
}

/// Cached logins past which expired entries are swept.
const CACHE_SWEEP: usize = 4096;

/// Seconds suggested in Retry-After when credentials cannot be looked up.
const RETRY_AFTER_SECONDS: u32 = 5;

impl Registrar {
    /// A registrar with no bindings; `seed` makes its nonce secret and tags
    /// (pass random bytes outside tests).
    pub fn new(config: RegistrarConfig, seed: [u8; 32], now: Instant) -> Registrar {
        let mut rng = StdRng::from_seed(seed);
        let secret: [u8; 32] = rng.random();
        Registrar {
            auth: DigestAuth::new(config.digest.clone(), secret, now),
            limiter: FailureLimiter::new(config.failures),
            config,
            rng,
            agents: HashMap::new(),
            cache: HashMap::new(),
            pending: HashMap::new(),
            minted: None,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Accepts the passwords minted in `minted` beside the stored ones.
    pub fn with_session_credentials(mut self, minted: SessionCredentials) -> Registrar {
        self.minted = Some(minted);
        self
    }

    /// A connection that bindings were made over closed (a browser's
    /// WebSocket): those devices cannot be reached any more, so they go.
    pub fn handle_connection_closed(&mut self, now: Instant, connection: Remote) {
        self.expire(now);
        let affected: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, list)| list.iter().any(|b| b.source == connection))
            .map(|(agent, _)| agent.clone())
            .collect();
        for agent in affected {
            let next = self.agents[&agent]
                .iter()
                .filter(|b| b.source != connection)
                .cloned()
                .collect();
            self.replace(&agent, next, Unregistered::Removed);
        }
    }

    /// A REGISTER from `remote` with its server transaction.
    pub fn handle_register(
        &mut self,
        now: Instant,
        tx: ServerTxId,
        request: Request,
        remote: Remote,
    ) {
        self.expire(now);
        if self.limiter.is_blocked(remote.addr.ip(), now) {
            return self.refuse(tx, &request, Refusal::status(403));
        }
        let register = match Register::parse(&request, self.config.default_expires) {
            Ok(register) => register,
            Err(refusal) => return self.refuse(tx, &request, refusal),
        };
        let credentials = match self.credentials_in(&request) {
            Ok(Some(credentials)) => credentials,
            Ok(None) => return self.challenge(now, tx, &request, false),
            Err(refusal) => return self.refuse(tx, &request, refusal),
        };
        if credentials.username != register.agent {
            let refusal = Refusal::because(403, "Username Does Not Match To");
            return self.refuse(tx, &request, refusal);
        }
        let login = credentials.username.clone();
        let parked = Parked {
            tx,
            request,
            remote,
            register,
            credentials,
        };
        let cached = self
            .cache
            .get(&login)
            .filter(|c| now < c.until)
            .map(|c| c.credentials.clone());
        match cached {
            Some(stored) => self.authenticate(now, parked, stored.as_ref()),
            None => self.park(now, login, parked),
        }
    }

    /// The result of a `LookupCredentials` action.
    pub fn handle_credentials(&mut self, now: Instant, login: &str, lookup: Lookup) {
        self.expire(now);
        let stored = match lookup {
            Lookup::Found(credentials) => Some(credentials),
            Lookup::Unknown => None,
            Lookup::Unavailable => return self.unavailable(now, login),
        };
        if self.cache.len() >= CACHE_SWEEP {
            // Known agents stay, however old, as the fallback of an outage;
            // they are as many as the agents table, so the cache stays bounded.
            self.cache
                .retain(|_, c| now < c.until || c.credentials.is_some());
        }
        let cached = Cached {
            credentials: stored.clone(),
            until: now + self.config.credentials_ttl,
        };
        self.cache.insert(login.to_owned(), cached);
        let Some(pending) = self.pending.remove(login) else {
            return;
        };
        for parked in pending.requests {
            self.authenticate(now, parked, stored.as_ref());
        }
    }

    /// Expires bindings and gives up on lookups that took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        let overdue: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(login, _)| login.clone())
            .collect();
        for login in overdue {
            self.unavailable(now, &login);
        }
        self.limiter.sweep(now);
    }

    /// Bindings kept from before a restart; those expired by `now` are dropped.
    pub fn restore(&mut self, now: Instant, bindings: Vec<Binding>) {
        let mut restored: Vec<String> = Vec::new();
        for binding in bindings.into_iter().filter(|b| b.expires_at > now) {
            if !restored.contains(&binding.agent) {
                restored.push(binding.agent.clone());
            }
            let list = self.agents.entry(binding.agent.clone()).or_default();
            list.retain(|b| !b.same_device(&binding.contact));
            list.push(binding);
        }
        for agent in restored {
            let contacts = self.contacts_for(&agent);
            self.events
                .push_back(RegistrarEvent::AgentRegistered { agent, contacts });
        }
    }

    /// The next thing the shell must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the queue.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiries = self.agents.values().flatten().map(|b| b.expires_at);
        let lookups = self.pending.values().map(|p| p.deadline);
        expiries.chain(lookups).min()
    }

    /// The agent's registered devices.
    pub fn contacts_for(&self, agent: &str) -> Vec<Binding> {
        self.agents.get(agent).cloned().unwrap_or_default()
    }

    /// Every registered agent with its devices.
    pub fn registered(&self) -> impl Iterator<Item = (&str, &[Binding])> {
        self.agents.iter().map(|(a, b)| (a.as_str(), b.as_slice()))
    }

    /// The first credentials for our realm; none (a challenge is due) when
    /// only other realms or schemes are answered.
    fn credentials_in(&self, request: &Request) -> Result<Option<Credentials>, Refusal> {
        let mut malformed = None;
        for value in request.head.headers("Authorization") {
            match Credentials::parse(value) {
                Ok(credentials) if credentials.realm == self.auth.realm() => {
                    return Ok(Some(credentials));
                }
                Ok(_)
                | Err(CredentialsError::NotDigest)
                | Err(CredentialsError::UnsupportedAlgorithm(_)) => {}
                Err(_) => malformed = Some(Refusal::because(400, "Malformed Authorization")),
            }
        }
        malformed.map_or(Ok(None), Err)
    }

    fn park(&mut self, now: Instant, login: String, parked: Parked) {
        if let Some(pending) = self.pending.get_mut(&login) {
            pending.requests.push(parked);
            return;
        }
        let pending = Pending {
            deadline: now + self.config.lookup_timeout,
            requests: vec![parked],
        };
        self.pending.insert(login.clone(), pending);
        self.actions.push_back(Action::LookupCredentials { login });
    }

    /// The database could not say who `login` is. An agent whose credentials
    /// were read before is checked against those, so phones keep registering
    /// (and agents keep taking calls) through a database outage; anyone else
    /// is answered 503.
    fn unavailable(&mut self, now: Instant, login: &str) {
        let Some(pending) = self.pending.remove(login) else {
            return;
        };
        let last_known = self.cache.get(login).and_then(|c| c.credentials.clone());
        for parked in pending.requests {
            if let Some(stored) = &last_known {
                self.authenticate(now, parked, Some(stored));
                continue;
            }
            let mut refusal = Refusal::status(503);
            refusal.headers.push(Header {
                name: "Retry-After".into(),
                value: RETRY_AFTER_SECONDS.to_string(),
            });
            self.refuse(parked.tx, &parked.request, refusal);
        }
    }

    fn authenticate(&mut self, now: Instant, parked: Parked, stored: Option<&AgentCredentials>) {
        let realm = self.auth.realm().to_owned();
        let ha1 = |algorithm| {
            stored
                .filter(|s| s.realm == realm)
                .map(|s| s.ha1(algorithm).to_owned())
        };
        let mut verdict = self.auth.verify(
            now,
            &Method::Register,
            &parked.request.uri,
            &parked.credentials,
            ha1,
        );
        // A wrong answer leaves the nonce untouched, so the minted
        // passwords can be tried in turn.
        if verdict == Verdict::Wrong
            && let Some(minted) = &self.minted
        {
            let algorithm = parked.credentials.algorithm;
            let login = &parked.credentials.username;
            for candidate in minted.ha1s(login, algorithm, now) {
                verdict = self.auth.verify(
                    now,
                    &Method::Register,
                    &parked.request.uri,
                    &parked.credentials,
                    |_| Some(candidate.clone()),
                );
                if verdict != Verdict::Wrong {
                    break;
                }
            }
        }
        let (tx, request) = (parked.tx, &parked.request);
        match verdict {
            Verdict::Authorized => self.bind(now, parked),
            Verdict::Stale => self.challenge(now, tx, request, true),
            Verdict::Unanswered => self.challenge(now, tx, request, false),
            Verdict::Wrong => {
                self.limiter.record_failure(parked.remote.addr.ip(), now);
                self.refuse(tx, request, Refusal::status(403));
            }
            Verdict::Invalid(reason) => self.refuse(tx, request, Refusal::because(400, reason)),
        }
    }

    fn bind(&mut self, now: Instant, parked: Parked) {
        let limits = BindingLimits {
            min_expires: self.config.min_expires,
            max_expires: self.config.max_expires,
            max_devices: self.config.max_devices,
        };
        let agent = parked.register.agent.clone();
        let current = self
            .agents
            .get(&agent)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let next = match bindings::apply(current, &parked.register, parked.remote, now, limits) {
            Ok(next) => next,
            Err(refusal) => return self.refuse(parked.tx, &parked.request, refusal),
        };
        let mut ok = self.response(&parked.request, 200, None);
        ok.head.contact = next.iter().map(|b| b.contact_with_expires(now)).collect();
        // The Path as stored, for a phone that can use it (RFC 3327 §5.3).
        let path = &parked.register.path;
        if parked.register.path_supported && !path.is_empty() {
            ok.head.other.extend(path.iter().map(|proxy| Header {
                name: "Path".into(),
                value: proxy.to_string(),
            }));
            ok.head.push_header("Supported", request::PATH);
        }
        self.actions.push_back(Action::Respond {
            tx: parked.tx,
            response: ok,
        });
        if !matches!(parked.register.change, Change::Query) {
            self.replace(&agent, next, Unregistered::Removed);
        }
    }

    /// Drops bindings whose time is up.
    fn expire(&mut self, now: Instant) {
        let due: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, list)| list.iter().any(|b| b.expires_at <= now))
            .map(|(agent, _)| agent.clone())
            .collect();
        for agent in due {
            let next = self.agents[&agent]
                .iter()
                .filter(|b| b.expires_at > now)
                .cloned()
                .collect();
            self.replace(&agent, next, Unregistered::Expired);
        }
    }

    /// Sets an agent's bindings, reporting the change and asking to store it.
    fn replace(&mut self, agent: &str, next: Vec<Binding>, reason: Unregistered) {
        let before = self.agents.remove(agent).unwrap_or_default();
        if !next.is_empty() {
            self.agents.insert(agent.to_owned(), next.clone());
        }
        if before == next {
            return;
        }
        let agent = agent.to_owned();
        let event = match (before.is_empty(), next.is_empty()) {
            (true, _) => Some(RegistrarEvent::AgentRegistered {
                agent: agent.clone(),
                contacts: next.clone(),
            }),
            (false, true) => Some(RegistrarEvent::AgentUnregistered {
                agent: agent.clone(),
                reason,
            }),
            (false, false) if !bindings::same_devices(&before, &next) => {
                Some(RegistrarEvent::ContactsChanged {
                    agent: agent.clone(),
                    contacts: next.clone(),
                })
            }
            (false, false) => None,
        };
        self.events.extend(event);
        self.actions.push_back(Action::StoreBindings {
            agent,
            bindings: next,
        });
    }

    fn challenge(&mut self, now: Instant, tx: ServerTxId, request: &Request, stale: bool) {
        let mut refusal = Refusal::status(401);
        refusal.headers = self.auth.challenge(now, stale);
        self.refuse(tx, request, refusal);
    }

    fn refuse(&mut self, tx: ServerTxId, request: &Request, refusal: Refusal) {
        let mut response = self.response(request, refusal.status, refusal.reason);
        response.head.other.extend(refusal.headers);
        self.actions.push_back(Action::Respond { tx, response });
    }

    fn response(&mut self, request: &Request, status: u16, reason: Option<&str>) -> Response {
        let tag = format!("{:016x}", self.rng.random::<u64>());
        let mut response = Response::to_request(request, status).with_to_tag(&tag);
        if let Some(reason) = reason {
            response.reason = reason.to_owned();
        }
        response
    }
}

#[cfg(test)]
mod tests;
