//! The CRM database on SQLite and PostgreSQL: the same tests on both.

mod support;

use std::time::Duration;

use hotline::crm::Db;
use support::databases;

const LIMIT: Duration = Duration::from_secs(5);

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
        let olena = db
            .find_customer_by_phone("+380441234567", LIMIT)
            .await
            .unwrap()
            .unwrap();
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
        let first = db
            .start_call("a@test", "+380441234567", None)
            .await
            .unwrap();
        db.record_call_event(&first, "digit", "1 rfc4733")
            .await
            .unwrap();
        db.record_call_event(&first, "digit", "0 sip_info")
            .await
            .unwrap();
        db.finish_call(&first, "ended: RemoteBye").await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = db
            .start_call("b@test", "+442071234567", None)
            .await
            .unwrap();
        let calls = db.list_calls(10).await.unwrap();
        assert_eq!(calls.len(), 2, "{}", database.kind);
        assert_eq!(calls[0].id, second, "newest first on {}", database.kind);
        assert_eq!(calls[0].outcome, None, "in progress");
        assert_eq!(calls[1].outcome.as_deref(), Some("ended: RemoteBye"));
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
        let olena = db
            .find_customer_by_phone("+380441234567", LIMIT)
            .await
            .unwrap()
            .unwrap();
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
