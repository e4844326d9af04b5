//! The CRM database on SQLite and PostgreSQL: the same tests on both.

mod support;

use std::time::Duration;

use hotline::crm::calls::CallEnd;
use hotline::crm::{Db, new_id};
use support::databases;

const LIMIT: Duration = Duration::from_secs(5);

/// Olena Kovalenko, the demo customer, as the database finds her by her phone.
async fn find_olena(db: &Db) -> hotline::crm::customers::Customer {
    db.find_customer_by_phone("+380441234567", LIMIT)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn migrating_twice_and_seeding_twice_gives_one_set_of_demo_customers() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.migrate().await.unwrap();
        assert_eq!(db.seed_demo().await.unwrap(), 3, "{}", database.kind);
        assert_eq!(
            db.seed_demo().await.unwrap(),
            0,
            "{}: seeding is idempotent",
            database.kind
        );
        assert_eq!(db.customer_count().await.unwrap(), 3, "{}", database.kind);
    }
}

#[tokio::test]
async fn the_caller_is_found_by_phone_number() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.seed_demo().await.unwrap();
        let olena = find_olena(&db).await;
        assert_eq!(olena.name, "Olena Kovalenko", "{}", database.kind);
        assert_eq!(olena.account_number, "100200300");
        assert_eq!(olena.language, "uk");
        assert_eq!(
            db.find_customer_by_phone("+380000000000", LIMIT)
                .await
                .unwrap(),
            None
        );
        // A value that would break spliced SQL is only ever a bound parameter.
        assert_eq!(
            db.find_customer_by_phone("' OR '1'='1", LIMIT)
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn calls_and_their_events_are_recorded_and_listed_newest_first() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let first = new_id();
        db.start_call(&first, "a@test", "+380441234567", None)
            .await
            .unwrap();
        db.record_call_event(&first, "digit", "1 rfc4733")
            .await
            .unwrap();
        db.record_call_event(&first, "digit", "0 sip_info")
            .await
            .unwrap();
        db.set_call_flow(&first, "hotline.yaml@0123").await.unwrap();
        let end = CallEnd {
            outcome: "ended: RemoteBye".into(),
            flow_outcome: Some("contained_by_ivr".into()),
            path: Some("welcome main [1] balance".into()),
        };
        db.finish_call(&first, &end).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = new_id();
        db.start_call(&second, "b@test", "+442071234567", None)
            .await
            .unwrap();
        let calls = db.list_calls(10).await.unwrap();
        assert_eq!(calls.len(), 2, "{}", database.kind);
        assert_eq!(calls[0].id, second, "newest first on {}", database.kind);
        assert_eq!(calls[0].outcome, None, "in progress");
        assert_eq!(calls[1].outcome.as_deref(), Some("ended: RemoteBye"));
        assert_eq!(calls[1].flow_version.as_deref(), Some("hotline.yaml@0123"));
        assert_eq!(calls[1].flow_outcome.as_deref(), Some("contained_by_ivr"));
        assert_eq!(calls[1].path.as_deref(), Some("welcome main [1] balance"));
        let details: Vec<&str> = calls[1].events.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(details, ["1 rfc4733", "0 sip_info"], "{}", database.kind);
    }
}

#[tokio::test]
async fn a_database_that_is_down_is_a_clear_error_not_a_hang() {
    let started = std::time::Instant::now();
    let error = Db::connect("postgres://postgres@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with("database unavailable"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let error = Db::connect("mysql://localhost/x").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("neither sqlite:// nor postgres://"),
        "{error}"
    );
}

#[tokio::test]
async fn self_service_lookups_answer_for_the_demo_customer() {
    use hotline::crm::tickets::{NewTicket, demo_ticket_types};
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.seed_demo().await.unwrap();
        let olena = find_olena(&db).await;
        let balance = db.balance(&olena.id, LIMIT).await.unwrap().unwrap();
        assert_eq!(
            (balance.minor_units, balance.currency.as_str()),
            (123_456, "UAH"),
            "{}",
            database.kind
        );
        let services: Vec<String> = db
            .services("+380441234567", LIMIT)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(services, ["IPTV Basic", "Internet 100 Mbit/s"]);
        let reading = db
            .last_meter_reading(&olena.id, LIMIT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((reading.reading, reading.unit.as_str()), (12_000, "kWh"));
        assert_eq!(db.latest_ticket(&olena.id, LIMIT).await.unwrap(), None);
        let request = NewTicket {
            call_id: "c".into(),
            kind: "line_repair".into(),
            customer_id: Some(olena.id.clone()),
            phone: "+380441234567".into(),
            fields: Default::default(),
        };
        let ticket = db
            .register_ticket(&request, &demo_ticket_types())
            .await
            .unwrap();
        let latest = db.latest_ticket(&olena.id, LIMIT).await.unwrap().unwrap();
        assert_eq!(
            (latest.number, latest.status.as_str()),
            (ticket.number, "new")
        );
        let john = db
            .find_customer_by_phone("+442071234567", LIMIT)
            .await
            .unwrap()
            .unwrap();
        let owed = db.balance(&john.id, LIMIT).await.unwrap().unwrap();
        assert_eq!(
            (owed.minor_units, owed.currency.as_str()),
            (-2_550, "EUR"),
            "a negative balance"
        );
    }
}

#[tokio::test]
async fn an_unknown_caller_is_identified_by_account_and_pin() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.seed_demo().await.unwrap();
        let by_account = db
            .find_customer_by_account("100200300", None, LIMIT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            by_account.name, "Olena Kovalenko",
            "{}: no PIN set, none needed",
            database.kind
        );
        db.set_pin(&by_account.id, Some("4321")).await.unwrap();
        assert!(
            db.find_customer_by_account("100200300", None, LIMIT)
                .await
                .unwrap()
                .is_none(),
            "a PIN is now needed"
        );
        assert!(
            db.find_customer_by_account("100200300", Some("1234"), LIMIT)
                .await
                .unwrap()
                .is_none(),
            "wrong PIN"
        );
        let right = db
            .find_customer_by_account("100200300", Some("4321"), LIMIT)
            .await
            .unwrap();
        assert_eq!(right.map(|c| c.name).as_deref(), Some("Olena Kovalenko"));
        assert!(
            db.find_customer_by_account("999", Some("4321"), LIMIT)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn flows_get_lookup_results_as_call_values() {
    use hotline::flow::{LookupFailure, Value, Values};
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.seed_demo().await.unwrap();
        let olena = find_olena(&db).await;
        let params: Values = [("customer".to_owned(), Value::Text(olena.id.clone()))].into();
        let balance = db.run_lookup("balance", &params, &[], LIMIT).await.unwrap();
        assert_eq!(
            balance["amount"],
            Value::Money {
                minor_units: 123456,
                currency: "UAH".into()
            },
            "{}",
            database.kind
        );
        let reading = db
            .run_lookup("last_meter_reading", &params, &[], LIMIT)
            .await
            .unwrap();
        assert_eq!(
            reading["reading"],
            Value::Quantity {
                value: 12000,
                unit: "kWh".into()
            }
        );
        let phone: Values = [("phone".to_owned(), Value::Text("+380441234567".into()))].into();
        let services = db.run_lookup("services", &phone, &[], LIMIT).await.unwrap();
        assert_eq!(services["count"], Value::Number(2));
        let account: Values = [("account".to_owned(), Value::Text("999".into()))].into();
        assert_eq!(
            db.run_lookup("customer_by_account", &account, &[], LIMIT)
                .await,
            Err(LookupFailure::NotFound)
        );
    }
}

#[tokio::test]
async fn an_admins_query_binds_call_values_and_cannot_change_data() {
    use hotline::crm::self_service::CustomQuery;
    use hotline::flow::{LookupFailure, Value, Values};
    let open_services = CustomQuery {
        name: "service_count".into(),
        sql: "SELECT COUNT(*) AS n, MIN(name) AS first FROM services WHERE phone = $1".into(),
        params: vec!["caller".into()],
        ..CustomQuery::default()
    };
    let olena: Values = [("caller".to_owned(), Value::Text("+380441234567".into()))].into();
    let injection: Values = [("caller".to_owned(), Value::Text("' OR '1'='1".into()))].into();
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.seed_demo().await.unwrap();
        let queries = [open_services.clone()];
        let found = db
            .run_lookup("service_count", &olena, &queries, LIMIT)
            .await
            .unwrap();
        assert_eq!(found["n"], Value::Number(2), "{}", database.kind);
        assert_eq!(found["first"], Value::Text("IPTV Basic".into()));
        let found = db
            .run_lookup("service_count", &injection, &queries, LIMIT)
            .await
            .unwrap();
        assert_eq!(
            found["n"],
            Value::Number(0),
            "the value is bound, not spliced"
        );
        // A data-changing statement run as a lookup changes nothing: its
        // transaction is always rolled back (and the config check refuses it).
        let sneaky = CustomQuery {
            name: "sneaky".into(),
            sql: "UPDATE accounts SET balance_minor = 0 RETURNING balance_minor".into(),
            params: vec![],
            ..CustomQuery::default()
        };
        assert!(sneaky.problem().is_some());
        let _ = db
            .run_lookup("sneaky", &Values::new(), &[sneaky], LIMIT)
            .await;
        let customer = find_olena(&db).await;
        let balance = db.balance(&customer.id, LIMIT).await.unwrap().unwrap();
        assert_eq!(balance.minor_units, 123456, "{}", database.kind);
        assert!(matches!(
            db.run_lookup("no_such_lookup", &olena, &queries, LIMIT)
                .await,
            Err(LookupFailure::Unavailable(_))
        ));
    }
}

#[tokio::test]
async fn the_report_counts_the_periods_calls_queue_log_and_tickets() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.migrate().await.unwrap();
        for (n, (outcome, path)) in [
            (
                "contained_by_ivr",
                "welcome main [1] balance say_balance main",
            ),
            (
                "ticket_registered",
                "welcome main [3] line_fault line_fault_done",
            ),
            ("to_agent", "welcome main [0] operator"),
            ("contained_by_ivr", "welcome main [1] balance say_balance"),
        ]
        .into_iter()
        .enumerate()
        {
            let call = new_id();
            db.start_call(&call, &format!("{n}@report"), "+380441234567", None)
                .await
                .unwrap();
            let end = CallEnd {
                outcome: "ended: RemoteBye".into(),
                flow_outcome: Some(outcome.into()),
                path: Some(path.into()),
            };
            db.finish_call(&call, &end).await.unwrap();
        }
        for event in [
            serde_json::json!({"event": "caller_joined", "queue": "support", "overflow_from": null}),
            serde_json::json!({"event": "offered", "agent": "alice"}),
            serde_json::json!({"event": "answered", "agent": "alice", "waited_ms": 8000, "callback": false}),
            serde_json::json!({"event": "call_ended", "agent": "alice", "talk_ms": 61000}),
        ] {
            db.record_queue_event(&event).await.unwrap();
        }
        let now = chrono::Utc::now();
        let (from, to) = hotline::report::period(None, None, None, now).unwrap();
        let input = db.report_input(from, to, 20).await.unwrap();
        let report = hotline::report::compute(&input);
        let kind = database.kind;
        assert_eq!(report.calls.total, 4, "{kind}");
        assert_eq!(report.calls.containment, Some(0.5), "{kind}");
        assert_eq!(report.calls.auto_registration, Some(0.25), "{kind}");
        assert_eq!(report.queue.service_level, Some(1.0), "{kind}");
        assert_eq!(report.queue.average_handle_time_ms, Some(61000), "{kind}");
        assert_eq!(report.agents[0].handled, 1, "{kind}");
        let main_1 = report
            .menu
            .iter()
            .find(|c| c.node == "main" && c.key == "1")
            .map(|c| c.count);
        assert_eq!(main_1, Some(2), "{kind}");
        // Yesterday saw none of it.
        let yesterday = (now - chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        let (from, to) =
            hotline::report::period(Some(&yesterday), Some(&yesterday), None, now).unwrap();
        let yesterday = hotline::report::compute(&db.report_input(from, to, 20).await.unwrap());
        assert_eq!(yesterday.calls.total, 0, "{kind}");
        assert_eq!(yesterday.queue.answered, 0, "{kind}");
    }
}
