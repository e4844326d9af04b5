//! Three `hotline serve` nodes on one PostgreSQL behind Kamailio (Debian's,
//! with the configuration in contrib/kamailio/): calls spread over the nodes,
//! one node runs the ACD and Kamailio finds it by OPTIONS, and when that
//! node is killed another takes over and new calls keep succeeding.
//!
//! Skips with a message when Kamailio or PostgreSQL is not installed (the
//! test script installs both).

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::peers::{sipp, wait_for};
use support::{Server, ServerOptions, databases, free_udp_tcp_port, repo_path};

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

fn node(name: &str, db: &str, proxy: SocketAddr) -> Server {
    Server::start_with(ServerOptions {
        db: Some(db.to_owned()),
        config: format!("[cluster]\nnode_id = \"{name}\"\nproxy = \"{proxy}\"\n"),
        ..ServerOptions::default()
    })
}

fn load(through: SocketAddr, calls: usize) -> support::peers::SippRun {
    let calls = calls.to_string();
    sipp(
        "cluster_caller.xml",
        through,
        &["-m", &calls, "-r", "10", "-l", "20"],
    )
}

#[test]
fn calls_spread_over_three_nodes_and_the_acd_moves_when_its_node_is_killed() {
    if let Some(reason) = missing_peer() {
        eprintln!("skipping the cluster test: {reason}");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let database = runtime.block_on(databases::postgres());
    let proxy = free_udp_tcp_port();
    // The first node migrates the schema before the others start.
    let first = node("node-1", &database.url, proxy);
    let mut nodes = vec![
        first,
        node("node-2", &database.url, proxy),
        node("node-3", &database.url, proxy),
    ];
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.sip).collect();
    let mut kamailio = Kamailio::start(proxy, &addrs);

    // Exactly one node runs the ACD, and Kamailio reaches it as sip:acd@proxy.
    let all: Vec<&Server> = nodes.iter().collect();
    assert!(
        wait_for(Duration::from_secs(15), || acd_nodes(&all).len() == 1),
        "ACD nodes: {:?}",
        acd_nodes(&all)
    );
    let acd = acd_nodes(&all)[0];
    for node in &nodes {
        assert_eq!(options_status(node.sip, "hotline"), Some(200));
    }
    assert!(
        wait_for(Duration::from_secs(10), || options_status(proxy, "acd")
            == Some(200)),
        "Kamailio did not find the ACD; its log:\n{}",
        kamailio.log()
    );

    // Load through Kamailio is shared by all three nodes.
    let run = load(proxy, 30);
    assert!(run.success, "{}", run.output);
    let per_node: Vec<f64> = nodes.iter().map(calls_finished).collect();
    println!("calls per node: {per_node:?}");
    assert_eq!(per_node.iter().sum::<f64>(), 30.0, "{per_node:?}");
    assert!(per_node.iter().all(|&n| n > 0.0), "{per_node:?}");

    // kill -9 of the ACD's node: another takes over.
    let index = nodes.iter().position(|n| n.sip == acd).expect("ACD node");
    let killed_at = Instant::now();
    nodes[index].stop();
    let mut dead = nodes.remove(index);
    let alive: Vec<&Server> = nodes.iter().collect();
    let took_over = wait_for(Duration::from_secs(5), || acd_nodes(&alive).len() == 1);
    let takeover = killed_at.elapsed();
    println!("ACD takeover after kill -9: {takeover:?}");
    assert!(took_over, "no node took over the ACD within 5 s");
    let leader = runtime
        .block_on(async {
            let db = hotline::crm::Db::open(&database.url).await?;
            db.cluster_leader().await
        })
        .expect("leader row");
    assert_eq!(leader.epoch, 2, "one takeover after the first election");
    assert!(
        wait_for(Duration::from_secs(10), || options_status(proxy, "acd")
            == Some(200)),
        "Kamailio did not find the new ACD"
    );

    // After the probe window, new calls all succeed on the two nodes left.
    std::thread::sleep(Duration::from_secs(3));
    let before: f64 = nodes.iter().map(calls_finished).sum();
    let run = load(proxy, 20);
    assert!(run.success, "{}", run.output);
    let after: f64 = nodes.iter().map(calls_finished).sum();
    assert_eq!(after - before, 20.0);
    kamailio.check_running();
    dead.stop();
}
