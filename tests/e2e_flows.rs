//! End-to-end flows: a real softphone calls the demo hotline, presses keys,
//! and gets what a caller expects: the balance spoken, tickets registered in
//! the CRM, a bad meter reading refused; and a flow published mid-call that
//! leaves the call in progress alone.

mod support;

use std::time::Duration;

use support::audio::{
    assert_heard, assert_not_heard, best_match, heard, prompt_sequence, read_wav,
    the_call_keeps_its_version_and_the_next_hears_the_new_one,
};
use support::peers::Baresip;
use support::phone::{dial, hang_up, press, silence};
use support::{Server, ServerOptions, hotline, repo_path};

const OLENA: &str = "+380441234567";
const KEY_GAP: Duration = Duration::from_millis(400);

/// The tickets in the server's database, as `hotline tickets list --json` prints them.
fn tickets(server: &Server) -> Vec<serde_json::Value> {
    let (ok, out) = hotline(&["tickets", "--db", &server.db_url(), "list", "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The calls in the server's database, as `hotline calls list --json` prints them.
fn calls(server: &Server) -> Vec<serde_json::Value> {
    let (ok, out) = hotline(&["calls", "--db", &server.db_url(), "list", "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Olena calls, waits for the menu, presses `keys`, listens for `listen`, hangs up.
fn olena_calls(server: &Server, keys: &str, listen: Duration) -> Baresip {
    let mic = silence(server.dir.path(), 40);
    let mut phone = dial(server, OLENA, &mic);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut phone, keys, KEY_GAP);
    std::thread::sleep(listen);
    hang_up(&mut phone);
    phone
}

/// Olena presses 4, enters `reading` and #, confirms with 1, listens, hangs up.
fn olena_submits_reading(server: &Server, reading: &str, listen: Duration) -> Baresip {
    let mic = silence(server.dir.path(), 40);
    let mut phone = dial(server, OLENA, &mic);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut phone, "4", KEY_GAP);
    std::thread::sleep(Duration::from_millis(1500));
    press(&mut phone, &format!("{reading}#"), KEY_GAP);
    // "You entered 1 3 0 0 0; press 1 to confirm", then 1.
    std::thread::sleep(Duration::from_millis(1500));
    press(&mut phone, "1", KEY_GAP);
    std::thread::sleep(listen);
    hang_up(&mut phone);
    phone
}

#[test]
fn key_1_speaks_the_balance_in_ukrainian_with_its_grammar() {
    let server = Server::start();
    let phone = olena_calls(&server, "1", Duration::from_secs(8));
    // "Ваш баланс одна тисяча двісті тридцять чотири гривні п'ятдесят шість копійок".
    let balance = [
        "hotline/balance_is",
        "say/1f",
        "say/thousand_1",
        "say/200",
        "say/30",
        "say/4",
        "say/uah_2",
        "say/50",
        "say/6",
        "say/kopeck_5",
    ];
    assert_heard(&phone, "uk", &balance);
    let call = &calls(&server)[0];
    assert_eq!(call["flow_outcome"], "contained_by_ivr", "{call}");
    let path = call["path"].as_str().unwrap_or_default();
    assert!(path.contains("main [1] balance say_balance"), "{path}");
    assert!(
        call["flow_version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("hotline.yaml@")
    );
}

#[test]
fn key_3_registers_one_line_repair_ticket_and_reads_its_number_back() {
    let server = Server::start();
    let phone = olena_calls(&server, "3", Duration::from_secs(6));
    let tickets = tickets(&server);
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let ticket = &tickets[0];
    assert_eq!(ticket["kind"], "line_repair");
    assert_eq!(ticket["phone"], OLENA);
    assert_eq!(ticket["number"], "T-000001");
    assert!(
        ticket["customer_id"].is_string(),
        "the ticket is Olena's: {ticket}"
    );
    let read_back = [
        "hotline/ticket_registered",
        "say/0",
        "say/0",
        "say/0",
        "say/0",
        "say/0",
        "say/1",
    ];
    assert_heard(&phone, "uk", &read_back);
    assert_eq!(calls(&server)[0]["flow_outcome"], "ticket_registered");
}

#[test]
fn key_4_with_a_confirmed_reading_registers_a_meter_reading_ticket() {
    let server = Server::start();
    let phone = olena_submits_reading(&server, "13000", Duration::from_secs(4));
    let tickets = tickets(&server);
    assert_eq!(tickets.len(), 1, "{tickets:?}\n{}", server.log());
    assert_eq!(tickets[0]["kind"], "meter_reading");
    assert_eq!(tickets[0]["fields"]["reading"], "13000");
    assert_heard(&phone, "uk", &["hotline/reading_accepted"]);
}

#[test]
fn a_reading_below_the_last_one_is_refused_with_the_last_reading() {
    let server = Server::start();
    let phone = olena_submits_reading(&server, "11000", Duration::from_secs(7));
    assert_eq!(tickets(&server), Vec::<serde_json::Value>::new());
    // "The reading cannot be lower than the last one: дванадцять тисяч кіловат-годин".
    let refused = [
        "hotline/reading_too_low",
        "say/12",
        "say/thousand_5",
        "say/kwh_5",
    ];
    assert_heard(&phone, "uk", &refused);
    assert_not_heard(&phone, "uk", "hotline/reading_accepted");
}

/// A server whose flows directory holds a copy of the demo flow, checked
/// every 200 ms; the directory, the file, its text and the server.
fn server_watching_a_copy_of_the_demo() -> (tempfile::TempDir, std::path::PathBuf, String, Server) {
    let flows = tempfile::tempdir().unwrap();
    let file = flows.path().join("hotline.yaml");
    let original = std::fs::read_to_string(repo_path("ivr-flows/hotline.yaml")).unwrap();
    std::fs::write(&file, &original).unwrap();
    let server = Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        config: "[flows]\nreload_ms = 200\n".into(),
        ..ServerOptions::default()
    });
    (flows, file, original, server)
}

#[test]
fn a_flow_published_during_a_call_leaves_that_call_alone_and_serves_the_next() {
    let (_flows, file, original, server) = server_watching_a_copy_of_the_demo();
    let first_version = server.get_json("/status")["flows"]["hotline"].clone();

    let mic = silence(server.dir.path(), 40);
    let first = dial(&server, OLENA, &mic);
    // The new version greets with the after-hours notice instead of the greeting.
    let changed = original.replacen(
        "play: { prompts: [hotline/greeting], next: identify }",
        "play: { prompts: [hotline/after_hours], next: identify }",
        1,
    );
    assert_ne!(changed, original);
    std::fs::write(&file, changed).unwrap();
    assert!(
        support::peers::wait_for(Duration::from_secs(5), || {
            server.get_json("/status")["flows"]["hotline"] != first_version
        }),
        "the changed flow was not published:\n{}",
        server.log()
    );
    // The first call still runs its own version: its menu and balance work.
    the_call_keeps_its_version_and_the_next_hears_the_new_one(&server, first, OLENA);

    let calls = calls(&server);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1]["flow_version"], first_version,
        "the first call kept its version"
    );
    assert_ne!(calls[0]["flow_version"], first_version);
    assert_eq!(calls[1]["flow_outcome"], "contained_by_ivr");
}

#[test]
fn a_broken_flow_file_is_not_published_and_calls_keep_the_old_version() {
    let (_flows, file, original, server) = server_watching_a_copy_of_the_demo();
    let version = server.get_json("/status")["flows"]["hotline"].clone();
    let broken = original.replacen("goto: balance", "goto: nowhere", 1);
    std::fs::write(&file, broken).unwrap();
    assert!(
        support::peers::wait_for(Duration::from_secs(5), || server
            .log()
            .contains("flow not published")),
        "{}",
        server.log()
    );
    assert!(
        server.log().contains("nowhere"),
        "the log names the problem"
    );
    assert_eq!(server.get_json("/status")["flows"]["hotline"], version);
    let phone = olena_calls(&server, "1", Duration::from_secs(7));
    assert_heard(&phone, "uk", &["hotline/balance_is"]);
}

/// A server running a one-language flow made of `start_and_nodes` (its
/// `start:` line and `nodes:`), written into `flows`.
fn transferring_server(flows: &tempfile::TempDir, start_and_nodes: &str) -> Server {
    let flow = format!("id: hotline\ndefault_language: en\nlanguages: [en]\n{start_and_nodes}");
    std::fs::write(flows.path().join("hotline.yaml"), flow).unwrap();
    Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        ..ServerOptions::default()
    })
}

/// Olena calling, saying the greeting prompt every 2.5 s (to be heard back).
fn speaking_caller(server: &Server) -> Baresip {
    let caller_mic = support::phone::speaking(
        server.dir.path(),
        "caller.wav",
        "audio/en/hotline/greeting.wav",
        40,
        2500,
    );
    dial(server, OLENA, &caller_mic)
}

#[test]
fn a_transfer_node_calls_the_uri_and_bridges_the_caller_to_it() {
    use support::phone::speaking;
    let flows = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk_mic = speaking(
        dir.path(),
        "desk.wav",
        "audio/en/hotline/goodbye.wav",
        40,
        2500,
    );
    let mut desk = Baresip::start(&desk_mic, "<sip:desk@127.0.0.1>;regint=0;answermode=auto");
    let server = transferring_server(
        &flows,
        &format!(
            "start: hello\nnodes:\n  hello:\n    \
             play: {{ prompts: [hotline/greeting], next: out }}\n  out:\n    \
             transfer: {{ uri: \"sip:desk@{}\" }}\n",
            desk.sip
        ),
    );
    let mut caller = speaking_caller(&server);
    let answered = desk.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    assert!(
        answered.is_some(),
        "the desk was not called:\n{}\n{}",
        desk.history(),
        server.log()
    );
    std::thread::sleep(Duration::from_secs(6));
    hang_up(&mut caller);
    let closed = desk.wait_event("CALL_CLOSED", Duration::from_secs(5));
    assert!(
        closed.is_some(),
        "the desk's leg did not end:\n{}",
        desk.history()
    );
    let desk_voice = read_wav(&repo_path("audio/en/hotline/goodbye.wav")).0;
    let score = best_match(&desk_voice, &heard(&caller));
    assert!(score >= 0.8, "the caller did not hear the desk: {score:.3}");
    let caller_voice = read_wav(&repo_path("audio/en/hotline/greeting.wav")).0;
    let score = best_match(&caller_voice, &heard(&desk));
    assert!(score >= 0.8, "the desk did not hear the caller: {score:.3}");
    assert_eq!(calls(&server)[0]["flow_outcome"], "transferred");
}

#[test]
fn the_report_counts_a_callers_menu_choice_and_how_the_call_was_served() {
    let server = Server::start();
    let mut phone = dial(&server, "+380441234567", &silence(server.dir.path(), 30));
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut phone, "1", Duration::from_millis(300));
    // The balance is said, then the menu again; the caller is done.
    std::thread::sleep(Duration::from_secs(6));
    hang_up(&mut phone);
    let mut report = serde_json::Value::Null;
    support::peers::wait_for(Duration::from_secs(5), || {
        let output = server.cli(&["calls", "report", "--json"]);
        report = serde_json::from_slice(&output.stdout).unwrap_or_default();
        report["calls"]["total"] == 1 && report["calls"]["other"] == 0
    });
    assert_eq!(report["calls"]["total"], 1, "{report}");
    assert_eq!(report["calls"]["contained_by_ivr"], 1, "{report}");
    assert_eq!(report["calls"]["containment"], 1.0, "{report}");
    let menu = report["menu"].as_array().cloned().unwrap_or_default();
    assert!(
        menu.iter()
            .any(|c| c["node"] == "main" && c["key"] == "1" && c["count"] == 1),
        "the key 1 pressed in the main menu: {report}"
    );
    // The admin API gives the same figures, and the text form reads them out.
    let over_http = server.get_json("/report");
    assert_eq!(over_http["calls"], report["calls"], "{over_http}");
    let text = server.cli(&["calls", "report"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("served by the IVR    1 (100.0 %)"), "{text}");
    let kyiv = server.cli(&["calls", "report", "--json", "--time-zone", "Europe/Kyiv"]);
    let kyiv: serde_json::Value = serde_json::from_slice(&kyiv.stdout).unwrap_or_default();
    assert_eq!(kyiv["calls"], report["calls"], "today in Kyiv: {kyiv}");
    let bad = server.cli(&["calls", "report", "--from", "someday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("someday"));
}

#[test]
fn a_transfer_to_a_name_without_a_port_finds_the_server_through_dns_srv() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Baresip::start(
        &silence(dir.path(), 30),
        "<sip:desk@127.0.0.1>;regint=0;answermode=auto",
    );
    // The provider's DNS: the SIP service of desk.test is at pbx.desk.test,
    // on the port the desk phone listens on (not 5060).
    let dns = support::peers::Dnsmasq::start(&[
        format!(
            "srv-host=_sip._udp.desk.test,pbx.desk.test,{},10,100",
            desk.sip.port()
        ),
        "host-record=pbx.desk.test,127.0.0.1".to_owned(),
    ]);
    let flows = tempfile::tempdir().unwrap();
    let flow = "id: hotline\ndefault_language: en\nlanguages: [en]\nstart: out\nnodes:\n  out:\n    \
                transfer: { uri: \"sip:desk@desk.test\" }\n";
    std::fs::write(flows.path().join("hotline.yaml"), flow).unwrap();
    let server = Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        config: format!("[sip]\ndns_servers = [\"{}\"]\n", dns.addr),
        ..ServerOptions::default()
    });
    let mut caller = dial(&server, OLENA, &silence(server.dir.path(), 30));
    let answered = desk.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    assert!(
        answered.is_some(),
        "the desk was not found through SRV:\n{}\n{}",
        desk.history(),
        server.log()
    );
    hang_up(&mut caller);
    assert!(
        desk.wait_event("CALL_CLOSED", Duration::from_secs(5))
            .is_some()
    );
}

#[test]
fn a_transferred_caller_hears_the_targets_early_media_instead_of_music() {
    // The target's network answers 183 with SDP and sends audio (the echo of
    // the caller) for 4 s before the target picks up.
    let target = support::peers::SippUas::start_with("customer_early_media.xml", &["-rtp_echo"]);
    let flows = tempfile::tempdir().unwrap();
    let server = transferring_server(
        &flows,
        &format!(
            "start: out\nnodes:\n  out:\n    transfer: {{ uri: \"sip:+380441234567@{}\" }}\n",
            target.addr
        ),
    );
    let mut caller = speaking_caller(&server);
    std::thread::sleep(Duration::from_secs(8));
    hang_up(&mut caller);
    let run = target.finish(Duration::from_secs(10));
    assert!(run.success, "the target: {}\n{}", run.output, server.log());
    let (heard, _) = read_wav(&caller.recording().expect("a recording"));
    let spoken = prompt_sequence("en", &["hotline/greeting"]);
    let echo = best_match(&spoken, &heard);
    assert!(
        echo >= 0.9,
        "the caller's words back from the target: {echo}"
    );
    // A second of the music from its start: what the caller would have heard
    // while the target rang, had its early media been ignored.
    let music = prompt_sequence("en", &["queue/music"]);
    let score = best_match(&music[4000..12000], &heard);
    assert!(
        score < 0.5,
        "the caller heard music over early media: {score}"
    );
}
