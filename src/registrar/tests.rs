//! The registrar on a virtual clock, behind a real transaction layer,
//! with scripted phones answering its challenges.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::sip::digest::{Credentials, ha1, response};
use crate::sip::message::Message;
use crate::sip::parse;
use crate::sip::transaction::{TimerConfig, TransactionEvent, TransactionLayer, Transport};

const REALM: &str = "hotline";

fn config() -> RegistrarConfig {
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

fn stored(login: &str, password: &str) -> AgentCredentials {
    AgentCredentials {
        login: login.into(),
        realm: REALM.into(),
        ha1_md5: ha1(Algorithm::Md5, login, REALM, password),
        ha1_sha256: ha1(Algorithm::Sha256, login, REALM, password),
    }
}

/// The registrar behind a transaction layer, with a database of agents.
struct Harness {
    now: Instant,
    layer: TransactionLayer,
    registrar: Registrar,
    agents: HashMap<String, AgentCredentials>,
    /// Answer lookups at once; when false they wait in `lookups`.
    answer_lookups: bool,
    lookups: Vec<String>,
    stored: Vec<(String, Vec<Binding>)>,
    events: Vec<RegistrarEvent>,
}

impl Harness {
    fn new() -> Harness {
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

    fn advance(&mut self, by: Duration) {
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
    fn send(&mut self, text: &str, source: Remote) -> Vec<Response> {
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

    fn feed(&mut self, login: &str) -> Vec<Response> {
        let lookup = match self.agents.get(login) {
            Some(credentials) => Lookup::Found(credentials.clone()),
            None => Lookup::Unknown,
        };
        self.registrar.handle_credentials(self.now, login, lookup);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Response> {
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

fn udp(addr: &str) -> Remote {
    Remote {
        addr: addr.parse().unwrap(),
        transport: Transport::Udp,
    }
}

/// A softphone registering `user` with `password` from `source`.
struct Phone {
    user: String,
    password: String,
    source: Remote,
    call_id: String,
    cseq: u32,
    nc: u32,
    nonce: Option<(String, Algorithm)>,
    /// Extra header lines for the next REGISTER.
    extra: String,
}

impl Phone {
    fn new(user: &str, password: &str, source: &str) -> Phone {
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
    fn request(&mut self, contacts: Option<&str>) -> String {
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
    fn send(&mut self, h: &mut Harness, contacts: Option<&str>) -> Response {
        let text = self.request(contacts);
        let last = h.send(&text, self.source).pop().expect("no response");
        if last.status == 401 {
            self.take_challenge(&last);
        }
        last
    }

    /// Registers as a phone does: answer a 401 once, with the first algorithm offered.
    fn register(&mut self, h: &mut Harness, contacts: Option<&str>) -> Response {
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

    fn authorization(&mut self) -> String {
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

fn contacts(response: &Response) -> Vec<String> {
    response
        .head
        .contact
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// Every request a new transaction, whichever phone sends it.
static BRANCHES: AtomicU64 = AtomicU64::new(1);

const DESK: &str = "<sip:alice@127.0.0.1:5062;ob>";

#[test]
fn right_password_binds_the_contact_and_lists_it_with_its_expiry() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    let challenge = phone.send(&mut h, Some(DESK));
    assert_eq!(challenge.status, 401);
    let offered: Vec<&str> = challenge.head.headers("WWW-Authenticate").collect();
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert!(offered[0].contains("algorithm=SHA-256") && offered[1].contains("algorithm=MD5"));
    assert!(challenge.head.to_tag().is_some());

    let ok = phone.send(&mut h, Some(DESK));
    assert_eq!(
        (ok.status, contacts(&ok)),
        (200, vec![format!("{DESK};expires=3600")])
    );
    let bindings = h.registrar.contacts_for("alice");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].target, udp("127.0.0.1:5062"));
    assert_eq!(bindings[0].user_agent.as_deref(), Some("test-phone"));
    assert!(matches!(
        &h.events[..],
        [RegistrarEvent::AgentRegistered { agent, contacts }] if agent == "alice" && contacts.len() == 1
    ));
    assert_eq!(h.stored.len(), 1);
}

#[test]
fn refresh_keeps_one_binding_and_renews_its_expiry() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    let contact = format!("{DESK};expires=600");
    assert_eq!(phone.register(&mut h, Some(&contact)).status, 200);
    h.advance(Duration::from_secs(200));
    // The phone reuses its nonce with the next nc, as phones do.
    let ok = phone.send(&mut h, Some(&contact));
    assert_eq!(contacts(&ok), [format!("{DESK};expires=600")]);
    assert_eq!(h.registrar.contacts_for("alice").len(), 1);
    assert_eq!(h.events.len(), 1, "a refresh is no news: {:?}", h.events);
    assert_eq!(h.stored.len(), 2, "but the new expiry is stored");
    h.advance(Duration::from_secs(599));
    assert_eq!(h.registrar.contacts_for("alice").len(), 1);
}

#[test]
fn binding_expires_on_the_clock_and_the_agent_is_unregistered() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    phone.extra = "Expires: 60\r\n".into();
    let ok = phone.register(&mut h, Some(DESK));
    assert_eq!(contacts(&ok), [format!("{DESK};expires=60")]);
    assert_eq!(
        h.registrar.poll_timeout(),
        Some(h.now + Duration::from_secs(60))
    );
    h.advance(Duration::from_secs(59));
    assert_eq!(h.registrar.contacts_for("alice").len(), 1);
    h.advance(Duration::from_secs(1));
    assert!(h.registrar.contacts_for("alice").is_empty());
    assert_eq!(
        h.events.last(),
        Some(&RegistrarEvent::AgentUnregistered {
            agent: "alice".into(),
            reason: Unregistered::Expired
        })
    );
    assert_eq!(h.stored.last().map(|(_, b)| b.len()), Some(0));
    assert_eq!(h.registrar.poll_timeout(), None);
}

#[test]
fn two_devices_then_one_removed_then_star_removes_all() {
    let mut h = Harness::new();
    let mut desk = Phone::new("alice", "secret", "127.0.0.1:5062");
    let mut mobile = Phone::new("alice", "secret", "198.18.0.7:40001");
    assert_eq!(desk.register(&mut h, Some(DESK)).status, 200);
    let nat = "<sip:alice@192.168.1.20:5060>;+sip.instance=\"<urn:uuid:0001>\"";
    let ok = mobile.register(&mut h, Some(nat));
    assert_eq!(ok.head.contact.len(), 2, "the 200 lists every device");
    let bindings = h.registrar.contacts_for("alice");
    let mobile_binding = bindings.iter().find(|b| b.source == mobile.source).unwrap();
    assert_eq!(
        mobile_binding.target, mobile.source,
        "behind NAT: ring the source"
    );
    assert_eq!(
        mobile_binding.uri().to_string(),
        "sip:alice@192.168.1.20:5060"
    );
    assert!(
        matches!(h.events.last(), Some(RegistrarEvent::ContactsChanged { contacts, .. }) if contacts.len() == 2)
    );

    let ok = desk.send(&mut h, Some(&format!("{DESK};expires=0")));
    assert_eq!(ok.head.contact.len(), 1);
    assert_eq!(h.registrar.contacts_for("alice")[0].source, mobile.source);

    mobile.extra = "Expires: 0\r\n".into();
    let ok = mobile.send(&mut h, Some("*"));
    assert_eq!((ok.status, ok.head.contact.len()), (200, 0));
    assert!(h.registrar.contacts_for("alice").is_empty());
    assert_eq!(
        h.events.last(),
        Some(&RegistrarEvent::AgentUnregistered {
            agent: "alice".into(),
            reason: Unregistered::Removed
        })
    );
}

#[test]
fn too_brief_expiry_is_refused_423_and_too_long_is_cut() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    let brief = phone.register(&mut h, Some(&format!("{DESK};expires=30")));
    assert_eq!(brief.status, 423);
    assert_eq!(brief.head.header("Min-Expires"), Some("60"));
    assert!(h.registrar.contacts_for("alice").is_empty());
    let ok = phone.send(&mut h, Some(&format!("{DESK};expires=999999999999")));
    assert_eq!(contacts(&ok), [format!("{DESK};expires=3600")]);
}

#[test]
fn wrong_password_and_unknown_user_are_both_forbidden() {
    let mut h = Harness::new();
    let wrong = Phone::new("alice", "guess", "127.0.0.1:5062").register(&mut h, Some(DESK));
    assert_eq!(wrong.status, 403);
    let nobody = "<sip:mallory@127.0.0.1:5063>";
    let unknown = Phone::new("mallory", "guess", "127.0.0.1:5063").register(&mut h, Some(nobody));
    assert_eq!(unknown.status, 403, "no hint that the user does not exist");
    assert!(h.events.is_empty());
}

#[test]
fn repeated_failures_block_the_source_without_checking_until_the_block_lifts() {
    let mut h = Harness::new();
    for _ in 0..3 {
        let mut guesser = Phone::new("alice", "guess", "203.0.113.9:5060");
        assert_eq!(guesser.register(&mut h, Some(DESK)).status, 403);
    }
    let lookups = h.lookups.len();
    h.advance(Duration::from_secs(20)); // past the credentials cache
    let mut right = Phone::new("alice", "secret", "203.0.113.9:5060");
    let blocked = right.send(&mut h, Some(DESK));
    assert_eq!(blocked.status, 403, "blocked before any challenge");
    assert_eq!(h.lookups.len(), lookups, "credentials not even looked up");

    let mut elsewhere = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(
        elsewhere.register(&mut h, Some(DESK)).status,
        200,
        "other sources are served"
    );

    h.advance(Duration::from_secs(281));
    let mut later = Phone::new("alice", "secret", "203.0.113.9:5060");
    assert_eq!(
        later.register(&mut h, Some(DESK)).status,
        200,
        "the block lifted"
    );
}

#[test]
fn failures_spread_beyond_the_window_do_not_block() {
    let mut h = Harness::new();
    for _ in 0..5 {
        let mut guesser = Phone::new("alice", "guess", "203.0.113.9:5060");
        assert_eq!(guesser.register(&mut h, Some(DESK)).status, 403);
        h.advance(Duration::from_secs(31));
    }
    let mut right = Phone::new("alice", "secret", "203.0.113.9:5060");
    assert_eq!(right.register(&mut h, Some(DESK)).status, 200);
}

#[test]
fn expired_nonce_is_challenged_again_with_stale_true() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(phone.register(&mut h, Some(DESK)).status, 200);
    h.advance(Duration::from_secs(301));
    let stale = phone.send(&mut h, Some(DESK));
    assert_eq!(stale.status, 401);
    assert!(
        stale
            .head
            .header("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
    assert_eq!(phone.send(&mut h, Some(DESK)).status, 200);
}

#[test]
fn credentials_are_looked_up_once_for_parked_requests_and_cached() {
    let mut h = Harness::new();
    h.answer_lookups = false;
    let mut desk = Phone::new("alice", "secret", "127.0.0.1:5062");
    let mut mobile = Phone::new("alice", "secret", "127.0.0.1:5064");
    assert_eq!(desk.send(&mut h, Some(DESK)).status, 401);
    assert_eq!(
        mobile
            .send(&mut h, Some("<sip:alice@127.0.0.1:5064>"))
            .status,
        401
    );
    // Both answer their challenge; neither is answered until the lookup returns.
    assert!(h.send(&desk.request(Some(DESK)), desk.source).is_empty());
    let other = "<sip:alice@127.0.0.1:5064>";
    assert!(
        h.send(&mobile.request(Some(other)), mobile.source)
            .is_empty()
    );
    assert_eq!(h.lookups, ["alice"], "one lookup for both");
    let answered = h.feed("alice");
    assert_eq!(
        answered.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200]
    );
    assert_eq!(h.registrar.contacts_for("alice").len(), 2);

    h.advance(Duration::from_secs(5));
    assert_eq!(
        desk.send(&mut h, Some(DESK)).status,
        200,
        "served from the cache"
    );
    assert_eq!(h.lookups.len(), 1);
    h.advance(Duration::from_secs(6));
    h.answer_lookups = true;
    assert_eq!(desk.send(&mut h, Some(DESK)).status, 200);
    assert_eq!(h.lookups.len(), 2, "looked up again once the cache expired");
}

#[test]
fn a_lookup_that_never_returns_is_answered_503() {
    let mut h = Harness::new();
    h.answer_lookups = false;
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(phone.send(&mut h, Some(DESK)).status, 401);
    let text = phone.request(Some(DESK));
    assert!(h.send(&text, phone.source).is_empty());
    assert_eq!(
        h.registrar.poll_timeout(),
        Some(h.now + Duration::from_secs(5))
    );
    h.now += Duration::from_secs(5);
    h.registrar.handle_timeout(h.now);
    let answered = h.drain();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].status, 503);
    assert_eq!(answered[0].head.header("Retry-After"), Some("5"));
    // A late answer changes nothing and is not an error.
    assert!(h.feed("alice").is_empty());
}

#[test]
fn username_other_than_the_to_user_is_forbidden() {
    let mut h = Harness::new();
    let mut bob = Phone::new("bob", "secret", "127.0.0.1:5062");
    bob.user = "alice".into();
    let challenge = bob.send(&mut h, Some(DESK));
    assert_eq!(challenge.status, 401);
    // Answer as alice for bob's address of record.
    let text = bob
        .request(Some(DESK))
        .replace("sip:alice@127.0.0.1>", "sip:bob@127.0.0.1>");
    let refused = h.send(&text, bob.source).pop().unwrap();
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (403, "Username Does Not Match To")
    );
}

#[test]
fn out_of_order_cseq_is_refused_and_changes_nothing() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(phone.register(&mut h, Some(DESK)).status, 200);
    let before = h.registrar.contacts_for("alice");
    phone.cseq -= 2;
    let old = phone.send(&mut h, Some(&format!("{DESK};expires=0")));
    assert_eq!(old.status, 500);
    assert_eq!(h.registrar.contacts_for("alice"), before);
}

#[test]
fn star_needs_expires_zero_and_no_other_contact() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(phone.register(&mut h, Some(DESK)).status, 200);
    let refused = phone.send(&mut h, Some("*"));
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (400, "Contact * needs Expires: 0 alone")
    );
    phone.extra = "Expires: 0\r\n".into();
    assert_eq!(phone.send(&mut h, Some(&format!("*, {DESK}"))).status, 400);
    assert_eq!(h.registrar.contacts_for("alice").len(), 1);
}

#[test]
fn a_restarted_phone_with_the_same_instance_replaces_its_binding() {
    let mut h = Harness::new();
    let instance = ";+sip.instance=\"<urn:uuid:cba3a7bc>\"";
    let mut before = Phone::new("alice", "secret", "127.0.0.1:5062");
    let first = format!("<sip:alice@127.0.0.1:5062;transport=udp>{instance}");
    assert_eq!(before.register(&mut h, Some(&first)).status, 200);
    let mut after = Phone::new("alice", "secret", "127.0.0.1:5066");
    let second = format!("<sip:alice@127.0.0.1:5066;transport=udp>{instance}");
    let ok = after.register(&mut h, Some(&second));
    assert_eq!(contacts(&ok), [format!("{second};expires=3600")]);
    let bindings = h.registrar.contacts_for("alice");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].target, udp("127.0.0.1:5066"));
}

#[test]
fn query_lists_bindings_without_changing_them() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(phone.register(&mut h, Some(DESK)).status, 200);
    let stores = h.stored.len();
    h.advance(Duration::from_secs(100));
    let listed = phone.send(&mut h, None);
    assert_eq!(contacts(&listed), [format!("{DESK};expires=3500")]);
    assert_eq!(h.stored.len(), stores);
}

#[test]
fn more_devices_than_allowed_are_refused() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    let three = "<sip:a@127.0.0.1:1>, <sip:b@127.0.0.1:2>, <sip:c@127.0.0.1:3>";
    assert_eq!(phone.register(&mut h, Some(three)).status, 200);
    let refused = phone.send(&mut h, Some("<sip:d@127.0.0.1:4>"));
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (403, "Too Many Devices")
    );
    assert_eq!(h.registrar.contacts_for("alice").len(), 3);
}

#[test]
fn a_required_extension_is_refused_420() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    phone.extra = "Require: path\r\n".into();
    let refused = phone.send(&mut h, Some(DESK));
    assert_eq!(refused.status, 420);
    assert_eq!(refused.head.header("Unsupported"), Some("path"));
}

#[test]
fn malformed_authorization_is_a_bad_request() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    phone.extra = "Authorization: Digest username=\"alice\r\n".into();
    assert_eq!(phone.send(&mut h, Some(DESK)).status, 400);
}

#[test]
fn restored_bindings_are_served_and_still_expire() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(
        phone
            .register(&mut h, Some(&format!("{DESK};expires=120")))
            .status,
        200
    );
    let kept = h.registrar.contacts_for("alice");

    let mut restarted = Harness::new();
    let gone = Binding {
        expires_at: restarted.now,
        ..kept[0].clone()
    };
    restarted
        .registrar
        .restore(restarted.now, vec![kept[0].clone(), gone]);
    restarted.drain();
    assert_eq!(restarted.registrar.contacts_for("alice"), kept);
    assert!(matches!(
        &restarted.events[..],
        [RegistrarEvent::AgentRegistered { .. }]
    ));
    restarted.advance(Duration::from_secs(120));
    assert!(restarted.registrar.contacts_for("alice").is_empty());
}
