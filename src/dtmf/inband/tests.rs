//! The detector against Q.24's limits on generated tones, and against speech
//! and music where it must stay silent.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;

const DIGITS: &str = "123A456B789C*0#D";

fn frequencies(digit: char) -> (f32, f32) {
    for (row, keys) in KEYS.iter().enumerate() {
        if let Some(col) = keys.iter().position(|k| *k == digit) {
            return (LOW[row], HIGH[col]);
        }
    }
    panic!("not a DTMF digit: {digit}")
}

/// Amplitude of a sine at `dbm0`.
fn amplitude(dbm0: f32) -> f32 {
    DBM0_AMPLITUDE * 10f32.powf(dbm0 / 20.0)
}

/// Builds audio from segments; noise at `noise_dbm0` throughout (None = clean).
struct Signal {
    samples: Vec<f32>,
    rng: StdRng,
}

impl Signal {
    fn new() -> Signal {
        Signal {
            samples: Vec::new(),
            rng: StdRng::seed_from_u64(4733),
        }
    }

    fn tone(mut self, digit: char, ms: u32, low_dbm0: f32, high_dbm0: f32, shift: f32) -> Signal {
        let (low, high) = frequencies(digit);
        let phase = self.rng.random::<f32>() * std::f32::consts::TAU;
        for n in 0..ms * 8 {
            let t = n as f32 / SAMPLE_RATE;
            let tau = 2.0 * std::f32::consts::PI * t;
            let value = amplitude(low_dbm0) * (tau * low * (1.0 + shift) + phase).sin()
                + amplitude(high_dbm0) * (tau * high * (1.0 + shift)).sin();
            self.samples.push(value);
        }
        self
    }

    fn silence(mut self, ms: u32) -> Signal {
        self.samples
            .extend(std::iter::repeat_n(0.0, (ms * 8) as usize));
        self
    }

    fn noise(mut self, dbm0: f32) -> Signal {
        // Uniform white noise with the RMS of a sine at `dbm0`.
        let rms = amplitude(dbm0) / 2f32.sqrt();
        let half_width = rms * 3f32.sqrt();
        for sample in &mut self.samples {
            *sample += self.rng.random_range(-half_width..half_width);
        }
        self
    }

    fn pcm(&self) -> Vec<i16> {
        self.samples
            .iter()
            .map(|x| x.clamp(-32768.0, 32767.0) as i16)
            .collect()
    }
}

/// Runs audio through a detector in 20 ms frames and returns the digits.
fn detect(samples: &[i16]) -> String {
    let start = Instant::now();
    let mut detector = ToneDetector::new();
    for (i, frame) in samples.chunks(160).enumerate() {
        detector.handle_samples(start + Duration::from_millis(20 * i as u64), frame);
    }
    std::iter::from_fn(|| detector.poll_digit())
        .map(|d| d.digit)
        .collect()
}

#[test]
fn all_sixteen_digits_at_minus_25_dbm0_with_noise_are_each_heard_once() {
    let mut signal = Signal::new().silence(30);
    for digit in DIGITS.chars() {
        signal = signal.tone(digit, 60, -25.0, -25.0, 0.0).silence(60);
    }
    // White noise 15 dB below the tones' combined power.
    let pcm = signal.noise(-25.0 + 3.0 - 15.0).pcm();
    assert_eq!(detect(&pcm), DIGITS);
}

#[test]
fn frequency_deviation_of_1_5_percent_is_accepted_and_3_5_percent_rejected() {
    for shift in [-0.015, 0.015] {
        let mut signal = Signal::new();
        for digit in DIGITS.chars() {
            signal = signal.tone(digit, 60, -10.0, -10.0, shift).silence(60);
        }
        assert_eq!(detect(&signal.pcm()), DIGITS, "shift {shift}");
    }
    for shift in [-0.035, 0.035] {
        let mut signal = Signal::new();
        for digit in DIGITS.chars() {
            signal = signal.tone(digit, 60, -10.0, -10.0, shift).silence(60);
        }
        assert_eq!(detect(&signal.pcm()), "", "shift {shift}");
    }
}

#[test]
fn twist_within_limits_is_accepted_and_beyond_rejected() {
    // Normal twist: high group louder, up to 8 dB.
    let pcm = Signal::new().tone('5', 60, -17.0, -10.0, 0.0).pcm();
    assert_eq!(detect(&pcm), "5", "7 dB normal twist");
    let pcm = Signal::new().tone('5', 60, -20.0, -10.0, 0.0).pcm();
    assert_eq!(detect(&pcm), "", "10 dB normal twist");
    // Reverse twist: low group louder, up to 4 dB.
    let pcm = Signal::new().tone('9', 60, -10.0, -13.0, 0.0).pcm();
    assert_eq!(detect(&pcm), "9", "3 dB reverse twist");
    let pcm = Signal::new().tone('9', 60, -10.0, -16.0, 0.0).pcm();
    assert_eq!(detect(&pcm), "", "6 dB reverse twist");
}

#[test]
fn tones_of_40_ms_are_heard_and_tones_under_23_ms_are_not() {
    for offset in 0..8 {
        // Every alignment of the tone against the detector's blocks.
        let pcm = Signal::new()
            .silence(offset * 2)
            .tone('0', 40, -20.0, -20.0, 0.0)
            .silence(60)
            .pcm();
        assert_eq!(detect(&pcm), "0", "40 ms tone at offset {offset}");
        let pcm = Signal::new()
            .silence(offset * 2)
            .tone('0', 20, -20.0, -20.0, 0.0)
            .silence(60)
            .pcm();
        assert_eq!(detect(&pcm), "", "20 ms tone at offset {offset}");
    }
}

#[test]
fn the_same_digit_twice_with_a_40_ms_pause_is_two_digits() {
    let pcm = Signal::new()
        .tone('7', 50, -15.0, -15.0, 0.0)
        .silence(40)
        .tone('7', 50, -15.0, -15.0, 0.0)
        .silence(40)
        .pcm();
    assert_eq!(detect(&pcm), "77");
}

#[test]
fn weak_tones_below_minus_35_dbm0_are_ignored() {
    let pcm = Signal::new().tone('3', 100, -38.0, -38.0, 0.0).pcm();
    assert_eq!(detect(&pcm), "");
}

#[test]
fn the_digit_time_is_when_its_tone_began() {
    let start = Instant::now();
    let pcm = Signal::new()
        .silence(200)
        .tone('4', 80, -15.0, -15.0, 0.0)
        .silence(40)
        .pcm();
    let mut detector = ToneDetector::new();
    for (i, frame) in pcm.chunks(160).enumerate() {
        detector.handle_samples(start + Duration::from_millis(20 * i as u64), frame);
    }
    let digit = detector.poll_digit().unwrap();
    let at = digit.at.duration_since(start).as_millis();
    assert!((180..=220).contains(&at), "reported at {at} ms");
}

/// Every shipped word prompt of a language, back to back: minutes of real speech.
fn speech(lang: &str) -> Vec<i16> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("audio")
        .join(lang)
        .join("say");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    files.sort();
    let mut samples = Vec::new();
    for file in files {
        let mut reader = hound::WavReader::open(&file).unwrap();
        assert_eq!(reader.spec().sample_rate, 8000);
        samples.extend(reader.samples::<i16>().map(Result::unwrap));
    }
    samples
}

#[test]
fn speech_in_english_ukrainian_and_russian_triggers_no_digit() {
    for lang in ["en", "uk", "ru"] {
        let pcm = speech(lang);
        assert!(
            pcm.len() > 8000 * 30,
            "{lang}: at least half a minute of speech"
        );
        assert_eq!(detect(&pcm), "", "talk-off in {lang}");
    }
}

#[test]
fn music_with_chords_and_harmonics_triggers_no_digit() {
    // A melody over chords, each note with five harmonics and vibrato, walking
    // through the range where DTMF tones live.
    let notes = [
        523.25, 587.33, 659.25, 698.46, 783.99, 880.0, 987.77, 1046.5, 1174.66, 1318.51, 1396.91,
        1567.98, 392.0, 440.0, 493.88,
    ];
    let mut samples = Vec::new();
    for (i, root) in notes.iter().cycle().take(120).enumerate() {
        let chord = [*root, root * 1.26, root * 1.498];
        let melody = notes[(i * 7) % notes.len()] * 2.0;
        for n in 0..2000 {
            let t = n as f32 / SAMPLE_RATE;
            let vibrato = 1.0 + 0.004 * (2.0 * std::f32::consts::PI * 5.5 * t).sin();
            let mut value = 0.0;
            for (voice, f) in chord.iter().chain(std::iter::once(&melody)).enumerate() {
                for harmonic in 1..=5 {
                    let gain = amplitude(-14.0 - voice as f32) / harmonic as f32;
                    value += gain
                        * (2.0 * std::f32::consts::PI * f * harmonic as f32 * vibrato * t).sin();
                }
            }
            samples.push(value.clamp(-32768.0, 32767.0) as i16);
        }
    }
    assert_eq!(detect(&samples), "");
}

#[test]
fn the_goertzel_bank_agrees_with_one_frequency_at_a_time() {
    let mut rng = StdRng::seed_from_u64(7);
    let block: Vec<f32> = (0..BLOCK)
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE;
            8000.0 * (2.0 * std::f32::consts::PI * 852.0 * t).sin()
                + 5000.0 * (2.0 * std::f32::consts::PI * 1477.0 * t).sin()
                + rng.random_range(-500.0..500.0)
        })
        .collect();
    let bank = goertzel_bank(&block);
    for (k, f) in LOW.iter().chain(HIGH.iter()).enumerate() {
        let one = goertzel(&block, *f);
        assert!(
            (bank[k] - one).abs() <= one.abs() * 1e-4 + 1.0,
            "{f} Hz: bank {} vs {one}",
            bank[k]
        );
    }
}
