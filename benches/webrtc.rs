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

use std::time::Duration;

use hotline::webrtc::loopback::Pair;

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
