//! `hotline db …`: create, migrate and seed the database.

use clap::Subcommand;

use crate::crm::{Db, DbError};

/// `hotline db`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database if needed and bring its schema up to date.
    Migrate,
    /// Load the demo customers (those present are left alone).
    SeedDemo,
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
