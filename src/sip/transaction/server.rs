//! Server transactions: INVITE (RFC 3261 §17.2.1 with RFC 6026) and non-INVITE (§17.2.2).

use std::time::{Duration, Instant};

use super::timer::{Timer, TimerConfig, Timers};
use crate::sip::message::{Request, Response};

/// States of a server transaction, as RFC 3261 figures 7 and 8 and RFC 6026 name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE only: the request arrived, nothing sent yet.
    Trying,
    Proceeding,
    Completed,
    /// INVITE only: the ACK for a non-2xx final arrived.
    Confirmed,
    /// INVITE only (RFC 6026): a 2xx was sent; the TU retransmits it.
    Accepted,
    Terminated,
}

/// What a server transaction asks its owner to do.
#[derive(Debug, PartialEq)]
// Moved once from producer to consumer, never stored in bulk: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ServerOutput {
    Send(Response),
    /// Timer H fired: no ACK for a non-2xx final response.
    Timeout,
}

/// One server transaction.
#[derive(Debug)]
pub(crate) struct ServerTransaction {
    pub request: Request,
    pub state: ServerState,
    invite: bool,
    reliable: bool,
    config: TimerConfig,
    last_response: Option<Response>,
    timers: Timers,
    /// Current Timer G interval.
    g_interval: Duration,
}

impl ServerTransaction {
    /// A new transaction for `request`; an INVITE answers 100 Trying at once
    /// (§17.2.1, the TU is not expected to respond within 200 ms).
    pub fn new(
        now: Instant,
        request: Request,
        reliable: bool,
        config: TimerConfig,
    ) -> (ServerTransaction, Vec<ServerOutput>) {
        let _ = now;
        let invite = request.method == crate::sip::Method::Invite;
        let mut transaction = ServerTransaction {
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            invite,
            reliable,
            config,
            last_response: None,
            timers: Timers::default(),
            g_interval: config.t1,
            request,
        };
        let mut out = Vec::new();
        if invite {
            let trying = Response::to_request(&transaction.request, 100);
            transaction.last_response = Some(trying.clone());
            out.push(ServerOutput::Send(trying));
        }
        (transaction, out)
    }

    /// A retransmission of the request arrived.
    pub fn handle_retransmission(&mut self) -> Vec<ServerOutput> {
        match self.state {
            // RFC 6026: INVITE retransmissions in Accepted are absorbed; the TU resends 2xx.
            ServerState::Proceeding | ServerState::Completed => self
                .last_response
                .clone()
                .map(ServerOutput::Send)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The ACK for a non-2xx final response arrived.
    pub fn handle_ack(&mut self, now: Instant) {
        if self.invite && self.state == ServerState::Completed {
            self.state = ServerState::Confirmed;
            self.timers.stop(Timer::G);
            self.timers.stop(Timer::H);
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.config.t4
            };
            self.timers.start(Timer::I, now + wait);
        }
    }

    /// The TU sends a response.
    pub fn respond(&mut self, now: Instant, response: Response) -> Vec<ServerOutput> {
        let allowed = matches!(self.state, ServerState::Trying | ServerState::Proceeding)
            || (self.state == ServerState::Accepted && response.is_success());
        if !allowed {
            return Vec::new();
        }
        let timeout = self.config.timeout();
        if response.is_provisional() {
            self.state = ServerState::Proceeding;
        } else if self.invite && response.is_success() {
            if self.state != ServerState::Accepted {
                self.state = ServerState::Accepted;
                self.timers.start(Timer::L, now + timeout);
            }
        } else if self.invite {
            self.state = ServerState::Completed;
            if !self.reliable {
                self.timers.start(Timer::G, now + self.g_interval);
            }
            self.timers.start(Timer::H, now + timeout);
        } else {
            self.state = ServerState::Completed;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                timeout
            };
            self.timers.start(Timer::J, now + wait);
        }
        self.last_response = Some(response.clone());
        vec![ServerOutput::Send(response)]
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<ServerOutput> {
        let mut out = Vec::new();
        for timer in self.timers.expired(now) {
            match timer {
                Timer::G if self.state == ServerState::Completed => {
                    if let Some(response) = self.last_response.clone() {
                        out.push(ServerOutput::Send(response));
                    }
                    self.g_interval = (self.g_interval * 2).min(self.config.t2);
                    self.timers.start(Timer::G, now + self.g_interval);
                }
                Timer::H if self.state == ServerState::Completed => {
                    self.terminate();
                    out.push(ServerOutput::Timeout);
                }
                Timer::I | Timer::J | Timer::L => self.terminate(),
                _ => {}
            }
        }
        out
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    fn terminate(&mut self) {
        self.state = ServerState::Terminated;
        self.timers = Timers::default();
    }
}
