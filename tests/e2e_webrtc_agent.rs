//! An agent takes calls in the agent desktop, in a real browser (Debian's
//! chromium, headless, driven by playwright-core). The page registers over
//! SIP on a WebSocket with a password the server minted for it; a socket that
//! sends garbage is answered 400 and nothing else is disturbed. A baresip
//! caller presses 0: the page and the agent's desk phone both ring, the page
//! shows the screen-pop and answers (the desk phone is cancelled), a tone goes
//! each way, a key pressed in the page reaches the caller, and closing the
//! tab mid-call ends the caller's call with a BYE and frees the agent. A web
//! caller (the "call us" widget) reaches a browser agent the same way, and
//! the agent hangs up with the page's button. Over HTTPS, the page
//! registers over wss://. An agent who presses Hold in the page leaves the
//! caller hearing the music on hold until pressing it again.

mod support;

use std::path::Path;
use std::time::Duration;

use support::audio::{assert_hold_heard, read_wav, strongest_in_last_seconds, tone_wav};
use support::browser::BrowserScript;
use support::metrics::sample;
use support::peers::{Baresip, wait_for};
use support::phone::{dial, press, silence};
use support::{Server, ServerOptions, flows_always_open, free_rtp_range};

/// The demo's Olena, whom the CRM knows.
const OLENA: &str = "+380441234567";
/// The tone the caller's microphone plays.
const TONE_FROM_CALLER: f32 = 1000.0;
/// The tone of the page's fake microphone.
const TONE_FROM_PAGE: f32 = 600.0;

#[test]
fn a_browser_agent_registers_takes_a_queued_call_both_hear_and_closing_the_tab_ends_it() {
    let (_flows, server) = server_with_alice();
    let _log = LogOnFailure(&server);
    let (base, wait) = (format!("http://{}", server.http), Duration::from_secs(30));

    // The agent's desk phone, registered beside the browser.
    let quiet = silence(server.dir.path(), 90);
    let mut desk = Baresip::start(&quiet, "<sip:idle@127.0.0.1>;regint=0");
    let account = format!(
        "<sip:alice@{}>;auth_pass=secret-a;regint=60;answermode=manual",
        server.sip
    );
    desk.command("uanew", &account);
    let registered = desk.wait_event("REGISTER_OK", Duration::from_secs(10));
    assert!(registered.is_some(), "{}", desk.history());

    let page_mic = tone_wav(server.dir.path(), "page.wav", TONE_FROM_PAGE, 48000, 90);
    let mut page = BrowserScript::start(
        "agent_phone.mjs",
        &[&base, "alice", "secret-a", &page_mic, "close"],
    );
    assert_eq!(page.next(wait), "registered");
    let devices = wait_for(Duration::from_secs(5), || {
        registrations(&server, "alice") == 2
    });
    assert!(devices, "the browser is not the agent's second device");
    let garbage = page.next(wait);
    // The request too broken to take is told why; the socket stays open.
    assert_eq!(
        garbage,
        "garbage: SIP/2.0 400 Invalid Max-Forwards; open=true",
        "{}",
        server.log()
    );
    let scrape = server.scrape();
    let unreadable = sample(&scrape, "hotline_websocket_total{event=\"unreadable\"}");
    assert_eq!(unreadable, Some(2.0), "both garbage frames are counted");
    let open = || sample(&server.scrape(), "hotline_websocket_connections");
    assert!(
        wait_for(Duration::from_secs(5), || open() == Some(1.0)),
        "the page's own socket stays, the garbage one is gone: {:?}",
        open()
    );

    let caller_mic = tone_wav(server.dir.path(), "caller.wav", TONE_FROM_CALLER, 8000, 90);
    let mut caller = dial(&server, OLENA, Path::new(&caller_mic));
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    let ringing = page.next(Duration::from_secs(60));
    assert_eq!(
        ringing,
        "ringing name=Olena Kovalenko account=100200300",
        "{}",
        server.log()
    );
    let desk_rang = desk.wait_event("CALL_INCOMING", wait);
    assert!(desk_rang.is_some(), "the desk phone did not ring too");

    page.cue();
    assert_eq!(page.next(wait), "talking", "{}", server.log());
    // The browser answered first: the desk phone stops ringing.
    let desk_stopped = desk.wait_event("CALL_CLOSED", wait);
    assert!(desk_stopped.is_some(), "{}", desk.history());

    let frequency = page.next_heard(wait);
    assert!(
        (frequency - TONE_FROM_CALLER).abs() < 20.0,
        "the page heard {frequency} Hz\n{}",
        server.log()
    );

    page.cue();
    assert_eq!(page.next(wait), "mute true, unmuted true");

    // A key pressed on the page's keypad reaches the caller (RFC 4733 both legs).
    page.cue();
    assert_eq!(page.next(wait), "pressed 5");
    let key = caller.wait_event("CALL_DTMF_START", wait);
    let key = key.unwrap_or_else(|| panic!("no key reached the caller:\n{}", caller.history()));
    assert_eq!(key["param"], "5", "{key}");

    // Let the caller hear the page for a while, then close the tab mid-call.
    std::thread::sleep(Duration::from_secs(3));
    page.cue();
    assert_eq!(page.next(wait), "closed");
    let ended = caller.wait_event("CALL_CLOSED", wait);
    assert!(
        ended.is_some(),
        "the caller's call did not end when the tab closed:\n{}",
        server.log()
    );
    let freed = wait_for(wait, || {
        let state = agent_state(&server, "alice");
        state == "\"wrap_up\"" || state == "\"available\""
    });
    assert!(freed, "alice is {}", agent_state(&server, "alice"));
    let one_device = wait_for(Duration::from_secs(5), || {
        registrations(&server, "alice") == 1
    });
    assert!(one_device, "the closed tab's binding stayed");
    assert_eq!(open(), Some(0.0), "no WebSocket left open");

    let recording = caller
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", caller.history()));
    let (samples, rate) = read_wav(&recording);
    assert_eq!(rate, 8000);
    let heard_page = strongest_in_last_seconds(&samples, 3);
    eprintln!("the page heard {frequency} Hz; the caller heard {heard_page:?} Hz");
    assert!(
        heard_page.iter().any(|f| (f - TONE_FROM_PAGE).abs() < 20.0),
        "the caller did not hear the page's {TONE_FROM_PAGE} Hz: {heard_page:?}"
    );
    page.cue();
    assert!(page.finish(wait));
}

#[test]
fn a_web_caller_reaches_a_browser_agent_they_hear_each_other_and_the_agent_hangs_up() {
    let (_flows, server) = server_with_alice();
    let _log = LogOnFailure(&server);
    let (base, wait) = (format!("http://{}", server.http), Duration::from_secs(30));

    let agent_mic = tone_wav(server.dir.path(), "agent.wav", TONE_FROM_PAGE, 48000, 90);
    let mut agent = BrowserScript::start(
        "agent_phone.mjs",
        &[&base, "alice", "secret-a", &agent_mic, "hang-up"],
    );
    assert_eq!(agent.next(wait), "registered");
    assert!(agent.next(wait).starts_with("garbage: SIP/2.0 400"));

    let caller_mic = tone_wav(server.dir.path(), "caller.wav", TONE_FROM_CALLER, 48000, 90);
    let mut caller = BrowserScript::start("web_caller.mjs", &[&base, &caller_mic]);
    assert_eq!(caller.next(wait), "in-call");
    std::thread::sleep(Duration::from_millis(2500));
    caller.cue();
    assert_eq!(caller.next(wait), "pressed 0");

    let ringing = agent.next(Duration::from_secs(60));
    assert!(ringing.starts_with("ringing "), "{ringing}");
    agent.cue();
    assert_eq!(agent.next(wait), "talking");
    let agent_heard = agent.next_heard(wait);
    caller.cue();
    let caller_heard = caller.next_heard(wait);
    eprintln!("the agent heard {agent_heard} Hz, the web caller {caller_heard} Hz");
    assert!(
        (agent_heard - TONE_FROM_CALLER).abs() < 20.0,
        "the agent heard {agent_heard} Hz"
    );
    assert!(
        (caller_heard - TONE_FROM_PAGE).abs() < 20.0,
        "the web caller heard {caller_heard} Hz"
    );

    agent.cue();
    assert_eq!(agent.next(wait), "mute true, unmuted true");
    agent.cue();
    assert_eq!(agent.next(wait), "pressed 5");
    // The agent hangs up with the page's button and goes to wrap-up.
    agent.cue();
    assert_eq!(agent.next(wait), "hung up, wrap_up");
    let ended = wait_for(wait, || server.get_json("/status")["calls_active"] == 0);
    assert!(
        ended,
        "the web call did not end: {}",
        server.get_json("/status")
    );
    agent.cue();
    caller.cue();
    assert!(agent.finish(wait));
    assert!(caller.finish(wait));
}

#[test]
fn a_browser_agent_holds_the_caller_hears_music_then_the_agent_again() {
    let (_flows, server) = server_with_alice();
    let _log = LogOnFailure(&server);
    let (base, wait) = (format!("http://{}", server.http), Duration::from_secs(30));
    let page_mic = tone_wav(server.dir.path(), "page.wav", TONE_FROM_PAGE, 48000, 90);
    let mut page = BrowserScript::start("agent_hold.mjs", &[&base, "alice", "secret-a", &page_mic]);
    assert_eq!(page.next(wait), "registered");

    let quiet = silence(server.dir.path(), 90);
    let mut caller = dial(&server, OLENA, &quiet);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    page.cue();
    assert_eq!(page.next(Duration::from_secs(60)), "talking");
    std::thread::sleep(Duration::from_secs(4));
    page.cue();
    assert_eq!(page.next(wait), "held true", "{}", server.log());
    std::thread::sleep(Duration::from_secs(6));
    page.cue();
    assert_eq!(page.next(wait), "resumed false", "{}", server.log());
    std::thread::sleep(Duration::from_secs(4));
    page.cue();
    assert_eq!(page.next(wait), "hung up");
    let ended = caller.wait_event("CALL_CLOSED", wait);
    assert!(ended.is_some(), "the caller's call did not end");

    let events = server.last_call_events();
    let holds: Vec<&String> = events.iter().filter(|e| e.starts_with("hold ")).collect();
    assert_eq!(
        holds,
        ["hold alice holds", "hold alice resumes"],
        "{events:?}"
    );
    let recording = caller
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", caller.history()));
    assert_hold_heard(&read_wav(&recording).0, TONE_FROM_PAGE, 4);
    page.cue();
    assert!(page.finish(wait));
}

#[test]
fn over_https_the_agent_desktop_registers_over_wss() {
    let keys = tempfile::tempdir().unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let certificate = keys.path().join("cert.pem");
    let key = keys.path().join("key.pem");
    std::fs::write(&certificate, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let (webrtc_min, webrtc_max) = free_rtp_range();
    let config = format!(
        "[http]\ntls_certificate = {:?}\ntls_key = {:?}\n\n[webrtc]\nenabled = true\n\
         port_min = {webrtc_min}\nport_max = {webrtc_max}\n",
        certificate.display().to_string(),
        key.display().to_string()
    );
    let server = Server::start_with(ServerOptions {
        config,
        ..ServerOptions::default()
    });
    let _log = LogOnFailure(&server);
    server.add_agent("alice", "secret-a", "support");
    let base = format!("https://localhost:{}", server.http.port());
    let mut page = BrowserScript::start("agent_wss.mjs", &[&base, "alice", "secret-a"]);
    let registered = page.next(Duration::from_secs(30));
    assert_eq!(
        registered,
        format!("registered WSS wss://localhost:{}/sip", server.http.port())
    );
    assert!(page.finish(Duration::from_secs(30)));
}

/// A server whose queue rings the agent alice for a minute, with WebRTC on
/// loopback; and its flows' directory, to keep while it runs.
fn server_with_alice() -> (tempfile::TempDir, Server) {
    let flows = flows_always_open();
    let (webrtc_min, webrtc_max) = free_rtp_range();
    let config = format!(
        "[registrar]\nalgorithms = [\"MD5\"]\n\n[[queues]]\nname = \"support\"\n\
         strategy = \"longest_idle\"\nskills = [\"support\"]\nring_timeout_seconds = 60\n\n\
         [queue]\nwrap_up_seconds = 2\n\n[webrtc]\nenabled = true\nbind_address = \"127.0.0.1\"\n\
         port_min = {webrtc_min}\nport_max = {webrtc_max}\n"
    );
    let server = Server::start_with(ServerOptions {
        config,
        media: "rtp_timeout_seconds = 20".into(),
        flows: Some(flows.path().to_owned()),
        ..ServerOptions::default()
    });
    server.add_agent("alice", "secret-a", "support");
    (flows, server)
}

/// Prints the server's log when the test fails, whatever step failed.
struct LogOnFailure<'a>(&'a Server);

impl Drop for LogOnFailure<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the server's log:\n{}", self.0.log());
        }
    }
}

/// How many devices `agent` has registered, as the supervisors' API lists them.
fn registrations(server: &Server, agent: &str) -> usize {
    let listed = server.get_json("/registrations");
    listed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["agent"] == agent)
        .map(|r| r["devices"].as_array().map_or(0, Vec::len))
        .sum()
}

fn agent_state(server: &Server, agent: &str) -> String {
    let queue = server.get_json("/queue");
    queue["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == agent)
        .map(|a| a["state"].to_string())
        .unwrap_or_default()
}
