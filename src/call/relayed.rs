//! Browsers whose SIP WebSocket is open on another node of the cluster, as
//! the ACD on this node rings them: through that node's relay (the Path it
//! keeps their bindings with, `sip::relay`).
//!
//! The ACD reads them from the database, where every node's registrar keeps
//! its bindings, once a [`REFRESH`]: phones reach the ACD's own registrar
//! through Kamailio, but a browser's REGISTER stays on the node whose console
//! it opened (its minted password is known there only), so the ACD learns of
//! it by reading. A browser is rung at most that long after it registers.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{info, warn};

use super::queue::{Directory, QueueHandle};
use crate::cluster::leader::Role;
use crate::crm::Db;
use crate::server::agent_leg::{RingTarget, WebrtcAnswerer};
use crate::server::endpoint::{EndpointCommand, EndpointHandle};
use crate::sip::message::Uri;

/// How often the ACD reads the browsers other nodes keep.
const REFRESH: Duration = Duration::from_secs(1);

/// The browsers of other nodes by agent, shared with the ACD's directory.
#[derive(Clone, Default)]
pub struct RelayedBrowsers(Arc<RwLock<HashMap<String, Vec<RingTarget>>>>);

impl RelayedBrowsers {
    /// Where to ring `agent`'s browsers open on other nodes.
    pub fn of(&self, agent: &str) -> Vec<RingTarget> {
        let browsers = self.0.read().unwrap_or_else(|e| e.into_inner());
        browsers.get(agent).cloned().unwrap_or_default()
    }

    /// Replaces them all; what changed.
    fn replace(&self, now: HashMap<String, Vec<RingTarget>>) -> Changes {
        let mut browsers = self.0.write().unwrap_or_else(|e| e.into_inner());
        let agents = |map: &HashMap<String, Vec<RingTarget>>| -> BTreeSet<String> {
            map.keys().cloned().collect()
        };
        let contacts = |map: &HashMap<String, Vec<RingTarget>>| -> HashMap<String, Uri> {
            let targets = map.values().flatten();
            targets
                .map(|t| (t.uri.to_string(), t.uri.clone()))
                .collect()
        };
        let (before, after) = (agents(&browsers), agents(&now));
        let still = contacts(&now);
        let lost = contacts(&browsers)
            .into_iter()
            .filter(|(key, _)| !still.contains_key(key))
            .map(|(_, uri)| uri)
            .collect();
        *browsers = now;
        Changes {
            added: after.difference(&before).cloned().collect(),
            removed: before.difference(&after).cloned().collect(),
            lost,
        }
    }
}

/// How the browsers of other nodes changed since the last reading.
struct Changes {
    /// Agents who have a browser now and had none.
    added: Vec<String>,
    /// Agents who had a browser and have none now.
    removed: Vec<String>,
    /// Browsers gone (their socket closed, or their page registered anew).
    lost: Vec<Uri>,
}

/// What the ACD needs to follow other nodes' browsers.
#[derive(Clone)]
pub struct Following {
    pub browsers: RelayedBrowsers,
    /// This node's SIP address as the cluster reaches it: its own browsers are not relayed.
    pub me: SocketAddr,
    /// Answers a browser's offer with this node's WebRTC media.
    pub answerer: WebrtcAnswerer,
}

/// Keeps `following.browsers` current while this node leads in `epoch`,
/// logs their agents in and out of the queue as browsers come and go (an
/// agent still reachable through `directory` stays logged in; one with a
/// browser open elsewhere is logged in again within a [`REFRESH`]), and has
/// `endpoint` end the calls of browsers gone.
pub async fn follow_while_leading(
    db: Db,
    following: Following,
    queue: QueueHandle,
    directory: Directory,
    endpoint: EndpointHandle,
    mut leading: watch::Receiver<Role>,
    epoch: i64,
) {
    while *leading.borrow_and_update() == (Role::Leader { epoch }) {
        match read(&db, &following).await {
            Ok(now) => {
                let present: Vec<String> = now.keys().cloned().collect();
                let Changes {
                    added,
                    removed,
                    lost,
                } = following.browsers.replace(now);
                // Their node's relay keeps no dialogs: their calls end here.
                for contact in lost {
                    endpoint.send(EndpointCommand::TargetLost(contact)).await;
                }
                for agent in added {
                    if let Ok(Some(found)) = db.find_agent(&agent).await {
                        queue.add_agent(super::agents::agent_config(&found));
                    }
                    info!(%agent, "agent's browser on another node registered");
                }
                // Said again each time (the queue ignores what it knows), so
                // a phone of the agent unregistering here does not log out an
                // agent whose browser is still open elsewhere.
                for agent in present {
                    queue.agent_registered(&agent, true);
                }
                for agent in removed {
                    info!(%agent, "agent's browser on another node unregistered");
                    if directory(&agent).is_empty() {
                        queue.agent_registered(&agent, false);
                    }
                }
            }
            Err(error) => warn!(%error, "browsers of other nodes not read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH) => {}
            changed = leading.changed() => if changed.is_err() { break },
        }
    }
    following.browsers.replace(HashMap::new());
}

async fn read(
    db: &Db,
    following: &Following,
) -> Result<HashMap<String, Vec<RingTarget>>, crate::crm::DbError> {
    let now_ms = crate::crm::now_ms();
    let stored = db.live_registrations(now_ms).await?;
    let now = Instant::now();
    let mut browsers: HashMap<String, Vec<RingTarget>> = HashMap::new();
    for binding in stored
        .iter()
        .filter_map(|s| crate::server::registrar::relayed_binding(s, now, now_ms, following.me))
    {
        browsers
            .entry(binding.agent.clone())
            .or_default()
            .push(RingTarget {
                uri: binding.uri().clone(),
                remote: binding.target,
                route: binding.path.clone(),
                browser: Some(following.answerer.clone()),
            });
    }
    Ok(browsers)
}
