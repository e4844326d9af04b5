//! The demo CRM data that the demo flow serves.

use sqlx::{Any, Transaction};

use super::{Db, DbError, new_id, now_ms};

/// A demo customer.
struct DemoCustomer {
    name: &'static str,
    language: &'static str,
    account: &'static str,
    phone: &'static str,
    balance_minor: i64,
    currency: &'static str,
    services: &'static [(&'static str, &'static str)],
    /// Meter readings, oldest first, with their age in days.
    readings: &'static [(i64, i64)],
}

const DEMO: &[DemoCustomer] = &[
    DemoCustomer {
        name: "Olena Kovalenko",
        language: "uk",
        account: "100200300",
        phone: "+380441234567",
        balance_minor: 123_456,
        currency: "UAH",
        services: &[
            ("internet_100", "Internet 100 Mbit/s"),
            ("iptv_basic", "IPTV Basic"),
        ],
        readings: &[(11_650, 31), (12_000, 1)],
    },
    DemoCustomer {
        name: "John Smith",
        language: "en",
        account: "200300400",
        phone: "+442071234567",
        balance_minor: -2_550,
        currency: "EUR",
        services: &[("internet_100", "Internet 100 Mbit/s")],
        readings: &[(4_210, 1)],
    },
    DemoCustomer {
        name: "Ivan Petrov",
        language: "ru",
        account: "300400500",
        phone: "+79161234567",
        balance_minor: 50_000,
        currency: "RUB",
        services: &[("iptv_basic", "IPTV Basic")],
        readings: &[(830, 2)],
    },
];

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Db {
    /// Connects and migrates; a new, empty database gets the demo customers
    /// when `seed_demo` is set, so the first start serves the demo flow.
    pub async fn connect_seeded(url: &str, seed_demo: bool) -> Result<Db, DbError> {
        let db = Db::connect(url).await?;
        if seed_demo && db.customer_count().await? == 0 {
            let added = db.seed_demo().await?;
            tracing::info!(
                customers = added,
                "demo CRM data loaded into the new database"
            );
        }
        Ok(db)
    }

    /// Loads the demo customers; customers already present are left alone.
    /// Returns how many were added.
    pub async fn seed_demo(&self) -> Result<usize, DbError> {
        let mut added = 0;
        for customer in DEMO {
            let mut tx = self.begin_write().await?;
            let exists = sqlx::query("SELECT id FROM customers WHERE account_number = $1")
                .bind(customer.account)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                insert(&mut tx, customer).await?;
                added += 1;
            }
            tx.commit().await?;
        }
        Ok(added)
    }
}

async fn insert(tx: &mut Transaction<'_, Any>, customer: &DemoCustomer) -> Result<(), DbError> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO customers (id, name, language, account_number, pin_hash, created_at)
         VALUES ($1, $2, $3, $4, NULL, $5)",
    )
    .bind(&id)
    .bind(customer.name)
    .bind(customer.language)
    .bind(customer.account)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO customer_phones (phone, customer_id) VALUES ($1, $2)")
        .bind(customer.phone)
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO accounts (customer_id, balance_minor, currency) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(customer.balance_minor)
        .bind(customer.currency)
        .execute(&mut **tx)
        .await?;
    for (code, name) in customer.services {
        sqlx::query("INSERT INTO services (id, phone, code, name) VALUES ($1, $2, $3, $4)")
            .bind(new_id())
            .bind(customer.phone)
            .bind(*code)
            .bind(*name)
            .execute(&mut **tx)
            .await?;
    }
    let meter = new_id();
    sqlx::query("INSERT INTO meter_points (id, customer_id, kind, unit) VALUES ($1, $2, 'electricity', 'kWh')")
        .bind(&meter)
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    for (reading, days_ago) in customer.readings {
        sqlx::query(
            "INSERT INTO meter_readings (id, meter_id, reading, taken_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(&meter)
        .bind(*reading)
        .bind(now - days_ago * DAY_MS)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
