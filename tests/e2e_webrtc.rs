//! The WebRTC peer against a real browser (Debian's chromium, headless, driven
//! by playwright-core): the page offers, a test HTTP server answers with the
//! peer behind the driver's UDP socket; a tone goes each way, a key pressed
//! with RTCDTMFSender arrives as an RFC 4733 digit, and a closed tab is seen
//! as ICE consent lost.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use hotline::rtp::g711::Codec;
use hotline::webrtc::{Driver, EndReason, PeerEvent, PeerHandle, WebrtcSettings};

use support::browser::BrowserScript;
use support::peers::wait_for;

/// The tone the server plays to the page.
const TONE_TO_PAGE: f32 = 1000.0;
/// The tone of the page's fake microphone.
const TONE_FROM_PAGE: f32 = 600.0;

/// What the server-side of the test saw from the one peer.
#[derive(Default)]
struct Observed {
    connected: Option<Codec>,
    audio: Vec<u8>,
    digits: Vec<char>,
    ended: Option<(EndReason, Instant)>,
}

#[derive(Clone)]
struct Test {
    driver: Arc<Driver>,
    observed: Arc<Mutex<Observed>>,
}

#[test]
fn a_browser_hears_a_tone_is_heard_presses_a_key_and_closing_its_tab_loses_consent() {
    let dir = tempfile::tempdir().unwrap();
    let microphone = tone_wav(dir.path(), TONE_FROM_PAGE);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let observed = Arc::new(Mutex::new(Observed::default()));
    let base = runtime.block_on(serve(observed.clone()));

    let wait = Duration::from_secs(30);
    let mut page = BrowserScript::start("webrtc.mjs", &[&base, &microphone]);
    assert_eq!(page.next(wait), "connected");
    assert_eq!(
        observed.lock().unwrap().connected,
        Some(Codec::Pcmu),
        "Chromium prefers PCMU of the two"
    );

    let frequency = page.next_heard(wait);
    assert!(
        (frequency - TONE_TO_PAGE).abs() < 15.0,
        "the page heard {frequency} Hz"
    );

    let microphone_heard = wait_for(Duration::from_secs(10), || {
        observed.lock().unwrap().audio.len() >= 16000
    });
    assert!(
        microphone_heard,
        "less than 2 s of the page's microphone arrived"
    );
    let tail = {
        let audio = &observed.lock().unwrap().audio;
        audio[audio.len() - 8000..].to_vec()
    };
    let server_heard = dominant_frequency(&tail);
    eprintln!("the page heard {frequency} Hz; the server heard {server_heard} Hz");
    assert!(
        (server_heard - TONE_FROM_PAGE).abs() < 15.0,
        "the server heard {server_heard} Hz"
    );

    page.cue();
    assert_eq!(page.next(wait), "pressed");
    let pressed = wait_for(Duration::from_secs(5), || {
        !observed.lock().unwrap().digits.is_empty()
    });
    assert!(pressed, "no digit arrived");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        observed.lock().unwrap().digits,
        vec!['7'],
        "one press, one digit"
    );

    page.cue();
    assert_eq!(page.next(wait), "closed");
    let closed = Instant::now();
    // RFC 7675: consent expires 30 s after the last answered check.
    let ended = wait_for(Duration::from_secs(35), || {
        observed.lock().unwrap().ended.is_some()
    });
    assert!(ended, "the closed tab was not noticed");
    let (reason, at) = observed.lock().unwrap().ended.unwrap();
    eprintln!("{reason:?} {:?} after the tab closed", at - closed);
    assert_eq!(reason, EndReason::ConsentLost);
    assert!(
        at - closed <= Duration::from_secs(31),
        "consent loss took {:?}",
        at - closed
    );
    page.cue();
    assert!(page.finish(wait));
}

/// Starts the driver on loopback and the test's HTTP server; its base URL.
async fn serve(observed: Arc<Mutex<Observed>>) -> String {
    let settings = WebrtcSettings {
        bind_address: IpAddr::from([127, 0, 0, 1]),
        public_address: None,
        port_min: 40000,
        port_max: 40999,
        ..WebrtcSettings::default()
    };
    let driver = Arc::new(Driver::bind(&settings).await.expect("WebRTC socket"));
    let state = Test { driver, observed };
    let app = Router::new()
        .route(
            "/",
            get(|| async { Html("<!doctype html><title>call</title><p>call") }),
        )
        .route("/offer", post(offer))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Answers the page's offer (201 and the SDP answer) and serves the peer.
async fn offer(State(test): State<Test>, sdp: String) -> impl IntoResponse {
    match test.driver.answer(sdp).await {
        Ok((peer, answer)) => {
            tokio::spawn(talk(peer, test.observed));
            (StatusCode::CREATED, answer)
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// Plays the tone from connection on, and records what the page sends.
async fn talk(mut peer: PeerHandle, observed: Arc<Mutex<Observed>>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    let mut codec = None;
    let mut phase = 0usize;
    loop {
        tokio::select! {
            event = peer.next_event() => {
                let mut seen = observed.lock().unwrap();
                match event {
                    Some(PeerEvent::Connected { codec: c }) => {
                        codec = Some(c);
                        seen.connected = Some(c);
                    }
                    Some(PeerEvent::Audio { payload }) => seen.audio.extend_from_slice(&payload),
                    Some(PeerEvent::Digit(d)) => seen.digits.push(d.digit),
                    Some(PeerEvent::Ended(reason)) => {
                        seen.ended = Some((reason, Instant::now()));
                        return;
                    }
                    None => return,
                }
            }
            _ = ticks.tick() => {
                if let Some(codec) = codec {
                    let frame = tone_frame(codec, TONE_TO_PAGE, &mut phase);
                    let _ = peer.send_frame(&frame);
                }
            }
        }
    }
}

/// 20 ms of a sine at −6 dBFS, G.711-encoded, continuing from `phase`.
fn tone_frame(codec: Codec, frequency: f32, phase: &mut usize) -> Vec<u8> {
    (0..160)
        .map(|_| {
            let t = *phase as f32 / 8000.0;
            *phase += 1;
            codec.encode((16000.0 * (std::f32::consts::TAU * frequency * t).sin()) as i16)
        })
        .collect()
}

/// The strongest frequency of PCMU audio at 8 kHz.
fn dominant_frequency(pcmu: &[u8]) -> f32 {
    let samples: Vec<f32> = pcmu
        .iter()
        .map(|&code| f32::from(Codec::Pcmu.decode(code)))
        .collect();
    support::audio::dominant_frequency(&samples)
}

/// A 30-second mono WAV of one tone, made with sox, for the fake microphone.
fn tone_wav(dir: &Path, frequency: f32) -> String {
    let path = dir.join("microphone.wav");
    let status = Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(&path)
        .args(["synth", "30", "sine", &frequency.to_string(), "vol", "0.5"])
        .status()
        .expect("sox is installed (scripts/test installs it)");
    assert!(status.success());
    path.display().to_string()
}
