//! Calls placed by hotline (the UAC side, RFC 3261 §13.2, §9.1), e.g. to ring
//! an agent's softphone.
//!
//! Until its answer an outgoing call lives here, following its INVITE client
//! transaction. The first 2xx makes it an established dialog in the same
//! table as answered incoming calls, so BYE, INFO and re-INVITE take one code
//! path whichever side started the call. What stays here after the answer is
//! the ACK, sent again for every retransmitted 2xx (§13.2.2.4).

use std::time::Instant;

use super::{ALLOW, Call, CallId, Phase, UaEvent, UserAgent};
use crate::sip::dialog::Dialog;
use crate::sip::digest::{ClientCredentials, pick_challenge};
use crate::sip::message::*;
use crate::sip::parse::canonical_name;
use crate::sip::transaction::{ClientTxId, Remote, Transmit, Transport, cancel_for};

/// A call for hotline to place.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// The Request-URI: the callee's registered Contact or address of record.
    pub request_uri: Uri,
    /// Who calls, as the callee's phone shows it (display name and URI).
    pub from: NameAddr,
    /// Whom the call is for.
    pub to: NameAddr,
    /// Where the INVITE physically goes. For a registered agent this is the
    /// source address of its REGISTER, which behind NAT differs from the
    /// Request-URI.
    pub remote: Remote,
    /// A pre-loaded Route set (RFC 3261 §8.1.2), e.g. the Path the callee
    /// registered through (RFC 3327); `remote` is then the first proxy's address.
    pub route: Vec<NameAddr>,
    /// Our SDP offer.
    pub sdp: Vec<u8>,
    /// Extra headers, e.g. `X-Hotline-Customer` with the caller's context.
    /// Headers the user agent writes itself (Via, From, To, Call-ID, CSeq,
    /// Contact, Route, Content-Type, ...) are left out.
    pub headers: Vec<Header>,
    /// What to answer a 401 or 407 with: a trunk may ask who calls.
    pub auth: Option<ClientCredentials>,
}

/// An outgoing call before its answer, or shortly after it.
#[derive(Debug)]
pub(super) struct Outgoing {
    invite: Request,
    invite_tx: ClientTxId,
    remote: Remote,
    state: State,
    auth: Option<ClientCredentials>,
    /// Challenges answered so far.
    auth_answers: u8,
}

/// Challenges answered per call at most: the first, and again while the
/// server says only the nonce was stale.
const MAX_AUTH_ANSWERS: u8 = 3;

/// Where an outgoing call stands, named after the transaction states it follows.
#[derive(Debug)]
enum State {
    /// No provisional response yet. A cancel asked for now must wait for one
    /// (§9.1): before it, the callee may not know the INVITE yet.
    Calling { cancel_pending: bool },
    /// A provisional response arrived: the callee is ringing.
    Proceeding,
    /// CANCEL sent; the INVITE should end with 487. Without any final
    /// response by `give_up_at` (64·T1) the call is given up (§9.1).
    Cancelling { give_up_at: Instant },
    /// A 2xx arrived and was ACKed. Each answering fork keeps its ACK, sent
    /// again for its retransmitted 2xx until `until`: 64·T1, as long as the
    /// callee retransmits (§13.3.1.4).
    Accepted { acks: Vec<Ack>, until: Instant },
}

/// The ACK we sent for one fork's 2xx.
#[derive(Debug)]
struct Ack {
    remote_tag: Option<String>,
    request: Request,
    hop: Remote,
    /// The INVITE had no offer, so the 2xx carries one and this ACK must
    /// carry the answer (RFC 3264 §4, late offer): it leaves with
    /// [`UserAgent::ack_with_answer`].
    awaits_answer: bool,
}

/// Headers of the INVITE that only the user agent may write.
const OWN_HEADERS: &[&str] = &[
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Contact",
    "Route",
    "Record-Route",
    "Content-Type",
    "Content-Length",
    "Allow",
    "User-Agent",
    "Authorization",
    "Proxy-Authorization",
];

impl UserAgent {
    /// Places a call: sends the INVITE and reports its progress, answer or
    /// failure as [`UaEvent`]s.
    pub fn call(&mut self, now: Instant, call: OutgoingCall) -> CallId {
        let remote = call.remote;
        let auth = call.auth.clone();
        let invite = self.invite(call);
        let id = CallId(invite.head.call_id.clone());
        let invite_tx = self.layer.send_request(now, invite.clone(), remote);
        self.outgoing.insert(
            id.clone(),
            Outgoing {
                invite,
                invite_tx,
                remote,
                state: State::Calling {
                    cancel_pending: false,
                },
                auth,
                auth_answers: 0,
            },
        );
        id
    }

    /// Gives up on an outgoing call before its answer: CANCEL once the callee
    /// has sent a provisional response, at once if it has; the call then ends
    /// with [`UaEvent::OutgoingFailed`]. An answered call is hung up instead.
    pub fn cancel(&mut self, now: Instant, call: &CallId) {
        let Some(outgoing) = self.outgoing.get_mut(call) else {
            return;
        };
        match outgoing.state {
            State::Calling { .. } => {
                outgoing.state = State::Calling {
                    cancel_pending: true,
                }
            }
            State::Proceeding => self.send_cancel(now, call),
            State::Cancelling { .. } | State::Accepted { .. } => {}
        }
    }

    /// A message could not be sent. An outgoing call whose INVITE cannot
    /// reach the callee fails at once with 503, as a transport error counts
    /// (§8.1.3.1); for every other message retransmission and timers recover.
    pub fn handle_send_failure(&mut self, transmit: &Transmit) {
        let Message::Request(request) = &transmit.message else {
            return;
        };
        if request.method != Method::Invite {
            return;
        }
        let unanswered = self.outgoing.iter().find(|(_, o)| {
            !matches!(o.state, State::Accepted { .. })
                && o.invite.head.branch() == request.head.branch()
        });
        let Some((id, tx)) = unanswered.map(|(id, o)| (id.clone(), o.invite_tx)) else {
            return;
        };
        self.layer.abandon_client(tx);
        self.outgoing_failed(id, 503);
    }

    /// Whether a client transaction is the INVITE of an outgoing call.
    pub(super) fn is_outgoing(&self, tx: ClientTxId) -> bool {
        self.outgoing.values().any(|o| o.invite_tx == tx)
    }

    /// A response to the INVITE of an outgoing call.
    pub(super) fn outgoing_response(&mut self, now: Instant, tx: ClientTxId, response: Response) {
        let Some(id) = self.outgoing_by_tx(tx) else {
            return;
        };
        if response.is_provisional() {
            self.outgoing_provisional(now, id, response);
        } else if response.is_success() {
            self.outgoing_success(now, id, response);
        } else if matches!(response.status, 401 | 407) && self.answer_challenge(now, &id, &response)
        {
            // The INVITE went again, with credentials, in a new transaction.
        } else {
            // The transaction layer has ACKed it (§17.1.1.3).
            self.outgoing_failed(id, response.status);
        }
    }

    /// Timer B: the INVITE of an outgoing call got no response at all.
    pub(super) fn outgoing_timeout(&mut self, tx: ClientTxId) {
        if let Some(id) = self.outgoing_by_tx(tx) {
            self.outgoing_failed(id, 408);
        }
    }

    /// Gives up on CANCELs without a final response and forgets answered
    /// calls whose 2xx can no longer come again.
    pub(super) fn outgoing_deadlines(&mut self, now: Instant) {
        let due: Vec<CallId> = self
            .outgoing
            .iter()
            .filter(|(_, o)| o.deadline().is_some_and(|at| at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(outgoing) = self.outgoing.remove(&id) else {
                continue;
            };
            if let State::Cancelling { .. } = outgoing.state {
                self.layer.abandon_client(outgoing.invite_tx);
                self.events.push_back(UaEvent::OutgoingFailed {
                    call: id,
                    status: 408,
                });
            }
        }
    }

    /// The earliest deadline of the outgoing calls.
    pub(super) fn outgoing_next_deadline(&self) -> Option<Instant> {
        self.outgoing.values().filter_map(Outgoing::deadline).min()
    }

    /// Outgoing calls not answered yet.
    pub(super) fn ringing_count(&self) -> usize {
        self.outgoing
            .values()
            .filter(|o| !matches!(o.state, State::Accepted { .. }))
            .count()
    }

    fn outgoing_by_tx(&self, tx: ClientTxId) -> Option<CallId> {
        self.outgoing
            .iter()
            .find(|(_, o)| o.invite_tx == tx)
            .map(|(id, _)| id.clone())
    }

    fn outgoing_provisional(&mut self, now: Instant, id: CallId, response: Response) {
        let status = response.status;
        let Some(outgoing) = self.outgoing.get_mut(&id) else {
            return;
        };
        match outgoing.state {
            State::Calling {
                cancel_pending: true,
            } => return self.send_cancel(now, &id),
            State::Calling {
                cancel_pending: false,
            } => outgoing.state = State::Proceeding,
            State::Proceeding => {}
            // Nobody waits for news of a call being cancelled or answered.
            State::Cancelling { .. } | State::Accepted { .. } => return,
        }
        // 100 Trying is hop-by-hop: it says nothing about the callee.
        if status > 100 {
            let sdp = response
                .head
                .content_type
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
                .then_some(response.body)
                .filter(|body| !body.is_empty());
            self.events.push_back(UaEvent::OutgoingProgress {
                call: id,
                status,
                sdp,
            });
        }
    }

    fn outgoing_success(&mut self, now: Instant, id: CallId, response: Response) {
        let Some(outgoing) = self.outgoing.get(&id) else {
            return;
        };
        let invite = outgoing.invite.clone();
        let remote = outgoing.remote;
        if let State::Accepted { acks, .. } = &outgoing.state {
            match acks
                .iter()
                .find(|a| a.remote_tag.as_deref() == response.head.to_tag())
            {
                // A late offer's ACK waits for its answer: nothing to repeat yet.
                Some(ack) if ack.awaits_answer => {}
                Some(ack) => {
                    let (request, hop) = (ack.request.clone(), ack.hop);
                    self.layer.send_stateless(Message::Request(request), hop);
                }
                // Another fork answered too: one dialog is enough (§13.2.2.4).
                None => {
                    let (mut dialog, ack) = self.acknowledge(&invite, &response, remote, false);
                    self.hang_up_unwanted(now, &mut dialog);
                    self.accepted_acks(&id).push(ack);
                }
            }
            return;
        }
        let cancelled = matches!(
            outgoing.state,
            State::Cancelling { .. }
                | State::Calling {
                    cancel_pending: true
                }
        );
        let (mut dialog, ack) = self.acknowledge(&invite, &response, remote, !cancelled);
        let until = now + self.config.timers.timeout();
        if let Some(outgoing) = self.outgoing.get_mut(&id) {
            outgoing.state = State::Accepted {
                acks: vec![ack],
                until,
            };
        }
        if cancelled {
            // The answer crossed our CANCEL: take the dialog down again.
            self.hang_up_unwanted(now, &mut dialog);
            self.events.push_back(UaEvent::OutgoingFailed {
                call: id,
                status: 487,
            });
            return;
        }
        // Nothing waits for an ACK on our side: the dialog is confirmed.
        let call = Call::new(Phase::Confirmed, dialog, None, invite, remote);
        self.calls.insert(id.clone(), Box::new(call));
        self.events.push_back(UaEvent::OutgoingAnswered {
            call: id,
            sdp: response.body,
        });
    }

    /// Sends the INVITE again with credentials answering the 401 or 407's
    /// challenge (§22.2): same dialog identifiers, next CSeq, new branch.
    /// False when there is nothing to answer with, the call is being
    /// cancelled, or the server refused the credentials already given.
    fn answer_challenge(&mut self, now: Instant, id: &CallId, response: &Response) -> bool {
        let (challenge_name, answer_name) = match response.status {
            407 => ("Proxy-Authenticate", "Proxy-Authorization"),
            _ => ("WWW-Authenticate", "Authorization"),
        };
        let cnonce = self.token(16);
        let Some(outgoing) = self.outgoing.get(id) else {
            return false;
        };
        let Some(credentials) = &outgoing.auth else {
            return false;
        };
        let answering = matches!(
            outgoing.state,
            State::Calling {
                cancel_pending: false
            } | State::Proceeding
        );
        let challenges = response
            .head
            .other
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(challenge_name))
            .map(|h| h.value.as_str());
        let Some(challenge) = pick_challenge(challenges, credentials) else {
            return false;
        };
        // A second challenge without `stale` means the credentials are wrong.
        let again_allowed = outgoing.auth_answers == 0
            || (challenge.stale && outgoing.auth_answers < MAX_AUTH_ANSWERS);
        if !answering || !again_allowed {
            return false;
        }
        let mut invite = outgoing.invite.clone();
        let remote = outgoing.remote;
        let value = challenge.answer(credentials, &Method::Invite, &invite.uri, &cnonce);
        invite.head.cseq.seq += 1;
        invite.head.via = vec![self.via(remote.transport)];
        invite
            .head
            .other
            .retain(|h| !h.name.eq_ignore_ascii_case(answer_name));
        invite.head.push_header(answer_name, value);
        let invite_tx = self.layer.send_request(now, invite.clone(), remote);
        if let Some(outgoing) = self.outgoing.get_mut(id) {
            outgoing.invite = invite;
            outgoing.invite_tx = invite_tx;
            outgoing.auth_answers += 1;
            outgoing.state = State::Calling {
                cancel_pending: false,
            };
        }
        true
    }

    /// Fails the calls still ringing over a connection that closed: 480,
    /// the callee is not reachable.
    pub(super) fn outgoing_connection_lost(&mut self, connection: Remote) {
        let ringing: Vec<CallId> = self
            .outgoing
            .iter()
            .filter(|(_, o)| o.remote == connection)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ringing {
            self.outgoing_failed(id, 480);
        }
    }

    fn outgoing_failed(&mut self, id: CallId, status: u16) {
        let unanswered = self
            .outgoing
            .get(&id)
            .is_some_and(|o| !matches!(o.state, State::Accepted { .. }));
        if unanswered {
            self.outgoing.remove(&id);
            self.events
                .push_back(UaEvent::OutgoingFailed { call: id, status });
        }
    }

    /// Sends the ACK for a 2xx; returns the dialog the 2xx made and the ACK.
    /// A late offer's ACK is kept for its answer when `answer_later`; a
    /// dialog about to be hung up gets it bare at once.
    fn acknowledge(
        &mut self,
        invite: &Request,
        response: &Response,
        remote: Remote,
        answer_later: bool,
    ) -> (Dialog, Ack) {
        let dialog = Dialog::from_response(invite, response, remote);
        let hop = dialog.next_hop;
        let via = self.via(hop.transport);
        let request = dialog.ack(invite.head.cseq.seq, via, self.contact_on(hop.transport));
        let awaits_answer = answer_later && invite.body.is_empty() && !response.body.is_empty();
        if !awaits_answer {
            self.layer
                .send_stateless(Message::Request(request.clone()), hop);
        }
        let ack = Ack {
            remote_tag: dialog.remote_tag.clone(),
            request,
            hop,
            awaits_answer,
        };
        (dialog, ack)
    }

    /// Sends the ACK of a call placed without an offer, carrying our answer
    /// to the offer its 2xx made (none when hanging up without one). Does
    /// nothing for any other call.
    pub fn ack_with_answer(&mut self, call: &CallId, sdp: Vec<u8>) {
        let Some(Outgoing {
            state: State::Accepted { acks, .. },
            ..
        }) = self.outgoing.get_mut(call)
        else {
            return;
        };
        let Some(ack) = acks.iter_mut().find(|a| a.awaits_answer) else {
            return;
        };
        ack.awaits_answer = false;
        if !sdp.is_empty() {
            ack.request.head.content_type = Some("application/sdp".into());
        }
        ack.request.body = sdp;
        let (request, hop) = (ack.request.clone(), ack.hop);
        self.layer.send_stateless(Message::Request(request), hop);
    }

    /// BYE for a dialog nobody wants (a second fork, an answer after our
    /// CANCEL). Nothing waits for its outcome, so no call keeps it.
    fn hang_up_unwanted(&mut self, now: Instant, dialog: &mut Dialog) {
        let hop = dialog.next_hop;
        let via = self.via(hop.transport);
        let bye = dialog.request(Method::Bye, via, self.contact_on(hop.transport));
        self.layer.send_request(now, bye, hop);
    }

    fn accepted_acks(&mut self, id: &CallId) -> &mut Vec<Ack> {
        match self.outgoing.get_mut(id).map(|o| &mut o.state) {
            Some(State::Accepted { acks, .. }) => acks,
            _ => unreachable!("only called for an accepted call"),
        }
    }

    fn send_cancel(&mut self, now: Instant, id: &CallId) {
        let give_up_at = now + self.config.timers.timeout();
        let Some(outgoing) = self.outgoing.get_mut(id) else {
            return;
        };
        outgoing.state = State::Cancelling { give_up_at };
        let cancel = cancel_for(&outgoing.invite);
        let remote = outgoing.remote;
        self.layer.send_request(now, cancel, remote);
    }

    /// The INVITE of a new call, with a fresh Call-ID, From tag and branch.
    fn invite(&mut self, call: OutgoingCall) -> Request {
        let transport = call.remote.transport;
        let mut from = call.from;
        from.display_name = from.display_name.as_deref().map(one_line);
        from.params.set("tag", Some(self.token(10)));
        let mut to = call.to;
        to.params.remove("tag");
        let call_id = format!(
            "{}@{}",
            self.token(20),
            Host::from(self.config.address.ip())
        );
        let mut head = Head {
            via: vec![self.via(transport)],
            from,
            to,
            call_id,
            cseq: CSeq {
                seq: 1,
                method: Method::Invite,
            },
            max_forwards: Some(70),
            contact: vec![self.contact_on(transport)],
            record_route: Vec::new(),
            route: call.route,
            content_type: (!call.sdp.is_empty()).then(|| "application/sdp".to_owned()),
            other: Vec::new(),
        };
        head.push_header("Allow", ALLOW);
        head.push_header("User-Agent", self.config.user_agent.clone());
        head.other
            .extend(call.headers.into_iter().filter_map(extension_header));
        Request {
            method: Method::Invite,
            uri: call.request_uri,
            head,
            body: call.sdp,
        }
    }

    /// Our Contact, naming TCP when the dialog runs over it so that the
    /// callee's requests come back the same way.
    fn contact_on(&self, transport: Transport) -> NameAddr {
        let mut contact = self.contact();
        match (transport, &mut contact.uri) {
            (Transport::Tcp, Uri::Sip(uri)) => uri.params.set("transport", Some("tcp".into())),
            (Transport::Ws, Uri::Sip(uri)) => uri.params.set("transport", Some("ws".into())),
            _ => {}
        }
        contact
    }
}

impl Outgoing {
    fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Cancelling { give_up_at } => Some(*give_up_at),
            State::Accepted { until, .. } => Some(*until),
            State::Calling { .. } | State::Proceeding => None,
        }
    }
}

/// An extra header as it may go on the wire, or None for one the user agent
/// writes itself or whose name is not a token. Values come from the CRM and
/// callers' input: a line break in one would inject headers, so control
/// characters become spaces.
fn extension_header(header: Header) -> Option<Header> {
    let name = canonical_name(header.name.trim());
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    let own = OWN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(&name));
    (token && !own).then(|| Header {
        name,
        value: one_line(header.value.trim()),
    })
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod late_offer_tests;
#[cfg(test)]
mod tests;
