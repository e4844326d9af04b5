//! RTP packets (RFC 3550 §5.1): header parsing and writing.

/// The fixed RTP header size in bytes.
pub const HEADER_LEN: usize = 12;

/// A parsed RTP packet borrowing the datagram it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The marker bit (start of a talk-spurt, or of a telephone-event).
    pub marker: bool,
    /// The payload type (7 bits).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// The contributing sources, 4 bytes each, still in network order.
    pub csrc: &'a [u8],
    /// The header extension (profile-defined id, data), if present.
    pub extension: Option<(u16, &'a [u8])>,
    /// The payload, with any padding removed.
    pub payload: &'a [u8],
}

/// Why a datagram is not a usable RTP packet; always the sender's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than the header it announces.
    #[error("RTP packet truncated")]
    Truncated,
    /// The version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// The padding count is zero or longer than the payload.
    #[error("RTP padding is invalid")]
    BadPadding,
}

impl<'a> RtpPacket<'a> {
    /// Parses a datagram; any malformed input gives an error, never a panic.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        let header = buf.get(..HEADER_LEN).ok_or(PacketError::Truncated)?;
        let first = header[0];
        if first >> 6 != 2 {
            return Err(PacketError::BadVersion);
        }
        let has_padding = first & 0x20 != 0;
        let has_extension = first & 0x10 != 0;
        let csrc_len = usize::from(first & 0x0F) * 4;
        let mut offset = HEADER_LEN;
        let csrc = buf
            .get(offset..offset + csrc_len)
            .ok_or(PacketError::Truncated)?;
        offset += csrc_len;
        let extension = if has_extension {
            let ext = buf.get(offset..offset + 4).ok_or(PacketError::Truncated)?;
            let profile = u16::from_be_bytes([ext[0], ext[1]]);
            let len = usize::from(u16::from_be_bytes([ext[2], ext[3]])) * 4;
            offset += 4;
            let data = buf
                .get(offset..offset + len)
                .ok_or(PacketError::Truncated)?;
            offset += len;
            Some((profile, data))
        } else {
            None
        };
        let mut payload = buf.get(offset..).ok_or(PacketError::Truncated)?;
        if has_padding {
            let pad = usize::from(*payload.last().ok_or(PacketError::BadPadding)?);
            if pad == 0 || pad > payload.len() {
                return Err(PacketError::BadPadding);
            }
            payload = &payload[..payload.len() - pad];
        }
        Ok(RtpPacket {
            marker: header[1] & 0x80 != 0,
            payload_type: header[1] & 0x7F,
            sequence: u16::from_be_bytes([header[2], header[3]]),
            timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            ssrc: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
            csrc,
            extension,
            payload,
        })
    }

    /// Appends the packet to `out` (no padding); for tests and tools, not the hot path.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut header = [0u8; HEADER_LEN];
        write_header(
            &mut header,
            self.marker,
            self.payload_type,
            self.sequence,
            self.timestamp,
            self.ssrc,
        );
        let csrc_count = (self.csrc.len() / 4).min(15);
        header[0] |= csrc_count as u8;
        if self.extension.is_some() {
            header[0] |= 0x10;
        }
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.csrc[..csrc_count * 4]);
        if let Some((profile, data)) = self.extension {
            let words = data.len().div_ceil(4);
            out.extend_from_slice(&profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            out.extend_from_slice(data);
            out.resize(out.len() + words * 4 - data.len(), 0);
        }
        out.extend_from_slice(self.payload);
    }
}

/// Writes a 12-byte header with no CSRC, extension or padding (the send path).
pub fn write_header(
    out: &mut [u8; HEADER_LEN],
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
) {
    out[0] = 0x80;
    out[1] = (u8::from(marker) << 7) | (payload_type & 0x7F);
    out[2..4].copy_from_slice(&sequence.to_be_bytes());
    out[4..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let packet = RtpPacket {
            marker: true,
            payload_type: 101,
            sequence: 65535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrc: &[0, 0, 0, 1, 0, 0, 0, 2],
            extension: Some((0xBEDE, &[1, 2, 3, 4])),
            payload: &[9, 8, 7],
        };
        let mut out = Vec::new();
        packet.write(&mut out);
        out
    }

    #[test]
    fn written_packet_parses_back_with_csrc_and_extension() {
        let bytes = sample();
        let p = RtpPacket::parse(&bytes).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 101);
        assert_eq!(p.sequence, 65535);
        assert_eq!(p.timestamp, 0xDEAD_BEEF);
        assert_eq!(p.ssrc, 0x1234_5678);
        assert_eq!(p.csrc, &[0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(p.extension, Some((0xBEDE, &[1u8, 2, 3, 4][..])));
        assert_eq!(p.payload, &[9, 8, 7]);
    }

    #[test]
    fn padding_is_stripped_and_bad_padding_refused() {
        let mut bytes = sample();
        bytes[0] |= 0x20;
        bytes.extend_from_slice(&[0, 0, 3]);
        assert_eq!(RtpPacket::parse(&bytes).unwrap().payload, &[9, 8, 7]);
        let last = bytes.len() - 1;
        bytes[last] = 200;
        assert_eq!(RtpPacket::parse(&bytes), Err(PacketError::BadPadding));
        bytes[last] = 0;
        assert_eq!(RtpPacket::parse(&bytes), Err(PacketError::BadPadding));
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_payload_never_a_panic() {
        let bytes = sample();
        let payload_start = bytes.len() - 3;
        for end in 0..bytes.len() {
            let result = RtpPacket::parse(&bytes[..end]);
            if end < payload_start {
                assert_eq!(result, Err(PacketError::Truncated), "length {end}");
            } else {
                assert_eq!(result.unwrap().payload.len(), end - payload_start);
            }
        }
    }

    #[test]
    fn wrong_version_is_refused() {
        let mut bytes = sample();
        bytes[0] = (bytes[0] & 0x3F) | 0x40;
        assert_eq!(RtpPacket::parse(&bytes), Err(PacketError::BadVersion));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x = 0x9E37_79B9u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x as u8) | 0x80
                })
                .collect();
            let _ = RtpPacket::parse(&bytes);
        }
    }
}
