//! The SIP implementation of a call leg: a dialog on the SIP endpoint plus
//! RTP media on the media workers, seen through [`Leg`].
//!
//! [`SipLeg`] is a leg whose dialog exists (the caller's, or an outgoing
//! call once answered); [`OutgoingLeg`] is a call hotline places (agent,
//! transfer target) from its first ring: it reports ringing, early media
//! and refusal, then behaves as the answered [`SipLeg`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::leg::{Leg, LegCommand, LegSignal};
use crate::dtmf::{DigitEvent, DigitSource};
use crate::rtp::PromptStore;
use crate::server::agent_leg::{AgentLeg, RingOutcome};
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle};
use crate::server::media::{self, MediaCommand, MediaEvent, MediaHandle, MediaOptions};
use crate::sip::sdp::{Negotiated, SdpSession};
use crate::sip::ua::CallId;

/// A SIP dialog and its RTP media.
pub struct SipLeg {
    call: CallId,
    endpoint: EndpointHandle,
    /// `None` once the endpoint has said everything about the dialog.
    signals: Option<mpsc::Receiver<CallSignal>>,
    sdp: SdpSession,
    /// The RTP socket until media starts on it.
    socket: Option<UdpSocket>,
    /// What offer/answer agreed, once known (in the INVITE, or the ACK for a late offer).
    negotiated: Option<Negotiated>,
    /// Our SDP for the 200 of an incoming call.
    answer: Option<Vec<u8>>,
    options: MediaOptions,
    media: Option<MediaHandle>,
    media_events: Option<crate::server::media::MediaEvents>,
    /// Where prompts are found; `None` for a leg hotline plays nothing to.
    prompts: Option<Arc<PromptStore>>,
    /// Signals made by commands (a playback with nothing to play), given out first.
    pending: VecDeque<LegSignal>,
    /// A browser agent's leg: its re-offers go to its WebRTC peer ([`AgentLeg::webrtc`]).
    webrtc: Option<crate::webrtc::PeerControl>,
    /// The peer holds the call (its last re-offer did not let us send).
    held: bool,
}

/// What an incoming call brings to its leg.
pub struct Incoming {
    pub call: CallId,
    pub endpoint: EndpointHandle,
    pub signals: mpsc::Receiver<CallSignal>,
    pub sdp: SdpSession,
    pub socket: UdpSocket,
    /// Agreed from the INVITE's offer; `None` with a late offer.
    pub negotiated: Option<Negotiated>,
    /// The SDP of our 200.
    pub answer: Vec<u8>,
}

impl SipLeg {
    /// The caller's leg of an incoming call, before the answer.
    pub fn incoming(call: Incoming, options: MediaOptions, prompts: Arc<PromptStore>) -> SipLeg {
        let prompts = Some(prompts);
        SipLeg {
            call: call.call,
            endpoint: call.endpoint,
            signals: Some(call.signals),
            sdp: call.sdp,
            socket: Some(call.socket),
            negotiated: call.negotiated,
            answer: Some(call.answer),
            options,
            media: None,
            media_events: None,
            prompts,
            pending: VecDeque::new(),
            webrtc: None,
            held: false,
        }
    }

    /// An outgoing call that was answered, its media running.
    pub fn answered(
        leg: AgentLeg,
        endpoint: EndpointHandle,
        prompts: Option<Arc<PromptStore>>,
    ) -> SipLeg {
        SipLeg {
            call: leg.call,
            endpoint,
            signals: Some(leg.signals),
            sdp: leg.sdp,
            socket: None,
            negotiated: None,
            answer: None,
            options: MediaOptions::default(),
            media: Some(leg.media),
            media_events: Some(leg.media_events),
            prompts,
            pending: VecDeque::new(),
            webrtc: leg.webrtc,
            held: false,
        }
    }

    /// Starts media on what was agreed, and reports the leg answered; a
    /// failure ends the call.
    async fn start_media(&mut self) {
        let (Some(socket), Some(negotiated)) = (self.socket.take(), self.negotiated) else {
            return;
        };
        match media::spawn(socket, negotiated, self.options) {
            Ok((handle, events)) => {
                self.media = Some(handle);
                self.media_events = Some(events);
                self.pending.push_back(LegSignal::Answered);
            }
            Err(error) => {
                warn!(%error, "media could not start; ending the call");
                self.endpoint
                    .send(EndpointCommand::Hangup(self.call.clone()))
                    .await;
            }
        }
    }

    /// One signal of the dialog as the core's signal; `None` when it means nothing to the core.
    fn dialog_signal(&mut self, signal: CallSignal) -> Option<LegSignal> {
        match signal {
            CallSignal::Confirmed { sdp_in_ack } => {
                if let Some(answer) = sdp_in_ack {
                    match self.sdp.accept_answer(&answer) {
                        Ok(agreed) => self.negotiated = Some(agreed),
                        Err(error) => warn!(%error, "unusable SDP answer in ACK"),
                    }
                }
                // With a late offer, media starts at the top of `next_signal`.
                None
            }
            CallSignal::ReOffer { sdp } => Some(LegSignal::ReOffer { offer: sdp }),
            CallSignal::Info { content_type, body } => {
                match crate::dtmf::info::parse_info_body(&content_type, &body) {
                    Ok(digit) => Some(LegSignal::Digit(DigitEvent {
                        digit,
                        at: Instant::now(),
                        source: DigitSource::SipInfo,
                    })),
                    Err(error) => {
                        debug!(%error, "INFO without a digit");
                        None
                    }
                }
            }
            CallSignal::Cancelled => Some(LegSignal::Cancelled),
            CallSignal::Ended { reason } => {
                self.signals = None;
                Some(LegSignal::Ended { reason })
            }
            CallSignal::Failed { status } => {
                self.signals = None;
                Some(LegSignal::Refused { status })
            }
            CallSignal::Progress { .. } | CallSignal::Answered { .. } => None,
        }
    }

    /// Answers a browser's re-offer with its WebRTC peer; one the peer
    /// cannot take is refused (488) and the session kept. While the browser
    /// holds, its media sends nothing and expects nothing.
    async fn answer_browser_reoffer(
        &mut self,
        control: &crate::webrtc::PeerControl,
        offer: Vec<u8>,
    ) {
        let offer = String::from_utf8_lossy(&offer).into_owned();
        match control.reoffer(offer).await {
            Ok(answer) => {
                let body = answer.sdp.into_bytes();
                self.endpoint
                    .send(EndpointCommand::AnswerReoffer(self.call.clone(), body))
                    .await;
                if let Some(media) = &self.media {
                    let hold = match answer.sending {
                        true => MediaCommand::Resume,
                        false => MediaCommand::Hold,
                    };
                    media.send(hold).await;
                }
                self.set_held(!answer.sending);
            }
            Err(error) => {
                warn!(%error, "the browser's re-offer is refused; keeping the session");
                let refuse = EndpointCommand::RefuseReoffer(self.call.clone());
                self.endpoint.send(refuse).await;
            }
        }
    }

    /// Reports a change of the peer's hold to the core.
    fn set_held(&mut self, held: bool) {
        if std::mem::replace(&mut self.held, held) != held {
            let signal = match held {
                true => LegSignal::Held,
                false => LegSignal::Resumed,
            };
            self.pending.push_back(signal);
        }
    }
}

impl Leg for SipLeg {
    fn media(&self) -> Option<&MediaHandle> {
        self.media.as_ref()
    }

    fn codec(&self) -> Option<&'static str> {
        self.negotiated.map(|n| n.codec.encoding_name())
    }

    async fn close_media(&mut self) {
        if let Some(media) = self.media.take() {
            media.send(MediaCommand::Shutdown).await;
        }
    }

    async fn command(&mut self, command: LegCommand) {
        match command {
            LegCommand::Ring => {
                self.endpoint
                    .send(EndpointCommand::Ring(self.call.clone()))
                    .await
            }
            LegCommand::Answer => {
                let body = self.answer.take().unwrap_or_else(|| self.sdp.offer());
                self.endpoint
                    .send(EndpointCommand::Answer(self.call.clone(), body))
                    .await;
                // With an early offer, media starts at once: the first packet
                // of the greeting leaves within one ptime of the answer.
                if self.negotiated.is_some() {
                    self.start_media().await;
                }
            }
            LegCommand::Play {
                id,
                prompts,
                barge_in,
                looping,
            } => {
                let store = self.prompts.as_deref();
                let media = self.media.as_ref();
                let sent =
                    super::prompts::play(store, media, id, &prompts, barge_in, looping).await;
                // Nothing to hear: nobody must wait for a playback that never ends.
                if !sent {
                    self.pending.push_back(LegSignal::PlaybackFinished { id });
                }
            }
            LegCommand::StopPlayback => {
                if let Some(media) = &self.media {
                    media.send(MediaCommand::Stop).await;
                }
            }
            LegCommand::SendDigit(digit) => {
                if let Some(media) = &self.media {
                    media.send(MediaCommand::SendDigit(digit)).await;
                }
            }
            LegCommand::AnswerReoffer { offer } => {
                if let Some(control) = self.webrtc.clone() {
                    return self.answer_browser_reoffer(&control, offer).await;
                }
                let (body, direction) =
                    media::answer_reoffer(&mut self.sdp, &offer, self.media.as_ref()).await;
                self.endpoint
                    .send(EndpointCommand::AnswerReoffer(self.call.clone(), body))
                    .await;
                if let Some(direction) = direction {
                    self.set_held(!direction.sends());
                }
            }
            LegCommand::HangUp => {
                self.endpoint
                    .send(EndpointCommand::Hangup(self.call.clone()))
                    .await
            }
        }
    }

    async fn next_signal(&mut self) -> Option<LegSignal> {
        loop {
            if let Some(signal) = self.pending.pop_front() {
                return Some(signal);
            }
            // A late offer's answer came in the ACK: media starts now.
            if self.media.is_none()
                && self.answer.is_none()
                && self.negotiated.is_some()
                && self.socket.is_some()
            {
                self.start_media().await;
                continue;
            }
            if self.signals.is_none() && self.media_events.is_none() {
                return None;
            }
            tokio::select! {
                signal = recv(&mut self.signals), if self.signals.is_some() => match signal {
                    Some(signal) => {
                        if let Some(signal) = self.dialog_signal(signal) {
                            return Some(signal);
                        }
                    }
                    // The endpoint is gone: the dialog is over for us.
                    None => {
                        self.signals = None;
                        return Some(LegSignal::Ended { reason: "endpoint stopped".into() });
                    }
                },
                event = recv_media(&mut self.media_events), if self.media_events.is_some() => match event {
                    Some(event) => {
                        if let Some(signal) = super::leg::media_signal(event) {
                            return Some(signal);
                        }
                    }
                    None => {
                        self.media_events = None;
                        self.media = None;
                    }
                },
            }
        }
    }
}

/// A call hotline places: ringing, then answered or refused.
pub struct OutgoingLeg {
    ringing: Option<Pin<Box<dyn Future<Output = RingOutcome> + Send>>>,
    cancel: Option<oneshot::Sender<()>>,
    early: mpsc::UnboundedReceiver<MediaHandle>,
    /// The target's early media (ringback, announcements), until the answer.
    early_media: Option<MediaHandle>,
    answered: Option<SipLeg>,
    endpoint: EndpointHandle,
    prompts: Option<Arc<PromptStore>>,
    /// The outcome is known; nothing more comes before the answer's leg.
    done: bool,
}

impl OutgoingLeg {
    /// A leg for `ringing`: the future that rings the target, `cancel` to
    /// withdraw it, and where its early media arrives.
    pub fn new(
        ringing: Pin<Box<dyn Future<Output = RingOutcome> + Send>>,
        cancel: oneshot::Sender<()>,
        early: mpsc::UnboundedReceiver<MediaHandle>,
        endpoint: EndpointHandle,
        prompts: Option<Arc<PromptStore>>,
    ) -> OutgoingLeg {
        OutgoingLeg {
            ringing: Some(ringing),
            cancel: Some(cancel),
            early,
            early_media: None,
            answered: None,
            endpoint,
            prompts,
            done: false,
        }
    }

    /// A leg already answered (an agent the queue connected).
    pub fn connected(
        leg: SipLeg,
        endpoint: EndpointHandle,
        prompts: Option<Arc<PromptStore>>,
    ) -> OutgoingLeg {
        let (_, early) = mpsc::unbounded_channel();
        OutgoingLeg {
            ringing: None,
            cancel: None,
            early,
            early_media: None,
            answered: Some(leg),
            endpoint,
            prompts,
            done: true,
        }
    }

    /// Ends the leg whatever its state: a ringing target is cancelled (and
    /// waited for, so its CANCEL leaves before the call ends), an answered
    /// one hung up and its media ended.
    pub async fn finish(mut self) {
        if let Some(cancel) = self.cancel.take() {
            let _ = cancel.send(());
        }
        if let Some(ringing) = self.ringing.take()
            && let RingOutcome::Answered(leg) = ringing.await
        {
            leg.hang_up(&self.endpoint).await;
        }
        if let Some(mut leg) = self.answered.take() {
            leg.close_media().await;
        }
    }
}

impl Leg for OutgoingLeg {
    fn media(&self) -> Option<&MediaHandle> {
        match &self.answered {
            Some(leg) => leg.media(),
            None => self.early_media.as_ref(),
        }
    }

    fn codec(&self) -> Option<&'static str> {
        self.answered.as_ref().and_then(Leg::codec)
    }

    async fn close_media(&mut self) {
        if let Some(leg) = &mut self.answered {
            leg.close_media().await;
        }
    }

    async fn command(&mut self, command: LegCommand) {
        match (&mut self.answered, command) {
            (Some(leg), command) => leg.command(command).await,
            (None, LegCommand::HangUp) => {
                if let Some(cancel) = self.cancel.take() {
                    let _ = cancel.send(());
                }
            }
            (None, _) => {}
        }
    }

    async fn next_signal(&mut self) -> Option<LegSignal> {
        if let Some(leg) = &mut self.answered {
            return leg.next_signal().await;
        }
        if self.done {
            return std::future::pending().await;
        }
        let ringing = self.ringing.as_mut()?;
        tokio::select! {
            Some(early) = self.early.recv(), if self.early_media.is_none() => {
                self.early_media = Some(early);
                Some(LegSignal::Ringing { early_media: true })
            }
            outcome = ringing => {
                self.ringing = None;
                self.cancel = None;
                self.done = true;
                match outcome {
                    RingOutcome::Answered(leg) => {
                        self.answered = Some(SipLeg::answered(*leg, self.endpoint.clone(), self.prompts.clone()));
                        Some(LegSignal::Answered)
                    }
                    RingOutcome::Refused(result) => Some(LegSignal::Refused { status: refused_status(result) }),
                    RingOutcome::Withdrawn => Some(LegSignal::Refused { status: 487 }),
                }
            }
        }
    }
}

/// A SIP-style status for a ringing's refusal, for logs.
fn refused_status(result: crate::queue::OfferResult) -> u16 {
    use crate::queue::OfferResult;
    match result {
        OfferResult::Busy => 486,
        OfferResult::Declined => 603,
        OfferResult::NoAnswer => 480,
        _ => 500,
    }
}

async fn recv<T>(channel: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match channel {
        Some(channel) => channel.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_media(channel: &mut Option<crate::server::media::MediaEvents>) -> Option<MediaEvent> {
    match channel {
        Some(channel) => channel.recv().await,
        None => std::future::pending().await,
    }
}
