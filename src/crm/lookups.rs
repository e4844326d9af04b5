//! Self-service answers from the CRM: balance, services, ticket status, meter
//! readings, and identifying a caller by account number and PIN.
//!
//! Every lookup runs under the caller's timeout and says why it has no answer
//! (not found, timed out, database down), so a flow can fall back instead of
//! leaving the caller in silence.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::customers::Customer;
use super::{Db, DbError, within};

/// A balance in minor units of its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub minor_units: i64,
    pub currency: String,
}

/// A service connected on a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Prompt-friendly code, e.g. `internet_100`.
    pub code: String,
    pub name: String,
}

/// The caller's latest ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketStatus {
    pub number: String,
    pub kind: String,
    pub status: String,
}

/// The latest meter reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterReading {
    pub reading: i64,
    pub unit: String,
    pub taken_at: i64,
}

impl Db {
    /// The account balance of a customer.
    pub async fn balance(
        &self,
        customer_id: &str,
        limit: Duration,
    ) -> Result<Option<Balance>, DbError> {
        let query =
            sqlx::query("SELECT balance_minor, currency FROM accounts WHERE customer_id = $1")
                .bind(customer_id.to_owned())
                .fetch_optional(self.pool());
        let Some(row) = within(limit, query).await? else {
            return Ok(None);
        };
        Ok(Some(Balance {
            minor_units: row.try_get("balance_minor")?,
            currency: row.try_get("currency")?,
        }))
    }

    /// The services connected on a phone number, by name.
    pub async fn services(&self, phone: &str, limit: Duration) -> Result<Vec<Service>, DbError> {
        let query = sqlx::query("SELECT code, name FROM services WHERE phone = $1 ORDER BY name")
            .bind(phone.to_owned())
            .fetch_all(self.pool());
        within(limit, query)
            .await?
            .iter()
            .map(|row| {
                Ok(Service {
                    code: row.try_get("code")?,
                    name: row.try_get("name")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The customer's most recent ticket.
    pub async fn latest_ticket(
        &self,
        customer_id: &str,
        limit: Duration,
    ) -> Result<Option<TicketStatus>, DbError> {
        let query = sqlx::query(
            "SELECT number, kind, status FROM tickets WHERE customer_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(customer_id.to_owned())
        .fetch_optional(self.pool());
        let Some(row) = within(limit, query).await? else {
            return Ok(None);
        };
        Ok(Some(TicketStatus {
            number: row.try_get("number")?,
            kind: row.try_get("kind")?,
            status: row.try_get("status")?,
        }))
    }

    /// The customer's last meter reading.
    pub async fn last_meter_reading(
        &self,
        customer_id: &str,
        limit: Duration,
    ) -> Result<Option<MeterReading>, DbError> {
        let query = sqlx::query(
            "SELECT r.reading, m.unit, r.taken_at FROM meter_readings r
             JOIN meter_points m ON m.id = r.meter_id
             WHERE m.customer_id = $1 ORDER BY r.taken_at DESC LIMIT 1",
        )
        .bind(customer_id.to_owned())
        .fetch_optional(self.pool());
        let Some(row) = within(limit, query).await? else {
            return Ok(None);
        };
        Ok(Some(MeterReading {
            reading: row.try_get("reading")?,
            unit: row.try_get("unit")?,
            taken_at: row.try_get("taken_at")?,
        }))
    }

    /// The customer with this account number, if the PIN matches (when the
    /// account has one, a PIN must be given). A wrong PIN is "not found".
    pub async fn find_customer_by_account(
        &self,
        account: &str,
        pin: Option<&str>,
        limit: Duration,
    ) -> Result<Option<Customer>, DbError> {
        let query = sqlx::query(
            "SELECT id, name, language, account_number, pin_hash FROM customers WHERE account_number = $1",
        )
        .bind(account.to_owned())
        .fetch_optional(self.pool());
        let Some(row) = within(limit, query).await? else {
            return Ok(None);
        };
        let stored: Option<String> = row.try_get("pin_hash")?;
        if let Some(stored) = stored {
            let id: String = row.try_get("id")?;
            let given = pin.map(|pin| pin_hash(&id, pin));
            if !given.is_some_and(|given| constant_time_eq(given.as_bytes(), stored.as_bytes())) {
                return Ok(None);
            }
        }
        Ok(Some(Customer {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            language: row.try_get("language")?,
            account_number: row.try_get("account_number")?,
        }))
    }

    /// Sets (or clears) a customer's PIN; it is stored salted and hashed.
    pub async fn set_pin(&self, customer_id: &str, pin: Option<&str>) -> Result<(), DbError> {
        sqlx::query("UPDATE customers SET pin_hash = $1 WHERE id = $2")
            .bind(pin.map(|pin| pin_hash(customer_id, pin)))
            .bind(customer_id.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// SHA-256 of the customer id (a per-customer salt) and the PIN. PINs are
/// short, so the real protection is that only the IVR, after a call, asks.
fn pin_hash(customer_id: &str, pin: &str) -> String {
    let digest = Sha256::digest(format!("hotline-pin:{customer_id}:{pin}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
