//! The database goes away during the day: a caller whose lookup the flow
//! bounds to 3 s takes the flow's fallback after those 3 s, hears the
//! message and reaches the queue, although nothing in the database answers;
//! and an agent's phone renews its registration all the same.

mod support;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::audio::{best_match, prompt_sequence, read_wav};
use support::databases;
use support::peers::pjsua_register;
use support::phone::{dial, hang_up, silence};
use support::{Server, ServerOptions, repo_path};

/// A TCP relay to PostgreSQL that can be pulled out: after `cut`, every
/// relayed connection is closed and new ones are refused.
struct Relay {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (stop, kept) = (Arc::clone(&cut), Arc::clone(&streams));
        std::thread::spawn(move || {
            // Dropping the listener when cut makes new connections refused.
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let server = TcpStream::connect(&target).unwrap();
                let mut kept = kept.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Relay { addr, cut, streams }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || std::io::copy(&mut from, &mut to));
}

/// Collects when the admin API's event stream first reports each queue event.
fn watch_queue(server: &Server) -> Arc<Mutex<Vec<(Instant, String)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    server.follow_queue_events(move |event| {
        let name = event["event"].as_str().unwrap_or_default().to_owned();
        sink.lock().unwrap().push((Instant::now(), name));
    });
    seen
}

/// A flow that looks the caller's services up as soon as it answers, within 3 s.
const FLOW: &str = "id: hotline
default_language: en
languages: [en]
start: services
nodes:
  services:
    lookup: { name: services, params: { phone: caller }, timeout: 3, next: bye, on_error: crm_down }
  bye:
    hangup: {}
  crm_down:
    play: { prompts: [hotline/crm_down], next: to_agent }
  to_agent:
    queue: { name: support, priority: 0 }
";

/// A server on PostgreSQL reached through a relay the test can pull out.
fn server_behind_relay(relay: &Relay, url: &str, options: ServerOptions) -> Server {
    let (credentials, rest) = url.split_once('@').unwrap();
    let (_, name) = rest.split_once('/').unwrap();
    Server::start_with(ServerOptions {
        db: Some(format!("{credentials}@{}/{name}", relay.addr)),
        ..options
    })
}

/// The PostgreSQL address of a test database URL.
fn host_of(url: &str) -> String {
    let rest = url.split_once('@').unwrap().1;
    rest.split_once('/').unwrap().0.to_owned()
}

#[test]
fn an_agent_phone_renews_its_registration_with_the_database_gone() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(databases::postgres());
    let relay = Relay::start(host_of(&database.url));
    let server = server_behind_relay(
        &relay,
        &database.url,
        ServerOptions {
            config: "[registrar]\ncredentials_cache_seconds = 1\n".into(),
            ..ServerOptions::default()
        },
    );
    let added = server.cli(&[
        "agents",
        "add",
        "alice",
        "--name",
        "Alice Moroz",
        "--password",
        "secret",
    ]);
    assert!(added.status.success(), "{added:?}");
    let registrar = format!("sip:{}", server.sip);
    let (ok, _, output) = pjsua_register(&registrar, "alice", "secret", &[]);
    assert!(ok, "pjsua2 did not register:\n{output}\n{}", server.log());

    relay.cut();
    std::thread::sleep(Duration::from_secs(2)); // past the credentials cache
    let (ok, events, output) = pjsua_register(&registrar, "alice", "secret", &[]);
    assert!(
        ok,
        "the renewal was refused with the database gone:\n{output}\n{}",
        server.log()
    );
    assert_eq!(events.last().unwrap()["code"], 200, "{output}");
    let (ok, _, output) = pjsua_register(&registrar, "alice", "guess", &[]);
    assert!(
        !ok,
        "a wrong password was taken during the outage:\n{output}"
    );
}

#[test]
fn with_the_database_gone_a_3_s_lookup_falls_back_in_3_s_and_the_caller_reaches_the_queue() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(databases::postgres());
    let (credentials, rest) = database.url.split_once('@').unwrap();
    let (target, name) = rest.split_once('/').unwrap();
    let relay = Relay::start(target.to_owned());
    let flows = tempfile::tempdir().unwrap();
    std::fs::write(flows.path().join("hotline.yaml"), FLOW).unwrap();
    let server = Server::start_with(ServerOptions {
        config:
            "[[queues]]\nname = \"support\"\nstrategy = \"longest_idle\"\nskills = [\"support\"]\n"
                .into(),
        flows: Some(flows.path().to_owned()),
        db: Some(format!("{credentials}@{}/{name}", relay.addr)),
        ..ServerOptions::default()
    });
    let queue = watch_queue(&server);
    relay.cut();

    let mic = silence(server.dir.path(), 30);
    let mut phone = dial(&server, "+380441234567", &mic);
    let answered = Instant::now();
    let deadline = answered + Duration::from_secs(15);
    while queue.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // No agent is logged in, so the queue answers the joiner with
    // `limit_reached` (no_agents) rather than `caller_joined`: either way
    // the caller reached the queue.
    let (reached_queue, event) = queue
        .lock()
        .unwrap()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("the caller never reached the queue:\n{}", server.log()));
    assert!(
        ["caller_joined", "limit_reached"].contains(&event.as_str()),
        "{event}"
    );
    let prompt = read_wav(&repo_path("audio/en/hotline/crm_down.wav")).0;
    let prompt_length = Duration::from_secs_f64(prompt.len() as f64 / 8000.0);
    let fallback = reached_queue - answered - prompt_length;
    assert!(
        fallback >= Duration::from_millis(2500) && fallback <= Duration::from_millis(4500),
        "the lookup fell back after {fallback:?}, not the flow's 3 s"
    );
    std::thread::sleep(Duration::from_secs(1));
    hang_up(&mut phone);
    let heard = read_wav(&phone.recording().expect("a recording")).0;
    let score = best_match(&prompt_sequence("en", &["hotline/crm_down"]), &heard);
    assert!(
        score >= 0.95,
        "the crm_down message was not heard: {score:.4}"
    );
}
