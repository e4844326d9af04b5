//! `hotline agents …`: agents' passwords, skills and registered phones.

use std::io::Write;

use clap::Subcommand;

use crate::crm::{Db, DbError};

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
        skills: Vec<crate::crm::agents::Skill>,
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
        skills: Vec<crate::crm::agents::Skill>,
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
    agent: crate::crm::agents::Agent,
    registrations: Vec<crate::crm::registrations::StoredRegistration>,
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
            let agent = crate::crm::agents::NewAgent {
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
    let mut registrations = db.live_registrations(crate::crm::now_ms()).await?;
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
