//! The web console in a real browser (Debian's chromium, headless, driven
//! by playwright-core): sign-in and roles, the wallboard following a SIPp
//! call that presses 0 while a baresip agent rings and answers, and the
//! reports page's CSV against `hotline calls report --json`. Also the event
//! stream's replay after `Last-Event-ID`, as a reconnecting page uses it.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use support::browser::{BrowserScript, screenshots};
use support::peers::{Baresip, wait_for};
use support::phone::silence;
use support::{Server, ServerOptions, flows_always_open};

fn server(flows: &tempfile::TempDir, extra: &str) -> Server {
    let config = format!(
        "[registrar]\nalgorithms = [\"MD5\"]\n\n[[queues]]\nname = \"support\"\n\
         strategy = \"longest_idle\"\nskills = [\"support\"]\nring_timeout_seconds = 60\n\
         service_level = {{ percent = 80, seconds = 20 }}\n\n[queue]\nwrap_up_seconds = 2\n{extra}"
    );
    Server::start_with(ServerOptions {
        config,
        media: "rtp_timeout_seconds = 20".into(),
        flows: Some(flows.path().to_owned()),
        ..ServerOptions::default()
    })
}

fn add_token(server: &Server, name: &str, role: &str) -> String {
    let output = server.cli(&["tokens", "add", name, "--role", role]);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Waits until the running server has read the tokens (it then refuses callers without one).
fn tokens_in_force(server: &Server) {
    let refused = wait_for(Duration::from_secs(10), || {
        let mut stream = std::net::TcpStream::connect(server.http).unwrap();
        write!(stream, "GET /status HTTP/1.0\r\n\r\n").unwrap();
        let mut status = String::new();
        BufReader::new(stream).read_line(&mut status).unwrap();
        status.contains(" 401 ")
    });
    assert!(refused, "the server did not take up the tokens");
}

fn agent_phone(server: &Server, login: &str, password: &str) -> Baresip {
    server.add_agent(login, password, "support");
    let quiet = silence(server.dir.path(), 90);
    let mut phone = Baresip::start(&quiet, "<sip:idle@127.0.0.1>;regint=0");
    let account = format!(
        "<sip:{login}@{}>;auth_pass={password};regint=60;answermode=manual",
        server.sip
    );
    phone.command("uanew", &account);
    let registered = phone.wait_event("REGISTER_OK", Duration::from_secs(10));
    assert!(registered.is_some(), "{}", phone.history());
    phone
}

/// A SIPp caller (+380441234567, the demo's Olena) who presses 0 for an
/// agent, in the background until hotline hangs up; returns once `agent`'s
/// phone rings.
fn caller_presses_0(
    server: &Server,
    agent: &mut Baresip,
) -> std::thread::JoinHandle<support::peers::SippRun> {
    let sip = server.sip;
    let caller = std::thread::spawn(move || {
        support::peers::sipp("silent_caller.xml", sip, &["-m", "1", "-key", "digit", "0"])
    });
    let rang = agent.wait_event("CALL_INCOMING", Duration::from_secs(20));
    assert!(
        rang.is_some(),
        "the agent's phone never rang:\n{}",
        server.log()
    );
    caller
}

#[test]
fn the_console_signs_in_follows_a_call_live_and_reports_it() {
    let flows = flows_always_open();
    let server = server(&flows, "");
    let base = format!("http://{}", server.http);
    let shots = screenshots();
    let monitor = add_token(&server, "wallboard", "monitor");
    add_token(&server, "admin", "admin");
    tokens_in_force(&server);
    let mut alice = agent_phone(&server, "alice", "secret-a");

    // Sign-in and roles.
    let mut browser = BrowserScript::start("signin.mjs", &[&base, &monitor, &shots]);
    let wait = Duration::from_secs(30);
    assert_eq!(browser.next(wait), "login page");
    let refused = browser.next(wait);
    assert!(refused.contains("not valid"), "{refused}");
    assert_eq!(browser.next(wait), "cookie httpOnly=true sameSite=Strict");
    assert_eq!(browser.next(wait), "wallboard");
    assert_eq!(browser.next(wait), "tokens 403");
    assert_eq!(browser.next(wait), "tokens fetch 403");
    assert!(browser.finish(wait));

    // The wallboard follows a caller who presses 0 for an agent.
    let mut board = BrowserScript::start("wallboard.mjs", &[&base, &monitor, "alice", &shots]);
    assert_eq!(board.next(wait), "available");
    let caller = caller_presses_0(&server, &mut alice);
    let ringing = board.next(wait);
    // The only agent rings, so nobody is free: said in words, not only red.
    assert!(
        ringing.starts_with("ringing waiting=1 label=callers waiting, no agent free"),
        "{ringing}"
    );
    // A monitor sees the caller's number masked, as the logs show it.
    assert!(!ringing.contains("+380441234567"), "{ringing}");
    assert!(ringing.contains("+38044"), "{ringing}");
    alice.command("accept", "");
    board.cue();
    assert_eq!(board.next(wait), "on_call waiting=0");
    assert!(board.finish(wait));
    let run = caller.join().unwrap();
    assert!(run.success, "{}\n{}", run.output, server.log());

    // The reports page's CSV says what `hotline calls report --json` says,
    // once the call's record is written (records are committed in batches).
    let report_now = || {
        let report = server.cli(&["calls", "report", "--json"]);
        assert!(report.status.success(), "{report:?}");
        serde_json::from_slice::<serde_json::Value>(&report.stdout).unwrap()
    };
    assert!(
        wait_for(Duration::from_secs(5), || report_now()["calls"]["to_agent"]
            == 1),
        "the call is not reported as handed to an agent: {}",
        report_now()
    );
    let report = report_now();
    let mut page = BrowserScript::start("report.mjs", &[&base, &monitor, &shots]);
    let bad = page.next(wait);
    assert!(bad.contains("`2026-13-45` is neither a date"), "{bad}");
    let saved = page.next(wait);
    assert!(page.finish(wait));
    let csv = std::fs::read_to_string(saved.trim_start_matches("csv ")).unwrap();
    let figure = |name: &str| {
        csv.lines()
            .find_map(|line| line.strip_prefix(&format!("{name},")))
            .unwrap_or_else(|| panic!("no {name} in\n{csv}"))
            .to_owned()
    };
    assert_eq!(
        figure("total"),
        report["calls"]["total"].to_string(),
        "{csv}"
    );
    assert_eq!(figure("total"), "1");
    assert_eq!(figure("to_agent"), report["calls"]["to_agent"].to_string());
}

#[test]
fn an_agent_signs_in_with_their_sip_password_and_sees_the_callers_screen_pop() {
    let flows = flows_always_open();
    let server = server(&flows, "");
    let base = format!("http://{}", server.http);
    add_token(&server, "admin", "admin");
    tokens_in_force(&server);
    let mut alice = agent_phone(&server, "alice", "secret-a");

    let mut desk = BrowserScript::start("agent.mjs", &[&base, "alice", "secret-a", &screenshots()]);
    let wait = Duration::from_secs(30);
    let wrong = desk.next(wait);
    assert_eq!(wrong, "wrong password: Wrong login or password.");
    assert_eq!(desk.next(wait), "unknown login: Wrong login or password.");
    // An agent's session opens their desktop, not the supervisors' figures.
    assert_eq!(desk.next(wait), "available; /queue 403; / goes to /agent");
    assert_eq!(desk.next(wait), "Paused: lunch, then available");

    let caller = caller_presses_0(&server, &mut alice);
    let pop = desk.next(wait);
    assert!(
        pop.starts_with("pop name=Olena Kovalenko account=100200300 path=welcome"),
        "{pop}"
    );
    // What the caller keyed in stays hidden; the menu's way shows.
    assert!(pop.contains("main › [•] › operator"), "{pop}");
    assert!(!pop.contains("[0]"), "{pop}");
    alice.command("accept", "");
    assert_eq!(desk.next(wait), "on_call");
    alice.command("hangup", "");
    // Wrap-up lasts 2 s here; the desktop counts it down.
    let wrap_up = desk.next(wait);
    assert!(
        [
            "wrap_up 0:00 left",
            "wrap_up 0:01 left",
            "wrap_up 0:02 left"
        ]
        .iter()
        .any(|seen| wrap_up.starts_with(seen)),
        "{wrap_up}"
    );
    assert!(wrap_up.ends_with("then available"), "{wrap_up}");
    assert!(desk.finish(wait));
    let run = caller.join().unwrap();
    assert!(run.success, "{}\n{}", run.output, server.log());
}

/// One connection to the event stream, read line by line in the background.
struct Stream {
    lines: std::sync::mpsc::Receiver<String>,
}

impl Stream {
    fn open(server: &Server, token: &str, last_event_id: Option<&str>) -> Stream {
        let mut stream = std::net::TcpStream::connect(server.http).unwrap();
        let last = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /queue/events HTTP/1.1\r\nHost: hotline\r\nAuthorization: Bearer {token}\r\n{last}\r\n"
        )
        .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Stream { lines }
    }

    /// The numbered queue events (id, JSON) seen within `limit`, snapshots left out.
    fn events(&self, limit: Duration) -> Vec<(u64, serde_json::Value)> {
        let deadline = Instant::now() + limit;
        let mut events = Vec::new();
        let mut id = None;
        let mut snapshot = false;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            if let Some(value) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                id = value.trim().parse().ok();
            } else if line.starts_with("event:") {
                snapshot = line.contains("snapshot");
            } else if let Some(data) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                if let (Some(id), false) = (id.take(), snapshot) {
                    events.push((id, serde_json::from_str(data.trim()).unwrap()));
                }
            } else if line.is_empty() {
                snapshot = false;
            }
        }
        events
    }

    /// Whether a `snapshot` event with the agent in it arrives within `limit`.
    fn snapshot_names(&self, agent: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut snapshot = false;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                return false;
            };
            if line.starts_with("event:") {
                snapshot = line.contains("snapshot");
            } else if snapshot && line.starts_with("data:") && line.contains(agent) {
                return true;
            }
        }
        false
    }
}

fn set_state(server: &Server, token: &str, state: &str) {
    let http = server.http.to_string();
    let (ok, out) = support::hotline(&[
        "agents", "--http", &http, "state", "carol", state, "--reason", "lunch", "--token", token,
    ]);
    assert!(ok, "{out}");
}

#[test]
fn a_reconnecting_event_stream_gets_the_events_it_missed() {
    let flows = flows_always_open();
    let server = server(
        &flows,
        "\n[[agents]]\nid = \"carol\"\nskills = { support = 1 }\n",
    );
    let admin = add_token(&server, "admin", "admin");
    tokens_in_force(&server);

    let first = Stream::open(&server, &admin, None);
    assert!(first.snapshot_names("carol", Duration::from_secs(3)));
    set_state(&server, &admin, "login");
    let seen = first.events(Duration::from_secs(2));
    let (last_id, login) = seen.last().cloned().expect("the login event");
    assert_eq!(login["event"], "agent_state_changed", "{login}");
    drop(first);

    // While no page listens, carol pauses and comes back.
    set_state(&server, &admin, "pause");
    set_state(&server, &admin, "unpause");
    let again = Stream::open(&server, &admin, Some(&last_id.to_string()));
    let missed = again.events(Duration::from_secs(2));
    let states: Vec<String> = missed.iter().map(|(_, e)| e["state"].to_string()).collect();
    assert_eq!(
        states,
        [r#"{"paused":{"reason":"lunch"}}"#, r#""available""#],
        "{missed:?}"
    );
    let ids: Vec<u64> = missed.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [last_id + 1, last_id + 2]);
}

/// The status of a sign-in with `token` posted as the login form does.
fn sign_in_status(server: &Server, token: &str) -> String {
    let body = format!("token={token}");
    let mut stream = std::net::TcpStream::connect(server.http).unwrap();
    write!(
        stream,
        "POST /login HTTP/1.0\r\nHost: hotline\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).unwrap();
    status.trim().to_owned()
}

#[test]
fn an_address_that_keeps_guessing_is_refused_even_the_right_token_for_a_while() {
    let server = Server::start();
    let monitor = add_token(&server, "wallboard", "monitor");
    tokens_in_force(&server);
    assert!(sign_in_status(&server, &monitor).contains(" 303 "));
    for _ in 0..10 {
        let status = sign_in_status(&server, "hotline_guess");
        assert!(status.contains(" 401 "), "{status}");
    }
    let status = sign_in_status(&server, &monitor);
    assert!(status.contains(" 429 "), "{status}");
}
