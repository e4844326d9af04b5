//! End-to-end agent queue: two baresip agents register with passwords, a
//! caller presses 0, hears a position announcement and music, the first agent
//! lets it ring, the second answers, audio flows both ways, and hanging up
//! ends the agent's leg and puts the agent in wrap-up; a caller who presses
//! the callback key gets a callback ticket; an agent who holds leaves the
//! caller hearing the music on hold until resuming.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::audio::{assert_hold_heard, best_match, prompt_sequence, read_wav, tone_wav};
use support::metrics::sample;
use support::peers::{Baresip, wait_for};
use support::phone::{dial, hang_up, press, silence, speaking};
use support::{Server, ServerOptions, flows_always_open, repo_path};

const OLENA: &str = "+380441234567";

fn server(flows: &tempfile::TempDir, ring_timeout: u32) -> Server {
    server_with(flows, ring_timeout, "", "")
}

/// The queue test server, with `media` keys and extra configuration; lines
/// of `config` before any table header go into `[queue]`.
fn server_with(flows: &tempfile::TempDir, ring_timeout: u32, media: &str, config: &str) -> Server {
    let config = format!(
        "[registrar]\nalgorithms = [\"MD5\"]\n\n[[queues]]\nname = \"support\"\n\
         strategy = \"longest_idle\"\nskills = [\"support\"]\n\
         ring_timeout_seconds = {ring_timeout}\nannounce_every_seconds = 60\n\n\
         [queue]\nwrap_up_seconds = 3\n{config}"
    );
    Server::start_with(ServerOptions {
        config,
        media: media.into(),
        flows: Some(flows.path().to_owned()),
        ..ServerOptions::default()
    })
}

/// An agent's softphone registered with hotline; `answer` says whether it picks up by itself.
fn agent_phone(
    server: &Server,
    login: &str,
    password: &str,
    mic: &std::path::Path,
    answer: bool,
) -> Baresip {
    let mut phone = Baresip::start(mic, "<sip:idle@127.0.0.1>;regint=0");
    let mode = if answer { "auto" } else { "manual" };
    let account = format!(
        "<sip:{login}@{}>;auth_pass={password};regint=60;answermode={mode}",
        server.sip
    );
    phone.command("uanew", &account);
    let registered = phone.wait_event("REGISTER_OK", Duration::from_secs(10));
    assert!(
        registered.is_some(),
        "{login} did not register:\n{}",
        phone.history()
    );
    phone
}

fn agent_state(server: &Server, login: &str) -> String {
    let queue = server.get_json("/queue");
    let agent = queue["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == login)
        .cloned();
    agent.map(|a| a["state"].to_string()).unwrap_or_default()
}

/// Collects the admin API's event stream in the background.
fn watch_events(server: &Server) -> Arc<Mutex<Vec<serde_json::Value>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    server.follow_queue_events(move |event| sink.lock().unwrap().push(event));
    seen
}

fn heard(phone: &Baresip) -> Vec<f32> {
    let recording = phone
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", phone.history()));
    read_wav(&recording).0
}

#[test]
fn a_caller_waits_the_first_agent_rings_out_the_second_answers_and_both_hear_each_other() {
    let flows = flows_always_open();
    let server = server(&flows, 8);
    server.add_agent("alice", "secret-a", "support");
    server.add_agent("bob", "secret-b", "support");
    let events = watch_events(&server);
    let quiet = silence(server.dir.path(), 60);
    let _alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    let bob_mic = speaking(
        server.dir.path(),
        "bob.wav",
        "audio/en/hotline/goodbye.wav",
        60,
        2500,
    );
    let mut bob = agent_phone(&server, "bob", "secret-b", &bob_mic, true);
    assert!(wait_for(Duration::from_secs(5), || agent_state(
        &server, "bob"
    ) == "\"available\""));

    let caller_mic = speaking(
        server.dir.path(),
        "olena.wav",
        "audio/en/hotline/greeting.wav",
        60,
        2500,
    );
    let mut caller = dial(&server, OLENA, &caller_mic);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    // alice rings for 8 s and is paused; bob answers by himself.
    let answered = bob.wait_event("CALL_ESTABLISHED", Duration::from_secs(20));
    assert!(
        answered.is_some(),
        "bob never answered:\n{}\n{}",
        bob.history(),
        server.log()
    );
    assert!(
        agent_state(&server, "alice").contains("no answer"),
        "{}",
        agent_state(&server, "alice")
    );
    std::thread::sleep(Duration::from_secs(6));
    hang_up(&mut caller);
    let closed = bob.wait_event("CALL_CLOSED", Duration::from_secs(5));
    assert!(
        closed.is_some(),
        "bob's leg did not end:\n{}",
        bob.history()
    );
    assert!(
        wait_for(Duration::from_secs(2), || agent_state(&server, "bob")
            == "\"wrap_up\""),
        "{}",
        agent_state(&server, "bob")
    );
    assert!(
        wait_for(Duration::from_secs(6), || agent_state(&server, "bob")
            == "\"available\""),
        "{}",
        agent_state(&server, "bob")
    );

    let olena_heard = heard(&caller);
    let announcement = prompt_sequence("uk", &["queue/position", "say/1"]);
    let score = best_match(&announcement, &olena_heard);
    assert!(score >= 0.9, "no position announcement: {score:.3}");
    let music = read_wav(&repo_path("audio/uk/queue/music.wav")).0;
    let score = best_match(&music[..12_000], &olena_heard);
    assert!(score >= 0.9, "no music on hold: {score:.3}");
    let bob_voice = read_wav(&repo_path("audio/en/hotline/goodbye.wav")).0;
    let score = best_match(&bob_voice, &olena_heard);
    assert!(
        score >= 0.8,
        "the caller did not hear the agent: {score:.3}"
    );
    let olena_voice = read_wav(&repo_path("audio/en/hotline/greeting.wav")).0;
    let score = best_match(&olena_voice, &heard(&bob));
    assert!(
        score >= 0.8,
        "the agent did not hear the caller: {score:.3}"
    );

    let events = events.lock().unwrap().clone();
    let pop = events
        .iter()
        .find(|e| e["event"] == "screen_pop" && e["agent"] == "bob");
    let pop = pop.unwrap_or_else(|| panic!("no screen-pop for bob: {events:?}"));
    assert_eq!(pop["caller"], OLENA);
    assert_eq!(pop["account"], "100200300");
    assert!(
        pop["path"].as_array().unwrap().iter().any(|s| s == "[0]"),
        "{pop}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "answered" && e["agent"] == "bob"),
        "{events:?}"
    );
}

#[test]
fn a_waiting_caller_who_presses_the_callback_key_gets_a_callback_ticket() {
    let flows = flows_always_open();
    let server = server(&flows, 60);
    server.add_agent("alice", "secret-a", "support");
    let quiet = silence(server.dir.path(), 60);
    let _alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    let mut caller = dial(&server, OLENA, &silence(server.dir.path(), 60));
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    std::thread::sleep(Duration::from_secs(3));
    press(&mut caller, "1", Duration::from_millis(300));
    let closed = caller.wait_event("CALL_CLOSED", Duration::from_secs(20));
    assert!(
        closed.is_some(),
        "hotline did not end the call after the callback:\n{}",
        server.log()
    );
    let (ok, out) = support::hotline(&["tickets", "--db", &server.db_url(), "list", "--json"]);
    assert!(ok, "{out}");
    let tickets: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}\n{}", server.log());
    assert_eq!(tickets[0]["kind"], "callback");
    assert_eq!(tickets[0]["fields"]["callback_number"], OLENA);
    let confirmation = prompt_sequence("uk", &["queue/callback_registered"]);
    assert!(best_match(&confirmation, &heard(&caller)) >= 0.9);

    // A supervisor pauses the agent from the command line, and back.
    let http = server.http.to_string();
    let (ok, out) = support::hotline(&[
        "agents", "--http", &http, "state", "alice", "pause", "--reason", "lunch",
    ]);
    assert!(ok, "{out}");
    assert!(
        agent_state(&server, "alice").contains("lunch"),
        "{}",
        agent_state(&server, "alice")
    );
    let (ok, out) = support::hotline(&["agents", "--http", &http, "state", "alice", "dance"]);
    assert!(!ok, "an unknown state is refused");
    assert!(out.contains("unknown state"), "{out}");
}

/// A caller whose phone goes dead after pressing 0 for an agent (SIPp, which
/// sends no RTP and never hangs up): the agent's phone shows `agent_sees`
/// (ringing or answered), hotline hangs the caller up, and the agent's call
/// ends too. The call's recorded events come back.
fn dead_phone_is_hung_up(server: &Server, agent: &mut Baresip, agent_sees: &str) -> Vec<String> {
    let sip = server.sip;
    let caller = std::thread::spawn(move || {
        support::peers::sipp("silent_caller.xml", sip, &["-m", "1", "-key", "digit", "0"])
    });
    let seen = agent.wait_event(agent_sees, Duration::from_secs(15));
    assert!(
        seen.is_some(),
        "no {agent_sees} for the agent:\n{}",
        server.log()
    );
    let run = caller.join().unwrap();
    assert!(
        run.success,
        "hotline did not hang up the dead phone:\n{}\n{}",
        run.output,
        server.log()
    );
    let closed = agent.wait_event("CALL_CLOSED", Duration::from_secs(10));
    assert!(
        closed.is_some(),
        "the agent's call goes on:\n{}",
        agent.history()
    );
    server.last_call_events()
}

#[test]
fn a_waiting_caller_whose_phone_goes_dead_is_hung_up_and_the_agent_stops_ringing() {
    let flows = flows_always_open();
    let server = server_with(&flows, 60, "rtp_timeout_seconds = 4", "");
    server.add_agent("alice", "secret-a", "support");
    let quiet = silence(server.dir.path(), 60);
    let mut alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    let events = dead_phone_is_hung_up(&server, &mut alice, "CALL_INCOMING");
    assert!(
        events.iter().any(|e| e == "media caller silent for 4 s"),
        "{events:?}"
    );
}

#[test]
fn a_bridged_caller_whose_phone_goes_dead_is_hung_up_and_so_is_the_agent() {
    let flows = flows_always_open();
    let server = server_with(&flows, 60, "rtp_timeout_seconds = 8", "");
    server.add_agent("bob", "secret-b", "support");
    let quiet = silence(server.dir.path(), 60);
    let mut bob = agent_phone(&server, "bob", "secret-b", &quiet, true);
    let events = dead_phone_is_hung_up(&server, &mut bob, "CALL_ESTABLISHED");
    assert!(
        events.iter().any(|e| e == "queue answered by bob"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "media caller silent for 8 s"),
        "{events:?}"
    );
}

#[test]
fn a_caller_still_waiting_at_the_maximum_call_duration_is_hung_up() {
    let flows = flows_always_open();
    let server = server_with(
        &flows,
        60,
        "rtp_timeout_seconds = 0",
        "[sip]\nmax_call_seconds = 5\n",
    );
    server.add_agent("alice", "secret-a", "support");
    let quiet = silence(server.dir.path(), 60);
    let mut alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    let events = dead_phone_is_hung_up(&server, &mut alice, "CALL_INCOMING");
    assert!(
        events
            .iter()
            .any(|e| e == "limit maximum call duration 5 s"),
        "{events:?}"
    );
}

/// The tone of the agent's microphone (no note of the music).
const AGENT_TONE: f32 = 600.0;
/// The tone of the caller's microphone.
const CALLER_TONE: f32 = 1000.0;

#[test]
fn an_agent_who_holds_leaves_the_caller_on_music_until_resuming() {
    let (caller, _, holds) = holds_and_resumes(Holder::Agent);
    assert_eq!(holds, ["hold bob holds", "hold bob resumes"]);
    assert_hold_heard(&heard(&caller), AGENT_TONE, 4);
}

#[test]
fn a_caller_who_holds_leaves_the_agent_on_music_until_resuming() {
    let (_, bob, holds) = holds_and_resumes(Holder::Caller);
    assert_eq!(holds, ["hold the caller holds", "hold the caller resumes"]);
    assert_hold_heard(&heard(&bob), CALLER_TONE, 4);
}

/// Who holds in [`holds_and_resumes`].
#[derive(Clone, Copy)]
enum Holder {
    Agent,
    Caller,
}

/// A caller whose microphone plays a tone is bridged to agent bob, whose
/// microphone plays another; `holder` holds for 6 s (baresip re-INVITEs
/// with a=sendonly, answered a=recvonly) and resumes, and the caller hangs
/// up. The caller's and bob's phones, and the call's hold events. (baresip
/// stops recording what it hears once it holds itself, so each test listens
/// on the other side.)
fn holds_and_resumes(holder: Holder) -> (Baresip, Baresip, Vec<String>) {
    let flows = flows_always_open();
    let server = server(&flows, 30);
    server.add_agent("bob", "secret-b", "support");
    let bob_mic = tone_wav(server.dir.path(), "bob.wav", AGENT_TONE, 8000, 60);
    let mut bob = agent_phone(&server, "bob", "secret-b", bob_mic.as_ref(), true);
    let caller_mic = tone_wav(server.dir.path(), "olena.wav", CALLER_TONE, 8000, 60);
    let mut caller = dial(&server, OLENA, caller_mic.as_ref());
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    let answered = bob.wait_event("CALL_ESTABLISHED", Duration::from_secs(20));
    assert!(answered.is_some(), "bob never answered:\n{}", bob.history());
    std::thread::sleep(Duration::from_secs(4));
    let phone = match holder {
        Holder::Agent => {
            // baresip's commands act on the current account's call: bob's,
            // not the idle account's.
            bob.command("uafind", &format!("sip:bob@{}", server.sip));
            &mut bob
        }
        Holder::Caller => &mut caller,
    };
    phone.command("hold", "");
    std::thread::sleep(Duration::from_secs(6));
    phone.command("resume", "");
    std::thread::sleep(Duration::from_secs(4));
    hang_up(&mut caller);
    let closed = bob.wait_event("CALL_CLOSED", Duration::from_secs(5));
    assert!(
        closed.is_some(),
        "bob's leg did not end:\n{}",
        bob.history()
    );
    let events = server.last_call_events();
    let holds = events
        .into_iter()
        .filter(|e| e.starts_with("hold "))
        .collect();
    (caller, bob, holds)
}

#[test]
fn a_caller_who_hangs_up_while_waiting_and_calls_again_gets_their_place_back() {
    let flows = flows_always_open();
    let server = server(&flows, 60);
    server.add_agent("alice", "secret-a", "support");
    let events = watch_events(&server);
    let quiet = silence(server.dir.path(), 60);
    let mut alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    let joined = |number: &str| {
        let before = events.lock().unwrap().len();
        let mut caller = dial(&server, number, &silence(server.dir.path(), 60));
        std::thread::sleep(Duration::from_millis(2500));
        press(&mut caller, "0", Duration::from_millis(300));
        let mut event = serde_json::Value::Null;
        let seen = wait_for(Duration::from_secs(10), || {
            let events = events.lock().unwrap();
            event = events[before..]
                .iter()
                .find(|e| e["event"] == "caller_joined")
                .cloned()
                .unwrap_or_default();
            !event.is_null()
        });
        assert!(seen, "{number} did not join:\n{}", server.log());
        (caller, event, std::time::Instant::now())
    };
    // Olena waits (alice rings for her), then Taras joins behind her.
    let (mut olena, first, first_seen) = joined(OLENA);
    assert_eq!(first["position"], 1, "{first}");
    assert!(
        alice
            .wait_event("CALL_INCOMING", Duration::from_secs(10))
            .is_some()
    );
    let (_taras, behind, _) = joined("+380671112233");
    assert_eq!(behind["position"], 2, "{behind}");
    // Olena's line drops; she calls again and is ahead of Taras once more.
    hang_up(&mut olena);
    std::thread::sleep(Duration::from_secs(1));
    let (_olena_again, again, again_seen) = joined(OLENA);
    assert_eq!(again["position"], 1, "{again}\n{}", server.log());
    // The supervisor's view of the queue says the same.
    let queue = server.get_json("/queue");
    let support = queue["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["name"] == "support"))
        .cloned()
        .unwrap_or_default();
    let waiting: Vec<(u64, &str)> = support["waiting"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|c| {
                    (
                        c["position"].as_u64().unwrap_or(0),
                        c["number"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(waiting, [(1, OLENA), (2, "+380671112233")], "{queue}");
    let first_wait = first["waited_before_ms"].as_u64().unwrap();
    let kept_wait = again["waited_before_ms"].as_u64().unwrap();
    // Seen up to a few hundred milliseconds after each join.
    let between = (again_seen - first_seen).as_millis() as u64;
    assert!(
        kept_wait + 1_000 >= first_wait + between,
        "the wait counts from the first call ({between} ms before): {first} then {again}"
    );
}

/// Olena waits for an agent, asks for a callback and hangs up; `agent`'s
/// phone rings for her place.
fn olena_asks_for_a_callback(server: &Server, agent: &mut Baresip) {
    let mut olena = dial(server, OLENA, &silence(server.dir.path(), 60));
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut olena, "0", Duration::from_millis(300));
    let rang = agent.wait_event("CALL_INCOMING", Duration::from_secs(10));
    assert!(rang.is_some(), "{}", server.log());
    std::thread::sleep(Duration::from_secs(2));
    press(&mut olena, "1", Duration::from_millis(300));
    let closed = olena.wait_event("CALL_CLOSED", Duration::from_secs(20));
    assert!(closed.is_some(), "{}", server.log());
}

/// A callback placed through a trunk to a customer's phone played by SIPp
/// `scenario`, run with `-rtp_echo` (it sends back what it hears): alice
/// takes the callback, talks for a few seconds and hangs up. What alice
/// heard comes back; the call must have been bridged and ended as talked.
fn talk_through_callback(scenario: &str) -> Vec<f32> {
    let customer = support::peers::SippUas::start_with(scenario, &["-rtp_echo"]);
    let flows = flows_always_open();
    let trunk = format!(
        "callback_dial = \"sip:{{number}}@{}\"\ncallback_caller_id = \"+380441110000\"\n",
        customer.addr
    );
    let server = server_with(&flows, 60, "", &trunk);
    server.add_agent("alice", "secret-a", "support");
    let events = watch_events(&server);
    let alice_mic = speaking(
        server.dir.path(),
        "alice.wav",
        "audio/en/hotline/goodbye.wav",
        60,
        2500,
    );
    let mut alice = agent_phone(&server, "alice", "secret-a", &alice_mic, false);
    olena_asks_for_a_callback(&server, &mut alice);
    // Alice takes the callback; hotline dials Olena's number and bridges them.
    alice.command("accept", "");
    let answered = alice.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    assert!(answered.is_some(), "{}", server.log());
    let bridged = wait_for(Duration::from_secs(10), || {
        server
            .log()
            .contains("customer called back and bridged to the agent")
    });
    assert!(bridged, "{}", server.log());
    std::thread::sleep(Duration::from_secs(7));
    hang_up(&mut alice);
    let run = customer.finish(Duration::from_secs(10));
    assert!(
        run.success,
        "the customer's phone: {}\n{}",
        run.output,
        server.log()
    );
    let ended = wait_for(Duration::from_secs(5), || {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "callback_ended")
    });
    assert!(ended, "{}", server.log());
    let events = events.lock().unwrap().clone();
    let ended = events
        .iter()
        .find(|e| e["event"] == "callback_ended")
        .unwrap();
    assert_eq!(ended["result"], "talked", "{ended}");
    assert_eq!(ended["number"], OLENA, "{ended}");
    heard(&alice)
}

/// One second of the ringback tone hotline plays (425 Hz).
fn ringback_tone() -> Vec<f32> {
    (0..8000)
        .map(|i| (2.0 * std::f32::consts::PI * 425.0 * i as f32 / 8000.0).sin())
        .collect()
}

#[test]
fn a_callback_whose_turn_comes_dials_the_customer_through_the_trunk_and_bridges_the_agent() {
    let alice_heard = talk_through_callback("customer_answers.xml");
    // Alice heard her own words back from the customer's phone: audio went
    // both ways through the bridge.
    let spoken = prompt_sequence("en", &["hotline/goodbye"]);
    let score = best_match(&spoken, &alice_heard);
    assert!(score >= 0.9, "alice's echo through the customer: {score}");
    // Before that, the ringback tone while the customer's phone rang.
    let score = best_match(&ringback_tone(), &alice_heard);
    assert!(score >= 0.9, "alice heard no ringback: {score}");
}

#[test]
fn a_customers_network_early_media_reaches_the_agent_instead_of_our_ringback() {
    // The customer's network answers 183 with SDP and sends audio (here, the
    // echo of alice) for 4 s before the customer picks up.
    let alice_heard = talk_through_callback("customer_early_media.xml");
    let spoken = prompt_sequence("en", &["hotline/goodbye"]);
    let score = best_match(&spoken, &alice_heard);
    assert!(score >= 0.9, "alice's echo through the customer: {score}");
    let score = best_match(&ringback_tone(), &alice_heard);
    assert!(
        score < 0.5,
        "alice heard our ringback over early media: {score}"
    );
}

#[test]
fn a_callback_whose_customer_is_busy_goes_back_in_the_queue_until_its_attempts_are_used() {
    // The customer's line is busy both times it is called.
    let customer = support::peers::SippUas::start_with("agent_busy.xml", &["-m", "2"]);
    let flows = flows_always_open();
    let trunk = format!(
        "callback_dial = \"sip:{{number}}@{}\"\ncallback_attempts = 2\ncallback_retry_seconds = 2\n",
        customer.addr
    );
    let server = server_with(&flows, 60, "", &trunk);
    server.add_agent("alice", "secret-a", "support");
    let events = watch_events(&server);
    let quiet = silence(server.dir.path(), 90);
    let mut alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    olena_asks_for_a_callback(&server, &mut alice);
    let ended = |count: usize| {
        wait_for(Duration::from_secs(20), || {
            events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e["event"] == "callback_ended")
                .count()
                >= count
        })
    };
    // First try: alice takes it, the customer is busy, alice's call ends.
    // (The offer for Olena herself rang too, before it became a callback.)
    let rung = alice.count_events("CALL_INCOMING");
    alice.command("accept", "");
    assert!(ended(1), "{}", server.log());
    assert!(
        alice
            .wait_event("CALL_CLOSED", Duration::from_secs(10))
            .is_some()
    );
    // Two seconds later the callback is offered again; the line is busy again.
    assert!(
        wait_for(Duration::from_secs(15), || alice
            .count_events("CALL_INCOMING")
            > rung),
        "the callback was not offered again:\n{}",
        server.log()
    );
    alice.command("accept", "");
    assert!(ended(2), "{}\n{}", alice.history(), server.log());
    let run = customer.finish(Duration::from_secs(10));
    assert!(run.success, "the customer's line: {}", run.output);
    let log = events.lock().unwrap().clone();
    let ends: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| e["event"] == "callback_ended")
        .collect();
    assert_eq!(ends[0]["result"], "not_reached: busy", "{}", ends[0]);
    assert_eq!(ends[0]["retry_in_seconds"], 2, "{}", ends[0]);
    assert_eq!(ends[1]["attempt"], 2, "{}", ends[1]);
    assert!(
        ends[1]["retry_in_seconds"].is_null(),
        "the last attempt: {}",
        ends[1]
    );
    // With its attempts used up, the callback is not offered a third time.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        alice.count_events("CALL_INCOMING"),
        rung + 1,
        "{}",
        server.log()
    );
}

#[test]
fn metrics_show_a_waiting_caller_the_agent_ringing_and_then_the_abandon() {
    let flows = flows_always_open();
    let server = server(&flows, 60);
    server.add_agent("alice", "secret-a", "support");
    let quiet = silence(server.dir.path(), 60);
    let mut alice = agent_phone(&server, "alice", "secret-a", &quiet, false);
    let support = r#"{queue="support"}"#;
    let waiting = format!("hotline_queue_waiting{support}");
    let available = r#"hotline_agents{state="available"}"#;
    let mut before = String::new();
    assert!(
        wait_for(Duration::from_secs(5), || {
            before = server.scrape();
            sample(&before, available) == Some(1.0)
        }),
        "alice is not shown available:\n{before}"
    );
    assert_eq!(sample(&before, &waiting), Some(0.0), "{before}");
    assert_eq!(sample(&before, "hotline_registrations_active"), Some(1.0));

    let mut caller = dial(&server, OLENA, &silence(server.dir.path(), 60));
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    // alice's phone rings and she does not pick up: the caller waits.
    assert!(
        alice
            .wait_event("CALL_INCOMING", Duration::from_secs(10))
            .is_some()
    );
    std::thread::sleep(Duration::from_secs(1));
    let during = server.scrape();
    assert_eq!(sample(&during, &waiting), Some(1.0), "{during}");
    let longest = format!("hotline_queue_longest_wait_seconds{support}");
    assert!(sample(&during, &longest) >= Some(1.0), "{during}");
    let ringing = r#"hotline_agents{state="ringing"}"#;
    assert_eq!(sample(&during, ringing), Some(1.0), "{during}");
    assert_eq!(sample(&during, available), Some(0.0), "{during}");

    hang_up(&mut caller);
    let abandoned = format!("hotline_queue_abandoned_total{support}");
    let mut after = String::new();
    assert!(
        wait_for(Duration::from_secs(5), || {
            after = server.scrape();
            sample(&after, &abandoned) == Some(1.0)
        }),
        "no abandon counted:\n{after}"
    );
    assert_eq!(sample(&after, &waiting), Some(0.0), "{after}");
    let answered = format!("hotline_queue_answered_total{support}");
    assert_eq!(sample(&after, &answered), Some(0.0), "{after}");
    assert!(!after.contains(&OLENA[1..]) && !after.contains("alice"));
}
