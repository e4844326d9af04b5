//! In-band DTMF tones for a peer that takes no telephone-events: each digit
//! becomes its two frequencies in the outgoing audio, then a short pause.

use std::collections::VecDeque;

use super::{DBM0_AMPLITUDE, HIGH, KEYS, LOW, SAMPLE_RATE};

/// Tone length: 100 ms, like the RFC 4733 events we send.
const TONE_SAMPLES: u32 = 800;
/// Silence after each tone: 60 ms, so two presses of one key are heard as two
/// (Q.24 receivers need about 25 ms).
const PAUSE_SAMPLES: u32 = 480;
/// Low group at −9 dBm0, high group at −7 dBm0: the usual sending levels, the
/// high group 2 dB louder to make up for line loss at its frequencies.
const LOW_AMPLITUDE: f32 = DBM0_AMPLITUDE * 0.354_813_4; // 10^(-9/20)
const HIGH_AMPLITUDE: f32 = DBM0_AMPLITUDE * 0.446_683_6; // 10^(-7/20)
/// Digits waiting at most, as for telephone-events.
const MAX_QUEUED: usize = 32;

/// Generates DTMF tone pairs as 8 kHz linear samples; sans-IO.
#[derive(Debug, Default)]
pub struct ToneGenerator {
    queued: VecDeque<(f32, f32)>,
    /// The frequencies being sent and how many samples of tone and pause are done.
    current: Option<((f32, f32), u32)>,
}

impl ToneGenerator {
    /// A generator with nothing to play.
    pub fn new() -> ToneGenerator {
        ToneGenerator::default()
    }

    /// Queues a digit; false if it is not a DTMF key or too many are waiting.
    pub fn queue(&mut self, digit: char) -> bool {
        let Some(pair) = frequencies(digit.to_ascii_uppercase()) else {
            return false;
        };
        if self.queued.len() >= MAX_QUEUED {
            return false;
        }
        self.queued.push_back(pair);
        true
    }

    /// Whether a tone or its pause is being played, or a digit waits.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queued.is_empty()
    }

    /// Writes the next samples of tones and pauses over the whole of `out`
    /// (silence after the last digit); false, leaving `out` alone, when idle.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        if self.is_idle() {
            return false;
        }
        for sample in out.iter_mut() {
            if self.current.is_none() {
                self.current = self.queued.pop_front().map(|pair| (pair, 0));
            }
            let Some(((low, high), position)) = &mut self.current else {
                *sample = 0;
                continue;
            };
            *sample = if *position < TONE_SAMPLES {
                let t = *position as f32 / SAMPLE_RATE * std::f32::consts::TAU;
                (LOW_AMPLITUDE * (t * *low).sin() + HIGH_AMPLITUDE * (t * *high).sin()) as i16
            } else {
                0
            };
            *position += 1;
            if *position == TONE_SAMPLES + PAUSE_SAMPLES {
                self.current = None;
            }
        }
        true
    }
}

/// The low and high frequency of a key.
fn frequencies(digit: char) -> Option<(f32, f32)> {
    KEYS.iter().enumerate().find_map(|(row, keys)| {
        let col = keys.iter().position(|k| *k == digit)?;
        Some((LOW[row], HIGH[col]))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::ToneDetector;
    use super::*;

    /// Runs the generator frame by frame until idle, plus a second of silence.
    fn render(generator: &mut ToneGenerator, frame: usize) -> Vec<i16> {
        let mut audio = Vec::new();
        let mut buf = vec![1234i16; frame];
        while generator.fill(&mut buf) {
            audio.extend_from_slice(&buf);
        }
        audio.resize(audio.len() + 8000, 0);
        audio
    }

    fn detect(samples: &[i16]) -> String {
        let mut detector = ToneDetector::new();
        for chunk in samples.chunks(160) {
            detector.handle_samples(Instant::now(), chunk);
        }
        std::iter::from_fn(|| detector.poll_digit())
            .map(|d| d.digit)
            .collect()
    }

    #[test]
    fn every_key_is_generated_and_heard_once_by_the_detector() {
        for digit in "0123456789*#ABCD".chars() {
            let mut generator = ToneGenerator::new();
            assert!(generator.queue(digit));
            assert_eq!(detect(&render(&mut generator, 160)), digit.to_string());
        }
    }

    #[test]
    fn the_same_key_twice_is_two_digits_and_frames_of_any_size_join_up() {
        let mut generator = ToneGenerator::new();
        for digit in "7719".chars() {
            generator.queue(digit);
        }
        let audio = render(&mut generator, 240);
        assert_eq!(detect(&audio), "7719");
        let per_digit = (TONE_SAMPLES + PAUSE_SAMPLES) as usize;
        assert!(audio.len() >= 4 * per_digit && audio.len() < 4 * per_digit + 240 + 8000);
    }

    #[test]
    fn an_idle_generator_leaves_the_audio_alone_and_pads_its_last_frame_with_silence() {
        let mut generator = ToneGenerator::new();
        let mut frame = [77i16; 160];
        assert!(!generator.fill(&mut frame));
        assert!(frame.iter().all(|s| *s == 77));
        assert!(!generator.queue('x'));
        generator.queue('b');
        let audio = render(&mut generator, 160);
        let tone_and_pause = (TONE_SAMPLES + PAUSE_SAMPLES) as usize;
        assert!(audio[tone_and_pause..].iter().all(|s| *s == 0));
        let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 10_000 && peak < 20_000, "peak {peak}");
    }
}
