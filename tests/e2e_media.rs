//! End-to-end media: what real peers hear, and the keys they press arriving
//! exactly once, in order, by RFC 4733, SIP INFO and in-band tones.

mod support;

use std::path::Path;
use std::time::Duration;

use support::audio::{best_match, read_wav};
use support::peers::{Baresip, pjsua_call, sipp};
use support::phone::{dial, hang_up, microphone, press};
use support::{Server, ServerOptions, repo_path};

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

/// Calls with baresip, lets it listen for `seconds`, hangs up; returns the phone.
fn baresip_call(server: &Server, microphone: &Path, seconds: u64) -> Baresip {
    let mut phone = baresip_dial(server, microphone);
    std::thread::sleep(Duration::from_secs(seconds));
    hang_up(&mut phone);
    phone
}

/// Dials hotline from baresip as Olena, +380441234567.
fn baresip_dial(server: &Server, microphone: &Path) -> Baresip {
    dial(server, "+380441234567", microphone)
}

/// Olena calls from her number; the CRM says she speaks Ukrainian.
#[test]
fn baresip_hears_the_greeting_prompt_in_the_callers_language() {
    let server = Server::start();
    let mic = microphone(server.dir.path(), 30, "", 0);
    let phone = baresip_call(&server, &mic, 8);
    let recording = phone
        .recording()
        .unwrap_or_else(|| panic!("no recording:\n{}", phone.history()));
    let (heard, rate) = read_wav(&recording);
    assert_eq!(rate, 8000);
    let (greeting, _) = read_wav(&repo_path("audio/uk/hotline/greeting.wav"));
    let score = best_match(&greeting, &heard);
    assert!(
        score >= 0.99,
        "the greeting was not heard cleanly: correlation {score:.4}"
    );
    // The check discriminates: another prompt of similar speech does not match.
    let (other, _) = read_wav(&repo_path("audio/en/hotline/greeting.wav"));
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
    press(&mut phone, "3693", Duration::from_millis(400));
    std::thread::sleep(Duration::from_millis(500));
    hang_up(&mut phone);
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
