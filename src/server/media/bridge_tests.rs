//! Two media legs bridged over loopback UDP, a test socket playing each leg's phone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::super::tests::{negotiated, next_rtp, start_with};
use super::super::{MediaCommand, MediaEvent, MediaHandle};
use super::bridge;
use crate::dtmf::DigitEvent;
use crate::dtmf::inband::ToneDetector;
use crate::dtmf::rfc4733::{Rfc4733Receiver, Rfc4733Sender};
use crate::rtp::packet::RtpPacket;
use crate::rtp::{Codec, Prompt};
use crate::sip::sdp::Negotiated;

/// One call leg: its media and the phone at the far end of its RTP.
struct Leg {
    phone: Arc<UdpSocket>,
    media: MediaHandle,
    events: crate::server::media::MediaEvents,
    codec: Codec,
    ptime_ms: u32,
}

/// A packet as the phone received it.
struct Heard {
    at: Instant,
    bytes: Vec<u8>,
}

impl Heard {
    fn rtp(&self) -> RtpPacket<'_> {
        RtpPacket::parse(&self.bytes).unwrap()
    }
}

async fn leg(codec: Codec, telephone_event_pt: Option<u8>, ptime_ms: u32) -> Leg {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (media, events) = start_with(Negotiated {
        codec,
        telephone_event_pt,
        ptime_ms,
        ..negotiated(phone.local_addr().unwrap())
    })
    .await;
    Leg {
        phone: Arc::new(phone),
        media,
        events,
        codec,
        ptime_ms,
    }
}

/// Two legs bridged: a PCMU caller and a PCMA agent, both with telephone-event.
async fn bridged(agent_ptime_ms: u32) -> (Leg, Leg) {
    let caller = leg(Codec::Pcmu, Some(101), 20).await;
    let agent = leg(Codec::Pcma, Some(101), agent_ptime_ms).await;
    assert!(bridge(&caller.media, &agent.media).await);
    (caller, agent)
}

impl Leg {
    /// The phone sends `samples` in its codec, one packet per packet time, in
    /// the background.
    fn talk(&self, samples: Vec<i16>) -> JoinHandle<()> {
        let (phone, to, codec) = (
            self.phone.clone(),
            self.media.local_rtp().unwrap(),
            self.codec,
        );
        let frame = self.ptime_ms as usize * 8;
        let ptime = Duration::from_millis(u64::from(self.ptime_ms));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ptime);
            for (i, chunk) in samples.chunks(frame).enumerate() {
                tick.tick().await;
                let payload: Vec<u8> = chunk.iter().map(|s| codec.encode(*s)).collect();
                let packet = rtp(
                    codec.payload_type(),
                    i == 0,
                    i,
                    (i * frame) as u32,
                    &payload,
                );
                // The leg may be gone already (a test ending it); that is not an error here.
                let _ = phone.send_to(&packet, to).await;
            }
        })
    }

    /// The phone presses a key as phones do: RFC 4733 packets on the 20 ms beat.
    async fn press(&self, digit: char) {
        let mut sender = Rfc4733Sender::new();
        assert!(sender.queue(digit));
        for i in 0..8 {
            if let Some(event) = sender.poll_packet(8000, 160) {
                let packet = rtp(101, event.marker, 1000 + i, event.timestamp, &event.payload);
                self.phone
                    .send_to(&packet, self.media.local_rtp().unwrap())
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every packet the phone receives for `duration`.
    async fn listen(&self, duration: Duration) -> Vec<Heard> {
        let deadline = tokio::time::Instant::now() + duration;
        let mut heard = Vec::new();
        while let Ok(bytes) = tokio::time::timeout_at(deadline, next_rtp(&self.phone)).await {
            heard.push(Heard {
                at: Instant::now(),
                bytes,
            });
        }
        heard
    }

    /// Forgets what the phone received and has not read yet.
    fn skip_queued(&self) {
        let mut buf = [0u8; 1500];
        while self.phone.try_recv_from(&mut buf).is_ok() {}
    }

    /// The phone's audio among `heard`, decoded (telephone-events left out).
    fn audio(&self, heard: &[Heard]) -> Vec<i16> {
        let mut audio = Vec::new();
        for packet in heard.iter().map(Heard::rtp) {
            if packet.payload_type == self.codec.payload_type() {
                audio.extend(packet.payload.iter().map(|c| self.codec.decode(*c)));
            }
        }
        audio
    }

    async fn next_event(&mut self) -> MediaEvent {
        timeout(Duration::from_secs(2), self.events.recv())
            .await
            .expect("no media event within 2 s")
            .expect("the media leg ended")
    }
}

fn rtp(payload_type: u8, marker: bool, sequence: usize, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    RtpPacket {
        marker,
        payload_type,
        sequence: sequence as u16,
        timestamp,
        ssrc: 0x5EED,
        csrc: &[],
        extension: None,
        payload,
    }
    .write(&mut out);
    out
}

/// A sweep from `from` to `to` Hz: no stretch of it looks like another, so
/// the best alignment is the true one.
fn chirp(samples: usize, from: f64, to: f64) -> Vec<i16> {
    let rate = (to - from) / (samples as f64 / 8000.0);
    (0..samples)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let phase = std::f64::consts::TAU * (from * t + rate * t * t / 2.0);
            (8000.0 * phase.sin()) as i16
        })
        .collect()
}

/// The highest normalised correlation of `segment` with a stretch of `heard`.
fn best_correlation(segment: &[i16], heard: &[i16]) -> f64 {
    let n = segment.len();
    let energy = |s: &[i16]| s.iter().map(|x| i64::from(*x).pow(2)).sum::<i64>();
    let segment_energy = energy(segment) as f64;
    // Plain indexed loops: this runs unoptimised, over some 30 million products.
    let mut window_energy = energy(&heard[..n]);
    let mut best = 0.0f64;
    for offset in 0..=heard.len() - n {
        if offset > 0 {
            window_energy +=
                i64::from(heard[offset + n - 1]).pow(2) - i64::from(heard[offset - 1]).pow(2);
        }
        let mut dot = 0i64;
        for j in 0..n {
            dot += i64::from(heard[offset + j]) * i64::from(segment[j]);
        }
        let norm = (segment_energy * window_energy as f64).sqrt().max(1.0);
        best = best.max(dot as f64 / norm);
    }
    best
}

/// Every digit a receiver or detector has to give.
fn digits(poll: impl FnMut() -> Option<DigitEvent>) -> String {
    std::iter::from_fn(poll).map(|d| d.digit).collect()
}

fn loud(packet: &RtpPacket, codec: Codec) -> bool {
    packet.payload.iter().any(|c| codec.decode(*c).abs() > 2000)
}

#[tokio::test]
async fn pcmu_caller_and_pcma_agent_with_other_packet_times_hear_each_other() {
    let (caller, agent) = bridged(30).await;
    let to_agent = chirp(8000, 200.0, 3400.0);
    let to_caller = chirp(8000, 3200.0, 300.0);
    caller.talk(to_agent.clone());
    agent.talk(to_caller.clone());
    let listening = Duration::from_millis(1400);
    let (agent_heard, caller_heard) =
        tokio::join!(agent.listen(listening), caller.listen(listening));

    // Each leg sends in its own codec and packet time, from its own stream.
    assert!(agent_heard.len() >= 40 && caller_heard.len() >= 60);
    for (heard, pt, len) in [(&agent_heard, 8, 240), (&caller_heard, 0, 160)] {
        let first = heard[0].rtp();
        for (i, packet) in heard.iter().map(Heard::rtp).enumerate() {
            assert_eq!((packet.payload_type, packet.payload.len()), (pt, len));
            assert_eq!(packet.ssrc, first.ssrc);
            assert_eq!(packet.sequence, first.sequence.wrapping_add(i as u16));
        }
    }
    assert_ne!(agent_heard[0].rtp().ssrc, caller_heard[0].rtp().ssrc);

    // The middle 400 ms of each sweep, in four 100 ms pieces, found intact on
    // the other side: a piece proves the transcoding and repacketising (a
    // wrong codec or packet time spoils every piece); two may be spoilt by
    // packets that a loaded machine delivered late (the test sends in real
    // time, and the suite runs beside other work).
    let middle = 2000..5200;
    let agent_pieces = pieces_found(&to_agent[middle.clone()], &agent.audio(&agent_heard));
    let caller_pieces = pieces_found(&to_caller[middle], &caller.audio(&caller_heard));
    assert!(
        agent_pieces >= 2,
        "caller to agent: {agent_pieces} of 4 pieces"
    );
    assert!(
        caller_pieces >= 2,
        "agent to caller: {caller_pieces} of 4 pieces"
    );
}

/// How many 100 ms pieces of `sent` are found in `heard` almost exactly.
fn pieces_found(sent: &[i16], heard: &[i16]) -> usize {
    sent.chunks_exact(800)
        .filter(|piece| best_correlation(piece, heard) >= 0.99)
        .count()
}

#[tokio::test]
async fn when_the_caller_falls_silent_the_agent_keeps_getting_silence_on_schedule() {
    let (caller, agent) = bridged(20).await;
    let talking = caller.talk(chirp(2400, 300.0, 2000.0));
    let heard = agent.listen(Duration::from_millis(450)).await;
    assert!(heard.iter().any(|h| loud(&h.rtp(), Codec::Pcma)));
    talking.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    agent.skip_queued();
    let heard = agent.listen(Duration::from_millis(400)).await;
    assert!(
        heard.len() >= 15,
        "paced on: {} packets in 400 ms",
        heard.len()
    );
    let silence = Codec::Pcma.silence();
    assert!(
        heard
            .iter()
            .all(|h| h.rtp().payload.iter().all(|c| *c == silence))
    );
}

#[tokio::test]
async fn unbridge_ends_the_bridge_for_both_legs_and_the_caller_is_no_longer_relayed() {
    let mut caller = leg(Codec::Pcmu, Some(101), 20).await;
    let mut agent = leg(Codec::Pcma, Some(101), 20).await;
    let hold_music = Arc::new(Prompt::from_samples("moh", None, &[3000; 800]));
    agent
        .media
        .send(MediaCommand::Play {
            id: 1,
            prompts: vec![hold_music],
            barge_in: false,
            looping: true,
        })
        .await;
    assert!(bridge(&caller.media, &agent.media).await);
    assert_eq!(
        agent.next_event().await,
        MediaEvent::PlaybackFinished {
            id: 1,
            interrupted: true
        },
        "the bridge takes over from the prompt"
    );
    let talking = caller.talk(vec![5000; 8000 * 2]);
    let heard = agent.listen(Duration::from_millis(300)).await;
    assert!(heard.iter().any(|h| loud(&h.rtp(), Codec::Pcma)));

    caller.media.send(MediaCommand::Unbridge).await;
    assert_eq!(caller.next_event().await, MediaEvent::BridgeEnded);
    assert_eq!(agent.next_event().await, MediaEvent::BridgeEnded);
    tokio::time::sleep(Duration::from_millis(40)).await;
    agent.skip_queued();
    let heard = agent.listen(Duration::from_millis(300)).await;
    assert!(!talking.is_finished(), "the caller still talks");
    assert!(heard.len() >= 10);
    assert!(heard.iter().all(|h| !loud(&h.rtp(), Codec::Pcma)));
    talking.abort();
}

#[tokio::test]
async fn when_the_agent_leg_ends_the_caller_leg_reports_it_and_sends_silence_again() {
    let (mut caller, mut agent) = bridged(20).await;
    let talking = agent.talk(vec![-5000; 8000 * 2]);
    let heard = caller.listen(Duration::from_millis(300)).await;
    assert!(heard.iter().any(|h| loud(&h.rtp(), Codec::Pcmu)));

    agent.media.send(MediaCommand::Shutdown).await;
    assert_eq!(agent.next_event().await, MediaEvent::BridgeEnded);
    assert!(matches!(agent.next_event().await, MediaEvent::Stats(_)));
    assert_eq!(caller.next_event().await, MediaEvent::BridgeEnded);
    tokio::time::sleep(Duration::from_millis(40)).await;
    caller.skip_queued();
    let heard = caller.listen(Duration::from_millis(300)).await;
    assert!(heard.len() >= 10, "the caller leg sends on");
    let silence = Codec::Pcmu.silence();
    assert!(
        heard
            .iter()
            .all(|h| h.rtp().payload.iter().all(|c| *c == silence))
    );
    talking.abort();
}

#[tokio::test]
async fn a_callers_key_relayed_to_the_agent_is_one_telephone_event_at_its_payload_type() {
    let mut caller = leg(Codec::Pcmu, Some(101), 20).await;
    let agent = leg(Codec::Pcma, Some(96), 20).await;
    assert!(bridge(&caller.media, &agent.media).await);
    caller.press('5').await;
    // What the shell does with a digit during a bridge: pass it on.
    let MediaEvent::Digit(digit) = caller.next_event().await else {
        panic!("no digit");
    };
    assert_eq!(digit.digit, '5');
    agent.media.send(MediaCommand::SendDigit(digit.digit)).await;
    let heard = agent.listen(Duration::from_millis(400)).await;

    let first = heard[0].rtp();
    for (i, packet) in heard.iter().map(Heard::rtp).enumerate() {
        assert_eq!(
            packet.sequence,
            first.sequence.wrapping_add(i as u16),
            "one sequence"
        );
    }
    let events: Vec<RtpPacket> = heard
        .iter()
        .map(Heard::rtp)
        .filter(|p| p.payload_type == 96)
        .collect();
    assert_eq!(events.len(), 7);
    assert!(events[0].marker && events[1..].iter().all(|p| !p.marker));
    assert!(events.iter().all(|p| p.timestamp == events[0].timestamp));
    let durations: Vec<u16> = events
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
        .collect();
    assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
    let ends: Vec<bool> = events.iter().map(|p| p.payload[1] & 0x80 != 0).collect();
    assert_eq!(ends, [false, false, false, false, true, true, true]);

    let mut receiver = Rfc4733Receiver::new();
    for h in &heard {
        let p = h.rtp();
        if p.payload_type == 96 {
            receiver.handle_packet(h.at, p.timestamp, p.sequence, p.marker, p.payload);
        }
    }
    assert_eq!(digits(|| receiver.poll_digit()), "5");
}

#[tokio::test]
async fn a_key_for_an_agent_without_telephone_event_is_sent_as_tones_heard_once() {
    let caller = leg(Codec::Pcmu, Some(101), 20).await;
    let agent = leg(Codec::Pcma, None, 20).await;
    assert!(bridge(&caller.media, &agent.media).await);
    agent.media.send(MediaCommand::SendDigit('8')).await;
    let heard = agent.listen(Duration::from_millis(400)).await;
    assert!(heard.iter().all(|h| h.rtp().payload_type == 8));
    let mut detector = ToneDetector::new();
    detector.handle_samples(Instant::now(), &agent.audio(&heard));
    assert_eq!(digits(|| detector.poll_digit()), "8");
}

#[tokio::test]
async fn a_burst_of_queued_audio_does_not_delay_what_follows_past_the_bound() {
    let (caller, agent) = bridged(20).await;
    let to = caller.media.local_rtp().unwrap();
    // Half a second of quiet audio at once, as after a stall on the way, then
    // a loud packet: without a bound it would be heard half a second late.
    let quiet = [Codec::Pcmu.encode(300); 160];
    for i in 0..25 {
        let packet = rtp(0, i == 0, i, (i * 160) as u32, &quiet);
        caller.phone.send_to(&packet, to).await.unwrap();
    }
    let sent = Instant::now();
    let packet = rtp(0, false, 25, 25 * 160, &[Codec::Pcmu.encode(12000); 160]);
    caller.phone.send_to(&packet, to).await.unwrap();
    let heard = agent.listen(Duration::from_millis(700)).await;
    let loud_at = heard
        .iter()
        .find(|h| loud(&h.rtp(), Codec::Pcma))
        .expect("the loud packet is heard")
        .at;
    // The bound (a frame plus 60 ms), a frame of each leg's schedule, and slack.
    let delay = loud_at - sent;
    assert!(delay < Duration::from_millis(200), "heard {delay:?} late");
}
