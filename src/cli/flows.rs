//! `hotline flows …`: check, simulate and test flows without a phone.
//!
//! The commands compile flows against the configuration's catalog (lookups,
//! ticket types, queues) and the prompts of its audio directory, exactly as
//! the server does before it publishes a flow.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::config::Config;
use crate::crm::Db;
use crate::flow::{
    AudioDir, Backend, Customer, Diagnostic, Fixture, LookupFailure, SimulationInput,
    TicketFailure, TicketNumber, Values, compile, flow_files, print_report, run_tests, simulate,
};

/// `hotline flows`.
#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Compile every flow file and report each problem with file, line and column.
    Check {
        /// Directory of flow files (default: the configured one).
        dir: Option<PathBuf>,
    },
    /// Run one call through a flow on a virtual clock and print its transcript.
    Simulate {
        /// The flow file.
        file: PathBuf,
        /// Calling number, E.164.
        #[arg(long = "from", value_name = "NUMBER")]
        caller: String,
        /// Keys pressed in turn when the flow waits; `w` lets the timeout pass.
        #[arg(long, default_value = "")]
        keys: String,
        /// Wall-clock time of the call, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Language setting (default: the customer's, else the flow's).
        #[arg(long)]
        language: Option<String>,
        /// The call's percentage-split roll, 0..100.
        #[arg(long, default_value_t = 0)]
        split_roll: u8,
        /// A YAML CRM fixture instead of the configured database.
        #[arg(long, value_name = "FILE")]
        fixture: Option<PathBuf>,
    },
    /// Run the `tests:` of every flow file; stops at the first failure.
    Test {
        /// Directory of flow files (default: the configured one).
        dir: Option<PathBuf>,
    },
}

/// Why a flows command could not run (flow problems are reported, not errors).
#[derive(Debug, thiserror::Error)]
pub enum FlowsCliError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fixture {path}: {message}")]
    Fixture { path: PathBuf, message: String },
    #[error(transparent)]
    Database(#[from] crate::crm::DbError),
    #[error(transparent)]
    Crm(#[from] crate::crm::sources::SetupError),
    #[error("the simulation stopped: {0}")]
    Simulation(String),
}

/// Runs a flows command; `Ok(false)` when the flows have errors or a test failed.
pub async fn run(config: &Config, command: FlowsCommand) -> Result<bool, FlowsCliError> {
    let audio = AudioDir::open(&config.audio.dir).map_err(|source| FlowsCliError::Io {
        path: config.audio.dir.clone(),
        source,
    })?;
    let catalog = config.catalog();
    let mut out = std::io::stdout().lock();
    match command {
        FlowsCommand::Check { dir } => {
            let dir = dir.unwrap_or_else(|| config.flows.dir.clone());
            let files = flow_files(&dir).map_err(|source| FlowsCliError::Io {
                path: dir.clone(),
                source,
            })?;
            let mut clean = true;
            for file in files {
                let source = read(&file)?;
                let diagnostics = match compile(&source, &file, &catalog, &audio) {
                    Ok((_, warnings)) => warnings,
                    Err(errors) => errors,
                };
                clean &= !diagnostics.iter().any(Diagnostic::is_error);
                let _ = match diagnostics.is_empty() {
                    true => writeln!(out, "{}: ok", file.display()),
                    false => diagnostics.iter().try_for_each(|d| writeln!(out, "{d}")),
                };
            }
            Ok(clean)
        }
        FlowsCommand::Test { dir } => {
            let dir = dir.unwrap_or_else(|| config.flows.dir.clone());
            let report = run_tests(&dir, &catalog, &audio).map_err(|source| FlowsCliError::Io {
                path: dir.clone(),
                source,
            })?;
            let _ = print_report(&report, &mut out);
            Ok(report.passed())
        }
        FlowsCommand::Simulate {
            file,
            caller,
            keys,
            at,
            language,
            split_roll,
            fixture,
        } => {
            let source = read(&file)?;
            let flow = match compile(&source, &file, &catalog, &audio) {
                Ok((flow, _)) => Arc::new(flow),
                Err(errors) => {
                    for error in errors {
                        let _ = writeln!(out, "{error}");
                    }
                    return Ok(false);
                }
            };
            let input = SimulationInput {
                caller,
                keys,
                at_time: at.unwrap_or_else(Utc::now),
                language,
                split_roll,
            };
            let transcript = match fixture {
                Some(path) => {
                    let mut fixture = read_fixture(&path)?;
                    simulate(flow, &input, &mut fixture, &audio)
                }
                None => {
                    let db =
                        Db::connect_seeded(&config.database.url, config.database.seed_demo).await?;
                    let crm = config.crm(db)?;
                    let mut backend = DatabaseBackend {
                        crm,
                        runtime: tokio::runtime::Handle::current(),
                        call_id: format!("simulation-{}", crate::crm::new_id()),
                        config: config.clone(),
                    };
                    tokio::task::spawn_blocking(move || {
                        simulate(flow, &input, &mut backend, &audio)
                    })
                    .await
                    .map_err(|e| FlowsCliError::Simulation(e.to_string()))?
                }
            };
            let _ = write!(out, "{transcript}");
            Ok(true)
        }
    }
}

fn read(path: &Path) -> Result<String, FlowsCliError> {
    std::fs::read_to_string(path).map_err(|source| FlowsCliError::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_fixture(path: &Path) -> Result<Fixture, FlowsCliError> {
    serde_saphyr::from_str(&read(path)?).map_err(|e| FlowsCliError::Fixture {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// How long a simulated lookup may take against the real database.
const LOOKUP_LIMIT: Duration = Duration::from_secs(3);

/// The configured database as the simulator's CRM: real lookups, and real
/// tickets (registered once for the simulated call, as a real call would).
struct DatabaseBackend {
    /// Lookups and caller identification on the configured CRM sources.
    crm: crate::crm::sources::Crm,
    runtime: tokio::runtime::Handle,
    call_id: String,
    config: Config,
}

impl Backend for DatabaseBackend {
    fn find_customer(&mut self, caller: &str) -> Option<Customer> {
        let found = self
            .runtime
            .block_on(self.crm.identify(caller, LOOKUP_LIMIT));
        found.ok().flatten().map(|c| Customer {
            id: c.id,
            language: Some(c.language),
        })
    }

    fn lookup(&mut self, name: &str, params: &Values) -> Option<Result<Values, LookupFailure>> {
        Some(
            self.runtime
                .block_on(self.crm.lookup(name, params, LOOKUP_LIMIT)),
        )
    }

    fn register_ticket(
        &mut self,
        kind: &str,
        fields: &Values,
        customer: Option<&str>,
        phone: &str,
    ) -> Option<Result<TicketNumber, TicketFailure>> {
        let request = crate::crm::self_service::FlowTicket {
            kind,
            fields,
            customer,
            phone,
        };
        Some(self.runtime.block_on(self.crm.register_ticket(
            &self.call_id,
            request,
            &self.config.tickets.types,
            LOOKUP_LIMIT,
        )))
    }
}
