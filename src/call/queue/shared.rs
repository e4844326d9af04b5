//! What the ACD shares with a cluster's other nodes while it runs: its
//! snapshot, written to the database once a second for their wallboards,
//! and the agents' state changes asked on them, taken from the database in
//! order and applied once each.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::{QueueHandle, remote};
use crate::cluster::leader::Role;
use crate::crm::cluster_queue::{AGENT_COMMANDS_CHANNEL, CommandOutcome};
use crate::crm::{Db, DbError};

/// How often the snapshot is written, and the commands read without a notification.
const EVERY: Duration = Duration::from_secs(1);

/// Shares the queue of the ACD of `epoch` until this node stops leading.
pub async fn share_while_leading(
    db: Db,
    url: String,
    queue: QueueHandle,
    mut role: watch::Receiver<Role>,
    epoch: i64,
) {
    let leading = async move {
        while *role.borrow_and_update() == (Role::Leader { epoch }) {
            if role.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = leading => {}
        () = publish_snapshots(&db, &queue, epoch) => {}
        () = apply_commands(&db, &url, &queue, epoch) => {}
    }
}

/// Writes the ACD's snapshot every second, until a newer ACD fences it out.
async fn publish_snapshots(db: &Db, queue: &QueueHandle, epoch: i64) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let body = match serde_json::to_string(&queue.local_snapshot().await) {
            Ok(body) => body,
            Err(error) => {
                warn!(%error, "the queue's snapshot cannot be written");
                continue;
            }
        };
        match db.publish_queue_snapshot(epoch, &body).await {
            Ok(()) => {}
            Err(DbError::Fenced { .. }) => return,
            Err(error) => debug!(%error, "the queue's snapshot not written this second"),
        }
    }
}

/// Applies the agent commands other nodes add, in order, each once: a
/// command is claimed before it is applied, and one this term has applied
/// is never taken again.
async fn apply_commands(db: &Db, url: &str, queue: &QueueHandle, epoch: i64) {
    let mut listener = listen(url).await;
    let mut applied = 0i64;
    loop {
        let pending = db
            .pending_agent_commands(2 * remote::ANSWER_WITHIN.as_millis() as i64)
            .await;
        match pending {
            Ok(pending) => {
                let after = applied;
                for command in pending.into_iter().filter(|c| c.seq > after) {
                    match apply(db, queue, epoch, &command).await {
                        Ok(()) => applied = command.seq,
                        Err(DbError::Fenced { .. }) => return,
                        Err(error) => {
                            warn!(%error, "agent command not taken yet");
                            break;
                        }
                    }
                }
            }
            Err(error) => warn!(%error, "agent commands not read"),
        }
        wait(&mut listener).await;
    }
}

/// Claims, applies and answers one command.
async fn apply(
    db: &Db,
    queue: &QueueHandle,
    epoch: i64,
    command: &crate::crm::cluster_queue::PendingCommand,
) -> Result<(), DbError> {
    // Withdrawn by its asker meanwhile: nothing to do.
    if !db
        .settle_agent_command(epoch, command.seq, None, CommandOutcome::Applying)
        .await?
    {
        return Ok(());
    }
    let outcome = match remote::decode(&command.input) {
        Some(input) => remote::outcome(&queue.send_agent(&command.agent, input, true).await),
        None => {
            warn!(input = %command.input, "an agent command nobody knows; refused");
            CommandOutcome::Expired
        }
    };
    let from = Some(CommandOutcome::Applying);
    db.settle_agent_command(epoch, command.seq, from, outcome)
        .await?;
    Ok(())
}

/// A listener for new commands, if the database gives one (else the commands are read every second).
async fn listen(url: &str) -> Option<PgListener> {
    let mut listener = match PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(error) => {
            warn!(%error, "cannot listen for agent commands; reading them every second");
            return None;
        }
    };
    match listener.listen(AGENT_COMMANDS_CHANNEL).await {
        Ok(()) => Some(listener),
        Err(error) => {
            warn!(%error, "cannot listen for agent commands; reading them every second");
            None
        }
    }
}

/// Until a command is notified, or a second has passed.
async fn wait(listener: &mut Option<PgListener>) {
    let Some(listening) = listener else {
        tokio::time::sleep(EVERY).await;
        return;
    };
    match tokio::time::timeout(EVERY, listening.try_recv()).await {
        Ok(Ok(_)) | Err(_) => {}
        Ok(Err(error)) => {
            warn!(%error, "agent command listener failed; reading every second");
            *listener = None;
        }
    }
}
