//! The most recent calls, kept in memory for the admin API.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// How many finished calls are kept.
const KEPT: usize = 500;

/// What an admin can see of one call.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallRecord {
    pub call_id: String,
    /// The caller's number; empty for a web caller.
    pub caller: String,
    /// `sip` or `web`.
    pub channel: super::Channel,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Keys pressed, in order, with how they arrived.
    pub digits: Vec<DigitRecord>,
    pub codec: Option<String>,
    pub outcome: Option<String>,
}

/// One key press as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DigitRecord {
    pub digit: char,
    /// `rfc4733`, `sip_info` or `in_band`.
    pub source: &'static str,
    /// Milliseconds since the call was answered.
    pub at_ms: u64,
}

/// Calls in progress and the last finished ones.
#[derive(Default)]
pub struct RecentCalls(Mutex<VecDeque<CallRecord>>);

impl RecentCalls {
    /// Adds a call that just started.
    pub fn start(&self, record: CallRecord) {
        let mut calls = self.lock();
        if calls.len() == KEPT {
            calls.pop_front();
        }
        calls.push_back(record);
    }

    /// Changes the record of a call, if it is still kept.
    pub fn update(&self, call_id: &str, change: impl FnOnce(&mut CallRecord)) {
        if let Some(record) = self.lock().iter_mut().rev().find(|r| r.call_id == call_id) {
            change(record);
        }
    }

    /// Every kept call, oldest first.
    pub fn list(&self) -> Vec<CallRecord> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CallRecord>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
