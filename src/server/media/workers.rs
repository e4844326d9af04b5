//! The media workers: a few threads, each advancing many legs on one schedule.
//!
//! A leg needs a little work every ptime (20 ms): read what arrived, send one
//! packet. Giving each leg its own task and timer made the timer and the
//! scheduler cost as much as the work. Instead one worker thread per core
//! owns many legs; every leg's frames start on a 1 ms grid shared by all
//! workers, and a worker sleeps until the next grid point at which one of its
//! legs is due, then runs every due leg in turn. So 1,000 calls cost about 50
//! wake-ups per 20 ms per worker rather than 1,000, and calls that began at
//! different moments still send at different moments, spread over the frame.
//!
//! A leg stays on the worker it was given (least loaded at the time) until it
//! ends. Workers never block on I/O: sockets are non-blocking and read on the
//! schedule; commands and events go through channels the call tasks await.
//! A late wake-up does not accumulate: each session counts its frames from its
//! own start (`RtpSession::handle_timeout`).
//!
//! A worker waits by parking its thread (a futex wait with a timeout), and a
//! new leg is handed over in a locked list followed by an unpark. It used to
//! wait on a std channel with a timeout, whose back-off calls `sched_yield`
//! before it sleeps: harmless at normal priority, but under real-time
//! scheduling a yield returns at once and the worker spun (see `realtime.rs`).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use tracing::error;

use super::leg::Leg;
use crate::metrics::MediaMetrics;
use crate::net::udp::Datagrams;

/// The grid every leg's frames start on.
const GRID: Duration = Duration::from_millis(1);

/// The process's media workers, started on first use.
pub(super) fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        Workers::start(count)
    })
}

pub(super) struct Workers {
    epoch: Instant,
    workers: Vec<WorkerHandle>,
    /// What every worker's legs sent and received, and how late workers woke.
    pub(super) metrics: MediaMetrics,
}

struct WorkerHandle {
    arrivals: Arc<Arrivals>,
    legs: Arc<AtomicUsize>,
    thread: Thread,
}

/// Legs handed to a worker and not yet taken by it.
#[derive(Default)]
struct Arrivals(Mutex<Vec<Leg>>);

impl Arrivals {
    fn push(&self, leg: Leg) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(leg);
    }

    fn take(&self) -> Vec<Leg> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Workers {
    fn start(count: usize) -> Workers {
        let epoch = Instant::now();
        let metrics = MediaMetrics::default();
        let workers = (0..count.max(1))
            .map(|index| {
                let arrivals = Arc::new(Arrivals::default());
                let legs = Arc::new(AtomicUsize::new(0));
                let worker = Worker {
                    epoch,
                    legs: Vec::new(),
                    arrivals: Arc::clone(&arrivals),
                    load: Arc::clone(&legs),
                    metrics: metrics.clone(),
                };
                let thread = std::thread::Builder::new()
                    .name(format!("media-{index}"))
                    .spawn(move || {
                        crate::net::realtime::raise_this_thread();
                        worker.run()
                    })
                    .expect("start a media worker thread")
                    .thread()
                    .clone();
                WorkerHandle {
                    arrivals,
                    legs,
                    thread,
                }
            })
            .collect();
        Workers {
            epoch,
            workers,
            metrics,
        }
    }

    /// The first grid point at or after `now`: when a leg created now starts.
    pub(super) fn start_time(&self, now: Instant) -> Instant {
        grid_ceil(self.epoch, now)
    }

    /// Hands a leg to the least loaded worker.
    pub(super) fn add(&self, leg: Leg) {
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.legs.load(Ordering::Relaxed))
            .expect("at least one worker");
        worker.legs.fetch_add(1, Ordering::Relaxed);
        worker.arrivals.push(leg);
        worker.thread.unpark();
    }
}

struct Worker {
    epoch: Instant,
    legs: Vec<Leg>,
    arrivals: Arc<Arrivals>,
    load: Arc<AtomicUsize>,
    metrics: MediaMetrics,
}

impl Worker {
    fn run(mut self) {
        let mut datagrams = Datagrams::new();
        loop {
            let wake = self
                .legs
                .iter()
                .map(Leg::due_at)
                .min()
                .map(|due| grid_ceil(self.epoch, due));
            if self.wait_for_legs(wake) {
                // A new leg may be due before `wake`: look again.
                continue;
            }
            let now = Instant::now();
            if let Some(late) = wake.and_then(|wake| now.checked_duration_since(wake)) {
                self.metrics.tick_lateness.observe(late.as_secs_f64());
            }
            // In order, so each leg keeps its place within the burst of a grid point.
            let before = self.legs.len();
            let metrics = &self.metrics;
            self.legs.retain_mut(|leg| {
                leg.due_at() > now || run_frame(leg, now, &mut datagrams, metrics)
            });
            self.load
                .fetch_sub(before - self.legs.len(), Ordering::Relaxed);
        }
    }

    /// Sleeps until `wake` (until a leg arrives when none is waiting); true
    /// when legs arrived meanwhile, which were taken on.
    fn wait_for_legs(&mut self, wake: Option<Instant>) -> bool {
        loop {
            let arrived = self.arrivals.take();
            if !arrived.is_empty() {
                self.legs.extend(arrived);
                return true;
            }
            match wake {
                None => std::thread::park(),
                Some(wake) => match wake.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => std::thread::park_timeout(left),
                    _ => return false,
                },
            }
            // Woken by an unpark, the timeout, or spuriously: look again.
        }
    }
}

/// Runs one frame of a leg; false when it has ended. A leg that panics ends
/// alone (its call sees the media channels close), not with its worker's
/// other calls.
fn run_frame(
    leg: &mut Leg,
    now: Instant,
    datagrams: &mut Datagrams,
    metrics: &MediaMetrics,
) -> bool {
    let (sent, received) = leg.packets();
    let alive = std::panic::catch_unwind(AssertUnwindSafe(|| leg.run_frame(now, datagrams)))
        .unwrap_or_else(|_| {
            error!("a call leg's media failed and was ended");
            false
        });
    let (sent_now, received_now) = leg.packets();
    metrics.rtp_sent.inc_by(sent_now.saturating_sub(sent));
    metrics
        .rtp_received
        .inc_by(received_now.saturating_sub(received));
    alive
}

/// The first point of the grid (`epoch` + k × GRID) at or after `t`.
fn grid_ceil(epoch: Instant, t: Instant) -> Instant {
    let Some(since) = t.checked_duration_since(epoch) else {
        return epoch;
    };
    let grid = GRID.as_nanos();
    let points = since.as_nanos().div_ceil(grid);
    epoch + Duration::from_nanos((points * grid) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_round_up_and_keep_exact_points() {
        let epoch = Instant::now();
        let ms = Duration::from_millis(1);
        assert_eq!(grid_ceil(epoch, epoch), epoch);
        assert_eq!(grid_ceil(epoch, epoch + ms * 7), epoch + ms * 7);
        assert_eq!(
            grid_ceil(epoch, epoch + ms * 7 + Duration::from_nanos(1)),
            epoch + ms * 8
        );
        assert_eq!(
            grid_ceil(epoch, epoch + Duration::from_micros(19_999)),
            epoch + ms * 20
        );
    }
}
