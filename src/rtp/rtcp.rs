//! RTCP (RFC 3550 §6): receiver statistics and the sender reports we send.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Statistics about the RTP we receive (RFC 3550 Appendix A.1, A.3, A.8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiverStats {
    /// The SSRC of the stream being counted.
    pub ssrc: u32,
    /// Packets received (duplicates included, as RFC 3550 counts them).
    pub received: u64,
    initialized: bool,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    last_transit: Option<i64>,
    /// Interarrival jitter in timestamp units, times 16 (A.8 keeps it scaled).
    jitter_q4: i64,
    expected_prior: u64,
    received_prior: u64,
}

impl ReceiverStats {
    /// Counts one packet; `arrival` is the arrival time in timestamp units.
    pub fn record(&mut self, ssrc: u32, sequence: u16, timestamp: u32, arrival: u32) {
        if !self.initialized || ssrc != self.ssrc {
            // A new source restarts the statistics (A.1 `init_seq`).
            *self = ReceiverStats {
                ssrc,
                initialized: true,
                base_seq: u32::from(sequence),
                max_seq: sequence,
                ..ReceiverStats::default()
            };
        }
        self.received += 1;
        let delta = sequence.wrapping_sub(self.max_seq);
        if delta != 0 && delta < 0x8000 {
            if sequence < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = sequence;
        }
        let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected from the sequence numbers seen.
    pub fn expected(&self) -> u64 {
        if !self.initialized {
            return 0;
        }
        let extended_max = u64::from(self.cycles) + u64::from(self.max_seq);
        (extended_max + 1).saturating_sub(u64::from(self.base_seq))
    }

    /// Packets lost (expected minus received; negative when duplicated, shown as 0).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// The interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4) as u32
    }

    /// A report block for an RTCP packet, updating the "since last report" counters.
    fn report_block(&mut self) -> [u8; 24] {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let lost_total = self.lost().min(0x7F_FFFF) as u32;
        let mut b = [0u8; 24];
        b[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        b[4] = fraction;
        b[5..8].copy_from_slice(&lost_total.to_be_bytes()[1..]);
        let extended_max = self.cycles.wrapping_add(u32::from(self.max_seq));
        b[8..12].copy_from_slice(&extended_max.to_be_bytes());
        b[12..16].copy_from_slice(&self.jitter().to_be_bytes());
        // LSR and DLSR stay 0: we do not track the peer's sender reports.
        b
    }
}

/// What a sender report says about our own stream.
#[derive(Debug, Clone, Copy)]
pub struct SenderInfo {
    /// Our SSRC.
    pub ssrc: u32,
    /// The wall-clock time the report refers to.
    pub wallclock: SystemTime,
    /// Our RTP timestamp at that time.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packets: u32,
    /// Payload octets sent so far.
    pub octets: u32,
}

/// Writes a compound RTCP packet (SR, with a report block when we receive, plus
/// SDES CNAME, as RFC 3550 §6.1 requires) into `out`; returns its length.
pub fn write_sender_report(
    out: &mut [u8; 128],
    sender: &SenderInfo,
    receiver: Option<&mut ReceiverStats>,
    cname: &str,
) -> usize {
    let report = receiver.filter(|r| r.initialized).map(|r| r.report_block());
    let sr_len = 28 + if report.is_some() { 24 } else { 0 };
    out[0] = 0x80 | u8::from(report.is_some());
    out[1] = 200;
    out[2..4].copy_from_slice(&((sr_len / 4 - 1) as u16).to_be_bytes());
    out[4..8].copy_from_slice(&sender.ssrc.to_be_bytes());
    let since_1900 = sender
        .wallclock
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        + Duration::from_secs(2_208_988_800);
    let fraction = (u64::from(since_1900.subsec_nanos()) << 32) / 1_000_000_000;
    out[8..12].copy_from_slice(&(since_1900.as_secs() as u32).to_be_bytes());
    out[12..16].copy_from_slice(&(fraction as u32).to_be_bytes());
    out[16..20].copy_from_slice(&sender.rtp_timestamp.to_be_bytes());
    out[20..24].copy_from_slice(&sender.packets.to_be_bytes());
    out[24..28].copy_from_slice(&sender.octets.to_be_bytes());
    if let Some(block) = report {
        out[28..52].copy_from_slice(&block);
    }
    // SDES: one chunk with CNAME, null-terminated and padded to a 32-bit boundary.
    let cname = &cname.as_bytes()[..cname.len().min(60)];
    let chunk_len = (4 + 2 + cname.len() + 1).div_ceil(4) * 4;
    let sdes = &mut out[sr_len..sr_len + 4 + chunk_len];
    sdes.fill(0);
    sdes[0] = 0x81;
    sdes[1] = 202;
    sdes[2..4].copy_from_slice(&((chunk_len / 4) as u16).to_be_bytes());
    sdes[4..8].copy_from_slice(&sender.ssrc.to_be_bytes());
    sdes[8] = 1; // CNAME
    sdes[9] = cname.len() as u8;
    sdes[10..10 + cname.len()].copy_from_slice(cname);
    sr_len + 4 + chunk_len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_counted_across_sequence_wrap() {
        let mut stats = ReceiverStats::default();
        for (i, seq) in (65530u16..=65535).chain(0..10).enumerate() {
            if seq == 65533 || seq == 2 {
                continue; // two packets lost
            }
            stats.record(7, seq, i as u32 * 160, i as u32 * 160);
        }
        assert_eq!(stats.expected(), 16);
        assert_eq!(stats.received, 14);
        assert_eq!(stats.lost(), 2);
    }

    #[test]
    fn a_stream_starting_at_sequence_zero_is_not_taken_for_a_wrap() {
        let mut stats = ReceiverStats::default();
        for seq in 0..5u16 {
            stats.record(3, seq, u32::from(seq) * 160, 0);
        }
        assert_eq!((stats.expected(), stats.lost()), (5, 0));
    }

    #[test]
    fn steady_arrivals_have_no_jitter_and_uneven_ones_do() {
        let mut steady = ReceiverStats::default();
        let mut uneven = ReceiverStats::default();
        for i in 0..100u32 {
            steady.record(1, i as u16, i * 160, 1000 + i * 160);
            let wobble = if i % 2 == 0 { 40 } else { 0 }; // 5 ms back and forth
            uneven.record(1, i as u16, i * 160, 1000 + i * 160 + wobble);
        }
        assert_eq!(steady.jitter(), 0);
        // A.8 converges to the mean |D| of 40 units.
        assert!((35..=40).contains(&uneven.jitter()), "{}", uneven.jitter());
    }

    #[test]
    fn sender_report_is_a_valid_compound_with_cname() {
        let mut out = [0u8; 128];
        let mut stats = ReceiverStats::default();
        stats.record(9, 100, 0, 0);
        let info = SenderInfo {
            ssrc: 0xABCD,
            wallclock: UNIX_EPOCH + Duration::from_secs(1),
            rtp_timestamp: 160,
            packets: 50,
            octets: 8000,
        };
        let len = write_sender_report(&mut out, &info, Some(&mut stats), "hotline");
        assert_eq!(out[1], 200);
        assert_eq!(out[0] & 0x1F, 1);
        let sr_words = u16::from_be_bytes([out[2], out[3]]) as usize + 1;
        assert_eq!(sr_words * 4, 52);
        assert_eq!(
            u32::from_be_bytes(out[8..12].try_into().unwrap()),
            2_208_988_801
        );
        assert_eq!(u32::from_be_bytes(out[28..32].try_into().unwrap()), 9);
        assert_eq!(out[52 + 1], 202);
        assert_eq!(&out[52 + 10..52 + 17], b"hotline");
        assert_eq!(len % 4, 0);
        let sdes_words = u16::from_be_bytes([out[54], out[55]]) as usize + 1;
        assert_eq!(52 + sdes_words * 4, len);
    }
}
