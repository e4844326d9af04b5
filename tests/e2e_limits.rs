//! End-to-end: what one source may cost. A flood from one address, idle TCP
//! connections, and a trusted source, against the real binary and SIPp.

mod support;

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use support::peers::{sipp, wait_for};
use support::{Server, ServerOptions};

/// A flow that holds every caller in a menu for a minute: calls stay up.
const HOLDING_FLOW: &str = "id: hotline\ndefault_language: en\nlanguages: [en]\nstart: hold\n\
nodes:\n  hold:\n    menu:\n      prompt: hotline/greeting\n      announces: [\"1\"]\n      timeout: 60\n      \
no_input: { prompt: hotline/no_input, tries: 1, then: bye }\n      \
invalid: { prompt: hotline/invalid, tries: 1, then: bye }\n      items:\n        \
- { key: \"1\", label: hotline/label/balance, goto: bye }\n  bye:\n    \
hangup: { prompt: hotline/goodbye }\n";

/// A server with the holding flow and these `[limits]`; its flows directory lives as long.
fn holding_server(limits: &str) -> (tempfile::TempDir, Server) {
    let flows = tempfile::tempdir().unwrap();
    std::fs::write(flows.path().join("hotline.yaml"), HOLDING_FLOW).unwrap();
    let server = Server::start_with(ServerOptions {
        flows: Some(flows.path().to_owned()),
        config: format!("[limits]\n{limits}"),
        ..ServerOptions::default()
    });
    (flows, server)
}

fn assert_sipp(run: &support::peers::SippRun, what: &str, server: &Server) {
    assert!(
        run.success,
        "{what}: SIPp failed:\n{}\n--- hotline log ---\n{}",
        run.output,
        server.log()
    );
}

/// An out-of-dialog request from `local` with a fresh Call-ID and branch.
fn request(method: &str, n: u64, local: SocketAddr, server: SocketAddr) -> String {
    format!(
        "{method} sip:hotline@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-f{n};rport\r\n\
         From: <sip:+380449990000@{local}>;tag=f{n}\r\nTo: <sip:hotline@{server}>\r\n\
         Call-ID: flood-{n}@{local}\r\nCSeq: 1 {method}\r\nContact: <sip:flood@{local}>\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends INVITEs and OPTIONS, alternating, from `from` at about `per_second` for `seconds`.
fn flood(from: &str, server: SocketAddr, per_second: u64, seconds: u64) -> u64 {
    let socket = UdpSocket::bind(from).expect("bind the flooding source");
    let local = socket.local_addr().unwrap();
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        let due = start.elapsed().as_millis() as u64 * per_second / 1000;
        while sent < due {
            let method = if sent % 2 == 0 { "INVITE" } else { "OPTIONS" };
            let _ = socket.send_to(request(method, sent, local, server).as_bytes(), server);
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    sent
}

#[test]
fn a_flood_from_one_source_leaves_calls_up_and_another_caller_is_answered() {
    let (_flows, server) =
        holding_server("requests_per_second = 20\nburst = 40\ncalls_per_source = 25\n");
    let sip = server.sip;
    // 20 calls with RTP echoed back, each held 14 s.
    let calls = std::thread::spawn(move || {
        sipp(
            "uac",
            sip,
            &[
                "-m",
                "20",
                "-r",
                "10",
                "-l",
                "20",
                "-d",
                "14000",
                "-rtp_echo",
            ],
        )
    });
    assert!(
        wait_for(
            Duration::from_secs(10),
            || server.get_json("/status")["calls_active"] == 20
        ),
        "the 20 calls did not start: {}",
        server.get_json("/status")
    );
    let flooder = std::thread::spawn(move || flood("127.0.0.2:0", sip, 2000, 8));
    std::thread::sleep(Duration::from_secs(2));
    let newcomer = sipp("uac", sip, &["-m", "1", "-d", "1000"]);
    let flooded = flooder.join().unwrap();
    let calls = calls.join().unwrap();

    assert_sipp(&newcomer, "a new call during the flood", &server);
    assert_sipp(&calls, "20 calls through the flood", &server);
    let limits = server.get_json("/status")["sip_limits"].clone();
    let refused = limits["rejected"].as_u64().unwrap() + limits["dropped"].as_u64().unwrap();
    assert!(flooded > 10_000, "the flood sent only {flooded}");
    assert!(
        refused > flooded * 8 / 10,
        "{refused} of {flooded} refused: {limits}"
    );
    assert!(limits["calls_refused"].as_u64().unwrap() > 0, "{limits}");
}

/// Sends `count` OPTIONS from `from` and counts the answers by status.
fn options_answered(from: &str, server: SocketAddr, count: u64) -> (u64, u64) {
    let socket = UdpSocket::bind(from).expect("bind");
    let local = socket.local_addr().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    // Answers are read as they come: a socket's buffer holds only a hundred or so.
    let receiver = socket.try_clone().unwrap();
    let answers = std::thread::spawn(move || {
        let (mut ok, mut busy) = (0, 0);
        let mut buffer = [0u8; 4096];
        while let Ok(len) = receiver.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..len]);
            if text.starts_with("SIP/2.0 200") {
                ok += 1;
            } else if text.starts_with("SIP/2.0 503") {
                assert!(text.contains("Retry-After:"), "{text}");
                busy += 1;
            }
        }
        (ok, busy)
    });
    for n in 0..count {
        let _ = socket.send_to(request("OPTIONS", n, local, server).as_bytes(), server);
        std::thread::sleep(Duration::from_millis(1));
    }
    answers.join().unwrap()
}

#[test]
fn a_trusted_source_is_not_limited_and_another_is() {
    let (_flows, server) = holding_server(
        "requests_per_second = 5\nburst = 10\nrejections_per_second = 3\ntrusted = [\"127.0.0.2/32\"]\n",
    );
    assert_eq!(options_answered("127.0.0.2:0", server.sip, 300), (300, 0));
    let (ok, busy) = options_answered("127.0.0.3:0", server.sip, 300);
    assert!((10..=20).contains(&ok), "{ok} answered 200");
    assert!((1..=10).contains(&busy), "{busy} answered 503");
}

/// Lets this process open thousands of sockets.
fn raise_own_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_cur >= 4500,
        "the hard open-file limit is {}",
        limit.rlim_max
    );
}

/// Whether the server has closed `stream` (EOF or reset), waiting at most `limit`.
fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue, // our OPTIONS' answer
            Err(error) => {
                return !matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

#[test]
fn two_thousand_idle_tcp_connections_do_not_stop_a_tcp_call_and_are_closed() {
    raise_own_open_file_limit();
    let (_flows, server) = holding_server(
        "tcp_max_connections = 5000\ntcp_connections_per_source = 5000\n\
         tcp_idle_seconds = 20\ntcp_first_message_seconds = 20\nrequests_per_second = 100000\n\
         burst = 100000\n",
    );
    // A quarter say one OPTIONS and go quiet (idle); a quarter say one and
    // begin another; half send half a message and nothing more.
    let mut idle = Vec::new();
    let mut incomplete = Vec::new();
    let connecting = Instant::now();
    for n in 0..2000u64 {
        let mut stream = TcpStream::connect(server.sip).expect("connect");
        let local = stream.local_addr().unwrap();
        let options = request("OPTIONS", n, local, server.sip).replace("/UDP", "/TCP");
        let half = &options.as_bytes()[..60];
        use std::io::Write;
        match n % 4 {
            0 => {
                stream.write_all(options.as_bytes()).unwrap();
                idle.push(stream);
            }
            2 => {
                stream.write_all(options.as_bytes()).unwrap();
                stream.write_all(half).unwrap();
                incomplete.push(stream);
            }
            _ => {
                stream.write_all(half).unwrap();
                incomplete.push(stream);
            }
        }
    }
    // Connecting takes seconds on a busy machine; the timeouts leave room for it.
    assert!(
        connecting.elapsed() < Duration::from_secs(18),
        "{:?}",
        connecting.elapsed()
    );
    assert!(
        wait_for(
            Duration::from_secs(5),
            || server.get_json("/status")["sip_limits"]["tcp_open"].as_u64() >= Some(2000)
        ),
        "{}",
        server.get_json("/status")
    );

    let call = sipp("uac", server.sip, &["-t", "t1", "-m", "1", "-d", "1000"]);
    assert_sipp(&call, "a TCP call beside 2,000 idle connections", &server);

    let started = Instant::now();
    for stream in incomplete.iter_mut() {
        assert!(
            closed_by_server(stream, Duration::from_secs(35)),
            "a connection with half a message stayed open"
        );
    }
    for stream in idle.iter_mut() {
        assert!(
            closed_by_server(stream, Duration::from_secs(35)),
            "an idle connection stayed open"
        );
    }
    // The last was closed 20 s after its OPTIONS, well within the bound.
    assert!(started.elapsed() < Duration::from_secs(40));
    let limits = server.get_json("/status")["sip_limits"].clone();
    assert_eq!(limits["tcp_incomplete_closed"], 1500, "{limits}");
    assert!(limits["tcp_idle_closed"].as_u64() >= Some(500), "{limits}");
    assert_eq!(limits["tcp_open"], 0, "{limits}");
}

#[test]
fn one_source_beyond_its_tcp_share_is_closed_at_once() {
    let (_flows, server) =
        holding_server("tcp_connections_per_source = 10\ntcp_first_message_seconds = 60\n");
    let mut streams: Vec<TcpStream> = (0..30)
        .map(|_| TcpStream::connect(server.sip).expect("connect"))
        .collect();
    let closed = streams
        .iter_mut()
        .filter_map(|s| closed_by_server(s, Duration::from_millis(1500)).then_some(()))
        .count();
    assert_eq!(closed, 20);
    assert_eq!(server.get_json("/status")["sip_limits"]["tcp_refused"], 20);
}
