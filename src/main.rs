//! The `hotline` command: wiring only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hotline::config::{Config, Overrides};

/// hotline: a telephony IVR and call-routing engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer calls: SIP on UDP and TCP, prompts, CRM and the admin API.
    Serve(ServeArgs),
    /// The database: create, migrate, load demo data.
    Db {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::db::DbCommand,
    },
    /// Tickets the IVR registered, and their delivery to the CRM.
    Tickets {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::tickets::TicketsCommand,
    },
    /// Flows: check, simulate and test them without a phone.
    Flows {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::flows::FlowsCommand,
    },
    /// Calls recorded in the database.
    Calls {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::calls::CallsCommand,
    },
    /// Agents: their passwords, skills and registered phones.
    Agents {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::agents::AgentsCommand,
    },
    /// The company's CRM sources: check them before callers use them.
    Crm {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::crm::CrmCommand,
    },
    /// Tokens for the admin HTTP API, with their roles.
    Tokens {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(subcommand)]
        command: hotline::cli::tokens::TokensCommand,
    },
}

/// Settings shared by every command that needs the configuration.
#[derive(Args)]
struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "HOTLINE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// SIP listen address, UDP and TCP (default 0.0.0.0:5060).
    #[arg(long, env = "HOTLINE_SIP", value_name = "ADDR:PORT")]
    sip: Option<SocketAddr>,
    /// Database URL: sqlite://FILE or postgres://...
    #[arg(long, env = "HOTLINE_DB", value_name = "URL")]
    db: Option<String>,
    /// Directory of flow files.
    #[arg(long, env = "HOTLINE_FLOWS", value_name = "DIR")]
    flows: Option<PathBuf>,
    /// Directory of prompts.
    #[arg(long, env = "HOTLINE_AUDIO", value_name = "DIR")]
    audio: Option<PathBuf>,
    /// Admin HTTP listen address (default 127.0.0.1:8080).
    #[arg(long, env = "HOTLINE_HTTP", value_name = "ADDR:PORT")]
    http: Option<SocketAddr>,
}

impl ServeArgs {
    fn load(&self) -> Result<Config, hotline::config::ConfigError> {
        let overrides = Overrides {
            sip: self.sip,
            db: self.db.clone(),
            flows: self.flows.clone(),
            audio: self.audio.clone(),
            http: self.http,
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hotline: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hotline: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve(args) => {
            let config = args.load()?;
            hotline::app::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Db { settings, command } => {
            let config = settings.load()?;
            hotline::cli::db::run_db(&config.database.url, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tickets { settings, command } => {
            let config = settings.load()?;
            let target = config.tickets.target(&config.crm.sources)?;
            hotline::cli::tickets::run_tickets(&config.database.url, target, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Flows { settings, command } => {
            let config = settings.load()?;
            let clean = hotline::cli::flows::run(&config, command).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Calls { settings, command } => {
            let config = settings.load()?;
            hotline::cli::calls::run_calls(&config.database.url, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Agents { settings, command } => {
            let config = settings.load()?;
            let realm = &config.registrar.realm;
            let http = config.http.listen;
            hotline::cli::agents::run_agents(&config.database.url, realm, http, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crm { settings, command } => {
            let config = settings.load()?;
            let clean = hotline::cli::crm::run_crm(&config, command).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Tokens { settings, command } => {
            let config = settings.load()?;
            hotline::cli::tokens::run(&config.database.url, command).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
