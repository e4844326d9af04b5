//! Browsers as devices: a password minted for the agent desktop, and
//! bindings that go with the WebSocket they were made over.

use rand::SeedableRng;

use super::*;

const BROWSER: &str = "<sip:k3j9@x1y2.invalid;transport=ws>";

/// A browser's connection to the HTTP listener.
fn websocket(addr: &str) -> Remote {
    Remote {
        addr: addr.parse().unwrap(),
        transport: Transport::Ws,
    }
}

/// A harness whose registrar also takes the passwords minted in the returned store.
fn with_minted() -> (Harness, SessionCredentials) {
    let minted = SessionCredentials::new(REALM);
    let mut h = Harness::new();
    let registrar = Registrar::new(config(), [7; 32], h.now);
    h.registrar = registrar.with_session_credentials(minted.clone());
    (h, minted)
}

#[test]
fn a_minted_password_registers_its_agent_only_and_the_stored_one_still_works() {
    let (mut h, minted) = with_minted();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let password = minted.mint("alice", "tab", h.now, &mut rng);

    let mut browser = Phone::new("alice", &password, "127.0.0.1:40000");
    browser.source = websocket("127.0.0.1:40000");
    assert_eq!(browser.register(&mut h, Some(BROWSER)).status, 200);
    let mut desk = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(desk.register(&mut h, Some(DESK)).status, 200);
    assert_eq!(h.registrar.contacts_for("alice").len(), 2);

    h.agents
        .insert("bob".into(), stored("bob", "bobs-own-password"));
    let mut borrowed = Phone::new("bob", &password, "127.0.0.1:40001");
    let bob = "<sip:bob@127.0.0.1:40001>";
    assert_eq!(borrowed.register(&mut h, Some(bob)).status, 403);
}

#[test]
fn a_minted_password_expires() {
    let (mut h, minted) = with_minted();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let password = minted.mint("alice", "tab", h.now, &mut rng);
    h.advance(MINTED_LIFETIME);
    let mut browser = Phone::new("alice", &password, "127.0.0.1:40000");
    assert_eq!(browser.register(&mut h, Some(BROWSER)).status, 403);
}

#[test]
fn a_closed_websocket_takes_its_bindings_and_only_those() {
    let mut h = Harness::new();
    let mut browser = Phone::new("alice", "secret", "127.0.0.1:40000");
    browser.source = websocket("127.0.0.1:40000");
    assert_eq!(browser.register(&mut h, Some(BROWSER)).status, 200);
    let mut desk = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(desk.register(&mut h, Some(DESK)).status, 200);
    let binding = h.registrar.contacts_for("alice")[0].clone();
    assert_eq!(
        binding.target,
        websocket("127.0.0.1:40000"),
        "reached over its socket"
    );

    // Another connection from the same address and port number over UDP is not it.
    h.registrar
        .handle_connection_closed(h.now, udp("127.0.0.1:40000"));
    assert_eq!(h.registrar.contacts_for("alice").len(), 2);

    h.registrar
        .handle_connection_closed(h.now, websocket("127.0.0.1:40000"));
    h.drain();
    let left = h.registrar.contacts_for("alice");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].source, udp("127.0.0.1:5062"));
    assert!(
        matches!(h.events.last(), Some(RegistrarEvent::ContactsChanged { contacts, .. }) if contacts.len() == 1),
        "{:?}",
        h.events
    );
    let (agent, stored) = h.stored.last().unwrap();
    assert_eq!(
        (agent.as_str(), stored.len()),
        ("alice", 1),
        "kept as changed"
    );
}
