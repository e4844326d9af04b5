//! A caller on a real softphone: its microphone, dialling, and pressing keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Server;
use super::peers::Baresip;

const WAV: hound::WavSpec = hound::WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: hound::SampleFormat::Int,
};

/// The phone's microphone: silence, with DTMF tones for `digits` (100 ms
/// tones, 150 ms apart) starting at `tones_at_ms`. baresip ends the call when
/// this file ends, so its length also bounds the call.
pub fn microphone(dir: &Path, seconds: u32, digits: &str, tones_at_ms: u32) -> PathBuf {
    let path = dir.join("microphone.wav");
    let mut samples = vec![0i16; (seconds * 8000) as usize];
    for (i, digit) in digits.chars().enumerate() {
        let (low, high) = dtmf_pair(digit);
        let start = ((tones_at_ms + i as u32 * 250) * 8) as usize;
        for n in 0..800 {
            let t = n as f32 / 8000.0;
            let tau = 2.0 * std::f32::consts::PI * t;
            // Each tone at about -10 dBm0.
            let value = 7000.0 * (tau * low).sin() + 7000.0 * (tau * high).sin();
            samples[start + n] = value as i16;
        }
    }
    let mut writer = hound::WavWriter::create(&path, WAV).unwrap();
    for sample in samples {
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
    path
}

/// A silent microphone of `seconds`.
pub fn silence(dir: &Path, seconds: u32) -> PathBuf {
    microphone(dir, seconds, "", 0)
}

fn dtmf_pair(digit: char) -> (f32, f32) {
    let rows = ["123A", "456B", "789C", "*0#D"];
    let low = [697.0, 770.0, 852.0, 941.0];
    let high = [1209.0, 1336.0, 1477.0, 1633.0];
    for (r, keys) in rows.iter().enumerate() {
        if let Some(c) = keys.find(digit) {
            return (low[r], high[c]);
        }
    }
    panic!("{digit} is not a DTMF key")
}

/// Dials hotline from baresip as `number` and waits until the call is up.
pub fn dial(server: &Server, number: &str, microphone: &Path) -> Baresip {
    let mut phone = Baresip::start(microphone, &format!("<sip:{number}@127.0.0.1>;regint=0"));
    phone.command("dial", &format!("sip:hotline@{}", server.sip));
    assert!(
        phone
            .wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
            .is_some(),
        "no CALL_ESTABLISHED:\n{}\n{}",
        phone.history(),
        server.log()
    );
    phone
}

/// Presses `keys` one by one (RFC 4733), `gap` apart.
pub fn press(phone: &mut Baresip, keys: &str, gap: Duration) {
    for key in keys.chars() {
        phone.command("sndcode", &key.to_string());
        std::thread::sleep(gap);
    }
}

/// Hangs up and waits until baresip has closed the call.
pub fn hang_up(phone: &mut Baresip) {
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(5));
}

/// A microphone that says `words` (a WAV of the repository) again every
/// `every_ms`, for `seconds`: whoever listens at any time hears it whole.
pub fn speaking(dir: &Path, name: &str, words: &str, seconds: u32, every_ms: u32) -> PathBuf {
    let path = dir.join(name);
    let mut reader = hound::WavReader::open(super::repo_path(words)).unwrap();
    let speech: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mut samples = vec![0i16; (seconds * 8000) as usize];
    let step = (every_ms * 8) as usize;
    let mut start = 0;
    while start + speech.len() < samples.len() {
        samples[start..start + speech.len()].copy_from_slice(&speech);
        start += step.max(speech.len());
    }
    let mut writer = hound::WavWriter::create(&path, WAV).unwrap();
    for sample in samples {
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
    path
}
