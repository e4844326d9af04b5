//! Counters of what the limits refused, for `/status`, and the open-file limit.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the SIP limits did since start; shared by the endpoint, the transport and the API.
#[derive(Debug, Default)]
pub struct LimitStats {
    /// Messages answered 503 for being over their source's rate.
    pub rejected: AtomicU64,
    /// Messages dropped unanswered, far over their source's rate.
    pub dropped: AtomicU64,
    /// Calls refused for their source's call limit.
    pub calls_refused: AtomicU64,
    /// Sources tracked by the rate limiter now.
    pub sources_tracked: AtomicU64,
    /// TCP connections open now.
    pub tcp_open: AtomicU64,
    /// TCP connections closed at once for a cap.
    pub tcp_refused: AtomicU64,
    /// TCP connections closed after their idle timeout.
    pub tcp_idle_closed: AtomicU64,
    /// TCP connections closed for not completing a message in time (the
    /// first after accept, or one begun).
    pub tcp_incomplete_closed: AtomicU64,
    /// Times a socket could not be opened or accepted because descriptors ran out.
    pub descriptors_exhausted: AtomicU64,
    /// The process's open-file limit, as raised at start.
    pub open_file_limit: AtomicU64,
    /// New calls refused for `sip.max_calls`.
    pub calls_over_max: AtomicU64,
    /// New calls refused while the record writer was behind.
    pub calls_refused_record_backlog: AtomicU64,
    /// New calls refused while caller lookups were slow.
    pub calls_refused_lookup_latency: AtomicU64,
    /// New calls refused over `admission.max_calls_per_second`.
    pub calls_refused_call_rate: AtomicU64,
}

impl LimitStats {
    /// Adds one to a counter.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The figures as the admin API shows them.
    pub fn snapshot(&self) -> serde_json::Value {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        serde_json::json!({
            "rejected": read(&self.rejected),
            "dropped": read(&self.dropped),
            "calls_refused": read(&self.calls_refused),
            "sources_tracked": read(&self.sources_tracked),
            "tcp_open": read(&self.tcp_open),
            "tcp_refused": read(&self.tcp_refused),
            "tcp_idle_closed": read(&self.tcp_idle_closed),
            "tcp_incomplete_closed": read(&self.tcp_incomplete_closed),
            "descriptors_exhausted": read(&self.descriptors_exhausted),
            "open_file_limit": read(&self.open_file_limit),
            "calls_over_max": read(&self.calls_over_max),
            "calls_refused_record_backlog": read(&self.calls_refused_record_backlog),
            "calls_refused_lookup_latency": read(&self.calls_refused_lookup_latency),
            "calls_refused_call_rate": read(&self.calls_refused_call_rate),
        })
    }
}

/// Raises the soft open-file limit to the hard one: every call holds an RTP
/// socket and every TCP peer a connection, and the common default of 1,024
/// is soon spent. Returns the limit in force afterwards.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit = raised;
        }
    }
    Ok(limit.rlim_cur)
}

/// Whether an error means the process or the system has no file descriptor left.
pub fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
