//! In-band DTMF: a Goertzel detector for tones in the caller's audio (ITU-T Q.23/Q.24).
//!
//! Written here because no maintained crate detects DTMF with Q.24's limits.
//! Audio is cut into blocks of 102 samples (12.75 ms, bins 78 Hz wide, enough
//! to separate the DTMF frequencies). A block "hits" a digit when:
//! - one low-group and one high-group frequency stand out (each at least
//!   −32 dBm0, and 6 dB above the other frequencies of its group);
//! - the twist is within 8 dB (high group louder) or 4 dB (low group louder);
//! - the two tones hold most of the block's energy (speech and music spread
//!   theirs: this is the talk-off guard);
//! - each tone is nearer its nominal frequency than a probe 4 % away, which
//!   accepts ±1.5 % and rejects ±3.5 % (Q.24).
//!
//! - the tone covers the whole block (its energy is steady across the block).
//!
//! A digit is reported once, after two consecutive hits (so tones of 40 ms
//! and more are always seen and tones under 23 ms never are), and a new one
//! needs two blocks without it first (a pause of about 25 ms).
//!
//! `generator.rs` makes the same tones, to relay a digit to a peer that did
//! not negotiate telephone-events.

use std::collections::VecDeque;
use std::sync::LazyLock;
use std::time::Instant;

use super::{DigitEvent, DigitSource};

mod generator;

pub use generator::ToneGenerator;

const SAMPLE_RATE: f32 = 8000.0;
const BLOCK: usize = 102;
const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Amplitude of a 0 dBm0 sine in 16-bit linear PCM (G.711: full scale is +3.17 dBm0).
const DBM0_AMPLITUDE: f32 = 22_702.0;
/// Weakest tone accepted, per frequency: −32 dBm0 (Q.24 asks for −25 and below).
const MIN_TONE_AMPLITUDE: f32 = DBM0_AMPLITUDE * 0.025_118_864; // 10^(-32/20)
/// Normal twist (high group louder) limit, 8 dB, as an energy ratio.
const MAX_NORMAL_TWIST: f32 = 6.309_573;
/// Reverse twist (low group louder) limit, 4 dB, as an energy ratio.
const MAX_REVERSE_TWIST: f32 = 2.511_886;
/// A tone must exceed the other tones of its group by 6 dB (energy ratio 4).
const RELATIVE_PEAK: f32 = 4.0;
/// Share of the block's energy the two tones must hold.
const MIN_PURITY: f32 = 0.7;
/// Distance of the frequency probes from the nominal frequency.
const PROBE_OFFSET: f32 = 0.04;
/// Every quarter of a block must carry at least this share of the loudest
/// quarter's energy: a block only half-covered by a tone (its start or end)
/// does not count, so two hits need two nearly full blocks (about 24 ms).
const STEADY_QUARTERS: f32 = 0.5;

/// Finds DTMF digits in 8 kHz linear audio.
#[derive(Debug)]
pub struct ToneDetector {
    block: Vec<f32>,
    /// The digit of the last block that hit, and how many blocks in a row.
    candidate: Option<char>,
    hits: u32,
    /// The digit being held (reported), and blocks since it was last seen.
    holding: Option<char>,
    misses: u32,
    /// When the first block of the current candidate began.
    candidate_at: Option<Instant>,
    block_started: Option<Instant>,
    digits: VecDeque<DigitEvent>,
}

impl Default for ToneDetector {
    fn default() -> Self {
        ToneDetector::new()
    }
}

impl ToneDetector {
    /// A detector with no audio seen.
    pub fn new() -> ToneDetector {
        ToneDetector {
            block: Vec::with_capacity(BLOCK),
            candidate: None,
            hits: 0,
            holding: None,
            misses: 0,
            candidate_at: None,
            block_started: None,
            digits: VecDeque::new(),
        }
    }

    /// Audio received at `now` (any chunk size; usually 160 samples).
    pub fn handle_samples(&mut self, now: Instant, samples: &[i16]) {
        for &sample in samples {
            if self.block.is_empty() {
                self.block_started = Some(now);
            }
            self.block.push(sample as f32);
            if self.block.len() == BLOCK {
                let hit = analyse(&self.block);
                self.block.clear();
                self.step(hit);
            }
        }
    }

    /// The next digit heard.
    pub fn poll_digit(&mut self) -> Option<DigitEvent> {
        self.digits.pop_front()
    }

    fn step(&mut self, hit: Option<char>) {
        if hit.is_some() && hit == self.candidate {
            self.hits += 1;
        } else {
            self.candidate = hit;
            self.hits = u32::from(hit.is_some());
            self.candidate_at = self.block_started;
        }
        if hit.is_some() && hit == self.holding {
            self.misses = 0;
        } else {
            self.misses += 1;
            if self.misses >= 2 {
                self.holding = None;
            }
        }
        if let (Some(digit), true) = (self.candidate, self.hits >= 2)
            && self.holding != Some(digit)
        {
            self.holding = Some(digit);
            self.misses = 0;
            if let Some(at) = self.candidate_at {
                self.digits.push_back(DigitEvent {
                    digit,
                    at,
                    source: DigitSource::InBand,
                });
            }
        }
    }
}

/// The digit one block holds, if any.
fn analyse(block: &[f32]) -> Option<char> {
    let mut quarters = [0.0f32; 4];
    for (i, x) in block.iter().enumerate() {
        quarters[i * 4 / BLOCK] += x * x;
    }
    let total: f32 = quarters.iter().sum();
    let loudest = quarters.iter().copied().fold(0.0, f32::max);
    if total == 0.0 || quarters.iter().any(|&q| q < STEADY_QUARTERS * loudest) {
        return None;
    }
    // |X|² of a sine of amplitude A over N samples is (A·N/2)².
    let min_energy = (MIN_TONE_AMPLITUDE * BLOCK as f32 / 2.0).powi(2);
    // No frequency can reach that in a quieter block (|X(f)|² ≤ N·Σx², by
    // Cauchy–Schwarz): background noise and silence stop here, cheaply.
    if total * (BLOCK as f32) < min_energy {
        return None;
    }
    let energies = goertzel_bank(block);
    let low = [energies[0], energies[1], energies[2], energies[3]];
    let high = [energies[4], energies[5], energies[6], energies[7]];
    let (row, row_energy) = strongest(&low)?;
    let (col, col_energy) = strongest(&high)?;
    if row_energy < min_energy || col_energy < min_energy {
        return None;
    }
    if col_energy > row_energy * MAX_NORMAL_TWIST || row_energy > col_energy * MAX_REVERSE_TWIST {
        return None;
    }
    // Two pure tones hold N/2 · Σx² of Goertzel energy.
    if row_energy + col_energy < MIN_PURITY * (BLOCK as f32 / 2.0) * total {
        return None;
    }
    if !on_frequency(block, LOW[row], row_energy) || !on_frequency(block, HIGH[col], col_energy) {
        return None;
    }
    Some(KEYS[row][col])
}

/// The strongest of four energies, if it beats the others by RELATIVE_PEAK.
fn strongest(energies: &[f32; 4]) -> Option<(usize, f32)> {
    let (index, &peak) = energies
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let beaten = energies
        .iter()
        .enumerate()
        .all(|(i, &e)| i == index || peak >= e * RELATIVE_PEAK);
    beaten.then_some((index, peak))
}

/// Whether the tone near `frequency` is closer to it than to probes ±4 % away.
fn on_frequency(block: &[f32], frequency: f32, energy: f32) -> bool {
    let below = goertzel(block, frequency * (1.0 - PROBE_OFFSET));
    let above = goertzel(block, frequency * (1.0 + PROBE_OFFSET));
    energy > below && energy > above
}

/// The energies of the block at the eight DTMF frequencies, low group first:
/// the Goertzel recurrence of every frequency in one pass, eight independent
/// chains the compiler can run side by side (one chain at a time waits on
/// each multiply in turn and costs several times more).
fn goertzel_bank(block: &[f32]) -> [f32; 8] {
    static COEFFICIENTS: LazyLock<[f32; 8]> = LazyLock::new(|| {
        let mut c = [0.0; 8];
        for (c, f) in c.iter_mut().zip(LOW.iter().chain(HIGH.iter())) {
            *c = coefficient(*f);
        }
        c
    });
    let coefficients = *COEFFICIENTS;
    let mut s1 = [0.0f32; 8];
    let mut s2 = [0.0f32; 8];
    for &x in block {
        for k in 0..8 {
            let s0 = x + coefficients[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s0;
        }
    }
    std::array::from_fn(|k| s1[k] * s1[k] + s2[k] * s2[k] - coefficients[k] * s1[k] * s2[k])
}

fn coefficient(frequency: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * frequency / SAMPLE_RATE).cos()
}

/// The energy |X(f)|² of the block at frequency `f` (the Goertzel algorithm).
fn goertzel(block: &[f32], frequency: f32) -> f32 {
    let coefficient = coefficient(frequency);
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in block {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

#[cfg(test)]
mod tests;
