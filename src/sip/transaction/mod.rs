//! SIP transactions (RFC 3261 §17, RFC 6026) as a sans-IO layer.
//!
//! The layer matches requests and responses to transactions, absorbs
//! retransmissions, retransmits on unreliable transports, and runs Timers A–M.
//! It never reads a clock: every input carries `now`, and the owner asks
//! `poll_timeout` when to call `handle_timeout` next.

mod client;
mod server;
mod timer;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

pub use client::ClientState;
pub(crate) use client::cancel_for;
pub use server::ServerState;
pub use timer::{Timer, TimerConfig};

use client::{ClientOutput, ClientTransaction};
use server::{ServerOutput, ServerTransaction};

use crate::sip::message::{Message, Method, Request, Response};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    /// SIP over WebSocket (RFC 7118): a browser's connection to the HTTP listener.
    Ws,
}

impl Transport {
    /// Reliable transports need no retransmission (§17.1.1.2, §17.2.1).
    pub fn reliable(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Ws)
    }

    /// The Via transport token.
    pub fn token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Ws => "WS",
        }
    }
}

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Remote {
    pub addr: SocketAddr,
    pub transport: Transport,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Transmit {
    pub remote: Remote,
    pub message: Message,
}

/// Identifies a server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerTxId(u64);

/// Identifies a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientTxId(u64);

/// What the layer reports to its user (the transaction user, TU).
#[derive(Debug)]
pub enum TransactionEvent {
    /// A new request (not a retransmission) with its server transaction.
    Request {
        tx: ServerTxId,
        request: Request,
        remote: Remote,
    },
    /// An ACK that matched no server transaction: the ACK for a 2xx, which
    /// belongs to the dialog (§17.2.3, RFC 6026).
    Ack { request: Request, remote: Remote },
    /// A response for a client transaction.
    Response { tx: ClientTxId, response: Response },
    /// A client transaction got no final response (Timer B or F).
    ClientTimeout { tx: ClientTxId },
    /// An INVITE server transaction got no ACK for its non-2xx final (Timer H).
    ServerTimeout { tx: ServerTxId },
    /// A response that matched no client transaction (e.g. a late 2xx).
    StrayResponse { response: Response },
}

/// The key of §17.2.3: branch, sent-by and method (ACK matches INVITE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ServerKey {
    branch: String,
    sent_by: String,
    method: Method,
}

/// The key of §17.1.3: branch and CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    branch: String,
    method: Method,
}

struct ServerEntry {
    tx: ServerTransaction,
    remote: Remote,
}

struct ClientEntry {
    tx: ClientTransaction,
    remote: Remote,
    key: ClientKey,
}

/// All transactions of one endpoint.
pub struct TransactionLayer {
    config: TimerConfig,
    next_id: u64,
    /// Boxed, as are clients: a transaction holds its request, and the map
    /// keeps spare slots as it grows.
    servers: HashMap<ServerTxId, Box<ServerEntry>>,
    server_keys: HashMap<ServerKey, ServerTxId>,
    clients: HashMap<ClientTxId, Box<ClientEntry>>,
    client_keys: HashMap<ClientKey, ClientTxId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
}

impl TransactionLayer {
    /// An empty layer with these timer values.
    pub fn new(config: TimerConfig) -> TransactionLayer {
        TransactionLayer {
            config,
            next_id: 1,
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The timer values in use.
    pub fn config(&self) -> TimerConfig {
        self.config
    }

    /// A request from the network: matched to a server transaction (a
    /// retransmission is absorbed) or a new one is created and reported.
    pub fn handle_request(&mut self, now: Instant, request: Request, remote: Remote) {
        let key = server_key(&request);
        if let Some(id) = key.as_ref().and_then(|k| self.server_keys.get(k)).copied() {
            let Some(entry) = self.servers.get_mut(&id) else {
                return;
            };
            if request.method == Method::Ack {
                if entry.tx.state == ServerState::Accepted {
                    // RFC 6026: the ACK for a 2xx goes to the TU.
                    self.events
                        .push_back(TransactionEvent::Ack { request, remote });
                } else {
                    entry.tx.handle_ack(now);
                }
            } else {
                let outputs = entry.tx.handle_retransmission();
                self.server_outputs(id, outputs);
            }
            return;
        }
        if request.method == Method::Ack {
            self.events
                .push_back(TransactionEvent::Ack { request, remote });
            return;
        }
        let id = ServerTxId(self.next_id());
        let (tx, outputs) = ServerTransaction::new(
            now,
            request.clone(),
            remote.transport.reliable(),
            self.config,
        );
        self.servers
            .insert(id, Box::new(ServerEntry { tx, remote }));
        if let Some(key) = key {
            self.server_keys.insert(key, id);
        }
        self.server_outputs(id, outputs);
        self.events.push_back(TransactionEvent::Request {
            tx: id,
            request,
            remote,
        });
    }

    /// A response from the network, matched to its client transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let key = response.head.branch().map(|branch| ClientKey {
            branch: branch.to_owned(),
            method: response.head.cseq.method.clone(),
        });
        let Some(id) = key.and_then(|k| self.client_keys.get(&k)).copied() else {
            self.events
                .push_back(TransactionEvent::StrayResponse { response });
            return;
        };
        if let Some(entry) = self.clients.get_mut(&id) {
            let outputs = entry.tx.handle_response(now, response);
            self.client_outputs(id, outputs);
        }
    }

    /// The TU answers a server transaction.
    pub fn respond(&mut self, now: Instant, tx: ServerTxId, response: Response) {
        if let Some(entry) = self.servers.get_mut(&tx) {
            let outputs = entry.tx.respond(now, response);
            self.server_outputs(tx, outputs);
        }
    }

    /// The TU sends a request; the request's top Via must carry a fresh branch.
    pub fn send_request(&mut self, now: Instant, request: Request, remote: Remote) -> ClientTxId {
        let id = ClientTxId(self.next_id());
        let key = ClientKey {
            branch: request.head.branch().unwrap_or_default().to_owned(),
            method: request.method.clone(),
        };
        let (tx, outputs) =
            ClientTransaction::new(now, request, remote.transport.reliable(), self.config);
        self.client_keys.insert(key.clone(), id);
        self.clients
            .insert(id, Box::new(ClientEntry { tx, remote, key }));
        self.client_outputs(id, outputs);
        id
    }

    /// Drops a client transaction its TU gave up on: an INVITE still without a
    /// final response 64·T1 after its CANCEL (§9.1), or one that could not be
    /// sent (§17.1.4). Late responses become stray.
    pub fn abandon_client(&mut self, tx: ClientTxId) {
        if let Some(entry) = self.clients.remove(&tx) {
            self.client_keys.remove(&entry.key);
        }
    }

    /// Sends a message outside any transaction (ACK for 2xx, 2xx retransmissions).
    pub fn send_stateless(&mut self, message: Message, remote: Remote) {
        self.transmits.push_back(Transmit { remote, message });
    }

    /// The INVITE server transaction a CANCEL refers to (§9.2: same branch and sent-by).
    pub fn find_invite_for(&self, cancel: &Request) -> Option<ServerTxId> {
        let mut key = server_key(cancel)?;
        key.method = Method::Invite;
        self.server_keys.get(&key).copied()
    }

    /// Whether `request` belongs to a live server transaction (a retransmission,
    /// or the ACK of a non-2xx final response).
    pub fn has_server_transaction(&self, request: &Request) -> bool {
        server_key(request).is_some_and(|key| self.server_keys.contains_key(&key))
    }

    /// The request a server transaction serves.
    pub fn server_request(&self, tx: ServerTxId) -> Option<&Request> {
        self.servers.get(&tx).map(|entry| &entry.tx.request)
    }

    /// The state of a server transaction, if it still exists.
    pub fn server_state(&self, tx: ServerTxId) -> Option<ServerState> {
        self.servers.get(&tx).map(|entry| entry.tx.state)
    }

    /// The state of a client transaction, if it still exists.
    pub fn client_state(&self, tx: ClientTxId) -> Option<ClientState> {
        self.clients.get(&tx).map(|entry| entry.tx.state)
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due_servers: Vec<ServerTxId> = self
            .servers
            .iter()
            .filter(|(_, e)| e.tx.next_timeout().is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due_servers {
            if let Some(entry) = self.servers.get_mut(&id) {
                let outputs = entry.tx.handle_timeout(now);
                self.server_outputs(id, outputs);
            }
        }
        let due_clients: Vec<ClientTxId> = self
            .clients
            .iter()
            .filter(|(_, e)| e.tx.next_timeout().is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due_clients {
            if let Some(entry) = self.clients.get_mut(&id) {
                let outputs = entry.tx.handle_timeout(now);
                self.client_outputs(id, outputs);
            }
        }
        self.collect_terminated();
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let servers = self.servers.values().filter_map(|e| e.tx.next_timeout());
        let clients = self.clients.values().filter_map(|e| e.tx.next_timeout());
        servers.chain(clients).min()
    }

    /// Transactions alive (for tests and status).
    pub fn len(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn server_outputs(&mut self, id: ServerTxId, outputs: Vec<ServerOutput>) {
        let Some(remote) = self.servers.get(&id).map(|e| e.remote) else {
            return;
        };
        for output in outputs {
            match output {
                // Responses go back where the request came from (§18.2.2 with
                // RFC 3581): on the same connection, or to the UDP source, as a
                // NATed phone can only be reached there.
                ServerOutput::Send(response) => self.transmits.push_back(Transmit {
                    remote,
                    message: Message::Response(response),
                }),
                ServerOutput::Timeout => self
                    .events
                    .push_back(TransactionEvent::ServerTimeout { tx: id }),
            }
        }
        self.collect_terminated();
    }

    fn client_outputs(&mut self, id: ClientTxId, outputs: Vec<ClientOutput>) {
        let Some(remote) = self.clients.get(&id).map(|e| e.remote) else {
            return;
        };
        for output in outputs {
            match output {
                ClientOutput::Send(request) => self.transmits.push_back(Transmit {
                    remote,
                    message: Message::Request(request),
                }),
                ClientOutput::Response(response) => self
                    .events
                    .push_back(TransactionEvent::Response { tx: id, response }),
                ClientOutput::Timeout => self
                    .events
                    .push_back(TransactionEvent::ClientTimeout { tx: id }),
            }
        }
        self.collect_terminated();
    }

    fn collect_terminated(&mut self) {
        let dead: Vec<ServerTxId> = self
            .servers
            .iter()
            .filter(|(_, e)| e.tx.state == ServerState::Terminated)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            if let Some(entry) = self.servers.remove(&id)
                && let Some(key) = server_key(&entry.tx.request)
            {
                self.server_keys.remove(&key);
            }
        }
        let dead: Vec<ClientTxId> = self
            .clients
            .iter()
            .filter(|(_, e)| e.tx.state == ClientState::Terminated)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            if let Some(entry) = self.clients.remove(&id) {
                self.client_keys.remove(&entry.key);
            }
        }
    }
}

fn server_key(request: &Request) -> Option<ServerKey> {
    let via = request.head.via.first()?;
    let branch = via.params.value("branch")?;
    let method = if request.method == Method::Ack {
        Method::Invite
    } else {
        request.method.clone()
    };
    Some(ServerKey {
        branch: branch.to_owned(),
        sent_by: format!("{}:{}", via.host, via.port.unwrap_or(5060)),
        method,
    })
}

#[cfg(test)]
mod tests;
