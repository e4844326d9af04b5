//! Comparing what a peer heard with what hotline should have played.

use std::path::Path;

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
/// `heard` (every alignment), in -1..=1. A G.711 path gives ~0.99+, an
/// unrelated prompt ~0.1-0.2. The dot products of all alignments come from
/// one FFT cross-correlation, so minutes of recording are searched at once.
pub fn best_match(expected: &[f32], heard: &[f32]) -> f32 {
    use rustfft::FftPlanner;
    use rustfft::num_complex::Complex;

    let expected = trim_silence(expected);
    if expected.is_empty() || heard.len() < expected.len() {
        return 0.0;
    }
    let size = (heard.len() + expected.len()).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let spectrum = |samples: &[f32]| {
        let mut buffer: Vec<Complex<f64>> = samples
            .iter()
            .map(|&x| Complex::new(x as f64, 0.0))
            .chain(std::iter::repeat(Complex::new(0.0, 0.0)))
            .take(size)
            .collect();
        forward.process(&mut buffer);
        buffer
    };
    let mut product: Vec<Complex<f64>> = spectrum(heard)
        .iter()
        .zip(spectrum(expected))
        .map(|(h, e)| h * e.conj())
        .collect();
    inverse.process(&mut product);
    // Energy of every window of `heard`, from running sums of squares.
    let mut squares = vec![0.0f64; heard.len() + 1];
    for (i, x) in heard.iter().enumerate() {
        squares[i + 1] = squares[i] + (*x as f64) * (*x as f64);
    }
    let expected_energy: f64 = expected
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    let mut best = 0.0f64;
    for offset in 0..=heard.len() - expected.len() {
        let window = (squares[offset + expected.len()] - squares[offset])
            .max(0.0)
            .sqrt();
        if window > 1e-9 {
            let dot = product[offset].re / size as f64;
            best = best.max(dot / (window * expected_energy));
        }
    }
    best as f32
}

/// Drops leading and trailing near-silence, which carries no evidence.
pub fn trim_silence(samples: &[f32]) -> &[f32] {
    let loud = |x: &f32| x.abs() > 0.01;
    let start = samples.iter().position(loud).unwrap_or(samples.len());
    let end = samples.iter().rposition(loud).map_or(start, |i| i + 1);
    &samples[start..end]
}

/// The prompts `audio/<language>/<id>.wav` back to back, as hotline plays a sequence.
pub fn prompt_sequence(language: &str, ids: &[&str]) -> Vec<f32> {
    ids.iter()
        .flat_map(|id| read_wav(&super::repo_path(&format!("audio/{language}/{id}.wav"))).0)
        .collect()
}

/// What the phone heard in its call.
pub fn heard(phone: &super::peers::Baresip) -> Vec<f32> {
    let recording = phone
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", phone.history()));
    read_wav(&recording).0
}

/// Asserts the phone heard the prompts `ids` of `language` back to back.
pub fn assert_heard(phone: &super::peers::Baresip, language: &str, ids: &[&str]) {
    let expected = prompt_sequence(language, ids);
    let heard = heard(phone);
    let score = best_match(&expected, &heard);
    assert!(
        score >= 0.95,
        "{ids:?} not heard cleanly: correlation {score:.4} over {:.1} s heard",
        heard.len() as f32 / 8000.0
    );
}

/// Asserts the phone did not hear the prompt `id` of `language`.
pub fn assert_not_heard(phone: &super::peers::Baresip, language: &str, id: &str) {
    let score = best_match(&prompt_sequence(language, &[id]), &heard(phone));
    assert!(score < 0.6, "{id} was heard: correlation {score:.4}");
}

/// The demo flow's greeting was replaced by the after-hours notice while
/// `in_progress` (Olena's call, already answered) ran: that call keeps the
/// version it started with (it hears the greeting, then the balance after
/// pressing 1, and not the notice), and the next call `from` the same number
/// hears the notice instead of the greeting.
pub fn the_call_keeps_its_version_and_the_next_hears_the_new_one(
    server: &super::Server,
    mut in_progress: super::peers::Baresip,
    from: &str,
) {
    use super::phone::{dial, hang_up, press, silence};
    use std::time::Duration;
    std::thread::sleep(Duration::from_millis(1500));
    press(&mut in_progress, "1", Duration::from_millis(400));
    std::thread::sleep(Duration::from_secs(7));
    hang_up(&mut in_progress);
    assert_heard(&in_progress, "uk", &["hotline/greeting"]);
    assert_heard(&in_progress, "uk", &["hotline/balance_is"]);
    assert_not_heard(&in_progress, "uk", "hotline/after_hours");

    let mic = silence(server.dir.path(), 40);
    let mut next = dial(server, from, &mic);
    std::thread::sleep(Duration::from_secs(7));
    hang_up(&mut next);
    assert_heard(&next, "uk", &["hotline/after_hours"]);
    assert_not_heard(&next, "uk", "hotline/greeting");
}

/// The strongest frequency of each of the last `seconds` whole seconds of audio at 8 kHz.
pub fn strongest_in_last_seconds(samples: &[f32], seconds: usize) -> Vec<f32> {
    let end = samples.len();
    (1..=seconds)
        .filter_map(|back| {
            let start = end.checked_sub(back * 8000)?;
            Some(dominant_frequency(&samples[start..start + 8000]))
        })
        .collect()
}

/// The strongest frequency in `samples` at 8 kHz (one FFT over them all).
pub fn dominant_frequency(samples: &[f32]) -> f32 {
    use rustfft::FftPlanner;
    use rustfft::num_complex::Complex;
    let mut buffer: Vec<Complex<f32>> = samples.iter().map(|&s| Complex::new(s, 0.0)).collect();
    FftPlanner::new()
        .plan_fft_forward(buffer.len())
        .process(&mut buffer);
    let half = &buffer[1..buffer.len() / 2];
    let bin = half
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.norm().total_cmp(&b.1.norm()))
        .map_or(0, |(bin, _)| bin);
    (bin + 1) as f32 * 8000.0 / samples.len() as f32
}

/// A mono WAV of one tone, made with sox.
pub fn tone_wav(dir: &Path, name: &str, frequency: f32, rate: u32, seconds: u32) -> String {
    let path = dir.join(name);
    let status = std::process::Command::new("sox")
        .args(["-n", "-r", &rate.to_string(), "-c", "1", "-b", "16"])
        .arg(&path)
        .args([
            "synth",
            &seconds.to_string(),
            "sine",
            &frequency.to_string(),
        ])
        .args(["vol", "0.5"])
        .status()
        .expect("sox is installed (scripts/test installs it)");
    assert!(status.success());
    path.display().to_string()
}

/// Checks what a party bridged to another whose microphone plays `tone`
/// heard (8 kHz) when the other held and resumed: the tone, then at least
/// `held_seconds` of the music on hold (loud, and never the tone), then the
/// tone again. Read second by second, so no clock of the test's has to agree
/// with the recording's; any such stretch will do (a recording may hold
/// other gaps, such as the listener's own hold).
pub fn assert_hold_heard(heard: &[f32], tone: f32, held_seconds: usize) {
    let seconds: Vec<&[f32]> = heard.chunks_exact(8000).collect();
    let strongest: Vec<f32> = seconds.iter().map(|s| dominant_frequency(s)).collect();
    let is_tone = |i: usize| (strongest[i] - tone).abs() < 20.0;
    let music: Vec<Vec<f32>> = ["en", "uk"]
        .iter()
        .map(|language| {
            let path = super::repo_path(&format!("audio/{language}/queue/music.wav"));
            read_wav(&path).0[8000..16000].to_vec()
        })
        .collect();
    // Every stretch without the tone between two seconds of it.
    let mut stretches = Vec::new();
    let mut last_tone = None;
    for i in (0..seconds.len()).filter(|i| is_tone(*i)) {
        if let Some(last) = last_tone
            && i > last + 1
        {
            let during = &heard[(last + 1) * 8000..i * 8000];
            let rms = (during.iter().map(|x| x * x).sum::<f32>() / during.len() as f32).sqrt();
            let matched = music
                .iter()
                .map(|m| best_match(m, during))
                .fold(0.0f32, f32::max);
            stretches.push((i - last - 1, rms, matched));
        }
        last_tone = Some(i);
    }
    let figures = format!(
        "stretches (s, RMS, music match) {stretches:?}; strongest per second {strongest:?}"
    );
    eprintln!("{figures}");
    assert!(
        stretches
            .iter()
            .any(|(length, rms, matched)| *length >= held_seconds
                && *rms > 0.02
                && *matched >= 0.9),
        "no music on hold between two stretches of the {tone} Hz tone: {figures}"
    );
}
