//! `hotline calls …`: the calls recorded in the database, and their report.

use std::io::Write;

use clap::Subcommand;

use crate::crm::Db;

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
    /// The contact-centre report of a period: containment, auto-registration,
    /// service level, abandonment, speed of answer, handle time, menu choices,
    /// agent activity, overdue tickets.
    Report {
        /// First day (2026-12-01, UTC) or time (RFC 3339); default: today.
        #[arg(long)]
        from: Option<String>,
        /// Last day, included, or end time; default: now.
        #[arg(long)]
        to: Option<String>,
        /// The time zone whose days `--from`, `--to` and today are, e.g.
        /// Europe/Kyiv; default UTC.
        #[arg(long)]
        time_zone: Option<String>,
        /// The service level counts answers within this many seconds.
        #[arg(long, default_value_t = 20)]
        service_level_seconds: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

async fn print_report(
    db: &Db,
    (from_ms, to_ms): (i64, i64),
    service_level_seconds: u64,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let input = db
        .report_input(from_ms, to_ms, service_level_seconds)
        .await?;
    let report = crate::report::compute(&input);
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into());
        let _ = writeln!(out, "{text}");
    } else {
        let _ = write!(out, "{report}");
    }
    Ok(())
}

/// Runs a `calls` command against `url`.
pub async fn run_calls(url: &str, command: CallsCommand) -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::connect(url).await?;
    let (json, limit) = match command {
        CallsCommand::List { json, limit } => (json, limit),
        CallsCommand::Report {
            from,
            to,
            time_zone,
            service_level_seconds,
            json,
        } => {
            let period = crate::report::period(
                from.as_deref(),
                to.as_deref(),
                time_zone.as_deref(),
                chrono::Utc::now(),
            )?;
            return print_report(&db, period, service_level_seconds, json).await;
        }
    };
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
