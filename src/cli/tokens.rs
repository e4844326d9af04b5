//! `hotline tokens`: make, list and revoke the admin API's tokens.

use clap::Subcommand;

use crate::api::access::Role;
use crate::api::access::store;
use crate::crm::Db;

/// `hotline tokens`.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token; it is printed once and only its hash is kept.
    Add {
        /// A name saying whose or what it is, e.g. `wallboard` or `alice`.
        name: String,
        #[arg(long, value_enum)]
        role: Role,
    },
    /// The tokens, their roles and whether they are revoked (no secrets).
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token; running servers refuse it within a few seconds.
    Revoke { name: String },
}

/// Runs a `tokens` command on the database at `url`.
pub async fn run(url: &str, command: TokensCommand) -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::connect(url).await?;
    match command {
        TokensCommand::Add { name, role } => {
            let secret = store::add(&db, &name, role).await?;
            println!("{secret}");
            eprintln!(
                "token `{name}` ({role}) made; it is shown only this once. Send it as\n  \
                 Authorization: Bearer {secret}\nor, for hotline's own commands, set \
                 HOTLINE_TOKEN={secret}"
            );
        }
        TokensCommand::List { json } => {
            let tokens = store::list(&db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            println!("{:<24} {:<10} {:<20} revoked", "name", "role", "created");
            for token in tokens {
                let revoked = token.revoked_at.map(time).unwrap_or_else(|| "-".into());
                let created = time(token.created_at);
                println!(
                    "{:<24} {:<10} {created:<20} {revoked}",
                    token.name, token.role
                );
            }
        }
        TokensCommand::Revoke { name } => {
            store::revoke(&db, &name).await?;
            println!("token `{name}` revoked");
        }
    }
    Ok(())
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}
