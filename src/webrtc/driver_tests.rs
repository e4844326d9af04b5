//! The driver's one socket serving two browsers at once (simulated with
//! str0m on real loopback UDP sockets): each hears its own peer only.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::format::Codec as RtcCodec;
use str0m::media::{Frequency, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, Input, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::driver::{Driver, DriverError, PeerHandle, WebrtcSettings};
use super::loopback::{Offers, offer};
use super::peer::PeerEvent;

#[tokio::test]
async fn one_socket_keeps_two_browsers_apart() {
    let settings = WebrtcSettings {
        bind_address: IpAddr::from([127, 0, 0, 1]),
        public_address: None,
        port_min: 41000,
        port_max: 41999,
    };
    let driver = Driver::bind(&settings).await.expect("bound");
    let (mut first, mut first_heard) = call(&driver, 0x11).await;
    let (mut second, mut second_heard) = call(&driver, 0x22).await;

    // Each peer plays its own byte; each browser must hear only its own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (mut first_audio, mut second_audio) = (Vec::new(), Vec::new());
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    while first_audio.len() < 10 || second_audio.len() < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "audio did not flow to both peers"
        );
        tokio::select! {
            _ = ticks.tick() => {
                let _ = first.send_frame(vec![0xA1; 160]);
                let _ = second.send_frame(vec![0xB2; 160]);
            }
            Some(event) = first.next_event() => if let PeerEvent::Audio { payload } = event { first_audio.push(payload[0]) },
            Some(event) = second.next_event() => if let PeerEvent::Audio { payload } = event { second_audio.push(payload[0]) },
        }
    }
    assert!(first_audio.iter().all(|b| *b == 0x11), "{first_audio:?}");
    assert!(second_audio.iter().all(|b| *b == 0x22), "{second_audio:?}");
    let heard_first = first_heard
        .recv()
        .await
        .expect("the first browser heard its peer");
    let heard_second = second_heard
        .recv()
        .await
        .expect("the second browser heard its peer");
    assert_eq!((heard_first, heard_second), (0xA1, 0xB2));

    let refused = driver.answer("v=0\r\ngarbage".into()).await.err();
    assert!(
        matches!(refused, Some(DriverError::Offer(_))),
        "{refused:?}"
    );
}

/// A simulated browser on its own socket that sends frames of `byte` and
/// reports the first byte of every frame it hears; its peer's handle.
async fn call(driver: &Driver, byte: u8) -> (PeerHandle, mpsc::Receiver<u8>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let (mut rtc, mid, pending, sdp) = offer(Instant::now(), Offers::G711, address);
    let (handle, answer) = driver.answer(sdp).await.expect("answered");
    let answer = SdpAnswer::from_sdp_string(&answer).unwrap();
    rtc.sdp_api().accept_answer(pending, answer).unwrap();
    let (heard, hearing) = mpsc::channel(64);
    tokio::spawn(browse(rtc, mid, socket, address, byte, heard));
    (handle, hearing)
}

/// Drives the browser's str0m on its socket, sending a frame every 20 ms once connected.
async fn browse(
    mut rtc: Rtc,
    mid: Mid,
    socket: UdpSocket,
    address: SocketAddr,
    byte: u8,
    heard: mpsc::Sender<u8>,
) {
    let mut buf = vec![0u8; 2000];
    let mut connected = false;
    let mut next_frame = Instant::now();
    let mut rtp_time = 0u64;
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(str0m::Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(str0m::Output::Event(Event::Connected)) => connected = true,
                Ok(str0m::Output::Event(Event::MediaData(data))) => {
                    let _ = heard.try_send(data.data[0]);
                }
                Ok(str0m::Output::Event(_)) => {}
                Ok(str0m::Output::Timeout(at)) => break at,
                Err(_) => return,
            }
        };
        let now = Instant::now();
        if connected && now >= next_frame {
            let writer = rtc.writer(mid).expect("audio");
            let pt = writer
                .payload_params()
                .find(|p| p.spec().codec == RtcCodec::PCMU)
                .expect("PCMU")
                .pt();
            let time = MediaTime::new(rtp_time, Frequency::EIGHT_KHZ);
            if writer.write(pt, now, time, vec![byte; 160]).is_err() {
                return;
            }
            rtp_time += 160;
            next_frame = now + Duration::from_millis(20);
            continue;
        }
        let wake = if connected {
            timeout.min(next_frame)
        } else {
            timeout
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { return };
                let Ok(receive) = Receive::new(Protocol::Udp, source, address, &buf[..n]) else { continue };
                if rtc.handle_input(Input::Receive(Instant::now(), receive)).is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                    return;
                }
            }
        }
    }
}
