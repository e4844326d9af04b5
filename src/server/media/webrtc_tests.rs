//! WebRTC legs on the media workers, against a simulated browser (str0m on a
//! loopback UDP socket, offering PCMU, PCMA and telephone-event as Chromium
//! does) through the real WebRTC driver.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::super::tests::{negotiated, next_rtp, start_with};
use super::super::{MediaCommand, MediaEvent, MediaHandle, MediaOptions, bridge, spawn_webrtc};
use crate::dtmf::DigitSource;
use crate::dtmf::inband::ToneDetector;
use crate::rtp::packet::RtpPacket;
use crate::rtp::{Codec, Prompt};
use crate::webrtc::loopback::{Heard, Offers, dial_offering};
use crate::webrtc::{Driver, WebrtcSettings};

/// A browser connected to a WebRTC leg on the media workers.
struct Call {
    media: MediaHandle,
    events: crate::server::media::MediaEvents,
    seen: mpsc::UnboundedReceiver<Heard>,
    press: mpsc::UnboundedSender<u8>,
    _driver: Driver,
}

/// A browser that sends frames of `byte` every 20 ms once connected, and
/// its leg, after the leg reported `PeerConnected`.
async fn call(byte: u8) -> Call {
    call_offering(byte, Offers::G711).await
}

/// [`call`] with a browser that offers `offers`.
async fn call_offering(byte: u8, offers: Offers) -> Call {
    let settings = WebrtcSettings {
        bind_address: IpAddr::from([127, 0, 0, 1]),
        public_address: None,
        port_min: 42000,
        port_max: 42999,
        ..WebrtcSettings::default()
    };
    let driver = Driver::bind(&settings).await.expect("bound");
    let (peer, seen, press) = dial_offering(&driver, byte, offers).await;
    let (media, mut events) = spawn_webrtc(peer, MediaOptions::default());
    let connected = timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("connected within 10 s");
    assert_eq!(connected, Some(MediaEvent::PeerConnected));
    Call {
        media,
        events,
        seen,
        press,
        _driver: driver,
    }
}

impl Call {
    /// The next event other than a finished playback or bridge; panics after 5 s.
    async fn next_event(&mut self) -> MediaEvent {
        timeout(Duration::from_secs(5), self.events.recv())
            .await
            .expect("an event within 5 s")
            .expect("the media is running")
    }

    /// Audio the browser hears until `enough` of it, keys skipped; panics after 5 s.
    async fn hear(&mut self, enough: usize) -> Vec<u8> {
        let mut heard = Vec::new();
        while heard.len() < enough {
            match timeout(Duration::from_secs(5), self.seen.recv()).await {
                Ok(Some(Heard::Audio(payload))) => heard.extend(payload),
                Ok(Some(Heard::Key(_))) => {}
                _ => panic!("the browser heard {} bytes, not {enough}", heard.len()),
            }
        }
        heard
    }
}

#[tokio::test]
async fn a_prompt_reaches_the_browser_as_frames_and_its_end_is_reported() {
    let mut call = call(0xFF).await;
    let samples: Vec<i16> = (0..1600).map(|i| ((i % 40) * 400 - 8000) as i16).collect();
    let prompt = Arc::new(Prompt::from_samples("beep", None, &samples));
    call.media
        .send(MediaCommand::Play {
            id: 7,
            prompts: vec![prompt.clone()],
            barge_in: false,
            looping: false,
        })
        .await;
    let heard = call.hear(1600 + 160 * 10).await;
    // Chromium's and this browser's first preference is PCMU.
    let expected = prompt.encoded(Codec::Pcmu);
    assert!(
        heard.windows(expected.len()).any(|w| w == expected),
        "the prompt is heard intact"
    );
    assert_eq!(
        call.next_event().await,
        MediaEvent::PlaybackFinished {
            id: 7,
            interrupted: false
        }
    );
    call.media.send(MediaCommand::Shutdown).await;
    let MediaEvent::Stats(stats) = call.next_event().await else {
        panic!("no stats");
    };
    assert!(stats.sent_packets >= 20, "{stats:?}");
    assert!(stats.receiver.received > 0, "{stats:?}");
}

#[tokio::test]
async fn a_key_pressed_in_the_browser_is_one_digit_event_and_keys_go_back_as_rfc_4733() {
    let mut call = call(0xFF).await;
    call.press.send(5).unwrap();
    assert!(matches!(
        call.next_event().await,
        MediaEvent::Digit(d) if d.digit == '5' && d.source == DigitSource::Rfc4733
    ));
    call.media.send(MediaCommand::SendDigit('#')).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "the browser got no key");
        match timeout(Duration::from_secs(5), call.seen.recv()).await {
            Ok(Some(Heard::Key(key))) => {
                assert_eq!(key, 11, "'#' is event 11");
                break;
            }
            Ok(Some(Heard::Audio(_))) => {}
            _ => panic!("the browser stopped"),
        }
    }
    // One press, one event: no second digit follows.
    call.media.send(MediaCommand::Shutdown).await;
    assert!(matches!(call.next_event().await, MediaEvent::Stats(_)));
}

#[tokio::test]
async fn keys_to_a_browser_without_telephone_event_are_heard_as_tones() {
    let mut call = call_offering(0xFF, Offers::G711WithoutKeys).await;
    call.media.send(MediaCommand::SendDigit('5')).await;
    // A second of what the browser hears, keys as events counted apart.
    let mut heard = Vec::new();
    let mut keys = 0;
    while heard.len() < 8000 {
        match timeout(Duration::from_secs(5), call.seen.recv()).await {
            Ok(Some(Heard::Audio(payload))) => heard.extend(payload),
            Ok(Some(Heard::Key(_))) => keys += 1,
            _ => panic!("the browser heard {} bytes, not 8000", heard.len()),
        }
    }
    assert_eq!(
        keys, 0,
        "no RFC 4733 event to a browser that did not offer them"
    );
    let mut samples = vec![0i16; heard.len()];
    Codec::Pcmu.decode_into(&heard, &mut samples);
    let mut detector = ToneDetector::new();
    let start = Instant::now();
    for (i, frame) in samples.chunks(160).enumerate() {
        detector.handle_samples(start + Duration::from_millis(20 * i as u64), frame);
    }
    let digits: Vec<char> = std::iter::from_fn(|| detector.poll_digit())
        .map(|d| d.digit)
        .collect();
    assert_eq!(digits, vec!['5'], "the key is heard once, in-band");
    call.media.send(MediaCommand::Shutdown).await;
}

#[tokio::test]
async fn a_browser_and_a_phone_bridged_hear_each_other() {
    // The browser sends PCMU 0x9A; the phone PCMA 0x35.
    let mut browser = call(0x9A).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (phone_media, _phone_events) = start_with(negotiated(phone.local_addr().unwrap())).await;
    assert!(bridge(&browser.media, &phone_media).await);
    let to = phone_media.local_rtp().unwrap();
    let sender = tokio::spawn(phone_talks(Arc::new(phone), to));

    let from_browser = Codec::Pcma.encode(Codec::Pcmu.decode(0x9A));
    let from_phone = Codec::Pcmu.encode(Codec::Pcma.decode(0x35));
    let heard = browser.hear(160 * 50).await;
    assert!(
        heard.contains(&from_phone),
        "the browser hears the phone (PCMA → PCMU)"
    );
    let phone = sender.await.unwrap();
    let mut phone_heard = Vec::new();
    for _ in 0..50 {
        let packet = next_rtp(&phone).await;
        phone_heard.extend_from_slice(RtpPacket::parse(&packet).unwrap().payload);
    }
    assert!(
        phone_heard.contains(&from_browser),
        "the phone hears the browser (PCMU → PCMA)"
    );
    phone_media.send(MediaCommand::Shutdown).await;
    loop {
        if browser.next_event().await == MediaEvent::BridgeEnded {
            break;
        }
    }
}

/// The phone sends a second of PCMA 0x35 at 20 ms pace, then hands its socket back.
async fn phone_talks(phone: Arc<UdpSocket>, to: SocketAddr) -> Arc<UdpSocket> {
    let mut packet = Vec::new();
    for sequence in 0..100u16 {
        packet.clear();
        RtpPacket {
            marker: sequence == 0,
            payload_type: 8,
            sequence,
            timestamp: u32::from(sequence) * 160,
            ssrc: 4,
            csrc: &[],
            extension: None,
            payload: &[0x35; 160],
        }
        .write(&mut packet);
        phone.send_to(&packet, to).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    phone
}
