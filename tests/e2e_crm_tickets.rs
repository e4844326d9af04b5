//! Tickets into the company's CRM while the caller waits: Olena reports a line
//! fault from a real softphone and hears the CRM's own ticket number when its
//! API answers in time, hotline's number when it does not (the CRM's is kept
//! when it comes); and a hotline killed with `kill -9` mid-delivery delivers
//! the ticket after its restart, once, with the same idempotency key.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::audio::{best_match, prompt_sequence, read_wav};
use support::phone::{dial, silence};
use support::{Server, ServerOptions};

const OLENA: &str = "+380441234567";

/// What the test CRM's ticket API saw: every request's idempotency key, and
/// the tickets it accepted, one per key, with the number it gave each.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    accepted: BTreeMap<String, String>,
}

/// A CRM ticket API, `POST /api/tickets`, as a real one behaves: it commits
/// the ticket on arrival, recognises a repeated `Idempotency-Key` and answers
/// the first ticket's number (`CRM-555` for the first ticket), after `delay_ms`.
struct TicketCrm {
    url: String,
    seen: Arc<Mutex<Seen>>,
    delay_ms: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl TicketCrm {
    fn start(delay: Duration) -> TicketCrm {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let (sink, wait) = (Arc::clone(&seen), Arc::clone(&delay_ms));
        let app = axum::Router::new().route(
            "/api/tickets",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let (sink, wait) = (Arc::clone(&sink), Arc::clone(&wait));
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let number = {
                        let mut seen = sink.lock().unwrap();
                        seen.requests.push(key.clone());
                        let next = format!("CRM-{}", 555 + seen.accepted.len());
                        seen.accepted.entry(key).or_insert(next).clone()
                    };
                    let delay = wait.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    axum::Json(serde_json::json!({"ticket": {"id": number}}))
                }
            }),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/api/tickets", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        TicketCrm {
            url,
            seen,
            delay_ms,
            _runtime: runtime,
        }
    }

    fn answer_after(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().requests.clone()
    }

    fn accepted(&self) -> BTreeMap<String, String> {
        self.seen.lock().unwrap().accepted.clone()
    }
}

/// The demo's ticket types, a line repair waiting `wait_ms` for the CRM's
/// number, delivered to `url`, whose answers time out after `timeout_ms`.
fn config(url: &str, wait_ms: u64, timeout_ms: u64) -> String {
    format!(
        r#"
[[tickets.types]]
name = "line_repair"
priority = 2
sla_minutes = 2880
crm_wait_ms = {wait_ms}

[[tickets.types]]
name = "meter_reading"
fields = ["reading"]
sla_minutes = 1440

[[tickets.types]]
name = "callback"
fields = ["callback_number"]
sla_minutes = 240

[tickets.webhook]
url = "{url}"
secret = "s"
timeout_ms = {timeout_ms}
base_backoff_ms = 500
body = {{ subject = "{{kind}}", caller = "{{phone}}" }}
number_from = "/ticket/id"
"#
    )
}

/// Olena (a known caller, Ukrainian) calls, presses 3 for a line fault and
/// listens until the number has been read; what she heard.
fn olena_reports_a_line_fault(server: &Server) -> Vec<f32> {
    let mic = silence(server.dir.path(), 40);
    let mut phone = dial(server, OLENA, &mic);
    std::thread::sleep(Duration::from_millis(2500));
    phone.command("sndcode", "3");
    std::thread::sleep(Duration::from_secs(9));
    support::phone::hang_up(&mut phone);
    read_wav(&phone.recording().expect("a recording")).0
}

/// How closely "your ticket is registered, number …" with `digits` is in `heard`.
fn number_heard(heard: &[f32], digits: &str) -> f32 {
    let mut ids = vec!["hotline/ticket_registered".to_owned()];
    let number = hotline::say::Sayable::Digits(digits.into());
    ids.extend(hotline::say::expand("uk", &number).unwrap());
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    best_match(&prompt_sequence("uk", &ids), heard)
}

/// Asserts the caller heard the ticket number `digits`, and not `instead`.
fn assert_number_heard(heard: &[f32], digits: &str, instead: &str, server: &Server) {
    let right = number_heard(heard, digits);
    let wrong = number_heard(heard, instead);
    assert!(
        right >= 0.95 && right > wrong,
        "{digits} not heard: {right:.4} ({instead}: {wrong:.4})\n{}",
        server.log()
    );
}

/// hotline's tickets, as `hotline tickets list --json` gives them.
fn tickets(server: &Server) -> serde_json::Value {
    let listed = server.cli(&["tickets", "list", "--json"]);
    serde_json::from_slice(&listed.stdout).unwrap_or_default()
}

/// Waits until the only ticket has the CRM's number; the listing.
fn crm_number_stored(server: &Server, limit: Duration) -> serde_json::Value {
    let mut listed = serde_json::Value::Null;
    support::peers::wait_for(limit, || {
        listed = tickets(server);
        listed[0]["crm_number"].is_string()
    });
    listed
}

/// A hotline on `config` where Olena reports a line fault and hears the
/// CRM's number `crm_number` read as `digits` (not hotline's first number),
/// which hotline keeps with her ticket; the server and its tickets.
fn olena_hears_the_crms_number(
    config: String,
    crm_number: &str,
    digits: &str,
) -> (Server, serde_json::Value) {
    let server = Server::start_with(ServerOptions {
        config,
        ..ServerOptions::default()
    });
    let heard = olena_reports_a_line_fault(&server);
    let listed = crm_number_stored(&server, Duration::from_secs(5));
    let log = server.log();
    assert_eq!(listed[0]["crm_number"], crm_number, "{listed}\n{log}");
    assert_number_heard(&heard, digits, "000001", &server);
    (server, listed)
}

#[test]
fn a_caller_hears_the_crms_own_ticket_number_when_its_api_answers_in_time() {
    let crm = TicketCrm::start(Duration::from_millis(300));
    let (_server, listed) =
        olena_hears_the_crms_number(config(&crm.url, 2000, 5000), "CRM-555", "555");
    std::thread::sleep(Duration::from_secs(2)); // time for the worker to send it again, were it to
    let key = listed[0]["idempotency_key"].as_str().unwrap().to_owned();
    assert_eq!(crm.requests(), vec![key], "sent once");
    assert_eq!(listed[0]["delivery"], "delivered");
}

#[test]
fn a_caller_hears_hotlines_number_when_the_crm_is_slow_and_the_crms_is_stored_when_it_comes() {
    let crm = TicketCrm::start(Duration::from_secs(4));
    let server = Server::start_with(ServerOptions {
        config: config(&crm.url, 1500, 8000),
        ..ServerOptions::default()
    });
    let heard = olena_reports_a_line_fault(&server);
    assert_number_heard(&heard, "000001", "555", &server);
    let listed = crm_number_stored(&server, Duration::from_secs(10));
    assert_eq!(listed[0]["number"], "T-000001");
    assert_eq!(
        listed[0]["crm_number"],
        "CRM-555",
        "{listed}\n{}",
        server.log()
    );
    assert_eq!(listed[0]["delivery"], "delivered");
    assert_eq!(crm.requests().len(), 1, "the worker did not send it again");
}

#[test]
fn a_hotline_killed_mid_delivery_delivers_the_ticket_once_after_its_restart() {
    // The CRM takes the ticket and then holds its answer: hotline dies
    // waiting, in the send the caller waited 2 s for (or the worker's).
    let crm = TicketCrm::start(Duration::from_secs(60));
    let settings = config(&crm.url, 2000, 8000);
    let mut first = Server::start_with(ServerOptions {
        config: settings.clone(),
        ..ServerOptions::default()
    });
    let sip = first.sip;
    // The call goes on while hotline is killed under it; only its ticket matters.
    let caller = std::thread::spawn(move || {
        support::peers::sipp(
            "line_fault_ticket.xml",
            sip,
            &["-set", "caller", OLENA, "-m", "1"],
        )
    });
    assert!(
        support::peers::wait_for(Duration::from_secs(10), || crm.requests().len() == 1),
        "the ticket never reached the CRM:\n{}",
        first.log()
    );
    first.stop(); // SIGKILL, mid-delivery
    let _ = caller.join();
    let listed = tickets(&first);
    assert_eq!(listed[0]["delivery"], "pending", "{listed}");
    assert!(listed[0]["crm_number"].is_null());

    crm.answer_after(Duration::ZERO);
    let restarted = Server::start_with(ServerOptions {
        config: settings,
        db: Some(first.db_url()),
        ..ServerOptions::default()
    });
    let listed = crm_number_stored(&restarted, Duration::from_secs(30));
    assert_eq!(
        listed[0]["delivery"],
        "delivered",
        "{listed}\n{}",
        restarted.log()
    );
    std::thread::sleep(Duration::from_secs(2)); // time for a duplicate, were there one
    let key = listed[0]["idempotency_key"].as_str().unwrap().to_owned();
    let requests = crm.requests();
    assert!(requests.len() >= 2, "never sent again: {requests:?}");
    assert!(
        requests.iter().all(|sent| *sent == key),
        "every request carries the ticket's key {key}: {requests:?}"
    );
    let accepted = crm.accepted();
    assert_eq!(accepted.len(), 1, "one ticket in the CRM: {accepted:?}");
    assert_eq!(listed[0]["crm_number"], accepted[&key]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
}

/// A CRM database for one test, dropped after it.
enum CrmDatabase {
    MariaDb(support::databases::MariaDb),
    Postgres(support::databases::TestDatabase),
}

impl CrmDatabase {
    /// A MariaDB database whose service requests are numbered from 9001.
    async fn mariadb() -> CrmDatabase {
        use sqlx::Connection;
        let database = support::databases::mariadb().await;
        let mut crm = sqlx::MySqlConnection::connect(&database.url).await.unwrap();
        sqlx::query(
            "CREATE TABLE service_requests (req_no INT AUTO_INCREMENT PRIMARY KEY,
               ext_key VARCHAR(100) NOT NULL, topic VARCHAR(40), msisdn VARCHAR(20)) AUTO_INCREMENT = 9001",
        )
        .execute(&mut crm)
        .await
        .unwrap();
        CrmDatabase::MariaDb(database)
    }

    /// A second PostgreSQL database whose requests are numbered from 9001 and
    /// keyed by a unique column.
    async fn postgres() -> CrmDatabase {
        use sqlx::Connection;
        let database = support::databases::postgres().await;
        let mut crm = sqlx::PgConnection::connect(&database.url).await.unwrap();
        sqlx::query(
            "CREATE TABLE service_requests (req_no INT GENERATED BY DEFAULT AS IDENTITY (START WITH 9001) PRIMARY KEY,
               ext_key VARCHAR(100) NOT NULL UNIQUE, topic VARCHAR(40), msisdn VARCHAR(20))",
        )
        .execute(&mut crm)
        .await
        .unwrap();
        CrmDatabase::Postgres(database)
    }

    fn url(&self) -> &str {
        match self {
            CrmDatabase::MariaDb(database) => &database.url,
            CrmDatabase::Postgres(database) => &database.url,
        }
    }

    /// The idempotency keys of the requests in the CRM, and their topics.
    async fn requests(&self) -> Vec<(String, String)> {
        use sqlx::{Connection, Row};
        sqlx::any::install_default_drivers();
        let mut crm = sqlx::AnyConnection::connect(self.url()).await.unwrap();
        sqlx::query("SELECT ext_key, topic FROM service_requests")
            .fetch_all(&mut crm)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }
}

/// The demo's ticket types, a line repair waiting 2 s for the CRM's number,
/// inserted by `[tickets.sql]` (the `tickets_sql` lines) into the CRM at `url`.
fn sql_config(url: &str, tickets_sql: &str) -> String {
    let types = config("http://unused", 2000, 5000);
    let types = types.split("[tickets.webhook]").next().unwrap();
    format!(
        r#"
[[crm.sources]]
name = "billing"
kind = "sql"
url = "{url}"
{types}
[tickets.sql]
source = "billing"
base_backoff_ms = 500
{tickets_sql}
"#
    )
}

/// Olena reports a line fault: it lands in the CRM database once, she hears
/// the CRM's number `SR-9001` as 9001, and hotline keeps it. Sent again (as
/// after a crash between the CRM's commit and hotline's record of it), the
/// ticket is recognised and not inserted twice.
fn a_line_fault_lands_once_in_the_sql_crm(crm: &CrmDatabase, tickets_sql: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = sql_config(crm.url(), tickets_sql);
    let (server, listed) = olena_hears_the_crms_number(config, "SR-9001", "9001");
    assert_eq!(listed[0]["delivery"], "delivered");
    let key = listed[0]["idempotency_key"].as_str().unwrap().to_owned();
    let inserted = vec![(key.clone(), "line_repair".to_owned())];
    assert_eq!(runtime.block_on(crm.requests()), inserted);

    // hotline forgets that it delivered the ticket: its worker sends it again.
    runtime.block_on(async {
        use sqlx::Connection;
        let mut own = sqlx::SqliteConnection::connect(&server.db_url())
            .await
            .unwrap();
        sqlx::query("UPDATE tickets SET crm_number = NULL")
            .execute(&mut own)
            .await
            .unwrap();
        sqlx::query("UPDATE ticket_outbox SET delivered_at = NULL")
            .execute(&mut own)
            .await
            .unwrap();
    });
    let listed = crm_number_stored(&server, Duration::from_secs(10));
    assert_eq!(
        listed[0]["crm_number"],
        "SR-9001",
        "{listed}\n{}",
        server.log()
    );
    assert_eq!(listed[0]["delivery"], "delivered");
    assert_eq!(listed[0]["attempts"], 2, "{listed}");
    assert_eq!(runtime.block_on(crm.requests()), inserted, "inserted once");
}

#[test]
fn a_line_fault_lands_once_in_a_mariadb_crm_found_again_by_its_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let crm = runtime.block_on(CrmDatabase::mariadb());
    a_line_fault_lands_once_in_the_sql_crm(
        &crm,
        r#"insert = "INSERT INTO service_requests (ext_key, topic, msisdn) VALUES (?, ?, ?)"
params = ["idempotency_key", "kind", "phone"]
existing = "SELECT CONCAT('SR-', req_no) AS req FROM service_requests WHERE ext_key = ?"
number_column = "req""#,
    );
}

#[test]
fn a_line_fault_lands_once_in_a_postgres_crm_keyed_by_a_unique_column() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let crm = runtime.block_on(CrmDatabase::postgres());
    a_line_fault_lands_once_in_the_sql_crm(
        &crm,
        r#"insert = "INSERT INTO service_requests (ext_key, topic, msisdn) VALUES ($1, $2, $3) ON CONFLICT (ext_key) DO UPDATE SET ext_key = EXCLUDED.ext_key RETURNING 'SR-' || req_no AS req"
params = ["idempotency_key", "kind", "phone"]
"#,
    );
}
