//! Ringing an agent: the outgoing call to every registered phone of the
//! agent, until one answers, all refuse, or the queue withdraws the offer.
//!
//! The answered phone becomes an [`AgentLeg`]: its dialog and a running media
//! task, handed through the queue to the waiting caller's task, which bridges it.

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::queue::OfferResult;
use crate::registrar::Binding;
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle};
use crate::server::media::{self, MediaEvent, MediaHandle, MediaOptions};
use crate::server::ports::PortPool;
use crate::sip::digest::ClientCredentials;
use crate::sip::message::{Header, NameAddr, Params, Uri};
use crate::sip::sdp::{LocalMedia, SdpSession};
use crate::sip::transaction::{Remote, Transport};
use crate::sip::ua::{CallId, OutgoingCall};

/// One registered phone of an agent: the Contact to put in the Request-URI and
/// where to send (the source of its REGISTER, which differs behind NAT).
#[derive(Clone)]
pub struct RingTarget {
    pub uri: Uri,
    pub remote: Remote,
    /// The proxies to pass through, as Route headers: the binding's Path (RFC 3327).
    pub route: Vec<NameAddr>,
    /// For a browser (a binding made over a WebSocket): how its WebRTC
    /// offer is answered. Such a target is sent an INVITE without SDP; the
    /// browser offers in its 200 and the answer goes in the ACK (RFC 3264
    /// late offer), since the WebRTC peer only answers offers.
    pub browser: Option<WebrtcAnswerer>,
}

impl std::fmt::Debug for RingTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingTarget")
            .field("uri", &self.uri)
            .field("remote", &self.remote)
            .field("browser", &self.browser.is_some())
            .finish()
    }
}

/// How to ring a registered device: a browser's binding (made over a
/// WebSocket) only when there is WebRTC media to give it.
pub fn ring_target(binding: &Binding, browsers: Option<&WebrtcAnswerer>) -> Option<RingTarget> {
    let browser = match binding.target.transport {
        Transport::Ws => Some(browsers?.clone()),
        _ => None,
    };
    Some(RingTarget {
        uri: binding.uri().clone(),
        remote: binding.target,
        route: binding.path.clone(),
        browser,
    })
}

/// Answers browsers' offers with `driver` and runs their media on the media workers.
pub fn webrtc_answerer(driver: std::sync::Arc<crate::webrtc::Driver>) -> WebrtcAnswerer {
    std::sync::Arc::new(move |offer: Vec<u8>, options: MediaOptions| {
        let driver = driver.clone();
        Box::pin(async move {
            let offer = String::from_utf8_lossy(&offer).into_owned();
            let (peer, answer) = driver.answer(offer).await?;
            let (media, events) = media::spawn_webrtc(peer, options);
            Ok((answer.into_bytes(), media, events))
        })
    })
}

/// A browser's answered media: our SDP answer, and the leg's media running.
pub type WebrtcAnswered = (Vec<u8>, MediaHandle, mpsc::UnboundedReceiver<MediaEvent>);

/// Answers a browser's SDP offer and starts its media on the media workers.
pub type WebrtcAnswerer = std::sync::Arc<
    dyn Fn(
            Vec<u8>,
            MediaOptions,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<WebrtcAnswered, crate::webrtc::DriverError>> + Send>,
        > + Send
        + Sync,
>;

/// An agent's phone that answered: its dialog and media, ready to bridge.
#[derive(Debug)]
pub struct AgentLeg {
    pub call: CallId,
    pub signals: mpsc::Receiver<CallSignal>,
    /// The leg's offer/answer state, for the agent's re-INVITEs (hold, resume).
    pub sdp: SdpSession,
    pub media: MediaHandle,
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    /// A browser's leg: its media is WebRTC, which the WebRTC peer does not
    /// renegotiate, so its re-offers are refused and the session kept.
    pub webrtc: bool,
}

impl AgentLeg {
    /// Ends the agent's call and its media.
    pub async fn hang_up(self, endpoint: &EndpointHandle) {
        endpoint.send(EndpointCommand::Hangup(self.call)).await;
        self.media.send(media::MediaCommand::Shutdown).await;
    }

    /// Answers the phone's re-INVITE (hold, resume, a new address) and points
    /// the leg's media at what was agreed.
    pub async fn answer_reoffer(&mut self, endpoint: &EndpointHandle, offer: &[u8]) {
        if self.webrtc {
            let refuse = EndpointCommand::RefuseReoffer(self.call.clone());
            return endpoint.send(refuse).await;
        }
        let body = media::answer_reoffer(&mut self.sdp, offer, Some(&self.media)).await;
        endpoint
            .send(EndpointCommand::AnswerReoffer(self.call.clone(), body))
            .await;
    }
}

/// Everything needed to ring one agent for one caller.
pub struct RingRequest {
    /// Whom the phones belong to (an agent's login, or a transfer's URI), for logs and To.
    pub agent: String,
    pub targets: Vec<RingTarget>,
    /// Who calls, as the agent's phone shows it.
    pub from: NameAddr,
    /// The caller's context for the agent's screen (`X-Hotline-*`).
    pub headers: Vec<Header>,
    pub endpoint: EndpointHandle,
    pub ports: PortPool,
    pub media_ip: std::net::IpAddr,
    pub media_options: MediaOptions,
    /// Fires when the queue withdraws the offer.
    pub cancel: oneshot::Receiver<()>,
    /// Credentials for a trunk that challenges the call (none for agents).
    pub auth: Option<ClientCredentials>,
    /// Where to hand the media of early media (a 183 with SDP from a single
    /// target: the network's ringback or announcements); None ignores it.
    pub early_media: Option<mpsc::UnboundedSender<MediaHandle>>,
}

/// How a ringing ended: answered with its leg, or refused.
pub enum RingOutcome {
    Answered(Box<AgentLeg>),
    Refused(OfferResult),
    /// The queue withdrew the offer; the phones were told to stop ringing.
    Withdrawn,
}

/// Rings every target at once; the first to answer wins and the others are cancelled.
pub async fn ring(mut request: RingRequest) -> RingOutcome {
    if request.targets.is_empty() {
        info!(agent = %request.agent, "agent has no registered phone");
        return RingOutcome::Refused(OfferResult::Failed);
    }
    let socket = match request.ports.bind().await {
        Ok(socket) => socket,
        Err(error) => {
            warn!(%error, "cannot ring an agent");
            return RingOutcome::Refused(OfferResult::Failed);
        }
    };
    let local = LocalMedia {
        address: request.media_ip,
        rtp_port: socket.local_addr().map(|a| a.port()).unwrap_or_default(),
    };
    let mut sdp = SdpSession::new(local, &mut rand::rng());
    let offer = sdp.offer();
    // Every phone's signals arrive on one channel, tagged with the phone's index.
    let (tagged_tx, mut tagged) = mpsc::channel::<(usize, CallSignal)>(64);
    let mut calls: Vec<Option<CallId>> = Vec::new();
    for (index, target) in request.targets.iter().enumerate() {
        // A browser offers itself (late offer); a phone gets our offer.
        let sdp = match target.browser {
            Some(_) => Vec::new(),
            None => offer.clone(),
        };
        let outgoing = OutgoingCall {
            request_uri: target.uri.clone(),
            from: request.from.clone(),
            to: NameAddr {
                display_name: Some(request.agent.clone()),
                uri: target.uri.clone(),
                params: Params::default(),
            },
            remote: target.remote,
            route: target.route.clone(),
            sdp,
            headers: request.headers.clone(),
            auth: request.auth.clone(),
        };
        let Some(dialled) = request.endpoint.dial(outgoing).await else {
            return RingOutcome::Refused(OfferResult::Failed);
        };
        calls.push(Some(dialled.call));
        let tagged_tx = tagged_tx.clone();
        let mut signals = dialled.signals;
        tokio::spawn(async move {
            while let Some(signal) = signals.recv().await {
                if tagged_tx.send((index, signal)).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tagged_tx);
    let mut refusals = Vec::new();
    let mut socket = Some(socket);
    // Media started by early media (a single target's 183 with SDP), then
    // kept for the answer.
    let mut early: Option<(MediaHandle, mpsc::UnboundedReceiver<MediaEvent>)> = None;
    let outcome = loop {
        let (index, signal) = tokio::select! {
            _ = &mut request.cancel => {
                hang_up_all(&request.endpoint, &mut calls).await;
                break RingOutcome::Withdrawn;
            }
            next = tagged.recv() => match next {
                Some(next) => next,
                None => break RingOutcome::Refused(refusal(&refusals)),
            },
        };
        match signal {
            CallSignal::Progress {
                status,
                sdp: Some(answer),
            } if calls.len() == 1 && early.is_none() && request.early_media.is_some() => {
                debug!(agent = %request.agent, status, "early media");
                let started = sdp.accept_answer(&answer).ok().and_then(|negotiated| {
                    let socket = socket.take()?;
                    media::spawn(socket, negotiated, request.media_options).ok()
                });
                if let (Some((media, events)), Some(to)) = (started, &request.early_media) {
                    let _ = to.send(media.clone());
                    early = Some((media, events));
                }
            }
            CallSignal::Progress { status, .. } => {
                debug!(agent = %request.agent, status, "ringing")
            }
            CallSignal::Answered { sdp: answer } => {
                let Some(call) = calls[index].take() else {
                    continue;
                };
                hang_up_all(&request.endpoint, &mut calls).await;
                let browser = request.targets[index].browser.clone();
                let webrtc = browser.is_some();
                // With early media, its answer stands: a 2xx repeats it (§13.2.1).
                let started = match (browser, early.take(), socket.take()) {
                    (Some(answerer), _, _) => {
                        answer_browser(&answerer, &request, &call, answer).await
                    }
                    (None, Some(running), _) => Ok(running),
                    (None, None, Some(socket)) => match sdp.accept_answer(&answer) {
                        Ok(negotiated) => media::spawn(socket, negotiated, request.media_options)
                            .map_err(|e| e.to_string()),
                        Err(error) => Err(error.to_string()),
                    },
                    (None, None, None) => Err("no RTP socket left".to_owned()),
                };
                let (media, media_events) = match started {
                    Ok(started) => started,
                    Err(error) => {
                        warn!(%error, "agent's answer gives no usable media; hanging up");
                        request.endpoint.send(EndpointCommand::Hangup(call)).await;
                        break RingOutcome::Refused(OfferResult::Failed);
                    }
                };
                info!(agent = %request.agent, "agent answered");
                // The other phones' signals are not needed any more.
                break RingOutcome::Answered(Box::new(AgentLeg {
                    call,
                    signals: forward_one(index, tagged),
                    sdp,
                    media,
                    media_events,
                    webrtc,
                }));
            }
            CallSignal::Failed { status } => {
                calls[index] = None;
                refusals.push(status);
                if calls.iter().all(Option::is_none) {
                    break RingOutcome::Refused(refusal(&refusals));
                }
            }
            CallSignal::Ended { .. } => calls[index] = None,
            _ => {}
        }
    };
    if let Some((media, _)) = early.take() {
        media.send(media::MediaCommand::Shutdown).await;
    }
    outcome
}

/// Answers the offer a browser made in its 200 with the ACK, and starts its media.
async fn answer_browser(
    answerer: &WebrtcAnswerer,
    request: &RingRequest,
    call: &CallId,
    offer: Vec<u8>,
) -> Result<(MediaHandle, mpsc::UnboundedReceiver<MediaEvent>), String> {
    let (answer, media, events) = answerer(offer, request.media_options)
        .await
        .map_err(|e| e.to_string())?;
    request
        .endpoint
        .send(EndpointCommand::AckWithAnswer(call.clone(), answer))
        .await;
    Ok((media, events))
}

/// The answered phone's signals from now on, untagged.
fn forward_one(
    answered: usize,
    mut tagged: mpsc::Receiver<(usize, CallSignal)>,
) -> mpsc::Receiver<CallSignal> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Some((index, signal)) = tagged.recv().await {
            if index == answered && tx.send(signal).await.is_err() {
                return;
            }
        }
    });
    rx
}

async fn hang_up_all(endpoint: &EndpointHandle, calls: &mut [Option<CallId>]) {
    for call in calls.iter_mut().filter_map(Option::take) {
        endpoint.send(EndpointCommand::Hangup(call)).await;
    }
}

/// What the phones' refusals mean for the queue: busy or declined if any
/// phone said so, no answer if one rang out, else unreachable.
fn refusal(statuses: &[u16]) -> OfferResult {
    if statuses.iter().any(|s| matches!(s, 486 | 600)) {
        OfferResult::Busy
    } else if statuses.iter().any(|s| matches!(s, 603 | 403)) {
        OfferResult::Declined
    } else if statuses.iter().any(|s| matches!(s, 408 | 480 | 487)) {
        OfferResult::NoAnswer
    } else {
        OfferResult::Failed
    }
}

/// The caller's number as a URI of ours, for the From the agent's phone shows;
/// only dialable characters are kept, so the URI always parses.
pub fn caller_uri(number: &str, host: SocketAddr) -> Option<Uri> {
    let user: String = number
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let user = if user.is_empty() { "anonymous" } else { &user };
    crate::sip::uri::parse_uri(&format!("sip:{user}@{host}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_phone_among_others_makes_the_agent_busy() {
        assert_eq!(refusal(&[408, 486]), OfferResult::Busy);
        assert_eq!(refusal(&[603]), OfferResult::Declined);
        assert_eq!(refusal(&[480, 503]), OfferResult::NoAnswer);
        assert_eq!(refusal(&[503]), OfferResult::Failed);
        assert_eq!(refusal(&[]), OfferResult::Failed);
    }
}
