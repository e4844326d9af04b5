//! One browser's media: the answer to its offer, then G.711 frames and RFC
//! 4733 digits both ways over DTLS-SRTP, until ICE consent is lost or the
//! peer is closed.
//!
//! A [`Peer`] is a sans-IO value over a str0m `Rtc`: datagrams and timeouts go
//! in with `now`, transmits, events and the next timeout come out of
//! [`Peer::poll_output`], which the driver calls until it returns a timeout
//! (str0m's rule: after every input, poll until empty).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::config::CryptoProvider;
use str0m::format::{Codec as RtcCodec, FormatParams};
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Rtc, RtcConfig};

use crate::dtmf::DigitEvent;
use crate::dtmf::rfc4733::{Rfc4733Receiver, code_for};
use crate::rtp::g711::Codec;

/// Samples in one 20 ms G.711 frame at 8 kHz: the frame size of hotline's
/// prompt player, DTMF receiver and bridge.
pub const FRAME_SAMPLES: usize = 160;

/// How long a sent key lasts: an ordinary phone's key press.
const DIGIT_DURATION: Duration = Duration::from_millis(100);

/// Silence between two sent keys, measured from the end of the first; str0m
/// refuses an event sooner than 50 ms after the previous one ends, and the
/// end packet is repeated for 40 ms after it.
const DIGIT_GAP: Duration = Duration::from_millis(100);

/// Keys waiting to be sent at most; more is a shell relaying garbage.
const MAX_QUEUED_DIGITS: usize = 32;

/// The telephone-event volume field: −10 dBm0, the level of a phone's keys.
const DIGIT_VOLUME: u8 = 10;

/// The payload type offered for telephone-event when the browser does not
/// name one; Chromium offers its own and str0m takes the browser's.
const TELEPHONE_EVENT_PT: u8 = 101;

/// One browser's media session.
pub struct Peer {
    rtc: Rtc,
    mid: Mid,
    codec: Codec,
    audio_pt: Pt,
    has_telephone_event: bool,
    digits_in: Rfc4733Receiver,
    digits_out: VecDeque<u8>,
    /// When the next key may start; `None` while no key is playing.
    next_digit_at: Option<Instant>,
    /// RTP time (8 kHz samples) of the next audio frame sent.
    rtp_time: u64,
    /// RTP time from which the next key may start: each key gets its own
    /// timestamp even when no audio is being sent (the timestamp is an
    /// event's identity, RFC 4733 §2.5.1.3).
    next_digit_time: u64,
    state: State,
    events: VecDeque<PeerEvent>,
    /// The latest `now` given; an ended peer's timeout is far past it.
    last_now: Instant,
}

/// Where a peer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Answered; waiting for ICE and DTLS.
    Connecting,
    Connected,
    Ended,
}

/// What a peer gives back after an input.
#[derive(Debug)]
pub enum Output {
    /// A datagram to send from the peer's socket.
    Transmit(Transmit),
    /// Something the call should know.
    Event(PeerEvent),
    /// Nothing more until this time (or the next datagram).
    Timeout(Instant),
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// What happened on a peer, in the call's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// ICE and DTLS are up: audio can flow, with this codec.
    Connected { codec: Codec },
    /// A G.711 payload from the browser (Chromium sends one per 20 ms).
    Audio { payload: Arc<[u8]> },
    /// A key pressed in the browser (RFC 4733), reported once per press.
    Digit(DigitEvent),
    /// The session is over; nothing more will come.
    Ended(EndReason),
}

/// The answer to a browser's re-offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reanswer {
    /// The SDP answer.
    pub sdp: String,
    /// Whether we send to the browser now: false while it holds the call
    /// (its offer was `sendonly` or `inactive`).
    pub sending: bool,
}

/// Why a peer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The browser stopped answering for consent (RFC 7675): a closed tab, a
    /// lost network. A lite agent sees this as the browser's checks stopping.
    ConsentLost,
    /// Closed here ([`Peer::close`]) or by the browser's DTLS close.
    Closed,
}

/// Why an offer was refused; each is the browser's (or page's) fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    #[error("the offer is not valid SDP: {0}")]
    Malformed(String),
    #[error("the offer has no audio media")]
    NoAudio,
    #[error("the offer has no G.711 (PCMU or PCMA) audio")]
    NoG711,
    #[error("the offer could not be accepted: {0}")]
    Refused(String),
    #[error("the configured ICE address {0} cannot be a candidate")]
    BadLocalAddress(SocketAddr),
}

/// Why a frame or key could not be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("the peer is not connected yet")]
    NotConnected,
    #[error("the peer has ended")]
    Ended,
    #[error("a frame must be {FRAME_SAMPLES} G.711 bytes (20 ms), not {0}")]
    FrameSize(usize),
    #[error("{0:?} is not a DTMF key")]
    NotADigit(char),
    #[error("the browser did not offer telephone-event")]
    NoTelephoneEvent,
    #[error("too many keys are waiting to be sent")]
    TooManyDigits,
    #[error("the WebRTC driver is behind; the frame or key was dropped")]
    Busy,
    #[error("the media stack refused the write: {0}")]
    Refused(String),
}

impl Peer {
    /// Answers a browser's SDP offer; the peer and the SDP answer. `local` is
    /// the address given in the answer's ICE candidate (the driver's socket as
    /// the browser reaches it).
    pub fn answer(
        now: Instant,
        offer: &str,
        local: SocketAddr,
    ) -> Result<(Peer, String), OfferError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| OfferError::Malformed(e.to_string()))?;
        let mids: Vec<Mid> = offer.media_lines.iter().map(|line| line.mid()).collect();
        let config = RtcConfig::new()
            .set_crypto_provider(crypto())
            .set_ice_lite(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .enable_pcma(true, false);
        let mut rtc = with_telephone_event(config, TELEPHONE_EVENT_PT).build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|_| OfferError::BadLocalAddress(local))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| OfferError::Refused(e.to_string()))?;

        // str0m reports the media it added only once DTLS is up; the
        // offer's own m-lines (each with a mid, as parsing checked) tell now.
        let mid = mids
            .into_iter()
            .find(|mid| {
                rtc.media(*mid)
                    .is_some_and(|m| m.kind() == MediaKind::Audio)
            })
            .ok_or(OfferError::NoAudio)?;
        let (codec, audio_pt, has_telephone_event) =
            negotiated(&rtc, mid).ok_or(OfferError::NoG711)?;
        let peer = Peer {
            rtc,
            mid,
            codec,
            audio_pt,
            has_telephone_event,
            digits_in: Rfc4733Receiver::new(),
            digits_out: VecDeque::new(),
            next_digit_at: None,
            rtp_time: 0,
            next_digit_time: 0,
            state: State::Connecting,
            events: VecDeque::new(),
            last_now: now,
        };
        Ok((peer, answer.to_sdp_string()))
    }

    /// Answers the browser's new offer on the running session (a re-INVITE:
    /// hold, resume): same ICE, DTLS and audio m-line, only the direction may
    /// change. The codec stays the one agreed first. A refused offer leaves
    /// the session as it was.
    pub fn accept_reoffer(&mut self, offer: &str) -> Result<Reanswer, OfferError> {
        if self.state == State::Ended {
            return Err(OfferError::Refused("the session has ended".into()));
        }
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| OfferError::Malformed(e.to_string()))?;
        if !offer.media_lines.iter().any(|line| line.mid() == self.mid) {
            return Err(OfferError::NoAudio);
        }
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| OfferError::Refused(e.to_string()))?;
        let sending = self
            .rtc
            .media(self.mid)
            .is_some_and(|media| media.direction().is_sending());
        if let Some((codec, audio_pt, has_telephone_event)) = negotiated(&self.rtc, self.mid)
            && codec == self.codec
        {
            self.audio_pt = audio_pt;
            self.has_telephone_event = has_telephone_event;
        }
        Ok(Reanswer {
            sdp: answer.to_sdp_string(),
            sending,
        })
    }

    /// The G.711 codec both sides agreed on (the browser's first preference).
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Whether this datagram belongs to this peer: a STUN check with its ICE
    /// username, or DTLS/SRTP from the browser's address. A driver serving
    /// many peers on one socket asks each in turn.
    pub fn accepts(
        &self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        match Receive::new(Protocol::Udp, source, destination, datagram) {
            Ok(receive) => self.rtc.accepts(&Input::Receive(now, receive)),
            Err(_) => false,
        }
    }

    /// A datagram from the network; garbage is dropped (and logged), never fatal.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.last_now = now;
        if self.state == State::Ended {
            return;
        }
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, datagram) else {
            tracing::debug!(%source, "dropped a datagram that is not STUN, DTLS or RTP");
            return;
        };
        if let Err(e) = self.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!(%source, error = %e, "dropped a datagram the WebRTC peer refused");
        }
    }

    /// Time has reached `now` (the last [`Output::Timeout`], or later).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        if self.state == State::Ended {
            return;
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(error = %e, "WebRTC timeout handling failed");
        }
        if self.next_digit_at.is_some_and(|at| at <= now) {
            self.start_digit(now);
        }
    }

    /// Sends one 20 ms G.711 frame (in the negotiated codec) to the browser.
    pub fn send_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), SendError> {
        self.ready()?;
        if frame.len() != FRAME_SAMPLES {
            return Err(SendError::FrameSize(frame.len()));
        }
        let time = MediaTime::new(self.rtp_time, Frequency::EIGHT_KHZ);
        let first = self.rtp_time == 0;
        let writer = self.rtc.writer(self.mid).ok_or(SendError::Ended)?;
        writer
            .start_of_talkspurt(first)
            .write(self.audio_pt, now, time, frame.to_vec())
            .map_err(|e| SendError::Refused(e.to_string()))?;
        self.rtp_time += FRAME_SAMPLES as u64;
        Ok(())
    }

    /// Sends a key to the browser as an RFC 4733 event; keys asked for while
    /// one is playing wait their turn.
    pub fn send_digit(&mut self, now: Instant, digit: char) -> Result<(), SendError> {
        self.ready()?;
        if !self.has_telephone_event {
            return Err(SendError::NoTelephoneEvent);
        }
        let code = code_for(digit).ok_or(SendError::NotADigit(digit))?;
        if self.digits_out.len() == MAX_QUEUED_DIGITS {
            return Err(SendError::TooManyDigits);
        }
        self.digits_out.push_back(code);
        if self.next_digit_at.is_none() {
            self.start_digit(now);
        }
        Ok(())
    }

    /// Ends the session here: str0m stops, the browser sees consent fail.
    pub fn close(&mut self) {
        if self.state != State::Ended {
            self.rtc.disconnect();
            self.end(EndReason::Closed);
        }
    }

    /// Whether the session has ended (after [`PeerEvent::Ended`]).
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// The next transmit or event, or the time of the next timeout; call
    /// until it gives a timeout after every input.
    pub fn poll_output(&mut self) -> Output {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if let Some(digit) = self.digits_in.poll_digit() {
                return Output::Event(PeerEvent::Digit(digit));
            }
            if self.state == State::Ended {
                // Far enough to never matter; the driver drops ended peers.
                return Output::Timeout(self.last_now + Duration::from_secs(3600));
            }
            let output = match self.rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    tracing::debug!(error = %e, "the WebRTC peer failed");
                    self.end(EndReason::Closed);
                    continue;
                }
            };
            match output {
                str0m::Output::Transmit(t) => {
                    return Output::Transmit(Transmit {
                        destination: t.destination,
                        contents: t.contents.into(),
                    });
                }
                str0m::Output::Timeout(at) => {
                    if !self.rtc.is_alive() {
                        self.end(EndReason::Closed);
                        continue;
                    }
                    let at = self.next_digit_at.map_or(at, |digit| digit.min(at));
                    return Output::Timeout(at);
                }
                str0m::Output::Event(event) => self.on_event(event),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => {
                self.state = State::Connected;
                self.events
                    .push_back(PeerEvent::Connected { codec: self.codec });
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.end(EndReason::ConsentLost);
            }
            Event::MediaData(data) if data.mid == self.mid => {
                if data.pt == self.audio_pt {
                    self.events
                        .push_back(PeerEvent::Audio { payload: data.data });
                } else if data.params.spec().codec == RtcCodec::Tele {
                    // RFC 4733 §2.3.1: the timestamp is the event's start; the
                    // receiver uses it as the key press's identity.
                    let timestamp = data.time.numer() as u32;
                    let sequence = **data.seq_range.start() as u16;
                    self.digits_in.handle_packet(
                        data.network_time,
                        timestamp,
                        sequence,
                        false,
                        &data.data,
                    );
                }
            }
            _ => {}
        }
    }

    fn ready(&self) -> Result<(), SendError> {
        match self.state {
            State::Connecting => Err(SendError::NotConnected),
            State::Connected => Ok(()),
            State::Ended => Err(SendError::Ended),
        }
    }

    /// Starts the first queued key, if any, now.
    fn start_digit(&mut self, now: Instant) {
        self.next_digit_at = None;
        let Some(code) = self.digits_out.pop_front() else {
            return;
        };
        let start = self.rtp_time.max(self.next_digit_time);
        let event = TelephoneEvent {
            event: code,
            end: true,
            volume: DIGIT_VOLUME,
            duration: DIGIT_DURATION,
        };
        let Some(writer) = self.rtc.writer(self.mid) else {
            return;
        };
        let written = writer.telephone_event(event).write(
            self.audio_pt,
            now,
            MediaTime::new(start, Frequency::EIGHT_KHZ),
            Vec::new(),
        );
        if let Err(e) = written {
            tracing::debug!(error = %e, "a key could not be sent");
        }
        let samples = |d: Duration| d.as_millis() as u64 * 8;
        self.next_digit_time = start + samples(DIGIT_DURATION + DIGIT_GAP);
        // Set even when none waits: a key asked for meanwhile must wait too.
        self.next_digit_at = Some(now + DIGIT_DURATION + DIGIT_GAP);
    }

    fn end(&mut self, reason: EndReason) {
        if self.state != State::Ended {
            self.state = State::Ended;
            self.digits_out.clear();
            self.next_digit_at = None;
            self.events.push_back(PeerEvent::Ended(reason));
        }
    }
}

/// The codec, its payload type and whether telephone-event was agreed, in
/// the browser's order of preference.
fn negotiated(rtc: &Rtc, mid: Mid) -> Option<(Codec, Pt, bool)> {
    let media = rtc.media(mid)?;
    let params = rtc.codec_config().params();
    let spec = |pt: &Pt| {
        params
            .iter()
            .find(|p| p.pt() == *pt)
            .map(|p| p.spec().codec)
    };
    let has_telephone_event = media
        .remote_pts()
        .iter()
        .any(|pt| spec(pt) == Some(RtcCodec::Tele));
    media.remote_pts().iter().find_map(|pt| match spec(pt)? {
        RtcCodec::PCMU => Some((Codec::Pcmu, *pt, has_telephone_event)),
        RtcCodec::PCMA => Some((Codec::Pcma, *pt, has_telephone_event)),
        _ => None,
    })
}

/// `config` with telephone-event at 8 kHz (str0m adds no telephone-event by
/// itself) at payload type `pt`, unless the offer names its own.
pub(super) fn with_telephone_event(mut config: RtcConfig, pt: u8) -> RtcConfig {
    config.codec_config().add_config(
        pt.into(),
        None,
        RtcCodec::Tele,
        Frequency::EIGHT_KHZ,
        None,
        FormatParams::default(),
    );
    config
}

/// The process's DTLS/SRTP crypto (aws-lc-rs), made once: str0m's other
/// backends do not build here.
fn crypto() -> Arc<CryptoProvider> {
    static CRYPTO: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    CRYPTO
        .get_or_init(|| Arc::new(str0m::crypto::from_feature_flags()))
        .clone()
}
