//! SIP transports: UDP and TCP on the same listen address, and the
//! WebSocket connections browsers open to the HTTP listener (RFC 7118; the
//! HTTP side lives in `api::sip_websocket` and hands each connection here).
//!
//! Inbound bytes become [`Inbound`] datagrams for the SIP endpoint; the
//! [`Outbound`] handle sends bytes back. A TCP connection opened by a peer is
//! kept and reused for everything sent to that peer (RFC 3261 §18.2.2), and a
//! new one is opened when we must reach a TCP peer that has none.
//!
//! Accepted connections are capped in all and per source, must deliver their
//! first complete message soon after accept (and finish any message begun as
//! soon), and are closed when idle (no traffic either way); trusted sources
//! are exempt from the idle timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

use super::limits::{ConnectionCaps, LimitSettings, LimitStats, out_of_descriptors};
use crate::sip::framing::StreamFramer;
use crate::sip::transaction::{Remote, Transport};

/// Bytes that arrived from the network, with where they came from.
#[derive(Debug)]
pub struct Inbound {
    pub bytes: Vec<u8>,
    pub remote: Remote,
}

/// Sends bytes to a remote over the transport it names.
#[derive(Clone)]
pub struct Outbound {
    udp: Arc<UdpSocket>,
    tcp: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
    /// Open WebSocket connections by the browser's address: a binding made
    /// over one is reached over it and nothing else.
    websockets: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
    inbound: mpsc::Sender<Inbound>,
    limits: Arc<TcpLimits>,
}

/// The caps and timeouts of TCP connections, shared by every connection's tasks.
pub struct TcpLimits {
    pub settings: LimitSettings,
    pub caps: Mutex<ConnectionCaps>,
    pub stats: Arc<LimitStats>,
}

impl TcpLimits {
    /// Limits from the settings, counting into `stats`.
    pub fn new(settings: LimitSettings, stats: Arc<LimitStats>) -> TcpLimits {
        TcpLimits {
            caps: Mutex::new(ConnectionCaps::new(settings.clone())),
            settings,
            stats,
        }
    }

    fn caps(&self) -> std::sync::MutexGuard<'_, ConnectionCaps> {
        // A poisoned lock only means another task panicked mid-update; the counts still hold.
        self.caps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn closed(&self, peer: SocketAddr) {
        let mut caps = self.caps();
        caps.closed(peer.ip());
        let open = caps.open() as u64;
        self.stats.tcp_open.store(open, Ordering::Relaxed);
    }
}

/// The bound sockets of the SIP listener.
pub struct Listener {
    pub udp: Arc<UdpSocket>,
    pub tcp: TcpListener,
    pub local: SocketAddr,
}

/// Largest datagram accepted; bigger SIP messages must use TCP (RFC 3261 §18.1.1).
const MAX_DATAGRAM: usize = 65_535;

/// How long a new TCP connection may take. Sending runs on the endpoint's
/// task, so a peer that swallows SYNs must not hold every call up for the
/// system's own connect timeout (minutes); a reachable SIP peer answers in
/// milliseconds, and the transaction reports a failed send at once.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens a TCP connection within [`CONNECT_TIMEOUT`].
async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(connected) => connected,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TCP connect timed out",
        )),
    }
}

/// Ports tried for a listen address with port 0 before giving up.
const ANY_PORT_ATTEMPTS: usize = 16;

/// How many outgoing messages may wait for one TCP connection before it is dropped.
const TCP_QUEUE: usize = 256;

impl Listener {
    /// Binds UDP and TCP on `addr`; port 0 picks a free port used by both.
    ///
    /// With port 0 the system picks a free UDP port whose TCP twin may be
    /// taken; then another port is tried, a few times.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Listener> {
        let attempts = if addr.port() == 0 {
            ANY_PORT_ATTEMPTS
        } else {
            1
        };
        let mut last_error = None;
        for _ in 0..attempts {
            let udp = UdpSocket::bind(addr).await?;
            let local = udp.local_addr()?;
            match TcpListener::bind(local).await {
                Ok(tcp) => {
                    return Ok(Listener {
                        udp: Arc::new(udp),
                        tcp,
                        local,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP")))
    }

    /// Starts the receive loops; inbound messages go to `inbound`.
    pub fn start(self, inbound: mpsc::Sender<Inbound>, limits: TcpLimits) -> Outbound {
        let outbound = Outbound {
            udp: self.udp.clone(),
            tcp: Arc::new(Mutex::new(HashMap::new())),
            websockets: Arc::new(Mutex::new(HashMap::new())),
            inbound: inbound.clone(),
            limits: Arc::new(limits),
        };
        tokio::spawn(receive_udp(self.udp, inbound));
        tokio::spawn(accept_tcp(self.tcp, outbound.clone()));
        outbound
    }
}

impl Outbound {
    /// Sends `bytes` to `remote`. Errors are logged and returned: the
    /// transaction layer recovers from most by retransmission or timeout, but
    /// a call whose INVITE cannot leave fails at once.
    pub async fn send(&self, remote: Remote, bytes: Vec<u8>) -> std::io::Result<()> {
        let sent = match remote.transport {
            Transport::Udp => self.udp.send_to(&bytes, remote.addr).await.map(drop),
            Transport::Tcp => self.send_tcp(remote.addr, bytes).await,
            Transport::Ws => self.send_websocket(remote.addr, bytes),
        };
        if let Err(error) = &sent {
            if out_of_descriptors(error) {
                LimitStats::count(&self.limits.stats.descriptors_exhausted);
                error!(to = %remote.addr, "cannot open a TCP connection: the process has no file descriptor left");
            } else {
                warn!(%error, to = %remote.addr, transport = remote.transport.token(), "send failed");
            }
        }
        sent
    }

    async fn send_tcp(&self, addr: SocketAddr, bytes: Vec<u8>) -> std::io::Result<()> {
        let existing = self.connections().get(&addr).cloned();
        let sender = match existing {
            Some(sender) => sender,
            None => self.adopt(connect(addr).await?, addr, Origin::Opened),
        };
        if sender.try_send(bytes).is_err() {
            self.connections().remove(&addr);
            let gone = "TCP connection is gone or stuck; message dropped";
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, gone));
        }
        Ok(())
    }

    /// Registers a connection and starts its reader and writer.
    fn adopt(&self, stream: TcpStream, peer: SocketAddr, origin: Origin) -> mpsc::Sender<Vec<u8>> {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let (sender, receiver) = mpsc::channel(TCP_QUEUE);
        self.connections().insert(peer, sender.clone());
        let activity = Arc::new(Activity::new());
        tokio::spawn(write_tcp(writer, receiver, peer, activity.clone()));
        let outbound = self.clone();
        tokio::spawn(async move {
            let ending = read_tcp(reader, peer, &outbound, &activity, origin).await;
            outbound.connections().remove(&peer);
            let stats = &outbound.limits.stats;
            match ending {
                Ending::Idle => LimitStats::count(&stats.tcp_idle_closed),
                Ending::Incomplete => LimitStats::count(&stats.tcp_incomplete_closed),
                Ending::Closed => {}
            }
            if origin == Origin::Accepted {
                outbound.limits.closed(peer);
            }
        });
        sender
    }

    /// Registers a browser's WebSocket connection; what is sent to it
    /// arrives on the returned queue until [`Outbound::close_websocket`].
    /// `None` when a connection open now is known by that address already.
    pub fn open_websocket(&self, peer: SocketAddr) -> Option<mpsc::Receiver<Vec<u8>>> {
        let mut websockets = lock(&self.websockets);
        if websockets.contains_key(&peer) {
            return None;
        }
        let (sender, receiver) = mpsc::channel(TCP_QUEUE);
        websockets.insert(peer, sender);
        Some(receiver)
    }

    /// Forgets a closed WebSocket connection: nothing can reach it any more.
    pub fn close_websocket(&self, peer: SocketAddr) {
        lock(&self.websockets).remove(&peer);
    }

    /// Hands a message received on a WebSocket to the endpoint; false when
    /// the endpoint has stopped.
    pub async fn receive_websocket(&self, peer: SocketAddr, bytes: Vec<u8>) -> bool {
        if is_keepalive(&bytes) {
            return true;
        }
        let remote = Remote {
            addr: peer,
            transport: Transport::Ws,
        };
        self.inbound.send(Inbound { bytes, remote }).await.is_ok()
    }

    /// A WebSocket peer is only reached on the connection it opened; there
    /// is no connecting back to a browser.
    fn send_websocket(&self, addr: SocketAddr, bytes: Vec<u8>) -> std::io::Result<()> {
        let sender = lock(&self.websockets).get(&addr).cloned();
        match sender {
            Some(sender) if sender.try_send(bytes).is_ok() => Ok(()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the browser's WebSocket connection is closed or stuck; message dropped",
            )),
        }
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>> {
        // A poisoned lock only means another task panicked mid-insert; the map is still usable.
        self.tcp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn receive_udp(socket: Arc<UdpSocket>, inbound: mpsc::Sender<Inbound>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((len, addr)) => {
                let bytes = buffer[..len].to_vec();
                if is_keepalive(&bytes) {
                    continue;
                }
                let remote = Remote {
                    addr,
                    transport: Transport::Udp,
                };
                if inbound.send(Inbound { bytes, remote }).await.is_err() {
                    return;
                }
            }
            // ICMP port-unreachable from an earlier send surfaces here on Linux; keep going.
            Err(error) => debug!(%error, "UDP receive error"),
        }
    }
}

/// Who opened a TCP connection: only accepted ones count against the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Accepted,
    Opened,
}

/// Why a connection's reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The peer closed it, broke framing, or the endpoint stopped.
    Closed,
    /// No traffic either way for the idle timeout.
    Idle,
    /// No complete message within the deadline: the first after accept, or one begun.
    Incomplete,
}

/// When a connection last carried bytes either way, as milliseconds since it began.
struct Activity {
    start: Instant,
    last: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = self.start.elapsed().as_millis() as u64;
        self.last.store(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// Pause after a failed accept: the failure (no descriptor, say) would repeat at once.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

async fn accept_tcp(listener: TcpListener, outbound: Outbound) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let limits = &outbound.limits;
                let admitted = {
                    let mut caps = limits.caps();
                    let admitted = caps.admit(peer.ip());
                    let open = caps.open() as u64;
                    limits.stats.tcp_open.store(open, Ordering::Relaxed);
                    admitted
                };
                match admitted {
                    Ok(()) => {
                        outbound.adopt(stream, peer, Origin::Accepted);
                    }
                    Err(refusal) => {
                        // Dropping the stream closes it; counted, not logged per connection.
                        LimitStats::count(&limits.stats.tcp_refused);
                        debug!(from = %peer, %refusal, "TCP connection closed at once");
                    }
                }
            }
            Err(failure) if out_of_descriptors(&failure) => {
                LimitStats::count(&outbound.limits.stats.descriptors_exhausted);
                let limit = outbound
                    .limits
                    .stats
                    .open_file_limit
                    .load(Ordering::Relaxed);
                error!(
                    open_file_limit = limit,
                    "cannot accept a TCP connection: the process has no file descriptor left"
                );
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
            Err(error) => {
                warn!(%error, "TCP accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Reads and frames a connection's messages until it ends; says why it ended.
async fn read_tcp(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    peer: SocketAddr,
    outbound: &Outbound,
    activity: &Activity,
    origin: Origin,
) -> Ending {
    let settings = &outbound.limits.settings;
    let idle_applies = !settings.is_trusted(peer.ip());
    // A peer that opens a connection must speak soon; after that, a message
    // begun must be finished as soon, so half-sent messages do not hold it.
    let mut message_by =
        (origin == Origin::Accepted).then(|| Instant::now() + settings.tcp_first_message());
    let mut framer = StreamFramer::new();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let deadline = match message_by {
            Some(deadline) => Some(deadline),
            None if idle_applies => Some(activity.last() + settings.tcp_idle()),
            None => None,
        };
        let read = reader.read(&mut buffer);
        let len = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), read).await {
                Ok(read) => read,
                Err(_) if message_by.is_some() => return Ending::Incomplete,
                // The writer may have been busy meanwhile: only silence both ways is idle.
                Err(_) if activity.last() + settings.tcp_idle() > Instant::now() => continue,
                Err(_) => return Ending::Idle,
            },
            None => read.await,
        };
        let len = match len {
            Ok(0) | Err(_) => return Ending::Closed,
            Ok(len) => len,
        };
        activity.touch();
        framer.push(&buffer[..len]);
        while let Some(frame) = framer.next_message() {
            message_by = None;
            match frame {
                Ok(bytes) => {
                    let remote = Remote {
                        addr: peer,
                        transport: Transport::Tcp,
                    };
                    if outbound
                        .inbound
                        .send(Inbound { bytes, remote })
                        .await
                        .is_err()
                    {
                        return Ending::Closed;
                    }
                }
                Err(error) => {
                    // A stream that cannot be framed cannot be resynchronised: close it.
                    warn!(%error, from = %peer, "closing TCP connection");
                    return Ending::Closed;
                }
            }
        }
        if framer.has_partial() && message_by.is_none() {
            message_by = Some(Instant::now() + settings.tcp_first_message());
        }
    }
}

async fn write_tcp(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut queue: mpsc::Receiver<Vec<u8>>,
    peer: SocketAddr,
    activity: Arc<Activity>,
) {
    while let Some(bytes) = queue.recv().await {
        if let Err(error) = writer.write_all(&bytes).await {
            debug!(%error, to = %peer, "TCP write failed");
            return;
        }
        activity.touch();
    }
}

/// Locks a connection map; a poisoned lock only means another task
/// panicked mid-insert, and the map is still usable.
fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// CRLF keep-alives (RFC 5626 §3.5.1) and stray blank datagrams carry no message.
fn is_keepalive(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
}
