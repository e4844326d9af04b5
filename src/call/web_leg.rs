//! A web caller's leg: a browser's WebRTC peer on the media workers, seen
//! through [`Leg`]. There is no SIP dialog: the page's one HTTP exchange
//! (offer in, answer out) made the peer, ICE and DTLS connecting is the
//! answer, and the page's `DELETE`, a closed peer or ICE consent lost
//! (RFC 7675: the tab vanished) is the hang-up.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::info;

use super::leg::{Leg, LegCommand, LegSignal};
use crate::metrics::WebrtcMetrics;
use crate::rtp::PromptStore;
use crate::server::media::{MediaCommand, MediaEvent, MediaHandle};
use crate::webrtc::EndReason;

/// How long a browser may take to connect (ICE and DTLS) after its answer.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);

/// A browser's peer and how the page hangs up.
pub struct WebLeg {
    media: Option<MediaHandle>,
    events: crate::server::media::MediaEvents,
    /// Fires when the page hangs up (`DELETE`); `None` once it did or went away.
    hang_up: Option<oneshot::Receiver<()>>,
    prompts: Arc<PromptStore>,
    metrics: WebrtcMetrics,
    connected: bool,
    /// When a browser not connected by then is given up.
    connect_by: tokio::time::Instant,
    /// The core asked to answer: `Answered` once the browser is connected too.
    answering: bool,
    ended: bool,
    /// Signals made by commands, given out first.
    pending: VecDeque<LegSignal>,
}

impl WebLeg {
    /// The leg of a browser whose media runs as `media` (`media::spawn_webrtc`).
    pub fn new(
        media: MediaHandle,
        events: crate::server::media::MediaEvents,
        hang_up: oneshot::Receiver<()>,
        prompts: Arc<PromptStore>,
        metrics: WebrtcMetrics,
    ) -> WebLeg {
        WebLeg {
            media: Some(media),
            events,
            hang_up: Some(hang_up),
            prompts,
            metrics,
            connected: false,
            connect_by: tokio::time::Instant::now() + CONNECT_LIMIT,
            answering: false,
            ended: false,
            pending: VecDeque::new(),
        }
    }

    /// The leg is over: said once.
    fn end(&mut self, reason: &str) -> Option<LegSignal> {
        if self.ended {
            return None;
        }
        self.ended = true;
        Some(LegSignal::Ended {
            reason: reason.to_owned(),
        })
    }

    fn media_signal(&mut self, event: MediaEvent) -> Option<LegSignal> {
        match event {
            MediaEvent::PeerConnected => {
                self.connected = true;
                self.metrics.peer("connected");
                info!("browser connected");
                self.answering.then_some(LegSignal::Answered)
            }
            MediaEvent::PeerEnded(reason) => {
                let (label, said) = match reason {
                    EndReason::ConsentLost => ("consent_lost", "ICE consent lost"),
                    EndReason::Closed => ("closed", "browser closed"),
                };
                self.metrics.peer(label);
                self.end(said)
            }
            other => super::leg::media_signal(other),
        }
    }
}

impl Leg for WebLeg {
    fn media(&self) -> Option<&MediaHandle> {
        self.media.as_ref()
    }

    fn codec(&self) -> Option<&'static str> {
        None
    }

    async fn close_media(&mut self) {
        // Ending the media drops the peer, which closes it for the browser.
        if let Some(media) = self.media.take() {
            media.send(MediaCommand::Shutdown).await;
        }
    }

    async fn command(&mut self, command: LegCommand) {
        let media = self.media.as_ref();
        match command {
            // The page shows its own "connecting" until the answer.
            LegCommand::Ring => {}
            LegCommand::Answer => {
                self.answering = true;
                if self.connected {
                    self.pending.push_back(LegSignal::Answered);
                }
            }
            LegCommand::Play {
                id,
                prompts,
                barge_in,
                looping,
            } => {
                let store = Some(self.prompts.as_ref());
                let sent =
                    super::prompts::play(store, media, id, &prompts, barge_in, looping).await;
                // Nothing to hear: nobody must wait for a playback that never ends.
                if !sent {
                    self.pending.push_back(LegSignal::PlaybackFinished { id });
                }
            }
            LegCommand::StopPlayback => {
                if let Some(media) = media {
                    media.send(MediaCommand::Stop).await;
                }
            }
            LegCommand::SendDigit(digit) => {
                if let Some(media) = media {
                    media.send(MediaCommand::SendDigit(digit)).await;
                }
            }
            // A browser does not renegotiate through the call core.
            LegCommand::AnswerReoffer { .. } => {}
            LegCommand::HangUp => {
                self.close_media().await;
                if let Some(ended) = self.end("hung up") {
                    self.pending.push_back(ended);
                }
            }
        }
    }

    async fn next_signal(&mut self) -> Option<LegSignal> {
        loop {
            if let Some(signal) = self.pending.pop_front() {
                return Some(signal);
            }
            if self.ended {
                return None;
            }
            let connecting = !self.connected;
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => {
                        if let Some(signal) = self.media_signal(event) {
                            return Some(signal);
                        }
                    }
                    None => return self.end("media ended"),
                },
                hung_up = recv(&mut self.hang_up) => {
                    self.hang_up = None;
                    // A dropped sender is the server forgetting the call, not the page.
                    if hung_up.is_ok() {
                        return self.end("the page hung up");
                    }
                }
                () = tokio::time::sleep_until(self.connect_by), if connecting => {
                    return self.end("the browser never connected");
                }
            }
        }
    }
}

async fn recv(
    hang_up: &mut Option<oneshot::Receiver<()>>,
) -> Result<(), oneshot::error::RecvError> {
    match hang_up {
        Some(receiver) => receiver.await,
        None => std::future::pending().await,
    }
}
