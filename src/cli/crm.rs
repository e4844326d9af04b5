//! `hotline crm …`: check the company's CRM sources before callers use them.

use clap::Subcommand;

use crate::crm::Db;

/// `hotline crm …`
#[derive(Debug, Subcommand)]
pub enum CrmCommand {
    /// Connect to every source and run each lookup with its `sample` parameters.
    Check,
}

/// Runs a `crm` command; `Ok(false)` when a source or lookup failed.
pub async fn run_crm(
    config: &crate::config::Config,
    command: CrmCommand,
) -> Result<bool, Box<dyn std::error::Error>> {
    match command {
        CrmCommand::Check => {
            let db = Db::open(&config.database.url).await?;
            let crm = config.crm(db)?;
            let (report, clean) = crm.check().await;
            print!("{report}");
            Ok(clean)
        }
    }
}
