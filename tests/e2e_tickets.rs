//! Tickets under load and with a caller-chosen Call-ID, through real SIP:
//! SIPp callers press 3 (a line fault) and each is given their own ticket.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::databases;
use support::metrics::sample;
use support::peers::sipp;
use support::{Server, ServerOptions};

const OLENA: &str = "+380441234567";
const JOHN: &str = "+442071234567";

/// A `hotline … list --json` listing of the server's database.
fn listed(server: &Server, what: &str) -> Vec<serde_json::Value> {
    let output = server.cli(&[what, "list", "--json", "--limit", "100"]);
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"))
}

/// What each recorded call was told, by call record id: the digits of the
/// ticket number the flow read back (the call's `ticket` event, `line_repair 000007`).
fn numbers_told(server: &Server) -> BTreeMap<String, String> {
    listed(server, "calls")
        .iter()
        .filter_map(|call| {
            let told = call["events"].as_array()?.iter().find_map(|event| {
                let detail = event["detail"].as_str()?;
                let number = detail.strip_prefix("line_repair ")?;
                (event["kind"] == "ticket").then(|| number.to_owned())
            })?;
            Some((call["id"].as_str()?.to_owned(), told))
        })
        .collect()
}

/// The digits a caller hears of a ticket number: `T-000007` is read as 000007.
fn digits(number: &str) -> &str {
    number.trim_start_matches("T-")
}

/// Fifty callers press 3 within about 20 ms of each other.
fn fifty_callers_at_once(server: &Server) {
    let run = sipp(
        "line_fault_ticket.xml",
        server.sip,
        &[
            "-set", "caller", OLENA, "-m", "50", "-l", "50", "-r", "50", "-rp", "20",
        ],
    );
    assert!(run.success, "{}\n{}", run.output, server.log());
}

fn fifty_simultaneous_ticket_calls_give_fifty_tickets(server: &Server, kind: &str) {
    fifty_callers_at_once(server);
    let tickets = listed(server, "tickets");
    let numbers: BTreeSet<&str> = tickets
        .iter()
        .filter_map(|t| t["number"].as_str())
        .collect();
    assert_eq!(tickets.len(), 50, "{kind}: one ticket per caller");
    assert_eq!(numbers.len(), 50, "{kind}: no number given twice");
    let told = numbers_told(server);
    assert_eq!(
        told.len(),
        50,
        "{kind}: every caller was read a number: {told:?}"
    );
    let told: BTreeSet<&str> = told.values().map(String::as_str).collect();
    let registered: BTreeSet<&str> = numbers.iter().map(|n| digits(n)).collect();
    assert_eq!(
        told, registered,
        "{kind}: each caller was read their own ticket"
    );
    // With no CRM webhook configured, every ticket waits for delivery.
    let scraped = server.scrape();
    let pending = sample(&scraped, "hotline_tickets_pending");
    assert_eq!(pending, Some(50.0), "{kind}: {scraped}");
    let contained = r#"hotline_calls_total{outcome="ticket_registered"}"#;
    assert_eq!(sample(&scraped, contained), Some(50.0), "{kind}: {scraped}");
}

/// Fifty calls within 20 ms from one address is a trunk's load, not a flood:
/// the SIPp address is configured as the trusted trunk, as a deployment would.
const TRUSTED_TRUNK: &str = "[limits]\ntrusted = [\"127.0.0.1\"]\n";

#[test]
fn fifty_simultaneous_ticket_calls_on_sqlite_give_fifty_tickets() {
    let server = Server::start_with(ServerOptions {
        config: TRUSTED_TRUNK.to_owned(),
        ..ServerOptions::default()
    });
    fifty_simultaneous_ticket_calls_give_fifty_tickets(&server, "sqlite");
}

#[test]
fn fifty_simultaneous_ticket_calls_on_postgres_give_fifty_tickets() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(databases::postgres());
    let server = Server::start_with(ServerOptions {
        db: Some(database.url.clone()),
        config: TRUSTED_TRUNK.to_owned(),
        ..ServerOptions::default()
    });
    fifty_simultaneous_ticket_calls_give_fifty_tickets(&server, "postgres");
}

#[test]
fn two_customers_calling_with_the_same_call_id_get_two_tickets_each_read_their_own() {
    let server = Server::start();
    for caller in [OLENA, JOHN] {
        let run = sipp(
            "line_fault_ticket.xml",
            server.sip,
            &[
                "-set",
                "caller",
                caller,
                "-cid_str",
                "reused@pbx",
                "-m",
                "1",
            ],
        );
        assert!(run.success, "{}\n{}", run.output, server.log());
    }
    let calls = listed(&server, "calls");
    assert_eq!(calls.len(), 2);
    assert!(
        calls.iter().all(|c| c["sip_call_id"] == "reused@pbx"),
        "{calls:?}"
    );
    let tickets = listed(&server, "tickets");
    assert_eq!(tickets.len(), 2, "one ticket each: {tickets:?}");
    let told = numbers_told(&server);
    for call in &calls {
        let ticket = tickets
            .iter()
            .find(|t| t["phone"] == call["caller"])
            .unwrap_or_else(|| panic!("no ticket for {}: {tickets:?}", call["caller"]));
        assert_eq!(
            told.get(call["id"].as_str().unwrap()).map(String::as_str),
            ticket["number"].as_str().map(digits),
            "{} was read another caller's number",
            call["caller"]
        );
    }
}
