//! The async shell of WebRTC media: one UDP socket serving every browser
//! peer, a task that owns the peers, and handles to reach them.
//!
//! One socket rather than one per peer: firewalls need one port opened, and
//! str0m tells which peer a datagram belongs to (`Rtc::accepts`: a STUN
//! check by its ICE username, DTLS and SRTP by the browser's address). The
//! task reads the clock; the peers only take `now`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use serde::Deserialize;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::peer::{OfferError, Output, Peer, PeerEvent, Reanswer, SendError};

/// The largest datagram read: above any path MTU WebRTC uses.
const DATAGRAM_MAX: usize = 2000;

/// Events a peer's handle may leave unread before events are dropped (the
/// channel is the call's inbox; the driver never waits on it).
const EVENT_BACKLOG: usize = 256;

/// WebRTC settings (`[webrtc]`): the media socket browsers reach, and who
/// may call from a web page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebrtcSettings {
    /// Whether the server takes browsers' calls at all; off by default, so
    /// nothing is open that an operator did not ask for.
    pub enabled: bool,
    /// Address the WebRTC socket binds to; loopback by default (set it, and
    /// `public_address`, to take calls from other machines).
    pub bind_address: IpAddr,
    /// Address given to browsers in ICE candidates: required when
    /// `bind_address` is a wildcard (browsers cannot reach `0.0.0.0`).
    pub public_address: Option<IpAddr>,
    /// The socket takes the first free port from `port_min` to `port_max`.
    pub port_min: u16,
    pub port_max: u16,
    /// Web pages (origins such as `https://www.example.com`) whose "call us"
    /// widget may place calls, besides the server's own pages. None by default.
    pub allowed_origins: Vec<String>,
    /// The key a company's site signs a visitor's customer id with (see
    /// `call::web::CustomerToken`); without it, web callers are anonymous.
    pub customer_key: Option<String>,
}

impl Default for WebrtcSettings {
    fn default() -> Self {
        WebrtcSettings {
            enabled: false,
            bind_address: IpAddr::from([127, 0, 0, 1]),
            public_address: None,
            port_min: 20001,
            port_max: 20099,
            allowed_origins: Vec::new(),
            customer_key: None,
        }
    }
}

/// Why the WebRTC driver could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(
        "setting `webrtc.public_address`: needed when `webrtc.bind_address` is {0} \
         (browsers must be told an address they can reach)"
    )]
    NoCandidateAddress(IpAddr),
    #[error("no free UDP port for WebRTC from {min} to {max} on {address}: {source}")]
    Bind {
        address: IpAddr,
        min: u16,
        max: u16,
        source: std::io::Error,
    },
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error("the WebRTC driver has stopped")]
    Stopped,
}

/// The running driver: answers offers. Its task ends, with every peer, once
/// the driver and all peer handles are dropped.
pub struct Driver {
    commands: mpsc::Sender<Command>,
    local: SocketAddr,
    candidate: SocketAddr,
}

/// One browser's media, reached from a call: send frames and keys, read events.
pub struct PeerHandle {
    id: u64,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<PeerEvent>,
}

/// The signalling's hold on one browser's peer, beside the media's
/// [`PeerHandle`]: answers the browser's re-offers. Dropping it ends nothing.
#[derive(Clone)]
pub struct PeerControl {
    id: u64,
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for PeerControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerControl").field("id", &self.id).finish()
    }
}

impl PeerControl {
    /// Answers the browser's re-offer (hold, resume) on its running peer.
    pub async fn reoffer(&self, offer: String) -> Result<Reanswer, DriverError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Reoffer {
            id: self.id,
            offer,
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| DriverError::Stopped)?;
        Ok(answer.await.map_err(|_| DriverError::Stopped)??)
    }
}

/// An answered offer, as the task hands it back: the peer's id, its event
/// channel and the SDP answer.
type Answered = Result<(u64, mpsc::Receiver<PeerEvent>, String), OfferError>;

enum Command {
    Answer {
        offer: String,
        reply: oneshot::Sender<Answered>,
    },
    Reoffer {
        id: u64,
        offer: String,
        reply: oneshot::Sender<Result<Reanswer, OfferError>>,
    },
    Frame(u64, Vec<u8>),
    Digit(u64, char),
    Close(u64),
}

impl Driver {
    /// Binds the WebRTC socket and starts the task (in the current runtime).
    pub async fn bind(settings: &WebrtcSettings) -> Result<Driver, DriverError> {
        let advertised = match settings.public_address {
            Some(address) => address,
            None if settings.bind_address.is_unspecified() => {
                return Err(DriverError::NoCandidateAddress(settings.bind_address));
            }
            None => settings.bind_address,
        };
        let socket = bind_in_range(settings).await?;
        let local = socket.local_addr().map_err(|source| DriverError::Bind {
            address: settings.bind_address,
            min: settings.port_min,
            max: settings.port_max,
            source,
        })?;
        let candidate = SocketAddr::new(advertised, local.port());
        let (commands, inbox) = mpsc::channel(1024);
        let shell = Shell {
            socket,
            candidate,
            peers: HashMap::new(),
            routes: HashMap::new(),
            next_id: 0,
        };
        tokio::spawn(shell.run(inbox));
        tracing::info!(%local, %candidate, "WebRTC media socket bound");
        Ok(Driver {
            commands,
            local,
            candidate,
        })
    }

    /// The socket's own address.
    pub fn local_address(&self) -> SocketAddr {
        self.local
    }

    /// The address browsers are told in ICE candidates.
    pub fn candidate_address(&self) -> SocketAddr {
        self.candidate
    }

    /// Answers a browser's SDP offer: the peer's handle and the SDP answer.
    pub async fn answer(&self, offer: String) -> Result<(PeerHandle, String), DriverError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Answer { offer, reply })
            .await
            .map_err(|_| DriverError::Stopped)?;
        let (id, events, sdp) = answer.await.map_err(|_| DriverError::Stopped)??;
        let handle = PeerHandle {
            id,
            commands: self.commands.clone(),
            events,
        };
        Ok((handle, sdp))
    }
}

impl PeerHandle {
    /// A handle for the signalling: the peer's re-offers.
    pub fn control(&self) -> PeerControl {
        PeerControl {
            id: self.id,
            commands: self.commands.clone(),
        }
    }

    /// The next event; `None` once the peer has ended and all were read.
    pub async fn next_event(&mut self) -> Option<PeerEvent> {
        self.events.recv().await
    }

    /// The next event if one is waiting, without waiting: for the media
    /// workers, which never block. `Err(Disconnected)` once the peer has
    /// ended and every event was read.
    pub fn try_next_event(&mut self) -> Result<PeerEvent, mpsc::error::TryRecvError> {
        self.events.try_recv()
    }

    /// Sends a 20 ms G.711 frame; the caller paces them. Frames before the
    /// peer connects are dropped (there is no one to hear them yet).
    pub fn send_frame(&self, frame: Vec<u8>) -> Result<(), SendError> {
        self.commands
            .try_send(Command::Frame(self.id, frame))
            .map_err(refused)
    }

    /// Sends a key as an RFC 4733 event.
    pub fn send_digit(&self, digit: char) -> Result<(), SendError> {
        self.commands
            .try_send(Command::Digit(self.id, digit))
            .map_err(refused)
    }
}

/// Why the driver did not take a command: it is behind, or it has stopped.
fn refused(error: mpsc::error::TrySendError<Command>) -> SendError {
    match error {
        mpsc::error::TrySendError::Full(_) => SendError::Busy,
        mpsc::error::TrySendError::Closed(_) => SendError::Ended,
    }
}

impl Drop for PeerHandle {
    fn drop(&mut self) {
        let _ = self.commands.try_send(Command::Close(self.id));
    }
}

/// Takes the first port of the range that binds.
async fn bind_in_range(settings: &WebrtcSettings) -> Result<UdpSocket, DriverError> {
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty port range");
    for port in settings.port_min..=settings.port_max {
        match UdpSocket::bind(SocketAddr::new(settings.bind_address, port)).await {
            Ok(socket) => return Ok(socket),
            Err(e) => last = e,
        }
    }
    Err(DriverError::Bind {
        address: settings.bind_address,
        min: settings.port_min,
        max: settings.port_max,
        source: last,
    })
}

/// The task's state: the socket and the peers it serves.
struct Shell {
    socket: UdpSocket,
    candidate: SocketAddr,
    peers: HashMap<u64, Served>,
    /// The peer each browser address last reached: asked first, so a
    /// datagram costs one `accepts` rather than one per peer.
    routes: HashMap<SocketAddr, u64>,
    next_id: u64,
}

/// A peer with its event channel and its next timeout.
struct Served {
    peer: Peer,
    events: mpsc::Sender<PeerEvent>,
    timeout: Instant,
}

impl Shell {
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        loop {
            let deadline = self.peers.values().map(|s| s.timeout).min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => self.datagram(source, &buf[..n]).await,
                    Err(e) => tracing::debug!(error = %e, "WebRTC socket read failed"),
                },
                command = inbox.recv() => match command {
                    Some(command) => self.command(command).await,
                    None => return,
                },
                () = sleep => self.timeouts().await,
            }
        }
    }

    /// Gives a datagram to the peer that accepts it; others' are dropped.
    async fn datagram(&mut self, source: SocketAddr, datagram: &[u8]) {
        let now = Instant::now();
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
        self.routes.insert(source, id);
        if let Some(served) = self.peers.get_mut(&id) {
            served
                .peer
                .handle_datagram(now, source, destination, datagram);
        }
        self.drive(id).await;
    }

    async fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Answer { offer, reply } => {
                let answered = Peer::answer(now, &offer, self.candidate).map(|(peer, sdp)| {
                    let id = self.next_id;
                    self.next_id += 1;
                    let (events, receiver) = mpsc::channel(EVENT_BACKLOG);
                    let served = Served {
                        peer,
                        events,
                        timeout: now,
                    };
                    self.peers.insert(id, served);
                    (id, receiver, sdp)
                });
                let id = answered.as_ref().ok().map(|(id, _, _)| *id);
                if reply.send(answered).is_err() {
                    // The call gave up waiting: forget the peer.
                    if let Some(id) = id {
                        self.peers.remove(&id);
                    }
                } else if let Some(id) = id {
                    self.drive(id).await;
                }
            }
            Command::Reoffer { id, offer, reply } => {
                let answered = match self.peers.get_mut(&id) {
                    Some(served) => served.peer.accept_reoffer(&offer),
                    None => Err(OfferError::Refused("the session has ended".into())),
                };
                let _ = reply.send(answered);
                self.drive(id).await;
            }
            Command::Frame(id, frame) => {
                if let Some(served) = self.peers.get_mut(&id) {
                    if let Err(e) = served.peer.send_frame(now, &frame) {
                        tracing::trace!(error = %e, "frame not sent");
                    }
                    self.drive(id).await;
                }
            }
            Command::Digit(id, digit) => {
                if let Some(served) = self.peers.get_mut(&id) {
                    if let Err(e) = served.peer.send_digit(now, digit) {
                        tracing::debug!(error = %e, "key not sent");
                    }
                    self.drive(id).await;
                }
            }
            Command::Close(id) => {
                if let Some(served) = self.peers.get_mut(&id) {
                    served.peer.close();
                    self.drive(id).await;
                }
            }
        }
    }

    async fn timeouts(&mut self) {
        let now = Instant::now();
        let due: Vec<u64> = self
            .peers
            .iter()
            .filter(|(_, s)| s.timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(served) = self.peers.get_mut(&id) {
                served.peer.handle_timeout(now);
            }
            self.drive(id).await;
        }
    }

    /// Polls a peer until it gives a timeout: sends its datagrams, delivers
    /// its events, and forgets it once it has ended.
    async fn drive(&mut self, id: u64) {
        let Some(served) = self.peers.get_mut(&id) else {
            return;
        };
        loop {
            match served.peer.poll_output() {
                Output::Transmit(t) => {
                    if let Err(e) = self.socket.send_to(&t.contents, t.destination).await {
                        tracing::debug!(error = %e, destination = %t.destination, "WebRTC send failed");
                    }
                }
                Output::Event(event) => {
                    // Never wait on a slow call: the socket serves every peer.
                    // An ended peer's channel closes, so its end is seen anyway.
                    if served.events.try_send(event).is_err() {
                        tracing::trace!("a WebRTC event was dropped: the call is not reading");
                    }
                }
                Output::Timeout(at) => {
                    served.timeout = at;
                    break;
                }
            }
        }
        if served.peer.is_ended() {
            self.peers.remove(&id);
            self.routes.retain(|_, peer| *peer != id);
        }
    }
}
