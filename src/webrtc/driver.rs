//! The async shell of WebRTC media: one UDP socket serving every browser
//! peer, a task that owns the peers (`shell`), and handles to reach them.
//!
//! One socket rather than one per peer: firewalls need one port opened, and
//! str0m tells which peer a datagram belongs to (`Rtc::accepts`: a STUN
//! check by its ICE username, DTLS and SRTP by the browser's address). The
//! task reads the clock; the peers only take `now`.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::peer::{FRAME_SAMPLES, OfferError, PeerEvent, Reanswer, SendError};
use super::shell::Shell;

/// Events a peer's handle may leave unread before events are dropped (the
/// channel is the call's inbox; the driver never waits on it).
pub(super) const EVENT_BACKLOG: usize = 256;

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
    #[error("could not start the WebRTC driver's thread: {0}")]
    Thread(std::io::Error),
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
    /// Whether the answer has telephone-event: else keys go in-band.
    telephone_event: bool,
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
pub(super) type Answered = Result<(u64, mpsc::Receiver<PeerEvent>, String), OfferError>;

pub(super) enum Command {
    Answer {
        offer: String,
        reply: oneshot::Sender<Answered>,
    },
    Reoffer {
        id: u64,
        offer: String,
        reply: oneshot::Sender<Result<Reanswer, OfferError>>,
    },
    /// A frame by value: no allocation per frame between the threads.
    Frame(u64, [u8; FRAME_SAMPLES]),
    Digit(u64, char),
    Close(u64),
}

impl Driver {
    /// Binds the WebRTC socket and starts the task, on a thread of its own
    /// (`webrtc-driver`) with the media workers' real-time priority: it
    /// sends every browser's frames, so it must not wait behind the rest of
    /// the server for a core any more than they do.
    pub async fn bind(settings: &WebrtcSettings) -> Result<Driver, DriverError> {
        let advertised = match settings.public_address {
            Some(address) => address,
            None if settings.bind_address.is_unspecified() => {
                return Err(DriverError::NoCandidateAddress(settings.bind_address));
            }
            None => settings.bind_address,
        };
        let socket = bind_in_range(settings)?;
        let local = socket.local_addr().map_err(|source| DriverError::Bind {
            address: settings.bind_address,
            min: settings.port_min,
            max: settings.port_max,
            source,
        })?;
        let candidate = SocketAddr::new(advertised, local.port());
        let (commands, inbox) = mpsc::channel(1024);
        std::thread::Builder::new()
            .name("webrtc-driver".into())
            .spawn(move || drive(socket, candidate, inbox))
            .map_err(DriverError::Thread)?;
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
            telephone_event: has_telephone_event(&sdp),
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
    pub fn send_frame(&self, frame: &[u8]) -> Result<(), SendError> {
        let frame = frame
            .try_into()
            .map_err(|_| SendError::FrameSize(frame.len()))?;
        self.commands
            .try_send(Command::Frame(self.id, frame))
            .map_err(refused)
    }

    /// Whether keys can go to the browser as RFC 4733 events (the answer
    /// has telephone-event); without, they must be sent as tones in the audio.
    pub fn has_telephone_event(&self) -> bool {
        self.telephone_event
    }

    /// Sends a key as an RFC 4733 event.
    pub fn send_digit(&self, digit: char) -> Result<(), SendError> {
        self.commands
            .try_send(Command::Digit(self.id, digit))
            .map_err(refused)
    }
}

/// Whether an SDP answer has telephone-event (RFC 4733 §7.1.1): the answer
/// keeps it only when the browser offered it.
fn has_telephone_event(sdp: &str) -> bool {
    sdp.lines().any(|line| {
        line.strip_prefix("a=rtpmap:")
            .and_then(|map| map.split_once(' '))
            .is_some_and(|(_, encoding)| {
                encoding
                    .to_ascii_lowercase()
                    .starts_with("telephone-event/")
            })
    })
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

/// The driver's thread: its own runtime, for the socket and the task. A
/// failure here ends the thread; the handles then say `Stopped`.
fn drive(socket: UdpSocket, candidate: SocketAddr, inbox: mpsc::Receiver<Command>) {
    crate::net::realtime::raise_this_thread();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return tracing::error!(error = %e, "the WebRTC driver's runtime failed"),
    };
    runtime.block_on(Shell::new(socket, candidate).run(inbox));
}

/// Takes the first port of the range that binds (non-blocking: the task
/// reads and writes it in rounds, never waiting on it).
fn bind_in_range(settings: &WebrtcSettings) -> Result<UdpSocket, DriverError> {
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty port range");
    for port in settings.port_min..=settings.port_max {
        let bound = UdpSocket::bind(SocketAddr::new(settings.bind_address, port))
            .and_then(|socket| socket.set_nonblocking(true).map(|()| socket));
        match bound {
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

#[cfg(test)]
mod answer_tests {
    use super::has_telephone_event;

    #[test]
    fn an_answer_has_telephone_event_only_when_it_maps_a_payload_type_to_it() {
        let keys = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 126\r\na=rtpmap:0 PCMU/8000\r\n\
                    a=rtpmap:126 telephone-event/8000\r\n";
        assert!(has_telephone_event(keys));
        assert!(has_telephone_event(
            &keys.replace("telephone-event", "TELEPHONE-EVENT")
        ));
        let none = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert!(!has_telephone_event(none));
        assert!(!has_telephone_event("a=fmtp:126 telephone-event/8000\r\n"));
    }
}
