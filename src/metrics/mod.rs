//! The server's figures for Prometheus (`GET /metrics`).
//!
//! The shell's parts count what happens into the counters here: plain atomic
//! values of `prometheus-client`, each part handed only the ones it fills, and
//! no global recorder. What is already known elsewhere (calls in progress, the
//! queue, registrations, what the SIP limits refused) is read when scraped
//! ([`scrape`]). Labels are methods, classes, outcomes, reasons, queue names
//! and agent states, all from fixed or configured sets: never a caller's
//! number or a call id.

pub mod scrape;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::queue::EventKind;
use crate::sip::message::Message;

/// Every counter the shell fills, grouped by the part that fills it.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub calls: CallMetrics,
    pub sip: SipMetrics,
    pub queue: QueueMetrics,
    pub media: MediaMetrics,
    pub webrtc: WebrtcMetrics,
    /// Ticket POSTs to the CRM: `delivered`, `failed` (retried later) or `dead`.
    pub ticket_deliveries: Family<Outcome, Counter>,
    /// Flows published, files rejected and flows removed by the reloader.
    pub flow_reloads: Family<Outcome, Counter>,
    /// How long CRM lookups took: `caller` (who is calling) or `flow` (a flow's lookup).
    pub lookups: Family<Kind, Histogram, fn() -> Histogram>,
}

/// How calls ended.
#[derive(Clone, Debug, Default)]
pub struct CallMetrics {
    /// Finished calls by [`Outcome`]: how the call ended, or how it left its flow.
    pub finished: Family<Outcome, Counter>,
}

/// SIP messages on the wire, counted by the endpoint, and refused REGISTERs.
#[derive(Clone, Debug, Default)]
pub struct SipMetrics {
    requests: Family<Request, Counter>,
    responses: Family<Response, Counter>,
    /// REGISTERs refused other than by a challenge, by [`register_failure`] reason.
    register_failures: Family<Reason, Counter>,
}

/// The queue's answers and abandons, and how long answered callers waited.
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    answered: Family<Queue, Counter>,
    abandoned: Family<Queue, Counter>,
    /// Waits of answered callers, IVR time included (as the queue log has them).
    wait: Family<Queue, Histogram, fn() -> Histogram>,
}

/// RTP packets and how late the media workers wake, filled by the workers.
#[derive(Clone, Debug)]
pub struct MediaMetrics {
    pub rtp_sent: Counter,
    pub rtp_received: Counter,
    /// How long after a frame's grid point a worker woke to send it.
    pub tick_lateness: Histogram,
}

/// Browsers' calls: offers answered or refused, and how their media went.
#[derive(Clone, Debug)]
pub struct WebrtcMetrics {
    /// Offers by `outcome`: `answered`, or why one was refused (`malformed`,
    /// `no_g711`, `origin`, `rate_limited`, `busy`, `no_flow`).
    pub offers: Family<Outcome, Counter>,
    /// Browsers' media by `outcome`: `connected`, `consent_lost` (the page
    /// vanished without hanging up), `closed`.
    pub peers: Family<Outcome, Counter>,
}

impl Default for WebrtcMetrics {
    fn default() -> WebrtcMetrics {
        WebrtcMetrics {
            offers: outcomes(&[
                "answered",
                "malformed",
                "no_g711",
                "origin",
                "rate_limited",
                "busy",
                "no_flow",
            ]),
            peers: outcomes(&["connected", "consent_lost", "closed"]),
        }
    }
}

impl WebrtcMetrics {
    /// Counts an offer's `outcome`.
    pub fn offer(&self, outcome: &'static str) {
        self.offers.get_or_create(&Outcome { outcome }).inc();
    }

    /// Counts a browser's media `outcome`.
    pub fn peer(&self, outcome: &'static str) {
        self.peers.get_or_create(&Outcome { outcome }).inc();
    }
}

/// Which way a SIP message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Received,
    Sent,
}

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

/// An `outcome` (or `result`) label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

/// A `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    pub kind: &'static str,
}

/// A `queue` label: a configured queue's name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Queue {
    pub queue: String,
}

/// Labels of a SIP request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    method: &'static str,
    direction: &'static str,
}

/// Labels of a SIP response count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Response {
    class: &'static str,
    direction: &'static str,
}

impl Default for QueueMetrics {
    fn default() -> QueueMetrics {
        QueueMetrics {
            answered: Family::default(),
            abandoned: Family::default(),
            wait: Family::new_with_constructor(|| Histogram::new(WAIT_BUCKETS)),
        }
    }
}

impl Default for MediaMetrics {
    fn default() -> MediaMetrics {
        MediaMetrics {
            rtp_sent: Counter::default(),
            rtp_received: Counter::default(),
            tick_lateness: Histogram::new(LATENESS_BUCKETS),
        }
    }
}

impl Metrics {
    /// Counts a finished lookup of `kind` that took `took`.
    pub fn lookup_took(&self, kind: &'static str, took: std::time::Duration) {
        self.lookups
            .get_or_create(&Kind { kind })
            .observe(took.as_secs_f64());
    }
}

impl Default for Metrics {
    /// Every counter at zero, with the results of deliveries and reloads
    /// shown from the start, so rates over them begin at the first scrape.
    fn default() -> Metrics {
        Metrics {
            calls: CallMetrics::default(),
            sip: SipMetrics::default(),
            queue: QueueMetrics::default(),
            media: MediaMetrics::default(),
            webrtc: WebrtcMetrics::default(),
            ticket_deliveries: outcomes(&["delivered", "failed", "dead"]),
            flow_reloads: outcomes(&["published", "rejected", "removed"]),
            lookups: Family::new_with_constructor(|| Histogram::new(LOOKUP_BUCKETS)),
        }
    }
}

/// A family of counters with a zero for each of `outcomes`.
fn outcomes(outcomes: &[&'static str]) -> Family<Outcome, Counter> {
    let family = Family::default();
    for &outcome in outcomes {
        drop(family.get_or_create(&Outcome { outcome }));
    }
    family
}

impl SipMetrics {
    /// Counts one message that went `direction`: a request by method, a
    /// response by class (`2xx`). Methods this stack does not know are
    /// `other`, so a peer cannot invent label values.
    pub fn count(&self, message: &Message, direction: Direction) {
        let direction = direction.label();
        match message {
            Message::Request(request) => {
                let method = request.method.standard_name().unwrap_or("other");
                self.requests
                    .get_or_create(&Request { method, direction })
                    .inc();
            }
            Message::Response(response) => {
                let class = status_class(response.status);
                self.responses
                    .get_or_create(&Response { class, direction })
                    .inc();
            }
        }
    }

    /// Counts a REGISTER refused for `reason` ([`register_failure`], or
    /// `busy` when the registrar could not take it).
    pub fn register_failed(&self, reason: &'static str) {
        self.register_failures
            .get_or_create(&Reason { reason })
            .inc();
    }
}

impl QueueMetrics {
    /// Counts an answer (and its wait) or an abandon from the queue log.
    pub fn record(&self, event: &EventKind) {
        match event {
            EventKind::Answered {
                queue, waited_ms, ..
            } => {
                let queue = Queue {
                    queue: queue.clone(),
                };
                self.answered.get_or_create(&queue).inc();
                let waited = *waited_ms as f64 / 1000.0;
                self.wait.get_or_create(&queue).observe(waited);
            }
            EventKind::Abandoned { queue, .. } => {
                let queue = Queue {
                    queue: queue.clone(),
                };
                self.abandoned.get_or_create(&queue).inc();
            }
            _ => {}
        }
    }

    /// Shows `queue` with zero answers and abandons before it has any, so
    /// rates and ratios over it start from its first scrape.
    fn know(&self, queue: &str) {
        let queue = Queue {
            queue: queue.to_owned(),
        };
        // Creating the series is the point; the guards are dropped at once.
        drop(self.answered.get_or_create(&queue));
        drop(self.abandoned.get_or_create(&queue));
        drop(self.wait.get_or_create(&queue));
    }
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Direction::Received => "received",
            Direction::Sent => "sent",
        }
    }
}

/// Why a REGISTER's final answer counts as a failure, or `None` for a
/// success or a digest challenge (the normal first answer).
pub fn register_failure(status: u16) -> Option<&'static str> {
    match status {
        200..=299 | 401 => None,
        403 => Some("forbidden"),
        503 => Some("unavailable"),
        _ => Some("invalid"),
    }
}

/// `1xx` … `6xx`; anything else (a peer's nonsense) is `other`.
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        6 => "6xx",
        _ => "other",
    }
}

/// Queue waits, in seconds: around the usual 20 s service-level target and
/// up to the longest waits a queue allows.
const WAIT_BUCKETS: [f64; 12] = [
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

/// Lookups, in seconds: a local query takes milliseconds; a flow's limit is seconds.
const LOOKUP_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A worker's lateness, in seconds: below 1 ms is on time for a 20 ms frame;
/// past 20 ms a frame is sent late enough for a jitter buffer to notice.
const LATENESS_BUCKETS: [f64; 9] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
];

#[cfg(test)]
mod tests;
