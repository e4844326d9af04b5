//! The driver's one socket serving two browsers at once (simulated with
//! str0m on real loopback UDP sockets): each hears its own peer only.

use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use super::driver::{Driver, DriverError, WebrtcSettings};
use super::loopback::{Heard, dial};
use super::peer::{OfferError, PeerEvent};

#[tokio::test]
async fn one_socket_keeps_two_browsers_apart() {
    let driver = loopback_driver(41000, 41999).await;
    let (mut first, mut first_heard, _) = dial(&driver, 0x11).await;
    let (mut second, mut second_heard, _) = dial(&driver, 0x22).await;

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
                let _ = first.send_frame(&[0xA1; 160]);
                let _ = second.send_frame(&[0xB2; 160]);
            }
            Some(event) = first.next_event() => if let PeerEvent::Audio { payload } = event { first_audio.push(payload[0]) },
            Some(event) = second.next_event() => if let PeerEvent::Audio { payload } = event { second_audio.push(payload[0]) },
        }
    }
    assert!(first_audio.iter().all(|b| *b == 0x11), "{first_audio:?}");
    assert!(second_audio.iter().all(|b| *b == 0x22), "{second_audio:?}");
    let heard_first = first_byte(&mut first_heard).await;
    let heard_second = first_byte(&mut second_heard).await;
    assert_eq!((heard_first, heard_second), (0xA1, 0xB2));

    let refused = driver.answer("v=0\r\ngarbage".into()).await.err();
    assert!(
        matches!(refused, Some(DriverError::Offer(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_reoffer_of_garbage_or_for_a_gone_peer_is_refused() {
    let driver = loopback_driver(42000, 42999).await;
    let (handle, _heard, _) = dial(&driver, 0x11).await;
    let control = handle.control();
    let garbage = control.reoffer("v=0\r\ngarbage".into()).await.err();
    assert!(
        matches!(garbage, Some(DriverError::Offer(OfferError::Malformed(_)))),
        "{garbage:?}"
    );
    // The call's media is gone: the signalling's late re-offer finds nothing.
    drop(handle);
    let gone = control.reoffer("v=0\r\n".into()).await.err();
    assert!(
        matches!(gone, Some(DriverError::Offer(OfferError::Refused(_)))),
        "{gone:?}"
    );
}

/// A driver on loopback, its socket on the first free port from `min` to `max`.
async fn loopback_driver(min: u16, max: u16) -> Driver {
    let settings = WebrtcSettings {
        bind_address: IpAddr::from([127, 0, 0, 1]),
        public_address: None,
        port_min: min,
        port_max: max,
        ..WebrtcSettings::default()
    };
    Driver::bind(&settings).await.expect("bound")
}

/// The first byte of the first frame a browser heard.
async fn first_byte(heard: &mut mpsc::UnboundedReceiver<Heard>) -> u8 {
    loop {
        match heard.recv().await.expect("the browser heard its peer") {
            Heard::Audio(frame) => return frame[0],
            Heard::Key(_) => {}
        }
    }
}
