//! Shared helpers for end-to-end tests: a real `hotline` server on free
//! loopback ports, and the real SIP peers that call it.
#![allow(dead_code)]

pub mod audio;
pub mod browser;
pub mod databases;
pub mod http;
pub mod metrics;
pub mod peers;
pub mod phone;
pub mod receiver;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `hotline serve` process, killed when dropped.
pub struct Server {
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub dir: tempfile::TempDir,
    child: Child,
    log: PathBuf,
    config: PathBuf,
    db: String,
}

/// Options for starting a server; defaults serve the demo flow on SQLite.
#[derive(Default)]
pub struct ServerOptions {
    /// Extra TOML appended to the generated configuration file.
    pub config: String,
    /// Extra keys for its `[media]` table (which the harness writes).
    pub media: String,
    /// A flows directory other than the repository's `ivr-flows/`.
    pub flows: Option<PathBuf>,
    /// A database URL other than a fresh SQLite file.
    pub db: Option<String>,
    /// Where the admin API listens instead of a free loopback port.
    pub http: Option<SocketAddr>,
}

impl Server {
    /// Starts the demo server and waits until it reports it is ready.
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    /// Starts a server with options and waits until it is ready.
    pub fn start_with(options: ServerOptions) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let sip = free_udp_tcp_port();
        let http = options.http.unwrap_or_else(free_tcp_port);
        let (rtp_min, rtp_max) = free_rtp_range();
        let config_path = dir.path().join("hotline.toml");
        let config = format!(
            "[media]\nbind_address = \"127.0.0.1\"\nport_min = {rtp_min}\nport_max = {rtp_max}\n{}\n{}",
            options.media, options.config
        );
        std::fs::write(&config_path, config).expect("write config");
        let db = options
            .db
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("hotline.db").display()));
        let flows = options.flows.unwrap_or_else(|| repo_path("ivr-flows"));
        let log = dir.path().join("hotline.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--sip")
            .arg(sip.to_string())
            .arg("--http")
            .arg(http.to_string())
            .arg("--db")
            .arg(&db)
            .arg("--flows")
            .arg(&flows)
            .arg("--audio")
            .arg(repo_path("audio"))
            .env("HOTLINE_LOG", "hotline=debug,info")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start hotline");
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ready") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let mut server = Server {
            sip,
            http,
            dir,
            child,
            log,
            config: config_path,
            db,
        };
        if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let log = server.log();
            server.stop();
            panic!("hotline did not become ready; its log:\n{log}");
        }
        server
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's database URL.
    pub fn db_url(&self) -> String {
        self.db.clone()
    }

    /// `hotline agents add LOGIN --password PASSWORD --skill SKILL=1`, named as the login.
    pub fn add_agent(&self, login: &str, password: &str, skill: &str) {
        let skill = format!("{skill}=1");
        let args = [
            "agents",
            "add",
            login,
            "--name",
            login,
            "--password",
            password,
        ];
        let added = self.cli(&[&args[..], &["--skill", &skill]].concat());
        assert!(added.status.success(), "{added:?}");
    }

    /// Runs a command such as `agents add …` with this server's configuration
    /// and database; its output.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let (group, rest) = args.split_first().expect("a command");
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg(group)
            .arg("--config")
            .arg(&self.config)
            .arg("--db")
            .arg(&self.db)
            .args(rest)
            .stdin(Stdio::null())
            .output()
            .expect("run hotline")
    }

    /// Kills the process (by PID) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the `hotline` command with `args`; returns whether it succeeded and its output.
pub fn hotline(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(args)
        .env("HOTLINE_LOG", "warn")
        .output()
        .expect("run hotline");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// The demo flow, with the operator key always reaching the queue (the demo
/// sends it to a callback outside business hours).
pub fn flows_always_open() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = std::fs::read_to_string(repo_path("ivr-flows/hotline.yaml")).expect("demo flow");
    let open = demo.replacen(
        "branch: { when: { open: support }, then: to_agent, else: after_hours }",
        "goto: to_agent",
        1,
    );
    assert_ne!(open, demo);
    std::fs::write(dir.path().join("hotline.yaml"), open).expect("write flow");
    dir
}

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub fn free_udp_tcp_port() -> SocketAddr {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let addr = udp.local_addr().expect("addr");
        if TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_tcp_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    listener.local_addr().expect("addr")
}

/// A range of 200 UDP ports (100 RTP/RTCP pairs), chosen per process and per use so
/// parallel tests, their servers and their phones do not collide.
pub fn free_rtp_range() -> (u16, u16) {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, Ordering::Relaxed);
    // A hundred RTP ports (fifty calls at once, as e2e_tickets makes) with
    // room to spare: a port another process holds is skipped, not fatal.
    let base = 20000 + (std::process::id() as u16 % 50) * 800 + (slot % 4) * 200;
    (base, base + 198)
}

impl Server {
    /// GET a JSON document from the admin API.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.http).expect("admin API");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: hotline\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("bad JSON from {path}: {e}: {body}"))
    }

    /// Follows the admin API's queue event stream in the background, handing
    /// each event to `seen` as it arrives.
    pub fn follow_queue_events(&self, mut seen: impl FnMut(serde_json::Value) + Send + 'static) {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(self.http).expect("admin API");
        write!(
            stream,
            "GET /queue/events HTTP/1.1\r\nHost: hotline\r\n\r\n"
        )
        .expect("request");
        std::thread::spawn(move || {
            // Named events (the once-a-second `snapshot`, a `gap`) are not
            // queue events: only unnamed ones are passed on.
            let mut named = false;
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.is_empty() {
                    named = false;
                } else if line.starts_with("event:") {
                    named = true;
                } else if let Some(data) = line.strip_prefix("data: ")
                    && !named
                    && let Ok(json) = serde_json::from_str(data)
                {
                    seen(json);
                }
            }
        });
    }

    /// The events of the newest ended call, as "kind detail", once its record
    /// is written (waits up to 5 s for it).
    pub fn last_call_events(&self) -> Vec<String> {
        let mut listed = serde_json::Value::Null;
        peers::wait_for(Duration::from_secs(5), || {
            let output = self.cli(&["calls", "list", "--json"]);
            listed = serde_json::from_slice(&output.stdout).unwrap_or_default();
            listed[0]["outcome"].is_string()
        });
        listed[0]["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["kind"].as_str().unwrap_or_default(),
                            e["detail"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The keys the admin API recorded for the calls so far, per call, in order.
    pub fn digits(&self) -> Vec<(String, String)> {
        let calls = self.get_json("/calls");
        calls
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|call| {
                        let digits = call["digits"].as_array().cloned().unwrap_or_default();
                        let keys: String =
                            digits.iter().filter_map(|d| d["digit"].as_str()).collect();
                        let sources: Vec<&str> =
                            digits.iter().filter_map(|d| d["source"].as_str()).collect();
                        (keys, sources.join(","))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
