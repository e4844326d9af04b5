//! A load of browser callers for `scripts/bench-calls` (`HOTLINE_BENCH_TRANSPORT=webrtc`):
//! N simulated browsers (str0m, `webrtc::loopback`) each `POST` an SDP offer
//! to a running server's `/webrtc/calls` at a steady rate, complete ICE and
//! DTLS with its WebRTC socket, send a PCMU frame every 20 ms and receive
//! the server's audio, until the process is ended.
//!
//! One thread (run it under `taskset` to keep it off the server's core),
//! one loopback socket per browser. It prints `dialled N` once every offer
//! was answered, then every second `heard F` (frames received in that second).
//!
//!     webrtc_callers --http 127.0.0.1:8080 --calls 500 --rate 50

use std::time::Duration;

use clap::Parser;
use hotline::webrtc::loopback::{Dialing, Heard, Offers};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// The server's HTTP listener (`hotline serve --http`).
    #[arg(long)]
    http: String,
    /// How many browsers call.
    #[arg(long)]
    calls: usize,
    /// New calls a second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if let Err(e) = runtime.block_on(run(args)) {
        eprintln!("webrtc_callers: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let url = format!("http://{}/webrtc/calls", args.http);
    let client = reqwest::Client::new();
    let (seen, mut heard) = mpsc::unbounded_channel();
    let (answered, mut answers) = mpsc::unbounded_channel();
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    for _ in 0..args.calls {
        pace.tick().await;
        let (client, url, seen, answered) =
            (client.clone(), url.clone(), seen.clone(), answered.clone());
        tokio::spawn(async move {
            let _ = answered.send(call(&client, &url, seen).await);
        });
    }
    let mut keys = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        keys.push(answers.recv().await.ok_or("a call was lost")??);
    }
    println!("dialled {}", args.calls);
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.tick().await;
    let mut frames = 0u64;
    loop {
        tokio::select! {
            Some(what) = heard.recv() => if matches!(what, Heard::Audio(_)) { frames += 1 },
            _ = second.tick() => {
                println!("heard {frames}");
                frames = 0;
            }
        }
    }
}

/// One browser's call: its offer posted, the answer taken; the sender of
/// its keys, kept so the browser lives.
async fn call(
    client: &reqwest::Client,
    url: &str,
    seen: mpsc::UnboundedSender<Heard>,
) -> Result<mpsc::UnboundedSender<u8>, String> {
    let dialing = Dialing::new(Offers::G711).await;
    let response = client
        .post(url)
        .header("content-type", "application/sdp")
        .body(dialing.offer.clone())
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let answer = response.text().await.map_err(|e| e.to_string())?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("POST {url}: {status}: {answer}"));
    }
    dialing
        .answered(&answer, 0x55, seen)
        .map_err(|e| format!("the answer: {e}"))
}
