//! End-to-end media: what real peers hear, and the keys they press arriving
//! exactly once, in order, by RFC 4733, SIP INFO and in-band tones.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::audio::{best_match, read_wav};
use support::peers::{Baresip, pjsua_call, sipp};
use support::{Server, ServerOptions, repo_path};

const WAV: hound::WavSpec = hound::WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: hound::SampleFormat::Int,
};

/// The phone's microphone: silence, with DTMF tones for `digits` (100 ms
/// tones, 150 ms apart) starting at `tones_at_ms`.
fn microphone(dir: &Path, seconds: u32, digits: &str, tones_at_ms: u32) -> PathBuf {
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

/// Asserts the first call's keys, in order, each once, all from `source`.
fn assert_digits(server: &Server, keys: &str, source: &str) {
    let digits = server.digits();
    assert_eq!(
        digits.first().map(|(k, _)| k.as_str()),
        Some(keys),
        "{digits:?}\n{}",
        server.log()
    );
    assert!(digits[0].1.split(',').all(|s| s == source), "{digits:?}");
}

/// Dials hotline from baresip as +380441234567 and waits until the call is up.
fn baresip_dial(server: &Server, microphone: &Path) -> Baresip {
    let mut phone = Baresip::start(microphone, "<sip:+380441234567@127.0.0.1>;regint=0");
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

/// Calls with baresip, lets it listen for `seconds`, hangs up; returns the phone.
fn baresip_call(server: &Server, microphone: &Path, seconds: u64) -> Baresip {
    let mut phone = baresip_dial(server, microphone);
    std::thread::sleep(Duration::from_secs(seconds));
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(5));
    phone
}

#[test]
fn baresip_hears_the_greeting_prompt() {
    let server = Server::start();
    let mic = microphone(server.dir.path(), 30, "", 0);
    let phone = baresip_call(&server, &mic, 8);
    let recording = phone
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", phone.history()));
    let (heard, rate) = read_wav(&recording);
    assert_eq!(rate, 8000);
    let (greeting, _) = read_wav(&repo_path("audio/en/hotline/greeting.wav"));
    let score = best_match(&greeting, &heard);
    assert!(
        score >= 0.99,
        "the greeting was not heard cleanly: correlation {score:.4}"
    );
    // The check discriminates: another prompt of similar speech does not match.
    let (other, _) = read_wav(&repo_path("audio/uk/hotline/greeting.wav"));
    let other_score = best_match(&other[..other.len().min(heard.len() / 2)], &heard);
    assert!(
        other_score < 0.5,
        "a wrong prompt matched with {other_score:.4}"
    );
}

#[test]
fn in_band_tones_from_baresip_arrive_once_each_in_order() {
    let server = Server::start_with(ServerOptions {
        media: "inband_dtmf_always = true".into(),
        ..ServerOptions::default()
    });
    let mic = microphone(server.dir.path(), 30, "159#", 1500);
    baresip_call(&server, &mic, 4);
    assert_digits(&server, "159#", "in_band");
}

#[test]
fn rfc4733_digits_from_pjsua2_at_payload_type_120_arrive_once_each_in_order() {
    let server = Server::start();
    let uri = format!("sip:hotline@{}", server.sip);
    let (ok, _, output) = pjsua_call(&uri, &["--hold", "4", "--digits", "2580*#"]);
    assert!(ok, "pjsua2 call failed:\n{output}");
    assert_digits(&server, "2580*#", "rfc4733");
}

#[test]
fn sip_info_digits_from_sipp_arrive_once_each_in_order() {
    let server = Server::start();
    let run = sipp("info_dtmf.xml", server.sip, &["-m", "1"]);
    assert!(
        run.success,
        "SIPp failed:\n{}\n{}",
        run.output,
        server.log()
    );
    assert_digits(&server, "427", "sip_info");
}

#[test]
fn rfc4733_digits_from_baresip_arrive_once_each_in_order() {
    let server = Server::start();
    let mic = microphone(server.dir.path(), 30, "", 0);
    let mut phone = baresip_dial(&server, &mic);
    std::thread::sleep(Duration::from_millis(800));
    for key in ["3", "6", "9", "3"] {
        phone.command("sndcode", key);
        std::thread::sleep(Duration::from_millis(400));
    }
    std::thread::sleep(Duration::from_millis(500));
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(5));
    assert_digits(&server, "3693", "rfc4733");
}

#[test]
fn baresip_puts_the_call_on_hold_and_resumes_it() {
    let server = Server::start();
    let mic = microphone(server.dir.path(), 30, "", 0);
    let mut phone = baresip_dial(&server, &mic);
    std::thread::sleep(Duration::from_millis(500));
    phone.command("hold", "");
    std::thread::sleep(Duration::from_millis(1000));
    phone.command("resume", "");
    std::thread::sleep(Duration::from_millis(1000));
    phone.command("hangup", "");
    let closed = phone.wait_event("CALL_CLOSED", Duration::from_secs(5));
    assert!(closed.is_some(), "{}", phone.history());
    // Both re-INVITEs were answered: baresip saw two more remote SDP answers.
    let answers = phone.count_events("CALL_REMOTE_SDP");
    assert!(
        answers >= 3,
        "expected the answer to the INVITE and to two re-INVITEs, saw {answers}:\n{}",
        phone.history()
    );
    let calls = server.get_json("/calls");
    assert_eq!(calls[0]["outcome"], "ended: RemoteBye", "{calls}");
}
