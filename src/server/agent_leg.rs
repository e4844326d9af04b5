//! Ringing an agent: the outgoing call to every registered phone of the
//! agent, until one answers, all refuse, or the queue withdraws the offer.
//!
//! The answered phone becomes an [`AgentLeg`]: its dialog and a running media
//! task, handed through the queue to the waiting caller's task, which bridges it.

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::queue::OfferResult;
use crate::queue::fork::{Fork, ForkAction, ForkInput};
use crate::registrar::Binding;
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle};
use crate::server::media::{self, MediaHandle, MediaOptions};
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
            let control = peer.control();
            let (media, events) = media::spawn_webrtc(peer, options);
            Ok(WebrtcAnswered {
                answer: answer.into_bytes(),
                media,
                events,
                control,
            })
        })
    })
}

/// A browser's answered media.
pub struct WebrtcAnswered {
    /// Our SDP answer.
    pub answer: Vec<u8>,
    /// The leg's media, running on the media workers.
    pub media: MediaHandle,
    pub events: crate::server::media::MediaEvents,
    /// For the browser's re-offers (hold, resume).
    pub control: crate::webrtc::PeerControl,
}

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
    pub media_events: crate::server::media::MediaEvents,
    /// A browser's leg: its media is WebRTC, and its re-offers are answered
    /// by its WebRTC peer rather than `sdp`.
    pub webrtc: Option<crate::webrtc::PeerControl>,
}

impl AgentLeg {
    /// Ends the agent's call and its media.
    pub async fn hang_up(self, endpoint: &EndpointHandle) {
        endpoint.send(EndpointCommand::Hangup(self.call)).await;
        self.media.send(media::MediaCommand::Shutdown).await;
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
    let mut fork = Fork::new(calls.len(), request.early_media.is_some());
    let mut socket = Some(socket);
    // Media started by early media (a single target's 183 with SDP), then
    // kept for the answer.
    let mut early: Option<(MediaHandle, crate::server::media::MediaEvents)> = None;
    // The SDP of the latest progress or answer, for the action that needs it.
    let mut latest_sdp: Vec<u8> = Vec::new();
    let outcome = 'ringing: loop {
        while let Some(action) = fork.poll_action() {
            match action {
                ForkAction::StartEarlyMedia { phone } => {
                    debug!(agent = %request.agent, phone, "early media");
                    let started = sdp.accept_answer(&latest_sdp).ok().and_then(|negotiated| {
                        let socket = socket.take()?;
                        media::spawn(socket, negotiated, request.media_options).ok()
                    });
                    if let (Some((media, events)), Some(to)) = (started, &request.early_media) {
                        let _ = to.send(media.clone());
                        early = Some((media, events));
                    }
                }
                ForkAction::HangUp { phone } => {
                    if let Some(call) = calls[phone].take() {
                        request.endpoint.send(EndpointCommand::Hangup(call)).await;
                    }
                }
                ForkAction::Won { phone } => {
                    let Some(call) = calls[phone].take() else {
                        break 'ringing RingOutcome::Refused(OfferResult::Failed);
                    };
                    let answer = std::mem::take(&mut latest_sdp);
                    break 'ringing answered(
                        &request,
                        phone,
                        call,
                        answer,
                        sdp,
                        &mut early,
                        &mut socket,
                        tagged,
                    )
                    .await;
                }
                ForkAction::Refused(result) => break 'ringing RingOutcome::Refused(result),
                ForkAction::Withdrawn => break 'ringing RingOutcome::Withdrawn,
            }
        }
        let input = tokio::select! {
            _ = &mut request.cancel => ForkInput::Withdrawn,
            next = tagged.recv() => match next {
                Some((phone, signal)) => match signal {
                    CallSignal::Progress { status, sdp } => {
                        debug!(agent = %request.agent, phone, status, "ringing");
                        let early_media = sdp.is_some();
                        latest_sdp = sdp.unwrap_or_default();
                        ForkInput::Progress { phone, early_media }
                    }
                    CallSignal::Answered { sdp } => {
                        latest_sdp = sdp;
                        ForkInput::Answered { phone }
                    }
                    CallSignal::Failed { status } => {
                        calls[phone] = None;
                        ForkInput::Failed { phone, status }
                    }
                    CallSignal::Ended { .. } => {
                        calls[phone] = None;
                        ForkInput::Ended { phone }
                    }
                    _ => continue,
                },
                // Every phone's dialog is gone.
                None => {
                    for phone in 0..calls.len() {
                        fork.handle(ForkInput::Ended { phone });
                    }
                    continue;
                }
            },
        };
        fork.handle(input);
    };
    if let Some((media, _)) = early.take() {
        media.send(media::MediaCommand::Shutdown).await;
    }
    outcome
}

/// The winning phone's leg: its media started from its answer (a browser's
/// offer answered in the ACK; a phone's answer to our offer; or the early
/// media already running, whose answer a 2xx repeats, RFC 3261 §13.2.1).
/// Media that cannot start hangs the phone up and refuses the offer.
#[allow(clippy::too_many_arguments)]
async fn answered(
    request: &RingRequest,
    phone: usize,
    call: CallId,
    answer: Vec<u8>,
    mut sdp: SdpSession,
    early: &mut Option<(MediaHandle, crate::server::media::MediaEvents)>,
    socket: &mut Option<tokio::net::UdpSocket>,
    tagged: mpsc::Receiver<(usize, CallSignal)>,
) -> RingOutcome {
    let browser = request.targets[phone].browser.clone();
    let mut webrtc = None;
    let started = match (browser, early.take(), socket.take()) {
        (Some(answerer), _, _) => {
            answer_browser(&answerer, request, &call, answer)
                .await
                .map(|answered| {
                    webrtc = Some(answered.control);
                    (answered.media, answered.events)
                })
        }
        (None, Some(running), _) => Ok(running),
        (None, None, Some(socket)) => match sdp.accept_answer(&answer) {
            Ok(negotiated) => {
                media::spawn(socket, negotiated, request.media_options).map_err(|e| e.to_string())
            }
            Err(error) => Err(error.to_string()),
        },
        (None, None, None) => Err("no RTP socket left".to_owned()),
    };
    let (media, media_events) = match started {
        Ok(started) => started,
        Err(error) => {
            warn!(%error, "agent's answer gives no usable media; hanging up");
            request.endpoint.send(EndpointCommand::Hangup(call)).await;
            return RingOutcome::Refused(OfferResult::Failed);
        }
    };
    info!(agent = %request.agent, "agent answered");
    RingOutcome::Answered(Box::new(AgentLeg {
        call,
        // The other phones' signals are not needed any more.
        signals: forward_one(phone, tagged),
        sdp,
        media,
        media_events,
        webrtc,
    }))
}

/// Answers the offer a browser made in its 200 with the ACK, and starts its media.
async fn answer_browser(
    answerer: &WebrtcAnswerer,
    request: &RingRequest,
    call: &CallId,
    offer: Vec<u8>,
) -> Result<WebrtcAnswered, String> {
    let mut answered = answerer(offer, request.media_options)
        .await
        .map_err(|e| e.to_string())?;
    let answer = std::mem::take(&mut answered.answer);
    request
        .endpoint
        .send(EndpointCommand::AckWithAnswer(call.clone(), answer))
        .await;
    Ok(answered)
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
