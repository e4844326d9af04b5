//! The published flows of a running server, and the watcher that publishes changes.
//!
//! Every `reload_ms` the flow directory is read again; a changed file is
//! compiled, and only a valid one replaces the live version. A call keeps the
//! `Arc<Flow>` it started with, so publishing never disturbs a call in progress.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tracing::{info, warn};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::flow::{Catalog, Flow, FlowRegistry, PromptCatalog, ReloadReport};
use crate::metrics::Outcome;
use crate::rtp::PromptStore;

/// The live flows, shared by the watcher and every new call.
#[derive(Clone)]
pub struct LiveFlows {
    registry: Arc<RwLock<FlowRegistry>>,
    dir: PathBuf,
    catalog: Arc<Catalog>,
    prompts: Arc<PromptStore>,
    /// Flows published, files rejected and flows removed, for `/metrics`.
    reloads: Family<Outcome, Counter>,
}

/// Why the flows could not be published at start-up.
#[derive(Debug, thiserror::Error)]
pub enum FlowsError {
    #[error("flows directory {dir}: {source}")]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("flow `{entry}` that answers calls is not published:\n{problems}")]
    NoEntry { entry: String, problems: String },
}

impl LiveFlows {
    /// Publishes the flows of `dir`; the entry flow must be among the valid ones.
    pub fn load(
        dir: PathBuf,
        entry: &str,
        catalog: Catalog,
        prompts: Arc<PromptStore>,
        reloads: Family<Outcome, Counter>,
    ) -> Result<LiveFlows, FlowsError> {
        let live = LiveFlows {
            registry: Arc::new(RwLock::new(FlowRegistry::new())),
            dir,
            catalog: Arc::new(catalog),
            prompts,
            reloads,
        };
        let report = live.reload().map_err(|source| FlowsError::Read {
            dir: live.dir.clone(),
            source,
        })?;
        if live.get(entry).is_none() {
            let problems: Vec<String> = report
                .rejected
                .iter()
                .flat_map(|(_, errors)| errors.iter().map(ToString::to_string))
                .collect();
            let problems = match problems.is_empty() {
                true => format!("no file in {} defines it", live.dir.display()),
                false => problems.join("\n"),
            };
            return Err(FlowsError::NoEntry {
                entry: entry.to_owned(),
                problems,
            });
        }
        Ok(live)
    }

    /// The live version of a flow, for a new call.
    pub fn get(&self, id: &str) -> Option<Arc<Flow>> {
        self.registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(id)
    }

    /// The directory the watcher reads; the console publishes into it.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// What flows may refer to, for checking a flow before it is published.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Ids and versions of the live flows.
    pub fn versions(&self) -> Vec<(String, String)> {
        let registry = self
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        registry
            .versions()
            .map(|(id, version)| (id.to_owned(), version.0.clone()))
            .collect()
    }

    /// Compiles what changed and publishes the valid flows, logging the rest.
    pub fn reload(&self) -> std::io::Result<ReloadReport> {
        let report = self
            .registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .reload(&self.dir, &self.catalog, &*self.prompts)?;
        for (id, version) in &report.published {
            info!(flow = %id, version = %version.0, "flow published");
        }
        for warning in &report.warnings {
            warn!("{warning}");
        }
        for (file, errors) in &report.rejected {
            for error in errors {
                warn!("{error}");
            }
            warn!(file = %file.display(), "flow not published; the previous version stays live");
        }
        for id in &report.removed {
            info!(flow = %id, "flow file removed; new calls cannot start it");
        }
        let count = |outcome, n: usize| {
            self.reloads
                .get_or_create(&Outcome { outcome })
                .inc_by(n as u64)
        };
        count("published", report.published.len());
        count("rejected", report.rejected.len());
        count("removed", report.removed.len());
        Ok(report)
    }

    /// Watches the directory until `stop` is set.
    pub async fn watch(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => return,
            }
            let live = self.clone();
            match tokio::task::spawn_blocking(move || live.reload()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    warn!(dir = %self.dir.display(), %error, "cannot read the flows directory")
                }
                Err(error) => warn!(%error, "flow reload stopped"),
            }
        }
    }
}

/// A flow may only name prompts that were loaded, in the language it names them.
impl PromptCatalog for PromptStore {
    fn exists(&self, language: &str, id: &str) -> bool {
        self.get(language, id).is_ok_and(|found| !found.fell_back)
    }
}
