//! Client transactions: INVITE (RFC 3261 §17.1.1 with RFC 6026) and non-INVITE (§17.1.2).

use std::time::{Duration, Instant};

use super::timer::{Timer, TimerConfig, Timers};
use crate::sip::message::{CSeq, Head, Method, NameAddr, Request, Response};

/// States of a client transaction, as RFC 3261 figures 5 and 6 and RFC 6026 name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE: request sent, no response yet.
    Calling,
    /// Non-INVITE: request sent, no response yet.
    Trying,
    Proceeding,
    Completed,
    /// INVITE only (RFC 6026): a 2xx arrived; later 2xx go to the TU too.
    Accepted,
    Terminated,
}

/// What a client transaction asks its owner to do.
#[derive(Debug, PartialEq)]
pub(crate) enum ClientOutput {
    /// (Re)send the request, or the ACK for a non-2xx final response.
    Send(Request),
    /// Pass a response to the TU.
    Response(Response),
    /// Timer B or F fired: no final response.
    Timeout,
}

/// One client transaction.
#[derive(Debug)]
pub(crate) struct ClientTransaction {
    pub request: Request,
    pub state: ClientState,
    invite: bool,
    reliable: bool,
    config: TimerConfig,
    timers: Timers,
    /// Current Timer A or E interval.
    interval: Duration,
    ack: Option<Request>,
}

impl ClientTransaction {
    /// Starts the transaction; the request itself is the first output.
    pub fn new(
        now: Instant,
        request: Request,
        reliable: bool,
        config: TimerConfig,
    ) -> (ClientTransaction, Vec<ClientOutput>) {
        let invite = request.method == Method::Invite;
        let mut timers = Timers::default();
        let timeout = now + config.timeout();
        if invite {
            if !reliable {
                timers.start(Timer::A, now + config.t1);
            }
            timers.start(Timer::B, timeout);
        } else {
            if !reliable {
                timers.start(Timer::E, now + config.t1);
            }
            timers.start(Timer::F, timeout);
        }
        let transaction = ClientTransaction {
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            invite,
            reliable,
            config,
            timers,
            interval: config.t1,
            ack: None,
            request: request.clone(),
        };
        (transaction, vec![ClientOutput::Send(request)])
    }

    /// A response matched this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response) -> Vec<ClientOutput> {
        if self.invite {
            self.invite_response(now, response)
        } else {
            self.non_invite_response(now, response)
        }
    }

    fn invite_response(&mut self, now: Instant, response: Response) -> Vec<ClientOutput> {
        match self.state {
            ClientState::Calling | ClientState::Proceeding => {
                self.timers.stop(Timer::A);
                if response.is_provisional() {
                    self.state = ClientState::Proceeding;
                    self.timers.stop(Timer::B);
                    return vec![ClientOutput::Response(response)];
                }
                self.timers.stop(Timer::B);
                if response.is_success() {
                    self.state = ClientState::Accepted;
                    self.timers.start(Timer::M, now + self.config.timeout());
                    return vec![ClientOutput::Response(response)];
                }
                self.state = ClientState::Completed;
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                self.timers.start(Timer::D, now + wait);
                let ack = ack_for(&self.request, &response);
                self.ack = Some(ack.clone());
                vec![ClientOutput::Send(ack), ClientOutput::Response(response)]
            }
            // A retransmitted non-2xx final: ACK again, do not bother the TU.
            ClientState::Completed if !response.is_provisional() && !response.is_success() => self
                .ack
                .clone()
                .map(ClientOutput::Send)
                .into_iter()
                .collect(),
            // RFC 6026: 2xx retransmissions (or 2xx from forks) go to the TU.
            ClientState::Accepted if response.is_success() => {
                vec![ClientOutput::Response(response)]
            }
            _ => Vec::new(),
        }
    }

    fn non_invite_response(&mut self, now: Instant, response: Response) -> Vec<ClientOutput> {
        match self.state {
            ClientState::Trying | ClientState::Proceeding => {
                if response.is_provisional() {
                    self.state = ClientState::Proceeding;
                    return vec![ClientOutput::Response(response)];
                }
                self.state = ClientState::Completed;
                self.timers.stop(Timer::E);
                self.timers.stop(Timer::F);
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    self.config.t4
                };
                self.timers.start(Timer::K, now + wait);
                vec![ClientOutput::Response(response)]
            }
            _ => Vec::new(),
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<ClientOutput> {
        let mut out = Vec::new();
        for timer in self.timers.expired(now) {
            match timer {
                Timer::A if self.state == ClientState::Calling => {
                    out.push(ClientOutput::Send(self.request.clone()));
                    self.interval *= 2;
                    self.timers.start(Timer::A, now + self.interval);
                }
                Timer::E if matches!(self.state, ClientState::Trying | ClientState::Proceeding) => {
                    out.push(ClientOutput::Send(self.request.clone()));
                    // In Proceeding the interval is T2 (§17.1.2.2).
                    self.interval = if self.state == ClientState::Proceeding {
                        self.config.t2
                    } else {
                        (self.interval * 2).min(self.config.t2)
                    };
                    self.timers.start(Timer::E, now + self.interval);
                }
                Timer::B | Timer::F => {
                    self.terminate();
                    out.push(ClientOutput::Timeout);
                }
                Timer::D | Timer::K | Timer::M => self.terminate(),
                _ => {}
            }
        }
        out
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    fn terminate(&mut self) {
        self.state = ClientState::Terminated;
        self.timers = Timers::default();
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): To from the response.
pub(crate) fn ack_for(invite: &Request, response: &Response) -> Request {
    hop_request(invite, Method::Ack, response.head.to.clone())
}

/// The CANCEL for an INVITE (§9.1): To as in the INVITE, so that the callee
/// matches it to the INVITE's server transaction.
pub(crate) fn cancel_for(invite: &Request) -> Request {
    hop_request(invite, Method::Cancel, invite.head.to.clone())
}

/// A request that belongs to the INVITE's hop rather than to a dialog, as the
/// ACK for a non-2xx and CANCEL do: same Request-URI, top Via, From, Call-ID
/// and CSeq number as the INVITE, and the INVITE's Route headers.
fn hop_request(invite: &Request, method: Method, to: NameAddr) -> Request {
    Request {
        method: method.clone(),
        uri: invite.uri.clone(),
        head: Head {
            via: invite.head.via.iter().take(1).cloned().collect(),
            from: invite.head.from.clone(),
            to,
            call_id: invite.head.call_id.clone(),
            cseq: CSeq {
                seq: invite.head.cseq.seq,
                method,
            },
            max_forwards: Some(70),
            contact: Vec::new(),
            record_route: Vec::new(),
            route: invite.head.route.clone(),
            content_type: None,
            other: Vec::new(),
        },
        body: Vec::new(),
    }
}
