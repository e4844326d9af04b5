//! End-to-end calls from real softphones: baresip and pjsua2.

mod support;

use std::time::Duration;

use support::Server;
use support::peers::{Baresip, pjsua_call};
use support::phone::silence;

#[test]
fn baresip_call_is_established_and_ended_by_the_caller() {
    let server = Server::start();
    let source = silence(server.dir.path(), 20);
    let mut phone = Baresip::start(&source, "<sip:+380441234567@127.0.0.1>;regint=0");
    phone.command("dial", &format!("sip:hotline@{}", server.sip));
    let established = phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    assert!(
        established.is_some(),
        "no CALL_ESTABLISHED:\n{}\n{}",
        phone.history(),
        server.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    phone.command("hangup", "");
    let closed = phone.wait_event("CALL_CLOSED", Duration::from_secs(5));
    assert!(closed.is_some(), "no CALL_CLOSED:\n{}", phone.history());
    // A BYE answered 200 closes the call with no error reason.
    let reason = closed.unwrap()["param"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !reason.contains("error") && !reason.contains("timeout"),
        "closed with {reason}"
    );
}

#[test]
fn pjsua2_with_telephone_event_at_payload_type_120_establishes_a_call() {
    let server = Server::start();
    let uri = format!("sip:hotline@{}", server.sip);
    let (ok, events, output) = pjsua_call(&uri, &["--hold", "2"]);
    assert!(
        ok,
        "pjsua2 call failed:\n{output}\n--- hotline log ---\n{}",
        server.log()
    );
    assert!(events.iter().any(|e| e["event"] == "confirmed"), "{output}");
    assert!(
        events.iter().any(|e| e["event"] == "media_active"),
        "{output}"
    );
}

#[test]
fn baresip_call_is_ended_by_hotline_with_a_bye() {
    let server = Server::start_with(support::ServerOptions {
        config: "[sip]\nmax_call_seconds = 2\n".into(),
        ..support::ServerOptions::default()
    });
    let source = silence(server.dir.path(), 20);
    let mut phone = Baresip::start(&source, "<sip:+380441234567@127.0.0.1>;regint=0");
    phone.command("dial", &format!("sip:hotline@{}", server.sip));
    assert!(
        phone
            .wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
            .is_some(),
        "no CALL_ESTABLISHED:\n{}",
        phone.history()
    );
    // baresip does not hang up; hotline's BYE must close the call.
    let closed = phone.wait_event("CALL_CLOSED", Duration::from_secs(8));
    assert!(
        closed.is_some(),
        "hotline did not end the call:\n{}\n{}",
        phone.history(),
        server.log()
    );
    let reason = closed.unwrap()["param"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    eprintln!("baresip closed with `{reason}`");
    // baresip reports a BYE from the other side as "Connection reset by peer".
    assert!(
        reason.contains("Connection reset by peer"),
        "closed with `{reason}`"
    );
}
