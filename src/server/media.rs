//! The media of call legs: each leg's RTP session, prompt player, DTMF
//! detectors and senders, and a bridge to another leg, run by a few media
//! worker threads over non-blocking UDP sockets (see `workers.rs`).
//!
//! The call task holds a [`MediaHandle`] to send commands and a receiver of
//! [`MediaEvent`]s; the leg's state lives in its worker (`leg.rs`). The
//! benchmark (`cargo bench --bench media`) measures this design at scale.
//! Two bridged legs stay two legs, each on its own schedule (see `bridge.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use crate::dtmf::DigitEvent;
use crate::rtp::{Prompt, RtpSession, SessionStats};
use crate::sip::sdp::Negotiated;
use leg::{Leg, LegAudio};
use rtp_transport::RtpTransport;
use webrtc_transport::WebrtcTransport;

mod bridge;
mod leg;
mod outgoing;
mod rtp_transport;
mod silence;
mod webrtc_transport;
mod workers;

pub use crate::net::realtime::set_priority as set_realtime_priority;
pub use bridge::{BridgeEnd, bridge, bridge_pair};

/// The media workers' packet counts and lateness, for `/metrics`.
pub fn metrics() -> &'static crate::metrics::MediaMetrics {
    &workers::workers().metrics
}

/// What the call task can ask of its media.
#[derive(Debug)]
pub enum MediaCommand {
    /// Play prompts back to back (over and over if `looping`); `id` comes back in
    /// `PlaybackFinished`. With `barge_in`, a digit stops the playback at once.
    Play {
        id: u64,
        prompts: Vec<Arc<Prompt>>,
        barge_in: bool,
        looping: bool,
    },
    /// Stop the current playback.
    Stop,
    /// A re-INVITE changed the remote address, codec or direction.
    UpdateRemote(Negotiated),
    /// Stop sending (we put the caller on hold).
    Hold,
    /// Send again after `Hold`.
    Resume,
    /// Send the other leg's audio instead of silence, and ours to it, until
    /// `Unbridge` or the other leg's end (see [`bridge`]). A playback in
    /// progress stops (the bridge takes over); a later `Play` is heard instead
    /// of the other leg until it ends. Replaces an earlier bridge.
    Bridge(BridgeEnd),
    /// End the bridge, for both legs: each goes back to silence and reports
    /// `BridgeEnded`.
    Unbridge,
    /// Send a key press to this leg's peer: an RFC 4733 telephone-event when it
    /// negotiated telephone-event, else the DTMF tone pair in the audio. For
    /// relaying a digit across a bridge, as the shell decides: a digit that came
    /// in-band already travels in the bridged audio.
    SendDigit(char),
    /// End the leg's media; a final `Stats` event follows.
    Shutdown,
}

/// What the media of a leg reports to the call task.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A playback ended: to the end, or `interrupted` (barge-in, `Stop`, a new `Play`).
    PlaybackFinished { id: u64, interrupted: bool },
    /// A key pressed, as RFC 4733 telephone-event or in-band tone.
    Digit(DigitEvent),
    /// The bridge ended: `Unbridge` on either leg, a new `Bridge`, or the other
    /// leg's media ended. Sent once per bridge; the leg sends silence again.
    BridgeEnded,
    /// The peer has sent neither RTP nor RTCP for the configured timeout while
    /// not on hold: its phone or network is most likely gone. Sent once; sent
    /// again only after the peer has been heard in between.
    RtpTimeout { silent_for: Duration },
    /// The counters of the whole call, sent once when the media ends.
    Stats(Box<SessionStats>),
    /// A WebRTC leg's browser completed ICE and DTLS: audio flows.
    PeerConnected,
    /// A WebRTC leg's browser is gone (ICE consent lost, or closed); sent
    /// once. The leg sends nothing more; `Shutdown` still ends it.
    PeerEnded(crate::webrtc::EndReason),
}

/// Options for a call's media.
#[derive(Debug, Clone, Copy, Default)]
pub struct MediaOptions {
    /// Run the in-band DTMF detector even when telephone-event was negotiated.
    pub inband_dtmf_always: bool,
    /// Report `MediaEvent::RtpTimeout` when the peer has sent nothing for this long.
    pub rtp_timeout: Option<Duration>,
}

/// The call task's handle on its media.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    /// Boxed, as are the events: a channel's first block holds 32 messages
    /// for as long as the call lives, and a call sends few.
    commands: mpsc::Sender<Box<MediaCommand>>,
    local_rtp: Option<SocketAddr>,
}

/// The events of one leg's media, as the call task receives them.
#[derive(Debug)]
pub struct MediaEvents(mpsc::UnboundedReceiver<Box<MediaEvent>>);

impl MediaEvents {
    /// The next event; `None` once the media has ended and every event was read.
    pub async fn recv(&mut self) -> Option<MediaEvent> {
        self.0.recv().await.map(|event| *event)
    }
}

impl MediaHandle {
    /// Sends a command; false if the media has ended.
    pub async fn send(&self, command: MediaCommand) -> bool {
        self.commands.send(Box::new(command)).await.is_ok()
    }

    /// Passes on a key pressed on the leg bridged to this one. A key that came
    /// in-band is in the bridged audio already, so only RFC 4733 and SIP INFO
    /// keys are sent.
    pub async fn relay_digit(&self, digit: DigitEvent) {
        if digit.source != crate::dtmf::DigitSource::InBand {
            self.send(MediaCommand::SendDigit(digit.digit)).await;
        }
    }

    /// The local RTP address of the call; `None` for a WebRTC leg, whose
    /// media shares the WebRTC driver's socket.
    pub fn local_rtp(&self) -> Option<SocketAddr> {
        self.local_rtp
    }
}

/// Answers a re-INVITE's offer (hold, resume, a new address) and points the
/// leg's media at what was agreed; an empty offer asks for ours. An offer we
/// cannot accept keeps the session as it was, and our current offer answers.
/// Gives our SDP and, when an offer was agreed, our direction from now on
/// (the peer holds the call when we may no longer send: RFC 3264 §8.4).
pub async fn answer_reoffer(
    sdp: &mut crate::sip::sdp::SdpSession,
    offer: &[u8],
    media: Option<&MediaHandle>,
) -> (Vec<u8>, Option<crate::sip::sdp::Direction>) {
    if offer.is_empty() {
        return (sdp.offer(), None);
    }
    match sdp.answer(offer) {
        Ok((body, agreed)) => {
            if let Some(media) = media {
                media.send(MediaCommand::UpdateRemote(agreed)).await;
            }
            (body, Some(agreed.direction))
        }
        Err(error) => {
            tracing::warn!(%error, "re-offer not acceptable; keeping the session");
            (sdp.offer(), None)
        }
    }
}

/// Starts the media of an answered call on its bound RTP socket: its first
/// packet leaves within a millisecond or so, silence until a `Play`.
///
/// RTCP uses the next port when it can be bound; otherwise the call runs
/// without RTCP (RTP does not depend on it).
pub fn spawn(
    rtp: UdpSocket,
    negotiated: Negotiated,
    options: MediaOptions,
) -> std::io::Result<(MediaHandle, MediaEvents)> {
    let local_rtp = rtp.local_addr()?;
    // Plain non-blocking sockets: the worker reads them on the leg's schedule,
    // so they need no registration with the reactor.
    let rtp = rtp.into_std()?;
    rtp.set_nonblocking(true)?;
    let rtcp = std::net::UdpSocket::bind(SocketAddr::new(
        local_rtp.ip(),
        local_rtp.port().wrapping_add(1),
    ))
    .and_then(|s| s.set_nonblocking(true).map(|()| s))
    .map_err(|e| debug!(error = %e, "no RTCP port; running without RTCP"))
    .ok();
    let (commands_tx, commands) = mpsc::channel(16);
    let (events_tx, events) = mpsc::unbounded_channel();
    let workers = workers::workers();
    let now = Instant::now();
    let start = workers.start_time(now);
    let wallclock = SystemTime::now() + (start - now);
    let session = RtpSession::new(start, negotiated, &mut rand::rng(), wallclock);
    let inband = rtp_transport::inband_wanted(options, &negotiated);
    let audio = LegAudio::new(negotiated.codec, inband, options, events_tx);
    let transport = RtpTransport::new(session, rtp, rtcp);
    workers.add(Leg::new(audio, Box::new(transport), commands));
    Ok((
        MediaHandle {
            commands: commands_tx,
            local_rtp: Some(local_rtp),
        },
        MediaEvents(events),
    ))
}

/// Starts the media of a browser's WebRTC peer (answered by the WebRTC
/// driver) on the media workers, beside the RTP legs: prompts, DTMF, the
/// silence watch and bridges work as for RTP. The browser's keys come as
/// `MediaEvent::Digit`, its connection as `MediaEvent::PeerConnected` and its
/// end (ICE consent lost, closed) as `MediaEvent::PeerEnded`;
/// `MediaCommand::SendDigit` goes to it as RFC 4733. Silence is sent until
/// a `Play` or a `Bridge`, from the moment the peer connects.
pub fn spawn_webrtc(
    peer: crate::webrtc::PeerHandle,
    options: MediaOptions,
) -> (MediaHandle, MediaEvents) {
    let (commands_tx, commands) = mpsc::channel(16);
    let (events_tx, events) = mpsc::unbounded_channel();
    let workers = workers::workers();
    let start = workers.start_time(Instant::now());
    // Browsers offer telephone-event (Chromium always does): in-band
    // detection only when configured for every call, or for one that does
    // not. The codec is the browser's choice, known once it connects.
    let audio = LegAudio::new(
        crate::rtp::Codec::Pcmu,
        options.inband_dtmf_always || !peer.has_telephone_event(),
        options,
        events_tx,
    );
    let transport = WebrtcTransport::new(peer, start);
    workers.add(Leg::new(audio, Box::new(transport), commands));
    let handle = MediaHandle {
        commands: commands_tx,
        local_rtp: None,
    };
    (handle, MediaEvents(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::Codec;
    use crate::rtp::packet::RtpPacket;
    use crate::sip::sdp::Direction;
    use std::time::Duration;
    use tokio::time::timeout;

    /// What a test call negotiates with `remote`: PCMA, telephone-event 101, 20 ms.
    pub(super) fn negotiated(remote: SocketAddr) -> Negotiated {
        Negotiated {
            remote_rtp: remote,
            codec: Codec::Pcma,
            telephone_event_pt: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
        }
    }

    /// Media on a loopback port.
    pub(super) async fn start_with(negotiated: Negotiated) -> (MediaHandle, MediaEvents) {
        let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        spawn(rtp, negotiated, MediaOptions::default()).unwrap()
    }

    async fn start(remote: SocketAddr) -> (MediaHandle, MediaEvents) {
        start_with(negotiated(remote)).await
    }

    /// The next RTP packet `socket` receives, RTCP skipped; panics after 2 s.
    pub(super) async fn next_rtp(socket: &UdpSocket) -> Vec<u8> {
        let mut buf = [0u8; 1500];
        loop {
            let (n, _) = timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
                .await
                .expect("no RTP within 2 s")
                .unwrap();
            // Skip RTCP should it arrive here.
            if n >= 12 && !(200..=204).contains(&buf[1]) {
                return buf[..n].to_vec();
            }
        }
    }

    #[tokio::test]
    async fn prompt_is_played_as_paced_rtp_and_its_end_reported() {
        let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (media, mut events) = start(caller.local_addr().unwrap()).await;
        let samples: Vec<i16> = (0..800).map(|i| ((i % 40) * 400 - 8000) as i16).collect();
        let prompt = Arc::new(Prompt::from_samples("beep", None, &samples));
        assert!(
            media
                .send(MediaCommand::Play {
                    id: 42,
                    prompts: vec![prompt.clone()],
                    barge_in: true,
                    looping: false,
                })
                .await
        );
        let mut heard = Vec::new();
        let mut arrivals = Vec::new();
        while heard.len() < 800 + 160 * 3 {
            let packet = next_rtp(&caller).await;
            arrivals.push(Instant::now());
            let p = RtpPacket::parse(&packet).unwrap();
            assert_eq!(p.payload_type, 8);
            heard.extend_from_slice(p.payload);
        }
        let expected = prompt.encoded(Codec::Pcma);
        let start = heard
            .windows(expected.len())
            .position(|w| w == expected)
            .expect("the prompt is heard intact");
        assert!(start <= 160, "prompt starts within one packet of the Play");
        let finished = timeout(Duration::from_secs(1), events.recv())
            .await
            .unwrap();
        assert_eq!(
            finished,
            Some(MediaEvent::PlaybackFinished {
                id: 42,
                interrupted: false
            })
        );
        let span = *arrivals.last().unwrap() - arrivals[0];
        let expected_span = Duration::from_millis(20 * (arrivals.len() as u64 - 1));
        assert!(
            span + Duration::from_millis(30) >= expected_span,
            "paced, not burst: {span:?}"
        );
        media.send(MediaCommand::Shutdown).await;
        assert!(matches!(events.recv().await, Some(MediaEvent::Stats(_))));
    }

    #[tokio::test]
    async fn rtp_follows_the_callers_actual_source_address() {
        let announced = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let actual = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (media, mut events) = start(announced.local_addr().unwrap()).await;
        next_rtp(&announced).await;
        let mut packet = Vec::new();
        RtpPacket {
            marker: true,
            payload_type: 8,
            sequence: 1,
            timestamp: 0,
            ssrc: 5,
            csrc: &[],
            extension: None,
            payload: &[0xD5; 160],
        }
        .write(&mut packet);
        actual
            .send_to(&packet, media.local_rtp().unwrap())
            .await
            .unwrap();
        next_rtp(&actual).await;
        media.send(MediaCommand::Shutdown).await;
        let Some(MediaEvent::Stats(stats)) = events.recv().await else {
            panic!("no stats");
        };
        assert_eq!(stats.receiver.received, 1);
        assert!(stats.sent_packets >= 2);
    }

    #[tokio::test]
    async fn a_telephone_event_is_reported_once_and_barges_in() {
        let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (media, mut events) = start(caller.local_addr().unwrap()).await;
        let prompt = Arc::new(Prompt::from_samples("long", None, &vec![4000i16; 80_000]));
        media
            .send(MediaCommand::Play {
                id: 9,
                prompts: vec![prompt],
                barge_in: true,
                looping: false,
            })
            .await;
        next_rtp(&caller).await;
        // Key 5: start packet with marker, an update, then the end packet three times.
        for (seq, marker, end, duration) in [
            (10u16, true, false, 160u16),
            (11, false, false, 320),
            (12, false, true, 480),
            (13, false, true, 480),
            (14, false, true, 480),
        ] {
            let payload = [
                5,
                if end { 0x8A } else { 0x0A },
                (duration >> 8) as u8,
                duration as u8,
            ];
            let mut packet = Vec::new();
            RtpPacket {
                marker,
                payload_type: 101,
                sequence: seq,
                timestamp: 8000,
                ssrc: 77,
                csrc: &[],
                extension: None,
                payload: &payload,
            }
            .write(&mut packet);
            caller
                .send_to(&packet, media.local_rtp().unwrap())
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let event = timeout(Duration::from_secs(2), events.recv())
                .await
                .unwrap()
                .unwrap();
            seen.push(event);
        }
        assert!(matches!(&seen[0], MediaEvent::Digit(d) if d.digit == '5'));
        assert_eq!(
            seen[1],
            MediaEvent::PlaybackFinished {
                id: 9,
                interrupted: true
            }
        );
        media.send(MediaCommand::Shutdown).await;
        let Some(MediaEvent::Stats(_)) = events.recv().await else {
            panic!("a second digit or no stats");
        };
    }

    #[tokio::test]
    async fn a_peer_that_sends_nothing_is_reported_once_and_one_that_sends_is_not() {
        let options = MediaOptions {
            rtp_timeout: Some(Duration::from_millis(300)),
            ..MediaOptions::default()
        };
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let talking = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let start = |socket: &UdpSocket| {
            let negotiated = negotiated(socket.local_addr().unwrap());
            async move {
                let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                spawn(rtp, negotiated, options).unwrap()
            }
        };
        let (silent_media, mut silent_events) = start(&silent).await;
        let (talking_media, mut talking_events) = start(&talking).await;
        let mut packet = Vec::new();
        for sequence in 0..50u16 {
            packet.clear();
            RtpPacket {
                marker: sequence == 0,
                payload_type: 8,
                sequence,
                timestamp: u32::from(sequence) * 160,
                ssrc: 9,
                csrc: &[],
                extension: None,
                payload: &[0xD5; 160],
            }
            .write(&mut packet);
            talking
                .send_to(&packet, talking_media.local_rtp().unwrap())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let event = timeout(Duration::from_millis(100), silent_events.recv())
            .await
            .expect("the silent peer is reported");
        assert!(
            matches!(event, Some(MediaEvent::RtpTimeout { silent_for }) if silent_for >= Duration::from_millis(300)),
            "{event:?}"
        );
        for (media, events) in [
            (silent_media, &mut silent_events),
            (talking_media, &mut talking_events),
        ] {
            media.send(MediaCommand::Shutdown).await;
            let Some(MediaEvent::Stats(_)) = events.recv().await else {
                panic!("a second report, or one for the talking peer");
            };
        }
    }
}
