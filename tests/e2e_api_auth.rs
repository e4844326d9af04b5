//! The admin API's access control, end to end with the real binary: tokens made
//! and revoked from the command line, roles per route, the loopback rule,
//! masking per role after real SIPp calls, and a secret collect's digits.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::http::{Answer, add_token, get as http_get};
use support::metrics::{check_exposition, sample};
use support::peers::{sipp, wait_for};
use support::{Server, ServerOptions, databases};

/// One request to the server's admin API, with a bearer token when given.
fn request(server: &Server, method: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
    support::http::request(server.http, method, path, token, body)
}

fn get(server: &Server, path: &str, token: Option<&str>) -> Answer {
    request(server, "GET", path, token, "")
}

/// Asks, with `token`, for alice's state to change to `state`.
fn set_state(server: &Server, token: &str, state: &str) -> Answer {
    let body = format!(r#"{{"state":"{state}"}}"#);
    request(server, "POST", "/agents/alice/state", Some(token), &body)
}

/// A SIPp call from +380441234567 that presses 4, 2 and 7 as SIP INFO.
fn call_pressing_427(server: &Server) {
    let run = sipp("info_dtmf.xml", server.sip, &["-m", "1"]);
    assert!(
        run.success,
        "SIPp failed:\n{}\n{}",
        run.output,
        server.log()
    );
}

fn tokens_guard_every_route_but_health(server: &Server) {
    assert_eq!(
        get(server, "/calls", None).status,
        200,
        "no token yet: loopback is served"
    );
    let admin = add_token(server, "admin", "admin");
    let monitor = add_token(server, "wallboard", "monitor");
    let supervisor = add_token(server, "lead", "supervisor");

    // The running server picks the new tokens up by itself.
    assert!(
        wait_for(Duration::from_secs(10), || get(server, "/status", None)
            .status
            == 401),
        "the API stayed open after a token was made"
    );
    let refused = get(server, "/calls", None);
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .head
            .to_lowercase()
            .contains("www-authenticate: bearer"),
        "{}",
        refused.head
    );
    assert!(refused.json()["error"].is_string());
    assert_eq!(get(server, "/calls", Some("hotline_guessed")).status, 401);
    let health = get(server, "/health", None);
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    for path in ["/status", "/calls", "/queue", "/report", "/metrics"] {
        assert_eq!(get(server, path, Some(&monitor)).status, 200, "{path}");
        assert_eq!(get(server, path, None).status, 401, "{path}");
        assert_eq!(get(server, path, Some("hotline_guessed")).status, 401);
    }
    let forbidden = set_state(server, &monitor, "logout");
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    assert!(forbidden.error().contains("supervisor"));
    assert_eq!(get(server, "/registrations", Some(&monitor)).status, 403);
    assert_eq!(get(server, "/registrations", Some(&supervisor)).status, 200);
    assert_eq!(get(server, "/registrations", Some(&admin)).status, 200);

    // A supervisor gets past the gate to the queue's own answer.
    let answered = set_state(server, &supervisor, "dance");
    assert_eq!(answered.status, 400, "{}", answered.body);
    assert!(answered.error().contains("unknown state"));

    // `hotline agents state` sends HOTLINE_TOKEN: refused without; with it, the
    // queue answers (alice is not one of its agents).
    let state = |token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hotline"));
        command
            .args([
                "agents",
                "--db",
                &server.db_url(),
                "--http",
                &server.http.to_string(),
            ])
            .args(["state", "alice", "login"])
            .env_remove("HOTLINE_TOKEN")
            .stdin(Stdio::null());
        if let Some(token) = token {
            command.env("HOTLINE_TOKEN", token);
        }
        command.output().expect("hotline agents state")
    };
    let without = state(None);
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("bearer token required"));
    let with = state(Some(&supervisor));
    let answer = String::from_utf8_lossy(&with.stderr);
    assert!(answer.contains("unknown agent `alice`"), "{answer}");

    // No secret in the list.
    let listed = server.cli(&["tokens", "list", "--json"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        !text.contains(&monitor[8..]) && text.contains("wallboard"),
        "{text}"
    );

    // Revoked: refused by the running server within a few seconds.
    let revoked = server.cli(&["tokens", "revoke", "wallboard"]);
    assert!(revoked.status.success(), "{revoked:?}");
    let at = Instant::now();
    assert!(
        wait_for(Duration::from_secs(10), || get(
            server,
            "/status",
            Some(&monitor)
        )
        .status
            == 401),
        "a revoked token was still accepted after 10 s"
    );
    let took = at.elapsed();
    println!("revocation took effect after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(get(server, "/status", Some(&admin)).status, 200);
}

#[test]
fn tokens_guard_the_api_by_role_on_sqlite() {
    let server = Server::start();
    tokens_guard_every_route_but_health(&server);
}

#[test]
fn tokens_guard_the_api_by_role_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(databases::postgres());
    let server = Server::start_with(ServerOptions {
        db: Some(db.url.clone()),
        ..ServerOptions::default()
    });
    tokens_guard_every_route_but_health(&server);
}

#[test]
fn a_monitor_sees_callers_masked_and_an_admin_in_full() {
    let server = Server::start();
    let admin = add_token(&server, "admin", "admin");
    let monitor = add_token(&server, "wallboard", "monitor");
    assert!(wait_for(Duration::from_secs(10), || {
        get(&server, "/calls", None).status == 401
    }));
    call_pressing_427(&server);

    let full = get(&server, "/calls", Some(&admin)).json();
    assert_eq!(full[0]["caller"], "+380441234567", "{full}");
    let keys: String = full[0]["digits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["digit"].as_str())
        .collect();
    assert_eq!(keys, "427");

    let masked = get(&server, "/calls", Some(&monitor)).json();
    let caller = masked[0]["caller"].as_str().unwrap();
    assert_eq!(caller, "+38044****567", "masked as in the logs: {masked}");
    assert!(
        server.log().contains(caller),
        "the logs show the same masked number"
    );
    let digits = masked[0]["digits"].as_array().unwrap();
    assert_eq!(digits.len(), 3);
    assert!(digits.iter().all(|d| d["digit"] == "•"), "{masked}");
    assert!(!masked.to_string().contains("+380441234567"));

    // The figures count the call without saying who made it.
    let scraped = get(&server, "/metrics", Some(&monitor));
    check_exposition(&scraped.body);
    assert!(scraped.body.contains("hotline_calls_total{outcome="));
    assert!(!scraped.body.contains("380441234567"), "{}", scraped.body);
}

/// This machine's address on its network (not loopback), found as the
/// server finds the address it advertises.
fn network_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket.connect("192.0.2.1:9").unwrap();
    let ip = socket.local_addr().unwrap().ip();
    assert!(
        !ip.is_loopback(),
        "this test needs an address other than loopback"
    );
    ip
}

#[test]
fn metrics_off_loopback_need_a_monitor_token_like_the_other_monitor_routes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hotline.db").display());
    let token = |name: &str, role: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["tokens", "--db", &db, "add", name, "--role", role])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    token("admin", "admin");
    let monitor = token("wallboard", "monitor");
    let port = support::free_tcp_port().port();
    let server = Server::start_with(ServerOptions {
        db: Some(db.clone()),
        http: Some(std::net::SocketAddr::from(([0, 0, 0, 0], port))),
        ..ServerOptions::default()
    });
    let public = std::net::SocketAddr::new(network_address(), port);
    for path in ["/metrics", "/status"] {
        let refused = http_get(public, path, None);
        assert_eq!(refused.status, 401, "{path}: {}", refused.head);
        assert!(
            refused
                .head
                .to_lowercase()
                .contains("www-authenticate: bearer")
        );
        assert_eq!(http_get(public, path, Some("hotline_guessed")).status, 401);
        assert_eq!(http_get(public, path, Some(&monitor)).status, 200, "{path}");
    }
    let scraped = http_get(public, "/metrics", Some(&monitor));
    assert!(
        scraped.head.contains("text/plain; version=0.0.4"),
        "{}",
        scraped.head
    );
    check_exposition(&scraped.body);
    assert!(sample(&scraped.body, "hotline_calls_active").is_some());
    drop(server);
}

#[test]
fn serve_refuses_a_public_api_until_an_admin_token_exists() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hotline.db").display());
    let serve = |http: &str| {
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["serve", "--db", &db, "--http", http])
            .args(["--sip", &support::free_udp_tcp_port().to_string()])
            .arg("--flows")
            .arg(support::repo_path("ivr-flows"))
            .arg("--audio")
            .arg(support::repo_path("audio"))
            .env("HOTLINE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hotline serve")
    };
    let refused = serve("0.0.0.0:0").wait_with_output().unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("hotline tokens add admin --role admin") && message.contains("0.0.0.0"),
        "{message}"
    );

    // A monitor token is not enough; an admin token is.
    let tokens = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["tokens", "--db", &db])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    };
    tokens(&["add", "wallboard", "--role", "monitor"]);
    assert!(
        !serve("0.0.0.0:0")
            .wait_with_output()
            .unwrap()
            .status
            .success()
    );
    tokens(&["add", "admin", "--role", "admin"]);
    let mut started = serve("0.0.0.0:0");
    let mut ready = String::new();
    let mut stdout = started.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.contains('\n') && Instant::now() < deadline {
        match stdout.read(&mut byte) {
            Ok(1) => ready.push(byte[0] as char),
            _ => break,
        }
    }
    let _ = started.kill();
    let _ = started.wait();
    assert!(ready.starts_with("ready"), "did not start: {ready}");
}

#[test]
fn a_secret_collects_digits_are_stored_nowhere() {
    let flows = tempfile::tempdir().unwrap();
    let flow = "id: hotline\ndefault_language: en\nlanguages: [en]\nstart: pin\nnodes:\n  pin:\n    \
                collect: { prompt: hotline/greeting, max_digits: 3, secret: true, save_as: pin, \
                next: check, on_fail: bye }\n  check:\n    \
                branch: { when: { equals: { variable: pin, value: \"427\" } }, then: right, else: bye }\n  \
                right:\n    play: { prompts: [hotline/greeting], next: bye }\n  bye:\n    \
                hangup: { prompt: hotline/goodbye }\n";
    std::fs::write(flows.path().join("hotline.yaml"), flow).unwrap();
    let server = Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        ..ServerOptions::default()
    });
    let admin = add_token(&server, "admin", "admin");
    call_pressing_427(&server);

    let events = server.last_call_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("digit"))
            .collect::<Vec<_>>(),
        ["digit • sip_info", "digit • sip_info", "digit • sip_info"],
        "{events:?}"
    );
    let listed = server.cli(&["calls", "list", "--json"]);
    let record: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    // The flow had the digits: it took the branch for the right PIN.
    let path = record[0]["path"].as_str().unwrap_or_default();
    assert!(path.starts_with("pin [••••] check right"), "{record}");
    // Ids are random hex and times have milliseconds: either may hold "427" by chance.
    assert!(
        !without_ids_and_times(&record).to_string().contains("427"),
        "{record}"
    );

    let calls = get(&server, "/calls", Some(&admin)).json();
    let keys: Vec<&str> = calls[0]["digits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["digit"].as_str())
        .collect();
    assert_eq!(keys, ["•", "•", "•"], "even an admin does not see a PIN");
    let log = server.log();
    assert!(
        !log.contains("digit=4") && !log.contains("digit=7"),
        "{log}"
    );
}

/// The record with every id, timestamp and version hash taken out, leaving what a caller or the flow chose.
fn without_ids_and_times(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter(|(key, _)| {
                !(key.ends_with("id")
                    || key.ends_with("_at")
                    || *key == "at"
                    || *key == "flow_version")
            })
            .map(|(key, value)| (key.clone(), without_ids_and_times(value)))
            .collect(),
        serde_json::Value::Array(items) => items.iter().map(without_ids_and_times).collect(),
        other => other.clone(),
    }
}
