//! The registrar task: owns the sans-IO [`Registrar`], looks agents'
//! credentials up in the database, keeps bindings there, and answers
//! REGISTERs through the endpoint.
//!
//! The endpoint hands REGISTERs over without waiting; lookups and writes run
//! in tasks of their own, so neither the SIP receive path nor this task ever
//! waits for the database. The queue reaches the bindings through
//! [`RegistrarHandle`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, mpsc};
use tracing::{debug, info, warn};

use super::endpoint::{EndpointCommand, EndpointHandle};
use crate::crm::Db;
use crate::crm::registrations::StoredRegistration;
use crate::metrics::SipMetrics;
use crate::registrar::{
    Action, Binding, Lookup, Registrar, RegistrarConfig, RegistrarEvent, SessionCredentials,
};
use crate::sip::message::{Request, Response};
use crate::sip::relay::BrowserRelay;
use crate::sip::transaction::{Remote, ServerTxId, Transport};
use crate::sip::uri::parse_name_addr;

/// A REGISTER handed over by the endpoint, with its server transaction.
#[derive(Debug)]
pub struct RegisterRequest {
    pub tx: ServerTxId,
    pub request: Request,
    pub remote: Remote,
}

/// How the queue (and the admin API) reach the bindings and their changes.
#[derive(Clone)]
pub struct RegistrarHandle {
    bindings: Arc<RwLock<HashMap<String, Vec<Binding>>>>,
    events: broadcast::Sender<RegistrarEvent>,
    closed: mpsc::Sender<Remote>,
}

impl RegistrarHandle {
    /// The agent's registered devices: send an INVITE to `binding.uri()` at
    /// `binding.target`, one per device (ring them all, or in turn).
    pub fn contacts(&self, agent: &str) -> Vec<Binding> {
        let now = Instant::now();
        let bindings = self.bindings.read().unwrap_or_else(|e| e.into_inner());
        bindings
            .get(agent)
            .map(|list| {
                list.iter()
                    .filter(|b| b.expires_at > now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every registered agent with its devices, by login.
    pub fn registered(&self) -> Vec<(String, Vec<Binding>)> {
        let bindings = self.bindings.read().unwrap_or_else(|e| e.into_inner());
        let mut agents: Vec<String> = bindings.keys().cloned().collect();
        drop(bindings);
        agents.sort();
        agents
            .into_iter()
            .map(|agent| {
                let contacts = self.contacts(&agent);
                (agent, contacts)
            })
            .filter(|(_, contacts)| !contacts.is_empty())
            .collect()
    }

    /// Says that a connection closed (a browser's WebSocket), so the devices
    /// registered over it are removed.
    pub async fn connection_closed(&self, connection: Remote) {
        let _ = self.closed.send(connection).await;
    }

    /// Agents logging in and out from now on. A receiver that lags behind
    /// gets `Lagged` and should read `registered` again.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistrarEvent> {
        self.events.subscribe()
    }
}

/// REGISTERs that may wait for the registrar before the endpoint answers 503.
pub const REGISTER_QUEUE: usize = 1024;

/// Events kept for slow subscribers.
const EVENT_BACKLOG: usize = 1024;

/// How long a credentials query may take.
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(2);

/// The channel the endpoint hands REGISTERs over on.
pub fn channel() -> (
    mpsc::Sender<RegisterRequest>,
    mpsc::Receiver<RegisterRequest>,
) {
    mpsc::channel(REGISTER_QUEUE)
}

/// Starts the registrar once the bindings kept from before are restored, so
/// a server that says it is ready knows where its agents are.
pub async fn spawn(
    settings: RegistrarConfig,
    db: Db,
    requests: mpsc::Receiver<RegisterRequest>,
    endpoint: EndpointHandle,
    metrics: SipMetrics,
    minted: SessionCredentials,
    publish: Publish,
) -> RegistrarHandle {
    let (closed_tx, closed_rx) = mpsc::channel(REGISTER_QUEUE);
    let handle = RegistrarHandle {
        bindings: Arc::default(),
        events: broadcast::channel(EVENT_BACKLOG).0,
        closed: closed_tx,
    };
    let (lookups_tx, lookups_rx) = mpsc::channel(REGISTER_QUEUE);
    let writes = Arc::new(Writes::default());
    tokio::spawn(write_registrations(
        db.clone(),
        publish.node.clone(),
        writes.clone(),
    ));
    let mut task = Task {
        realm: settings.digest.realm.clone(),
        core: Registrar::new(settings, rand::random(), Instant::now())
            .with_session_credentials(minted),
        db,
        endpoint,
        handle: handle.clone(),
        lookups: lookups_tx,
        writes,
        metrics,
        relay: publish.relay,
    };
    task.restore().await;
    tokio::spawn(task.run(requests, lookups_rx, closed_rx));
    handle
}

struct Task {
    core: Registrar,
    realm: String,
    db: Db,
    endpoint: EndpointHandle,
    handle: RegistrarHandle,
    lookups: mpsc::Sender<(String, Lookup)>,
    writes: Arc<Writes>,
    metrics: SipMetrics,
    relay: Option<BrowserRelay>,
}

/// How a node's bindings are kept in the database for the others.
#[derive(Debug, Clone, Default)]
pub struct Publish {
    /// The node keeping them (`[cluster] node_id`; empty on a single node).
    pub node: String,
    /// On a cluster, this node's relay to its browsers: their bindings are
    /// kept with a Path through it, so the ACD on any node rings them.
    pub relay: Option<BrowserRelay>,
}

impl Task {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<RegisterRequest>,
        mut lookups: mpsc::Receiver<(String, Lookup)>,
        mut closed: mpsc::Receiver<Remote>,
    ) {
        loop {
            self.flush().await;
            let deadline = self.core.poll_timeout();
            tokio::select! {
                request = requests.recv() => match request {
                    Some(r) => self.core.handle_register(Instant::now(), r.tx, r.request, r.remote),
                    None => return,
                },
                Some((login, lookup)) = lookups.recv() => {
                    self.core.handle_credentials(Instant::now(), &login, lookup)
                }
                Some(connection) = closed.recv() => {
                    self.core.handle_connection_closed(Instant::now(), connection)
                }
                _ = super::endpoint::sleep_until(deadline) => self.core.handle_timeout(Instant::now()),
            }
        }
    }

    async fn restore(&mut self) {
        let now_ms = crate::crm::now_ms();
        match self.db.live_registrations(now_ms).await {
            Ok(stored) => {
                let now = Instant::now();
                let bindings: Vec<Binding> = stored
                    .iter()
                    .filter_map(|s| binding(s, now, now_ms))
                    .collect();
                info!(bindings = bindings.len(), "registrations restored");
                self.core.restore(now, bindings);
                let mut shared = self
                    .handle
                    .bindings
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                for (agent, bindings) in self.core.registered() {
                    shared.insert(agent.to_owned(), bindings.to_vec());
                }
            }
            Err(error) => warn!(%error, "registrations not restored"),
        }
    }

    /// Carries out the core's actions and publishes its events.
    async fn flush(&mut self) {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Respond { tx, response } => {
                    log_refusal(&response);
                    if let Some(reason) = crate::metrics::register_failure(response.status) {
                        self.metrics.register_failed(reason);
                    }
                    self.endpoint
                        .send(EndpointCommand::Respond(tx, Box::new(response)))
                        .await;
                }
                Action::LookupCredentials { login } => self.look_up(login),
                Action::StoreBindings { agent, bindings } => self.store(agent, bindings),
            }
        }
        while let Some(event) = self.core.poll_event() {
            log_event(&event);
            // No subscriber yet is fine: the bindings are in the handle.
            let _ = self.handle.events.send(event);
        }
    }

    fn look_up(&self, login: String) {
        let db = self.db.clone();
        let results = self.lookups.clone();
        let realm = self.realm.clone();
        tokio::spawn(async move {
            let lookup = match db.agent_credentials(&login, LOOKUP_LIMIT).await {
                Ok(Some(credentials)) => {
                    if credentials.realm != realm {
                        warn!(
                            agent = %login,
                            stored = %credentials.realm,
                            configured = %realm,
                            "password was set for another realm; set it again with hotline agents passwd"
                        );
                    }
                    Lookup::Found(credentials)
                }
                Ok(None) => Lookup::Unknown,
                Err(error) => {
                    warn!(%error, agent = %login, "cannot read agent credentials");
                    Lookup::Unavailable
                }
            };
            let _ = results.send((login, lookup)).await;
        });
    }

    fn store(&self, agent: String, bindings: Vec<Binding>) {
        let now = Instant::now();
        let now_ms = crate::crm::now_ms();
        let relay = self.relay.as_ref();
        let stored = bindings
            .iter()
            .map(|b| published(b, now, now_ms, relay))
            .collect();
        {
            let mut shared = self
                .handle
                .bindings
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if bindings.is_empty() {
                shared.remove(&agent);
            } else {
                shared.insert(agent.clone(), bindings);
            }
        }
        self.writes.push(agent, stored);
    }
}

/// The latest bindings of each agent not yet written: a burst of refreshes
/// costs one write per agent, and memory stays bounded by the agents.
#[derive(Default)]
struct Writes {
    pending: Mutex<HashMap<String, Vec<StoredRegistration>>>,
    ready: Notify,
}

impl Writes {
    fn push(&self, agent: String, registrations: Vec<StoredRegistration>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.insert(agent, registrations);
        self.ready.notify_one();
    }

    fn take(&self) -> HashMap<String, Vec<StoredRegistration>> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Writes bindings as they change; a failed write is logged and the next
/// change of that agent writes again.
async fn write_registrations(db: Db, node: String, writes: Arc<Writes>) {
    loop {
        writes.ready.notified().await;
        for (agent, registrations) in writes.take() {
            let stored = db.store_node_registrations(&agent, &node, &registrations);
            if let Err(error) = stored.await {
                warn!(%error, %agent, "registrations not stored");
            }
        }
    }
}

/// A binding as the database keeps it for the cluster: a browser's with a
/// Path through `relay`, the only way another node reaches its WebSocket.
fn published(
    binding: &Binding,
    now: Instant,
    now_ms: i64,
    relay: Option<&BrowserRelay>,
) -> StoredRegistration {
    let mut row = stored(binding, now, now_ms);
    if let Some(relay) = relay
        && binding.source.transport == Transport::Ws
    {
        row.path = Some(relay.path(binding.source.addr).to_string());
    }
    row
}

/// A binding as the database keeps it: wall-clock expiry.
fn stored(binding: &Binding, now: Instant, now_ms: i64) -> StoredRegistration {
    let left = binding.expires_at.saturating_duration_since(now);
    StoredRegistration {
        login: binding.agent.clone(),
        contact: binding.contact.to_string(),
        source: binding.source.addr.to_string(),
        transport: binding.source.transport.token().into(),
        call_id: binding.call_id.clone(),
        cseq: i64::from(binding.cseq),
        user_agent: binding.user_agent.clone(),
        expires_at: now_ms + left.as_millis() as i64,
        path: (!binding.path.is_empty()).then(|| {
            let proxies: Vec<String> = binding.path.iter().map(ToString::to_string).collect();
            proxies.join(", ")
        }),
    }
}

/// A binding kept in the database, as the registrar holds it (`None` when
/// it is unreadable or expired); also how a new ACD learns where agents are.
pub fn binding(stored: &StoredRegistration, now: Instant, now_ms: i64) -> Option<Binding> {
    let contact = parse_name_addr(&stored.contact).ok()?;
    let addr: SocketAddr = stored.source.parse().ok()?;
    let transport = match stored.transport.as_str() {
        "TCP" => Transport::Tcp,
        // A WebSocket binding dies with its connection, which a restart closed.
        "WS" => return None,
        _ => Transport::Udp,
    };
    let source = Remote { addr, transport };
    let left = Duration::from_millis(u64::try_from(stored.expires_at - now_ms).ok()?);
    let path = match &stored.path {
        Some(path) => crate::sip::uri::parse_name_addr_list(path).ok()?,
        None => Vec::new(),
    };
    Some(Binding {
        agent: stored.login.clone(),
        target: crate::registrar::binding_target(&contact.uri, &path, source),
        path,
        contact,
        source,
        expires_at: now + left,
        call_id: stored.call_id.clone(),
        cseq: u32::try_from(stored.cseq).ok()?,
        user_agent: stored.user_agent.clone(),
    })
}

/// A browser kept by another node of the cluster, as the ACD on this node
/// (reached at `me`) rings it: through that node's relay, the first hop of
/// its Path, over UDP. `None` for every other binding, and for this node's
/// own browsers, which its registrar has on their sockets.
pub fn relayed_binding(
    stored: &StoredRegistration,
    now: Instant,
    now_ms: i64,
    me: SocketAddr,
) -> Option<Binding> {
    if stored.transport != "WS" {
        return None;
    }
    let path = crate::sip::uri::parse_name_addr_list(stored.path.as_deref()?).ok()?;
    let unknown = Remote {
        addr: me,
        transport: Transport::Udp,
    };
    let relay = crate::sip::dialog::first_hop(&path, unknown);
    if relay.addr == me || relay.transport != Transport::Udp {
        return None;
    }
    let left = Duration::from_millis(u64::try_from(stored.expires_at - now_ms).ok()?);
    Some(Binding {
        agent: stored.login.clone(),
        contact: parse_name_addr(&stored.contact).ok()?,
        source: relay,
        target: relay,
        path,
        expires_at: now + left,
        call_id: stored.call_id.clone(),
        cseq: u32::try_from(stored.cseq).ok()?,
        user_agent: stored.user_agent.clone(),
    })
}

fn log_event(event: &RegistrarEvent) {
    match event {
        RegistrarEvent::AgentRegistered { agent, contacts } => {
            info!(%agent, devices = ?devices(contacts), "agent registered");
        }
        RegistrarEvent::ContactsChanged { agent, contacts } => {
            info!(%agent, devices = ?devices(contacts), "agent's devices changed");
        }
        RegistrarEvent::AgentUnregistered { agent, reason } => {
            info!(%agent, ?reason, "agent unregistered");
        }
    }
}

fn devices(contacts: &[Binding]) -> Vec<String> {
    contacts.iter().map(|b| b.contact.to_string()).collect()
}

/// Refusals other than challenges are worth an admin's eye.
fn log_refusal(response: &Response) {
    let agent = response.head.to.uri.user().unwrap_or_default();
    let from = response
        .head
        .via
        .first()
        .and_then(|via| via.params.value("received").map(str::to_owned))
        .or_else(|| response.head.via.first().map(|via| via.host.to_string()))
        .unwrap_or_default();
    match response.status {
        200 | 401 => debug!(%agent, %from, status = response.status, "REGISTER answered"),
        status => warn!(%agent, %from, status, reason = %response.reason, "REGISTER refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_kept_in_the_database_is_reached_through_its_path_again() {
        let (now, now_ms) = (Instant::now(), 1_000_000);
        let row = StoredRegistration {
            login: "alice".into(),
            contact: "<sip:alice@127.0.0.1:5062;ob>".into(),
            source: "127.0.0.1:5060".into(),
            transport: "UDP".into(),
            call_id: "c1".into(),
            cseq: 2,
            user_agent: None,
            expires_at: now_ms + 60_000,
            path: Some("<sip:10.0.0.5:5060;lr>, <sip:10.0.0.6;lr>".into()),
        };
        let kept = binding(&row, now, now_ms).expect("a live binding");
        assert_eq!(kept.path.len(), 2);
        assert_eq!(kept.target.addr, "10.0.0.5:5060".parse().unwrap());
        assert_eq!(stored(&kept, now, now_ms), row, "stored as it was read");
        let direct = binding(&StoredRegistration { path: None, ..row }, now, now_ms).unwrap();
        assert_eq!(direct.target.addr, "127.0.0.1:5062".parse().unwrap());
    }

    #[test]
    fn a_browser_kept_by_another_node_is_rung_through_that_nodes_relay() {
        let (now, now_ms) = (Instant::now(), 1_000_000);
        let relay = BrowserRelay::new("127.0.0.1:5072".parse().unwrap(), [1; 32]);
        let browser = Binding {
            agent: "alice".into(),
            contact: parse_name_addr("<sip:k3h2@df7.invalid;transport=ws>").unwrap(),
            source: Remote {
                addr: "127.0.0.1:40123".parse().unwrap(),
                transport: Transport::Ws,
            },
            target: Remote {
                addr: "127.0.0.1:40123".parse().unwrap(),
                transport: Transport::Ws,
            },
            path: Vec::new(),
            expires_at: now + Duration::from_secs(60),
            call_id: "c1".into(),
            cseq: 1,
            user_agent: None,
        };
        let row = published(&browser, now, now_ms, Some(&relay));
        assert_eq!(row.transport, "WS");
        // The node that keeps it restores no browser after a restart...
        assert_eq!(binding(&row, now, now_ms), None);
        // ...rings its own browsers on their sockets, not through itself...
        let acd_here = "127.0.0.1:5072".parse().unwrap();
        assert_eq!(relayed_binding(&row, now, now_ms, acd_here), None);
        // ...and an ACD elsewhere rings it through the relay.
        let acd = "127.0.0.1:5071".parse().unwrap();
        let relayed = relayed_binding(&row, now, now_ms, acd).expect("a relayed browser");
        assert_eq!(relayed.target, udp("127.0.0.1:5072"));
        assert_eq!(relayed.path, vec![relay.path(browser.source.addr)]);
        assert_eq!(relayed.uri(), browser.uri());
        // A single node publishes its browsers without a Path; nobody relays them.
        let alone = published(&browser, now, now_ms, None);
        assert_eq!(relayed_binding(&alone, now, now_ms, acd), None);
    }

    fn udp(addr: &str) -> Remote {
        Remote {
            addr: addr.parse().unwrap(),
            transport: Transport::Udp,
        }
    }
}
