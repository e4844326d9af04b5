//! The agent queue on a cluster node: started at each takeover with what
//! the last ACD left in the database (agents' phones registered anywhere,
//! the places of callers it was serving), writing fenced by the epoch.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::{Services, agents, hand_over, queue, relayed};
use crate::crm::Db;
use crate::crm::writer::{RecordWriter, WriterSettings};
use crate::server::endpoint::EndpointHandle;

impl Services {
    /// Starts the agent queue on a cluster node: it runs only while `role`
    /// says this node leads, loads agents and the phones `registered` here at
    /// each takeover, follows the browsers open on other nodes (`browsers`,
    /// when this node has WebRTC media to give them), and writes its log
    /// fenced by the epoch.
    pub fn start_cluster_queue(
        &self,
        inbox: queue::QueueInbox,
        endpoint: EndpointHandle,
        directory: queue::Directory,
        role: tokio::sync::watch::Receiver<crate::cluster::leader::Role>,
        registered: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
        browsers: Option<relayed::Following>,
    ) -> Result<(), crate::queue::ConfigError> {
        self.queue_shell(endpoint.clone(), directory.clone(), self.0.records.clone())?;
        if let Some(cluster) = self.config().cluster()
            && let Some(proxy) = cluster.proxy
        {
            let _ = self.0.cluster.set(hand_over::ClusterLink {
                role: role.clone(),
                acd_user: cluster.acd_user.clone(),
                proxy,
                secret: cluster.hand_over_secret.clone(),
            });
        }
        let services = self.clone();
        let ring_through = endpoint.clone();
        let leading = role.clone();
        let start = move |epoch: i64| {
            let (services, endpoint) = (services.clone(), endpoint.clone());
            let (directory, registered) = (directory.clone(), registered.clone());
            let (leading, browsers) = (leading.clone(), browsers.clone());
            async move {
                let settings = WriterSettings {
                    fence: Some(epoch),
                    ..WriterSettings::default()
                };
                let records = RecordWriter::spawn(services.db().clone(), settings);
                // Phones registered on the node that led before are rung where it rang them.
                let kept = kept_bindings(services.db()).await;
                let mut registered = registered();
                registered.extend(kept.keys().cloned());
                let relayed = browsers.as_ref().map(|b| b.browsers.clone());
                let directory: queue::Directory = Arc::new(move |agent: &str| {
                    let here = directory(agent);
                    let mut targets = match here.is_empty() {
                        true => kept.get(agent).cloned().unwrap_or_default(),
                        false => here,
                    };
                    // Browsers open on other nodes, rung through their relay.
                    if let Some(relayed) = &relayed {
                        targets.extend(relayed.of(agent));
                    }
                    targets
                });
                if let Some(browsers) = browsers {
                    tokio::spawn(relayed::follow_while_leading(
                        services.db().clone(),
                        browsers,
                        services.queue().clone(),
                        directory.clone(),
                        endpoint.clone(),
                        leading.clone(),
                        epoch,
                    ));
                }
                let mut shell = services.queue_shell(endpoint, directory, records).ok()?;
                keep_places_of_the_last_term(&services, &mut shell, epoch).await;
                shell.places = Some(queue::PlacesLog::spawn(services.db().clone(), epoch));
                let agents = match services.db().list_agents().await {
                    Ok(agents) => agents.iter().map(agents::agent_config).collect(),
                    Err(error) => {
                        warn!(%error, "agents not loaded; each is loaded when it registers");
                        Vec::new()
                    }
                };
                // Other nodes' wallboards and agent state changes.
                tokio::spawn(queue::share_while_leading(
                    services.db().clone(),
                    services.config().database.url.clone(),
                    services.queue().clone(),
                    leading,
                    epoch,
                ));
                Some(queue::Term {
                    shell,
                    agents,
                    registered,
                })
            }
        };
        let db = self.db().clone();
        tokio::spawn(queue::run_while_leading(
            start,
            inbox,
            role,
            ring_through,
            db,
        ));
        Ok(())
    }
}

/// The callers the last ACD left waiting become kept places of this one, so
/// that those who call again soon get their place back.
async fn keep_places_of_the_last_term(
    services: &Services,
    shell: &mut queue::QueueShell,
    epoch: i64,
) {
    let places = match services.db().take_waiting_places(epoch).await {
        Ok(places) => places,
        Err(error) => {
            warn!(%error, "places of the callers waiting at the last ACD not loaded");
            return;
        }
    };
    let (now, now_ms) = (std::time::Instant::now(), crate::crm::now_ms());
    for place in &places {
        let waited = Duration::from_millis(u64::try_from(now_ms - place.arrived_at).unwrap_or(0));
        let arrived = now.checked_sub(waited).unwrap_or(now);
        shell
            .kept_places
            .remember(&place.number, &place.queue, arrived, now);
    }
    if !places.is_empty() {
        info!(
            callers = places.len(),
            "places of callers dropped by the last ACD are kept"
        );
    }
}

/// Agents' phones as the database keeps them (every node's registrar writes
/// there), by agent: where a new ACD rings agents registered on another node.
async fn kept_bindings(
    db: &Db,
) -> std::collections::HashMap<String, Vec<crate::server::agent_leg::RingTarget>> {
    let now_ms = crate::crm::now_ms();
    let stored = match db.live_registrations(now_ms).await {
        Ok(stored) => stored,
        Err(error) => {
            warn!(%error, "registrations not loaded; agents are rung once they register again");
            Vec::new()
        }
    };
    let now = std::time::Instant::now();
    let mut kept: std::collections::HashMap<_, Vec<_>> = std::collections::HashMap::new();
    for binding in stored
        .iter()
        .filter_map(|s| crate::server::registrar::binding(s, now, now_ms))
    {
        kept.entry(binding.agent.clone())
            .or_default()
            .push(crate::server::agent_leg::RingTarget {
                uri: binding.uri().clone(),
                remote: binding.target,
                // Through the proxy the phone registered through (RFC 3327).
                route: binding.path.clone(),
                // A browser's binding lives on its WebSocket's node and is
                // never loaded from the database (`registrar::binding`).
                browser: None,
            });
    }
    kept
}
