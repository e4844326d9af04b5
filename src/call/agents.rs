//! Agents between the registrar and the queue: the agents of the database are
//! made known to the ACD, and a phone registering logs its agent in.

use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use super::queue::QueueHandle;
use crate::crm::Db;
use crate::queue::AgentConfig;
use crate::registrar::RegistrarEvent;
use crate::server::registrar::RegistrarHandle;

/// Adds the database's agents to the queue, then follows registrations until the registrar stops.
pub async fn follow_registrations(db: Db, registrar: RegistrarHandle, queue: QueueHandle) {
    match db.list_agents().await {
        Ok(agents) => {
            for agent in agents {
                queue.add_agent(agent_config(&agent));
            }
        }
        Err(error) => warn!(%error, "agents not loaded; each is loaded when it registers"),
    }
    let mut events = registrar.subscribe();
    for (agent, _) in registrar.registered() {
        queue.agent_registered(&agent, true);
    }
    loop {
        match events.recv().await {
            Ok(RegistrarEvent::AgentRegistered { agent, .. }) => {
                // An agent added since start-up is loaded on its first registration.
                match db.find_agent(&agent).await {
                    Ok(Some(found)) => queue.add_agent(agent_config(&found)),
                    Ok(None) => {}
                    Err(error) => warn!(%error, %agent, "agent's skills not loaded"),
                }
                info!(%agent, "agent's phone registered");
                queue.agent_registered(&agent, true);
            }
            Ok(RegistrarEvent::AgentUnregistered { agent, .. }) => {
                info!(%agent, "agent's phone unregistered");
                queue.agent_registered(&agent, false);
            }
            Ok(RegistrarEvent::ContactsChanged { .. }) => {}
            Err(RecvError::Lagged(_)) => {
                for (agent, _) in registrar.registered() {
                    queue.agent_registered(&agent, true);
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

pub(crate) fn agent_config(agent: &crate::crm::agents::Agent) -> AgentConfig {
    AgentConfig {
        id: agent.login.clone(),
        skills: agent
            .skills
            .iter()
            .map(|s| (s.skill.clone(), s.level.clamp(0, 255) as u8))
            .collect(),
    }
}
