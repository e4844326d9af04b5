//! One RTP session (a call leg's audio): paced sending, symmetric receiving, RTCP,
//! and digits sent as telephone-events in the audio's sequence space.
//!
//! A sans-IO core: the shell feeds datagrams and the time, and sends what
//! `poll_transmit` gives to the address it names.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;

use super::Codec;
use super::Negotiated;
use super::packet::{HEADER_LEN, RtpPacket, write_header};
use super::rtcp::{ReceiverStats, SenderInfo, write_sender_report};
use crate::dtmf::rfc4733::{EventPacket, Rfc4733Sender};

/// Where the audio of each outgoing packet comes from (the prompt player, the
/// other leg of a bridge).
pub trait FrameSource {
    /// Fills `out` with the next encoded frame, or returns false to send silence.
    fn fill_frame(&mut self, codec: Codec, out: &mut [u8]) -> bool;
}

/// A source that never plays anything.
pub struct Silence;

impl FrameSource for Silence {
    fn fill_frame(&mut self, _codec: Codec, _out: &mut [u8]) -> bool {
        false
    }
}

/// A datagram to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: &'a [u8],
    /// Which of the two sockets to send it from.
    pub channel: Channel,
}

/// The RTP or the RTCP socket of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Rtp,
    Rtcp,
}

/// What an incoming datagram turned out to be.
///
/// Returned directly from `handle_rtp`, borrowing the datagram, so the hot
/// path copies nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// Caller audio in the negotiated codec.
    Audio { payload: &'a [u8], timestamp: u32 },
    /// An RFC 4733 telephone-event packet.
    TelephoneEvent {
        timestamp: u32,
        sequence: u16,
        marker: bool,
        payload: &'a [u8],
    },
    /// Not trusted; counted in the statistics.
    Dropped(DropReason),
}

/// Why an incoming datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// From an address other than the one we latched to.
    WrongSource,
    /// A payload type that was not negotiated.
    WrongPayloadType,
    /// Not a valid RTP packet.
    Malformed,
}

/// Counters of dropped datagrams, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    pub wrong_source: u64,
    pub wrong_payload_type: u64,
    pub malformed: u64,
}

/// Everything counted over the life of a session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStats {
    /// RTP packets sent.
    pub sent_packets: u64,
    /// RTP payload octets sent.
    pub sent_octets: u64,
    /// Frames not sent because the shell woke up too late to send them in time.
    pub skipped_frames: u64,
    /// RTCP packets sent and received.
    pub rtcp_sent: u64,
    pub rtcp_received: u64,
    /// What we received, per RFC 3550 A.1-A.8.
    pub receiver: ReceiverStats,
    /// What we dropped.
    pub dropped: DropCounts,
}

/// How many frames a late wake-up may send at once; older ones are skipped,
/// because a burst longer than a jitter buffer is heard as a glitch anyway.
const MAX_BURST: u64 = 5;
/// RFC 3550 asks for reports; the issue asks for at least one every 5 s.
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// The largest payload: 60 ms of G.711.
const MAX_PAYLOAD: usize = 480;

/// The RTP session of one call leg.
pub struct RtpSession {
    negotiated: Negotiated,
    on_hold: bool,
    ssrc: u32,
    first_sequence: u16,
    first_timestamp: u32,
    start: Instant,
    wallclock_at_start: SystemTime,
    frame: Duration,
    samples_per_frame: u32,
    /// Index of the next frame to transmit (frame n is due at start + n·ptime).
    next_index: u64,
    /// Frames whose time has come: indices next_index..due_until.
    due_until: u64,
    previous_was_audio: bool,
    /// The next packet sent starts the stream anew (first packet, or after hold).
    restart: bool,
    latched: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    next_rtcp: Instant,
    rtcp_due: bool,
    stats: SessionStats,
    /// Digits going out as telephone-events, in place of audio frames.
    digits: Rfc4733Sender,
    packet: [u8; HEADER_LEN + MAX_PAYLOAD],
    rtcp: [u8; 128],
}

impl RtpSession {
    /// A session starting at `now`: its first packet is due at once.
    ///
    /// SSRC and the initial sequence number and timestamp come from `rng`
    /// (RFC 3550 §5.1); `wallclock` is the wall-clock time at `now`, for RTCP.
    pub fn new(
        now: Instant,
        negotiated: Negotiated,
        rng: &mut impl Rng,
        wallclock: SystemTime,
    ) -> Self {
        let ptime = negotiated.ptime_ms.clamp(10, 60);
        RtpSession {
            negotiated,
            on_hold: false,
            ssrc: rng.random(),
            first_sequence: rng.random(),
            first_timestamp: rng.random(),
            start: now,
            wallclock_at_start: wallclock,
            frame: Duration::from_millis(u64::from(ptime)),
            samples_per_frame: ptime * 8,
            next_index: 0,
            due_until: 0,
            previous_was_audio: false,
            restart: true,
            latched: None,
            latched_rtcp: None,
            next_rtcp: now + RTCP_INTERVAL,
            rtcp_due: false,
            stats: SessionStats::default(),
            digits: Rfc4733Sender::new(),
            packet: [0; HEADER_LEN + MAX_PAYLOAD],
            rtcp: [0; 128],
        }
    }

    /// Applies a new offer/answer outcome (re-INVITE): address, codec, direction.
    pub fn update_remote(&mut self, negotiated: Negotiated) {
        if negotiated.remote_rtp != self.negotiated.remote_rtp {
            // The peer moved: learn its source again.
            self.latched = None;
            self.latched_rtcp = None;
        }
        // The packet time stays: changing it mid-stream would break the schedule.
        self.negotiated = Negotiated {
            ptime_ms: self.negotiated.ptime_ms,
            ..negotiated
        };
    }

    /// Sends a digit as an RFC 4733 telephone-event in the coming frames;
    /// false when the peer did not negotiate telephone-event or it is no key.
    pub fn send_digit(&mut self, digit: char) -> bool {
        self.negotiated.telephone_event_pt.is_some() && self.digits.queue(digit)
    }

    /// Puts our sending on hold (or resumes it), whatever SDP says.
    pub fn set_on_hold(&mut self, on_hold: bool) {
        self.on_hold = on_hold;
    }

    /// The codec and remote description in use.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Advances the clock: frames and reports whose time has come become due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.start {
            let elapsed = now.duration_since(self.start).as_nanos();
            let due_until = (elapsed / self.frame.as_nanos()) as u64 + 1;
            if due_until > self.due_until {
                self.due_until = due_until;
            }
        }
        if self.due_until - self.next_index > MAX_BURST {
            let skip = self.due_until - self.next_index - MAX_BURST;
            self.stats.skipped_frames += skip;
            self.next_index += skip;
        }
        if now >= self.next_rtcp {
            self.rtcp_due = true;
            self.next_rtcp = now + RTCP_INTERVAL;
        }
    }

    /// The next datagram to send, taking audio for RTP from `source`.
    pub fn poll_transmit(&mut self, source: &mut impl FrameSource) -> Option<Transmit<'_>> {
        if self.rtcp_due {
            self.rtcp_due = false;
            return self.sender_report();
        }
        while self.next_index < self.due_until {
            let index = self.next_index;
            self.next_index += 1;
            let len = self.samples_per_frame as usize;
            let codec = self.negotiated.codec;
            let frame_timestamp = self.timestamp_of(index);
            let event = self.telephone_event(frame_timestamp);
            let payload = &mut self.packet[HEADER_LEN..HEADER_LEN + len];
            // The source runs even when we do not send, so prompts keep real time.
            let audio = source.fill_frame(codec, payload);
            if !audio {
                payload.fill(codec.silence());
            }
            let mut marker = (audio && !self.previous_was_audio) || self.restart;
            // Audio after an event starts a talk-spurt again.
            self.previous_was_audio = audio && event.is_none();
            if self.on_hold || !self.negotiated.direction.sends() {
                self.restart = true;
                continue;
            }
            let (payload_type, timestamp, len) = match event {
                Some((pt, e)) => {
                    payload[..e.payload.len()].copy_from_slice(&e.payload);
                    marker = e.marker;
                    (pt, e.timestamp, e.payload.len())
                }
                None => {
                    self.restart = false;
                    (codec.payload_type(), frame_timestamp, len)
                }
            };
            let sequence = self
                .first_sequence
                .wrapping_add(self.stats.sent_packets as u16);
            let header: &mut [u8; HEADER_LEN] = (&mut self.packet[..HEADER_LEN]).try_into().ok()?;
            write_header(header, marker, payload_type, sequence, timestamp, self.ssrc);
            self.stats.sent_packets += 1;
            self.stats.sent_octets += len as u64;
            return Some(Transmit {
                destination: self.rtp_destination(),
                contents: &self.packet[..HEADER_LEN + len],
                channel: Channel::Rtp,
            });
        }
        None
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Instant {
        let next_frame = self.start + self.frame * self.due_until as u32;
        next_frame.min(self.next_rtcp)
    }

    /// Takes one datagram that arrived on the RTP socket.
    pub fn handle_rtp<'a>(
        &mut self,
        now: Instant,
        source: SocketAddr,
        datagram: &'a [u8],
    ) -> Received<'a> {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.stats.dropped.malformed += 1;
            return Received::Dropped(DropReason::Malformed);
        };
        if self.latched.is_some_and(|latched| latched != source) {
            self.stats.dropped.wrong_source += 1;
            return Received::Dropped(DropReason::WrongSource);
        }
        let pt = packet.payload_type;
        let received = if pt == self.negotiated.codec.payload_type() {
            Received::Audio {
                payload: packet.payload,
                timestamp: packet.timestamp,
            }
        } else if Some(pt) == self.negotiated.telephone_event_pt {
            Received::TelephoneEvent {
                timestamp: packet.timestamp,
                sequence: packet.sequence,
                marker: packet.marker,
                payload: packet.payload,
            }
        } else {
            self.stats.dropped.wrong_payload_type += 1;
            return Received::Dropped(DropReason::WrongPayloadType);
        };
        // Symmetric RTP (RFC 4961): the first valid packet tells where the caller
        // really is (behind NAT); from then on we send there and trust nothing else.
        if self.latched.is_none() {
            self.latched = Some(source);
        }
        let arrival = self.timestamp_units_since_start(now);
        self.stats
            .receiver
            .record(packet.ssrc, packet.sequence, packet.timestamp, arrival);
        received
    }

    /// Takes one datagram that arrived on the RTCP socket (counted, source learnt).
    pub fn handle_rtcp(&mut self, source: SocketAddr, datagram: &[u8]) {
        let valid = datagram.len() >= 8 && datagram[0] >> 6 == 2;
        let expected_host = self.latched.map(|l| l.ip()) == Some(source.ip());
        if valid && (expected_host || self.latched_rtcp.is_none()) {
            self.stats.rtcp_received += 1;
            self.latched_rtcp = Some(source);
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Where RTP goes: the latched source, else what SDP said.
    pub fn rtp_destination(&self) -> SocketAddr {
        self.latched.unwrap_or(self.negotiated.remote_rtp)
    }

    fn sender_report(&mut self) -> Option<Transmit<'_>> {
        if self.on_hold || !self.negotiated.direction.sends() {
            return None;
        }
        let destination = self.latched_rtcp.unwrap_or_else(|| {
            let rtp = self.rtp_destination();
            SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
        });
        let elapsed = self.next_rtcp - RTCP_INTERVAL - self.start;
        let info = SenderInfo {
            ssrc: self.ssrc,
            wallclock: self.wallclock_at_start + elapsed,
            rtp_timestamp: self
                .first_timestamp
                .wrapping_add((elapsed.as_micros() * 8 / 1000) as u32),
            packets: self.stats.sent_packets as u32,
            octets: self.stats.sent_octets as u32,
        };
        let receiver = Some(&mut self.stats.receiver);
        let len = write_sender_report(&mut self.rtcp, &info, receiver, "hotline");
        self.stats.rtcp_sent += 1;
        Some(Transmit {
            destination,
            contents: &self.rtcp[..len],
            channel: Channel::Rtcp,
        })
    }

    /// The telephone-event that takes the place of the frame at `timestamp`, with
    /// its payload type (RFC 4733 §2.5.1). Asked at every frame, sent or not, so
    /// that an event keeps real time as the audio source does.
    fn telephone_event(&mut self, timestamp: u32) -> Option<(u8, EventPacket)> {
        let Some(pt) = self.negotiated.telephone_event_pt else {
            // A re-INVITE took telephone-event away: the digits can no longer go.
            self.digits.clear();
            return None;
        };
        let event = self.digits.poll_packet(timestamp, self.samples_per_frame)?;
        Some((pt, event))
    }

    fn timestamp_of(&self, index: u64) -> u32 {
        let offset = index.wrapping_mul(u64::from(self.samples_per_frame)) as u32;
        self.first_timestamp.wrapping_add(offset)
    }

    fn timestamp_units_since_start(&self, now: Instant) -> u32 {
        let micros = now.saturating_duration_since(self.start).as_micros();
        (micros * 8 / 1000) as u32
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
