//! `hotline db …` and `hotline calls …`: the database for admins and scripts.

use std::io::Write;

use clap::Subcommand;

use super::{Db, DbError};

/// `hotline db`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database if needed and bring its schema up to date.
    Migrate,
    /// Load the demo customers (those present are left alone).
    SeedDemo,
}

/// `hotline calls`.
#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// The most recent calls, newest first.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// How many calls.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// Runs a `db` command against `url`.
pub async fn run_db(url: &str, command: DbCommand) -> Result<(), DbError> {
    let db = Db::connect(url).await?;
    match command {
        DbCommand::Migrate => println!("database is up to date"),
        DbCommand::SeedDemo => println!("{} demo customers added", db.seed_demo().await?),
    }
    Ok(())
}

/// Runs a `calls` command against `url`.
pub async fn run_calls(url: &str, command: CallsCommand) -> Result<(), DbError> {
    let db = Db::connect(url).await?;
    let CallsCommand::List { json, limit } = command;
    let calls = db.list_calls(limit).await?;
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&calls).unwrap_or_else(|_| "[]".into());
        let _ = writeln!(out, "{text}");
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:<24}  {:<16}  {:<28}  keys",
        "started", "caller", "outcome"
    );
    for call in calls {
        let keys: String = call
            .events
            .iter()
            .filter(|e| e.kind == "digit")
            .filter_map(|e| e.detail.chars().next())
            .collect();
        let _ = writeln!(
            out,
            "{:<24}  {:<16}  {:<28}  {}",
            call.started_at,
            call.caller,
            call.outcome.unwrap_or_else(|| "in progress".into()),
            keys
        );
    }
    Ok(())
}
