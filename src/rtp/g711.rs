//! G.711 µ-law (PCMU) and A-law (PCMA): 8-bit logarithmic samples at 8 kHz.
//!
//! Written here rather than taken from a crate because it is a few lines of
//! well-known arithmetic, and we want table lookups (prompts are encoded once at
//! load, caller audio is decoded 8,000 times a second per call). The tables are
//! built at compile time; the tests compare them with the ITU-T algorithm over
//! every 16-bit input.

/// A G.711 codec, as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, RTP payload type 0.
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The code for a zero sample (what "silence" is on the wire).
    pub fn silence(self) -> u8 {
        self.encode(0)
    }

    /// Encodes one linear 16-bit sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => ULAW_ENCODE[(sample as u16 >> 2) as usize],
            Codec::Pcma => ALAW_ENCODE[(sample as u16 >> 3) as usize],
        }
    }

    /// Decodes one code to a linear 16-bit sample.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => ULAW_DECODE[code as usize],
            Codec::Pcma => ALAW_DECODE[code as usize],
        }
    }

    /// Encodes a block of samples into `out` (same length).
    pub fn encode_into(self, samples: &[i16], out: &mut [u8]) {
        for (o, s) in out.iter_mut().zip(samples) {
            *o = self.encode(*s);
        }
    }

    /// Decodes a block of codes into `out` (same length).
    pub fn decode_into(self, codes: &[u8], out: &mut [i16]) {
        for (o, c) in out.iter_mut().zip(codes) {
            *o = self.decode(*c);
        }
    }
}

/// µ-law code for each 14-bit input (the top 14 bits of a 16-bit sample).
static ULAW_ENCODE: [u8; 1 << 14] = build_ulaw_encode();
/// A-law code for each 13-bit input (the top 13 bits of a 16-bit sample).
static ALAW_ENCODE: [u8; 1 << 13] = build_alaw_encode();
static ULAW_DECODE: [i16; 256] = build_decode(false);
static ALAW_DECODE: [i16; 256] = build_decode(true);

const fn build_ulaw_encode() -> [u8; 1 << 14] {
    let mut table = [0u8; 1 << 14];
    let mut i = 0;
    while i < table.len() {
        // Sign-extend the 14-bit index back to the value it stands for.
        let value = ((i as i32) << 18) >> 18;
        table[i] = ulaw_from_14bit(value);
        i += 1;
    }
    table
}

const fn build_alaw_encode() -> [u8; 1 << 13] {
    let mut table = [0u8; 1 << 13];
    let mut i = 0;
    while i < table.len() {
        let value = ((i as i32) << 19) >> 19;
        table[i] = alaw_from_13bit(value);
        i += 1;
    }
    table
}

const fn build_decode(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_to_linear(i as u8)
        } else {
            ulaw_to_linear(i as u8)
        };
        i += 1;
    }
    table
}

/// µ-law: bias the magnitude by 33, the segment is the position of its top bit.
const fn ulaw_from_14bit(value: i32) -> u8 {
    // The code is stored inverted; the sign bit ends up set for positive samples.
    let (magnitude, mask) = if value < 0 {
        (-value, 0x7F)
    } else {
        (value, 0xFF)
    };
    let magnitude = if magnitude > 8159 { 8159 } else { magnitude } + 33;
    // magnitude is in 33..=8192: its top bit is bit 5..=13, segment 0..=7 (8192 clips to 7).
    let top_bit = 31 - magnitude.leading_zeros() as i32;
    let segment = if top_bit - 5 > 7 { 7 } else { top_bit - 5 };
    let mantissa = if top_bit - 5 > 7 {
        0x0F
    } else {
        (magnitude >> (segment + 1)) & 0x0F
    };
    ((segment << 4) as u8 | mantissa as u8) ^ mask
}

/// A-law: segments 0 and 1 are linear, then one segment per doubling; even bits inverted.
const fn alaw_from_13bit(value: i32) -> u8 {
    let (magnitude, sign) = if value < 0 {
        (-value - 1, 0x00)
    } else {
        (value, 0x80)
    };
    let code = if magnitude >= 4096 {
        0x7F
    } else if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let segment = 31 - magnitude.leading_zeros() as i32 - 4; // 1..=7
        ((segment << 4) | ((magnitude >> segment) & 0x0F)) as u8
    };
    (sign | code) ^ 0x55
}

const fn ulaw_to_linear(code: u8) -> i16 {
    let code = !code;
    let segment = (code >> 4) & 0x07;
    let magnitude = ((((code & 0x0F) as i32) << 3) + 0x84) << segment;
    let value = magnitude - 0x84;
    (if code & 0x80 != 0 { -value } else { value }) as i16
}

const fn alaw_to_linear(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = ((code & 0x0F) as i32) << 4;
    let magnitude = match segment {
        0 => mantissa + 8,
        _ => (mantissa + 0x108) << (segment - 1),
    };
    (if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference: the ITU-T G.711 algorithm as in the widely used Sun Microsystems
    // g711.c (segment search over end-point tables), transcribed literally.
    const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];

    fn search(value: i32, table: &[i32; 8]) -> i32 {
        for (i, end) in table.iter().enumerate() {
            if value <= *end {
                return i as i32;
            }
        }
        8
    }

    fn ref_linear2alaw(pcm: i16) -> u8 {
        let mut pcm_val = (pcm >> 3) as i32;
        let mask;
        if pcm_val >= 0 {
            mask = 0xD5;
        } else {
            mask = 0x55;
            pcm_val = -pcm_val - 1;
        }
        let seg = search(pcm_val, &SEG_AEND);
        if seg >= 8 {
            return (0x7F ^ mask) as u8;
        }
        let mut aval = seg << 4;
        if seg < 2 {
            aval |= (pcm_val >> 1) & 0x0F;
        } else {
            aval |= (pcm_val >> seg) & 0x0F;
        }
        (aval ^ mask) as u8
    }

    fn ref_alaw2linear(a_val: u8) -> i16 {
        let a_val = (a_val ^ 0x55) as i32;
        let mut t = (a_val & 0x0F) << 4;
        let seg = (a_val & 0x70) >> 4;
        match seg {
            0 => t += 8,
            1 => t += 0x108,
            _ => {
                t += 0x108;
                t <<= seg - 1;
            }
        }
        (if a_val & 0x80 != 0 { t } else { -t }) as i16
    }

    fn ref_linear2ulaw(pcm: i16) -> u8 {
        let mut pcm_val = (pcm >> 2) as i32;
        let mask;
        if pcm_val < 0 {
            pcm_val = -pcm_val;
            mask = 0x7F;
        } else {
            mask = 0xFF;
        }
        if pcm_val > 8159 {
            pcm_val = 8159;
        }
        pcm_val += 0x84 >> 2;
        let seg = search(pcm_val, &SEG_UEND);
        if seg >= 8 {
            return (0x7F ^ mask) as u8;
        }
        let uval = (seg << 4) | ((pcm_val >> (seg + 1)) & 0x0F);
        (uval ^ mask) as u8
    }

    fn ref_ulaw2linear(u_val: u8) -> i16 {
        let u_val = !u_val as i32;
        let mut t = ((u_val & 0x0F) << 3) + 0x84;
        t <<= (u_val & 0x70) >> 4;
        (if u_val & 0x80 != 0 {
            0x84 - t
        } else {
            t - 0x84
        }) as i16
    }

    #[test]
    fn ulaw_encoding_matches_reference_for_every_16_bit_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(Codec::Pcmu.encode(s), ref_linear2ulaw(s), "sample {s}");
        }
    }

    #[test]
    fn alaw_encoding_matches_reference_for_every_16_bit_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(Codec::Pcma.encode(s), ref_linear2alaw(s), "sample {s}");
        }
    }

    #[test]
    fn decoding_matches_reference_for_every_code() {
        for c in 0..=255u8 {
            assert_eq!(Codec::Pcmu.decode(c), ref_ulaw2linear(c), "µ-law {c:#x}");
            assert_eq!(Codec::Pcma.decode(c), ref_alaw2linear(c), "A-law {c:#x}");
        }
    }

    #[test]
    fn silence_codes_are_the_well_known_ones() {
        assert_eq!(Codec::Pcmu.silence(), 0xFF);
        assert_eq!(Codec::Pcma.silence(), 0xD5);
    }

    #[test]
    fn decode_then_encode_returns_the_same_code() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for c in 0..=255u8 {
                let back = codec.encode(codec.decode(c));
                // µ-law has two zeros (0x7F and 0xFF); both decode to 0 and encode to 0xFF.
                if codec == Codec::Pcmu && c == 0x7F {
                    assert_eq!(back, 0xFF);
                } else {
                    assert_eq!(back, c, "{codec:?} {c:#x}");
                }
            }
        }
    }
}
