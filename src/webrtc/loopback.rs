//! A [`Peer`] wired back to back with a second str0m instance playing the
//! browser (full ICE, controlling, offering G.711 and telephone-event like
//! Chromium), on a virtual clock: minutes of ICE consent run in milliseconds.
//! For the peer's tests and the WebRTC benchmark. [`dial`] puts the same
//! simulated browser on a loopback UDP socket, to test the driver and the
//! media workers in real time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::format::{Codec as RtcCodec, CodecExtra};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::driver::{Driver, PeerHandle};
use super::peer::{Output, Peer, PeerEvent, with_telephone_event};

/// The simulated browser's address.
pub const BROWSER: &str = "192.0.2.10:50000";
/// The peer's (the server's) address.
pub const SERVER: &str = "192.0.2.1:20001";

/// Which codecs the simulated browser offers.
pub enum Offers {
    G711,
    OpusOnly,
    /// PCMU and PCMA without telephone-event: keys must go in-band.
    G711WithoutKeys,
}

/// The browser's str0m and the peer under test, and what each has seen.
pub struct Pair {
    pub now: Instant,
    pub start: Instant,
    pub browser: Rtc,
    pub browser_mid: Mid,
    pub peer: Peer,
    /// When false, the browser's datagrams are lost (its tab was closed).
    pub browser_reachable: bool,
    pub browser_connected: bool,
    pub browser_heard: Vec<Vec<u8>>,
    pub browser_digits: Vec<u8>,
    pub peer_events: Vec<PeerEvent>,
    /// This thread's CPU time spent inside the peer (the server's half).
    pub peer_cpu: Duration,
}

/// A browser's str0m with a host candidate at `address`.
pub fn browser(now: Instant, offers: Offers, address: SocketAddr) -> Rtc {
    let config = RtcConfig::new().clear_codecs();
    let config = match offers {
        Offers::G711 => config.enable_pcmu(true, false).enable_pcma(true, false),
        Offers::OpusOnly => config.enable_opus(true, false),
        Offers::G711WithoutKeys => config.enable_pcmu(true, false).enable_pcma(true, false),
    };
    let config = match offers {
        Offers::G711WithoutKeys => config,
        // Chromium's telephone-event payload type.
        _ => with_telephone_event(config, 126),
    };
    let mut rtc = config.build(now);
    let candidate = Candidate::host(address, "udp").unwrap();
    rtc.add_local_candidate(candidate);
    rtc
}

/// The browser's offer: one send-receive audio media; and the browser.
pub fn offer(
    now: Instant,
    offers: Offers,
    address: SocketAddr,
) -> (Rtc, Mid, str0m::change::SdpPendingOffer, String) {
    let mut rtc = browser(now, offers, address);
    let mut change = rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().expect("an offer");
    (rtc, mid, pending, offer.to_sdp_string())
}

impl Pair {
    /// A browser and a peer that answered its offer; not yet connected.
    pub fn new() -> (Pair, String) {
        let now = Instant::now();
        let (mut browser, browser_mid, pending, offer) =
            offer(now, Offers::G711, BROWSER.parse().unwrap());
        let (peer, answer) = Peer::answer(now, &offer, SERVER.parse().unwrap()).expect("answered");
        let sdp = str0m::change::SdpAnswer::from_sdp_string(&answer).expect("a valid answer");
        browser
            .sdp_api()
            .accept_answer(pending, sdp)
            .expect("the browser accepts the answer");
        let pair = Pair {
            now,
            start: now,
            browser,
            browser_mid,
            peer,
            browser_reachable: true,
            browser_connected: false,
            browser_heard: Vec::new(),
            browser_digits: Vec::new(),
            peer_events: Vec::new(),
            peer_cpu: Duration::ZERO,
        };
        (pair, answer)
    }

    pub fn connected() -> Pair {
        let (mut pair, _) = Pair::new();
        pair.run_until(Duration::from_secs(5), |p| {
            p.browser_connected
                && p.peer_events
                    .iter()
                    .any(|e| matches!(e, PeerEvent::Connected { .. }))
        });
        pair
    }

    /// Moves both ends and the clock until `done`, or panics after `limit`.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) {
        let deadline = self.now + limit;
        while !done(self) {
            assert!(
                self.now < deadline,
                "not done within {limit:?}; the peer saw {:?}",
                self.peer_events
            );
            self.step(deadline);
        }
    }

    /// Runs the clock to `now + span`.
    pub fn run_for(&mut self, span: Duration) {
        let until = self.now + span;
        while self.now < until {
            self.step(until);
        }
    }

    /// Delivers everything each end has to say, then advances the clock to
    /// the earlier of the two timeouts (at most to `cap`).
    pub fn step(&mut self, cap: Instant) {
        let peer_timeout = loop {
            match self.on_peer(Peer::poll_output) {
                Output::Transmit(t) => {
                    let receive = Receive::new(
                        Protocol::Udp,
                        SERVER.parse().unwrap(),
                        t.destination,
                        &t.contents,
                    )
                    .expect("a datagram str0m can read");
                    self.browser
                        .handle_input(Input::Receive(self.now, receive))
                        .expect("browser input");
                }
                Output::Event(event) => self.peer_events.push(event),
                Output::Timeout(at) => break at,
            }
        };
        let browser_timeout = loop {
            match self.browser.poll_output().expect("browser output") {
                str0m::Output::Transmit(t) => {
                    if self.browser_reachable {
                        let from: SocketAddr = BROWSER.parse().unwrap();
                        let now = self.now;
                        self.on_peer(|peer| {
                            peer.handle_datagram(now, from, t.destination, &t.contents)
                        });
                    }
                }
                str0m::Output::Event(Event::Connected) => self.browser_connected = true,
                str0m::Output::Event(Event::MediaData(data)) => match data.codec_extra {
                    CodecExtra::Tele(event) => self.browser_digits.push(event.event),
                    _ => self.browser_heard.push(data.data.to_vec()),
                },
                str0m::Output::Event(_) => {}
                str0m::Output::Timeout(at) => break at,
            }
        };
        let next = peer_timeout.min(browser_timeout).min(cap);
        // Outputs just delivered may be answered at once; time must still move.
        self.now = next.max(self.now + Duration::from_micros(100));
        let now = self.now;
        self.on_peer(|peer| peer.handle_timeout(now));
        self.browser
            .handle_input(Input::Timeout(self.now))
            .expect("browser timeout");
    }

    /// Runs `f` on the peer, adding the CPU time it takes to `peer_cpu`.
    pub fn on_peer<T>(&mut self, f: impl FnOnce(&mut Peer) -> T) -> T {
        let start = thread_cpu();
        let result = f(&mut self.peer);
        self.peer_cpu += thread_cpu().saturating_sub(start);
        result
    }

    /// The browser's writer for its audio media, at its negotiated PCMU.
    pub fn browser_sends(&mut self, frame: &[u8], rtp_time: u64) {
        let now = self.now;
        let writer = self.browser.writer(self.browser_mid).expect("audio media");
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == RtcCodec::PCMU)
            .expect("PCMU negotiated")
            .pt();
        writer
            .write(
                pt,
                now,
                MediaTime::new(rtp_time, Frequency::EIGHT_KHZ),
                frame.to_vec(),
            )
            .expect("browser write");
    }

    pub fn peer_audio(&self) -> Vec<Vec<u8>> {
        self.peer_events
            .iter()
            .filter_map(|e| match e {
                PeerEvent::Audio { payload } => Some(payload.to_vec()),
                _ => None,
            })
            .collect()
    }
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`: a vDSO read, cheap
/// enough to take around every call).
pub fn thread_cpu() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; the clock exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// What a browser on a socket heard: a G.711 payload, or a telephone-event code.
#[derive(Debug)]
pub enum Heard {
    Audio(Vec<u8>),
    Key(u8),
}

/// A simulated browser on a loopback UDP socket whose offer `driver` answers:
/// it sends a PCMU frame of `byte` every 20 ms once connected and a key for
/// every event code sent on the returned sender, and reports what it hears.
/// The peer's handle comes back with those two channels.
pub async fn dial(
    driver: &Driver,
    byte: u8,
) -> (
    PeerHandle,
    mpsc::UnboundedReceiver<Heard>,
    mpsc::UnboundedSender<u8>,
) {
    dial_offering(driver, byte, Offers::G711).await
}

/// [`dial`] with a browser that offers `offers`.
pub async fn dial_offering(
    driver: &Driver,
    byte: u8,
    offers: Offers,
) -> (
    PeerHandle,
    mpsc::UnboundedReceiver<Heard>,
    mpsc::UnboundedSender<u8>,
) {
    let dialing = Dialing::new(offers).await;
    let (handle, answer) = driver
        .answer(dialing.offer.clone())
        .await
        .expect("answered");
    let (heard_tx, heard) = mpsc::unbounded_channel();
    let keys = dialing
        .answered(&answer, byte, heard_tx)
        .expect("the browser accepts the answer");
    (handle, heard, keys)
}

/// A simulated browser on a loopback UDP socket that has made its offer
/// and waits for the answer, however it gets there (the driver, or the
/// server's `POST /webrtc/calls` in the load generator).
pub struct Dialing {
    /// The browser's SDP offer.
    pub offer: String,
    rtc: Rtc,
    mid: Mid,
    pending: str0m::change::SdpPendingOffer,
    socket: UdpSocket,
    address: SocketAddr,
}

impl Dialing {
    /// A browser offering `offers` on a fresh loopback socket.
    pub async fn new(offers: Offers) -> Dialing {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("a loopback socket");
        let address = socket.local_addr().expect("its address");
        let (rtc, mid, pending, offer) = offer(Instant::now(), offers, address);
        Dialing {
            offer,
            rtc,
            mid,
            pending,
            socket,
            address,
        }
    }

    /// Takes the SDP answer and starts the browser's task: it sends a PCMU
    /// frame of `byte` every 20 ms once connected and a key for every event
    /// code sent on the returned sender, and reports what it hears to `seen`.
    pub fn answered(
        mut self,
        answer: &str,
        byte: u8,
        seen: mpsc::UnboundedSender<Heard>,
    ) -> Result<mpsc::UnboundedSender<u8>, str0m::RtcError> {
        let answer = str0m::change::SdpAnswer::from_sdp_string(answer)?;
        self.rtc.sdp_api().accept_answer(self.pending, answer)?;
        let (keys, presses) = mpsc::unbounded_channel();
        let browser = UdpBrowser {
            rtc: self.rtc,
            mid: self.mid,
            socket: self.socket,
            address: self.address,
            byte,
        };
        tokio::spawn(browser.run(seen, presses));
        Ok(keys)
    }
}

/// The browser's end: str0m on its own socket.
struct UdpBrowser {
    rtc: Rtc,
    mid: Mid,
    socket: UdpSocket,
    address: SocketAddr,
    byte: u8,
}

impl UdpBrowser {
    /// Sends a frame of `byte` every 20 ms once connected and a key on each
    /// `presses`; reports what it hears to `seen`.
    async fn run(
        mut self,
        seen: mpsc::UnboundedSender<Heard>,
        mut presses: mpsc::UnboundedReceiver<u8>,
    ) {
        let mut buf = vec![0u8; 2000];
        let mut connected = false;
        let mut next_frame = Instant::now();
        let mut rtp_time = 0u64;
        loop {
            let timeout = loop {
                match self.rtc.poll_output() {
                    Ok(str0m::Output::Transmit(t)) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Ok(str0m::Output::Event(Event::Connected)) => connected = true,
                    Ok(str0m::Output::Event(Event::MediaData(data))) => {
                        let _ = seen.send(match data.codec_extra {
                            CodecExtra::Tele(event) => Heard::Key(event.event),
                            _ => Heard::Audio(data.data.to_vec()),
                        });
                    }
                    Ok(str0m::Output::Event(_)) => {}
                    Ok(str0m::Output::Timeout(at)) => break at,
                    Err(_) => return,
                }
            };
            let now = Instant::now();
            if connected && now >= next_frame {
                let frame = vec![self.byte; 160];
                if self.write(now, rtp_time, None, frame).is_err() {
                    return;
                }
                rtp_time += 160;
                next_frame = now + Duration::from_millis(20);
                continue;
            }
            let wake = if connected {
                timeout.min(next_frame)
            } else {
                timeout
            };
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((n, source)) = received else { return };
                    let Ok(receive) = Receive::new(Protocol::Udp, source, self.address, &buf[..n]) else { continue };
                    if self.rtc.handle_input(Input::Receive(Instant::now(), receive)).is_err() {
                        return;
                    }
                }
                Some(key) = presses.recv() => {
                    let press = TelephoneEvent {
                        event: key,
                        end: true,
                        volume: 10,
                        duration: Duration::from_millis(120),
                    };
                    // A key gets a timestamp of its own, past the audio's.
                    rtp_time += 8000;
                    if self.write(Instant::now(), rtp_time, Some(press), Vec::new()).is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    if self.rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Writes a PCMU frame, or a key when `press` is given.
    fn write(
        &mut self,
        now: Instant,
        rtp_time: u64,
        press: Option<TelephoneEvent>,
        data: Vec<u8>,
    ) -> Result<(), str0m::RtcError> {
        let writer = self.rtc.writer(self.mid).expect("audio");
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == RtcCodec::PCMU)
            .expect("PCMU")
            .pt();
        let writer = match press {
            Some(press) => writer.telephone_event(press),
            None => writer,
        };
        let time = MediaTime::new(rtp_time, Frequency::EIGHT_KHZ);
        writer.write(pt, now, time, data)
    }
}
