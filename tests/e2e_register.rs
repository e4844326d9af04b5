//! Agents' softphones registering with hotline: baresip, pjsua2 and linphone.

mod support;

use std::time::Duration;

use support::metrics::sample;
use support::peers::{Baresip, Linphone, pjsua_register, wait_for};
use support::{Server, ServerOptions};

/// A server with the given `[registrar]` keys and agent `alice` (password `secret`).
fn server_with_alice(registrar: &str) -> Server {
    let server = Server::start_with(ServerOptions {
        config: format!("[registrar]\n{registrar}\n"),
        ..ServerOptions::default()
    });
    let added = server.cli(&[
        "agents",
        "add",
        "alice",
        "--name",
        "Alice Moroz",
        "--password",
        "secret",
        "--skill",
        "first_line=1",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    server
}

/// The contacts hotline holds for `agent`, from the admin API.
fn contacts(server: &Server, agent: &str) -> Vec<serde_json::Value> {
    let registered = server.get_json("/registrations");
    registered
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == agent)
        .map(|r| r["devices"].as_array().unwrap().clone())
        .unwrap_or_default()
}

/// baresip registering as `alice` with `password` every 60 s. The account
/// is added once its event connection is open, so no event is missed.
fn baresip_registering(server: &Server, password: &str) -> Baresip {
    let idle = "<sip:idle@127.0.0.1>;regint=0";
    let mut phone = Baresip::start(&server.dir.path().join("unused.wav"), idle);
    let account = format!("<sip:alice@{}>;auth_pass={password};regint=60", server.sip);
    phone.command("uanew", &account);
    phone
}

// baresip 1.0 (libre 1.1) gives up on a 401 that offers any algorithm
// other than MD5, so it is tested with MD5 alone, as deployments with such
// phones must configure.
const MD5_ONLY: &str = "algorithms = [\"MD5\"]";

#[test]
fn baresip_registers_with_the_right_password_and_hotline_rings_its_contact() {
    let server = server_with_alice(MD5_ONLY);
    let mut phone = baresip_registering(&server, "secret");
    let registered = phone.wait_event("REGISTER_OK", Duration::from_secs(10));
    assert!(
        registered.is_some(),
        "baresip did not register:\n{}\n{}",
        phone.history(),
        server.log()
    );
    let devices = contacts(&server, "alice");
    assert_eq!(devices.len(), 1, "{devices:?}");
    let target = format!("127.0.0.1:{}", phone.sip.port());
    assert_eq!(devices[0]["target"], target.as_str(), "{devices:?}");
    assert!(devices[0]["contact"].as_str().unwrap().contains(&target));
    let seconds = devices[0]["expires_in_seconds"].as_u64().unwrap();
    assert!((55..=60).contains(&seconds), "{seconds}");
    assert!(
        devices[0]["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("baresip")
    );

    // The binding is kept in the database too, for a restart.
    let listed = wait_for(Duration::from_secs(5), || {
        let output = server.cli(&["agents", "list", "--json"]);
        let agents: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        agents[0]["registrations"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    });
    assert!(listed, "registration not stored");
}

#[test]
fn baresip_with_a_wrong_password_reports_registration_failure() {
    let server = server_with_alice(MD5_ONLY);
    let mut phone = baresip_registering(&server, "guess");
    let failed = phone.wait_event("REGISTER_FAIL", Duration::from_secs(10));
    let Some(failed) = failed else {
        panic!("no REGISTER_FAIL:\n{}\n{}", phone.history(), server.log())
    };
    let reason = failed["param"].as_str().unwrap_or_default();
    assert!(reason.contains("403 Forbidden"), "{failed}");
    assert_eq!(phone.count_events("REGISTER_OK"), 0);
    assert!(contacts(&server, "alice").is_empty());
    // Counted as a failure; the challenge before it is not.
    let scraped = server.scrape();
    let forbidden = r#"hotline_register_failures_total{reason="forbidden"}"#;
    assert_eq!(sample(&scraped, forbidden), Some(1.0), "{scraped}");
    assert_eq!(sample(&scraped, "hotline_registrations_active"), Some(0.0));
}

#[test]
fn pjsua2_registers_with_sha256_and_unregisters_only_its_own_device() {
    let server = server_with_alice("algorithms = [\"SHA-256\"]");
    let registrar = format!("sip:{}", server.sip);
    let (ok, events, output) = pjsua_register(&registrar, "alice", "secret", &[]);
    assert!(ok, "pjsua2 did not register:\n{output}\n{}", server.log());
    assert_eq!(events.last().unwrap()["code"], 200, "{output}");
    let devices = contacts(&server, "alice");
    assert_eq!(devices.len(), 1, "{devices:?}");
    let first = devices[0]["contact"].as_str().unwrap().to_owned();
    assert!(
        first.ends_with(";ob>"),
        "the contact is kept as given: {first}"
    );

    // A second device registers, then un-registers itself.
    let (ok, events, output) = pjsua_register(&registrar, "alice", "secret", &["--unregister"]);
    assert!(
        ok,
        "pjsua2 did not un-register:\n{output}\n{}",
        server.log()
    );
    assert_eq!(events.len(), 2, "{output}");
    let devices = contacts(&server, "alice");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["contact"], first.as_str());
}

/// linphone registering as `alice` with `password`.
fn linphone_registering(server: &Server, password: &str) -> Linphone {
    let mut phone = Linphone::start();
    let registrar = server.sip;
    phone.command(&format!(
        "register sip:alice@{registrar} sip:{registrar} {password}"
    ));
    phone
}

/// Whether linphone reports itself registered within a few seconds.
fn linphone_registered(phone: &mut Linphone) -> bool {
    let status = Some("status register");
    phone.wait_for("registered, identity=", status, Duration::from_secs(10))
}

#[test]
fn linphone_registers_with_both_algorithms_offered_and_asks_again_on_a_wrong_password() {
    let server = server_with_alice("");
    let mut phone = linphone_registering(&server, "secret");
    assert!(
        linphone_registered(&mut phone),
        "linphone did not register:\n{}\n{}",
        phone.printed,
        server.log()
    );
    let devices = contacts(&server, "alice");
    assert_eq!(devices.len(), 1, "{devices:?}");
    let user_agent = devices[0]["user_agent"].as_str().unwrap();
    assert!(user_agent.contains("Linphone"), "{user_agent}");

    let mut guesser = linphone_registering(&server, "guess");
    assert!(
        guesser.wait_for("Password for alice", None, Duration::from_secs(10)),
        "linphone did not ask for the password again:\n{}",
        guesser.printed
    );
    assert_eq!(contacts(&server, "alice").len(), 1, "only the first phone");
}

#[test]
fn linphone_registers_with_sha256_alone() {
    let server = server_with_alice("algorithms = [\"SHA-256\"]");
    let mut phone = linphone_registering(&server, "secret");
    assert!(
        linphone_registered(&mut phone),
        "linphone did not register with SHA-256:\n{}\n{}",
        phone.printed,
        server.log()
    );
}

#[test]
fn repeated_wrong_passwords_lock_the_source_out_even_with_the_right_one() {
    let server = server_with_alice("max_failures = 2\nblock_seconds = 60");
    let registrar = format!("sip:{}", server.sip);
    for _ in 0..2 {
        let (ok, events, output) = pjsua_register(&registrar, "alice", "guess", &[]);
        assert!(!ok, "{output}");
        assert_eq!(events.last().unwrap()["code"], 403, "{output}");
    }
    let (ok, events, output) = pjsua_register(&registrar, "alice", "secret", &[]);
    assert!(!ok, "the source should be blocked:\n{output}");
    assert_eq!(events.last().unwrap()["code"], 403, "{output}");
    assert!(contacts(&server, "alice").is_empty());
}

#[test]
fn registrations_survive_a_restart() {
    let mut first = server_with_alice("");
    let registrar = format!("sip:{}", first.sip);
    let (ok, _, output) = pjsua_register(&registrar, "alice", "secret", &[]);
    assert!(ok, "{output}");
    let before = contacts(&first, "alice");
    assert_eq!(before.len(), 1);
    // The write is asynchronous (and a busy SQLite file makes the command
    // wait its turn): wait until it is in the database.
    assert!(wait_for(Duration::from_secs(15), || {
        let output = first.cli(&["agents", "list", "--json"]);
        String::from_utf8_lossy(&output.stdout).contains(";ob>")
    }));
    first.stop();

    let second = Server::start_with(ServerOptions {
        db: Some(first.db_url()),
        ..ServerOptions::default()
    });
    let after = contacts(&second, "alice");
    assert_eq!(after.len(), 1, "{after:?}\n{}", second.log());
    assert_eq!(after[0]["contact"], before[0]["contact"]);
    assert_eq!(after[0]["target"], before[0]["target"]);
}
