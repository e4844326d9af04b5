use std::time::Duration;

use super::scrape::{Live, QueueNow, encode};
use super::*;
use crate::queue::{AgentId, CallerId, OfferId};
use crate::sip::message::{Request, Response as SipResponse};

/// The value of the sample written exactly as `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn request(method: &str) -> Message {
    let text = format!(
        "{method} sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
         From: <sip:+380441234567@127.0.0.1>;tag=a\r\nTo: <sip:ivr@127.0.0.1>\r\n\
         Call-ID: secret-call-id\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    crate::sip::parse(text.as_bytes()).expect("a valid request")
}

#[test]
fn sip_messages_are_counted_by_method_and_class_never_by_caller() {
    let metrics = Metrics::default();
    let invite = request("INVITE");
    metrics.sip.count(&invite, Direction::Received);
    metrics
        .sip
        .count(&request("FROBNICATE"), Direction::Received);
    let Message::Request(invite) = invite else {
        unreachable!()
    };
    let ringing: &Request = &invite;
    let busy = SipResponse::to_request(ringing, 486);
    metrics.sip.count(&Message::Response(busy), Direction::Sent);
    metrics.sip.register_failed("forbidden");

    let text = encode(&metrics, &Live::default());
    let invites = r#"hotline_sip_requests_total{method="INVITE",direction="received"}"#;
    assert_eq!(sample(&text, invites), Some(1.0));
    let other = r#"hotline_sip_requests_total{method="other",direction="received"}"#;
    assert_eq!(sample(&text, other), Some(1.0), "{text}");
    let busy = r#"hotline_sip_responses_total{class="4xx",direction="sent"}"#;
    assert_eq!(sample(&text, busy), Some(1.0));
    let refused = r#"hotline_register_failures_total{reason="forbidden"}"#;
    assert_eq!(sample(&text, refused), Some(1.0));
    assert!(!text.contains("380441234567") && !text.contains("secret-call-id"));
    assert!(!text.contains("FROBNICATE"));
}

#[test]
fn queue_answers_count_their_wait_and_abandons_count_apart() {
    let metrics = Metrics::default();
    let answered = |waited_ms| EventKind::Answered {
        queue: "support".into(),
        caller: CallerId(1),
        agent: AgentId("anna".into()),
        offer: OfferId(1),
        waited_ms,
        callback: false,
    };
    metrics.queue.record(&answered(12_000));
    metrics.queue.record(&answered(40_000));
    metrics.queue.record(&EventKind::Abandoned {
        queue: "support".into(),
        caller: CallerId(2),
        position: 1,
        waited_ms: 5_000,
    });

    let text = encode(&metrics, &Live::default());
    let support = r#"{queue="support"}"#;
    let answered = format!("hotline_queue_answered_total{support}");
    assert_eq!(sample(&text, &answered), Some(2.0));
    let abandoned = format!("hotline_queue_abandoned_total{support}");
    assert_eq!(sample(&text, &abandoned), Some(1.0));
    // Within 20 s: the 12 s answer only; the 40 s one is in the 45 s bucket.
    let within_20 = r#"hotline_queue_wait_seconds_bucket{queue="support",le="20"}"#;
    assert_eq!(sample(&text, within_20), Some(1.0), "{text}");
    let within_45 = r#"hotline_queue_wait_seconds_bucket{queue="support",le="45"}"#;
    assert_eq!(sample(&text, within_45), Some(2.0));
    let sum = format!("hotline_queue_wait_seconds_sum{support}");
    assert_eq!(sample(&text, &sum), Some(52.0));
}

#[test]
fn live_figures_show_with_every_agent_state_and_a_new_queue_at_zero() {
    let metrics = Metrics::default();
    let live = Live {
        calls_active: 3,
        calls_rejected: vec![("limit", 2), ("source_limit", 5), ("overload", 0)],
        queues: vec![QueueNow {
            name: "billing".into(),
            waiting: 2,
            longest_wait: Duration::from_millis(31_500),
        }],
        agents: [0, 1, 0, 2, 0, 1],
        tickets_pending: Some(4),
        ..Live::default()
    };
    let text = encode(&metrics, &live);
    assert_eq!(sample(&text, "hotline_calls_active"), Some(3.0));
    let limit = r#"hotline_calls_rejected_total{reason="limit"}"#;
    assert_eq!(sample(&text, limit), Some(2.0));
    let source = r#"hotline_calls_rejected_total{reason="source_limit"}"#;
    assert_eq!(sample(&text, source), Some(5.0));
    let waiting = r#"hotline_queue_waiting{queue="billing"}"#;
    assert_eq!(sample(&text, waiting), Some(2.0));
    let longest = r#"hotline_queue_longest_wait_seconds{queue="billing"}"#;
    assert_eq!(sample(&text, longest), Some(31.5));
    let answered = r#"hotline_queue_answered_total{queue="billing"}"#;
    assert_eq!(sample(&text, answered), Some(0.0));
    for (state, count) in [("logged_out", 0.0), ("on_call", 2.0), ("paused", 1.0)] {
        let series = format!("hotline_agents{{state=\"{state}\"}}");
        assert_eq!(sample(&text, &series), Some(count), "{state}");
    }
    assert_eq!(sample(&text, "hotline_tickets_pending"), Some(4.0));
    let version = format!(
        "hotline_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&text, &version), Some(1.0));
}

#[test]
fn tickets_pending_is_left_out_when_the_database_did_not_say() {
    let text = encode(&Metrics::default(), &Live::default());
    assert!(!text.contains("hotline_tickets_pending"));
    assert!(text.contains("# TYPE hotline_ticket_deliveries_total counter"));
}

#[test]
fn register_answers_other_than_ok_and_challenge_are_failures() {
    assert_eq!(register_failure(200), None);
    assert_eq!(register_failure(401), None);
    assert_eq!(register_failure(403), Some("forbidden"));
    assert_eq!(register_failure(503), Some("unavailable"));
    assert_eq!(register_failure(423), Some("invalid"));
}

/// Every metric the Grafana dashboard queries is one the server writes.
#[test]
fn the_dashboard_queries_only_metrics_the_server_writes() {
    let metrics = Metrics::default();
    metrics.sip.count(&request("INVITE"), Direction::Received);
    let Message::Request(invite) = request("INVITE") else {
        unreachable!()
    };
    let ok = SipResponse::to_request(&invite, 200);
    metrics.sip.count(&Message::Response(ok), Direction::Sent);
    metrics.sip.register_failed("forbidden");
    metrics.lookup_took("caller", Duration::from_millis(3));
    let finished = Outcome { outcome: "ended" };
    metrics.calls.finished.get_or_create(&finished).inc();
    let live = Live {
        calls_rejected: vec![("limit", 0)],
        sip_limited: vec![("rejected", 0)],
        queues: vec![QueueNow {
            name: "support".into(),
            waiting: 0,
            longest_wait: Duration::ZERO,
        }],
        tickets_pending: Some(0),
        ..Live::default()
    };
    let text = encode(&metrics, &live);
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();

    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/grafana/hotline.json")).unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names(expr) {
                queried += 1;
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .filter(|base| families.contains(base))
                    .unwrap_or(name);
                assert!(
                    families.contains(&family),
                    "{} queries {name}, which the server does not write",
                    panel["title"]
                );
            }
        }
    }
    assert!(queried >= 20, "the dashboard queries {queried} series");
}

/// The `hotline_…` metric names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("hotline_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(&tail[..end]);
        rest = &tail[end..];
    }
    names
}
