//! An SQL database of the company's (PostgreSQL, MySQL/MariaDB, SQLite),
//! read through sqlx on connections that are read-only where the database
//! allows it.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Column, Row};
use tokio_stream::StreamExt;

use super::breaker::BreakerSettings;
use crate::crm::self_service::CustomQuery;
use crate::flow::{Value, Values};

/// A source of `kind = "sql"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSettings {
    pub name: String,
    /// `postgres://…`, `mysql://…` (MariaDB too) or `sqlite://FILE`.
    pub url: String,
    /// Connections kept at most.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// How long to wait for a connection, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// When the circuit opens (`{ failures_to_open, cool_down_ms }`).
    #[serde(default = "super::default_circuit")]
    pub circuit: BreakerSettings,
}

fn default_pool_size() -> u32 {
    4
}
fn default_connect_timeout_ms() -> u64 {
    2_000
}

/// The rows a lookup reads at most: enough for any list a caller hears.
const MAX_ROWS: usize = 100;

/// Which database, for the statement that makes a connection read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl SqlSettings {
    /// Why the settings cannot work.
    pub fn problem(&self) -> Option<String> {
        if dialect(&self.url).is_none() {
            return Some("has a URL that is not postgres://, mysql:// or sqlite://".into());
        }
        (self.pool_size == 0).then(|| "needs a pool_size of at least 1".into())
    }
}

fn dialect(url: &str) -> Option<Dialect> {
    let scheme = url.split_once(':')?.0;
    match scheme {
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::MySql),
        "sqlite" => Some(Dialect::Sqlite),
        _ => None,
    }
}

/// A pool on the company's database; connections open when a lookup needs one.
#[derive(Clone)]
pub struct SqlSource {
    pool: AnyPool,
}

impl SqlSource {
    /// Prepares the pool without connecting.
    pub fn new(settings: &SqlSettings) -> Result<SqlSource, String> {
        sqlx::any::install_default_drivers();
        let dialect = dialect(&settings.url).ok_or("unsupported URL")?;
        let url = match dialect {
            Dialect::Sqlite => read_only_sqlite(&settings.url),
            Dialect::MySql => settings.url.replacen("mariadb:", "mysql:", 1),
            Dialect::Postgres => settings.url.clone(),
        };
        let read_only = match dialect {
            Dialect::Postgres => Some("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Dialect::MySql => Some("SET SESSION TRANSACTION READ ONLY"),
            Dialect::Sqlite => None,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(settings.pool_size)
            .min_connections(0)
            .acquire_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if let Some(statement) = read_only {
                        sqlx::Executor::execute(&mut *connection, statement).await?;
                    }
                    Ok(())
                })
            })
            // The password in the URL never reaches a log: sqlx's errors do not quote it.
            .connect_lazy(&url)
            .map_err(|e| format!("bad URL: {e}"))?;
        Ok(SqlSource { pool })
    }

    /// Opens a connection and runs `SELECT 1`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The rows of the lookup's query (at most `MAX_ROWS`), each as an object of its columns.
    pub async fn rows(
        &self,
        lookup: &CustomQuery,
        params: &Values,
    ) -> Result<Vec<Json>, sqlx::Error> {
        let mut statement = sqlx::query(&lookup.sql);
        for name in &lookup.params {
            statement = statement.bind(params.get(name).map(Value::to_string));
        }
        let mut rows = Vec::new();
        let mut stream = statement.fetch(&self.pool).take(MAX_ROWS);
        while let Some(row) = stream.next().await {
            rows.push(row_json(&row?));
        }
        Ok(rows)
    }
}

/// A row as a JSON object: integers, decimals, text; other types as null.
pub(crate) fn row_json(row: &AnyRow) -> Json {
    let mut object = serde_json::Map::new();
    for column in row.columns() {
        let i = column.ordinal();
        let value = if let Ok(Some(n)) = row.try_get::<Option<i64>, _>(i) {
            Json::from(n)
        } else if let Ok(Some(t)) = row.try_get::<Option<String>, _>(i) {
            Json::from(t)
        } else if let Ok(Some(x)) = row.try_get::<Option<f64>, _>(i) {
            // As text: the mapping reads amounts digit by digit.
            Json::from(x.to_string())
        } else if let Ok(Some(b)) = row.try_get::<Option<bool>, _>(i) {
            Json::from(b)
        } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
            String::from_utf8(bytes).map_or(Json::Null, Json::from)
        } else {
            Json::Null
        };
        object.insert(column.name().to_owned(), value);
    }
    Json::Object(object)
}

/// A SQLite URL opened read-only (`mode=ro`) unless it names a mode.
fn read_only_sqlite(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=ro")
    } else {
        format!("{url}?mode=ro")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_source_reads_but_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crm.db");
        let url = format!("sqlite://{}", path.display());
        let db = crate::crm::Db::connect(&url).await.unwrap();
        drop(db);
        let source = SqlSource::new(&SqlSettings {
            name: "crm".into(),
            url,
            pool_size: 1,
            connect_timeout_ms: 1000,
            circuit: BreakerSettings::default(),
        })
        .unwrap();
        source.ping().await.unwrap();
        let write = sqlx::query("CREATE TABLE x (y INTEGER)")
            .execute(&source.pool)
            .await
            .unwrap_err();
        assert!(write.to_string().contains("readonly"), "{write}");
    }

    #[test]
    fn only_urls_of_supported_databases_are_accepted() {
        let settings = |url: &str| SqlSettings {
            name: "crm".into(),
            url: url.into(),
            pool_size: 2,
            connect_timeout_ms: 1000,
            circuit: BreakerSettings::default(),
        };
        assert_eq!(settings("mysql://root@127.0.0.1/crm").problem(), None);
        assert_eq!(settings("postgres://pg@db/crm").problem(), None);
        assert!(settings("oracle://db/crm").problem().is_some());
    }
}
