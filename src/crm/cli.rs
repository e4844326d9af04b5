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

/// `hotline tickets`.
#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// Registered tickets, newest first, with their delivery state.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// How many tickets.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Deliver tickets to the configured CRM webhook until stopped.
    Deliver,
}

/// Runs a `tickets` command.
pub async fn run_tickets(
    url: &str,
    webhook: Option<super::delivery::WebhookSettings>,
    command: TicketsCommand,
) -> Result<(), DbError> {
    let db = Db::connect(url).await?;
    match command {
        TicketsCommand::List { json, limit } => {
            let tickets = db.list_tickets(limit).await?;
            let mut out = std::io::stdout().lock();
            if json {
                let text = serde_json::to_string_pretty(&tickets).unwrap_or_else(|_| "[]".into());
                let _ = writeln!(out, "{text}");
                return Ok(());
            }
            let _ = writeln!(
                out,
                "{:<10}  {:<14}  {:<16}  {:<12}  fields",
                "number", "type", "phone", "delivery"
            );
            for t in tickets {
                let fields = serde_json::to_string(&t.ticket.fields).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<10}  {:<14}  {:<16}  {:<12}  {}",
                    t.ticket.number, t.ticket.kind, t.ticket.phone, t.delivery, fields
                );
            }
        }
        TicketsCommand::Deliver => {
            let Some(webhook) = webhook else {
                eprintln!("no [tickets.webhook] configured: tickets stay in the database");
                return Ok(());
            };
            let (_stop, stop) = tokio::sync::watch::channel(false);
            super::delivery::run_worker(db, webhook, std::time::Duration::from_millis(200), stop)
                .await;
        }
    }
    Ok(())
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
