//! The ACD's queue as every node of a cluster sees it: its latest snapshot
//! (`queue_snapshot`), and agents' state changes asked on other nodes
//! (`agent_commands`), both fenced by the ACD's epoch.

use sqlx::Row;

use super::cluster::check_epoch;
use super::{Db, DbError};

/// The channel a node notifies when it has added an agent command.
pub const AGENT_COMMANDS_CHANNEL: &str = "hotline_agent_commands";

/// The database's clock in ms since the Unix epoch, as SQL (PostgreSQL only:
/// a cluster's nodes compare times by one clock).
const DB_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// The ACD's latest snapshot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The snapshot as JSON.
    pub body: String,
    /// How old it is by the database's clock, in ms.
    pub age_ms: u64,
}

/// What the ACD made of an agent command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Claimed by the ACD, which is applying it.
    Applying,
    /// Applied.
    Done,
    /// Refused: no agent has this id.
    UnknownAgent,
    /// Refused: a pause for an agent who is logged out.
    NotLoggedIn,
    /// Not applied: nobody ran the ACD in time, or it changed meanwhile.
    Expired,
}

impl CommandOutcome {
    fn as_str(self) -> &'static str {
        match self {
            CommandOutcome::Applying => "applying",
            CommandOutcome::Done => "done",
            CommandOutcome::UnknownAgent => "unknown_agent",
            CommandOutcome::NotLoggedIn => "not_logged_in",
            CommandOutcome::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Option<CommandOutcome> {
        [
            CommandOutcome::Applying,
            CommandOutcome::Done,
            CommandOutcome::UnknownAgent,
            CommandOutcome::NotLoggedIn,
            CommandOutcome::Expired,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == text)
    }
}

/// An agent command waiting for the ACD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommand {
    pub seq: i64,
    pub agent: String,
    /// `login`, `logout`, `unpause`, or `pause:REASON`.
    pub input: String,
}

impl Db {
    /// Stores the ACD's snapshot `body` as the latest, if `epoch` is still the ACD's.
    pub async fn publish_queue_snapshot(&self, epoch: i64, body: &str) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        check_epoch(&mut tx, epoch).await?;
        sqlx::query(&format!(
            "INSERT INTO queue_snapshot (id, epoch, taken_at, body) VALUES (1, $1, {DB_NOW_MS}, $2)
             ON CONFLICT (id) DO UPDATE
             SET epoch = excluded.epoch, taken_at = excluded.taken_at, body = excluded.body"
        ))
        .bind(epoch)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The snapshot of the ACD that leads now, if it wrote one within `fresh_ms`.
    pub async fn queue_snapshot(&self, fresh_ms: i64) -> Result<Option<StoredSnapshot>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT s.body, {DB_NOW_MS} - s.taken_at AS age
             FROM queue_snapshot s JOIN cluster_leader l ON l.id = 1 AND l.epoch = s.epoch
             WHERE s.id = 1"
        ))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let age: i64 = row.try_get("age")?;
        if age > fresh_ms {
            return Ok(None);
        }
        Ok(Some(StoredSnapshot {
            body: row.try_get("body")?,
            age_ms: u64::try_from(age).unwrap_or(0),
        }))
    }

    /// Adds a command for the ACD and notifies it; the command's number.
    pub async fn send_agent_command(&self, agent: &str, input: &str) -> Result<i64, DbError> {
        let mut tx = self.begin_write().await?;
        let seq: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO agent_commands (agent, input, created_at) VALUES ($1, $2, {DB_NOW_MS})
             RETURNING seq"
        ))
        .bind(agent)
        .bind(input)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(&format!("SELECT pg_notify('{AGENT_COMMANDS_CHANNEL}', '')"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// What became of command `seq`; `None` while the ACD has not taken it.
    pub async fn agent_command_outcome(&self, seq: i64) -> Result<Option<CommandOutcome>, DbError> {
        let outcome: Option<String> =
            sqlx::query_scalar("SELECT outcome FROM agent_commands WHERE seq = $1")
                .bind(seq)
                .fetch_optional(self.pool())
                .await?
                .flatten();
        Ok(outcome.as_deref().and_then(CommandOutcome::parse))
    }

    /// Withdraws command `seq` unless the ACD took it; whether it was withdrawn.
    pub async fn withdraw_agent_command(&self, seq: i64) -> Result<bool, DbError> {
        let withdrawn = sqlx::query(
            "UPDATE agent_commands SET outcome = $1 WHERE seq = $2 AND outcome IS NULL",
        )
        .bind(CommandOutcome::Expired.as_str())
        .bind(seq)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(withdrawn == 1)
    }

    /// Commands nobody has taken, oldest first; those older than `max_age_ms`
    /// (whose askers have given up) expire instead.
    pub async fn pending_agent_commands(
        &self,
        max_age_ms: i64,
    ) -> Result<Vec<PendingCommand>, DbError> {
        sqlx::query(&format!(
            "UPDATE agent_commands SET outcome = $1
             WHERE outcome IS NULL AND created_at < {DB_NOW_MS} - $2"
        ))
        .bind(CommandOutcome::Expired.as_str())
        .bind(max_age_ms)
        .execute(self.pool())
        .await?;
        let rows = sqlx::query(
            "SELECT seq, agent, input FROM agent_commands WHERE outcome IS NULL ORDER BY seq",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingCommand {
                    seq: row.try_get("seq")?,
                    agent: row.try_get("agent")?,
                    input: row.try_get("input")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Sets the outcome of command `seq` if it is `from` (`None`: not taken
    /// yet) and `epoch` is still the ACD's; whether it was set. Claiming a
    /// command (`None` → `Applying`) before applying it is what makes it apply once.
    pub async fn settle_agent_command(
        &self,
        epoch: i64,
        seq: i64,
        from: Option<CommandOutcome>,
        to: CommandOutcome,
    ) -> Result<bool, DbError> {
        let mut tx = self.begin_write().await?;
        check_epoch(&mut tx, epoch).await?;
        let condition = match from {
            None => "outcome IS NULL",
            Some(_) => "outcome = $4",
        };
        let sql = format!(
            "UPDATE agent_commands SET outcome = $1, epoch = $2 WHERE seq = $3 AND {condition}"
        );
        let settled = sqlx::query(&sql).bind(to.as_str()).bind(epoch).bind(seq);
        let settled = match from {
            None => settled,
            Some(from) => settled.bind(from.as_str()),
        }
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(settled == 1)
    }
}
