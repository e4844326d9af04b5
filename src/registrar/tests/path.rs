//! Registrations through proxies (RFC 3327 Path): stored with the binding,
//! where requests to the phone go, and echoed to phones that support it.

use super::*;

/// Kamailio's Path, as its `add_path()` writes it.
const KAMAILIO: &str = "<sip:127.0.0.1:5060;lr>";
/// A second proxy, nearer the phone.
const EDGE: &str = "<sip:192.0.2.7:5080;transport=tcp;lr>";

fn paths(response: &Response) -> Vec<&str> {
    response.head.headers("Path").collect()
}

#[test]
fn a_register_through_a_proxy_keeps_its_path_and_is_reached_through_the_first_proxy() {
    let mut h = Harness::new();
    // The REGISTER comes from the proxy, for a phone elsewhere.
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5060");
    phone.extra = format!("Path: {KAMAILIO}, {EDGE}\r\n");
    let ok = phone.register(&mut h, Some("<sip:alice@198.51.100.20:5062>"));
    assert_eq!(ok.status, 200);
    assert!(paths(&ok).is_empty(), "no Path to a phone that did not ask");
    let bindings = h.registrar.contacts_for("alice");
    let path: Vec<String> = bindings[0].path.iter().map(ToString::to_string).collect();
    assert_eq!(path, [KAMAILIO, EDGE], "in the order received");
    assert_eq!(bindings[0].target, udp("127.0.0.1:5060"), "the first proxy");
    assert_eq!(
        bindings[0].uri().to_string(),
        "sip:alice@198.51.100.20:5062"
    );
    assert_eq!(
        h.stored.last().unwrap().1[0].path.len(),
        2,
        "stored with it"
    );
}

#[test]
fn path_in_several_headers_is_one_route_set_and_the_first_may_name_another_proxy() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    phone.extra = format!("Path: <sip:10.1.1.1:5070;lr>\r\nPath: {KAMAILIO}\r\n");
    assert_eq!(phone.register(&mut h, Some(DESK)).status, 200);
    let binding = &h.registrar.contacts_for("alice")[0];
    assert_eq!(binding.path.len(), 2);
    assert_eq!(
        binding.target,
        udp("10.1.1.1:5070"),
        "to the proxy the phone registered through, not where the REGISTER came from"
    );
}

#[test]
fn a_phone_that_supports_path_gets_it_back_in_the_200() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5060");
    phone.extra = format!("Supported: replaces, path\r\nRequire: path\r\nPath: {KAMAILIO}\r\n");
    let ok = phone.register(&mut h, Some(DESK));
    assert_eq!(ok.status, 200);
    assert_eq!(paths(&ok), [KAMAILIO]);
    assert_eq!(ok.head.header("Supported"), Some("path"));
}

#[test]
fn a_register_without_path_is_reached_as_before_and_a_malformed_path_is_refused() {
    let mut h = Harness::new();
    let mut phone = Phone::new("alice", "secret", "127.0.0.1:5062");
    assert_eq!(phone.register(&mut h, Some(DESK)).status, 200);
    let binding = &h.registrar.contacts_for("alice")[0];
    assert!(binding.path.is_empty());
    assert_eq!(binding.target, udp("127.0.0.1:5062"));

    let mut broken = Phone::new("alice", "secret", "127.0.0.1:5063");
    broken.extra = "Path: <sip:127.0.0.1:5060;lr\r\n".into();
    let refused = broken.register(&mut h, Some("<sip:alice@127.0.0.1:5063>"));
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (400, "Malformed Path")
    );
    assert_eq!(
        h.registrar.contacts_for("alice").len(),
        1,
        "nothing changed"
    );
}
