//! Bindings: added, refreshed, expired, removed, limited and restored.

use std::time::Duration;

use super::*;

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
fn a_required_extension_other_than_path_is_refused_420() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    phone.extra = "Require: path, gruu\r\nRequire: outbound\r\n".into();
    let refused = phone.send(&mut h, Some(DESK));
    assert_eq!(refused.status, 420);
    assert_eq!(refused.head.header("Unsupported"), Some("gruu, outbound"));
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
