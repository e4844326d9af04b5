//! The media of one call leg: its prompt player, DTMF detectors and senders,
//! and a bridge to another leg, over a transport (RTP on a UDP socket, or a
//! browser's WebRTC peer), advanced one frame at a time by the worker that
//! owns it (see `workers.rs`).
//!
//! The leg is split in two so another media transport shares everything
//! above the wire: [`LegAudio`] is what a leg hears and says (playback,
//! digits, bridge, events to the call), the same for every transport;
//! a [`Transport`] moves that audio and those digits to and from the peer
//! on its own schedule (`rtp_transport.rs`, `webrtc_transport.rs`).

use std::time::Instant;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::bridge::BridgeEnd;
use super::outgoing::Outgoing;
use super::silence::SilenceWatch;
use super::{MediaCommand, MediaEvent, MediaOptions};
use crate::dtmf::DigitEvent;
use crate::dtmf::inband::{ToneDetector, ToneGenerator};
use crate::dtmf::rfc4733::Rfc4733Receiver;
use crate::net::udp::Datagrams;
use crate::rtp::{Codec, Player, PlayerEvent, SessionStats};

/// A media transport under a leg: it moves the leg's audio and digits to and
/// from the peer, and decides when the leg next has work.
pub(super) trait Transport: Send {
    /// When the leg next has work: its next frame, report or read.
    fn due_at(&self) -> Instant;

    /// Media packets sent and received so far, for the workers' counters.
    fn packets(&self) -> (u64, u64);

    /// Reads what arrived since the last frame and hands it to `audio`.
    fn receive(&mut self, now: Instant, datagrams: &mut Datagrams, audio: &mut LegAudio);

    /// Packets heard from the peer so far, and whether it is expected to be
    /// sending now (not on hold, connected): for the silence watch.
    fn heard(&self) -> (u64, bool);

    /// Sends what is due at `now`, its audio taken from `audio`.
    fn transmit(&mut self, now: Instant, audio: &mut LegAudio);

    /// Carries out a command about the wire: `UpdateRemote`, `Hold`,
    /// `Resume`, `SendDigit`.
    fn command(&mut self, command: MediaCommand, audio: &mut LegAudio);

    /// The counters of the whole leg, for its final `Stats` event.
    fn stats(&self) -> SessionStats;
}

/// One call leg on a media worker: its audio and its transport.
pub(super) struct Leg {
    audio: LegAudio,
    transport: Box<dyn Transport>,
    commands: mpsc::Receiver<Box<MediaCommand>>,
    /// Watches for a peer gone quiet, when a timeout is configured.
    silence: Option<SilenceWatch>,
}

impl Leg {
    pub(super) fn new(
        audio: LegAudio,
        transport: Box<dyn Transport>,
        commands: mpsc::Receiver<Box<MediaCommand>>,
    ) -> Leg {
        let silence = audio
            .options
            .rtp_timeout
            .map(|timeout| SilenceWatch::new(timeout, Instant::now()));
        Leg {
            audio,
            transport,
            commands,
            silence,
        }
    }

    /// Media packets sent and received so far.
    pub(super) fn packets(&self) -> (u64, u64) {
        self.transport.packets()
    }

    /// When the leg next has work.
    pub(super) fn due_at(&self) -> Instant {
        self.transport.due_at()
    }

    /// One frame's work at `now`: commands, what arrived since the last frame,
    /// then what is due to send. False when the leg has ended (its final
    /// `Stats` sent); the worker then drops it.
    ///
    /// What the peer sent is read on the send schedule, not on arrival: it
    /// costs no wake-up of its own. The price is that received audio and
    /// digits are seen up to one ptime later, and arrival times (RTCP jitter)
    /// are measured at that granularity.
    pub(super) fn run_frame(&mut self, now: Instant, datagrams: &mut Datagrams) -> bool {
        loop {
            match self.commands.try_recv().map(|command| *command) {
                Ok(MediaCommand::Shutdown) | Err(TryRecvError::Disconnected) => {
                    self.audio.unbridge();
                    self.audio
                        .report(MediaEvent::Stats(Box::new(self.transport.stats())));
                    return false;
                }
                Ok(
                    command @ (MediaCommand::UpdateRemote(_)
                    | MediaCommand::Hold
                    | MediaCommand::Resume
                    | MediaCommand::SendDigit(_)),
                ) => self.transport.command(command, &mut self.audio),
                Ok(command) => self.audio.command(command),
                Err(TryRecvError::Empty) => break,
            }
        }
        self.transport.receive(now, datagrams, &mut self.audio);
        self.watch_silence(now);
        self.audio.check_bridge();
        self.transport.transmit(now, &mut self.audio);
        self.audio.report_playbacks();
        true
    }

    /// Reports a peer that has sent nothing for the timeout. Only a peer
    /// expected to send counts: a phone that put us on hold may fall silent
    /// for as long as it likes.
    fn watch_silence(&mut self, now: Instant) {
        let Some(watch) = &mut self.silence else {
            return;
        };
        let (packets, expected) = self.transport.heard();
        if let Some(silent_for) = watch.check(now, packets, expected) {
            self.audio.report(MediaEvent::RtpTimeout { silent_for });
        }
    }
}

/// What a leg hears and says, whatever its transport: the prompt player,
/// the DTMF receivers and in-band sender, the bridge, and the call's events.
pub(super) struct LegAudio {
    player: Player,
    barge_in: bool,
    /// The G.711 codec on the wire, as the transport agreed it.
    codec: Codec,
    telephone_events: Rfc4733Receiver,
    /// The in-band detector, when the call needs it.
    tones: Option<ToneDetector>,
    /// Digits sent in-band, to a peer without telephone-event.
    pub(super) digit_tones: ToneGenerator,
    bridge: Option<BridgeEnd>,
    options: MediaOptions,
    events: mpsc::UnboundedSender<Box<MediaEvent>>,
}

impl LegAudio {
    /// A leg's audio in `codec`; `inband` runs the in-band DTMF detector.
    pub(super) fn new(
        codec: Codec,
        inband: bool,
        options: MediaOptions,
        events: mpsc::UnboundedSender<Box<MediaEvent>>,
    ) -> LegAudio {
        LegAudio {
            player: Player::new(),
            barge_in: false,
            codec,
            telephone_events: Rfc4733Receiver::new(),
            tones: inband.then(ToneDetector::new),
            digit_tones: ToneGenerator::new(),
            bridge: None,
            options,
            events,
        }
    }

    /// The media options of the call.
    pub(super) fn options(&self) -> MediaOptions {
        self.options
    }

    /// The codec on the wire changed (a re-INVITE, a browser's answer).
    pub(super) fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
    }

    /// Runs the in-band detector or not (a re-INVITE added or dropped
    /// telephone-event).
    pub(super) fn set_inband(&mut self, inband: bool) {
        if inband != self.tones.is_some() {
            self.tones = inband.then(ToneDetector::new);
        }
    }

    /// Tells the call task something; a call that stopped listening is gone.
    pub(super) fn report(&self, event: MediaEvent) {
        let _ = self.events.send(Box::new(event));
    }

    /// Audio the peer sent, in the wire's codec: to the in-band detector and
    /// across the bridge.
    pub(super) fn audio_received(&mut self, now: Instant, payload: &[u8]) {
        if self.tones.is_none() && self.bridge.is_none() {
            return;
        }
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
        self.poll_digits();
    }

    /// An RFC 4733 packet as RTP carried it.
    pub(super) fn telephone_event(
        &mut self,
        now: Instant,
        timestamp: u32,
        sequence: u16,
        marker: bool,
        payload: &[u8],
    ) {
        self.telephone_events
            .handle_packet(now, timestamp, sequence, marker, payload);
        self.poll_digits();
    }

    /// A key the transport decoded itself (a WebRTC peer's RFC 4733).
    pub(super) fn digit(&mut self, digit: DigitEvent) {
        self.report(MediaEvent::Digit(digit));
        self.barge_in_now();
    }

    /// Reports the keys the detectors found; with barge-in, a key stops the
    /// prompt at once, before the call task reacts.
    fn poll_digits(&mut self) {
        let mut pressed = false;
        while let Some(digit) = self.telephone_events.poll_digit() {
            pressed = true;
            self.report(MediaEvent::Digit(digit));
        }
        while let Some(digit) = self.tones.as_mut().and_then(ToneDetector::poll_digit) {
            pressed = true;
            self.report(MediaEvent::Digit(digit));
        }
        if pressed {
            self.barge_in_now();
        }
    }

    fn barge_in_now(&mut self) {
        if self.barge_in {
            self.player.stop();
        }
    }

    /// The frame source of this frame: playback, else the bridge, else silence.
    pub(super) fn outgoing(&mut self) -> Outgoing<'_> {
        Outgoing {
            player: &mut self.player,
            bridge: self.bridge.as_ref(),
            digit_tones: &mut self.digit_tones,
        }
    }

    /// Fills one frame of `out.len()` samples in the wire's codec; silence
    /// when there is nothing to say.
    pub(super) fn fill_frame(&mut self, out: &mut [u8]) {
        let codec = self.codec;
        if !crate::rtp::FrameSource::fill_frame(&mut self.outgoing(), codec, out) {
            out.fill(codec.silence());
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
            MediaCommand::Bridge(end) => {
                self.unbridge();
                self.player.stop();
                self.bridge = Some(end);
            }
            MediaCommand::Unbridge => self.unbridge(),
            // The transport's commands are its own (`Leg::run_frame`).
            MediaCommand::UpdateRemote(_)
            | MediaCommand::Hold
            | MediaCommand::Resume
            | MediaCommand::SendDigit(_)
            | MediaCommand::Shutdown => {}
        }
    }

    /// A bridge the other leg left is over for this one too.
    fn check_bridge(&mut self) {
        if self.bridge.as_ref().is_some_and(|b| !b.is_open()) {
            self.unbridge();
        }
    }

    /// Leaves the bridge, if any, and says so; the other leg notices by itself.
    fn unbridge(&mut self) {
        if self.bridge.take().is_some() {
            self.report(MediaEvent::BridgeEnded);
        }
    }

    /// Reports the playbacks that ended during the frame.
    fn report_playbacks(&mut self) {
        while let Some(event) = self.player.poll_event() {
            let PlayerEvent::Finished { id, interrupted } = event;
            self.report(MediaEvent::PlaybackFinished { id, interrupted });
        }
    }
}
