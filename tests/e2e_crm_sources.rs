//! The company's own CRM, where it lives: Olena calls from a real softphone,
//! is identified from a MariaDB or a second PostgreSQL database whose schema
//! is not hotline's, hears her balance from it and reports a line fault under
//! the CRM's customer number; an HTTP CRM that turns
//! slow and then fails gives callers the fallback within the lookup's timeout,
//! opens its circuit, and closes it again when it answers.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use support::audio::{best_match, prompt_sequence, read_wav};
use support::databases;
use support::phone::{dial, silence};
use support::{Server, ServerOptions};

const OLENA: &str = "+380441234567";

/// Olena's balance in the CRM: not the demo's, so hearing it proves where it came from.
const CRM_BALANCE_MINOR: i64 = 234_567;

/// The words of Olena's CRM balance in Ukrainian, after "your balance is".
fn balance_heard() -> Vec<String> {
    let money = hotline::say::Sayable::Money {
        minor_units: CRM_BALANCE_MINOR,
        currency: "UAH".into(),
    };
    let mut ids = vec!["hotline/balance_is".to_owned()];
    ids.extend(hotline::say::expand("uk", &money).unwrap());
    ids
}

/// Asserts the phone's recording holds `ids` of `language` back to back.
fn assert_heard(recording: &std::path::Path, language: &str, ids: &[String], server: &Server) {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let heard = read_wav(recording).0;
    let score = best_match(&prompt_sequence(language, &ids), &heard);
    assert!(
        score >= 0.95,
        "{ids:?} not heard: correlation {score:.4}\n{}",
        server.log()
    );
}

/// A CRM schema unlike hotline's: clients with their numbers and a ledger.
const CRM_SCHEMA: [&str; 3] = [
    "CREATE TABLE clients (client_no VARCHAR(20) PRIMARY KEY, full_name VARCHAR(100), lang VARCHAR(2))",
    "CREATE TABLE client_numbers (msisdn VARCHAR(20) PRIMARY KEY, client_no VARCHAR(20))",
    "CREATE TABLE ledger (client_no VARCHAR(20) PRIMARY KEY, balance DECIMAL(12,2), cur VARCHAR(3))",
];
const CRM_DATA: [&str; 3] = [
    "INSERT INTO clients VALUES ('K-7781', 'Olena Kovalenko', 'uk')",
    "INSERT INTO client_numbers VALUES ('+380441234567', 'K-7781')",
    "INSERT INTO ledger VALUES ('K-7781', 2345.67, 'UAH')",
];

/// The `[crm]` source and the two lookups that read it; `?` or `$1` placeholders,
/// and the cast that gives a DECIMAL as text, as the database spells them.
fn sql_crm_config(url: &str, placeholder: &str, decimal_as_text: &str) -> String {
    format!(
        r#"
[database]
seed_demo = false

[[crm.sources]]
name = "billing"
kind = "sql"
url = "{url}"
pool_size = 2

[[lookups]]
name = "caller_by_number"
source = "billing"
sql = "SELECT c.client_no, c.lang FROM client_numbers n JOIN clients c ON c.client_no = n.client_no WHERE n.msisdn = {placeholder}"
params = ["phone"]
sample = {{ phone = "{OLENA}" }}
fields = {{ customer = {{ type = "text", from = "client_no" }}, language = {{ type = "text", from = "lang" }} }}

[[lookups]]
name = "balance"
source = "billing"
sql = "SELECT {decimal_as_text} AS amount, cur FROM ledger WHERE client_no = {placeholder}"
params = ["customer"]
sample = {{ customer = "K-7781" }}
fields = {{ amount = {{ type = "money", currency_from = "cur" }} }}
"#,
        decimal_as_text = decimal_as_text.replace("{}", "balance"),
    )
}

/// Olena, unknown to hotline's own (empty) database, calls and presses 1.
fn olena_hears_her_balance_from(crm_config: String) {
    let server = Server::start_with(ServerOptions {
        config: crm_config,
        ..ServerOptions::default()
    });
    let check = server.cli(&["crm", "check"]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}\n{check:?}");
    assert!(
        report.contains("amount       money    ••••.67 UAH"),
        "{report}"
    );
    assert!(
        !report.contains("Olena") && !report.contains("2345"),
        "{report}"
    );

    let mic = silence(server.dir.path(), 40);
    let mut phone = dial(&server, OLENA, &mic);
    std::thread::sleep(Duration::from_millis(2500));
    phone.command("sndcode", "1");
    std::thread::sleep(Duration::from_secs(8));
    // A line fault: the ticket names her by the CRM's own customer number.
    phone.command("sndcode", "3");
    std::thread::sleep(Duration::from_secs(6));
    support::phone::hang_up(&mut phone);
    let recording = phone.recording().expect("a recording");
    // Known from the CRM, so no language menu: she hears the balance in Ukrainian.
    assert_heard(&recording, "uk", &balance_heard(), &server);
    let events = server.last_call_events();
    assert!(
        events.iter().any(|e| e == "lookup balance found"),
        "{events:?}\n{}",
        server.log()
    );
    let listed = server.cli(&["tickets", "list", "--json"]);
    let tickets: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        tickets.as_array().map(Vec::len),
        Some(1),
        "{tickets}\n{}",
        server.log()
    );
    assert_eq!(tickets[0]["kind"], "line_repair");
    assert_eq!(tickets[0]["fields"]["crm_customer"], "K-7781", "{tickets}");
    assert!(
        events.iter().any(|e| e.starts_with("ticket line_repair ")),
        "{events:?}"
    );
}

#[test]
fn olena_identified_from_a_mariadb_crm_hears_her_balance_from_it_and_reports_a_fault_under_its_number()
 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let crm = runtime.block_on(async {
        let crm = databases::mariadb().await;
        let mut connection = sqlx::MySqlConnection::connect(&crm.url).await.unwrap();
        for statement in CRM_SCHEMA.iter().chain(&CRM_DATA) {
            sqlx::query(statement)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        crm
    });
    olena_hears_her_balance_from(sql_crm_config(&crm.url, "?", "CAST({} AS CHAR)"));
}

#[test]
fn olena_identified_from_a_second_postgres_database_hears_her_balance_from_it_and_reports_a_fault_under_its_number()
 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let crm = runtime.block_on(databases::postgres());
    runtime.block_on(async {
        let mut connection = sqlx::PgConnection::connect(&crm.url).await.unwrap();
        for statement in CRM_SCHEMA.iter().chain(&CRM_DATA) {
            sqlx::query(statement)
                .execute(&mut connection)
                .await
                .unwrap();
        }
    });
    olena_hears_her_balance_from(sql_crm_config(&crm.url, "$1", "{}::text"));
}

/// What the test CRM does with each request.
const NORMAL: u8 = 0;
const SLOW: u8 = 1;
const DOWN: u8 = 2;

/// A small REST CRM: `GET /api/balance?msisdn=…` answers Olena's balance,
/// slowly or with 503 when told to; it counts the requests that reach it.
struct RestCrm {
    base_url: String,
    mode: Arc<AtomicU8>,
    requests: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl RestCrm {
    fn start() -> RestCrm {
        use axum::extract::{Query, State};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mode = Arc::new(AtomicU8::new(NORMAL));
        let requests = Arc::new(AtomicUsize::new(0));
        type Shared = (Arc<AtomicU8>, Arc<AtomicUsize>);
        async fn balance(
            State((mode, requests)): State<Shared>,
            Query(query): Query<std::collections::HashMap<String, String>>,
        ) -> axum::response::Response {
            requests.fetch_add(1, Ordering::SeqCst);
            match mode.load(Ordering::SeqCst) {
                SLOW => tokio::time::sleep(Duration::from_secs(10)).await,
                DOWN => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
                _ => {}
            }
            if query.get("msisdn").map(String::as_str) != Some(OLENA) {
                return StatusCode::NOT_FOUND.into_response();
            }
            let body = serde_json::json!({"account": {"balance": "2345.67", "currency": "UAH"}});
            axum::Json(body).into_response()
        }
        let app = axum::Router::new()
            .route("/api/balance", axum::routing::get(balance))
            .with_state((Arc::clone(&mode), Arc::clone(&requests)));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base_url = format!("http://{}/api", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        RestCrm {
            base_url,
            mode,
            requests,
            _runtime: runtime,
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The flow: a greeting, then the balance from the REST CRM within 2 s, else
/// the "CRM down" message; a goodbye, so the phone has played all of it when hotline hangs up.
const REST_FLOW: &str = "id: hotline
default_language: uk
languages: [uk]
start: welcome
nodes:
  welcome:
    play: { prompts: [hotline/greeting], next: balance }
  balance:
    lookup: { name: crm_balance, params: { phone: caller }, timeout: 2, next: say_balance, on_error: crm_down }
  say_balance:
    say: { parts: [ { prompt: hotline/balance_is }, { money: crm_balance.amount } ], next: goodbye }
  crm_down:
    play: { prompts: [hotline/crm_down], next: goodbye }
  goodbye:
    play: { prompts: [hotline/goodbye], next: bye }
  bye:
    hangup: {}
";

/// One call from Olena until hotline hangs up: how long it lasted and what she heard.
fn call_until_hangup(server: &Server) -> (Duration, std::path::PathBuf, support::peers::Baresip) {
    let mic = silence(server.dir.path(), 30);
    let mut phone = dial(server, OLENA, &mic);
    let answered = Instant::now();
    let closed = phone.wait_event("CALL_CLOSED", Duration::from_secs(20));
    assert!(closed.is_some(), "hotline never hung up:\n{}", server.log());
    let lasted = answered.elapsed();
    let recording = phone.recording().expect("a recording");
    (lasted, recording, phone)
}

/// The source's circuit as the admin API shows it.
fn circuit(server: &Server) -> String {
    let status = server.get_json("/status");
    status["crm_sources"][0]["circuit"]
        .as_str()
        .unwrap_or_else(|| panic!("no crm_sources in {status}"))
        .to_owned()
}

#[test]
fn a_slow_then_failing_rest_crm_gives_the_fallback_in_time_and_its_circuit_opens_and_closes() {
    let crm = RestCrm::start();
    let flows = tempfile::tempdir().unwrap();
    std::fs::write(flows.path().join("hotline.yaml"), REST_FLOW).unwrap();
    let config = format!(
        r#"
[[crm.sources]]
name = "rest"
kind = "http"
base_url = "{}"
headers = {{ Authorization = "Bearer ${{CRM_TEST_TOKEN}}" }}
timeout_ms = 5000
retries = 1
circuit = {{ failures_to_open = 2, cool_down_ms = 12000 }}

[[lookups]]
name = "crm_balance"
source = "rest"
path = "balance?msisdn={{phone}}"
params = ["phone"]
fields = {{ amount = {{ type = "money", from = "/account/balance", currency_from = "/account/currency" }} }}
"#,
        crm.base_url
    );
    // SAFETY: set before any thread of this test reads the environment;
    // the server child process inherits it.
    unsafe { std::env::set_var("CRM_TEST_TOKEN", "t0ken-never-logged") };
    let server = Server::start_with(ServerOptions {
        config,
        flows: Some(flows.path().to_owned()),
        ..ServerOptions::default()
    });
    let crm_down = prompt_sequence("uk", &["hotline/crm_down"]);
    let others = prompt_sequence("uk", &["hotline/greeting", "hotline/goodbye"]);
    let prompts_length = Duration::from_secs_f64((crm_down.len() + others.len()) as f64 / 8000.0);

    // Answering: she hears her balance from the CRM.
    let (_, recording, _phone) = call_until_hangup(&server);
    assert_heard(&recording, "uk", &balance_heard(), &server);
    assert_eq!(circuit(&server), "closed");

    // Slow: the lookup gives up at the flow's 2 s, not the CRM's 10 s.
    crm.set(SLOW);
    let (lasted, recording, _phone) = call_until_hangup(&server);
    assert_heard(&recording, "uk", &["hotline/crm_down".to_owned()], &server);
    let fallback = lasted.saturating_sub(prompts_length);
    assert!(
        fallback >= Duration::from_millis(1800) && fallback <= Duration::from_millis(3500),
        "the fallback came {fallback:?} after the answer, not at the lookup's 2 s"
    );

    // Failing: the second failure in a row opens the circuit.
    crm.set(DOWN);
    let (_, recording, _phone) = call_until_hangup(&server);
    let opened_by = Instant::now();
    assert_heard(&recording, "uk", &["hotline/crm_down".to_owned()], &server);
    assert_eq!(circuit(&server), "open", "{}", server.log());

    // Open: the next caller hears the fallback at once and the CRM is not asked.
    let asked = crm.requests();
    let (lasted, recording, _phone) = call_until_hangup(&server);
    assert_heard(&recording, "uk", &["hotline/crm_down".to_owned()], &server);
    assert_eq!(crm.requests(), asked, "an open circuit still asked the CRM");
    let fallback = lasted.saturating_sub(prompts_length);
    assert!(
        fallback <= Duration::from_millis(1200),
        "with the circuit open the fallback took {fallback:?}"
    );

    // Back: after the cool-down one probe goes through and closes the circuit.
    crm.set(NORMAL);
    std::thread::sleep(
        (opened_by + Duration::from_secs(12)).saturating_duration_since(Instant::now()),
    );
    let (_, recording, _phone) = call_until_hangup(&server);
    assert_heard(&recording, "uk", &balance_heard(), &server);
    assert_eq!(circuit(&server), "closed");
    let log = server.log();
    assert!(!log.contains("t0ken-never-logged"), "the secret was logged");
}

/// What the test CRM's ticket API received: the Idempotency-Key, the Authorization and the body.
type Received = Arc<std::sync::Mutex<Vec<(String, String, serde_json::Value)>>>;

/// A CRM ticket API: `POST /api/tickets` answers `{"ticket": {"id": "CRM-555"}}`.
fn ticket_api(runtime: &tokio::runtime::Runtime) -> (String, Received) {
    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/api/tickets",
        axum::routing::post(
            move |headers: axum::http::HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let sink = Arc::clone(&sink);
                async move {
                    let header = |name: &str| {
                        let value = headers.get(name).and_then(|v| v.to_str().ok());
                        value.unwrap_or_default().to_owned()
                    };
                    let key = header("idempotency-key");
                    sink.lock()
                        .unwrap()
                        .push((key, header("authorization"), body));
                    axum::Json(serde_json::json!({"ticket": {"id": "CRM-555"}}))
                }
            },
        ),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/api/tickets", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[test]
fn a_line_fault_reaches_the_crms_own_api_once_with_its_key_and_the_crms_number_is_kept() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (url, received) = ticket_api(&runtime);
    let config = format!(
        r#"
[tickets.webhook]
url = "{url}"
secret = "s"
headers = {{ Authorization = "Bearer ${{CRM_TICKET_TOKEN}}" }}
body = {{ subject = "{{kind}}", caller = "{{phone}}", external_ref = "{{number}}" }}
number_from = "/ticket/id"
"#
    );
    // SAFETY: set before the server starts; only the child process reads it.
    unsafe { std::env::set_var("CRM_TICKET_TOKEN", "ticket-t0ken") };
    let server = Server::start_with(ServerOptions {
        config,
        ..ServerOptions::default()
    });
    let run = support::peers::sipp(
        "line_fault_ticket.xml",
        server.sip,
        &["-set", "caller", OLENA, "-m", "1"],
    );
    assert!(run.success, "{}\n{}", run.output, server.log());
    let mut tickets = serde_json::Value::Null;
    support::peers::wait_for(Duration::from_secs(10), || {
        let listed = server.cli(&["tickets", "list", "--json"]);
        tickets = serde_json::from_slice(&listed.stdout).unwrap_or_default();
        tickets[0]["crm_number"].is_string()
    });
    assert_eq!(
        tickets[0]["crm_number"],
        "CRM-555",
        "{tickets}\n{}",
        server.log()
    );
    assert_eq!(tickets[0]["delivery"], "delivered");
    std::thread::sleep(Duration::from_secs(2)); // time for a duplicate, were there one
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "delivered once: {received:?}");
    let (key, authorization, body) = &received[0];
    assert_eq!(key, tickets[0]["idempotency_key"].as_str().unwrap());
    assert_eq!(authorization, "Bearer ticket-t0ken");
    let expected = serde_json::json!({
        "subject": "line_repair",
        "caller": OLENA,
        "external_ref": tickets[0]["number"],
    });
    assert_eq!(body, &expected);
    assert!(
        !server.log().contains("ticket-t0ken"),
        "the secret was logged"
    );
}

#[test]
fn a_crm_database_down_at_start_up_does_not_stop_hotline_and_callers_are_still_answered() {
    let closed = support::free_tcp_port();
    let config = sql_crm_config(
        &format!("mysql://root@{closed}/crm"),
        "?",
        "CAST({} AS CHAR)",
    );
    let server = Server::start_with(ServerOptions {
        config,
        ..ServerOptions::default()
    });
    let check = server.cli(&["crm", "check"]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success(), "{report}");
    assert!(
        report.contains("source billing (sql): cannot connect"),
        "{report}"
    );

    // Not identified, Olena is greeted and asked for her language, as any unknown caller.
    let mic = silence(server.dir.path(), 20);
    let mut phone = dial(&server, OLENA, &mic);
    std::thread::sleep(Duration::from_secs(6));
    support::phone::hang_up(&mut phone);
    let recording = phone.recording().expect("a recording");
    assert_heard(&recording, "en", &["hotline/greeting".to_owned()], &server);
}
