//! What the admin API serves from: a handle on each part of the server it
//! reads or steers, built by the composition root (`app.rs`), rather than the
//! call layer's whole set of services.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::call::flows::LiveFlows;
use crate::call::queue::QueueHandle;
use crate::call::{CallRecord, Monitor, Status};
use crate::crm::Db;
use crate::metrics::Metrics;

/// The admin API's state: cheap to clone, one handle per part.
#[derive(Clone)]
pub struct Handles {
    db: Db,
    flows: LiveFlows,
    queue: QueueHandle,
    calls: Monitor,
    metrics: Metrics,
    audio_dir: Arc<Path>,
    /// Calls from web pages, when `[webrtc]` is enabled.
    web_calls: Option<crate::call::web::WebCalls>,
}

impl Handles {
    /// The handles on the database, the live flows, the agent queue, the
    /// calls' figures, the metrics, and the prompts directory.
    pub fn new(
        db: Db,
        flows: LiveFlows,
        queue: QueueHandle,
        calls: Monitor,
        metrics: Metrics,
        audio_dir: PathBuf,
    ) -> Handles {
        Handles {
            db,
            flows,
            queue,
            calls,
            metrics,
            audio_dir: audio_dir.into(),
            web_calls: None,
        }
    }

    /// The same handles, serving calls from web pages too.
    pub fn with_web_calls(mut self, web_calls: Option<crate::call::web::WebCalls>) -> Handles {
        self.web_calls = web_calls;
        self
    }

    /// Calls from web pages; `None` unless `[webrtc]` is enabled.
    pub fn web_calls(&self) -> Option<&crate::call::web::WebCalls> {
        self.web_calls.as_ref()
    }

    /// The CRM database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The live flows, for the console's flows page (publish, roll back).
    pub fn flows(&self) -> &LiveFlows {
        &self.flows
    }

    /// The agent queue.
    pub fn queue(&self) -> &QueueHandle {
        &self.queue
    }

    /// The counters `/metrics` shows that the shell's parts fill.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The prompts directory, whose texts the flow simulator shows.
    pub fn audio_dir(&self) -> &Path {
        &self.audio_dir
    }

    /// Live figures: calls, flows' versions, SIP limits, CRM sources, records.
    pub fn status(&self) -> Status {
        self.calls.status()
    }

    /// Calls in progress.
    pub fn calls_active(&self) -> u64 {
        self.calls.calls_active()
    }

    /// Records handed to the writer and not yet committed.
    pub fn record_backlog(&self) -> usize {
        self.calls.record_backlog()
    }

    /// The counters the SIP limits fill.
    pub fn sip_limit_stats(&self) -> Arc<crate::server::limits::LimitStats> {
        self.calls.sip_limit_stats()
    }

    /// The calls in progress and the most recent finished ones.
    pub fn recent_calls(&self) -> Vec<CallRecord> {
        self.calls.recent_calls()
    }
}
