//! Real-time scheduling for the threads that keep audio on time: the media
//! workers and the WebRTC driver.
//!
//! With the server on one core, the SIP, call and database threads ran at the
//! same priority as the media workers, and a burst of set-ups delayed packets
//! (p99 gap deviation up to 20 ms at 2,000 calls). A media worker needs little
//! CPU but needs it on time, so it asks for `SCHED_FIFO`, as FreeSWITCH `-rp`
//! and Asterisk `-p` do. The kernel's real-time throttling still leaves the
//! other threads their share should a worker ever spin. Where the system
//! refuses (no `CAP_SYS_NICE`, `RLIMIT_RTPRIO` of 0, a container), the workers
//! run at normal priority and one line says so.
//!
//! It is on by default (`media.realtime_priority`, 10). It was opt-in while a
//! worker waited on a std channel with a timeout, whose back-off calls
//! `sched_yield` before it sleeps: under `SCHED_FIFO` a yield returns at once,
//! and at 300 new calls a second the media thread spent three quarters of its
//! samples there (INVITE->200 p50 4 ms became 500 ms). Workers now park
//! (`workers.rs`), and with a busy machine the priority took the p99 gap
//! deviation at 1,000 calls from 47 ms to 1.1 ms for the same CPU
//! (docs/benchmarks.md).

use std::sync::Once;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::{info, warn};

/// The priority asked for; 0 leaves the workers at normal priority.
static PRIORITY: AtomicU8 = AtomicU8::new(0);

/// Sets the real-time priority (1–99) media workers ask for when they start;
/// 0 keeps normal scheduling. Call before the first call.
pub fn set_priority(priority: u8) {
    PRIORITY.store(priority.min(99), Ordering::Relaxed);
}

/// Raises the calling worker thread (a media worker, or the WebRTC driver's,
/// which sends the browsers' frames) to the configured priority; the outcome
/// is logged once for all.
pub(crate) fn raise_this_thread() {
    static LOGGED: Once = Once::new();
    let priority = PRIORITY.load(Ordering::Relaxed);
    if priority == 0 {
        return;
    }
    let outcome = fifo(priority);
    LOGGED.call_once(|| match outcome {
        Ok(()) => info!(
            priority,
            "media threads (workers, WebRTC driver) run with real-time priority (SCHED_FIFO)"
        ),
        Err(error) => warn!(
            %error,
            "real-time priority for media threads refused; they run at normal priority (grant CAP_SYS_NICE or LimitRTPRIO, or set media.realtime_priority = 0)"
        ),
    });
}

#[cfg(target_os = "linux")]
fn fifo(priority: u8) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: pthread_self is always valid for the calling thread, and the
    // call only reads `param`.
    let status =
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    match status {
        0 => Ok(()),
        error => Err(std::io::Error::from_raw_os_error(error)),
    }
}

#[cfg(not(target_os = "linux"))]
fn fifo(_priority: u8) -> std::io::Result<()> {
    Err(std::io::Error::other("not supported on this system"))
}
