//! A [`Peer`] wired back to back with a second str0m instance playing the
//! browser (full ICE, controlling, offering G.711 and telephone-event like
//! Chromium), on a virtual clock: minutes of ICE consent run in milliseconds.
//! For the peer's tests and the WebRTC benchmark.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::format::{Codec as RtcCodec, CodecExtra};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Rtc, RtcConfig};

use super::peer::{Output, Peer, PeerEvent, with_telephone_event};

/// The simulated browser's address.
pub const BROWSER: &str = "192.0.2.10:50000";
/// The peer's (the server's) address.
pub const SERVER: &str = "192.0.2.1:20001";

/// Which codecs the simulated browser offers.
pub enum Offers {
    G711,
    OpusOnly,
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
    };
    // Chromium's telephone-event payload type.
    let mut rtc = with_telephone_event(config, 126).build(now);
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
