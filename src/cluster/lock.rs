//! The election's shell: a PostgreSQL advisory lock on a connection of its own.
//!
//! The lock lives as long as the session that took it, so the connection is
//! the leadership: when this process dies the database closes the session
//! and frees the lock at once; when the network fails, the database's TCP
//! keepalives (set short on this session) free it within seconds, and this
//! side notices through its periodic check. Taking the lock bumps the epoch
//! in `cluster_leader`, which the ACD's writes carry (`crm::writer` checks it
//! in the same transaction), so a former leader that has not noticed yet is
//! refused.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::watch;
use tracing::{info, warn};

use super::leader::{Action, Election, Role, Timing};

/// The advisory lock's key: "hotline" in ASCII, so an operator recognises it in `pg_locks`.
pub const ACD_LOCK_KEY: i64 = 0x0068_6f74_6c69_6e65;

/// Why the lock connection failed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The database refused or dropped the connection or the query.
    #[error("lock connection: {0}")]
    Database(#[from] sqlx::Error),
    /// The database did not answer in time (a partition, or a stuck server).
    #[error("lock connection: no answer within {0:?}")]
    Timeout(Duration),
}

/// Starts the election for `node` on the PostgreSQL at `url`; the receiver
/// says, at every moment, whether this node runs the ACD and with which epoch.
pub fn spawn(url: &str, node: &str, timing: Timing) -> Result<watch::Receiver<Role>, LockError> {
    let options = PgConnectOptions::from_str(url)?
        .application_name(&format!("hotline-acd-lock {node}"))
        // The server's side of the keepalives: it frees the lock within
        // idle + interval × count seconds of losing us.
        .options([
            ("tcp_keepalives_idle", "2"),
            ("tcp_keepalives_interval", "1"),
            ("tcp_keepalives_count", "3"),
        ]);
    let (role_tx, role) = watch::channel(Role::Follower);
    let shell = LockShell {
        options,
        node: node.to_owned(),
        // A query that takes longer than this is a connection lost.
        query_timeout: timing.lease.saturating_sub(timing.check_every),
        connection: None,
        role: role_tx,
    };
    tokio::spawn(shell.run(Election::new(timing, Instant::now())));
    Ok(role)
}

struct LockShell {
    options: PgConnectOptions,
    node: String,
    query_timeout: Duration,
    connection: Option<PgConnection>,
    role: watch::Sender<Role>,
}

impl LockShell {
    async fn run(mut self, mut election: Election) {
        loop {
            election.handle_timeout(Instant::now());
            while let Some(action) = election.poll_action() {
                self.act(&mut election, action).await;
            }
            if self.role.is_closed() {
                return;
            }
            tokio::time::sleep_until(election.poll_timeout().into()).await;
        }
    }

    async fn act(&mut self, election: &mut Election, action: Action) {
        match action {
            Action::TryLock => match self.try_lock().await {
                Ok(Some(epoch)) => election.handle_lock_taken(Instant::now(), epoch),
                Ok(None) => election.handle_lock_busy(Instant::now()),
                Err(error) => {
                    warn!(%error, "cannot try for the ACD lock");
                    self.connection = None;
                    election.handle_connection_lost(Instant::now());
                }
            },
            Action::Check => match self.check().await {
                Ok(()) => election.handle_check_ok(Instant::now()),
                Err(error) => {
                    warn!(%error, "the ACD lock connection failed");
                    self.connection = None;
                    election.handle_connection_lost(Instant::now());
                }
            },
            Action::TakeOver { epoch } => {
                info!(node = %self.node, epoch, "this node runs the ACD");
                self.role.send_replace(Role::Leader { epoch });
            }
            Action::StepDown { epoch } => {
                warn!(node = %self.node, epoch, "this node stops running the ACD");
                self.role.send_replace(Role::Follower);
                // Closing the session frees the lock if the database still holds it.
                self.connection = None;
            }
        }
    }

    /// Takes the lock if free and bumps the epoch; `None` when another node holds it.
    async fn try_lock(&mut self) -> Result<Option<i64>, LockError> {
        let timeout = self.query_timeout;
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let connected = within(timeout, PgConnection::connect_with(&self.options)).await?;
                self.connection.insert(connected)
            }
        };
        let taken: bool = within(
            timeout,
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(ACD_LOCK_KEY)
                .fetch_one(&mut *connection),
        )
        .await?;
        if !taken {
            return Ok(None);
        }
        let epoch = within(timeout, bump_epoch(connection, &self.node)).await?;
        Ok(Some(epoch))
    }

    async fn check(&mut self) -> Result<(), LockError> {
        let Some(connection) = &mut self.connection else {
            return Err(LockError::Database(sqlx::Error::PoolClosed));
        };
        within(
            self.query_timeout,
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(connection),
        )
        .await?;
        Ok(())
    }
}

/// Makes this node the leader of a new epoch in `cluster_leader`; the new epoch.
pub async fn bump_epoch(connection: &mut PgConnection, node: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE cluster_leader SET epoch = epoch + 1, node_id = $1,
                since = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
         WHERE id = 1 RETURNING epoch",
    )
    .bind(node)
    .fetch_one(connection)
    .await
}

async fn within<T>(
    limit: Duration,
    query: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, LockError> {
    match tokio::time::timeout(limit, query).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(LockError::Timeout(limit)),
    }
}
