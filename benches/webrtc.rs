//! WebRTC media cost: CPU per browser peer per 20 ms of PCMU both ways.
//!
//! `cargo bench --bench webrtc` connects N peers, each back to back with a
//! simulated browser (a second str0m, `webrtc::loopback`), on a virtual
//! clock; then for every 20 ms frame each peer sends one PCMU frame (SRTP
//! protect) and receives the browser's (SRTP unprotect), with its RTCP and
//! ICE consent work running as it would. Only the CPU time spent inside the
//! server's peer is counted (this thread's CPU clock around each call), not
//! the simulated browser's. No sockets: compare with the RTP path's
//! `cpu/call/20ms` knowing that one includes the kernel's UDP work.
//!
//! Environment: `HOTLINE_BENCH_PEERS` (default `10,100,500`),
//! `HOTLINE_BENCH_FRAMES` (20 ms frames per peer measured, default 500).
//!
//! Then WebRTC *calls* as hotline runs them, in real time over loopback UDP:
//! the WebRTC driver on a thread of its own, each browser's media a leg on
//! the media workers (`media::spawn_webrtc`) playing a prompt in a loop,
//! and simulated browsers (str0m on their own sockets, sending PCMU every
//! 20 ms) on other threads. `cpu/call/20ms` is the CPU of the driver's and
//! the media workers' threads (from `/proc/self/task`, so the browsers'
//! work is not counted) ÷ (calls × 20 ms frames of the window): what the
//! server spends per call, comparable with the media benchmark's RTP figure.
//! Environment: `HOTLINE_BENCH_CALLS` (default `10,50,100`),
//! `HOTLINE_BENCH_SECONDS` (window, default 10).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hotline::rtp::Prompt;
use hotline::server::media::{self, MediaCommand, MediaEvent, MediaOptions};
use hotline::webrtc::loopback::{Heard, Pair, dial};
use hotline::webrtc::{Driver, WebrtcSettings};

fn main() {
    let peers: Vec<usize> = std::env::var("HOTLINE_BENCH_PEERS")
        .unwrap_or_else(|_| "10,100,500".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let frames: u64 = std::env::var("HOTLINE_BENCH_FRAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    println!("webrtc benchmark: {frames} frames of 20 ms per peer, PCMU both ways over DTLS-SRTP");
    println!(
        "{:>6} {:>15} {:>12} {:>12}",
        "peers", "cpu/peer/20ms", "sent", "received"
    );
    for n in peers {
        let (per_frame, sent, received) = measure(n, frames);
        println!(
            "{n:>6} {:>12.2} µs {sent:>12} {received:>12}",
            per_frame.as_secs_f64() * 1e6
        );
    }
    calls();
}

/// The peers' CPU per peer per 20 ms, frames the browsers heard and frames
/// the peers heard (each should be peers × frames: nothing skipped).
fn measure(n: usize, frames: u64) -> (Duration, usize, usize) {
    let mut pairs: Vec<Pair> = (0..n).map(|_| Pair::connected()).collect();
    for pair in &mut pairs {
        pair.peer_cpu = Duration::ZERO;
        pair.peer_events.clear();
    }
    let frame = vec![0x55u8; 160];
    for i in 0..frames {
        for pair in &mut pairs {
            let now = pair.now;
            pair.on_peer(|peer| peer.send_frame(now, &frame))
                .expect("connected");
            pair.browser_sends(&frame, i * 160);
            pair.run_for(Duration::from_millis(20));
        }
    }
    // Let the last frames arrive.
    for pair in &mut pairs {
        pair.run_for(Duration::from_millis(100));
    }
    let cpu: Duration = pairs.iter().map(|p| p.peer_cpu).sum();
    let sent = pairs.iter().map(|p| p.browser_heard.len()).sum();
    let received = pairs.iter().map(|p| p.peer_audio().len()).sum();
    (cpu / (frames * n as u64) as u32, sent, received)
}

/// The second table: WebRTC calls on the media workers, in real time.
fn calls() {
    let counts: Vec<usize> = std::env::var("HOTLINE_BENCH_CALLS")
        .unwrap_or_else(|_| "10,50,100".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("HOTLINE_BENCH_SECONDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let driver = driver_thread();
    let browsers = tokio::runtime::Runtime::new().expect("a runtime for the browsers");
    println!();
    println!("webrtc calls: a looping prompt to each browser, PCMU back, {seconds} s window");
    println!(
        "{:>6} {:>15} {:>12} {:>12} {:>12} {:>12}",
        "calls", "cpu/call/20ms", "driver", "workers", "heard", "expected"
    );
    for n in counts {
        let ((driver, workers), heard) = browsers.block_on(measure_calls(&driver, n, seconds));
        let frames = n as u64 * seconds * 50;
        let per_frame = |cpu: Duration| cpu.as_secs_f64() * 1e6 / frames as f64;
        println!(
            "{n:>6} {:>12.2} µs {:>9.2} µs {:>9.2} µs {heard:>12} {frames:>12}",
            per_frame(driver + workers),
            per_frame(driver),
            per_frame(workers),
        );
    }
}

/// The WebRTC driver, on a thread of its own (`webrtc-driver`), so its CPU
/// can be told from the browsers'.
fn driver_thread() -> Arc<Driver> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("webrtc-driver".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the driver's runtime");
            runtime.block_on(async {
                let settings = WebrtcSettings {
                    port_min: 44000,
                    port_max: 44999,
                    ..WebrtcSettings::default()
                };
                let driver = Driver::bind(&settings).await.expect("the WebRTC socket");
                tx.send(Arc::new(driver)).expect("the bench waits");
                std::future::pending::<()>().await;
            });
        })
        .expect("the driver's thread");
    rx.recv().expect("the driver started")
}

/// Connects `n` browsers as calls playing a prompt; after a 3 s warm-up,
/// the CPU of the driver's thread and of the media workers over `seconds`,
/// and the frames browsers heard then.
async fn measure_calls(driver: &Driver, n: usize, seconds: u64) -> ((Duration, Duration), u64) {
    let samples: Vec<i16> = (0..32_000)
        .map(|i| ((i * 7919 % 4001) as i16 - 2000) * 4)
        .collect();
    let prompt = Arc::new(Prompt::from_samples("noise", None, &samples));
    let heard = Arc::new(AtomicU64::new(0));
    let mut calls = Vec::new();
    for _ in 0..n {
        let (peer, mut browser, keys) = dial(driver, 0x55).await;
        let (handle, mut events) = media::spawn_webrtc(peer, MediaOptions::default());
        while let Some(event) = events.recv().await {
            if event == MediaEvent::PeerConnected {
                break;
            }
        }
        let play = MediaCommand::Play {
            id: 1,
            prompts: vec![prompt.clone()],
            barge_in: false,
            looping: true,
        };
        handle.send(play).await;
        let heard = heard.clone();
        tokio::spawn(async move {
            while let Some(what) = browser.recv().await {
                if matches!(what, Heard::Audio(_)) {
                    heard.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        calls.push((handle, events, keys));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cpu_start, heard_start) = (server_cpu(), heard.load(Ordering::Relaxed));
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let window = started.elapsed().as_secs_f64() / seconds as f64;
    let cpu = server_cpu();
    let cpu = (cpu.0 - cpu_start.0, cpu.1 - cpu_start.1);
    let heard = heard.load(Ordering::Relaxed) - heard_start;
    for (handle, _, _) in &calls {
        handle.send(MediaCommand::Shutdown).await;
    }
    // Scaled to the nominal window, as the frames expected are.
    let scaled = (cpu.0.div_f64(window), cpu.1.div_f64(window));
    (scaled, (heard as f64 / window) as u64)
}

/// User and system CPU of the server's threads: the WebRTC driver's, and
/// the media workers'.
fn server_cpu() -> (Duration, Duration) {
    // SAFETY: sysconf only reads a system constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let (mut driver, mut workers) = (0u64, 0u64);
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let counted = match name.trim() {
            "webrtc-driver" => &mut driver,
            name if name.starts_with("media-") => &mut workers,
            _ => continue,
        };
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        *counted += field(11) + field(12);
    }
    let time = |ticks: u64| Duration::from_nanos(ticks * 1_000_000_000 / ticks_per_second);
    (time(driver), time(workers))
}
