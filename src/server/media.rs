//! The media task of one call leg: drives the RTP session, the prompt player,
//! the DTMF detectors and senders, and a bridge to another leg, with a UDP
//! socket and tokio timers.
//!
//! One task per leg: each wake-up does one frame's work (a send, maybe a
//! receive), so a task is cheap and the per-leg state stays in one place. The
//! benchmark (`cargo bench --bench media`) measures the cost of this choice.
//! Two bridged legs stay two tasks, each on its own schedule (see `bridge.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use crate::dtmf::DigitEvent;
use crate::dtmf::inband::{ToneDetector, ToneGenerator};
use crate::dtmf::rfc4733::Rfc4733Receiver;
use crate::rtp::{Channel, Codec, Player, PlayerEvent, Prompt, Received, RtpSession, SessionStats};
use crate::sip::sdp::Negotiated;

mod bridge;
mod outgoing;

pub use bridge::{BridgeEnd, bridge, bridge_pair};
use outgoing::Outgoing;

/// What the call task can ask of its media task.
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
    /// End the task; a final `Stats` event follows.
    Shutdown,
}

/// What the media task reports to the call task.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A playback ended: to the end, or `interrupted` (barge-in, `Stop`, a new `Play`).
    PlaybackFinished { id: u64, interrupted: bool },
    /// A key pressed, as RFC 4733 telephone-event or in-band tone.
    Digit(DigitEvent),
    /// The bridge ended: `Unbridge` on either leg, a new `Bridge`, or the other
    /// leg's task ended. Sent once per bridge; the leg sends silence again.
    BridgeEnded,
    /// The counters of the whole call, sent once when the task ends.
    Stats(SessionStats),
}

/// Options for a call's media.
#[derive(Debug, Clone, Copy, Default)]
pub struct MediaOptions {
    /// Run the in-band DTMF detector even when telephone-event was negotiated.
    pub inband_dtmf_always: bool,
}

/// The call task's handle on its media task.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    commands: mpsc::Sender<MediaCommand>,
    local_rtp: SocketAddr,
}

impl MediaHandle {
    /// Sends a command; false if the media task has ended.
    pub async fn send(&self, command: MediaCommand) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// The local RTP address of the call.
    pub fn local_rtp(&self) -> SocketAddr {
        self.local_rtp
    }
}

/// Answers a re-INVITE's offer (hold, resume, a new address) and points the
/// leg's media at what was agreed; an empty offer asks for ours. An offer we
/// cannot accept keeps the session as it was, and our current offer answers.
pub async fn answer_reoffer(
    sdp: &mut crate::sip::sdp::SdpSession,
    offer: &[u8],
    media: Option<&MediaHandle>,
) -> Vec<u8> {
    if offer.is_empty() {
        return sdp.offer();
    }
    match sdp.answer(offer) {
        Ok((body, agreed)) => {
            if let Some(media) = media {
                media.send(MediaCommand::UpdateRemote(agreed)).await;
            }
            body
        }
        Err(error) => {
            tracing::warn!(%error, "re-offer not acceptable; keeping the session");
            sdp.offer()
        }
    }
}

/// Starts the media task of an answered call on its bound RTP socket.
///
/// RTCP uses the next port when it can be bound; otherwise the call runs
/// without RTCP (RTP does not depend on it).
pub fn spawn(
    rtp: UdpSocket,
    negotiated: Negotiated,
    options: MediaOptions,
) -> std::io::Result<(MediaHandle, mpsc::UnboundedReceiver<MediaEvent>)> {
    let local_rtp = rtp.local_addr()?;
    // Plain non-blocking sockets: the task reads them on its own schedule, so they
    // need no registration with the reactor (see `MediaTask::run`).
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
    let now = Instant::now();
    let session = RtpSession::new(now, negotiated, &mut rand::rng(), SystemTime::now());
    let task = MediaTask {
        session,
        player: Player::new(),
        barge_in: false,
        codec: negotiated.codec,
        telephone_events: Rfc4733Receiver::new(),
        tones: inband_detector(options, &negotiated),
        digit_tones: ToneGenerator::new(),
        bridge: None,
        options,
        rtp,
        rtcp,
        commands,
        events: events_tx,
    };
    tokio::spawn(task.run());
    Ok((
        MediaHandle {
            commands: commands_tx,
            local_rtp,
        },
        events,
    ))
}

struct MediaTask {
    session: RtpSession,
    player: Player,
    barge_in: bool,
    codec: Codec,
    telephone_events: Rfc4733Receiver,
    /// The in-band detector, when the call needs it.
    tones: Option<ToneDetector>,
    /// Digits sent in-band, to a peer without telephone-event.
    digit_tones: ToneGenerator,
    bridge: Option<BridgeEnd>,
    options: MediaOptions,
    rtp: std::net::UdpSocket,
    rtcp: Option<std::net::UdpSocket>,
    commands: mpsc::Receiver<MediaCommand>,
    events: mpsc::UnboundedSender<MediaEvent>,
}

/// The most datagrams read per socket and wake-up, so a flood cannot starve sending.
const MAX_READS_PER_WAKE: usize = 32;
/// RTCP arrives every few seconds: its socket is read every this many wake-ups,
/// saving a fruitless system call on nearly every frame.
const RTCP_READ_EVERY: u32 = 25;

impl MediaTask {
    /// Wakes on the send schedule only: each wake-up reads what arrived since the
    /// last one, then sends what is due. Caller RTP (50 packets/s) thus costs no
    /// wake-up of its own, which halves the task's wake-ups; the price is that
    /// received audio and digits are seen up to one ptime later, and arrival times
    /// (RTCP jitter) are measured at that granularity.
    async fn run(mut self) {
        let mut buf = [0u8; 1500];
        let sleep = tokio::time::sleep_until(self.session.poll_timeout().into());
        tokio::pin!(sleep);
        self.transmit(Instant::now());
        let mut wakes: u32 = 0;
        loop {
            sleep.as_mut().reset(self.session.poll_timeout().into());
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    None | Some(MediaCommand::Shutdown) => break,
                    Some(command) => self.command(command),
                },
                _ = &mut sleep => {}
            }
            let now = Instant::now();
            self.read_rtp(now, &mut buf);
            wakes = wakes.wrapping_add(1);
            if wakes.is_multiple_of(RTCP_READ_EVERY) {
                self.read_rtcp(&mut buf);
            }
            self.transmit(now);
        }
        self.unbridge();
        let _ = self
            .events
            .send(MediaEvent::Stats(self.session.stats().clone()));
    }

    fn read_rtp(&mut self, now: Instant, buf: &mut [u8]) {
        for _ in 0..MAX_READS_PER_WAKE {
            match self.rtp.recv_from(buf) {
                Ok((n, from)) => self.receive(now, from, &buf[..n.min(buf.len())]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP port unreachable shows up here while the caller is not
                // listening yet; nothing to do but carry on.
                Err(e) => {
                    debug!(error = %e, "RTP receive error");
                    break;
                }
            }
        }
    }

    fn read_rtcp(&mut self, buf: &mut [u8]) {
        let Some(rtcp) = &self.rtcp else { return };
        for _ in 0..MAX_READS_PER_WAKE {
            match rtcp.recv_from(buf) {
                Ok((n, from)) => self.session.handle_rtcp(from, &buf[..n.min(buf.len())]),
                Err(_) => break,
            }
        }
    }

    fn command(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Play {
                id,
                prompts,
                barge_in,
                looping,
            } => {
                self.player.play(id, prompts, looping);
                self.barge_in = barge_in;
            }
            MediaCommand::Stop => {
                self.player.stop();
            }
            MediaCommand::UpdateRemote(negotiated) => {
                self.codec = negotiated.codec;
                let wanted = inband_wanted(self.options, &negotiated);
                if wanted != self.tones.is_some() {
                    self.tones = inband_detector(self.options, &negotiated);
                }
                self.session.update_remote(negotiated);
            }
            MediaCommand::Hold => self.session.set_on_hold(true),
            MediaCommand::Resume => self.session.set_on_hold(false),
            MediaCommand::Bridge(end) => {
                self.unbridge();
                self.player.stop();
                self.bridge = Some(end);
            }
            MediaCommand::Unbridge => self.unbridge(),
            MediaCommand::SendDigit(digit) => {
                let queued = if self.session.negotiated().telephone_event_pt.is_some() {
                    self.session.send_digit(digit)
                } else {
                    self.digit_tones.queue(digit)
                };
                if !queued {
                    debug!(?digit, "digit not sent: no DTMF key, or too many waiting");
                }
            }
            MediaCommand::Shutdown => {}
        }
    }

    /// Leaves the bridge, if any, and says so; the other leg notices by itself.
    fn unbridge(&mut self) {
        if self.bridge.take().is_some() {
            let _ = self.events.send(MediaEvent::BridgeEnded);
        }
    }

    fn receive(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match self.session.handle_rtp(now, from, datagram) {
            Received::Audio { payload, .. } => {
                if self.tones.is_some() || self.bridge.is_some() {
                    // Decoded on the stack: no allocation per packet.
                    let mut samples = [0i16; 480];
                    for codes in payload.chunks(samples.len()) {
                        let samples = &mut samples[..codes.len()];
                        self.codec.decode_into(codes, samples);
                        if let Some(tones) = &mut self.tones {
                            tones.handle_samples(now, samples);
                        }
                        if let Some(bridge) = &self.bridge {
                            bridge.send_audio(samples);
                        }
                    }
                }
            }
            Received::TelephoneEvent {
                timestamp,
                sequence,
                marker,
                payload,
            } => self
                .telephone_events
                .handle_packet(now, timestamp, sequence, marker, payload),
            Received::Dropped(_) => {}
        }
        let mut pressed = false;
        while let Some(digit) = self.telephone_events.poll_digit() {
            pressed = true;
            let _ = self.events.send(MediaEvent::Digit(digit));
        }
        while let Some(digit) = self.tones.as_mut().and_then(ToneDetector::poll_digit) {
            pressed = true;
            let _ = self.events.send(MediaEvent::Digit(digit));
        }
        // Barge-in: a key stops the prompt at once, before the call task reacts.
        if pressed && self.barge_in {
            self.player.stop();
        }
    }

    /// Sends everything due, then reports finished playbacks.
    fn transmit(&mut self, now: Instant) {
        if self.bridge.as_ref().is_some_and(|b| !b.is_open()) {
            self.unbridge();
        }
        self.session.handle_timeout(now);
        let mut source = Outgoing {
            player: &mut self.player,
            bridge: self.bridge.as_ref(),
            digit_tones: &mut self.digit_tones,
        };
        while let Some(t) = self.session.poll_transmit(&mut source) {
            let socket = match t.channel {
                Channel::Rtp => &self.rtp,
                Channel::Rtcp => match &self.rtcp {
                    Some(s) => s,
                    None => continue,
                },
            };
            // One non-blocking send per packet; a full socket buffer drops the
            // packet rather than delaying the ones behind it.
            if let Err(e) = socket.send_to(t.contents, t.destination) {
                debug!(error = %e, destination = %t.destination, "RTP send failed");
            }
        }
        while let Some(event) = self.player.poll_event() {
            let PlayerEvent::Finished { id, interrupted } = event;
            let _ = self
                .events
                .send(MediaEvent::PlaybackFinished { id, interrupted });
        }
    }
}

/// The in-band detector runs when the caller did not negotiate telephone-event,
/// or on every call when configured so.
fn inband_wanted(options: MediaOptions, negotiated: &Negotiated) -> bool {
    options.inband_dtmf_always || negotiated.telephone_event_pt.is_none()
}

fn inband_detector(options: MediaOptions, negotiated: &Negotiated) -> Option<ToneDetector> {
    inband_wanted(options, negotiated).then(ToneDetector::new)
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

    /// A media task on a loopback port.
    pub(super) async fn start_with(
        negotiated: Negotiated,
    ) -> (MediaHandle, mpsc::UnboundedReceiver<MediaEvent>) {
        let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        spawn(rtp, negotiated, MediaOptions::default()).unwrap()
    }

    async fn start(remote: SocketAddr) -> (MediaHandle, mpsc::UnboundedReceiver<MediaEvent>) {
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
        actual.send_to(&packet, media.local_rtp()).await.unwrap();
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
            caller.send_to(&packet, media.local_rtp()).await.unwrap();
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
}
