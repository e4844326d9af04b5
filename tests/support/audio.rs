//! What a peer plays, and comparing what it heard with what hotline should have played.

use std::path::{Path, PathBuf};

/// Writes `seconds` of silence as the softphone's microphone (baresip ends
/// the call when its source file ends, so this also bounds the call).
pub fn silence(dir: &Path, seconds: u32) -> PathBuf {
    let path = dir.join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for _ in 0..seconds * 8000 {
        writer.write_sample(0i16).unwrap();
    }
    writer.finalize().unwrap();
    path
}

/// Reads a mono (or first-channel) 16-bit WAV as f32 samples at its own rate.
pub fn read_wav(path: &Path) -> (Vec<f32>, u32) {
    let mut reader = hound::WavReader::open(path).expect("open wav");
    let spec = reader.spec();
    let channels = spec.channels as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => reader
            .samples::<i32>()
            .map(|s| s.expect("sample") as f32 / (1u32 << (spec.bits_per_sample - 1)) as f32)
            .collect(),
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.expect("sample"))
            .collect(),
    };
    let mono = samples.chunks(channels).map(|frame| frame[0]).collect();
    (mono, spec.sample_rate)
}

/// The best normalised cross-correlation of `expected` found anywhere inside
/// `heard` (searching every alignment), in -1..=1. A G.711 path gives ~0.99+,
/// an unrelated prompt ~0.1-0.2.
pub fn best_match(expected: &[f32], heard: &[f32]) -> f32 {
    let expected = trim_silence(expected);
    if expected.is_empty() || heard.len() < expected.len() {
        return 0.0;
    }
    let expected_energy: f32 = expected.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut best = 0.0f32;
    // Coarse search every 4 samples, then refine around the best offset.
    let mut best_offset = 0;
    for offset in (0..=heard.len() - expected.len()).step_by(4) {
        let score = correlation(
            expected,
            &heard[offset..offset + expected.len()],
            expected_energy,
        );
        if score > best {
            best = score;
            best_offset = offset;
        }
    }
    let low = best_offset.saturating_sub(4);
    let high = (best_offset + 4).min(heard.len() - expected.len());
    for offset in low..=high {
        let score = correlation(
            expected,
            &heard[offset..offset + expected.len()],
            expected_energy,
        );
        best = best.max(score);
    }
    best
}

fn correlation(expected: &[f32], window: &[f32], expected_energy: f32) -> f32 {
    let window_energy: f32 = window.iter().map(|x| x * x).sum::<f32>().sqrt();
    if window_energy == 0.0 || expected_energy == 0.0 {
        return 0.0;
    }
    let dot: f32 = expected.iter().zip(window).map(|(a, b)| a * b).sum();
    dot / (expected_energy * window_energy)
}

/// Drops leading and trailing near-silence, which carries no evidence.
pub fn trim_silence(samples: &[f32]) -> &[f32] {
    let loud = |x: &f32| x.abs() > 0.01;
    let start = samples.iter().position(loud).unwrap_or(samples.len());
    let end = samples.iter().rposition(loud).map_or(start, |i| i + 1);
    &samples[start..end]
}
