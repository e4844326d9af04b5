//! An answered call: media running, digits collected, prompts played.
//!
//! Until the flow interpreter drives calls, an answered call plays the
//! greeting in the default language and reads back every key pressed
//! ("you pressed 5"); a key interrupts whatever is playing (barge-in).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::recent::DigitRecord;
use super::{Outcome, Services};
use crate::dtmf::{DigitEvent, DigitSource, DigitStream};
use crate::rtp::Prompt;
use crate::say::Sayable;
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle};
use crate::server::media::{self, MediaCommand, MediaEvent, MediaHandle, MediaOptions};
use crate::sip::sdp::{Negotiated, SdpSession};
use crate::sip::ua::CallId;

/// The greeting played when a call is answered.
const GREETING: &str = "hotline/greeting";
/// Said before a key is read back.
const YOU_PRESSED: &str = "hotline/you_pressed";

pub(super) struct Answered {
    pub services: Services,
    pub log: super::CallLog,
    pub id: CallId,
    pub signals: mpsc::Receiver<CallSignal>,
    pub endpoint: EndpointHandle,
    pub sdp: SdpSession,
    pub socket: Option<UdpSocket>,
    pub negotiated: Option<Negotiated>,
}

/// The media task of the call, once it runs.
struct Media {
    handle: MediaHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
}

impl Answered {
    pub async fn run(mut self) -> Outcome {
        let answered_at = Instant::now();
        let limit = Duration::from_secs(self.services.config().sip.max_call_seconds);
        let hangup_at = tokio::time::sleep(limit);
        tokio::pin!(hangup_at);
        let mut hung_up = false;
        let mut media: Option<Media> = None;
        let mut digits = DigitStream::new();
        let mut next_play = 1u64;
        // With an early offer, media starts at once: the first packet leaves
        // within one ptime of the answer.
        if let Some(negotiated) = self.negotiated {
            media = self.start_media(negotiated, &mut next_play).await;
        }
        let outcome = loop {
            let event = tokio::select! {
                signal = self.signals.recv() => Step::Signal(signal),
                event = next_media_event(&mut media) => Step::Media(event),
                _ = &mut hangup_at, if !hung_up => Step::TimeLimit,
            };
            match event {
                Step::TimeLimit => {
                    info!(seconds = limit.as_secs(), "maximum call duration reached");
                    hung_up = true;
                    self.endpoint
                        .send(EndpointCommand::Hangup(self.id.clone()))
                        .await;
                }
                Step::Signal(None) => break Outcome::Ended("endpoint stopped".into()),
                Step::Signal(Some(signal)) => match signal {
                    CallSignal::Confirmed { sdp_in_ack } => {
                        if let Some(answer) = sdp_in_ack {
                            match self.sdp.accept_answer(&answer) {
                                Ok(agreed) => self.negotiated = Some(agreed),
                                Err(error) => warn!(%error, "unusable SDP answer in ACK"),
                            }
                        }
                        if media.is_none()
                            && let Some(negotiated) = self.negotiated
                        {
                            media = self.start_media(negotiated, &mut next_play).await;
                        }
                    }
                    CallSignal::ReOffer { sdp } => self.reoffer(sdp, media.as_ref()).await,
                    CallSignal::Info { content_type, body } => {
                        match crate::dtmf::info::parse_info_body(&content_type, &body) {
                            Ok(digit) => digits.push(DigitEvent {
                                digit,
                                at: Instant::now(),
                                source: DigitSource::SipInfo,
                            }),
                            Err(error) => debug!(%error, "INFO without a digit"),
                        }
                    }
                    CallSignal::Cancelled => break Outcome::Cancelled,
                    CallSignal::Ended { reason } => break Outcome::Ended(reason),
                    // Only calls hotline places get these; this one came in.
                    CallSignal::Progress { .. }
                    | CallSignal::Answered { .. }
                    | CallSignal::Failed { .. } => {}
                },
                Step::Media(Some(MediaEvent::Digit(event))) => digits.push(event),
                Step::Media(Some(MediaEvent::Stats(stats))) => debug!(?stats, "media stats"),
                Step::Media(Some(MediaEvent::PlaybackFinished { .. })) => {}
                Step::Media(None) => media = None,
            }
            while let Some(event) = digits.poll() {
                self.record_digit(event, answered_at);
                if let Some(m) = &media {
                    self.read_back(m, event.digit, &mut next_play).await;
                }
            }
        };
        if let Some(m) = media {
            m.handle.send(MediaCommand::Shutdown).await;
        }
        outcome
    }

    async fn start_media(&mut self, negotiated: Negotiated, next_play: &mut u64) -> Option<Media> {
        let socket = self.socket.take()?;
        self.services.0.recent.update(&self.id.0, |record| {
            record.codec = Some(negotiated.codec.encoding_name().to_owned());
        });
        let options = MediaOptions {
            inband_dtmf_always: self.services.config().media.inband_dtmf_always,
        };
        let (handle, events) = match media::spawn(socket, negotiated, options) {
            Ok(started) => started,
            Err(error) => {
                warn!(%error, "media could not start");
                return None;
            }
        };
        let greeting = self.prompts(&[GREETING.to_owned()]);
        play(&handle, greeting, next_play).await;
        Some(Media { handle, events })
    }

    async fn reoffer(&mut self, offer: Vec<u8>, media: Option<&Media>) {
        let body = if offer.is_empty() {
            self.sdp.offer()
        } else {
            match self.sdp.answer(&offer) {
                Ok((body, agreed)) => {
                    self.negotiated = Some(agreed);
                    if let Some(m) = media {
                        m.handle.send(MediaCommand::UpdateRemote(agreed)).await;
                    }
                    body
                }
                Err(error) => {
                    warn!(%error, "re-offer not acceptable; keeping the session");
                    self.sdp.offer()
                }
            }
        };
        self.endpoint
            .send(EndpointCommand::AnswerReoffer(self.id.clone(), body))
            .await;
    }

    fn record_digit(&self, event: DigitEvent, answered_at: Instant) {
        info!(digit = %event.digit, source = ?event.source, "digit");
        let record = DigitRecord {
            digit: event.digit,
            source: match event.source {
                DigitSource::Rfc4733 => "rfc4733",
                DigitSource::SipInfo => "sip_info",
                DigitSource::InBand => "in_band",
            },
            at_ms: event.at.saturating_duration_since(answered_at).as_millis() as u64,
        };
        self.log
            .event("digit", format!("{} {}", record.digit, record.source));
        self.services
            .0
            .recent
            .update(&self.id.0, |r| r.digits.push(record));
    }

    /// "You pressed N", interrupting whatever played (barge-in).
    async fn read_back(&self, media: &Media, digit: char, next_play: &mut u64) {
        let language = &self.services.config().audio.default_language;
        let mut ids = vec![YOU_PRESSED.to_owned()];
        match crate::say::expand(language, &Sayable::Digits(digit.to_string())) {
            Ok(words) => ids.extend(words),
            Err(error) => warn!(%error, "cannot say the digit"),
        }
        let prompts = self.prompts(&ids);
        play(&media.handle, prompts, next_play).await;
    }

    /// Looks prompts up in the default language; a missing one is skipped and logged.
    fn prompts(&self, ids: &[String]) -> Vec<Arc<Prompt>> {
        let store = &self.services.0.prompts;
        let language = &self.services.config().audio.default_language;
        ids.iter()
            .filter_map(|id| match store.get(language, id) {
                Ok(found) => Some(found.prompt),
                Err(error) => {
                    warn!(%error, "prompt missing");
                    None
                }
            })
            .collect()
    }
}

enum Step {
    Signal(Option<CallSignal>),
    Media(Option<MediaEvent>),
    TimeLimit,
}

async fn play(handle: &MediaHandle, prompts: Vec<Arc<Prompt>>, next_play: &mut u64) {
    if prompts.is_empty() {
        return;
    }
    *next_play += 1;
    handle
        .send(MediaCommand::Play {
            id: *next_play,
            prompts,
            barge_in: true,
            looping: false,
        })
        .await;
}

async fn next_media_event(media: &mut Option<Media>) -> Option<MediaEvent> {
    match media {
        Some(m) => m.events.recv().await,
        None => std::future::pending().await,
    }
}
