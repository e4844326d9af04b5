//! Finding the caller among the customers.

use std::time::Duration;

use sqlx::Row;

use super::{Db, DbError, within};

/// A customer as the IVR needs them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub language: String,
    pub account_number: String,
}

impl Db {
    /// The customer who owns an E.164 phone number.
    pub async fn find_customer_by_phone(
        &self,
        phone: &str,
        limit: Duration,
    ) -> Result<Option<Customer>, DbError> {
        let query = sqlx::query(
            "SELECT c.id, c.name, c.language, c.account_number
             FROM customers c JOIN customer_phones p ON p.customer_id = c.id
             WHERE p.phone = $1",
        )
        .bind(phone.to_owned())
        .fetch_optional(self.pool());
        let row = within(limit, query).await?;
        row.map(|row| customer(&row)).transpose()
    }

    /// The customer with this id, if there is one.
    pub async fn find_customer(
        &self,
        id: &str,
        limit: Duration,
    ) -> Result<Option<Customer>, DbError> {
        let query = sqlx::query(
            "SELECT c.id, c.name, c.language, c.account_number FROM customers c WHERE c.id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(self.pool());
        let row = within(limit, query).await?;
        row.map(|row| customer(&row)).transpose()
    }

    /// How many customers there are (zero on a new database).
    pub async fn customer_count(&self) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM customers")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}

fn customer(row: &sqlx::any::AnyRow) -> Result<Customer, DbError> {
    Ok(Customer {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        language: row.try_get("language")?,
        account_number: row.try_get("account_number")?,
    })
}
