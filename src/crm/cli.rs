//! `hotline db …`, `calls …`, `tickets …` and `agents …`: the database for admins and scripts.

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
    target: Option<super::delivery::Target>,
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
            super::delivery::run_worker(db, target, every, stop, Default::default()).await;
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

/// `hotline agents`.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Add an agent; the password is read from stdin unless given.
    Add {
        /// The SIP user name the agent's phones register with.
        login: String,
        /// The agent's name as shown to admins.
        #[arg(long)]
        name: String,
        #[arg(long)]
        password: Option<String>,
        /// A skill with its level, e.g. `first_line=1`; repeat for more.
        #[arg(long = "skill", value_name = "NAME=LEVEL")]
        skills: Vec<super::agents::Skill>,
    },
    /// Agents with their skills and registered phones.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set an agent's password; read from stdin unless given.
    Passwd {
        login: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Replace an agent's skills.
    Skills {
        login: String,
        /// A skill with its level, e.g. `second_line=2`; none clears them.
        #[arg(long = "skill", value_name = "NAME=LEVEL")]
        skills: Vec<super::agents::Skill>,
    },
    /// Change a working agent's state on the running server (through its admin API).
    State {
        login: String,
        /// `login`, `logout`, `pause` or `unpause`.
        state: String,
        /// Why the agent pauses, e.g. `lunch`.
        #[arg(long)]
        reason: Option<String>,
        /// An admin API token of role supervisor or admin (`hotline tokens add`).
        #[arg(long, env = "HOTLINE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

/// An agent with the phones it has registered, as `agents list` prints it.
#[derive(serde::Serialize)]
struct ListedAgent {
    #[serde(flatten)]
    agent: super::agents::Agent,
    registrations: Vec<super::registrations::StoredRegistration>,
}

/// Runs an `agents` command; passwords are stored for `realm`.
pub async fn run_agents(
    url: &str,
    realm: &str,
    http: std::net::SocketAddr,
    command: AgentsCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    // A working agent's state lives in the running server, not in the database.
    if let AgentsCommand::State {
        login,
        state,
        reason,
        token,
    } = &command
    {
        let token = token.as_deref();
        crate::api::set_agent_state(http, token, login, state, reason.as_deref()).await?;
        println!("{login}: {state}");
        return Ok(());
    }
    let db = Db::connect(url).await?;
    match command {
        AgentsCommand::Add {
            login,
            name,
            password,
            skills,
        } => {
            let password = read_password(password, &login)?;
            let agent = super::agents::NewAgent {
                login,
                display_name: name,
                password,
                skills,
            };
            let added = db.add_agent(&agent, realm).await?;
            println!("agent {} added", added.login);
        }
        AgentsCommand::List { json } => list_agents(&db, json).await?,
        AgentsCommand::Passwd { login, password } => {
            let password = read_password(password, &login)?;
            db.set_agent_password(&login, realm, &password).await?;
            println!("password of {login} set");
        }
        AgentsCommand::State { .. } => {}
        AgentsCommand::Skills { login, skills } => {
            db.set_agent_skills(&login, &skills).await?;
            println!("skills of {login} set");
        }
    }
    Ok(())
}

async fn list_agents(db: &Db, json: bool) -> Result<(), DbError> {
    let mut registrations = db.live_registrations(super::now_ms()).await?;
    let agents: Vec<ListedAgent> = db
        .list_agents()
        .await?
        .into_iter()
        .map(|agent| {
            let (own, others) = registrations
                .drain(..)
                .partition(|r| r.login == agent.login);
            registrations = others;
            ListedAgent {
                agent,
                registrations: own,
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&agents).unwrap_or_else(|_| "[]".into());
        let _ = writeln!(out, "{text}");
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:<16}  {:<24}  {:<28}  phones",
        "login", "name", "skills"
    );
    for listed in agents {
        let skills: Vec<String> = listed
            .agent
            .skills
            .iter()
            .map(|s| format!("{}={}", s.skill, s.level))
            .collect();
        let phones: Vec<&str> = listed
            .registrations
            .iter()
            .map(|r| r.contact.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{:<16}  {:<24}  {:<28}  {}",
            listed.agent.login,
            listed.agent.display_name,
            skills.join(","),
            phones.join(" ")
        );
    }
    Ok(())
}

/// The given password, else one line of stdin (so it stays out of shell
/// history and process lists: `hotline agents passwd alice < file`).
fn read_password(given: Option<String>, login: &str) -> std::io::Result<String> {
    use std::io::IsTerminal;
    if let Some(password) = given {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        eprint!("password for {login}: ");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

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
            let crm = super::sources::Crm::from_config(db, config)?;
            let (report, clean) = crm.check().await;
            print!("{report}");
            Ok(clean)
        }
    }
}
