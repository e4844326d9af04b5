//! Web callers end to end: headless Chromium opens the server's "call us"
//! page, calls, hears the greeting, presses 3 on the on-screen keypad and
//! gets exactly one line-repair ticket read back; then its tab vanishes
//! without hanging up and the call ends on ICE consent loss with its record
//! closed. And bad offers over plain HTTP: not SDP, no G.711, a page of an
//! origin not allowed, a call that does not exist.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hotline::call::web::CustomerToken;
use support::browser::BrowserScript;
use support::http::Answer;
use support::metrics::sample;
use support::peers::wait_for;
use support::{Server, ServerOptions};

/// A demo customer (seeded), whose calls the flow knows: 3 is a line fault.
const OLENA: &str = "+380441234567";
const KEY: &str = "the site's shared key";

fn server() -> Server {
    // The WebRTC socket takes the first free port of a range no other test uses.
    let config = format!(
        "[webrtc]\nenabled = true\nport_min = 43000\nport_max = 43999\ncustomer_key = \"{KEY}\"\n"
    );
    Server::start_with(ServerOptions {
        config,
        ..ServerOptions::default()
    })
}

#[test]
fn a_browser_caller_hears_the_greeting_gets_one_ticket_read_back_and_vanishing_ends_the_call() {
    let server = server();
    let customer = olena(&server);
    let expires = chrono::Utc::now().timestamp() + 600;
    let token = CustomerToken::sign(&customer, expires, KEY);
    let dir = tempfile::tempdir().unwrap();
    let microphone = silence_wav(dir.path());
    let base = format!("http://{}", server.http);

    let wait = Duration::from_secs(40);
    let mut page = BrowserScript::start("widget.mjs", &[&base, &microphone, &token]);
    assert_eq!(page.next(wait), "in-call", "{}", server.log());
    let greeting = loudness(&page.next(wait), "greeting");
    assert!(
        greeting > 0.01,
        "the greeting is heard in the page: RMS {greeting}"
    );

    page.cue();
    assert_eq!(page.next(wait), "pressed");
    let after = loudness(&page.next(wait), "after");
    eprintln!("the page heard RMS {greeting} in the greeting, {after} after the key");
    assert!(after > 0.01, "speech follows the key: RMS {after}");
    let registered = wait_for(Duration::from_secs(15), || told_numbers(&server).len() == 1);
    assert!(
        registered,
        "no ticket number was read back\n{}",
        server.log()
    );
    let tickets = listed(&server, "tickets");
    assert_eq!(tickets.len(), 1, "exactly one ticket: {tickets:?}");
    assert_eq!(tickets[0]["kind"], "line_repair");
    let number = tickets[0]["number"].as_str().unwrap_or_default().to_owned();
    let told = told_numbers(&server);
    assert_eq!(
        told,
        vec![number.trim_start_matches("T-").to_owned()],
        "the caller was read the number of the ticket registered"
    );

    page.cue();
    assert_eq!(page.next(wait), "closed");
    let vanished = Instant::now();
    // RFC 7675: consent expires 30 s after the last answered check.
    let mut call = serde_json::Value::Null;
    let closed = wait_for(Duration::from_secs(45), || {
        call = listed(&server, "calls")
            .into_iter()
            .next()
            .unwrap_or_default();
        call["outcome"].is_string()
    });
    assert!(
        closed,
        "the vanished caller's call record stays open: {call}"
    );
    eprintln!(
        "the call was closed {:?} after the tab vanished",
        vanished.elapsed()
    );
    assert_eq!(call["channel"], "web", "{call}");
    assert_eq!(call["customer_id"], customer.as_str(), "{call}");
    let outcome = call["outcome"].as_str().unwrap_or_default();
    assert!(outcome.contains("ICE consent lost"), "{outcome}");
    let live = server.get_json("/calls");
    assert_eq!(live[0]["channel"], "web", "{live}");
    assert_eq!(live[0]["caller"], "", "a web caller has no number: {live}");

    let report = server.get_json("/report");
    assert_eq!(
        (&report["calls"]["web"], &report["calls"]["sip"]),
        (&serde_json::json!(1), &serde_json::json!(0)),
        "the report counts the call by channel: {report}"
    );

    let scraped = server.scrape();
    let offers = "hotline_webrtc_offers_total{outcome=\"answered\"}";
    assert_eq!(sample(&scraped, offers), Some(1.0), "{scraped}");
    let lost = "hotline_webrtc_peers_total{outcome=\"consent_lost\"}";
    assert_eq!(sample(&scraped, lost), Some(1.0), "{scraped}");
    page.cue();
    assert!(page.finish(wait));
}

#[test]
fn bad_offers_are_refused_with_a_clear_message_and_counted() {
    let server = server();
    let malformed = offer(server.http, "v=0\r\nthis is not SDP", None);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(
        malformed.error().contains("not valid SDP"),
        "{}",
        malformed.error()
    );

    let address = "127.0.0.1:9".parse().unwrap();
    let (_, _, _, opus_only) = hotline::webrtc::loopback::offer(
        Instant::now(),
        hotline::webrtc::loopback::Offers::OpusOnly,
        address,
    );
    let no_g711 = offer(server.http, &opus_only, None);
    assert_eq!(no_g711.status, 400, "{}", no_g711.body);
    assert!(no_g711.error().contains("G.711"), "{}", no_g711.error());

    let (_, _, _, good) = hotline::webrtc::loopback::offer(
        Instant::now(),
        hotline::webrtc::loopback::Offers::G711,
        address,
    );
    let elsewhere = offer(server.http, &good, Some("https://evil.example"));
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(
        elsewhere.error().contains("allowed_origins"),
        "{}",
        elsewhere.error()
    );

    let gone = support::http::request(server.http, "DELETE", "/webrtc/calls/nope", None, "");
    assert_eq!(gone.status, 404, "{}", gone.body);

    let scraped = server.scrape();
    for (outcome, count) in [("malformed", 1.0), ("no_g711", 1.0), ("origin", 1.0)] {
        let name = format!("hotline_webrtc_offers_total{{outcome=\"{outcome}\"}}");
        assert_eq!(sample(&scraped, &name), Some(count), "{name}\n{scraped}");
    }
    // Nothing was answered, and no call began.
    let answered = "hotline_webrtc_offers_total{outcome=\"answered\"}";
    assert_eq!(sample(&scraped, answered), Some(0.0), "{scraped}");
    assert!(listed(&server, "calls").is_empty());
}

#[test]
fn a_delete_of_the_offers_location_hangs_the_call_up_and_closes_its_record() {
    let server = server();
    let address = "127.0.0.1:9".parse().unwrap();
    let (_, _, _, sdp) = hotline::webrtc::loopback::offer(
        Instant::now(),
        hotline::webrtc::loopback::Offers::G711,
        address,
    );
    let answered = offer(server.http, &sdp, None);
    assert_eq!(answered.status, 201, "{}", answered.body);
    assert!(
        answered.body.starts_with("v=0"),
        "an SDP answer: {}",
        answered.body
    );
    let location = answered
        .head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .expect("a Location");
    assert!(location.starts_with("/webrtc/calls/"), "{location}");
    let hung_up = support::http::request(server.http, "DELETE", &location, None, "");
    assert_eq!(hung_up.status, 204, "{}", hung_up.body);
    let mut call = serde_json::Value::Null;
    let closed = wait_for(Duration::from_secs(10), || {
        call = listed(&server, "calls")
            .into_iter()
            .next()
            .unwrap_or_default();
        call["outcome"].is_string()
    });
    assert!(closed, "the call's record stays open: {call}");
    let outcome = call["outcome"].as_str().unwrap_or_default();
    assert!(outcome.contains("the page hung up"), "{outcome}");
    assert_eq!(call["channel"], "web");
    assert_eq!(
        call["customer_id"],
        serde_json::Value::Null,
        "no claim, no customer"
    );
    let again = support::http::request(server.http, "DELETE", &location, None, "");
    assert_eq!(again.status, 404, "a call ends once: {}", again.body);
}

/// POSTs an SDP offer as a page of `origin` would (none: not a browser).
fn offer(http: SocketAddr, sdp: &str, origin: Option<&str>) -> Answer {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /webrtc/calls HTTP/1.0\r\nHost: {http}\r\n{origin}Content-Type: application/sdp\r\n"
    );
    support::http::exchange(http, &head, sdp)
}

/// The seeded customer Olena's id.
fn olena(server: &Server) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = hotline::crm::Db::open(&server.db_url()).await.unwrap();
        db.find_customer_by_phone(OLENA, Duration::from_secs(5))
            .await
            .unwrap()
            .expect("the demo customers are seeded")
            .id
    })
}

/// A `hotline … list --json` listing of the server's database.
fn listed(server: &Server, what: &str) -> Vec<serde_json::Value> {
    let output = server.cli(&[what, "list", "--json", "--limit", "100"]);
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"))
}

/// The ticket numbers read back in calls (their `ticket` events).
fn told_numbers(server: &Server) -> Vec<String> {
    listed(server, "calls")
        .iter()
        .flat_map(|call| call["events"].as_array().cloned().unwrap_or_default())
        .filter(|event| event["kind"] == "ticket")
        .filter_map(|event| {
            let detail = event["detail"].as_str()?;
            Some(detail.strip_prefix("line_repair ")?.to_owned())
        })
        .collect()
}

/// The figure of a `<what> <rms>` line of the page.
fn loudness(line: &str, what: &str) -> f64 {
    line.strip_prefix(what)
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("expected `{what} <rms>`, got {line}"))
}

/// A minute of silence, for the fake microphone.
fn silence_wav(dir: &Path) -> String {
    let path = dir.join("microphone.wav");
    let status = Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(&path)
        .args(["trim", "0", "60"])
        .status()
        .expect("sox is installed (scripts/test installs it)");
    assert!(status.success());
    path.display().to_string()
}
