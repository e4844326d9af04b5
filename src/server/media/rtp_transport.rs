//! RTP/AVP on a leg's own non-blocking UDP sockets (RTP, and RTCP on the
//! next port): the transport of SIP legs.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;

use super::MediaCommand;
use super::leg::{LegAudio, Transport};
use crate::net::udp::{Datagrams, receive_batch};
use crate::rtp::{Channel, Received, RtpSession, SessionStats};
use crate::sip::sdp::{Direction, Negotiated};

/// RTCP arrives every few seconds: its socket is read every this many frames,
/// saving a fruitless system call on nearly every frame.
const RTCP_READ_EVERY: u32 = 25;
/// The most datagrams read per socket and frame, so a flood cannot starve sending.
const MAX_READS_PER_FRAME: usize = 32;

/// A leg's RTP session and its sockets.
pub(super) struct RtpTransport {
    session: RtpSession,
    rtp: std::net::UdpSocket,
    rtcp: Option<std::net::UdpSocket>,
    frames: u32,
}

impl RtpTransport {
    pub(super) fn new(
        session: RtpSession,
        rtp: std::net::UdpSocket,
        rtcp: Option<std::net::UdpSocket>,
    ) -> RtpTransport {
        RtpTransport {
            session,
            rtp,
            rtcp,
            frames: 0,
        }
    }

    fn read_rtp(&mut self, now: Instant, datagrams: &mut Datagrams, audio: &mut LegAudio) {
        let mut read = 0;
        while read < MAX_READS_PER_FRAME {
            let count = match receive_batch(&self.rtp, datagrams) {
                Ok(count) => count,
                // ICMP port unreachable shows up here while the caller is not
                // listening yet; nothing to do but carry on.
                Err(e) => {
                    debug!(error = %e, "RTP receive error");
                    break;
                }
            };
            for i in 0..count {
                let (from, datagram) = datagrams.get(i);
                self.receive_one(now, from, datagram, audio);
            }
            read += count;
            if count < datagrams.capacity() {
                break;
            }
        }
    }

    fn read_rtcp(&mut self, datagrams: &mut Datagrams) {
        let Some(rtcp) = &self.rtcp else { return };
        if let Ok(count) = receive_batch(rtcp, datagrams) {
            for i in 0..count {
                let (from, datagram) = datagrams.get(i);
                self.session.handle_rtcp(from, datagram);
            }
        }
    }

    fn receive_one(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        audio: &mut LegAudio,
    ) {
        match self.session.handle_rtp(now, from, datagram) {
            Received::Audio { payload, .. } => audio.audio_received(now, payload),
            Received::TelephoneEvent {
                timestamp,
                sequence,
                marker,
                payload,
            } => audio.telephone_event(now, timestamp, sequence, marker, payload),
            Received::Dropped(_) => {}
        }
    }
}

impl Transport for RtpTransport {
    fn due_at(&self) -> Instant {
        self.session.poll_timeout()
    }

    fn packets(&self) -> (u64, u64) {
        let stats = self.session.stats();
        (stats.sent_packets, stats.receiver.received)
    }

    fn receive(&mut self, now: Instant, datagrams: &mut Datagrams, audio: &mut LegAudio) {
        self.read_rtp(now, datagrams, audio);
        self.frames = self.frames.wrapping_add(1);
        if self.frames.is_multiple_of(RTCP_READ_EVERY) {
            self.read_rtcp(datagrams);
        }
    }

    fn heard(&self) -> (u64, bool) {
        let stats = self.session.stats();
        let packets = stats.receiver.received + stats.rtcp_received;
        let expected = self.session.negotiated().direction == Direction::SendRecv;
        (packets, expected)
    }

    fn transmit(&mut self, now: Instant, audio: &mut LegAudio) {
        self.session.handle_timeout(now);
        let mut source = audio.outgoing();
        while let Some(t) = self.session.poll_transmit(&mut source) {
            let socket = match t.channel {
                Channel::Rtp => &self.rtp,
                Channel::Rtcp => match &self.rtcp {
                    Some(s) => s,
                    None => continue,
                },
            };
            // One non-blocking send per packet; a full socket buffer drops the
            // packet rather than delaying the ones behind it.
            if let Err(e) = socket.send_to(t.contents, t.destination) {
                debug!(error = %e, destination = %t.destination, "RTP send failed");
            }
        }
    }

    fn command(&mut self, command: MediaCommand, audio: &mut LegAudio) {
        match command {
            MediaCommand::UpdateRemote(negotiated) => {
                audio.set_codec(negotiated.codec);
                audio.set_inband(inband_wanted(audio.options(), &negotiated));
                self.session.update_remote(negotiated);
            }
            MediaCommand::Hold => self.session.set_on_hold(true),
            MediaCommand::Resume => self.session.set_on_hold(false),
            MediaCommand::SendDigit(digit) => {
                let queued = if self.session.negotiated().telephone_event_pt.is_some() {
                    self.session.send_digit(digit)
                } else {
                    audio.digit_tones.queue(digit)
                };
                if !queued {
                    debug!(?digit, "digit not sent: no DTMF key, or too many waiting");
                }
            }
            _ => {}
        }
    }

    fn stats(&self) -> SessionStats {
        self.session.stats().clone()
    }
}

/// The in-band detector runs when the caller did not negotiate telephone-event,
/// or on every call when configured so.
pub(super) fn inband_wanted(options: super::MediaOptions, negotiated: &Negotiated) -> bool {
    options.inband_dtmf_always || negotiated.telephone_event_pt.is_none()
}
