//! The WebRTC driver's task: owns the socket and every browser's peer.
//!
//! It works in rounds, so its cost follows the media's rhythm rather than
//! the number of datagrams. It wakes when a media worker hands over its
//! legs' frames (a burst per worker tick) or every [`ROUND`] otherwise, never
//! for a single datagram or timeout: a wake-up per browser packet cost more
//! than the peer's own work. A round reads every datagram waiting
//! (`recvmmsg`, a batch at a time), takes every command queued, runs the
//! peers whose timeout is due (kept in order, not searched), and only then
//! sends what the peers produced (`sendmmsg`). So browsers' audio waits at
//! most a round in the socket; the leg reads it on its 20 ms frame anyway.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::batch_io::{self, BATCH};
use super::driver::{Answered, Command, EVENT_BACKLOG};
use super::peer::{OfferError, Output, Peer, PeerEvent, Transmit};
use crate::net::udp::{Datagrams, receive_batch};

/// The longest the task sleeps while it serves peers: the most a browser's
/// datagram or a peer's timeout (ICE, DTLS, RTCP: none needs better) waits.
const ROUND: Duration = Duration::from_millis(5);
/// Commands taken in one round at most, so datagrams are read in between.
const COMMANDS_PER_ROUND: usize = 1024;
/// Batches of datagrams read in one round at most.
const READS_PER_ROUND: usize = 32;

/// The task's state: the socket and the peers it serves.
pub(super) struct Shell {
    /// Non-blocking; read and written in rounds, never awaited.
    socket: UdpSocket,
    candidate: SocketAddr,
    peers: HashMap<u64, Served>,
    /// The peer each browser address last reached: asked first, so a
    /// datagram costs one `accepts` rather than one per peer.
    routes: HashMap<SocketAddr, u64>,
    /// Every peer's next timeout, earliest first.
    timeouts: BTreeSet<(Instant, u64)>,
    /// Datagrams the peers produced this round, sent at its end.
    outbox: Vec<Transmit>,
    next_id: u64,
}

/// A peer with its event channel and its next timeout.
struct Served {
    peer: Peer,
    events: mpsc::Sender<PeerEvent>,
    timeout: Instant,
}

impl Shell {
    pub(super) fn new(socket: UdpSocket, candidate: SocketAddr) -> Shell {
        Shell {
            socket,
            candidate,
            peers: HashMap::new(),
            routes: HashMap::new(),
            timeouts: BTreeSet::new(),
            outbox: Vec::new(),
            next_id: 0,
        }
    }

    pub(super) async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        let mut received = Datagrams::<BATCH>::new();
        let mut rounds = tokio::time::interval(ROUND);
        rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // With no peer there is nothing to read or time: wait for an offer.
            let idle = self.peers.is_empty();
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(command) => self.command(command),
                    None => return,
                },
                _ = rounds.tick(), if !idle => {}
            }
            if !self.round(&mut inbox, &mut received) {
                return;
            }
            self.flush();
        }
    }

    /// Everything that is ready: datagrams, commands, timeouts. False once
    /// every handle is gone.
    fn round(
        &mut self,
        inbox: &mut mpsc::Receiver<Command>,
        received: &mut Datagrams<BATCH>,
    ) -> bool {
        for _ in 0..READS_PER_ROUND {
            match receive_batch(&self.socket, received) {
                Ok(0) => break,
                Ok(count) => {
                    let now = Instant::now();
                    for i in 0..count {
                        let (source, datagram) = received.get(i);
                        self.datagram(now, source, datagram);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "WebRTC socket read failed");
                    break;
                }
            }
        }
        for _ in 0..COMMANDS_PER_ROUND {
            match inbox.try_recv() {
                Ok(command) => self.command(command),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
        self.timeouts(Instant::now());
        true
    }

    /// Gives a datagram to the peer that accepts it; others' are dropped.
    fn datagram(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        // The browser sent to the advertised address; str0m matches it against
        // the local candidate (behind 1:1 NAT the socket's own address differs).
        let destination = self.candidate;
        let accepts = |served: &Served| served.peer.accepts(now, source, destination, datagram);
        let known = self
            .routes
            .get(&source)
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(accepts));
        let id = known.or_else(|| {
            self.peers
                .iter()
                .find(|(_, served)| accepts(served))
                .map(|(id, _)| *id)
        });
        let Some(id) = id else {
            tracing::trace!(%source, "a datagram for no WebRTC peer");
            return;
        };
        if known.is_none() {
            self.routes.insert(source, id);
        }
        if let Some(served) = self.peers.get_mut(&id) {
            served
                .peer
                .handle_datagram(now, source, destination, datagram);
        }
        self.drive(id);
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Answer { offer, reply } => self.answer(now, &offer, reply),
            Command::Reoffer { id, offer, reply } => {
                let answered = match self.peers.get_mut(&id) {
                    Some(served) => served.peer.accept_reoffer(&offer),
                    None => Err(OfferError::Refused("the session has ended".into())),
                };
                let _ = reply.send(answered);
                self.drive(id);
            }
            Command::Frame(id, frame) => {
                if let Some(served) = self.peers.get_mut(&id) {
                    if let Err(e) = served.peer.send_frame(now, &frame) {
                        tracing::trace!(error = %e, "frame not sent");
                    }
                    self.drive(id);
                }
            }
            Command::Digit(id, digit) => {
                if let Some(served) = self.peers.get_mut(&id) {
                    if let Err(e) = served.peer.send_digit(now, digit) {
                        tracing::debug!(error = %e, "key not sent");
                    }
                    self.drive(id);
                }
            }
            Command::Close(id) => {
                if let Some(served) = self.peers.get_mut(&id) {
                    served.peer.close();
                    self.drive(id);
                }
            }
        }
    }

    /// A new peer for a browser's offer; the call that asked gets its id,
    /// event channel and answer.
    fn answer(&mut self, now: Instant, offer: &str, reply: tokio::sync::oneshot::Sender<Answered>) {
        let answered = Peer::answer(now, offer, self.candidate).map(|(peer, sdp)| {
            let id = self.next_id;
            self.next_id += 1;
            let (events, receiver) = mpsc::channel(EVENT_BACKLOG);
            let served = Served {
                peer,
                events,
                timeout: now,
            };
            self.peers.insert(id, served);
            self.timeouts.insert((now, id));
            (id, receiver, sdp)
        });
        let id = answered.as_ref().ok().map(|(id, _, _)| *id);
        if reply.send(answered).is_err() {
            // The call gave up waiting: forget the peer.
            if let Some(id) = id {
                self.forget(id);
            }
        } else if let Some(id) = id {
            self.drive(id);
        }
    }

    /// Runs every peer whose timeout is due.
    fn timeouts(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timeouts.first() {
            if at > now {
                break;
            }
            if let Some(served) = self.peers.get_mut(&id) {
                served.peer.handle_timeout(now);
            }
            self.drive(id);
            // A peer that asks for `now` again is run in the next round.
            if self.timeouts.first() == Some(&(at, id)) {
                break;
            }
        }
    }

    /// Polls a peer until it gives a timeout: queues its datagrams, delivers
    /// its events, and forgets it once it has ended.
    fn drive(&mut self, id: u64) {
        let Some(served) = self.peers.get_mut(&id) else {
            return;
        };
        let timeout = loop {
            match served.peer.poll_output() {
                Output::Transmit(t) => self.outbox.push(t),
                Output::Event(event) => {
                    // Never wait on a slow call: the socket serves every peer.
                    // An ended peer's channel closes, so its end is seen anyway.
                    if served.events.try_send(event).is_err() {
                        tracing::trace!("a WebRTC event was dropped: the call is not reading");
                    }
                }
                Output::Timeout(at) => break at,
            }
        };
        if served.peer.is_ended() {
            self.forget(id);
        } else if timeout != served.timeout {
            self.timeouts.remove(&(served.timeout, id));
            self.timeouts.insert((timeout, id));
            served.timeout = timeout;
        }
    }

    fn forget(&mut self, id: u64) {
        if let Some(served) = self.peers.remove(&id) {
            self.timeouts.remove(&(served.timeout, id));
            self.routes.retain(|_, peer| *peer != id);
        }
    }

    /// Sends the round's datagrams; what the socket's full buffer refuses
    /// waits for the next round.
    fn flush(&mut self) {
        let mut sent = 0;
        while sent < self.outbox.len() {
            match batch_io::try_send(&self.socket, &self.outbox[sent..]) {
                Ok(count) => sent += count.max(1),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    let destination = self.outbox[sent].destination;
                    tracing::debug!(error = %e, %destination, "WebRTC send failed");
                    sent += 1;
                }
            }
        }
        self.outbox.drain(..sent);
    }
}
