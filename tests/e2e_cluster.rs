//! Three `hotline serve` nodes on one PostgreSQL behind Kamailio (Debian's,
//! with the configuration in contrib/kamailio/): calls spread over the nodes,
//! one node runs the ACD and Kamailio finds it by OPTIONS, and when that
//! node is killed another takes over and new calls keep succeeding; an
//! agent registered through Kamailio answers callers handed over from the
//! other nodes, and every node's event stream shows them.
//!
//! Skips with a message when Kamailio or PostgreSQL is not installed (the
//! test script installs both).

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use support::audio::{best_match, read_wav, strongest_in_last_seconds, tone_wav};
use support::browser::BrowserScript;
use support::peers::{Baresip, sipp, wait_for};
use support::phone::{dial, hang_up, press, speaking};
use support::receiver::{Behaviour, Receiver};
use support::{
    Server, ServerOptions, databases, flows_always_open, free_rtp_range, free_udp_tcp_port,
    repo_path,
};

const OLENA: &str = "+380441234567";
const TARAS: &str = "+380671112233";

/// Kamailio on a free loopback port, in front of `nodes`; stopped when dropped.
struct Kamailio {
    child: Child,
    dir: tempfile::TempDir,
}

impl Kamailio {
    fn start(addr: SocketAddr, nodes: &[SocketAddr]) -> Kamailio {
        let dir = tempfile::tempdir().expect("temp dir");
        let list = dir.path().join("hotline.list");
        let mut text = String::new();
        for node in nodes {
            text.push_str(&format!("1 sip:{node}\n"));
        }
        for node in nodes {
            text.push_str(&format!("2 sip:acd@{node}\n"));
        }
        std::fs::write(&list, text).expect("dispatcher list");
        let log = std::fs::File::create(dir.path().join("kamailio.log")).expect("log");
        let child = Command::new("kamailio")
            .args(["-DD", "-E", "-f"])
            .arg(repo_path("contrib/kamailio/kamailio.cfg"))
            .arg("-A")
            .arg(format!("LISTEN=udp:{addr}"))
            .arg("-A")
            .arg(format!("DISPATCHER_LIST=\"{}\"", list.display()))
            .args(["-A", "PROBE_SECONDS=1"])
            .args(["-Y", &dir.path().display().to_string()])
            .args(["-P", &dir.path().join("kamailio.pid").display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kamailio");
        let mut kamailio = Kamailio { child, dir };
        let up = wait_for(Duration::from_secs(10), || {
            options_status(addr, "ping") == Some(200)
        });
        assert!(
            up,
            "Kamailio did not answer OPTIONS; its log:\n{}",
            kamailio.log()
        );
        kamailio.check_running();
        kamailio
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    fn check_running(&mut self) {
        assert!(
            matches!(self.child.try_wait(), Ok(None)),
            "Kamailio exited; its log:\n{}",
            self.log()
        );
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM, so the main process stops its workers too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if !wait_for(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Why the cluster cannot be tested here, if it cannot.
fn missing_peer() -> Option<String> {
    let kamailio = Command::new("kamailio")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(kamailio, Ok(status) if status.success()) {
        return Some("kamailio is not installed (apt-get install kamailio)".into());
    }
    let pg = std::env::var("HOTLINE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let host = pg
        .split_once('@')
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let reachable = host.parse::<SocketAddr>().is_ok_and(|addr| {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
    });
    (!reachable).then(|| format!("PostgreSQL is not reachable at {host}"))
}

/// The status of an OPTIONS to `sip:USER@to`, sent from a fresh socket.
fn options_status(to: SocketAddr, user: &str) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .ok()?;
    let local = socket.local_addr().ok()?;
    let id: u64 = rand::random();
    let request = format!(
        "OPTIONS sip:{user}@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{id:x};rport\r\n\
         From: <sip:probe@{local}>;tag={id:x}\r\nTo: <sip:{user}@{to}>\r\nCall-ID: {id:x}@probe\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    socket.send_to(request.as_bytes(), to).ok()?;
    let mut buffer = [0u8; 4096];
    loop {
        let (len, _) = socket.recv_from(&mut buffer).ok()?;
        let text = String::from_utf8_lossy(&buffer[..len]);
        let status: u16 = text.split_whitespace().nth(1)?.parse().ok()?;
        if status >= 200 {
            return Some(status);
        }
    }
}

/// The nodes that answer 200 to OPTIONS for the ACD.
fn acd_nodes(nodes: &[&Server]) -> Vec<SocketAddr> {
    nodes
        .iter()
        .filter(|node| options_status(node.sip, "acd") == Some(200))
        .map(|node| node.sip)
        .collect()
}

/// Calls a node has finished, by its own metrics.
fn calls_finished(node: &Server) -> f64 {
    let text = support::http::get(node.http, "/metrics", None).body;
    text.lines()
        .filter(|line| line.starts_with("hotline_calls_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Three nodes on a fresh PostgreSQL database behind Kamailio.
struct Cluster {
    nodes: Vec<Server>,
    kamailio: Kamailio,
    proxy: SocketAddr,
    database: databases::TestDatabase,
    runtime: tokio::runtime::Runtime,
    _flows: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        Cluster::start_with(runtime, "")
    }

    /// Three nodes with `extra` appended to their configuration.
    fn start_with(runtime: tokio::runtime::Runtime, extra: &str) -> Cluster {
        Cluster::start_each(runtime, 1, &|| extra.to_owned())
    }

    /// Three nodes with agents' wrap-up `wrap_up_seconds` long, each with
    /// what `extra` gives it appended to its configuration.
    fn start_each(
        runtime: tokio::runtime::Runtime,
        wrap_up_seconds: u32,
        extra: &dyn Fn() -> String,
    ) -> Cluster {
        let database = runtime.block_on(databases::postgres());
        let proxy = free_udp_tcp_port();
        let flows = flows_always_open();
        let node = |name: &str| {
            Server::start_with(ServerOptions {
                db: Some(database.url.clone()),
                flows: Some(flows.path().to_owned()),
                config: format!(
                    "[registrar]\nalgorithms = [\"MD5\"]\n\n\
                     [queue]\nwrap_up_seconds = {wrap_up_seconds}\n\n\
                     [cluster]\nnode_id = \"{name}\"\nproxy = \"{proxy}\"\n\n{}",
                    extra()
                ),
                ..ServerOptions::default()
            })
        };
        // The first node migrates the schema before the others start.
        let first = node("node-1");
        let nodes = vec![first, node("node-2"), node("node-3")];
        let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.sip).collect();
        let kamailio = Kamailio::start(proxy, &addrs);
        Cluster {
            nodes,
            kamailio,
            proxy,
            database,
            runtime,
            _flows: flows,
        }
    }

    /// The one node that runs the ACD, once there is exactly one.
    fn acd(&self) -> usize {
        let all: Vec<&Server> = self.nodes.iter().collect();
        assert!(
            wait_for(Duration::from_secs(15), || acd_nodes(&all).len() == 1),
            "ACD nodes: {:?}",
            acd_nodes(&all)
        );
        let acd = acd_nodes(&all)[0];
        self.nodes
            .iter()
            .position(|n| n.sip == acd)
            .expect("ACD node")
    }

    /// `kill -9` of node `index`; how long until another runs the ACD.
    fn kill_acd(&mut self, index: usize) -> Duration {
        let killed_at = Instant::now();
        self.nodes[index].stop();
        let dead = self.nodes.remove(index);
        let alive: Vec<&Server> = self.nodes.iter().collect();
        let took_over = wait_for(Duration::from_secs(5), || acd_nodes(&alive).len() == 1);
        let takeover = killed_at.elapsed();
        println!("ACD takeover after kill -9: {takeover:?}");
        assert!(
            took_over,
            "no node took over the ACD within 5 s:\n{}",
            dead.log()
        );
        takeover
    }

    fn leader(&self) -> hotline::crm::cluster::Leader {
        self.runtime
            .block_on(async {
                let db = hotline::crm::Db::open(&self.database.url).await?;
                db.cluster_leader().await
            })
            .expect("leader row")
    }
}

/// Kamailio's UDP workers may pass a node's 180 on after its 200 (the two
/// leave the node a moment apart and are relayed by different processes); a
/// phone ignores a provisional response after the final one (RFC 3261
/// §17.1.1.2), but SIPp aborts the call on it unless told otherwise.
const LATE_PROVISIONALS: [&str; 2] = ["-default_behaviors", "all,-abortunexp"];

fn load(through: SocketAddr, calls: usize) -> support::peers::SippRun {
    let calls = calls.to_string();
    let mut args = vec!["-m", &calls, "-r", "10", "-l", "20"];
    args.extend(LATE_PROVISIONALS);
    sipp("cluster_caller.xml", through, &args)
}

#[test]
fn calls_spread_over_three_nodes_and_the_acd_moves_when_its_node_is_killed() {
    if let Some(reason) = missing_peer() {
        eprintln!("skipping the cluster test: {reason}");
        return;
    }
    let mut cluster = Cluster::start();
    let proxy = cluster.proxy;

    // Exactly one node runs the ACD, and Kamailio reaches it as sip:acd@proxy.
    let acd = cluster.acd();
    for node in &cluster.nodes {
        assert_eq!(options_status(node.sip, "hotline"), Some(200));
    }
    assert!(
        wait_for(Duration::from_secs(10), || options_status(proxy, "acd")
            == Some(200)),
        "Kamailio did not find the ACD; its log:\n{}",
        cluster.kamailio.log()
    );

    // Load through Kamailio is shared by all three nodes.
    let run = load(proxy, 30);
    assert!(run.success, "{}", run.output);
    let per_node: Vec<f64> = cluster.nodes.iter().map(calls_finished).collect();
    println!("calls per node: {per_node:?}");
    assert_eq!(per_node.iter().sum::<f64>(), 30.0, "{per_node:?}");
    assert!(per_node.iter().all(|&n| n > 0.0), "{per_node:?}");

    // Any node's call list says which node took each call, as the nodes counted them.
    let csv = support::http::get(
        cluster.nodes[0].http,
        "/console/calls.csv?from=2000-01-01",
        None,
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    let mut lines = csv.body.lines();
    assert!(
        lines.next().unwrap_or_default().ends_with(",node"),
        "{}",
        csv.body
    );
    let listed: Vec<String> = lines
        .map(|line| line.rsplit(',').next().unwrap_or_default().to_owned())
        .collect();
    for (index, counted) in per_node.iter().enumerate() {
        let name = format!("node-{}", index + 1);
        let rows = listed.iter().filter(|node| **node == name).count();
        assert_eq!(
            rows as f64, *counted,
            "{name} in the call list:\n{}",
            csv.body
        );
    }

    // kill -9 of the ACD's node: another takes over, with the next epoch.
    cluster.kill_acd(acd);
    assert_eq!(
        cluster.leader().epoch,
        2,
        "one takeover after the first election"
    );
    assert!(
        wait_for(Duration::from_secs(10), || options_status(proxy, "acd")
            == Some(200)),
        "Kamailio did not find the new ACD"
    );

    // After the probe window, new calls all succeed on the two nodes left.
    std::thread::sleep(Duration::from_secs(3));
    let before: f64 = cluster.nodes.iter().map(calls_finished).sum();
    let run = load(proxy, 20);
    assert!(run.success, "{}", run.output);
    let after: f64 = cluster.nodes.iter().map(calls_finished).sum();
    assert_eq!(after - before, 20.0);
    cluster.kamailio.check_running();
}

/// An agent's softphone registered through Kamailio (so with the ACD's node).
fn agent_phone(proxy: SocketAddr, mic: &std::path::Path) -> Baresip {
    let mut phone = Baresip::start(mic, "<sip:idle@127.0.0.1>;regint=0");
    let account = format!("<sip:alice@{proxy}>;auth_pass=secret-a;regint=60;answermode=auto");
    phone.command("uanew", &account);
    let registered = phone.wait_event("REGISTER_OK", Duration::from_secs(10));
    assert!(
        registered.is_some(),
        "alice did not register:\n{}",
        phone.history()
    );
    phone
}

/// A call to `node` (not the ACD's) that presses 0 for an agent, whom
/// `agent` answers; how long the agent took to answer after the key.
fn caller_reaches_agent(node: &Server, mic: &std::path::Path, agent: &mut Baresip) -> Baresip {
    let mut caller = dial(node, OLENA, mic);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    let answered = agent.wait_event("CALL_ESTABLISHED", Duration::from_secs(20));
    assert!(
        answered.is_some(),
        "the agent never answered:\n{}\n{}",
        agent.history(),
        node.log()
    );
    caller
}

#[test]
fn an_agent_registered_through_kamailio_answers_callers_handed_over_from_other_nodes() {
    if let Some(reason) = missing_peer() {
        eprintln!("skipping the cluster test: {reason}");
        return;
    }
    // Hand-overs signed with the nodes' shared secret.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let secret = "hand_over_secret = \"a secret the three nodes share\"\n";
    let mut cluster = Cluster::start_with(runtime, secret);
    let acd = cluster.acd();
    cluster.nodes[0].add_agent("alice", "secret-a", "support");
    let dir = tempfile::tempdir().expect("temp dir");
    let alice_mic = speaking(
        dir.path(),
        "alice.wav",
        "audio/en/hotline/goodbye.wav",
        120,
        2500,
    );
    let mut alice = agent_phone(cluster.proxy, &alice_mic);
    // Her binding is kept with Kamailio's Path, so whichever node runs the
    // ACD rings her through Kamailio (RFC 3327).
    let stored_path = || -> Option<String> {
        cluster.runtime.block_on(async {
            let mut connection = sqlx::PgConnection::connect(&cluster.database.url)
                .await
                .ok()?;
            sqlx::query_scalar("SELECT path FROM agent_registrations")
                .fetch_optional(&mut connection)
                .await
                .ok()
                .flatten()
                .flatten()
        })
    };
    let proxy = cluster.proxy.to_string();
    assert!(
        wait_for(Duration::from_secs(5), || stored_path()
            .is_some_and(|path| path.contains(&proxy))),
        "alice's registration has no Path through {proxy}: {:?}",
        stored_path()
    );
    let caller_mic = speaking(
        dir.path(),
        "olena.wav",
        "audio/en/hotline/greeting.wav",
        60,
        2500,
    );

    // The call arrives on a node that does not run the ACD; the third node's
    // event stream (its wallboard) shows it.
    let ivr = (acd + 1) % cluster.nodes.len();
    let third = (acd + 2) % cluster.nodes.len();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    cluster.nodes[third].follow_queue_events(move |event| sink.lock().unwrap().push(event));
    let mut caller = caller_reaches_agent(&cluster.nodes[ivr], &caller_mic, &mut alice);
    let shown = |kind: &str| {
        let seen = seen.lock().unwrap();
        seen.iter()
            .any(|e| e["event"] == kind && (kind != "screen_pop" || e["caller"] == OLENA))
    };
    assert!(
        wait_for(Duration::from_secs(10), || shown("caller_joined")
            && shown("screen_pop")),
        "the third node's stream did not show the caller: {:?}",
        seen.lock().unwrap()
    );
    std::thread::sleep(Duration::from_secs(6));
    hang_up(&mut caller);
    assert!(
        alice
            .wait_event("CALL_CLOSED", Duration::from_secs(5))
            .is_some(),
        "alice's leg did not end:\n{}",
        alice.history()
    );
    let caller_heard = read_wav(&caller.recording().expect("caller's recording")).0;
    let alice_voice = read_wav(&repo_path("audio/en/hotline/goodbye.wav")).0;
    let score = best_match(&alice_voice, &caller_heard);
    assert!(
        score >= 0.8,
        "the caller did not hear the agent: {score:.3}"
    );
    let alice_heard = read_wav(&alice.recording().expect("alice's recording")).0;
    let caller_voice = read_wav(&repo_path("audio/en/hotline/greeting.wav")).0;
    let score = best_match(&caller_voice, &alice_heard);
    assert!(
        score >= 0.8,
        "the agent did not hear the caller: {score:.3}"
    );

    // Alice pauses from a node that does not run the ACD: the ACD pauses
    // her, and every node's wallboard shows it.
    let paused = support::http::request(
        cluster.nodes[ivr].http,
        "POST",
        "/agents/alice/state",
        None,
        r#"{"state": "pause", "reason": "coffee"}"#,
    );
    assert!(paused.status < 300, "{} {}", paused.status, paused.body);
    let alice_state = |node: &Server| {
        let queue = support::http::get(node.http, "/queue", None).json();
        queue["agents"]
            .as_array()
            .and_then(|agents| agents.iter().find(|a| a["id"] == "alice").cloned())
            .map(|alice| alice["state"].clone())
            .unwrap_or_default()
    };
    let coffee = serde_json::json!({"paused": {"reason": "coffee"}});
    assert_eq!(alice_state(&cluster.nodes[acd]), coffee);
    assert!(
        wait_for(Duration::from_secs(5), || alice_state(
            &cluster.nodes[third]
        ) == coffee),
        "the third node's wallboard does not show alice paused: {}",
        alice_state(&cluster.nodes[third])
    );
    let unknown = support::http::request(
        cluster.nodes[ivr].http,
        "POST",
        "/agents/nobody/state",
        None,
        r#"{"state": "pause"}"#,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // Taras waits while alice is paused, and the ACD's node dies under him.
    let joined = || {
        let seen = seen.lock().unwrap();
        seen.iter()
            .filter(|e| e["event"] == "caller_joined")
            .count()
    };
    let mut taras = dial(&cluster.nodes[ivr], TARAS, &caller_mic);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut taras, "0", Duration::from_millis(300));
    assert!(wait_for(Duration::from_secs(10), || joined() == 2));
    // The third node's wallboard shows him waiting, his call on another node.
    let waiting_on = |node: &Server| {
        let queue = support::http::get(node.http, "/queue", None).json();
        queue["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|q| q["waiting"].as_array().cloned().unwrap_or_default())
            .filter_map(|w| Some((w["number"].as_str()?.to_owned(), w["waited_ms"].as_u64()?)))
            .collect::<Vec<_>>()
    };
    assert!(
        wait_for(Duration::from_secs(5), || waiting_on(&cluster.nodes[third])
            .iter()
            .any(|(number, _)| number == TARAS)),
        "the third node's wallboard does not show Taras waiting: {:?}",
        waiting_on(&cluster.nodes[third])
    );
    std::thread::sleep(Duration::from_secs(3));
    let (_, waited) = waiting_on(&cluster.nodes[third])
        .into_iter()
        .find(|(number, _)| number == TARAS)
        .expect("Taras still waiting");
    assert!(waited >= 3_000, "his wait does not grow there: {waited} ms");
    cluster.kill_acd(acd);
    // The dead ACD's snapshot is not shown as if it still ran.
    assert!(
        wait_for(Duration::from_secs(10), || waiting_on(&cluster.nodes[0])
            .is_empty()),
        "a wallboard still shows the dead ACD's callers: {:?}",
        waiting_on(&cluster.nodes[0])
    );
    hang_up(&mut taras);

    // The next ACD rings alice where she registered (logged in again by her
    // registration), and Taras, calling again, has his place back: his wait
    // counts from his first call.
    let acd = cluster.acd();
    let ivr = (acd + 1) % cluster.nodes.len();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    cluster.nodes[ivr].follow_queue_events(move |event| sink.lock().unwrap().push(event));
    std::thread::sleep(Duration::from_secs(3));
    let mut taras = dial(&cluster.nodes[ivr], TARAS, &caller_mic);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut taras, "0", Duration::from_millis(300));
    let answered = alice.wait_event("CALL_ESTABLISHED", Duration::from_secs(20));
    assert!(
        answered.is_some(),
        "alice never answered:\n{}",
        alice.history()
    );
    let again = seen
        .lock()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "caller_joined")
        .cloned()
        .unwrap_or_default();
    let waited = again["waited_before_ms"].as_u64().unwrap_or(0);
    assert!(
        waited >= 8_000,
        "Taras's wait did not count from his first call: {again}"
    );
    hang_up(&mut taras);
}

/// The tone the caller's microphone plays, and the agent's page's.
const TONE_FROM_CALLER: f32 = 1000.0;
const TONE_FROM_PAGE: f32 = 600.0;

#[test]
fn a_browser_agent_on_one_node_answers_a_caller_queued_at_the_acd_on_another() {
    browser_agent_on_another_node("hang-up");
}

#[test]
fn closing_the_tab_of_a_browser_agent_on_another_node_ends_the_callers_call() {
    browser_agent_on_another_node("close");
}

/// A browser agent whose console is on one node answers a caller who
/// called a second node, queued at the ACD on a third; they hear each
/// other, a key reaches the caller, and the page ends the call `ending`
/// (`hang-up` with its button, or `close` of its tab).
fn browser_agent_on_another_node(ending: &str) {
    if let Some(reason) = missing_peer() {
        eprintln!("skipping the cluster test: {reason}");
        return;
    }
    let (cluster, acd) = cluster_with_browsers();
    // Alice's console and WebSocket are on one node, the caller's call on a
    // second, the ACD on the third.
    let edge = &cluster.nodes[(acd + 1) % cluster.nodes.len()];
    let ivr = &cluster.nodes[(acd + 2) % cluster.nodes.len()];
    let logs = || logs_of(&cluster, acd);
    let (base, wait) = (format!("http://{}", edge.http), Duration::from_secs(30));
    let dir = tempfile::tempdir().expect("temp dir");

    let page_mic = tone_wav(dir.path(), "page.wav", TONE_FROM_PAGE, 48000, 90);
    let mut page = BrowserScript::start(
        "agent_phone.mjs",
        &[&base, "alice", "secret-a", &page_mic, ending],
    );
    assert_eq!(page.next(wait), "registered");
    assert!(page.next(wait).starts_with("garbage: SIP/2.0 400"));

    let caller_mic = tone_wav(dir.path(), "caller.wav", TONE_FROM_CALLER, 8000, 90);
    let mut caller = dial(ivr, OLENA, Path::new(&caller_mic));
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    let ringing = page.next(Duration::from_secs(60));
    assert!(ringing.starts_with("ringing "), "{ringing}\n{}", logs());

    page.cue();
    assert_eq!(page.next(wait), "talking", "{}", logs());
    let frequency = page.next_heard(wait);
    assert!(
        (frequency - TONE_FROM_CALLER).abs() < 20.0,
        "the page heard {frequency} Hz\n{}",
        logs()
    );
    page.cue();
    assert_eq!(page.next(wait), "mute true, unmuted true");
    // A key pressed in the page reaches the caller on the third node.
    page.cue();
    assert_eq!(page.next(wait), "pressed 5");
    let key = caller.wait_event("CALL_DTMF_START", wait);
    let key = key.unwrap_or_else(|| panic!("no key reached the caller:\n{}", caller.history()));
    assert_eq!(key["param"], "5", "{key}");

    // The caller hears the page a while; the page hangs up (its BYE goes
    // back through its node), or its tab closes (its node drops its
    // binding, and the ACD ends its call without waiting for ICE consent
    // to fail, 30 s), and the caller's call ends.
    std::thread::sleep(Duration::from_secs(3));
    page.cue();
    let (said, within) = match ending {
        "hang-up" => ("hung up, wrap_up", wait),
        _ => ("closed", Duration::from_secs(15)),
    };
    assert_eq!(page.next(wait), said, "{}", logs());
    let ended = caller.wait_event("CALL_CLOSED", within);
    assert!(
        ended.is_some(),
        "the caller's call did not end within {within:?}:\n{}",
        logs()
    );
    let recording = caller
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", caller.history()));
    let heard_page = strongest_in_last_seconds(&read_wav(&recording).0, 3);
    eprintln!("the page heard {frequency} Hz; the caller heard {heard_page:?} Hz");
    assert!(
        heard_page.iter().any(|f| (f - TONE_FROM_PAGE).abs() < 20.0),
        "the caller did not hear the page's {TONE_FROM_PAGE} Hz: {heard_page:?}"
    );
    page.cue();
    assert!(page.finish(wait));
}

/// Three nodes with WebRTC for browsers and a queue that rings alice for a
/// minute, and which of them runs the ACD.
fn cluster_with_browsers() -> (Cluster, usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let webrtc = || {
        let (min, max) = free_rtp_range();
        format!(
            "[[queues]]\nname = \"support\"\nstrategy = \"longest_idle\"\n\
             skills = [\"support\"]\nring_timeout_seconds = 60\n\n[webrtc]\nenabled = true\n\
             bind_address = \"127.0.0.1\"\nport_min = {min}\nport_max = {max}\n"
        )
    };
    // A wrap-up long enough for the page to show it.
    let cluster = Cluster::start_each(runtime, 5, &webrtc);
    let acd = cluster.acd();
    cluster.nodes[0].add_agent("alice", "secret-a", "support");
    (cluster, acd)
}

/// The logs of the ACD's node and the two after it (the browser's, the caller's).
fn logs_of(cluster: &Cluster, acd: usize) -> String {
    let names = ["ACD", "browser's node", "caller's node"];
    let count = cluster.nodes.len();
    let logs = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name}:\n{}", cluster.nodes[(acd + i) % count].log()));
    logs.collect::<Vec<_>>().join("\n")
}

#[test]
fn a_browser_agent_on_another_node_holds_the_caller_hears_music_then_the_agent_again() {
    if let Some(reason) = missing_peer() {
        eprintln!("skipping the cluster test: {reason}");
        return;
    }
    let (cluster, acd) = cluster_with_browsers();
    let edge = &cluster.nodes[(acd + 1) % cluster.nodes.len()];
    let ivr = &cluster.nodes[(acd + 2) % cluster.nodes.len()];
    let logs = || logs_of(&cluster, acd);
    let (base, wait) = (format!("http://{}", edge.http), Duration::from_secs(30));
    let dir = tempfile::tempdir().expect("temp dir");
    let page_mic = tone_wav(dir.path(), "page.wav", TONE_FROM_PAGE, 48000, 90);
    let mut page = BrowserScript::start("agent_hold.mjs", &[&base, "alice", "secret-a", &page_mic]);
    assert_eq!(page.next(wait), "registered");

    let quiet = support::phone::silence(dir.path(), 90);
    let mut caller = dial(ivr, OLENA, &quiet);
    std::thread::sleep(Duration::from_millis(2500));
    press(&mut caller, "0", Duration::from_millis(300));
    page.cue();
    assert_eq!(page.next(Duration::from_secs(60)), "talking", "{}", logs());
    // Hold and resume are re-INVITEs from the browser, through its node to
    // the ACD's, whose answers come back the same way.
    std::thread::sleep(Duration::from_secs(4));
    page.cue();
    assert_eq!(page.next(wait), "held true", "{}", logs());
    std::thread::sleep(Duration::from_secs(6));
    page.cue();
    assert_eq!(page.next(wait), "resumed false", "{}", logs());
    std::thread::sleep(Duration::from_secs(4));
    page.cue();
    assert_eq!(page.next(wait), "hung up");
    let ended = caller.wait_event("CALL_CLOSED", wait);
    assert!(
        ended.is_some(),
        "the caller's call did not end:\n{}",
        logs()
    );
    let recording = caller
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", caller.history()));
    support::audio::assert_hold_heard(&read_wav(&recording).0, TONE_FROM_PAGE, 4);
    page.cue();
    assert!(page.finish(wait));
}

/// Each ticket's deliveries, by its idempotency key, for the tickets in the database.
fn deliveries_per_ticket(
    cluster: &Cluster,
    receiver: &Receiver,
) -> std::collections::BTreeMap<String, usize> {
    let keys: Vec<String> = cluster.runtime.block_on(async {
        let mut connection = sqlx::PgConnection::connect(&cluster.database.url)
            .await
            .expect("database");
        sqlx::query_scalar("SELECT idempotency_key FROM tickets")
            .fetch_all(&mut connection)
            .await
            .expect("tickets")
    });
    let seen = receiver.deliveries();
    keys.into_iter()
        .map(|key| {
            let count = seen.iter().filter(|d| d.idempotency_key == key).count();
            (key, count)
        })
        .collect()
}

#[test]
fn killing_a_node_mid_load_loses_no_ticket_and_new_calls_avoid_it() {
    if let Some(reason) = missing_peer() {
        eprintln!("skipping the cluster test: {reason}");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = runtime.block_on(Receiver::start(Behaviour::default()));
    let webhook = format!(
        "[tickets.webhook]\nurl = \"{}\"\nsecret = \"s\"\n",
        receiver.url
    );
    let mut cluster = Cluster::start_with(runtime, &webhook);
    let acd = cluster.acd();
    let proxy = cluster.proxy;

    // Callers report line faults through Kamailio; a node that does not run
    // the ACD is killed while they do.
    let load = std::thread::spawn(move || {
        sipp(
            "cluster_ticket.xml",
            proxy,
            &[
                &["-set", "caller", OLENA, "-m", "30", "-r", "5", "-l", "30"][..],
                &LATE_PROVISIONALS,
            ]
            .concat(),
        )
    });
    std::thread::sleep(Duration::from_secs(3));
    let victim = (acd + 1) % cluster.nodes.len();
    cluster.nodes[victim].stop();
    let during = load.join().expect("sipp");
    println!(
        "calls during the kill: {}",
        during
            .output
            .lines()
            .find(|l| l.contains("Failed call"))
            .unwrap_or_default()
    );

    // After the probe window every new call succeeds.
    std::thread::sleep(Duration::from_secs(3));
    let after = sipp(
        "cluster_ticket.xml",
        proxy,
        &[
            &["-set", "caller", OLENA, "-m", "15", "-r", "5", "-l", "15"][..],
            &LATE_PROVISIONALS,
        ]
        .concat(),
    );
    assert!(
        after.success,
        "calls after the probe window failed:\n{}",
        after.output
    );

    // Every ticket in the database reaches the CRM once, those of the dead
    // node too (another node's worker takes them when their lease ends).
    let once = wait_for(Duration::from_secs(40), || {
        deliveries_per_ticket(&cluster, &receiver)
            .values()
            .all(|&n| n >= 1)
    });
    let per_ticket = deliveries_per_ticket(&cluster, &receiver);
    println!(
        "tickets: {}, deliveries: {}",
        per_ticket.len(),
        receiver.deliveries().len()
    );
    assert!(once, "tickets not delivered: {per_ticket:?}");
    assert!(per_ticket.len() >= 15, "{per_ticket:?}");
    assert!(
        per_ticket.values().all(|&n| n == 1),
        "a ticket was delivered twice: {per_ticket:?}"
    );
}
