//! Tickets registered exactly once and delivered to the CRM exactly once in
//! effect, on SQLite and PostgreSQL.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hotline::crm::delivery::{Target, WebhookSettings, signature};
use hotline::crm::tickets::{NewTicket, Ticket, TicketError, demo_ticket_types};
use hotline::crm::{Db, new_id};
use support::databases;
use support::receiver::{Behaviour, Receiver};

async fn olena(db: &Db) -> String {
    db.seed_demo().await.unwrap();
    db.find_customer_by_phone("+380441234567", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap()
        .id
}

fn request(call: &str, kind: &str, customer: &str, fields: &[(&str, &str)]) -> NewTicket {
    NewTicket {
        call_id: call.into(),
        kind: kind.into(),
        customer_id: Some(customer.into()),
        phone: "+380441234567".into(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn webhook(url: &str, max_attempts: i32) -> WebhookSettings {
    WebhookSettings {
        url: url.into(),
        secret: "s3cret".into(),
        max_attempts,
        base_backoff_ms: 1,
        max_backoff_ms: 2,
        timeout_ms: 5_000,
        concurrency: 4,
        body: None,
        method: None,
        headers: Default::default(),
        number_from: None,
    }
}

/// The numbers of the tickets the registrations `calls` made; every one must succeed.
async fn numbers_of(
    calls: impl IntoIterator<Item = tokio::task::JoinHandle<Result<Ticket, TicketError>>>,
    kind: &str,
) -> BTreeSet<String> {
    let mut numbers = BTreeSet::new();
    for call in calls {
        let ticket = call.await.unwrap();
        numbers.insert(ticket.unwrap_or_else(|e| panic!("{kind}: {e}")).number);
    }
    numbers
}

#[tokio::test]
async fn concurrent_retries_of_one_request_make_one_ticket() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let types = demo_ticket_types();
        let attempts = (0..8).map(|_| {
            let db = db.clone();
            let types = types.clone();
            let request = request("call-1", "line_repair", &customer, &[]);
            tokio::spawn(async move { db.register_ticket(&request, &types).await })
        });
        let mut numbers = BTreeSet::new();
        for attempt in attempts {
            numbers.insert(attempt.await.unwrap().unwrap().number);
        }
        assert_eq!(numbers.len(), 1, "{}: {numbers:?}", database.kind);
        assert_eq!(
            db.list_tickets(10).await.unwrap().len(),
            1,
            "{}",
            database.kind
        );
        let other = db
            .register_ticket(&request("call-2", "line_repair", &customer, &[]), &types)
            .await
            .unwrap();
        assert_ne!(
            Some(&other.number),
            numbers.first(),
            "another call, another ticket"
        );
        assert!(other.number.starts_with("T-0000"), "{}", other.number);
    }
}

#[tokio::test]
async fn many_calls_registering_at_once_beside_other_writers_all_get_their_ticket() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let types = demo_ticket_types();
        // Other writers at the same time: the call record, as during real calls.
        let call = new_id();
        db.start_call(&call, "busy@test", "+380441234567", None)
            .await
            .unwrap();
        let writer = {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    db.record_call_event(&call, "digit", &format!("{i}"))
                        .await
                        .unwrap();
                }
            })
        };
        let calls = (0..16).map(|i| {
            let db = db.clone();
            let types = types.clone();
            let request = request(&format!("call-{i}"), "line_repair", &customer, &[]);
            tokio::spawn(async move { db.register_ticket(&request, &types).await })
        });
        let numbers = numbers_of(calls, database.kind).await;
        writer.await.unwrap();
        assert_eq!(numbers.len(), 16, "{}: one ticket per call", database.kind);
    }
}

#[tokio::test]
async fn a_meter_reading_below_the_last_one_is_refused_and_a_valid_one_is_kept() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let types = demo_ticket_types();
        let low = db
            .register_ticket(
                &request("c1", "meter_reading", &customer, &[("reading", "11999")]),
                &types,
            )
            .await;
        assert!(
            matches!(
                low,
                Err(TicketError::Rejected {
                    reason: "reading_below_last"
                })
            ),
            "{}: {low:?}",
            database.kind
        );
        let ok = db
            .register_ticket(
                &request("c2", "meter_reading", &customer, &[("reading", "12345")]),
                &types,
            )
            .await;
        assert_eq!(ok.unwrap().fields["reading"], "12345");
        // The accepted reading is now the last one.
        let again = db
            .register_ticket(
                &request("c3", "meter_reading", &customer, &[("reading", "12100")]),
                &types,
            )
            .await;
        assert!(
            matches!(again, Err(TicketError::Rejected { .. })),
            "{}",
            database.kind
        );
        assert_eq!(
            db.list_tickets(10).await.unwrap().len(),
            1,
            "refused readings make no ticket"
        );
    }
}

#[tokio::test]
async fn undeclared_types_and_missing_fields_are_refused_by_name() {
    let database = databases::sqlite();
    let db = Db::connect(&database.url).await.unwrap();
    let customer = olena(&db).await;
    let types = demo_ticket_types();
    let unknown = db
        .register_ticket(&request("c", "coffee", &customer, &[]), &types)
        .await
        .unwrap_err();
    assert_eq!(unknown.to_string(), "unknown ticket type `coffee`");
    let missing = db
        .register_ticket(&request("c", "callback", &customer, &[]), &types)
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "ticket type `callback` needs field `callback_number`"
    );
}

#[tokio::test]
async fn a_ticket_reaches_a_failing_crm_once_it_recovers_with_one_key_and_a_valid_signature() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let ticket = db
            .register_ticket(
                &request("call-9", "line_repair", &customer, &[]),
                &demo_ticket_types(),
            )
            .await
            .unwrap();
        let receiver = Receiver::start(Behaviour {
            fail_first: 2,
            ..Behaviour::default()
        })
        .await;
        let settings = webhook(&receiver.url, 10);
        let client = reqwest::Client::new();
        let mut delivered = 0;
        for _ in 0..20 {
            delivered += db.deliver_due(&client, &settings).await.unwrap();
            if delivered > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(delivered, 1, "{}", database.kind);
        let seen = receiver.deliveries();
        assert_eq!(seen.len(), 3, "two failures, then success");
        assert!(
            seen.iter()
                .all(|d| d.idempotency_key == ticket.idempotency_key)
        );
        assert!(
            seen.iter()
                .all(|d| d.signature == signature("s3cret", &d.body))
        );
        let body: serde_json::Value = serde_json::from_slice(&seen[2].body).unwrap();
        assert_eq!(body["number"], ticket.number.as_str());
        assert_eq!(
            db.deliver_due(&client, &settings).await.unwrap(),
            0,
            "delivered means not sent again"
        );
        assert_eq!(db.list_tickets(1).await.unwrap()[0].delivery, "delivered");
    }
}

#[tokio::test]
async fn a_ticket_the_crm_keeps_refusing_goes_to_the_dead_letter_state() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        db.register_ticket(
            &request("call-7", "line_repair", &customer, &[]),
            &demo_ticket_types(),
        )
        .await
        .unwrap();
        let receiver = Receiver::start(Behaviour {
            fail_first: usize::MAX,
            ..Behaviour::default()
        })
        .await;
        let settings = webhook(&receiver.url, 3);
        let client = reqwest::Client::new();
        for _ in 0..10 {
            db.deliver_due(&client, &settings).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            receiver.deliveries().len(),
            3,
            "{}: max_attempts",
            database.kind
        );
        let listed = &db.list_tickets(1).await.unwrap()[0];
        assert_eq!(listed.delivery, "dead_letter");
        assert_eq!(
            listed.last_error.as_deref(),
            Some("HTTP 500 Internal Server Error")
        );
    }
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_delivers_after_restart_with_the_same_key() {
    let database = databases::sqlite();
    let db = Db::connect(&database.url).await.unwrap();
    let customer = olena(&db).await;
    let ticket = db
        .register_ticket(
            &request("call-k", "line_repair", &customer, &[]),
            &demo_ticket_types(),
        )
        .await
        .unwrap();
    // The CRM takes the first POST but answers it only after 3 s: the worker
    // is killed in between, before it could record the delivery.
    let receiver = Receiver::start(Behaviour {
        delay_first: Some(Duration::from_secs(3)),
        ..Behaviour::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "[tickets.webhook]\nurl = \"{}\"\nsecret = \"s3cret\"\nbase_backoff_ms = 1\ntimeout_ms = 1000\n",
            receiver.url
        ),
    )
    .unwrap();
    let worker = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["tickets", "--config"])
            .arg(&config)
            .args(["--db", &database.url, "deliver"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = worker();
    for _ in 0..100 {
        if !receiver.deliveries().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        receiver.deliveries().len(),
        1,
        "the first worker posted the ticket"
    );
    first.kill().unwrap(); // SIGKILL: no chance to clean up
    first.wait().unwrap();
    assert_eq!(db.list_tickets(1).await.unwrap()[0].delivery, "pending");
    let mut second = worker();
    let mut delivered = false;
    for _ in 0..100 {
        if db.list_tickets(1).await.unwrap()[0].delivery == "delivered" {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(delivered, "not delivered after restart");
    let keys: BTreeSet<String> = receiver
        .deliveries()
        .into_iter()
        .map(|d| d.idempotency_key)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([ticket.idempotency_key]),
        "the receiver saw one ticket, by one key"
    );
}

#[tokio::test]
async fn fifty_calls_registering_at_the_same_instant_get_fifty_consecutive_numbers() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let types = demo_ticket_types();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(50));
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (db, types, start) = (db.clone(), types.clone(), start.clone());
                let request = request(&new_id(), "line_repair", &customer, &[]);
                tokio::spawn(async move {
                    start.wait().await;
                    db.register_ticket(&request, &types).await
                })
            })
            .collect();
        let numbers = numbers_of(calls, database.kind).await;
        let expected: BTreeSet<String> = (1..=50).map(|n| format!("T-{n:06}")).collect();
        assert_eq!(
            numbers, expected,
            "{}: no number taken twice, none skipped",
            database.kind
        );
    }
}

#[tokio::test]
async fn a_crm_hanging_on_one_ticket_still_receives_the_others_and_the_hung_one_says_timeout() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let mut numbers = Vec::new();
        for _ in 0..6 {
            let request = request(&new_id(), "line_repair", &customer, &[]);
            let ticket = db
                .register_ticket(&request, &demo_ticket_types())
                .await
                .unwrap();
            numbers.push(ticket.number);
        }
        let hung = numbers[0].clone();
        let receiver = Receiver::start(Behaviour {
            hang_on: Some(hung.clone()),
            ..Behaviour::default()
        })
        .await;
        let settings = WebhookSettings {
            timeout_ms: 5_000,
            concurrency: 2,
            ..webhook(&receiver.url, 10)
        };
        let pass = {
            let db = db.clone();
            tokio::spawn(async move { db.deliver_due(&reqwest::Client::new(), &settings).await })
        };
        // The hung ticket is the oldest, so it goes first; the other five
        // still arrive well within its 5 s timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(4);
        while receiver.deliveries().len() < 6 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            receiver.deliveries().len(),
            6,
            "{}: the others were held behind the hung ticket",
            database.kind
        );
        let delivered = pass.await.unwrap().unwrap();
        assert_eq!(
            delivered, 5,
            "{}: every ticket but the hung one",
            database.kind
        );
        let listed = db.list_tickets(10).await.unwrap();
        for ticket in &listed {
            if ticket.ticket.number == hung {
                assert_eq!(ticket.delivery, "pending", "it is retried later");
                assert_eq!(
                    ticket.last_error.as_deref(),
                    Some("timeout: no answer within 5000 ms")
                );
            } else {
                assert_eq!(ticket.delivery, "delivered", "{}", ticket.ticket.number);
            }
        }
        let keys: BTreeSet<String> = receiver
            .deliveries()
            .into_iter()
            .map(|d| d.idempotency_key)
            .collect();
        assert_eq!(keys.len(), 6, "each ticket sent once, with its own key");
    }
}

#[tokio::test]
async fn the_attempt_a_caller_waits_for_and_the_worker_never_both_send_a_ticket() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let customer = olena(&db).await;
        let ticket = db
            .register_ticket(
                &request("call-4", "line_repair", &customer, &[]),
                &demo_ticket_types(),
            )
            .await
            .unwrap();
        // The CRM is slow to answer, so every worker pass below runs while
        // the caller's attempt is still sending.
        let receiver = Receiver::start(Behaviour {
            delay_first: Some(Duration::from_millis(800)),
            ..Behaviour::default()
        })
        .await;
        let target = Target::Http(std::sync::Arc::new(webhook(&receiver.url, 10)));
        let client = reqwest::Client::new();
        let caller = {
            let (db, client, target, id) = (
                db.clone(),
                client.clone(),
                target.clone(),
                ticket.id.clone(),
            );
            tokio::spawn(async move {
                db.deliver_within(&client, &target, &id, Duration::from_millis(300))
                    .await
            })
        };
        let mut passes = Vec::new();
        for _ in 0..10 {
            let (db, client, target) = (db.clone(), client.clone(), target.clone());
            passes.push(tokio::spawn(async move {
                let results = Default::default();
                db.deliver_due_counted(&client, &target, &results)
                    .await
                    .unwrap()
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(caller.await.unwrap(), None, "no number within 300 ms");
        let mut delivered = 0;
        for pass in passes {
            delivered += pass.await.unwrap();
        }
        // The send went on after the caller's wait and delivered it.
        let mut listed = db.list_tickets(1).await.unwrap();
        for _ in 0..50 {
            if listed[0].delivery == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            listed = db.list_tickets(1).await.unwrap();
        }
        assert_eq!(listed[0].delivery, "delivered", "{}", database.kind);
        // Whichever claimed the row first sent it; nobody else did.
        assert!(delivered <= 1, "{}: {delivered} passes", database.kind);
        assert_eq!(receiver.deliveries().len(), 1, "{}", database.kind);
        assert_eq!(listed[0].attempts, 1, "{}", database.kind);
    }
}

/// A ticket as the outbox hands it to a target.
fn registered(key: &str) -> Ticket {
    Ticket {
        id: new_id(),
        number: "T-000001".into(),
        kind: "line_repair".into(),
        idempotency_key: key.into(),
        customer_id: None,
        phone: "+380441234567".into(),
        fields: BTreeMap::from([("crm_customer".to_owned(), "K-7781".to_owned())]),
        priority: 2,
        status: "new".into(),
        due_at: 0,
        created_at: 0,
        crm_number: None,
    }
}

#[tokio::test]
async fn a_ticket_sent_twice_into_a_mariadb_crm_with_a_unique_key_is_inserted_once() {
    use hotline::crm::delivery_sql::{SqlTicketSettings, SqlTicketTarget};
    use sqlx::Connection;
    let crm = databases::mariadb().await;
    let mut connection = sqlx::MySqlConnection::connect(&crm.url).await.unwrap();
    sqlx::query(
        "CREATE TABLE requests (no INT AUTO_INCREMENT PRIMARY KEY, ext_key VARCHAR(100) UNIQUE, client VARCHAR(20))",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let sources: hotline::crm::sources::CrmSettings = toml::from_str(&format!(
        "[[sources]]\nname = \"billing\"\nkind = \"sql\"\nurl = \"{}\"",
        crm.url
    ))
    .unwrap();
    let settings = |insert: &str| -> SqlTicketSettings {
        toml::from_str(&format!(
            "source = \"billing\"\ninsert = \"{insert}\"\nparams = [\"idempotency_key\", \"fields.crm_customer\"]"
        ))
        .unwrap()
    };
    // A plain INSERT: the duplicate key of a ticket sent again counts as delivered.
    let plain = SqlTicketTarget::new(
        &settings("INSERT INTO requests (ext_key, client) VALUES (?, ?)"),
        &sources.sources,
    )
    .unwrap();
    let first = registered("call-1:line_repair");
    assert_eq!(plain.deliver(&first).await, Ok(None));
    assert_eq!(plain.deliver(&first).await, Ok(None), "sent again");
    // MariaDB's RETURNING gives the CRM's number.
    let returning = SqlTicketTarget::new(
        &settings("INSERT INTO requests (ext_key, client) VALUES (?, ?) RETURNING no"),
        &sources.sources,
    )
    .unwrap();
    let second = registered("call-2:line_repair");
    let number = returning.deliver(&second).await.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT CAST(no AS CHAR), ext_key, client FROM requests ORDER BY no")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    let keys: Vec<&str> = rows.iter().map(|(_, key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["call-1:line_repair", "call-2:line_repair"],
        "each once"
    );
    assert!(rows.iter().all(|(_, _, client)| client == "K-7781"));
    assert_eq!(
        number.as_deref(),
        Some(rows[1].0.as_str()),
        "the row's own number"
    );

    // With `existing`, a clash on another unique column is a failure, not a delivery.
    sqlx::query(
        "CREATE TABLE one_per_client (ext_key VARCHAR(100) UNIQUE, client VARCHAR(20) UNIQUE)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let mut guarded = settings("INSERT INTO one_per_client (ext_key, client) VALUES (?, ?)");
    guarded.existing = Some("SELECT client FROM one_per_client WHERE ext_key = ?".into());
    let guarded = SqlTicketTarget::new(&guarded, &sources.sources).unwrap();
    assert_eq!(guarded.deliver(&first).await, Ok(Some("K-7781".into())));
    assert_eq!(
        guarded.deliver(&first).await,
        Ok(Some("K-7781".into())),
        "sent again"
    );
    let clash = guarded.deliver(&second).await.unwrap_err();
    assert!(
        clash.contains("finds no row with this ticket's key"),
        "{clash}"
    );
}
