//! `GET /metrics` during a real call: a baresip caller is counted as an active
//! call with RTP flowing both ways, then as a finished call with its outcome,
//! and the caller's number and call id appear nowhere in the scrape; a real
//! Prometheus scrapes it and runs the Grafana dashboard's queries.

mod support;

use std::time::Duration;

use support::Server;
use support::metrics::{Prometheus, promtool_check, sample};
use support::peers::wait_for;
use support::phone::{dial, hang_up, silence};

const OLENA: &str = "+380441234567";

#[test]
fn a_call_is_counted_active_while_it_lasts_then_finished_with_its_outcome() {
    let server = Server::start();
    let before = server.scrape();
    assert_eq!(sample(&before, "hotline_calls_active"), Some(0.0));
    let published = r#"hotline_flow_reloads_total{outcome="published"}"#;
    assert!(sample(&before, published) >= Some(1.0), "{before}");

    let mut caller = dial(&server, OLENA, &silence(server.dir.path(), 30));
    // Let the greeting play for a moment, so packets go both ways.
    std::thread::sleep(Duration::from_millis(1500));
    let during = server.scrape();
    assert_eq!(
        sample(&during, "hotline_calls_active"),
        Some(1.0),
        "{during}"
    );
    let invites = r#"hotline_sip_requests_total{method="INVITE",direction="received"}"#;
    assert_eq!(sample(&during, invites), Some(1.0), "{during}");
    let answered = r#"hotline_sip_responses_total{class="2xx",direction="sent"}"#;
    assert!(sample(&during, answered) >= Some(1.0), "{during}");
    let sent = r#"hotline_rtp_packets_total{direction="sent"}"#;
    let received = r#"hotline_rtp_packets_total{direction="received"}"#;
    // 1.5 s of 20 ms frames is 75 packets each way.
    assert!(sample(&during, sent) >= Some(50.0), "{during}");
    assert!(sample(&during, received) >= Some(50.0), "{during}");
    assert!(sample(&during, "hotline_media_tick_lateness_seconds_count") > Some(0.0));
    let lookups = r#"hotline_lookup_duration_seconds_count{kind="caller"}"#;
    assert_eq!(sample(&during, lookups), Some(1.0), "{during}");

    hang_up(&mut caller);
    let mut after = String::new();
    assert!(
        wait_for(Duration::from_secs(5), || {
            after = server.scrape();
            sample(&after, "hotline_calls_active") == Some(0.0)
        }),
        "the call stayed active:\n{after}"
    );
    // The caller hung up in the menu, before being served.
    let abandoned = r#"hotline_calls_total{outcome="abandoned"}"#;
    assert_eq!(sample(&after, abandoned), Some(1.0), "{after}");
    let finished: f64 = after
        .lines()
        .filter(|line| line.starts_with("hotline_calls_total{"))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(finished, 1.0, "one call, one outcome:\n{after}");
    let byes = r#"hotline_sip_requests_total{method="BYE",direction="received"}"#;
    assert_eq!(sample(&after, byes), Some(1.0), "{after}");
    // The demo flow registers no ticket for a caller who leaves the menu.
    assert_eq!(
        sample(&after, "hotline_tickets_pending"),
        Some(0.0),
        "{after}"
    );

    let lint = promtool_check(&after);
    assert!(lint.trim().is_empty(), "promtool: {lint}");

    let record = server.get_json("/calls");
    let call_id = record[0]["call_id"].as_str().unwrap_or_default();
    assert!(!call_id.is_empty(), "{record}");
    for text in [&during, &after] {
        assert!(!text.contains(&OLENA[1..]), "a phone number in /metrics");
        assert!(!text.contains(call_id), "a call id in /metrics");
    }
}

/// A real Prometheus scrapes the server through a call and sees it counted;
/// every query of the Grafana dashboard then runs on what it stored.
#[test]
fn prometheus_scrapes_a_call_and_every_dashboard_query_runs() {
    let server = Server::start();
    let prometheus = Prometheus::start(server.http);
    let stored = |expr: &str| {
        let answer = prometheus.query(expr);
        answer["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    };
    assert!(
        wait_for(Duration::from_secs(20), || stored(r#"up{job="hotline"}"#)
            .as_deref()
            == Some("1")),
        "Prometheus never scraped the server: {}",
        prometheus.query("up")
    );
    // Long enough for a scrape or two (one a second) to see the call active.
    let mut caller = dial(&server, OLENA, &silence(server.dir.path(), 30));
    std::thread::sleep(Duration::from_millis(2500));
    hang_up(&mut caller);
    assert!(
        wait_for(Duration::from_secs(20), || stored(
            r#"hotline_calls_total{outcome="abandoned"}"#
        )
        .as_deref()
            == Some("1")),
        "Prometheus did not store the finished call: {}",
        prometheus.query("hotline_calls_total")
    );
    assert_eq!(
        stored("max_over_time(hotline_calls_active[1m])").as_deref(),
        Some("1")
    );

    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_path("docs/grafana/hotline.json")).unwrap(),
    )
    .unwrap();
    let mut ran = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            // Grafana's variables as a user would leave them.
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$queue", ".*")
                .replace("$service_level", "20")
                .replace("$__range", "5m");
            let answer = prometheus.query(&expr);
            assert_eq!(
                answer["status"], "success",
                "{}: {expr}: {answer}",
                panel["title"]
            );
            ran += 1;
        }
    }
    assert!(ran >= 20, "{ran} queries");
    let version = prometheus.query("hotline_build_info");
    assert_eq!(
        version["data"]["result"][0]["metric"]["version"],
        env!("CARGO_PKG_VERSION")
    );
}
