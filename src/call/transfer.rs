//! A caller the flow transfers to a SIP URI: hotline calls the URI and bridges
//! the caller to it (it stays in the media path, so the call is recorded and
//! ends cleanly on either side, whatever the other party supports).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::answered::{Answered, Running};
use crate::server::agent_leg::{self, RingOutcome, RingRequest};
use crate::server::endpoint::CallSignal;
use crate::server::media::{self, MediaOptions};
use crate::sip::message::{Header, NameAddr, Params};

/// How long the transfer target may ring before the caller is told it did not answer.
const RING_LIMIT: Duration = Duration::from_secs(30);

impl Answered {
    /// Calls `uri` and bridges the caller to it; returns why the call ended.
    pub(super) async fn transfer(&mut self, state: &mut Running, uri: String) -> String {
        let language = state
            .call
            .as_ref()
            .map(|c| c.language().to_owned())
            .unwrap_or_else(|| self.services.config().audio.default_language.clone());
        let Some(target) = self.services.locator().locate(&uri).await else {
            warn!(%uri, "transfer target cannot be reached");
            return self.farewell(state, &language).await;
        };
        info!(%uri, "transferring the caller");
        self.log.event("transfer", uri.clone());
        let (cancel, cancelled) = oneshot::channel();
        let (early_tx, mut early_media) = mpsc::unbounded_channel();
        let config = self.services.config();
        let sip = self.services.sip_address();
        let from = NameAddr {
            display_name: None,
            uri: agent_leg::caller_uri(&self.caller.number, sip)
                .unwrap_or_else(|| target.uri.clone()),
            params: Params::default(),
        };
        let request = RingRequest {
            agent: uri.clone(),
            targets: vec![target],
            from,
            headers: vec![Header {
                name: "X-Hotline-Caller".into(),
                value: self.caller.number.clone(),
            }],
            endpoint: self.endpoint.clone(),
            ports: self.services.0.ports.clone(),
            media_ip: self.services.0.media_ip,
            media_options: MediaOptions::from(&config.media),
            cancel: cancelled,
            auth: config.trunk.credentials(),
            early_media: Some(early_tx),
        };
        self.play_music(state, &language).await;
        let ringing = agent_leg::ring(request);
        tokio::pin!(ringing);
        let limit = tokio::time::sleep(RING_LIMIT);
        tokio::pin!(limit);
        let mut cancel = Some(cancel);
        let mut early_bridged = false;
        loop {
            tokio::select! {
                // The target's ringback or announcement replaces the music.
                Some(early) = early_media.recv(), if !early_bridged => {
                    if let Some(media) = &state.media {
                        early_bridged = media::bridge(&media.handle, &early).await;
                    }
                }
                outcome = &mut ringing => match outcome {
                    RingOutcome::Answered(leg) => return self.bridge(state, leg).await,
                    RingOutcome::Refused(result) => {
                        info!(?result, "transfer target did not take the call");
                        return self.farewell(state, &language).await;
                    }
                    RingOutcome::Withdrawn => return self.farewell(state, &language).await,
                },
                signal = self.signals.recv() => match signal {
                    Some(CallSignal::Ended { reason }) => {
                        if let Some(cancel) = cancel.take() {
                            let _ = cancel.send(());
                        }
                        // Let the ringing end (CANCEL sent) before the call does.
                        let _ = (&mut ringing).await;
                        return reason;
                    }
                    None => return "endpoint stopped".into(),
                    Some(_) => {}
                },
                _ = &mut limit, if cancel.is_some() => {
                    if let Some(cancel) = cancel.take() {
                        let _ = cancel.send(());
                    }
                }
            }
        }
    }

    /// Tells the caller nobody could take the call, hangs up, and waits for the end.
    async fn farewell(&mut self, state: &mut Running, language: &str) -> String {
        let prompts = [super::waiting::file("queue/all_busy", language)];
        self.play_farewell(state, &prompts).await
    }
}
