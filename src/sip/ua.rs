//! The user-agent core (RFC 3261 §8, §12–§15): calls answered and placed by hotline.
//!
//! A sans-IO value over the transaction layer. It reports incoming calls,
//! ACKs, re-offers, INFO and hang-ups as [`UaEvent`]s and takes the shell's
//! decisions (ring, answer, reject, hang up) as commands. Calls it places
//! (`outgoing.rs`) become the same kind of dialog once answered. Mechanism
//! lives here (2xx retransmission, CANCEL, 481/501/500 answers); policy
//! (whether to answer or call, with what SDP) stays with the shell.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

mod outgoing;

pub use outgoing::OutgoingCall;

use super::dialog::Dialog;
use super::message::*;
use super::transaction::{
    ClientTxId, Remote, ServerTxId, TimerConfig, TransactionEvent, TransactionLayer, Transmit,
    Transport,
};

/// Identifies a call: the SIP Call-ID of its dialog.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Settings of the user agent.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Our address as written in Via and Contact.
    pub address: SocketAddr,
    /// The Server / User-Agent header value.
    pub user_agent: String,
    pub timers: TimerConfig,
}

impl UaConfig {
    /// Settings with the default timers.
    pub fn new(address: SocketAddr, user_agent: String) -> UaConfig {
        UaConfig {
            address,
            user_agent,
            timers: TimerConfig::default(),
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    RemoteBye,
    /// We sent BYE and it completed (or timed out).
    LocalBye,
    /// No ACK for our 2xx within 64·T1 (§13.3.1.4); we sent BYE.
    AckTimeout,
    /// The connection the peer is only reached over closed (a browser's
    /// WebSocket): nothing can be sent to it any more, not even a BYE.
    ConnectionLost,
}

/// What the user agent reports to the shell.
#[derive(Debug)]
// Moved once from producer to consumer, never stored in bulk: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum UaEvent {
    /// A new INVITE; the shell rings, answers or rejects it.
    IncomingCall {
        call: CallId,
        request: Request,
        offer: Option<Vec<u8>>,
        remote: Remote,
    },
    /// The callee of an outgoing call sent 180 Ringing, 183 Session Progress,
    /// ...; `sdp` is the answer it carried, for early media (the network's
    /// ringback or announcements), if any.
    OutgoingProgress {
        call: CallId,
        status: u16,
        sdp: Option<Vec<u8>>,
    },
    /// An outgoing call was answered and its 2xx ACKed; `sdp` is the callee's
    /// answer. From now on it is a call like an answered incoming one.
    OutgoingAnswered { call: CallId, sdp: Vec<u8> },
    /// An outgoing call ended unanswered: the callee's final status (486, 603,
    /// 480, 404, ...), 408 when it never answered, 487 after our cancel (also
    /// when an answer crossed the CANCEL: that dialog was ACKed and ended).
    OutgoingFailed { call: CallId, status: u16 },
    /// The ACK for our 2xx arrived; it carries the SDP answer on a late offer.
    CallConfirmed {
        call: CallId,
        sdp_in_ack: Option<Vec<u8>>,
    },
    /// A re-INVITE (hold, resume, refresh); answer with `answer_reoffer`.
    /// An empty `sdp` asks for our offer (a re-INVITE without SDP).
    ReOffer { call: CallId, sdp: Vec<u8> },
    /// An INFO request inside the call (already answered 200).
    Info {
        call: CallId,
        content_type: String,
        body: Vec<u8>,
    },
    /// The caller cancelled before the answer (200 and 487 already sent).
    CallCancelled { call: CallId },
    /// The call is over.
    CallEnded { call: CallId, reason: EndReason },
    /// A REGISTER; the shell's registrar answers it with `respond`.
    Register {
        tx: ServerTxId,
        request: Request,
        remote: Remote,
    },
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// INVITE received, no final response yet.
    Early,
    /// 2xx sent, waiting for the ACK.
    Answered,
    Confirmed,
    /// BYE sent, waiting for its response.
    Terminating,
}

/// A 2xx being retransmitted until its ACK (§13.3.1.4).
#[derive(Debug)]
struct Retransmission {
    response: Response,
    interval: Duration,
    next: Instant,
    deadline: Instant,
}

#[derive(Debug)]
struct Call {
    phase: Phase,
    dialog: Dialog,
    invite_tx: Option<ServerTxId>,
    invite: Request,
    source: Remote,
    ok: Option<Retransmission>,
    reinvite_tx: Option<ServerTxId>,
    reinvite_ok: Option<Retransmission>,
    bye_tx: Option<ClientTxId>,
    /// Set when our BYE follows an ACK timeout, to report the right reason.
    ack_timed_out: bool,
}

impl Call {
    /// A call in `phase` with nothing pending on its dialog yet.
    fn new(
        phase: Phase,
        dialog: Dialog,
        invite_tx: Option<ServerTxId>,
        invite: Request,
        source: Remote,
    ) -> Call {
        Call {
            phase,
            dialog,
            invite_tx,
            invite,
            source,
            ok: None,
            reinvite_tx: None,
            reinvite_ok: None,
            bye_tx: None,
            ack_timed_out: false,
        }
    }
}

/// Methods we answer (Allow header).
const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER";

/// Bodies we understand (Accept header of an OPTIONS answer).
const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf";

/// The user agent: every call of the endpoint.
pub struct UserAgent {
    config: UaConfig,
    layer: TransactionLayer,
    /// Boxed: a call is large and the map keeps spare slots as it grows.
    calls: HashMap<CallId, Box<Call>>,
    /// Calls we placed, until their answer and for 64·T1 after it.
    outgoing: HashMap<CallId, outgoing::Outgoing>,
    rng: StdRng,
    /// Keys the To tags of stateless answers, so a retransmission gets the same tag.
    tag_secret: u64,
    events: VecDeque<UaEvent>,
    /// The user that designates the cluster's ACD, and whether this node runs it now.
    acd: Option<(String, bool)>,
}

impl UserAgent {
    /// A user agent; `seed` makes tags and branches reproducible in tests.
    pub fn new(config: UaConfig, seed: u64) -> UserAgent {
        UserAgent {
            layer: TransactionLayer::new(config.timers),
            config,
            calls: HashMap::new(),
            outgoing: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            tag_secret: seed ^ 0x5eed_7a65_u64.rotate_left(17),
            events: VecDeque::new(),
            acd: None,
        }
    }

    /// Answers OPTIONS to `user` (`sip:acd@…`) with 200 only while this node
    /// runs the ACD, 503 otherwise, so a proxy probing that user finds the
    /// ACD; starts as not running it.
    pub fn designate_acd(&mut self, user: String) {
        self.acd = Some((user, false));
    }

    /// Whether this node runs the ACD now (see [`UserAgent::designate_acd`]).
    pub fn set_acd_running(&mut self, running: bool) {
        if let Some((_, state)) = &mut self.acd {
            *state = running;
        }
    }

    /// The answer to an out-of-dialog OPTIONS: 200, but 503 for the ACD's
    /// user on a node that does not run the ACD.
    fn options_status(&self, request: &Request) -> u16 {
        let Some((user, running)) = &self.acd else {
            return 200;
        };
        let for_acd = request.uri.user() == Some(user.as_str())
            || request.head.to.uri.user() == Some(user.as_str());
        if for_acd && !running { 503 } else { 200 }
    }

    /// A message from the network.
    pub fn handle_message(&mut self, now: Instant, message: Message, remote: Remote) {
        match message {
            Message::Request(mut request) => {
                stamp_received(&mut request, remote.addr);
                if let Some(status) = self.stateless_status(&request) {
                    let response = self.stateless_response(&request, status);
                    self.layer
                        .send_stateless(Message::Response(response), remote);
                    return;
                }
                self.layer.handle_request(now, request, remote);
            }
            Message::Response(response) => self.layer.handle_response(now, response),
        }
        self.process(now);
    }

    /// Runs the transaction timers and 2xx retransmissions due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        let ids: Vec<CallId> = self.calls.keys().cloned().collect();
        for id in ids {
            self.retransmit_ok(now, &id);
        }
        self.outgoing_deadlines(now);
        self.process(now);
    }

    /// Sends 180 Ringing.
    pub fn ring(&mut self, now: Instant, call: &CallId) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (Phase::Early, Some(tx)) = (c.phase, c.invite_tx) else {
            return;
        };
        let ringing = self.dialog_response(&c.invite, &c.dialog, 180);
        self.layer.respond(now, tx, ringing);
    }

    /// Answers the call with a 2xx carrying `sdp`.
    pub fn answer(&mut self, now: Instant, call: &CallId, sdp: Vec<u8>) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (Phase::Early, Some(tx)) = (c.phase, c.invite_tx) else {
            return;
        };
        let ok = self.ok_with_sdp(&c.invite, &c.dialog, sdp);
        self.layer.respond(now, tx, ok.clone());
        let retransmission = self.retransmission(now, ok);
        if let Some(c) = self.calls.get_mut(call) {
            c.phase = Phase::Answered;
            c.ok = Some(retransmission);
        }
        self.process(now);
    }

    /// Answers a pending re-INVITE with `sdp`.
    pub fn answer_reoffer(&mut self, now: Instant, call: &CallId, sdp: Vec<u8>) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let Some(tx) = c.reinvite_tx else { return };
        let Some(request) = self.layer.server_request(tx).cloned() else {
            return;
        };
        let ok = self.ok_with_sdp(&request, &c.dialog, sdp);
        self.layer.respond(now, tx, ok.clone());
        let retransmission = self.retransmission(now, ok);
        if let Some(c) = self.calls.get_mut(call) {
            c.reinvite_tx = None;
            c.reinvite_ok = Some(retransmission);
        }
        self.process(now);
    }

    /// Refuses a re-INVITE's offer (488 Not Acceptable Here): the session
    /// stays as it was (RFC 3261 §14.2).
    pub fn refuse_reoffer(&mut self, now: Instant, call: &CallId) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        let Some(tx) = c.reinvite_tx.take() else {
            return;
        };
        let Some(request) = self.layer.server_request(tx).cloned() else {
            return;
        };
        let refused = self.dialog_response(&request, &self.calls[call].dialog, 488);
        self.layer.respond(now, tx, refused);
        self.process(now);
    }

    /// Refuses a call that is not answered yet, with `status` and extra headers.
    pub fn reject(&mut self, now: Instant, call: &CallId, status: u16, headers: Vec<Header>) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (Phase::Early, Some(tx)) = (c.phase, c.invite_tx) else {
            return;
        };
        let mut response = self.dialog_response(&c.invite, &c.dialog, status);
        response.head.contact.clear();
        response.head.other.extend(headers);
        self.layer.respond(now, tx, response);
        self.calls.remove(call);
        self.process(now);
    }

    /// Ends the call: BYE once answered, 480 before; CANCEL for an outgoing
    /// call not answered yet.
    pub fn hangup(&mut self, now: Instant, call: &CallId) {
        let Some(c) = self.calls.get(call) else {
            self.cancel(now, call);
            return;
        };
        match c.phase {
            Phase::Early => self.reject(now, call, 480, Vec::new()),
            Phase::Answered | Phase::Confirmed => {
                // A late offer not answered yet still gets its ACK before the BYE.
                self.ack_with_answer(call, Vec::new());
                self.send_bye(now, call)
            }
            Phase::Terminating => {}
        }
    }

    /// Answers a request reported as an event (a REGISTER), adding our
    /// Server header and a To tag when the response has none.
    pub fn respond(&mut self, now: Instant, tx: ServerTxId, response: Response) {
        let tag = self.token(10);
        let mut response = response.with_to_tag(&tag);
        if response.head.header("Server").is_none() {
            response
                .head
                .push_header("Server", self.config.user_agent.clone());
        }
        self.layer.respond(now, tx, response);
        self.process(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.layer.poll_transmit()
    }

    /// The next event for the shell.
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retransmissions = self.calls.values().flat_map(|c| {
            [c.ok.as_ref(), c.reinvite_ok.as_ref()]
                .into_iter()
                .flatten()
                .map(|r| r.next.min(r.deadline))
        });
        retransmissions
            .chain(self.layer.poll_timeout())
            .chain(self.outgoing_next_deadline())
            .min()
    }

    /// Calls in progress, outgoing ones still ringing included.
    pub fn call_count(&self) -> usize {
        self.calls.len() + self.ringing_count()
    }

    /// A connection closed under its calls (a browser's WebSocket, RFC 7118
    /// §5 gives no way back to the browser): every call reached over it
    /// ends at once, and every call still ringing over it fails with 480.
    pub fn connection_lost(&mut self, connection: Remote) {
        self.end_calls_lost(|c| c.source == connection || c.dialog.next_hop == connection);
        self.outgoing_connection_lost(connection);
    }

    /// Ends the calls whose remote target is the device at `contact` (the
    /// same user at the same host), as a lost connection ends its calls: a
    /// browser whose WebSocket closed on another node of a cluster, whose
    /// relay keeps no dialogs to end them.
    pub fn target_lost(&mut self, contact: &Uri) {
        self.end_calls_lost(|c| same_device(&c.dialog.remote_target, contact));
    }

    /// Ends at once, without a BYE, every call `lost` picks: nothing can
    /// reach its far end any more.
    fn end_calls_lost(&mut self, lost: impl Fn(&Call) -> bool) {
        let ended: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| lost(c))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            self.calls.remove(&id);
            self.outgoing.remove(&id);
            self.events.push_back(UaEvent::CallEnded {
                call: id,
                reason: EndReason::ConnectionLost,
            });
        }
    }

    /// Whether the call is still known (answered, ringing, or placed and not ended).
    pub fn knows(&self, call: &CallId) -> bool {
        self.calls.contains_key(call) || self.outgoing.contains_key(call)
    }

    /// Transactions alive, for tests and status.
    pub fn transaction_count(&self) -> usize {
        self.layer.len()
    }

    /// A final response sent outside any transaction (§8.2.7): the same
    /// To tag for a retransmission of the same request, no state kept.
    pub fn stateless_response(&self, request: &Request, status: u16) -> Response {
        let tag = self.stateless_tag(request);
        let mut response = Response::to_request(request, status).with_to_tag(&tag);
        response
            .head
            .push_header("Server", self.config.user_agent.clone());
        if matches!(status, 405 | 501) || (request.method == Method::Options && status == 200) {
            response.head.push_header("Allow", ALLOW);
        }
        if request.method == Method::Options && status == 200 {
            response.head.push_header("Accept", ACCEPT);
        }
        response
    }

    /// The answer to a request that needs no state: OPTIONS and other
    /// out-of-dialog requests hotline does not serve, and requests for a
    /// dialog or INVITE that does not exist. Answering those statelessly
    /// keeps a flood of them from holding a transaction each for Timer J
    /// (32 s); a retransmission simply gets the same answer again. Requests
    /// that match a live transaction are left to it.
    fn stateless_status(&self, request: &Request) -> Option<u16> {
        if self.layer.has_server_transaction(request) {
            return None;
        }
        let in_dialog = request.head.to_tag().is_some();
        match (&request.method, in_dialog) {
            (Method::Invite | Method::Ack | Method::Register, _) => None,
            (Method::Cancel, _) => self.layer.find_invite_for(request).is_none().then_some(481),
            (Method::Options, false) => Some(self.options_status(request)),
            (_, false) => Some(405),
            (_, true) => {
                let id = CallId(request.head.call_id.clone());
                let known = self
                    .calls
                    .get(&id)
                    .is_some_and(|c| c.dialog.matches(request));
                (!known).then_some(481)
            }
        }
    }

    /// A tag derived from the request's identity and a secret of ours.
    fn stateless_tag(&self, request: &Request) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.tag_secret.hash(&mut hasher);
        request.head.call_id.hash(&mut hasher);
        request.head.from_tag().hash(&mut hasher);
        request.head.branch().hash(&mut hasher);
        request.head.cseq.seq.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Handles everything the transaction layer reported.
    fn process(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                TransactionEvent::Request {
                    tx,
                    request,
                    remote,
                } => self.handle_request(now, tx, request, remote),
                TransactionEvent::Ack { request, .. } => self.handle_ack(&request),
                TransactionEvent::Response { tx, response } if self.is_outgoing(tx) => {
                    self.outgoing_response(now, tx, response)
                }
                TransactionEvent::ClientTimeout { tx } if self.is_outgoing(tx) => {
                    self.outgoing_timeout(tx)
                }
                TransactionEvent::Response { tx, response } => {
                    if !response.is_provisional() {
                        self.bye_done(&tx);
                    }
                }
                TransactionEvent::ClientTimeout { tx } => self.bye_done(&tx),
                TransactionEvent::ServerTimeout { .. } | TransactionEvent::StrayResponse { .. } => {
                }
            }
        }
    }

    fn handle_request(&mut self, now: Instant, tx: ServerTxId, request: Request, remote: Remote) {
        let in_dialog = request.head.to_tag().is_some();
        match (&request.method, in_dialog) {
            (Method::Register, _) => self.events.push_back(UaEvent::Register {
                tx,
                request,
                remote,
            }),
            (Method::Invite, false) => self.new_call(now, tx, request, remote),
            (Method::Cancel, _) => self.handle_cancel(now, tx, &request),
            (Method::Options, false) => {
                let status = self.options_status(&request);
                self.respond_simple(now, tx, &request, status)
            }
            (_, false) => {
                let mut response = self.simple_response(&request, 405);
                response.head.push_header("Allow", ALLOW);
                self.layer.respond(now, tx, response);
            }
            (_, true) => self.in_dialog(now, tx, request),
        }
    }

    fn new_call(&mut self, now: Instant, tx: ServerTxId, request: Request, remote: Remote) {
        let id = CallId(request.head.call_id.clone());
        if self.calls.contains_key(&id) {
            // Same Call-ID, new branch: a looped or merged request (§8.2.2.2).
            let response = self.simple_response(&request, 482);
            self.layer.respond(now, tx, response);
            return;
        }
        let local_tag = self.token(10);
        let dialog = Dialog::from_invite(&request, local_tag, remote);
        let offer = (!request.body.is_empty()).then(|| request.body.clone());
        let call = Call::new(Phase::Early, dialog, Some(tx), request.clone(), remote);
        self.calls.insert(id.clone(), Box::new(call));
        self.events.push_back(UaEvent::IncomingCall {
            call: id,
            request,
            offer,
            remote,
        });
    }

    fn handle_cancel(&mut self, now: Instant, tx: ServerTxId, cancel: &Request) {
        let Some(invite_tx) = self.layer.find_invite_for(cancel) else {
            self.respond_simple(now, tx, cancel, 481);
            return;
        };
        self.respond_simple(now, tx, cancel, 200);
        let id = CallId(cancel.head.call_id.clone());
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.phase != Phase::Early || call.invite_tx != Some(invite_tx) {
            return; // Already answered: the CANCEL has no effect (§9.2).
        }
        let terminated = self.dialog_response(&call.invite, &call.dialog, 487);
        self.layer.respond(now, invite_tx, terminated);
        self.calls.remove(&id);
        self.events.push_back(UaEvent::CallCancelled { call: id });
    }

    fn in_dialog(&mut self, now: Instant, tx: ServerTxId, request: Request) {
        let id = CallId(request.head.call_id.clone());
        let known = self
            .calls
            .get(&id)
            .is_some_and(|c| c.dialog.matches(&request));
        if !known {
            self.respond_simple(now, tx, &request, 481);
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.dialog.accept_remote_seq(request.head.cseq.seq) {
            let mut response = Response::to_request(&request, 500);
            response.reason = "CSeq Out of Order".into();
            self.layer.respond(now, tx, response);
            return;
        }
        match request.method {
            Method::Bye => {
                let phase = call.phase;
                let invite_tx = call.invite_tx;
                let invite = call.invite.clone();
                let dialog = call.dialog.clone();
                self.respond_simple(now, tx, &request, 200);
                if phase == Phase::Early
                    && let Some(invite_tx) = invite_tx
                {
                    let terminated = self.dialog_response(&invite, &dialog, 487);
                    self.layer.respond(now, invite_tx, terminated);
                }
                self.calls.remove(&id);
                self.events.push_back(UaEvent::CallEnded {
                    call: id,
                    reason: EndReason::RemoteBye,
                });
            }
            Method::Invite => {
                if call.reinvite_tx.is_some() || call.phase != Phase::Confirmed {
                    // An offer is already pending (RFC 3261 §14.2).
                    self.respond_simple(now, tx, &request, 491);
                    return;
                }
                call.reinvite_tx = Some(tx);
                self.events.push_back(UaEvent::ReOffer {
                    call: id,
                    sdp: request.body.clone(),
                });
            }
            Method::Info => {
                self.respond_simple(now, tx, &request, 200);
                self.events.push_back(UaEvent::Info {
                    call: id,
                    content_type: request.head.content_type.clone().unwrap_or_default(),
                    body: request.body,
                });
            }
            Method::Options => self.respond_simple(now, tx, &request, 200),
            _ => {
                let mut response = self.simple_response(&request, 501);
                response.head.push_header("Allow", ALLOW);
                self.layer.respond(now, tx, response);
            }
        }
    }

    fn handle_ack(&mut self, ack: &Request) {
        let id = CallId(ack.head.call_id.clone());
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.dialog.matches(ack) {
            return;
        }
        if call.phase == Phase::Answered && call.invite.head.cseq.seq == ack.head.cseq.seq {
            call.phase = Phase::Confirmed;
            call.ok = None;
            let sdp_in_ack = (!ack.body.is_empty()).then(|| ack.body.clone());
            self.events.push_back(UaEvent::CallConfirmed {
                call: id,
                sdp_in_ack,
            });
        } else if call.reinvite_ok.is_some() {
            call.reinvite_ok = None;
        }
    }

    /// Retransmits pending 2xx responses; gives up after 64·T1 with a BYE.
    fn retransmit_ok(&mut self, now: Instant, id: &CallId) {
        let t2 = self.config.timers.t2;
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let source = call.source;
        let mut give_up = false;
        for pending in [&mut call.ok, &mut call.reinvite_ok] {
            let Some(retransmission) = pending.as_mut() else {
                continue;
            };
            if now >= retransmission.deadline {
                *pending = None;
                give_up = true;
                continue;
            }
            if now >= retransmission.next {
                self.layer
                    .send_stateless(Message::Response(retransmission.response.clone()), source);
                retransmission.interval = (retransmission.interval * 2).min(t2);
                retransmission.next = now + retransmission.interval;
            }
        }
        if give_up {
            call.ack_timed_out = true;
            self.send_bye(now, id);
        }
    }

    fn send_bye(&mut self, now: Instant, id: &CallId) {
        let Some(hop) = self.calls.get(id).map(|c| c.dialog.next_hop) else {
            return;
        };
        let via = self.via(hop.transport);
        let contact = self.contact();
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let bye = call.dialog.request(Method::Bye, via, contact);
        call.phase = Phase::Terminating;
        call.ok = None;
        call.reinvite_ok = None;
        let tx = self.layer.send_request(now, bye, hop);
        if let Some(call) = self.calls.get_mut(id) {
            call.bye_tx = Some(tx);
        }
    }

    fn bye_done(&mut self, tx: &ClientTxId) {
        let Some(id) = self
            .calls
            .iter()
            .find(|(_, c)| c.bye_tx.as_ref() == Some(tx))
            .map(|(id, _)| id.clone())
        else {
            return;
        };
        if let Some(call) = self.calls.remove(&id) {
            let reason = if call.ack_timed_out {
                EndReason::AckTimeout
            } else {
                EndReason::LocalBye
            };
            self.events
                .push_back(UaEvent::CallEnded { call: id, reason });
        }
    }

    /// A 200 carrying SDP, for an INVITE or re-INVITE.
    fn ok_with_sdp(&self, request: &Request, dialog: &Dialog, sdp: Vec<u8>) -> Response {
        let mut ok = self.dialog_response(request, dialog, 200);
        ok.head.content_type = Some("application/sdp".into());
        ok.body = sdp;
        ok
    }

    /// Starts retransmitting a 2xx at T1, doubling, for 64·T1 (§13.3.1.4).
    fn retransmission(&self, now: Instant, response: Response) -> Retransmission {
        let t1 = self.config.timers.t1;
        Retransmission {
            response,
            interval: t1,
            next: now + t1,
            deadline: now + self.config.timers.timeout(),
        }
    }

    /// A response in the dialog: To tag, Contact, Record-Route (§12.1.1).
    fn dialog_response(&self, request: &Request, dialog: &Dialog, status: u16) -> Response {
        let mut response = Response::to_request(request, status).with_to_tag(&dialog.local_tag);
        if status > 100 && status < 300 {
            response.head.record_route = request.head.record_route.clone();
            response.head.contact = vec![self.contact()];
        }
        response
            .head
            .push_header("Server", self.config.user_agent.clone());
        if status == 200 || status == 180 {
            response.head.push_header("Allow", ALLOW);
        }
        response
    }

    fn simple_response(&mut self, request: &Request, status: u16) -> Response {
        let tag = self.token(10);
        let mut response = Response::to_request(request, status).with_to_tag(&tag);
        response
            .head
            .push_header("Server", self.config.user_agent.clone());
        if request.method == Method::Options && status == 200 {
            response.head.push_header("Allow", ALLOW);
            response.head.push_header("Accept", ACCEPT);
        }
        response
    }

    fn respond_simple(&mut self, now: Instant, tx: ServerTxId, request: &Request, status: u16) {
        let response = self.simple_response(request, status);
        self.layer.respond(now, tx, response);
    }

    /// Our Via for a request sent over `transport`, with a fresh branch.
    fn via(&mut self, transport: Transport) -> Via {
        let branch = format!("z9hG4bK{}", self.token(16));
        Via {
            transport: transport.token().into(),
            host: Host::from(self.config.address.ip()),
            port: Some(self.config.address.port()),
            params: Params(vec![
                ("branch".into(), Some(branch)),
                ("rport".into(), None),
            ]),
        }
    }

    fn contact(&self) -> NameAddr {
        let mut uri = SipUri::new(
            Host::from(self.config.address.ip()),
            Some(self.config.address.port()),
        );
        uri.user = Some("hotline".into());
        NameAddr {
            display_name: None,
            uri: Uri::Sip(uri),
            params: Params::default(),
        }
    }

    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }
}

/// Records where a request really came from in its top Via (§18.2.1, RFC 3581),
/// so responses (copied from it) show the peer its public address.
fn stamp_received(request: &mut Request, source: SocketAddr) {
    let Some(via) = request.head.via.first_mut() else {
        return;
    };
    let source_host = Host::from(source.ip());
    if via.host != source_host {
        via.params.set("received", Some(source.ip().to_string()));
    }
    if via.params.has("rport") {
        via.params.set("rport", Some(source.port().to_string()));
        via.params.set("received", Some(source.ip().to_string()));
    }
}

/// Whether two URIs name one device: a browser's Contact carries other
/// parameters in its REGISTER than in its answers.
fn same_device(a: &Uri, b: &Uri) -> bool {
    match (a, b) {
        (Uri::Sip(a), Uri::Sip(b)) => a.user == b.user && a.host == b.host && a.port == b.port,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
