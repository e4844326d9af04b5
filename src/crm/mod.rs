//! The CRM database: customers, what they have, the record of every call,
//! and the agents who take the calls the IVR hands over.
//!
//! One set of portable queries runs on SQLite (the embedded default, created
//! and migrated on first start) and PostgreSQL (production), through sqlx's
//! `Any` driver. Placeholders are `$1, $2, …`, which both databases accept.

pub mod agents;
pub mod batch;
pub mod calls;
pub mod cluster;
pub mod cluster_queue;
pub mod customers;
pub mod delivery;
pub mod delivery_sql;
pub mod lists;
pub mod lookups;
pub mod queue_log;
pub mod registrations;
pub mod reports;
pub mod seed;
pub mod self_service;
pub mod sources;
pub mod tickets;
pub mod writer;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// The schema, embedded in the binary so it runs wherever the binary does.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A connection pool to the CRM database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    postgres: bool,
}

/// A database failure, saying whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no database hotline supports.
    #[error("database URL `{0}` is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    /// The database is down, unreachable, or refused the query.
    #[error("database unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The query took longer than its timeout.
    #[error("database query timed out")]
    Timeout,
    /// A write of the ACD's epoch `epoch` came after another node took over
    /// (epoch `current`): a former leader's write, refused.
    #[error("write of ACD epoch {epoch} refused: epoch {current} leads now")]
    Fenced { epoch: i64, current: i64 },
}

/// How long to wait for a connection before calling the database unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How every SQLite connection is set up. Write-ahead logging lets lookups read
/// while a ticket or call record is written, instead of waiting for the writer;
/// `synchronous = NORMAL` is durable across a crash of hotline (only a power cut
/// can lose the last commits) and saves an fsync per commit; the busy timeout
/// makes a writer wait its turn rather than fail with "database is locked".
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";

impl Db {
    /// Connects (creating a SQLite file if needed) and migrates the schema.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let db = Db::open(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connects without migrating.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        Db::open_with(url, 8).await
    }

    /// One connection for the record writer alone, so its batches never take
    /// a connection a lookup or a ticket is waiting for.
    pub async fn open_writer(url: &str) -> Result<Db, DbError> {
        Db::open_with(url, 1).await
    }

    async fn open_with(url: &str, connections: u32) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let url = if url.starts_with("sqlite:") {
            sqlite_creating(url)
        } else if postgres {
            url.to_owned()
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(CONNECT_TIMEOUT);
        if !postgres {
            options = options.after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *connection, SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        Ok(Db { pool, postgres })
    }

    /// Brings the schema up to date; running it again changes nothing.
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Whether this is PostgreSQL (else SQLite), for the few statements they spell differently.
    pub(crate) fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
    /// then writes fails at once with "database is locked" when another
    /// connection writes meanwhile, while an immediate one waits its turn.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        if self.postgres {
            self.pool.begin().await
        } else {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        }
    }

    /// The pool, for the repositories of this module.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Milliseconds since the Unix epoch by the database's clock on
    /// PostgreSQL, where several nodes share leases and must agree on the
    /// time whatever their own clocks say; this machine's clock on SQLite,
    /// which only one node uses.
    pub(crate) async fn clock_ms(&self) -> Result<i64, DbError> {
        if !self.postgres {
            return Ok(now_ms());
        }
        let now = sqlx::query_scalar(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(now)
    }
}

/// A SQLite URL that creates the file when missing (`mode=rwc`).
fn sqlite_creating(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Milliseconds since the Unix epoch: how times are stored.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh random id for a row.
pub fn new_id() -> String {
    use rand::Rng;
    let value: u128 = rand::rng().random();
    format!("{value:032x}")
}

/// Runs a query future under a timeout, mapping the elapsed case.
pub async fn within<T>(
    limit: Duration,
    query: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, DbError> {
    match tokio::time::timeout(limit, query).await {
        Ok(result) => result.map_err(DbError::from),
        Err(_) => Err(DbError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_connections_write_ahead_and_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("wal.db").display());
        let db = Db::connect(&url).await.unwrap();
        let mut connection = db.pool().acquire().await.unwrap();
        let pragma = |name: &'static str| format!("PRAGMA {name}");
        let journal: String = sqlx::query_scalar(&pragma("journal_mode"))
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        let synchronous: i32 = sqlx::query_scalar(&pragma("synchronous"))
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        let busy: i32 = sqlx::query_scalar(&pragma("busy_timeout"))
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 1, "NORMAL");
        assert_eq!(busy, 5000);
    }
}
