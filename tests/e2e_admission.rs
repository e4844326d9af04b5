//! The database path under trouble, with SIPp as the callers: while the
//! database takes no writes, new calls are refused with 503 and the calls
//! already admitted keep their records; a server killed mid-call closes that
//! call as interrupted when it starts again.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::Connection;
use support::peers::{SippUas, sipp, wait_for};
use support::{Server, ServerOptions};

/// The Call-IDs SIPp logged as `answered` and as `refused`.
fn calls_logged(log: &std::path::Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut answered = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("answered"), Some(id)) => answered.insert(id.to_owned()),
            (Some("refused"), Some(id)) => refused.insert(id.to_owned()),
            _ => false,
        };
    }
    (answered, refused)
}

/// The SIP Call-IDs of the calls recorded as ended.
async fn ended_calls(url: &str) -> BTreeSet<String> {
    let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT sip_call_id FROM calls WHERE ended_at IS NOT NULL")
        .fetch_all(&mut db)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn with_the_database_taking_no_writes_new_calls_get_503_and_admitted_calls_keep_their_records() {
    let server = Server::start_with(ServerOptions {
        config: "[admission]\nmax_record_backlog = 12\n".into(),
        ..ServerOptions::default()
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = server.db_url();
    // Another writer holds SQLite's write lock: the record writer's
    // transactions wait and fail, and its backlog grows. Lookups still read.
    let mut blocker = runtime
        .block_on(sqlx::SqliteConnection::connect(&url))
        .unwrap();
    runtime
        .block_on(sqlx::query("BEGIN IMMEDIATE").execute(&mut blocker))
        .unwrap();

    let log = server.dir.path().join("sipp-calls.log");
    let log_arg = log.display().to_string();
    let run = sipp(
        "cps_caller.xml",
        server.sip,
        &[
            "-m",
            "30",
            "-r",
            "10",
            "-l",
            "30",
            "-trace_logs",
            "-log_file",
            &log_arg,
        ],
    );
    assert!(
        run.success,
        "SIPp failed:\n{}\n--- hotline log ---\n{}",
        run.output,
        server.log()
    );
    let (answered, refused) = calls_logged(&log);
    assert_eq!(answered.len() + refused.len(), 30, "{}", run.output);
    assert!(
        !answered.is_empty(),
        "the first calls are admitted:\n{}",
        server.log()
    );
    assert!(
        !refused.is_empty(),
        "calls are refused once the backlog passes its limit"
    );
    let status = server.get_json("/status");
    assert_eq!(
        status["sip_limits"]["calls_refused_record_backlog"],
        refused.len(),
        "{status}"
    );
    assert!(
        status["records"]["backlog"].as_u64().unwrap() > 12,
        "{status}"
    );
    assert!(runtime.block_on(ended_calls(&url)).is_empty());

    // The database takes writes again: everything held is written.
    runtime
        .block_on(sqlx::query("ROLLBACK").execute(&mut blocker))
        .unwrap();
    let drained = wait_for(Duration::from_secs(15), || {
        server.get_json("/status")["records"]["backlog"] == 0
    });
    assert!(drained, "the backlog drains:\n{}", server.log());
    let recorded = runtime.block_on(ended_calls(&url));
    let missing: Vec<&String> = answered.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "admitted calls without a record: {missing:?}"
    );

    // And new calls are admitted again.
    let again = sipp("uac", server.sip, &["-m", "1", "-d", "500"]);
    assert!(again.success, "{}\n{}", again.output, server.log());
}

#[test]
fn a_call_open_when_the_server_was_killed_is_closed_as_interrupted_at_the_next_start() {
    let mut first = Server::start();
    let url = first.db_url();
    let sip = first.sip.to_string();
    // A caller that stays on the line, ended (by PID) when the test ends.
    let _caller = SippUas::start_with("uac", &[&sip, "-d", "20000"]);
    let recorded = wait_for(Duration::from_secs(10), || {
        let status = first.get_json("/status");
        status["calls_active"] == 1 && status["records"]["written"].as_u64() > Some(0)
    });
    assert!(recorded, "the call is recorded:\n{}", first.log());
    first.stop();

    let second = Server::start_with(ServerOptions {
        db: Some(url.clone()),
        ..ServerOptions::default()
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (outcome, ended): (Option<String>, Option<i64>) = runtime.block_on(async {
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as("SELECT outcome, ended_at FROM calls")
            .fetch_one(&mut db)
            .await
            .unwrap()
    });
    assert_eq!(outcome.as_deref(), Some("interrupted"), "{}", second.log());
    assert!(ended.is_some());
}
