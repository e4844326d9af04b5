//! The registrar on a virtual clock, behind a real transaction layer,
//! with scripted phones answering its challenges.

mod auth;
mod bindings;
mod browsers;
mod path;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::sip::digest::{Credentials, ha1, response};
use crate::sip::message::Message;
use crate::sip::parse;
use crate::sip::transaction::{TimerConfig, TransactionEvent, TransactionLayer, Transport};

const REALM: &str = "hotline";

pub(super) fn config() -> RegistrarConfig {
    RegistrarConfig {
        digest: DigestSettings {
            realm: REALM.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
        },
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        failures: FailureLimits {
            max_failures: 3,
            window: Duration::from_secs(60),
            block: Duration::from_secs(300),
        },
        credentials_ttl: Duration::from_secs(10),
        lookup_timeout: Duration::from_secs(5),
        max_devices: 3,
    }
}

pub(super) fn stored(login: &str, password: &str) -> AgentCredentials {
    AgentCredentials {
        login: login.into(),
        realm: REALM.into(),
        ha1_md5: ha1(Algorithm::Md5, login, REALM, password),
        ha1_sha256: ha1(Algorithm::Sha256, login, REALM, password),
    }
}

/// The registrar behind a transaction layer, with a database of agents.
pub(super) struct Harness {
    pub(super) now: Instant,
    pub(super) layer: TransactionLayer,
    pub(super) registrar: Registrar,
    pub(super) agents: HashMap<String, AgentCredentials>,
    /// Answer lookups at once; when false they wait in `lookups`.
    pub(super) answer_lookups: bool,
    pub(super) lookups: Vec<String>,
    pub(super) stored: Vec<(String, Vec<Binding>)>,
    pub(super) events: Vec<RegistrarEvent>,
}

impl Harness {
    pub(super) fn new() -> Harness {
        let now = Instant::now();
        Harness {
            now,
            layer: TransactionLayer::new(TimerConfig::default()),
            registrar: Registrar::new(config(), [7; 32], now),
            agents: HashMap::from([("alice".to_owned(), stored("alice", "secret"))]),
            answer_lookups: true,
            lookups: Vec::new(),
            stored: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn advance(&mut self, by: Duration) {
        self.now += by;
        if self
            .registrar
            .poll_timeout()
            .is_some_and(|at| at <= self.now)
        {
            self.registrar.handle_timeout(self.now);
        }
        self.drain();
    }

    /// Sends a request from `source`; the responses it got.
    pub(super) fn send(&mut self, text: &str, source: Remote) -> Vec<Response> {
        let Ok(Message::Request(request)) = parse(text.as_bytes()) else {
            panic!("bad test request:\n{text}")
        };
        self.layer.handle_request(self.now, request, source);
        while let Some(event) = self.layer.poll_event() {
            if let TransactionEvent::Request {
                tx,
                request,
                remote,
            } = event
            {
                self.registrar
                    .handle_register(self.now, tx, request, remote);
            }
        }
        self.drain()
    }

    pub(super) fn feed(&mut self, login: &str) -> Vec<Response> {
        let lookup = match self.agents.get(login) {
            Some(credentials) => Lookup::Found(credentials.clone()),
            None => Lookup::Unknown,
        };
        self.registrar.handle_credentials(self.now, login, lookup);
        self.drain()
    }

    pub(super) fn drain(&mut self) -> Vec<Response> {
        let mut responses = Vec::new();
        while let Some(action) = self.registrar.poll_action() {
            match action {
                Action::Respond { tx, response } => self.layer.respond(self.now, tx, response),
                Action::LookupCredentials { login } => {
                    self.lookups.push(login.clone());
                    if self.answer_lookups {
                        responses.extend(self.feed(&login));
                    }
                }
                Action::StoreBindings { agent, bindings } => self.stored.push((agent, bindings)),
            }
        }
        while let Some(transmit) = self.layer.poll_transmit() {
            if let Message::Response(response) = transmit.message {
                responses.push(response);
            }
        }
        self.events
            .extend(std::iter::from_fn(|| self.registrar.poll_event()));
        responses
    }
}

pub(super) fn udp(addr: &str) -> Remote {
    Remote {
        addr: addr.parse().unwrap(),
        transport: Transport::Udp,
    }
}

/// A softphone registering `user` with `password` from `source`.
pub(super) struct Phone {
    pub(super) user: String,
    pub(super) password: String,
    pub(super) source: Remote,
    pub(super) call_id: String,
    pub(super) cseq: u32,
    pub(super) nc: u32,
    pub(super) nonce: Option<(String, Algorithm)>,
    /// Extra header lines for the next REGISTER.
    pub(super) extra: String,
}

impl Phone {
    pub(super) fn new(user: &str, password: &str, source: &str) -> Phone {
        Phone {
            user: user.into(),
            password: password.into(),
            source: udp(source),
            call_id: format!("reg-{source}"),
            cseq: 0,
            nc: 0,
            nonce: None,
            extra: String::new(),
        }
    }

    /// The next REGISTER with these Contact lines (`None`: no Contact, a query).
    pub(super) fn request(&mut self, contacts: Option<&str>) -> String {
        self.cseq += 1;
        let authorization = self.authorization();
        let contacts = contacts
            .map(|c| format!("Contact: {c}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {source};branch=z9hG4bK{branch};rport\r\n\
             From: <sip:{user}@127.0.0.1>;tag=ph{cseq}\r\nTo: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n{contacts}{authorization}{extra}\
             User-Agent: test-phone\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            source = self.source.addr,
            branch = BRANCHES.fetch_add(1, Ordering::Relaxed),
            cseq = self.cseq,
            user = self.user,
            call_id = self.call_id,
            extra = self.extra,
        )
    }

    /// Sends the next REGISTER; its final response.
    pub(super) fn send(&mut self, h: &mut Harness, contacts: Option<&str>) -> Response {
        let text = self.request(contacts);
        let last = h.send(&text, self.source).pop().expect("no response");
        if last.status == 401 {
            self.take_challenge(&last);
        }
        last
    }

    /// Registers as a phone does: answer a 401 once, with the first algorithm offered.
    pub(super) fn register(&mut self, h: &mut Harness, contacts: Option<&str>) -> Response {
        let first = self.send(h, contacts);
        if first.status != 401 {
            return first;
        }
        self.send(h, contacts)
    }

    fn take_challenge(&mut self, challenge: &Response) {
        let value = challenge.head.header("WWW-Authenticate").unwrap();
        let nonce = value
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let algorithm = value
            .split("algorithm=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        self.nonce = Some((nonce.into(), Algorithm::from_token(algorithm).unwrap()));
        self.nc = 0;
    }

    pub(super) fn authorization(&mut self) -> String {
        let Some((nonce, algorithm)) = self.nonce.clone() else {
            return String::new();
        };
        self.nc += 1;
        let mut credentials = Credentials {
            username: self.user.clone(),
            realm: REALM.into(),
            nonce,
            uri: "sip:127.0.0.1:5060".into(),
            response: String::new(),
            algorithm,
            cnonce: Some("c0ffee".into()),
            nc: Some(self.nc),
            qop: Some("auth".into()),
            opaque: None,
        };
        let ha1 = ha1(algorithm, &self.user, REALM, &self.password);
        credentials.response = response(algorithm, &ha1, &credentials, &Method::Register);
        format!(
            "Authorization: Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{}\", \
             uri=\"{}\", response=\"{}\", algorithm={}, cnonce=\"c0ffee\", qop=auth, nc={:08x}\r\n",
            credentials.username,
            credentials.nonce,
            credentials.uri,
            credentials.response,
            algorithm.token(),
            self.nc
        )
    }
}

pub(super) fn contacts(response: &Response) -> Vec<String> {
    response
        .head
        .contact
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// Every request a new transaction, whichever phone sends it.
static BRANCHES: AtomicU64 = AtomicU64::new(1);

pub(super) const DESK: &str = "<sip:alice@127.0.0.1:5062;ob>";
