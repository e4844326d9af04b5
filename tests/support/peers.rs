//! Driving the third-party SIP peers: SIPp, baresip, pjsua2, linphone.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::{free_udp_tcp_port, repo_path};

/// The result of one SIPp run.
pub struct SippRun {
    pub success: bool,
    pub output: String,
}

/// Runs a SIPp scenario (a file under tests/sipp/, or a built-in like `uac`)
/// against `server`, bounded in time; extra arguments are passed through.
pub fn sipp(scenario: &str, server: SocketAddr, extra: &[&str]) -> SippRun {
    let trace_dir = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<String> = vec!["60".into(), "sipp".into()];
    args.extend(sipp_args(scenario, free_udp_tcp_port(), trace_dir.path()));
    args.push(server.to_string());
    args.extend(extra.iter().map(|a| a.to_string()));
    let output: Output = Command::new("timeout")
        .args(&args)
        .current_dir(trace_dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run sipp");
    sipp_run(
        output.status,
        &String::from_utf8_lossy(&output.stdout),
        &String::from_utf8_lossy(&output.stderr),
        trace_dir.path(),
    )
}

/// A SIPp scenario playing the called side (an agent's phone) for one call,
/// in the background on a free port; killed by PID if still running when dropped.
pub struct SippUas {
    pub addr: SocketAddr,
    child: Option<Child>,
    trace_dir: tempfile::TempDir,
}

impl SippUas {
    /// Starts `scenario` (a file under tests/sipp/, or `uas`); returns once it listens.
    pub fn start(scenario: &str) -> SippUas {
        SippUas::start_with(scenario, &[])
    }

    /// Starts `scenario` with extra SIPp arguments (`-rtp_echo`, say).
    pub fn start_with(scenario: &str, extra: &[&str]) -> SippUas {
        let addr = free_udp_tcp_port();
        let trace_dir = tempfile::tempdir().expect("temp dir");
        let screen = std::fs::File::create(trace_dir.path().join("screen.log")).expect("log");
        let child = Command::new("sipp")
            .args(sipp_args(scenario, addr, trace_dir.path()))
            .args(["-m", "1"])
            .args(extra)
            .current_dir(trace_dir.path())
            .stdin(Stdio::null())
            .stdout(screen)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sipp");
        // SIPp holds its UDP port once it is ready to receive.
        let listening = wait_for(Duration::from_secs(5), || {
            std::net::UdpSocket::bind(addr).is_err()
        });
        assert!(listening, "SIPp did not open {addr}");
        SippUas {
            addr,
            child: Some(child),
            trace_dir,
        }
    }

    /// Waits for the scenario to end (at most `limit`, then kills it).
    pub fn finish(mut self, limit: Duration) -> SippRun {
        let mut child = self.child.take().expect("running");
        wait_for(limit, || matches!(child.try_wait(), Ok(Some(_))));
        let _ = child.kill();
        let output = child.wait_with_output().expect("sipp output");
        let screen =
            std::fs::read_to_string(self.trace_dir.path().join("screen.log")).unwrap_or_default();
        sipp_run(
            output.status,
            &screen,
            &String::from_utf8_lossy(&output.stderr),
            self.trace_dir.path(),
        )
    }
}

impl Drop for SippUas {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The options every SIPp run here shares: loopback only, one local port,
/// bounded in time, errors written into `trace_dir`.
fn sipp_args(scenario: &str, local: SocketAddr, trace_dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if scenario.ends_with(".xml") {
        args.push("-sf".into());
        args.push(scenario_path(scenario).display().to_string());
    } else {
        args.push("-sn".into());
        args.push(scenario.into());
    }
    for arg in [
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
        "-s",
        "hotline",
        "-nostdin",
        "-timeout",
        "30s",
        "-timeout_error",
        "-trace_err",
    ] {
        args.push(arg.into());
    }
    args.extend(["-p".into(), local.port().to_string()]);
    args.extend(["-mp".into(), free_udp_tcp_port().port().to_string()]);
    args.extend([
        "-error_file".into(),
        trace_dir.join("errors.log").display().to_string(),
    ]);
    args
}

fn sipp_run(
    status: std::process::ExitStatus,
    stdout: &str,
    stderr: &str,
    trace_dir: &Path,
) -> SippRun {
    let errors = std::fs::read_to_string(trace_dir.join("errors.log")).unwrap_or_default();
    SippRun {
        success: status.success(),
        output: format!("exit {:?}\n{stdout}\n{stderr}\n{errors}", status.code()),
    }
}

fn scenario_path(name: &str) -> PathBuf {
    repo_path("tests/sipp").join(name)
}

/// Waits up to `limit` for `condition`, polling every 50 ms.
pub fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// A headless baresip softphone driven through its `ctrl_tcp` module.
///
/// It plays `source` (mono 16-bit 8 kHz WAV; the call ends when it ends, so
/// pad it) and records what it hears into `dump-*-dec.wav` in its directory.
pub struct Baresip {
    pub dir: tempfile::TempDir,
    pub sip: SocketAddr,
    child: std::process::Child,
    control: std::net::TcpStream,
    events: std::sync::mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Baresip {
    /// Starts baresip with `source` as its microphone and `account` as its AOR line.
    pub fn start(source: &std::path::Path, account: &str) -> Baresip {
        // A port picked free can be taken by another process before baresip
        // binds it, and baresip then exits: start again on other ports.
        let mut attempts = 0;
        let (dir, sip, child, control) = loop {
            attempts += 1;
            match Baresip::launch(source, account) {
                Ok(started) => break started,
                Err(log) if attempts < 3 => eprintln!("baresip did not start; again:\n{log}"),
                Err(log) => panic!("baresip ctrl_tcp did not open:\n{log}"),
            }
        };
        let (sender, events) = std::sync::mpsc::channel();
        let reader = control.try_clone().expect("clone");
        std::thread::spawn(move || read_netstrings(reader, sender));
        Baresip {
            dir,
            sip,
            child,
            control,
            events,
            seen: Vec::new(),
        }
    }

    /// Starts one baresip on fresh ports: its directory, SIP address, process
    /// and control connection, or its log when it exited or its control port
    /// did not open.
    #[allow(clippy::type_complexity)]
    fn launch(
        source: &std::path::Path,
        account: &str,
    ) -> Result<
        (
            tempfile::TempDir,
            SocketAddr,
            std::process::Child,
            std::net::TcpStream,
        ),
        String,
    > {
        let dir = tempfile::tempdir().expect("temp dir");
        let sip = free_udp_tcp_port();
        let control_addr = super::free_tcp_port();
        let (rtp_min, rtp_max) = super::free_rtp_range();
        let config = format!(
            "poll_method\tepoll\nsip_listen\t{sip}\nnet_interface\t127.0.0.1\n\
             audio_source\taufile,{source}\naudio_player\taufile,{dir}/heard.wav\n\
             audio_alert\taufile,{dir}/alert.wav\nmodule_path\t/usr/lib/baresip/modules\n\
             module\tg711.so\nmodule\taufile.so\nmodule\tsndfile.so\nmodule_app\taccount.so\n\
             module_app\tmenu.so\nmodule\tctrl_tcp.so\nctrl_tcp_listen\t{control_addr}\n\
             snd_path\t{dir}\nrtp_ports\t{rtp_min}-{rtp_max}\n",
            source = source.display(),
            dir = dir.path().display(),
        );
        std::fs::write(dir.path().join("config"), config).expect("baresip config");
        std::fs::write(dir.path().join("accounts"), format!("{account}\n")).expect("accounts");
        let log_path = dir.path().join("baresip.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start baresip");
        let mut control = None;
        // Generous: baresip loads its modules slowly on a busy machine.
        wait_for(Duration::from_secs(30), || {
            control = std::net::TcpStream::connect(control_addr).ok();
            control.is_some() || matches!(child.try_wait(), Ok(Some(_)))
        });
        match control {
            Some(control) => Ok((dir, sip, child, control)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::fs::read_to_string(&log_path).unwrap_or_default())
            }
        }
    }

    /// Sends a ctrl_tcp command such as `dial sip:...` or `hangup`.
    pub fn command(&mut self, command: &str, params: &str) {
        use std::io::Write;
        let body =
            serde_json::json!({"command": command, "params": params, "token": "t"}).to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.control
            .write_all(frame.as_bytes())
            .expect("ctrl_tcp write");
    }

    /// Waits for an event of `kind` (e.g. `CALL_ESTABLISHED`); returns it.
    pub fn wait_event(&mut self, kind: &str, limit: Duration) -> Option<serde_json::Value> {
        if let Some(found) = self.seen.iter().find(|e| e["type"] == kind) {
            return Some(found.clone());
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = self.events.recv_timeout(left).ok()?;
            self.seen.push(event.clone());
            if event["type"] == kind {
                return Some(event);
            }
        }
    }

    /// How many events of `kind` arrived so far (waiting briefly for stragglers).
    pub fn count_events(&mut self, kind: &str) -> usize {
        while let Ok(event) = self.events.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(event);
        }
        self.seen.iter().filter(|e| e["type"] == kind).count()
    }

    /// Every event seen so far, for failure messages.
    pub fn history(&self) -> String {
        let mut text: Vec<String> = self.seen.iter().map(|e| e.to_string()).collect();
        text.push(std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default());
        text.join("\n")
    }

    /// The recording of what baresip heard in its last call, if any.
    pub fn recording(&self) -> Option<std::path::PathBuf> {
        std::fs::read_dir(self.dir.path())
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_netstrings(
    mut stream: std::net::TcpStream,
    sender: std::sync::mpsc::Sender<serde_json::Value>,
) {
    use std::io::Read;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let len = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(len) => len,
        };
        buffer.extend_from_slice(&chunk[..len]);
        while let Some(colon) = buffer.iter().position(|&b| b == b':') {
            let Ok(size) = std::str::from_utf8(&buffer[..colon])
                .unwrap_or("x")
                .parse::<usize>()
            else {
                return;
            };
            if buffer.len() < colon + 1 + size + 1 {
                break;
            }
            let body = buffer[colon + 1..colon + 1 + size].to_vec();
            buffer.drain(..colon + 1 + size + 1);
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body)
                && value["event"] == true
                && sender.send(value).is_err()
            {
                return;
            }
        }
    }
}

/// Runs the pjsua2 caller script against `uri`; returns its JSON events and success.
pub fn pjsua_call(uri: &str, extra: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let mut args = vec![uri];
    args.extend_from_slice(extra);
    run_pjsua("pjsua_call.py", &args)
}

/// Registers `user` with `password` at `registrar` (a `sip:` URI) with the
/// pjsua2 script; returns its JSON events and whether the last registration
/// step succeeded.
pub fn pjsua_register(
    registrar: &str,
    user: &str,
    password: &str,
    extra: &[&str],
) -> (bool, Vec<serde_json::Value>, String) {
    let mut args = vec![registrar, user, password];
    args.extend_from_slice(extra);
    run_pjsua("pjsua_register.py", &args)
}

/// Runs a script of tests/peers/ bounded in time; its JSON lines, success and output.
fn run_pjsua(script: &str, args: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let output = Command::new("timeout")
        .arg("40")
        .arg("python3")
        .arg(repo_path("tests/peers").join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pjsua2");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let events = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let text = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    (output.status.success(), events, text)
}

/// linphonec, the console Linphone, with a fresh profile of its own (it
/// keeps accounts and passwords in its profile), driven through its stdin.
pub struct Linphone {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    output: std::sync::mpsc::Receiver<String>,
    /// Everything it printed so far.
    pub printed: String,
}

impl Linphone {
    /// Starts linphonec on a free loopback port.
    pub fn start() -> Linphone {
        use std::io::Read;
        let dir = tempfile::tempdir().expect("temp dir");
        // Without this directory linphone never opens its SIP port.
        std::fs::create_dir_all(dir.path().join(".local/share/linphone")).expect("profile");
        let sip = free_udp_tcp_port();
        let (rtp, _) = super::free_rtp_range();
        let config = dir.path().join("linphonerc");
        std::fs::write(
            &config,
            format!(
                "[sip]\nsip_port={}\nuse_ipv6=0\n[rtp]\nbind_address=127.0.0.1\naudio_rtp_port={rtp}\n",
                sip.port()
            ),
        )
        .expect("linphonerc");
        let mut child = Command::new("linphonec")
            .arg("-c")
            .arg(&config)
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start linphonec");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let (sender, output) = std::sync::mpsc::channel();
        // Prompts end without a newline, so read what comes, not lines.
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(len @ 1..) = stdout.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..len]).into_owned();
                if sender.send(text).is_err() {
                    return;
                }
            }
        });
        Linphone {
            dir,
            child,
            stdin,
            output,
            printed: String::new(),
        }
    }

    /// Sends a console command such as `register …` or `status register`.
    pub fn command(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").expect("linphonec stdin");
    }

    /// Waits up to `limit` until it has printed `text`; sends `poll` (if any)
    /// every 500 ms meanwhile (more often starves its SIP stack).
    pub fn wait_for(&mut self, text: &str, poll: Option<&str>, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        let mut next_poll = start;
        while !self.printed.contains(text) {
            let now = std::time::Instant::now();
            if now >= start + limit {
                return false;
            }
            if let Some(poll) = poll.filter(|_| now >= next_poll) {
                self.command(poll);
                next_poll = now + Duration::from_millis(500);
            }
            let wait = (start + limit).min(next_poll.max(now + Duration::from_millis(50))) - now;
            if let Ok(text) = self.output.recv_timeout(wait) {
                self.printed.push_str(&text);
            }
        }
        true
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dnsmasq serving a few records on a free loopback port, as the DNS of a
/// SIP provider would (SRV for `_sip._udp`, A for the hosts); killed when dropped.
pub struct Dnsmasq {
    pub addr: SocketAddr,
    child: Child,
}

impl Dnsmasq {
    /// `records` are dnsmasq options without the leading `--`, e.g.
    /// `srv-host=_sip._udp.desk.test,pbx.desk.test,5070` or
    /// `host-record=pbx.desk.test,127.0.0.1`.
    pub fn start(records: &[String]) -> Dnsmasq {
        let addr = free_udp_tcp_port();
        let mut command = Command::new("dnsmasq");
        command.args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--log-facility=-",
            &format!("--port={}", addr.port()),
            "--pid-file=",
        ]);
        for record in records {
            command.arg(format!("--{record}"));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq (Debian package dnsmasq-base)");
        let listening = wait_for(Duration::from_secs(5), || {
            std::net::UdpSocket::bind(addr).is_err()
        });
        assert!(listening, "dnsmasq did not open {addr}");
        Dnsmasq { addr, child }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
