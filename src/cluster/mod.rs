//! Several hotline nodes on one PostgreSQL behind a SIP proxy.
//!
//! Every node runs flows for the calls the proxy gives it; one node at a time
//! runs the agent queue (the ACD). Which one is decided by a PostgreSQL
//! advisory lock held on a dedicated connection ([`lock`]), following the
//! sans-IO election in [`leader`]; each takeover bumps an epoch in the
//! database, and the ACD's writes carry it so a former leader's are refused
//! (`crm::cluster`). The proxy finds the ACD by asking every node OPTIONS for
//! the ACD user: only the leader answers 200. Every node streams the ACD's
//! queue log to its own wallboards ([`feed`]).

pub mod feed;
pub mod leader;
pub mod lock;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// The `[cluster]` settings: who this node is and where the proxy is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// Off: the section is kept but the node runs alone.
    pub enabled: bool,
    /// This node's name, unique in the cluster (logs, the leader table, call records).
    pub node_id: String,
    /// Where the proxy and the other nodes reach this node's SIP port, as
    /// the proxy's dispatcher list names it; written in Via and Contact
    /// (default: the SIP address, or `sip.public_address`).
    pub address: Option<SocketAddr>,
    /// The SIP proxy in front of the nodes (Kamailio): hand-overs to the ACD
    /// go through it, and requests from it are trusted as the cluster's.
    pub proxy: Option<SocketAddr>,
    /// A secret the nodes share: when set, a hand-over is taken only if it
    /// comes from the proxy and carries the context signed with it, so a
    /// host that can send through the proxy cannot place callers in the
    /// queue (or change their context) unless it knows the secret.
    pub hand_over_secret: Option<String>,
    /// The request-URI user that designates the ACD (`sip:acd@…`): OPTIONS to
    /// it are answered 200 by the leader only, 503 by the others.
    pub acd_user: String,
    /// How often the leader checks its lock connection with a cheap query.
    pub lock_check_ms: u64,
    /// How long the leader keeps acting without a successful check: past
    /// it, it steps down (the connection, and with it the lock, may be gone).
    pub lock_timeout_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            enabled: true,
            node_id: String::new(),
            address: None,
            proxy: None,
            hand_over_secret: None,
            acd_user: "acd".into(),
            lock_check_ms: 1000,
            lock_timeout_ms: 3000,
        }
    }
}

impl ClusterSettings {
    /// What is wrong with these settings for a database at `database_url`:
    /// the setting at fault and why.
    pub fn problem(&self, database_url: &str) -> Option<(&'static str, String)> {
        if !self.enabled {
            return None;
        }
        if database_url.starts_with("sqlite:") {
            return Some((
                "cluster",
                "a cluster shares one PostgreSQL database: set database.url = \"postgres://…\" \
                 (SQLite serves a single node; remove [cluster] or set enabled = false)"
                    .into(),
            ));
        }
        if self.node_id.is_empty() || self.node_id.len() > 64 {
            return Some((
                "cluster.node_id",
                "must name this node (1 to 64 characters)".into(),
            ));
        }
        if self.proxy.is_none() {
            return Some(("cluster.proxy", "must give the SIP proxy's address".into()));
        }
        if self.hand_over_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Some((
                "cluster.hand_over_secret",
                "must be at least 16 characters (the same on every node)".into(),
            ));
        }
        if self.acd_user.is_empty() {
            return Some(("cluster.acd_user", "must not be empty".into()));
        }
        if self.lock_check_ms == 0 || self.lock_timeout_ms <= self.lock_check_ms {
            return Some((
                "cluster.lock_timeout_ms",
                "must be longer than lock_check_ms, which must be at least 1".into(),
            ));
        }
        None
    }

    /// The election's timing.
    pub fn timing(&self) -> leader::Timing {
        leader::Timing {
            check_every: Duration::from_millis(self.lock_check_ms),
            lease: Duration::from_millis(self.lock_timeout_ms),
            retry_every: Duration::from_millis(self.lock_check_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ClusterSettings {
        ClusterSettings {
            node_id: "node-1".into(),
            address: Some("127.0.0.1:5071".parse().unwrap()),
            proxy: Some("127.0.0.1:5060".parse().unwrap()),
            ..ClusterSettings::default()
        }
    }

    #[test]
    fn a_cluster_on_sqlite_is_refused_with_the_reason() {
        let (setting, message) = settings().problem("sqlite://hotline.db").unwrap();
        assert_eq!(setting, "cluster");
        assert!(message.contains("PostgreSQL"), "{message}");
    }

    #[test]
    fn a_disabled_cluster_section_is_ignored_on_sqlite() {
        let off = ClusterSettings {
            enabled: false,
            ..settings()
        };
        assert!(off.problem("sqlite://hotline.db").is_none());
    }

    #[test]
    fn a_cluster_node_needs_a_name_and_addresses() {
        let url = "postgres://db/hotline";
        assert!(settings().problem(url).is_none());
        let unnamed = ClusterSettings {
            node_id: String::new(),
            ..settings()
        };
        assert_eq!(unnamed.problem(url).unwrap().0, "cluster.node_id");
        let no_proxy = ClusterSettings {
            proxy: None,
            ..settings()
        };
        assert_eq!(no_proxy.problem(url).unwrap().0, "cluster.proxy");
    }

    #[test]
    fn a_hand_over_secret_is_optional_but_not_a_short_one() {
        let url = "postgres://db/hotline";
        let with = |secret: &str| ClusterSettings {
            hand_over_secret: Some(secret.into()),
            ..settings()
        };
        assert!(with("sixteen chars ok").problem(url).is_none());
        assert_eq!(
            with("short").problem(url).unwrap().0,
            "cluster.hand_over_secret"
        );
    }
}
