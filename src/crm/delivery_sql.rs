//! Tickets delivered into the company's own SQL database (`[tickets.sql]`):
//! one INSERT statement with the ticket's values bound as parameters, run on
//! a configured `[[crm.sources]]` database through the same outbox as the
//! webhook.
//!
//! Exactly once: the outbox sends a ticket again after a crash between the
//! CRM's commit and hotline's record of it, so the CRM must recognise the
//! ticket by its idempotency key. Either its table has a unique key column
//! holding it (a second INSERT fails as a duplicate, which counts as
//! delivered), or `existing` finds the row by the key before inserting.

use std::time::Duration;

use serde::Deserialize;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::sources::SourceSettings;
use super::sources::sql::row_json;
use super::tickets::Ticket;
use crate::flow::Value;

/// `[tickets.sql]`: where and how tickets are inserted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlTicketSettings {
    /// The `[[crm.sources]]` of kind `sql` the tickets go into.
    pub source: String,
    /// One INSERT statement, with the placeholders of its database (`$1` or
    /// `?`); `RETURNING` the CRM's number where the database has it.
    pub insert: String,
    /// The values bound to the placeholders, in order: `number`, `kind`,
    /// `phone`, `customer`, `idempotency_key` or `fields.NAME`; all as text.
    pub params: Vec<String>,
    /// A SELECT with one placeholder, the idempotency key, that finds a
    /// ticket already inserted: run before the INSERT, so a ticket sent again
    /// is not inserted twice, and after it when the INSERT returns no number.
    #[serde(default)]
    pub existing: Option<String>,
    /// The column of the CRM's number in the rows of `insert` or `existing`;
    /// their first column when not given.
    #[serde(default)]
    pub number_column: Option<String>,
    /// Attempts before a ticket goes to the dead letter state.
    #[serde(default = "super::delivery::default_max_attempts")]
    pub max_attempts: i32,
    /// First retry delay, in milliseconds; doubles per attempt.
    #[serde(default = "super::delivery::default_base_backoff_ms")]
    pub base_backoff_ms: u64,
    /// Longest retry delay, in milliseconds.
    #[serde(default = "super::delivery::default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How long one delivery may take, in milliseconds.
    #[serde(default = "super::delivery::default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many deliveries run at once.
    #[serde(default = "super::delivery::default_concurrency")]
    pub concurrency: usize,
}

impl SqlTicketSettings {
    /// Why these settings cannot work with the configured sources.
    pub fn problem(&self, sources: &[SourceSettings]) -> Option<String> {
        match sources.iter().find(|s| s.name() == self.source) {
            None => {
                return Some(format!(
                    "names source `{}`, which is not declared in [[crm.sources]]",
                    self.source
                ));
            }
            Some(SourceSettings::Http(_)) => {
                return Some(format!("names source `{}`, which is not sql", self.source));
            }
            Some(SourceSettings::Sql(_)) => {}
        }
        let statement = self.insert.trim().trim_end_matches(';');
        if !statement.to_ascii_lowercase().starts_with("insert") {
            return Some("`insert` must be an INSERT statement".into());
        }
        if statement.contains(';') {
            return Some("`insert` must be a single statement".into());
        }
        let known = |p: &str| {
            ["number", "kind", "phone", "customer", "idempotency_key"].contains(&p)
                || p.strip_prefix("fields.").is_some_and(|f| !f.is_empty())
        };
        if let Some(unknown) = self.params.iter().find(|p| !known(p)) {
            return Some(format!(
                "`params` names `{unknown}`, which a ticket has not"
            ));
        }
        None
    }
}

/// A `[tickets.sql]` target with its own pool: the source's lookups read on
/// read-only connections, which cannot insert.
#[derive(Debug)]
pub struct SqlTicketTarget {
    pub settings: SqlTicketSettings,
    pool: AnyPool,
}

impl SqlTicketTarget {
    /// Prepares the pool on the source's database without connecting.
    pub fn new(
        settings: &SqlTicketSettings,
        sources: &[SourceSettings],
    ) -> Result<SqlTicketTarget, String> {
        if let Some(problem) = settings.problem(sources) {
            return Err(problem);
        }
        let Some(SourceSettings::Sql(source)) =
            sources.iter().find(|s| s.name() == settings.source)
        else {
            return Err(format!("source `{}` is not sql", settings.source));
        };
        sqlx::any::install_default_drivers();
        let url = source.url.replacen("mariadb:", "mysql:", 1);
        let pool = AnyPoolOptions::new()
            .max_connections(settings.concurrency.clamp(1, 8) as u32)
            .min_connections(0)
            .acquire_timeout(Duration::from_millis(source.connect_timeout_ms))
            .connect_lazy(&url)
            .map_err(|e| format!("source `{}`: bad URL: {e}", settings.source))?;
        Ok(SqlTicketTarget {
            settings: settings.clone(),
            pool,
        })
    }

    /// Inserts the ticket unless the CRM has it already; the CRM's number
    /// when the statements give one.
    pub async fn deliver(&self, ticket: &Ticket) -> Result<Option<String>, String> {
        let limit = Duration::from_millis(self.settings.timeout_ms);
        match tokio::time::timeout(limit, self.insert(ticket)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "timeout: no answer within {} ms",
                self.settings.timeout_ms
            )),
        }
    }

    async fn insert(&self, ticket: &Ticket) -> Result<Option<String>, sqlx::Error> {
        if let Some(found) = self.existing(ticket).await? {
            return Ok(found); // sent before; the CRM committed it
        }
        let values = super::delivery::ticket_values(ticket);
        let mut tx = self.pool.begin().await?;
        let mut insert = sqlx::query(&self.settings.insert);
        for name in &self.settings.params {
            insert = insert.bind(values.get(name).map(Value::to_string));
        }
        let returned = match insert.fetch_optional(&mut *tx).await {
            Ok(row) => row,
            // The unique key column holds this ticket already; with
            // `existing`, the row is looked for, so a clash on another unique
            // column is a failure rather than a ticket taken as delivered.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                // Rolled back now, so the connection holds no lock when pooled.
                tx.rollback().await?;
                return match self.existing(ticket).await? {
                    Some(number) => Ok(number),
                    None if self.settings.existing.is_none() => Ok(None),
                    None => Err(sqlx::Error::Protocol(
                        "the INSERT breaks a unique key, and `existing` finds no row with this ticket's key".into(),
                    )),
                };
            }
            Err(other) => return Err(other),
        };
        tx.commit().await?;
        match returned.and_then(|row| self.number(&row)) {
            Some(number) => Ok(Some(number)),
            None => Ok(self.existing(ticket).await?.flatten()),
        }
    }

    /// What `existing` finds of the ticket: `None` when it is not there (or
    /// there is no `existing`), `Some(number)` when it is.
    async fn existing(&self, ticket: &Ticket) -> Result<Option<Option<String>>, sqlx::Error> {
        let Some(statement) = &self.settings.existing else {
            return Ok(None);
        };
        let row = sqlx::query(statement)
            .bind(ticket.idempotency_key.clone())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| self.number(&row)))
    }

    /// The CRM's number in a row: the `number_column`, else the first column.
    fn number(&self, row: &sqlx::any::AnyRow) -> Option<String> {
        let json = row_json(row);
        let object = json.as_object()?;
        let value = match &self.settings.number_column {
            Some(column) => object.get(column)?,
            None => {
                use sqlx::{Column, Row};
                object.get(row.columns().first()?.name())?
            }
        };
        match value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(insert: &str, params: &[&str]) -> SqlTicketSettings {
        let toml = format!(
            "source = \"billing\"\ninsert = \"{insert}\"\nparams = [{}]",
            params
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        toml::from_str(&toml).unwrap()
    }

    fn sources() -> Vec<SourceSettings> {
        toml::from_str::<crate::crm::sources::CrmSettings>(
            "[[sources]]\nname = \"billing\"\nkind = \"sql\"\nurl = \"sqlite://crm.db\"",
        )
        .unwrap()
        .sources
    }

    #[test]
    fn only_one_insert_with_ticket_values_into_an_sql_source_is_accepted() {
        let ok = settings("INSERT INTO t (k) VALUES ($1)", &["idempotency_key"]);
        assert_eq!(ok.problem(&sources()), None);
        let problem = |s: SqlTicketSettings| s.problem(&sources()).unwrap();
        assert_eq!(
            problem(settings("DELETE FROM t", &[])),
            "`insert` must be an INSERT statement"
        );
        assert_eq!(
            problem(settings("INSERT INTO t VALUES (1); DROP TABLE t", &[])),
            "`insert` must be a single statement"
        );
        assert_eq!(
            problem(settings("INSERT INTO t VALUES ($1)", &["password"])),
            "`params` names `password`, which a ticket has not"
        );
        let mut elsewhere = ok.clone();
        elsewhere.source = "erp".into();
        assert_eq!(
            problem(elsewhere),
            "names source `erp`, which is not declared in [[crm.sources]]"
        );
    }
}
