//! Counters of what the limits refused, for `/status`, and the open-file limit.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the SIP limits did since start; shared by the endpoint, the transport and the API.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct LimitStats {
    /// Messages answered 503 for being over their source's rate.
    #[schema(value_type = u64)]
    pub rejected: AtomicU64,
    /// Messages dropped unanswered, far over their source's rate.
    #[schema(value_type = u64)]
    pub dropped: AtomicU64,
    /// Calls refused for their source's call limit.
    #[schema(value_type = u64)]
    pub calls_refused: AtomicU64,
    /// Calls refused for the server's call limit (`sip.max_calls`).
    #[schema(value_type = u64)]
    pub calls_over_limit: AtomicU64,
    /// Calls refused for want of a media port or a file descriptor.
    #[schema(value_type = u64)]
    pub calls_overloaded: AtomicU64,
    /// Sources tracked by the rate limiter now.
    #[schema(value_type = u64)]
    pub sources_tracked: AtomicU64,
    /// TCP connections open now.
    #[schema(value_type = u64)]
    pub tcp_open: AtomicU64,
    /// TCP connections closed at once for a cap.
    #[schema(value_type = u64)]
    pub tcp_refused: AtomicU64,
    /// TCP connections closed after their idle timeout.
    #[schema(value_type = u64)]
    pub tcp_idle_closed: AtomicU64,
    /// TCP connections closed for not completing a message in time (the
    /// first after accept, or one begun).
    #[schema(value_type = u64)]
    pub tcp_incomplete_closed: AtomicU64,
    /// Times a socket could not be opened or accepted because descriptors ran out.
    #[schema(value_type = u64)]
    pub descriptors_exhausted: AtomicU64,
    /// The process's open-file limit, as raised at start.
    #[schema(value_type = u64)]
    pub open_file_limit: AtomicU64,
}

impl LimitStats {
    /// Adds one to a counter.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
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
