//! The queue on a cluster node: the ACD runs only while this node leads.
//!
//! Each term starts a fresh ACD, loaded from the database like a node that
//! has just started (agents, and the phones registered here), and ends the
//! moment the election says this node no longer leads: its waiting callers
//! are dropped, since the next leader cannot bridge calls whose media runs
//! through this node. Between terms the queue refuses callers at once, so a
//! caller is never left waiting on a queue nobody runs, while snapshots and
//! agents' state changes go to the ACD wherever it runs, through the database.

use std::future::Future;

use tokio::sync::watch;
use tracing::{info, warn};

use super::{Command, QueueInbox, QueueShell, remote, run_until};
use crate::cluster::leader::Role;
use crate::crm::Db;
use crate::queue::AgentConfig;
use crate::server::agent_leg::RingOutcome;
use crate::server::endpoint::{EndpointCommand, EndpointHandle};

/// What a term starts with.
pub struct Term {
    pub shell: QueueShell,
    /// Agents known to the database, logged out until their phones register.
    pub agents: Vec<AgentConfig>,
    /// Agents whose phones are registered now.
    pub registered: Vec<String>,
}

/// Runs the ACD during each of this node's terms as leader (`start` builds
/// it for an epoch, `None` if it cannot), and between terms refuses callers
/// and passes the rest to the ACD through `db`; returns when every queue
/// handle is dropped.
pub async fn run_while_leading<F, Fut>(
    mut start: F,
    mut inbox: QueueInbox,
    mut role: watch::Receiver<Role>,
    endpoint: EndpointHandle,
    db: Db,
) where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Option<Term>>,
{
    loop {
        let epoch = loop {
            if let Role::Leader { epoch } = *role.borrow_and_update() {
                break epoch;
            }
            tokio::select! {
                changed = role.changed() => if changed.is_err() { return },
                command = inbox.inbox.recv() => match command {
                    Some(command) => refuse(command, &endpoint, &db).await,
                    None => return,
                },
            }
        };
        let Some(term) = start(epoch).await else {
            // Only a configuration the start-up checks let through by mistake.
            warn!(epoch, "the ACD cannot start; this node leads without it");
            if role.changed().await.is_err() {
                return;
            }
            continue;
        };
        for agent in term.agents {
            let _ = inbox.handle.commands.send(Command::AddAgent(agent));
        }
        for agent in &term.registered {
            inbox.handle.agent_registered(agent, true);
        }
        endpoint.send(EndpointCommand::AcdRunning(true)).await;
        info!(epoch, "the ACD runs on this node");
        let mut watching = role.clone();
        let stepped_down = async move {
            loop {
                if watching.changed().await.is_err() {
                    return std::future::pending().await;
                }
                if *watching.borrow() != (Role::Leader { epoch }) {
                    return;
                }
            }
        };
        let stopped = run_until(term.shell, &mut inbox, stepped_down).await;
        endpoint.send(EndpointCommand::AcdRunning(false)).await;
        if !stopped {
            return;
        }
        warn!(
            epoch,
            "the ACD stopped on this node; its waiting callers are dropped"
        );
    }
}

/// Answers a request made while this node does not run the ACD: a caller
/// hears goodbye (their notices end), an agent who answered a ring of the
/// last term is hung up; a snapshot is the ACD's latest, and an agent's
/// state change is passed to the ACD, each on a task of its own.
async fn refuse(command: Command, endpoint: &EndpointHandle, db: &Db) {
    match command {
        Command::Snapshot {
            reply,
            here_only: false,
        } => {
            let db = db.clone();
            tokio::spawn(async move {
                let _ = reply.send(remote::snapshot(&db).await);
            });
        }
        Command::Agent {
            agent,
            input,
            reply: Some(reply),
            here_only: false,
        } => {
            let db = db.clone();
            tokio::spawn(async move {
                let _ = reply.send(remote::set_agent(&db, &agent, input).await);
            });
        }
        Command::Ringing(_, RingOutcome::Answered(leg)) => leg.hang_up(endpoint).await,
        Command::RetryCallback { .. } => {
            warn!("a callback to retry was lost with the ACD's term; its ticket stays")
        }
        // Dropping the reply or the notices is the answer.
        _ => {}
    }
}
