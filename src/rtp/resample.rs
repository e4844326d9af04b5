//! Sample-rate conversion to 8 kHz for prompts, done once at load time.
//!
//! Written here because it is one small function run once per prompt, and the
//! resampling crates (rubato and friends) bring FFT and SIMD dependencies whose
//! compile time is not worth it for offline conversion of a few files.
//!
//! Method: band-limited interpolation (Smith's windowed-sinc). Each output
//! sample is the input convolved with a Blackman-windowed sinc whose cutoff sits
//! just below the lower of the two Nyquist frequencies, so downsampling from
//! 44.1 or 48 kHz does not fold music and sibilants back into the phone band.

use std::f64::consts::PI;

/// Zero crossings of the sinc on each side: the filter's sharpness.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cutoff as a share of the lower Nyquist frequency (transition band below it).
const CUTOFF: f64 = 0.92;
/// Kernel table resolution: entries per input sample.
const TABLE_STEPS: f64 = 256.0;

/// Converts mono samples from `from_rate` to `to_rate`.
pub fn resample(input: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
    if from_rate == to_rate || input.is_empty() || from_rate == 0 || to_rate == 0 {
        return input.to_vec();
    }
    let step = f64::from(from_rate) / f64::from(to_rate); // input samples per output sample
    let cutoff = CUTOFF * (1.0 / step).min(1.0); // relative to the input Nyquist frequency
    let half_width = ZERO_CROSSINGS / cutoff; // in input samples
    let kernel = Kernel::new(cutoff, half_width);

    let out_len = ((input.len() as f64) / step).round() as usize;
    let last = input.len() as i64 - 1;
    (0..out_len)
        .map(|n| {
            let center = n as f64 * step;
            let first = ((center - half_width).ceil() as i64).max(0);
            let end = ((center + half_width).floor() as i64).min(last);
            let mut sum = 0.0;
            let mut weight = 0.0;
            for k in first..=end {
                let h = kernel.at((k as f64 - center).abs());
                sum += h * f64::from(input[k as usize]);
                weight += h;
            }
            // Dividing by the weights keeps unity gain at the edges of the signal too.
            if weight.abs() > 1e-9 {
                (sum / weight) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// The windowed sinc, tabulated once per conversion.
struct Kernel {
    table: Vec<f64>,
}

impl Kernel {
    fn new(cutoff: f64, half_width: f64) -> Self {
        let len = (half_width * TABLE_STEPS).ceil() as usize + 2;
        let table = (0..len)
            .map(|i| {
                let t = i as f64 / TABLE_STEPS;
                if t >= half_width {
                    return 0.0;
                }
                let x = PI * cutoff * t;
                let sinc = if x == 0.0 { 1.0 } else { x.sin() / x };
                let w = t / half_width; // 0..1 across the half window
                let blackman = 0.42 + 0.5 * (PI * w).cos() + 0.08 * (2.0 * PI * w).cos();
                cutoff * sinc * blackman
            })
            .collect();
        Kernel { table }
    }

    /// The kernel at distance `t` (input samples), linearly interpolated.
    fn at(&self, t: f64) -> f64 {
        let position = t * TABLE_STEPS;
        let i = position as usize;
        let frac = position - i as f64;
        match (self.table.get(i), self.table.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * frac,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    /// RMS of the middle of a signal (edges excluded).
    fn rms(x: &[f32]) -> f64 {
        let mid = &x[x.len() / 4..x.len() * 3 / 4];
        (mid.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
    }

    #[test]
    fn a_tone_in_the_phone_band_keeps_its_level_and_frequency() {
        let out = resample(&sine(1000.0, 44_100, 0.5), 44_100, 8000);
        assert_eq!(out.len(), 4000);
        let expected = sine(1000.0, 8000, 0.5);
        assert!(
            (rms(&out) - 0.5 / 2f64.sqrt()).abs() < 0.01,
            "{}",
            rms(&out)
        );
        let error: Vec<f32> = out.iter().zip(&expected).map(|(a, b)| a - b).collect();
        assert!(rms(&error) < 0.01, "error rms {}", rms(&error));
    }

    #[test]
    fn content_above_4_khz_is_removed_not_folded_back() {
        // A 6 kHz tone would alias to 2 kHz without the low-pass.
        let out = resample(&sine(6000.0, 48_000, 0.5), 48_000, 8000);
        assert!(rms(&out) < 0.005, "aliased energy {}", rms(&out));
    }

    #[test]
    fn upsampling_from_a_lower_rate_keeps_the_tone() {
        let out = resample(&sine(440.0, 5512, 0.5), 5512, 8000);
        assert!((rms(&out) - 0.5 / 2f64.sqrt()).abs() < 0.01);
    }

    #[test]
    fn same_rate_is_a_copy() {
        let x = sine(300.0, 8000, 0.01);
        assert_eq!(resample(&x, 8000, 8000), x);
    }
}
