//! The queue seen from a cluster node that does not run the ACD: the ACD's
//! latest snapshot from the database, and agents' state changes passed to
//! the ACD through it (`shared` takes them there).
//!
//! Through the database rather than to the ACD node's admin API: every node
//! reaches the database already, while the nodes' API addresses, their
//! tokens and a trust between them would be new; and a change asked while
//! the ACD moves is taken by the next one or answered "not running", never
//! applied twice.

use std::time::{Duration, Instant};

use tracing::warn;

use super::{AgentChangeError, QueueSnapshot};
use crate::crm::Db;
use crate::crm::cluster_queue::CommandOutcome;
use crate::queue::{AcdError, AgentId, AgentInput};

/// A snapshot older than this is from an ACD that stopped writing it: the
/// wallboards show no queue rather than callers who may be gone.
const FRESH_MS: i64 = 5000;

/// How long a state change waits for the ACD to take it.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// How often the asking node looks for the ACD's answer.
const ANSWER_POLL: Duration = Duration::from_millis(100);

/// The ACD's latest snapshot, its waits brought up to now; empty when no ACD writes one.
pub(super) async fn snapshot(db: &Db) -> QueueSnapshot {
    let stored = match db.queue_snapshot(FRESH_MS).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return QueueSnapshot::default(),
        Err(error) => {
            warn!(%error, "the ACD's snapshot not read");
            return QueueSnapshot::default();
        }
    };
    match serde_json::from_str::<QueueSnapshot>(&stored.body) {
        Ok(mut snapshot) => {
            snapshot.age_by(stored.age_ms);
            snapshot
        }
        Err(error) => {
            warn!(%error, "the ACD's snapshot is not readable");
            QueueSnapshot::default()
        }
    }
}

/// Asks the ACD to change `agent`'s state and waits for its answer.
pub(super) async fn set_agent(
    db: &Db,
    agent: &str,
    input: AgentInput,
) -> Result<(), AgentChangeError> {
    // A phone's registration reaches the ACD through the database's
    // registrations instead (`follow_registrations`).
    let Some(text) = encode(&input) else {
        return Err(AgentChangeError::NotRunning);
    };
    let seq = db.send_agent_command(agent, &text).await.map_err(|error| {
        warn!(%error, "agent state change not passed to the ACD");
        AgentChangeError::NotRunning
    })?;
    let mut deadline = Instant::now() + ANSWER_WITHIN;
    let mut withdrawn_tried = false;
    loop {
        match db.agent_command_outcome(seq).await {
            Ok(Some(CommandOutcome::Applying) | None) => {}
            Ok(Some(outcome)) => return answer(agent, outcome),
            Err(error) => warn!(%error, "the ACD's answer not read yet"),
        }
        if Instant::now() >= deadline {
            if withdrawn_tried {
                // Taken but not answered: the ACD stopped while applying it.
                return Err(AgentChangeError::NotRunning);
            }
            withdrawn_tried = true;
            match db.withdraw_agent_command(seq).await {
                Ok(false) => deadline = Instant::now() + ANSWER_WITHIN,
                Ok(true) | Err(_) => return Err(AgentChangeError::NotRunning),
            }
        }
        tokio::time::sleep(ANSWER_POLL).await;
    }
}

/// The API's answer for what the ACD made of a change.
fn answer(agent: &str, outcome: CommandOutcome) -> Result<(), AgentChangeError> {
    let id = || AgentId(agent.to_owned());
    match outcome {
        CommandOutcome::Done => Ok(()),
        CommandOutcome::UnknownAgent => {
            Err(AgentChangeError::Refused(AcdError::UnknownAgent(id())))
        }
        CommandOutcome::NotLoggedIn => Err(AgentChangeError::Refused(AcdError::NotLoggedIn(id()))),
        CommandOutcome::Applying | CommandOutcome::Expired => Err(AgentChangeError::NotRunning),
    }
}

/// An agent's state change as `agent_commands.input` keeps it.
pub(super) fn encode(input: &AgentInput) -> Option<String> {
    Some(match input {
        AgentInput::Login => "login".into(),
        AgentInput::Logout => "logout".into(),
        AgentInput::Unpause => "unpause".into(),
        AgentInput::Pause { reason } => format!("pause:{reason}"),
        AgentInput::Registered(_) => return None,
    })
}

/// The state change `agent_commands.input` keeps.
pub(super) fn decode(text: &str) -> Option<AgentInput> {
    match text {
        "login" => Some(AgentInput::Login),
        "logout" => Some(AgentInput::Logout),
        "unpause" => Some(AgentInput::Unpause),
        _ => text.strip_prefix("pause:").map(|reason| AgentInput::Pause {
            reason: reason.to_owned(),
        }),
    }
}

/// The outcome the ACD writes for the result of applying a change.
pub(super) fn outcome(result: &Result<(), AgentChangeError>) -> CommandOutcome {
    match result {
        Ok(()) => CommandOutcome::Done,
        Err(AgentChangeError::Refused(AcdError::UnknownAgent(_))) => CommandOutcome::UnknownAgent,
        Err(AgentChangeError::Refused(_)) => CommandOutcome::NotLoggedIn,
        Err(AgentChangeError::NotRunning) => CommandOutcome::Expired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_change_an_agent_asks_for_survives_the_table() {
        let inputs = [
            AgentInput::Login,
            AgentInput::Logout,
            AgentInput::Unpause,
            AgentInput::Pause {
                reason: "coffee: black".into(),
            },
        ];
        for input in inputs {
            let text = encode(&input).unwrap();
            assert_eq!(decode(&text), Some(input));
        }
        assert_eq!(encode(&AgentInput::Registered(true)), None);
        assert_eq!(decode("dance"), None);
    }

    #[test]
    fn the_acds_outcome_answers_the_asker_as_a_local_change_would() {
        let refused = Err(AgentChangeError::Refused(AcdError::NotLoggedIn(AgentId(
            "alice".into(),
        ))));
        let outcome = outcome(&refused);
        assert!(matches!(
            answer("alice", outcome),
            Err(AgentChangeError::Refused(AcdError::NotLoggedIn(AgentId(a)))) if a == "alice"
        ));
        assert!(answer("alice", CommandOutcome::Done).is_ok());
        assert!(matches!(
            answer("bob", CommandOutcome::UnknownAgent),
            Err(AgentChangeError::Refused(AcdError::UnknownAgent(_)))
        ));
        assert!(matches!(
            answer("bob", CommandOutcome::Expired),
            Err(AgentChangeError::NotRunning)
        ));
    }
}
