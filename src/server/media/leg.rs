//! The media of one call leg: its RTP session, prompt player, DTMF detectors
//! and senders, and a bridge to another leg, advanced one frame at a time by
//! the worker that owns it (see `workers.rs`).

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tracing::debug;

use super::bridge::BridgeEnd;
use super::outgoing::Outgoing;
use super::silence::SilenceWatch;
use super::udp::{Datagrams, receive_batch};
use super::{MediaCommand, MediaEvent, MediaOptions};
use crate::dtmf::inband::{ToneDetector, ToneGenerator};
use crate::dtmf::rfc4733::Rfc4733Receiver;
use crate::rtp::{Channel, Codec, Player, PlayerEvent, Received, RtpSession};
use crate::sip::sdp::{Direction, Negotiated};

/// RTCP arrives every few seconds: its socket is read every this many frames,
/// saving a fruitless system call on nearly every frame.
const RTCP_READ_EVERY: u32 = 25;
/// The most datagrams read per socket and frame, so a flood cannot starve sending.
const MAX_READS_PER_FRAME: usize = 32;

pub(super) struct Leg {
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
    frames: u32,
    /// Watches for a peer gone quiet, when a timeout is configured.
    silence: Option<SilenceWatch>,
}

impl Leg {
    pub(super) fn new(
        session: RtpSession,
        options: MediaOptions,
        rtp: std::net::UdpSocket,
        rtcp: Option<std::net::UdpSocket>,
        commands: mpsc::Receiver<MediaCommand>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Leg {
        let negotiated = *session.negotiated();
        Leg {
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
            events,
            frames: 0,
            silence: options
                .rtp_timeout
                .map(|timeout| SilenceWatch::new(timeout, Instant::now())),
        }
    }

    /// RTP packets sent and received so far.
    pub(super) fn packets(&self) -> (u64, u64) {
        let stats = self.session.stats();
        (stats.sent_packets, stats.receiver.received)
    }

    /// When the leg next has work: its next frame or RTCP report.
    pub(super) fn due_at(&self) -> Instant {
        self.session.poll_timeout()
    }

    /// One frame's work at `now`: commands, what arrived since the last frame,
    /// then what is due to send. False when the leg has ended (its final
    /// `Stats` sent); the worker then drops it.
    ///
    /// Caller RTP is read on the send schedule, not on arrival: it costs no
    /// wake-up of its own. The price is that received audio and digits are seen
    /// up to one ptime later, and arrival times (RTCP jitter) are measured at
    /// that granularity.
    pub(super) fn run_frame(&mut self, now: Instant, datagrams: &mut Datagrams) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(MediaCommand::Shutdown) | Err(TryRecvError::Disconnected) => {
                    self.finish();
                    return false;
                }
                Ok(command) => self.command(command),
                Err(TryRecvError::Empty) => break,
            }
        }
        self.read_rtp(now, datagrams);
        self.frames = self.frames.wrapping_add(1);
        if self.frames.is_multiple_of(RTCP_READ_EVERY) {
            self.read_rtcp(datagrams);
        }
        self.watch_silence(now);
        self.transmit(now);
        true
    }

    /// Reports a peer that has sent nothing for the timeout. Only a call in
    /// both directions is expected to send: a phone that put us on hold may
    /// fall silent for as long as it likes.
    fn watch_silence(&mut self, now: Instant) {
        let Some(watch) = &mut self.silence else {
            return;
        };
        let stats = self.session.stats();
        let packets = stats.receiver.received + stats.rtcp_received;
        let expected = self.session.negotiated().direction == Direction::SendRecv;
        if let Some(silent_for) = watch.check(now, packets, expected) {
            let _ = self.events.send(MediaEvent::RtpTimeout { silent_for });
        }
    }

    fn finish(&mut self) {
        self.unbridge();
        let _ = self
            .events
            .send(MediaEvent::Stats(self.session.stats().clone()));
    }

    fn read_rtp(&mut self, now: Instant, datagrams: &mut Datagrams) {
        let mut read = 0;
        while read < MAX_READS_PER_FRAME {
            let count = match receive_batch(&self.rtp, datagrams) {
                Ok(count) => count,
                // ICMP port unreachable shows up here while the caller is not
                // listening yet; nothing to do but carry on.
                Err(e) => {
                    debug!(error = %e, "RTP receive error");
                    break;
                }
            };
            for i in 0..count {
                let (from, datagram) = datagrams.get(i);
                self.receive(now, from, datagram);
            }
            read += count;
            if count < datagrams.capacity() {
                break;
            }
        }
    }

    fn read_rtcp(&mut self, datagrams: &mut Datagrams) {
        let Some(rtcp) = &self.rtcp else { return };
        if let Ok(count) = receive_batch(rtcp, datagrams) {
            for i in 0..count {
                let (from, datagram) = datagrams.get(i);
                self.session.handle_rtcp(from, datagram);
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
