use super::*;
use crate::rtp::Direction;
use rand::SeedableRng;
use rand::rngs::StdRng;

const PTIME: Duration = Duration::from_millis(20);

fn negotiated() -> Negotiated {
    Negotiated {
        remote_rtp: "192.0.2.1:4000".parse().unwrap(),
        codec: Codec::Pcmu,
        telephone_event_pt: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

fn session(start: Instant) -> RtpSession {
    RtpSession::new(
        start,
        negotiated(),
        &mut StdRng::seed_from_u64(1),
        SystemTime::UNIX_EPOCH,
    )
}

/// Plays a constant non-silent code while `on` says so.
struct Tone {
    on: bool,
}

impl FrameSource for Tone {
    fn fill_frame(&mut self, _codec: Codec, out: &mut [u8]) -> bool {
        out.fill(0x42);
        self.on
    }
}

struct Sent {
    destination: SocketAddr,
    bytes: Vec<u8>,
    channel: Channel,
}

fn drain(s: &mut RtpSession, source: &mut impl FrameSource) -> Vec<Sent> {
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit(source) {
        out.push(Sent {
            destination: t.destination,
            bytes: t.contents.to_vec(),
            channel: t.channel,
        });
    }
    out
}

fn rtp(bytes: &[u8]) -> RtpPacket<'_> {
    RtpPacket::parse(bytes).unwrap()
}

fn caller_packet(pt: u8, seq: u16, ts: u32) -> Vec<u8> {
    let mut out = Vec::new();
    RtpPacket {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc: 99,
        csrc: &[],
        extension: None,
        payload: &[0xFF; 160],
    }
    .write(&mut out);
    out
}

#[test]
fn first_packet_leaves_at_once_then_one_every_20_ms_for_an_hour_without_drift() {
    let start = Instant::now();
    let mut s = session(start);
    let mut now = start;
    let mut first: Option<(u16, u32)> = None;
    let mut count = 0u64;
    let hour_of_frames = 3600 * 50;
    while count < hour_of_frames {
        s.handle_timeout(now);
        for sent in drain(&mut s, &mut Silence)
            .iter()
            .filter(|p| p.channel == Channel::Rtp)
        {
            let p = rtp(&sent.bytes);
            let (seq0, ts0) = *first.get_or_insert((p.sequence, p.timestamp));
            assert_eq!(p.sequence, seq0.wrapping_add(count as u16));
            assert_eq!(p.timestamp, ts0.wrapping_add((count * 160) as u32));
            assert_eq!(p.payload, &[0xFF; 160]);
            assert_eq!(
                now,
                start + PTIME * count as u32,
                "packet {count} off schedule"
            );
            count += 1;
        }
        now = s.poll_timeout();
    }
    assert_eq!(s.stats().skipped_frames, 0);
}

#[test]
fn late_wake_up_sends_what_is_due_and_keeps_the_schedule() {
    let start = Instant::now();
    let mut s = session(start);
    s.handle_timeout(start);
    assert_eq!(drain(&mut s, &mut Silence).len(), 1);
    // Woken 47 ms late for the frame due at 20 ms: frames at 20, 40 and 60 ms are due.
    s.handle_timeout(start + Duration::from_millis(67));
    let burst = drain(&mut s, &mut Silence);
    assert_eq!(burst.len(), 3);
    let ts: Vec<u32> = burst.iter().map(|p| rtp(&p.bytes).timestamp).collect();
    assert_eq!(ts[1].wrapping_sub(ts[0]), 160);
    assert_eq!(ts[2].wrapping_sub(ts[1]), 160);
    // The next one is still due at 80 ms, not 67 + 20.
    assert_eq!(s.poll_timeout(), start + Duration::from_millis(80));
}

#[test]
fn a_long_stall_skips_old_frames_and_timestamps_show_the_gap() {
    let start = Instant::now();
    let mut s = session(start);
    s.handle_timeout(start);
    let first = rtp(&drain(&mut s, &mut Silence)[0].bytes).timestamp;
    s.handle_timeout(start + Duration::from_millis(1000));
    let burst = drain(&mut s, &mut Silence);
    assert_eq!(burst.len() as u64, MAX_BURST);
    assert_eq!(s.stats().skipped_frames, 50 - MAX_BURST);
    let last = rtp(&burst.last().unwrap().bytes);
    assert_eq!(last.timestamp.wrapping_sub(first), 50 * 160);
    assert_eq!(
        last.sequence,
        rtp(&burst[0].bytes)
            .sequence
            .wrapping_add(MAX_BURST as u16 - 1)
    );
}

#[test]
fn marker_bit_is_set_on_the_first_packet_and_each_talk_spurt() {
    let start = Instant::now();
    let mut s = session(start);
    let mut tone = Tone { on: false };
    let mut markers = Vec::new();
    for (i, on) in [false, true, true, false, true].into_iter().enumerate() {
        tone.on = on;
        s.handle_timeout(start + PTIME * i as u32);
        let sent = drain(&mut s, &mut tone);
        let p = rtp(&sent[0].bytes);
        assert_eq!(p.payload[0], if on { 0x42 } else { 0xFF });
        markers.push(p.marker);
    }
    assert_eq!(markers, [true, true, false, false, true]);
}

#[test]
fn ssrc_and_initial_numbers_come_from_the_injected_rng() {
    let start = Instant::now();
    let first = |seed| {
        let mut s = RtpSession::new(
            start,
            negotiated(),
            &mut StdRng::seed_from_u64(seed),
            SystemTime::now(),
        );
        s.handle_timeout(start);
        let p = drain(&mut s, &mut Silence).remove(0).bytes;
        let p = rtp(&p);
        (p.ssrc, p.sequence, p.timestamp)
    };
    assert_eq!(first(5), first(5));
    assert_ne!(first(5), first(6));
}

#[test]
fn symmetric_rtp_latches_to_the_callers_real_address_and_drops_others() {
    let start = Instant::now();
    let mut s = session(start);
    s.handle_timeout(start);
    assert_eq!(
        drain(&mut s, &mut Silence)[0].destination,
        negotiated().remote_rtp
    );

    let nat: SocketAddr = "198.51.100.9:31000".parse().unwrap();
    let stranger: SocketAddr = "198.51.100.66:31000".parse().unwrap();
    let audio = caller_packet(0, 1, 160);
    assert!(matches!(
        s.handle_rtp(start, nat, &audio),
        Received::Audio { .. }
    ));
    assert_eq!(
        s.handle_rtp(start, stranger, &caller_packet(0, 2, 320)),
        Received::Dropped(DropReason::WrongSource)
    );
    s.handle_timeout(start + PTIME);
    assert_eq!(drain(&mut s, &mut Silence)[0].destination, nat);
    assert_eq!(s.stats().dropped.wrong_source, 1);
    assert_eq!(s.stats().receiver.received, 1);
}

#[test]
fn wrong_payload_types_and_garbage_are_dropped_counted_and_do_not_latch() {
    let start = Instant::now();
    let mut s = session(start);
    let from: SocketAddr = "198.51.100.9:31000".parse().unwrap();
    assert_eq!(
        s.handle_rtp(start, from, &caller_packet(18, 1, 0)),
        Received::Dropped(DropReason::WrongPayloadType)
    );
    assert_eq!(
        s.handle_rtp(start, from, &[0x80, 0]),
        Received::Dropped(DropReason::Malformed)
    );
    assert_eq!(
        s.handle_rtp(start, from, b"hello world!!"),
        Received::Dropped(DropReason::Malformed)
    );
    assert_eq!(s.rtp_destination(), negotiated().remote_rtp);
    let event = caller_packet(101, 2, 0);
    assert!(matches!(
        s.handle_rtp(start, from, &event),
        Received::TelephoneEvent { sequence: 2, .. }
    ));
    let d = s.stats().dropped;
    assert_eq!((d.wrong_payload_type, d.malformed), (1, 2));
}

#[test]
fn sender_report_goes_to_the_rtcp_port_at_least_every_5_seconds() {
    let start = Instant::now();
    let mut s = session(start);
    let mut now = start;
    let mut reports = Vec::new();
    while now < start + Duration::from_secs(21) {
        s.handle_timeout(now);
        for sent in drain(&mut s, &mut Silence) {
            if sent.channel == Channel::Rtcp {
                assert_eq!(sent.destination, "192.0.2.1:4001".parse().unwrap());
                assert_eq!(sent.bytes[1], 200);
                reports.push(now);
            }
        }
        now = s.poll_timeout();
    }
    assert_eq!(reports.len(), 4);
    assert!(
        reports
            .windows(2)
            .all(|w| w[1] - w[0] <= Duration::from_secs(5))
    );
}

#[test]
fn nothing_is_sent_on_hold_and_the_schedule_continues_on_resume() {
    let start = Instant::now();
    let mut s = session(start);
    s.update_remote(Negotiated {
        direction: Direction::RecvOnly,
        ..negotiated()
    });
    s.handle_timeout(start + PTIME * 10);
    assert!(drain(&mut s, &mut Silence).is_empty());
    s.update_remote(negotiated());
    s.set_on_hold(true);
    s.handle_timeout(start + PTIME * 11);
    assert!(drain(&mut s, &mut Silence).is_empty());
    s.set_on_hold(false);
    s.handle_timeout(start + PTIME * 12);
    let sent = drain(&mut s, &mut Silence);
    assert_eq!(sent.len(), 1);
    assert!(
        rtp(&sent[0].bytes).marker,
        "first packet after hold starts a talk-spurt"
    );
}

#[test]
fn a_digit_takes_the_place_of_audio_frames_in_the_same_sequence_and_is_received_once() {
    let start = Instant::now();
    let mut s = session(start);
    let mut tone = Tone { on: true };
    s.handle_timeout(start);
    let first = drain(&mut s, &mut tone);
    let first = rtp(&first[0].bytes);
    assert!(s.send_digit('7'));
    let mut sent = Vec::new();
    for i in 1..=9 {
        s.handle_timeout(start + PTIME * i);
        sent.extend(drain(&mut s, &mut tone));
    }
    let packets: Vec<RtpPacket> = sent.iter().map(|p| rtp(&p.bytes)).collect();
    let types: Vec<u8> = packets.iter().map(|p| p.payload_type).collect();
    assert_eq!(types, [101, 101, 101, 101, 101, 101, 101, 0, 0]);
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.sequence, first.sequence.wrapping_add(i as u16 + 1));
        assert_eq!(p.ssrc, first.ssrc);
    }
    let event_timestamp = first.timestamp.wrapping_add(160);
    assert!(packets[..7].iter().all(|p| p.timestamp == event_timestamp));
    assert_eq!(packets[7].timestamp, first.timestamp.wrapping_add(8 * 160));
    let markers: Vec<bool> = packets.iter().map(|p| p.marker).collect();
    assert_eq!(
        markers,
        [true, false, false, false, false, false, false, true, false],
        "the event starts with a marker, and so does the audio after it"
    );
    let mut receiver = crate::dtmf::rfc4733::Rfc4733Receiver::new();
    for (i, p) in packets[..7].iter().enumerate() {
        assert_eq!(p.payload.len(), 4);
        let at = start + PTIME * (i as u32 + 1);
        receiver.handle_packet(at, p.timestamp, p.sequence, p.marker, p.payload);
    }
    assert_eq!(receiver.poll_digit().map(|d| d.digit), Some('7'));
    assert_eq!(receiver.poll_digit(), None);
    assert_eq!(s.stats().sent_octets, 160 + 7 * 4 + 2 * 160);
}

#[test]
fn a_digit_is_refused_when_telephone_event_was_not_negotiated() {
    let start = Instant::now();
    let mut s = session(start);
    s.update_remote(Negotiated {
        telephone_event_pt: None,
        ..negotiated()
    });
    assert!(!s.send_digit('1'));
    s.update_remote(negotiated());
    assert!(!s.send_digit('x'));
    assert!(s.send_digit('1'));
}
