//! `hotline tickets …`: the tickets the IVR registered, and their delivery to the CRM.

use std::io::Write;

use clap::Subcommand;

use crate::crm::{Db, DbError};

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
    /// Deliver tickets to the configured CRM (webhook, API or database) until stopped.
    Deliver,
}

/// Runs a `tickets` command.
pub async fn run_tickets(
    url: &str,
    target: Option<crate::crm::delivery::Target>,
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
            let Some(target) = target else {
                eprintln!(
                    "no [tickets.webhook] or [tickets.sql] configured: tickets stay in the database"
                );
                return Ok(());
            };
            let (_stop, stop) = tokio::sync::watch::channel(false);
            let every = std::time::Duration::from_millis(200);
            crate::crm::delivery::run_worker(db, target, every, stop, Default::default()).await;
        }
    }
    Ok(())
}
