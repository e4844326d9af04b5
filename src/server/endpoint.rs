//! The SIP endpoint task: owns the sans-IO user agent and drives it.
//!
//! It parses what the transports receive, feeds the user agent, sends what
//! the user agent transmits, runs its timers, and routes call events to one
//! task per call and REGISTERs to the registrar task. Call tasks reach it
//! through [`EndpointHandle`], which also places calls (`dial.rs`). Policy
//! that belongs to the server (the call limit, and what one source may send
//! and how many calls it may hold, from [`super::limits`]) is applied here,
//! at the edge, before a message reaches the user agent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

mod dial;

pub use dial::Dialled;

use crate::sip::identity::mask_number;
use crate::sip::message::Message;
use crate::sip::relay::{BrowserRelay, Relayed};
use crate::sip::transaction::{Remote, ServerTxId};
use crate::sip::ua::{CallId, OutgoingCall, UaEvent, UserAgent};
use crate::sip::{Header, Request, Response};

use super::admission::{Admission, Refusal, SetupLoad};
use super::limits::{LimitStats, SourceLimiter, Verdict};
use super::registrar::RegisterRequest;
use crate::metrics::{Direction, SipMetrics};

use super::transport::{Inbound, Outbound};

/// Commands a call task gives the endpoint about its call.
#[derive(Debug)]
pub enum EndpointCommand {
    /// Send 180 Ringing.
    Ring(CallId),
    /// Answer with this SDP.
    Answer(CallId, Vec<u8>),
    /// Answer a re-INVITE with this SDP.
    AnswerReoffer(CallId, Vec<u8>),
    /// Refuse a re-INVITE's offer with 488; the session stays as it was.
    RefuseReoffer(CallId),
    /// ACK an outgoing call placed without an offer, with our answer to the
    /// offer its 200 made (a browser's, over WebSocket).
    AckWithAnswer(CallId, Vec<u8>),
    /// Refuse the call with a status and extra headers.
    Reject(CallId, u16, Vec<Header>),
    /// End the call (BYE, or CANCEL/487 before it is answered).
    Hangup(CallId),
    /// Place a call (boxed: it is far larger than the other commands); the
    /// reply carries its id and its signals.
    Dial(Box<OutgoingCall>, oneshot::Sender<Dialled>),
    /// Answer a request handed to another task (a REGISTER).
    Respond(ServerTxId, Box<Response>),
    /// Whether this node runs the cluster's ACD now (OPTIONS to the ACD user).
    AcdRunning(bool),
    /// A browser's WebSocket closed: its calls end.
    ConnectionClosed(Remote),
    /// A browser whose WebSocket was open on another node of the cluster is
    /// gone: the calls to its Contact end.
    TargetLost(crate::sip::message::Uri),
}

/// What the endpoint tells a call task about its call.
#[derive(Debug)]
pub enum CallSignal {
    /// The ACK arrived; with SDP when the INVITE had none (late offer).
    Confirmed { sdp_in_ack: Option<Vec<u8>> },
    /// The caller re-INVITEd with a new offer (hold, resume, refresh).
    ReOffer { sdp: Vec<u8> },
    /// An INFO request, e.g. DTMF as `application/dtmf-relay`.
    Info { content_type: String, body: Vec<u8> },
    /// The caller cancelled before the answer.
    Cancelled,
    /// An outgoing call rings: 180, 183, ...; with the callee's SDP answer
    /// when it sends early media.
    Progress { status: u16, sdp: Option<Vec<u8>> },
    /// An outgoing call was answered with this SDP; it was ACKed.
    Answered { sdp: Vec<u8> },
    /// An outgoing call ended unanswered with this status (408: no answer,
    /// 487: cancelled); nothing more will arrive.
    Failed { status: u16 },
    /// The call is over; nothing more will arrive.
    Ended { reason: String },
}

/// A new call handed to the server's call handler.
pub struct NewCall {
    pub call: CallId,
    pub request: Request,
    pub offer: Option<Vec<u8>>,
    pub remote: Remote,
    pub signals: mpsc::Receiver<CallSignal>,
    pub endpoint: EndpointHandle,
}

/// Starts a task for a new call.
pub type CallHandler = Arc<dyn Fn(NewCall) + Send + Sync>;

/// Limits the endpoint enforces.
#[derive(Debug)]
pub struct EndpointLimits {
    pub max_calls: usize,
    pub retry_after_seconds: u32,
    /// The per-source policy: message rate and calls in progress.
    pub sources: SourceLimiter,
    /// Where what the limits refused is counted.
    pub stats: Arc<LimitStats>,
    /// Whether the set-up path can take one more call, and where its load is read.
    pub admission: Option<(Admission, SetupLoad)>,
}

impl EndpointLimits {
    /// The call limit and the per-source limits of `settings`, counting into `stats`.
    pub fn new(
        max_calls: usize,
        retry_after_seconds: u32,
        settings: super::limits::LimitSettings,
        stats: Arc<LimitStats>,
    ) -> EndpointLimits {
        EndpointLimits {
            max_calls,
            retry_after_seconds,
            sources: SourceLimiter::new(settings, Instant::now()),
            stats,
            admission: None,
        }
    }

    /// Adds admission control of the set-up path, reading its load from `load`.
    pub fn with_admission(mut self, admission: Admission, load: SetupLoad) -> EndpointLimits {
        self.admission = Some((admission, load));
        self
    }

    /// Why a new call cannot be set up now, counted; `None` admits it.
    fn refuse_setup(&mut self, now: Instant) -> Option<Refusal> {
        let (admission, load) = self.admission.as_mut()?;
        let refusal = admission.admit(now, load.read(now)).err()?;
        let counter = match refusal {
            Refusal::RecordBacklog => &self.stats.calls_refused_record_backlog,
            Refusal::LookupLatency => &self.stats.calls_refused_lookup_latency,
            Refusal::CallRate => &self.stats.calls_refused_call_rate,
        };
        LimitStats::count(counter);
        Some(refusal)
    }
}

/// How call tasks reach the endpoint.
#[derive(Clone, Debug)]
pub struct EndpointHandle {
    commands: mpsc::Sender<EndpointCommand>,
}

impl EndpointHandle {
    /// Sends a command; a stopped endpoint means the server is shutting down.
    pub async fn send(&self, command: EndpointCommand) {
        let _ = self.commands.send(command).await;
    }
}

/// Depth of the command queue from call tasks.
const COMMAND_QUEUE: usize = 4096;

/// Events a single call may have queued before its task reads them.
const SIGNAL_QUEUE: usize = 64;

/// Runs the endpoint until the inbound channel closes or `shutdown` fires.
pub fn spawn(
    ua: UserAgent,
    inbound: mpsc::Receiver<Inbound>,
    outbound: Outbound,
    limits: EndpointLimits,
    handler: CallHandler,
    registrar: mpsc::Sender<RegisterRequest>,
    metrics: SipMetrics,
) -> EndpointHandle {
    spawn_relaying(
        ua, inbound, outbound, limits, handler, registrar, metrics, None,
    )
}

/// Runs the endpoint with `relay` between the cluster and this node's
/// browsers (see `sip::relay`), on a cluster node.
#[allow(clippy::too_many_arguments)]
pub fn spawn_relaying(
    ua: UserAgent,
    inbound: mpsc::Receiver<Inbound>,
    outbound: Outbound,
    limits: EndpointLimits,
    handler: CallHandler,
    registrar: mpsc::Sender<RegisterRequest>,
    metrics: SipMetrics,
    relay: Option<BrowserRelay>,
) -> EndpointHandle {
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let handle = EndpointHandle {
        commands: commands_tx,
    };
    let endpoint = Endpoint {
        ua,
        outbound,
        limits,
        handler,
        registrar,
        calls: HashMap::new(),
        handle: handle.clone(),
        metrics,
        relay,
    };
    tokio::spawn(endpoint.run(inbound, commands_rx));
    handle
}

struct Endpoint {
    ua: UserAgent,
    outbound: Outbound,
    limits: EndpointLimits,
    handler: CallHandler,
    registrar: mpsc::Sender<RegisterRequest>,
    calls: HashMap<CallId, CallEntry>,
    handle: EndpointHandle,
    metrics: SipMetrics,
    relay: Option<BrowserRelay>,
}

/// A call in progress as the endpoint routes it.
struct CallEntry {
    signals: mpsc::Sender<CallSignal>,
    /// The caller's address for an incoming call, counted by the per-source limit.
    source: Option<IpAddr>,
}

impl Endpoint {
    async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<EndpointCommand>,
    ) {
        loop {
            let sweep = self.limits.sources.poll_timeout();
            let deadline = self.ua.poll_timeout().map_or(sweep, |at| at.min(sweep));
            tokio::select! {
                received = inbound.recv() => match received {
                    Some(received) => self.handle_inbound(received).await,
                    None => return,
                },
                Some(command) = commands.recv() => self.handle_command(command),
                _ = sleep_until(Some(deadline)) => {
                    let now = Instant::now();
                    self.ua.handle_timeout(now);
                    self.limits.sources.handle_timeout(now);
                }
            }
            self.report_limits();
            self.flush().await;
        }
    }

    async fn handle_inbound(&mut self, received: Inbound) {
        let now = Instant::now();
        let verdict = self
            .limits
            .sources
            .check_message(now, received.remote.addr.ip());
        if verdict == Verdict::Drop {
            // Far over its rate: not even parsed.
            LimitStats::count(&self.limits.stats.dropped);
            return;
        }
        let parsed = crate::sip::parse(&received.bytes);
        if let Ok(message) = &parsed {
            self.metrics.count(message, Direction::Received);
        }
        match parsed {
            Ok(message) if verdict == Verdict::Reject => {
                self.refuse_over_rate(message, received.remote).await
            }
            Ok(message) => self.take(now, message, received.remote).await,
            Err(_) if verdict == Verdict::Reject => {
                LimitStats::count(&self.limits.stats.dropped);
            }
            Err(error) => {
                debug!(%error, from = %received.remote.addr, "unparseable SIP message");
                if let Some(response) = crate::sip::bad_request_for(&received.bytes, &error) {
                    // A peer that cannot take our 400 gets nothing more.
                    self.send(received.remote, Message::Response(response))
                        .await;
                }
            }
        }
    }

    /// Relays a message of another node's dialog with one of this node's
    /// browsers; the user agent takes the rest.
    async fn take(&mut self, now: Instant, message: Message, remote: Remote) {
        let Some(relay) = &self.relay else {
            return self.ua.handle_message(now, message, remote);
        };
        match relay.handle(message, remote) {
            Relayed::Pass(message) => self.ua.handle_message(now, message, remote),
            Relayed::Forward {
                message,
                to,
                fallback,
            } => {
                self.metrics.count(&message, Direction::Sent);
                let sent = self.outbound.send(to, message.to_bytes()).await;
                if sent.is_err()
                    && let Some(fallback) = fallback
                {
                    let (response, back) = *fallback;
                    debug!(to = %to.addr, status = response.status, "not relayed: the next hop cannot be reached");
                    self.send(back, Message::Response(response)).await;
                }
            }
            Relayed::Refuse { response, to } => {
                debug!(from = %to.addr, status = response.status, "request not relayed");
                self.send(to, Message::Response(response)).await;
            }
            Relayed::Drop => {}
        }
    }

    /// Answers a message over its source's rate without any state: 503 with
    /// Retry-After for a request that takes an answer, nothing for the rest.
    async fn refuse_over_rate(&mut self, message: Message, remote: Remote) {
        let Message::Request(request) = message else {
            LimitStats::count(&self.limits.stats.dropped);
            return;
        };
        if request.method == crate::sip::Method::Ack {
            LimitStats::count(&self.limits.stats.dropped);
            return;
        }
        LimitStats::count(&self.limits.stats.rejected);
        let mut busy = self.ua.stateless_response(&request, 503);
        let retry = self.limits.retry_after_seconds.to_string();
        busy.head.push_header("Retry-After", retry);
        self.send(remote, Message::Response(busy)).await;
    }

    /// Sends a message the user agent keeps no state for; a failure is the peer's loss.
    async fn send(&mut self, remote: Remote, message: Message) {
        self.metrics.count(&message, Direction::Sent);
        let _ = self.outbound.send(remote, message.to_bytes()).await;
    }

    /// Logs what the limits refused, one line per source per interval.
    fn report_limits(&mut self) {
        let stats = &self.limits.stats;
        let tracked = self.limits.sources.sources_tracked() as u64;
        stats.sources_tracked.store(tracked, Ordering::Relaxed);
        while let Some(report) = self.limits.sources.poll_report() {
            let source = report.source.map_or_else(
                || "sources beyond the table".to_owned(),
                |ip| ip.to_string(),
            );
            warn!(
                %source,
                rejected = report.rejected,
                dropped = report.dropped,
                calls_refused = report.calls_refused,
                "source over its SIP limits"
            );
        }
    }

    fn handle_command(&mut self, command: EndpointCommand) {
        let now = Instant::now();
        match command {
            EndpointCommand::Ring(call) => self.ua.ring(now, &call),
            EndpointCommand::Answer(call, sdp) => self.ua.answer(now, &call, sdp),
            EndpointCommand::AnswerReoffer(call, sdp) => self.ua.answer_reoffer(now, &call, sdp),
            EndpointCommand::AckWithAnswer(call, sdp) => self.ua.ack_with_answer(&call, sdp),
            EndpointCommand::RefuseReoffer(call) => self.ua.refuse_reoffer(now, &call),
            EndpointCommand::Reject(call, status, headers) => {
                self.ua.reject(now, &call, status, headers);
                self.forget_if_gone(&call);
            }
            EndpointCommand::Hangup(call) => {
                self.ua.hangup(now, &call);
                self.forget_if_gone(&call);
            }
            EndpointCommand::Dial(call, reply) => self.dial(call, reply),
            EndpointCommand::Respond(tx, response) => self.ua.respond(now, tx, *response),
            EndpointCommand::AcdRunning(running) => self.ua.set_acd_running(running),
            EndpointCommand::ConnectionClosed(connection) => self.ua.connection_lost(connection),
            EndpointCommand::TargetLost(contact) => self.ua.target_lost(&contact),
        }
    }

    /// Sends everything the user agent has to send and routes its events.
    async fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(transmit) = self.ua.poll_transmit() {
                progressed = true;
                self.metrics.count(&transmit.message, Direction::Sent);
                let bytes = transmit.message.to_bytes();
                if self.outbound.send(transmit.remote, bytes).await.is_err() {
                    self.ua.handle_send_failure(&transmit);
                }
            }
            while let Some(event) = self.ua.poll_event() {
                progressed = true;
                self.route(event);
            }
            if !progressed {
                return;
            }
        }
    }

    fn route(&mut self, event: UaEvent) {
        match event {
            UaEvent::IncomingCall {
                call,
                request,
                offer,
                remote,
            } => self.incoming(call, request, offer, remote),
            UaEvent::OutgoingProgress { call, status, sdp } => {
                self.signal(&call, CallSignal::Progress { status, sdp })
            }
            UaEvent::OutgoingAnswered { call, sdp } => {
                self.signal(&call, CallSignal::Answered { sdp })
            }
            UaEvent::OutgoingFailed { call, status } => {
                self.signal(&call, CallSignal::Failed { status });
                self.forget(&call);
            }
            UaEvent::CallConfirmed { call, sdp_in_ack } => {
                self.signal(&call, CallSignal::Confirmed { sdp_in_ack })
            }
            UaEvent::ReOffer { call, sdp } => self.signal(&call, CallSignal::ReOffer { sdp }),
            UaEvent::Info {
                call,
                content_type,
                body,
            } => self.signal(&call, CallSignal::Info { content_type, body }),
            UaEvent::CallCancelled { call } => {
                self.signal(&call, CallSignal::Cancelled);
                self.forget(&call);
            }
            UaEvent::CallEnded { call, reason } => {
                self.signal(
                    &call,
                    CallSignal::Ended {
                        reason: format!("{reason:?}"),
                    },
                );
                self.forget(&call);
            }
            UaEvent::Register {
                tx,
                request,
                remote,
            } => self.register(RegisterRequest {
                tx,
                request,
                remote,
            }),
        }
    }

    /// Hands a REGISTER to the registrar without waiting for it.
    fn register(&mut self, request: RegisterRequest) {
        if let Err(error) = self.registrar.try_send(request) {
            let request = error.into_inner();
            warn!(from = %request.remote.addr, "registrar is busy; answering REGISTER 503");
            self.metrics.register_failed("busy");
            let mut busy = Response::to_request(&request.request, 503);
            let retry = self.limits.retry_after_seconds.to_string();
            busy.head.push_header("Retry-After", retry);
            self.ua.respond(Instant::now(), request.tx, busy);
        }
    }

    fn incoming(&mut self, call: CallId, request: Request, offer: Option<Vec<u8>>, remote: Remote) {
        let now = Instant::now();
        if self.calls.len() >= self.limits.max_calls {
            LimitStats::count(&self.limits.stats.calls_over_limit);
            warn!(
                calls = self.calls.len(),
                "call limit reached; answering 503"
            );
            self.reject_busy(now, &call);
            return;
        }
        if let Some(refusal) = self.limits.refuse_setup(now) {
            debug!(call = %call, ?refusal, "call set-up is saturated; answering 503");
            self.reject_busy(now, &call);
            return;
        }
        let source = remote.addr.ip();
        if !self.limits.sources.admit_call(now, source) {
            LimitStats::count(&self.limits.stats.calls_refused);
            debug!(call = %call, from = %remote.addr, "the source's call limit is reached; answering 503");
            self.reject_busy(now, &call);
            return;
        }
        let caller = crate::sip::identity::caller_number(&request).unwrap_or_default();
        info!(call = %call, caller = %mask_number(&caller), from = %remote.addr, "incoming call");
        let (signals_tx, signals_rx) = mpsc::channel(SIGNAL_QUEUE);
        let entry = CallEntry {
            signals: signals_tx,
            source: Some(source),
        };
        self.calls.insert(call.clone(), entry);
        (self.handler)(NewCall {
            call,
            request,
            offer,
            remote,
            signals: signals_rx,
            endpoint: self.handle.clone(),
        });
    }

    /// Answers a new call 503 with Retry-After: the server is busy, not broken.
    fn reject_busy(&mut self, now: Instant, call: &CallId) {
        let retry = Header {
            name: "Retry-After".into(),
            value: self.limits.retry_after_seconds.to_string(),
        };
        self.ua.reject(now, call, 503, vec![retry]);
    }

    /// Stops routing a call that is over, and frees its place in its source's limit.
    fn forget(&mut self, call: &CallId) {
        if let Some(CallEntry {
            source: Some(source),
            ..
        }) = self.calls.remove(call)
        {
            self.limits.sources.call_ended(source);
        }
    }

    /// Forgets a call the user agent ended without an event to come (a
    /// rejected or abandoned INVITE), so it does not hold its place forever.
    fn forget_if_gone(&mut self, call: &CallId) {
        if !self.ua.knows(call) {
            self.forget(call);
        }
    }

    fn signal(&mut self, call: &CallId, signal: CallSignal) {
        if let Some(CallEntry {
            signals: sender, ..
        }) = self.calls.get(call)
            && sender.try_send(signal).is_err()
        {
            warn!(call = %call, "call task is not reading its signals; dropping one");
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(super) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
