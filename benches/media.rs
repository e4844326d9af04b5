//! Media benchmark: N concurrent calls playing prompts over real UDP on loopback.
//!
//! `cargo bench --bench media` runs three processes per figure: this one (the
//! orchestrator), a server pinned to core 0 (`taskset -c 0`) running one media
//! task per call exactly as a real call does, and a caller pinned to core 1 that
//! sends caller RTP (G.711 plus RFC 4733 digits) back and measures what arrives.
//!
//! Environment: `HOTLINE_BENCH_CALLS` (default `100,500,1000,2000`),
//! `HOTLINE_BENCH_SECONDS` (measured seconds per figure, default 10).

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hotline::rtp::packet::{HEADER_LEN, RtpPacket, write_header};
use hotline::rtp::rtcp::ReceiverStats;
use hotline::rtp::{Codec, Prompt};
use hotline::server::media::{self, MediaCommand, MediaEvent, MediaOptions};
use hotline::sip::sdp::{Direction, Negotiated};

const ROLE: &str = "HOTLINE_BENCH_ROLE";
const WARM_UP: Duration = Duration::from_secs(3);
const TELEPHONE_EVENT_PT: u8 = 101;

fn main() {
    let seconds = env_u64("HOTLINE_BENCH_SECONDS", 10);
    let measure = Duration::from_secs(seconds);
    match std::env::var(ROLE).as_deref() {
        Ok("server") => server(env_u64("HOTLINE_BENCH_N", 100) as usize, measure),
        Ok("caller") => caller(env_u64("HOTLINE_BENCH_N", 100) as usize, measure),
        _ => orchestrate(seconds),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- orchestrator

fn orchestrate(seconds: u64) {
    let calls: Vec<usize> = std::env::var("HOTLINE_BENCH_CALLS")
        .unwrap_or_else(|_| "100,500,1000,2000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let pinned = Command::new("taskset").arg("-V").output().is_ok();
    println!(
        "media benchmark: {seconds} s measured per row after {} s warm-up; server {}, caller {}",
        WARM_UP.as_secs(),
        if pinned {
            "on core 0"
        } else {
            "unpinned (no taskset)"
        },
        if pinned { "on core 1" } else { "unpinned" },
    );
    println!(
        "{:>6} {:>13} {:>9} {:>9} {:>9} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "calls",
        "cpu/call/20ms",
        "cpu/pkt",
        "sent",
        "received",
        "lost",
        "missing",
        "p50",
        "p99",
        "p99.9",
        "max",
        "rss/call",
        "digits"
    );
    for n in calls {
        let mut caller = spawn_role("caller", n, seconds, pinned.then_some("1"));
        let caller_addr = read_line(&mut caller);
        let mut server = spawn_role("server", n, seconds, pinned.then_some("0"));
        write_line(&mut server, &caller_addr);
        let server_ports = read_line(&mut server);
        write_line(&mut caller, &server_ports);
        let s = parse_result(&read_line(&mut server));
        let c = parse_result(&read_line(&mut caller));
        let _ = server.wait();
        let _ = caller.wait();
        // Frames the callers should have heard in the window but did not: lost on
        // the way, or never sent because the server fell behind and skipped them.
        let expected = n as f64 * seconds as f64 * 50.0;
        let missing = (expected - c["received"] - c["lost"]).max(0.0);
        println!(
            "{:>6} {:>11.2}µs {:>7.2}µs {:>9} {:>9} {:>6} {:>8} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.1}KiB {:>4}/{:<4}",
            n,
            s["cpu_ns_per_call_frame"] / 1000.0,
            s["cpu_ns"] / c["received"].max(1.0) / 1000.0,
            s["sent"],
            c["received"],
            c["lost"],
            missing,
            c["p50_us"] / 1000.0,
            c["p99_us"] / 1000.0,
            c["p999_us"] / 1000.0,
            c["max_us"] / 1000.0,
            s["rss_per_call"] / 1024.0,
            s["digits"],
            c["digits_sent"],
        );
    }
}

fn spawn_role(role: &str, n: usize, seconds: u64, core: Option<&str>) -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut command = match core {
        Some(core) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(core).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command
        .env(ROLE, role)
        .env("HOTLINE_BENCH_N", n.to_string())
        .env("HOTLINE_BENCH_SECONDS", seconds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start benchmark role")
}

fn read_line(child: &mut Child) -> String {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut line = String::new();
    // One byte at a time so nothing after the line is swallowed by a buffer.
    let mut byte = [0u8; 1];
    while std::io::Read::read(stdout, &mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    line
}

fn write_line(child: &mut Child, line: &str) {
    let stdin = child.stdin.as_mut().expect("piped stdin");
    writeln!(stdin, "{line}").expect("write to role");
}

fn parse_result(line: &str) -> HashMap<String, f64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

// ---------------------------------------------------------------------- server

fn server(n: usize, measure: Duration) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .expect("caller address");
    let caller: SocketAddr = line.trim().parse().expect("caller address");
    runtime.block_on(async move {
        // A 4 s "greeting": three tones with a slow tremolo, played in a loop.
        let samples: Vec<i16> = (0..32_000)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let tremolo = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                let tones: f64 = [330.0, 495.0, 742.0]
                    .iter()
                    .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                    .sum();
                (tones / 3.0 * tremolo * 12_000.0) as i16
            })
            .collect();
        let greeting = Arc::new(Prompt::from_samples("greeting", None, &samples));
        let rss_before = rss_bytes();
        let digits = Arc::new(AtomicU64::new(0));
        let negotiated = Negotiated {
            remote_rtp: caller,
            codec: Codec::Pcmu,
            telephone_event_pt: Some(TELEPHONE_EVENT_PT),
            ptime_ms: 20,
            direction: Direction::SendRecv,
        };
        // DTMF detection fully on: RFC 4733 and the in-band detector on every call.
        let options = MediaOptions {
            inband_dtmf_always: true,
            rtp_timeout: Some(Duration::from_secs(60)),
        };
        let mut handles = Vec::with_capacity(n);
        let mut stats = Vec::with_capacity(n);
        let mut ports = Vec::with_capacity(n);
        for i in 0..n {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            ports.push(socket.local_addr().expect("addr").port().to_string());
            let (handle, mut events) = media::spawn(socket, negotiated, options).expect("spawn");
            handle
                .send(MediaCommand::Play {
                    id: i as u64,
                    prompts: vec![greeting.clone()],
                    barge_in: false,
                    looping: true,
                })
                .await;
            // What the call task does with events: count digits, keep the final stats.
            let digits = digits.clone();
            stats.push(tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    match event {
                        MediaEvent::Stats(s) => return Some(s),
                        MediaEvent::PlaybackFinished { .. }
                        | MediaEvent::BridgeEnded
                        | MediaEvent::RtpTimeout { .. }
                        | MediaEvent::PeerConnected
                        | MediaEvent::PeerEnded(_) => {}
                        MediaEvent::Digit(_) => {
                            digits.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                None
            }));
            handles.push(handle);
            // Calls start spread over the 20 ms frame, as real calls arrive at random.
            if n >= 20 && i % (n / 20) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        println!("{}", ports.join(","));
        tokio::time::sleep(WARM_UP).await;
        let rss_after = rss_bytes();
        let cpu_start = cpu_time();
        let started = Instant::now();
        tokio::time::sleep(measure).await;
        let cpu = cpu_time() - cpu_start;
        let elapsed = started.elapsed();
        for handle in &handles {
            handle.send(MediaCommand::Shutdown).await;
        }
        let mut sent = 0;
        let mut dropped = 0;
        for s in stats {
            if let Ok(Some(s)) = s.await {
                sent += s.sent_packets;
                dropped += s.dropped.wrong_payload_type + s.dropped.malformed + s.dropped.wrong_source;
            }
        }
        let frames = n as f64 * elapsed.as_secs_f64() / 0.020;
        println!(
            "cpu_ns={} cpu_ns_per_call_frame={:.0} sent={sent} dropped={dropped} rss_per_call={:.0} digits={}",
            cpu.as_nanos(),
            cpu.as_nanos() as f64 / frames,
            rss_after.saturating_sub(rss_before) as f64 / n as f64,
            digits.load(Ordering::Relaxed),
        );
    });
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass; RUSAGE_SELF is valid.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Resident set size of this process.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

// ---------------------------------------------------------------------- caller

/// What the caller side saw of one call.
struct CallSeen {
    stats: ReceiverStats,
    /// When the kernel received the call's last packet.
    last_arrival: Option<Duration>,
}

fn caller(n: usize, measure: Duration) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind caller");
    set_buffers(&socket);
    println!("{}", socket.local_addr().expect("addr"));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("server ports");
    let ports: Vec<u16> = line
        .trim()
        .split(',')
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(ports.len(), n, "server ports");
    let start = Instant::now();
    let window = (start + WARM_UP, start + WARM_UP + measure);

    let sender_socket = socket.try_clone().expect("clone socket");
    let sender_ports = ports.clone();
    let sender =
        std::thread::spawn(move || send_caller_rtp(&sender_socket, &sender_ports, window.1));

    // Call index by server port.
    let mut index = vec![usize::MAX; 65_536];
    for (i, port) in ports.iter().enumerate() {
        index[usize::from(*port)] = i;
    }
    let mut calls: Vec<CallSeen> = (0..n)
        .map(|_| CallSeen {
            stats: ReceiverStats::default(),
            last_arrival: None,
        })
        .collect();
    // Gap deviations from 20 ms in 10 µs buckets up to 1 s.
    let mut histogram = vec![0u64; 100_001];
    let mut max_deviation = Duration::ZERO;
    let mut batch = ReceiveBatch::new(&socket);
    while Instant::now() < window.1 {
        let count = batch.receive();
        if count == 0 {
            // Sleeping rather than waiting on the socket: the server's sends then
            // never have to wake this process, as they would not wake a phone
            // on another machine. Kernel timestamps keep the gaps exact.
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let read_at = Instant::now();
        for k in 0..count {
            let (from, arrived, datagram) = batch.get(k);
            let i = index[usize::from(from)];
            if i == usize::MAX {
                continue;
            }
            let Ok(packet) = RtpPacket::parse(datagram) else {
                continue;
            };
            let call = &mut calls[i];
            if read_at >= window.0 {
                if let Some(last) = call.last_arrival {
                    let deviation = arrived.abs_diff(last + Duration::from_millis(20));
                    max_deviation = max_deviation.max(deviation);
                    let bucket = (deviation.as_micros() / 10).min(100_000) as usize;
                    histogram[bucket] += 1;
                }
                call.stats
                    .record(packet.ssrc, packet.sequence, packet.timestamp, 0);
            }
            call.last_arrival = Some(arrived);
        }
    }
    let digits_sent = sender.join().expect("sender");
    let received: u64 = calls.iter().map(|c| c.stats.received).sum();
    let lost: u64 = calls.iter().map(|c| c.stats.lost()).sum();
    let percentile = |p: f64| {
        let total: u64 = histogram.iter().sum();
        let target = (total as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (bucket, count) in histogram.iter().enumerate() {
            seen += count;
            if seen >= target {
                return bucket as f64 * 10.0;
            }
        }
        0.0
    };
    println!(
        "received={received} lost={lost} p50_us={} p99_us={} p999_us={} max_us={} digits_sent={digits_sent}",
        percentile(0.5),
        percentile(0.99),
        percentile(0.999),
        max_deviation.as_micros(),
    );
}

/// Sends each call's RTP every 20 ms, spread over the frame; every tenth call
/// presses a key every 3 s (RFC 4733: start, updates, three end packets).
fn send_caller_rtp(socket: &UdpSocket, ports: &[u16], until: Instant) -> u64 {
    let n = ports.len();
    let start = Instant::now();
    let mut packet = [0u8; HEADER_LEN + 160];
    let mut digits_sent = 0;
    let mut frame: u64 = 0;
    while Instant::now() < until {
        let frame_start = start + Duration::from_millis(20 * frame);
        for (i, port) in ports.iter().enumerate() {
            let due = frame_start + Duration::from_micros((20_000 * i / n) as u64);
            // Sleeps shorter than the timer slack only burn CPU: batch them.
            if let Some(wait) = due.checked_duration_since(Instant::now())
                && wait > Duration::from_micros(300)
            {
                std::thread::sleep(wait);
            }
            let sequence = frame as u16;
            let timestamp = (frame * 160) as u32;
            let ssrc = 0x1000 + i as u32;
            // Frames 0..10 of each 150-frame (3 s) cycle carry a digit on every tenth call.
            let phase = (frame + i as u64) % 150;
            let len = if i % 10 == 0 && phase < 8 {
                let event_start = timestamp.wrapping_sub(phase as u32 * 160);
                let end = phase >= 5;
                let duration = ((phase.min(5) + 1) * 160) as u16;
                write_header(
                    (&mut packet[..HEADER_LEN]).try_into().expect("header"),
                    phase == 0,
                    TELEPHONE_EVENT_PT,
                    sequence,
                    event_start,
                    ssrc,
                );
                let digit = (frame / 150 % 10) as u8;
                packet[HEADER_LEN] = digit;
                packet[HEADER_LEN + 1] = if end { 0x80 | 10 } else { 10 };
                packet[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&duration.to_be_bytes());
                if phase == 0 {
                    digits_sent += 1;
                }
                HEADER_LEN + 4
            } else {
                write_header(
                    (&mut packet[..HEADER_LEN]).try_into().expect("header"),
                    false,
                    0,
                    sequence,
                    timestamp,
                    ssrc,
                );
                // Quiet noise, as a phone's microphone gives.
                for (k, b) in packet[HEADER_LEN..].iter_mut().enumerate() {
                    *b = Codec::Pcmu
                        .encode(((k * 7919 + i * 31 + frame as usize) % 200) as i16 - 100);
                }
                HEADER_LEN + 160
            };
            let _ = socket.send_to(&packet[..len], SocketAddr::from(([127, 0, 0, 1], *port)));
        }
        frame += 1;
    }
    digits_sent
}

/// Large socket buffers: one caller socket carries every call.
fn set_buffers(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4 * 1024 * 1024;
    for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: a valid socket fd and a c_int option value of the right size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// Datagrams read 64 at a time with `recvmmsg`, each with the kernel's receive
/// timestamp (`SO_TIMESTAMPNS`), so the gaps measured do not depend on when
/// this process got round to reading.
struct ReceiveBatch {
    fd: std::os::fd::RawFd,
    buffers: Vec<[u8; 1500]>,
    controls: Vec<[u64; 8]>,
    lengths: Vec<usize>,
    ports: Vec<u16>,
    stamps: Vec<Duration>,
}

const RECEIVE_BATCH: usize = 64;

impl ReceiveBatch {
    fn new(socket: &UdpSocket) -> ReceiveBatch {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let on: libc::c_int = 1;
        // SAFETY: a valid socket fd and a c_int option value of the right size.
        let set = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0, "SO_TIMESTAMPNS");
        ReceiveBatch {
            fd,
            buffers: vec![[0; 1500]; RECEIVE_BATCH],
            controls: vec![[0; 8]; RECEIVE_BATCH],
            lengths: vec![0; RECEIVE_BATCH],
            ports: vec![0; RECEIVE_BATCH],
            stamps: vec![Duration::ZERO; RECEIVE_BATCH],
        }
    }

    /// Reads what is waiting, without blocking; the number of datagrams.
    fn receive(&mut self) -> usize {
        // SAFETY: all-zero is a valid value for these plain C structs; every
        // pointer set below refers to a buffer that outlives the call.
        let mut addresses: Vec<libc::sockaddr_in> =
            vec![unsafe { std::mem::zeroed() }; RECEIVE_BATCH];
        let mut iovecs: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; RECEIVE_BATCH];
        let mut headers: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; RECEIVE_BATCH];
        for i in 0..RECEIVE_BATCH {
            iovecs[i].iov_base = self.buffers[i].as_mut_ptr().cast();
            iovecs[i].iov_len = 1500;
            let h = &mut headers[i].msg_hdr;
            h.msg_name = (&mut addresses[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            h.msg_iov = &mut iovecs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.controls[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; 8]>();
        }
        // SAFETY: see above.
        let count = unsafe {
            libc::recvmmsg(
                self.fd,
                headers.as_mut_ptr(),
                RECEIVE_BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if count <= 0 {
            return 0;
        }
        for i in 0..count as usize {
            self.lengths[i] = headers[i].msg_len as usize;
            self.ports[i] = u16::from_be(addresses[i].sin_port);
            self.stamps[i] = Duration::ZERO;
            // SAFETY: the kernel filled the control buffer it was given.
            unsafe {
                let mut cmsg = libc::CMSG_FIRSTHDR(&headers[i].msg_hdr);
                while !cmsg.is_null() {
                    if (*cmsg).cmsg_level == libc::SOL_SOCKET
                        && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let ts = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::timespec>(),
                        );
                        self.stamps[i] = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                    }
                    cmsg = libc::CMSG_NXTHDR(&headers[i].msg_hdr, cmsg);
                }
            }
        }
        count as usize
    }

    /// Datagram `k` of the last read: source port, kernel arrival time, contents.
    fn get(&self, k: usize) -> (u16, Duration, &[u8]) {
        (
            self.ports[k],
            self.stamps[k],
            &self.buffers[k][..self.lengths[k]],
        )
    }
}
