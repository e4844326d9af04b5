//! Authentication, failure limits and credential lookups.

use std::time::Duration;

use super::*;

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
fn malformed_authorization_is_a_bad_request() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    phone.extra = "Authorization: Digest username=\"alice\r\n".into();
    assert_eq!(phone.send(&mut h, Some(DESK)).status, 400);
}

#[test]
fn a_known_agent_keeps_registering_through_a_database_outage_and_a_stranger_does_not() {
    let mut h = Harness::new();
    let mut desk = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(desk.register(&mut h, Some(DESK)).status, 200);
    h.advance(Duration::from_secs(60)); // the cached credentials are stale
    h.answer_lookups = false;
    let text = desk.request(Some(DESK));
    assert!(h.send(&text, desk.source).is_empty(), "looked up again");
    h.registrar
        .handle_credentials(h.now, "alice", Lookup::Unavailable);
    let renewed = h.drain();
    assert_eq!(renewed.len(), 1);
    assert_eq!(
        renewed[0].status, 200,
        "checked against what was read before"
    );

    let mut wrong = Phone::new("alice", "guess", "127.0.0.1:5066");
    assert_eq!(wrong.send(&mut h, Some(DESK)).status, 401);
    let text = wrong.request(Some(DESK));
    assert!(h.send(&text, wrong.source).is_empty());
    h.now += Duration::from_secs(5);
    h.registrar.handle_timeout(h.now);
    assert_eq!(h.drain()[0].status, 403, "a wrong password is still wrong");

    let mut bob = Phone::new("bob", "secret", "127.0.0.1:5064");
    let bob_desk = "<sip:bob@127.0.0.1:5064>";
    assert_eq!(bob.send(&mut h, Some(bob_desk)).status, 401);
    let text = bob.request(Some(bob_desk));
    assert!(h.send(&text, bob.source).is_empty());
    h.registrar
        .handle_credentials(h.now, "bob", Lookup::Unavailable);
    assert_eq!(h.drain()[0].status, 503, "never read: no fallback");
}
