//! One scrape: the counters of [`Metrics`] together with what is read at
//! scrape time ([`Live`]), in the Prometheus text format (version 0.0.4).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::{Metrics, Queue};

/// The `Content-Type` of what [`encode`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Every state an agent can be in, as the `state` label writes it.
pub const AGENT_STATES: [&str; 6] = [
    "logged_out",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
];

/// Where `state` is counted in [`AGENT_STATES`].
pub fn agent_state_index(state: &crate::queue::AgentState) -> usize {
    use crate::queue::AgentState;
    match state {
        AgentState::LoggedOut => 0,
        AgentState::Available => 1,
        AgentState::Ringing => 2,
        AgentState::OnCall => 3,
        AgentState::WrapUp => 4,
        AgentState::Paused { .. } => 5,
    }
}

/// What is read from the running server when scraped.
#[derive(Debug, Default)]
pub struct Live {
    pub calls_active: u64,
    /// Calls refused before a call began, by reason (`limit`, `source_limit`,
    /// `overload`, and admission control's `record_backlog`, `lookup_latency`, `call_rate`).
    pub calls_rejected: Vec<(&'static str, u64)>,
    /// Messages refused for their source's rate: `rejected` (503) and `dropped`.
    pub sip_limited: Vec<(&'static str, u64)>,
    pub tcp_connections: u64,
    /// Browsers' SIP WebSocket connections open now.
    pub websocket_connections: u64,
    /// SIP over WebSocket since start: `accepted` and `refused` upgrades,
    /// frames `received`, messages `sent`, and `unreadable` frames (no SIP).
    pub websocket_events: Vec<(&'static str, u64)>,
    /// Registered devices (one agent may have several).
    pub registrations: u64,
    pub queues: Vec<QueueNow>,
    /// Agents in each of [`AGENT_STATES`], in that order.
    pub agents: [u64; 6],
    /// Tickets not yet delivered to the CRM; `None` when the database did not say.
    pub tickets_pending: Option<u64>,
    /// Call records and events handed to the writer and not yet committed.
    pub db_write_queue_depth: u64,
}

/// One queue as it is now.
#[derive(Debug)]
pub struct QueueNow {
    pub name: String,
    pub waiting: u64,
    /// The wait of the caller waiting longest (zero with nobody waiting).
    pub longest_wait: Duration,
}

/// The scrape's text.
pub fn encode(metrics: &Metrics, live: &Live) -> String {
    let mut registry = Registry::with_prefix("hotline");
    register_calls(&mut registry, metrics, live);
    register_sip(&mut registry, metrics, live);
    register_queues(&mut registry, metrics, live);
    register_crm(&mut registry, metrics, live);
    let media = &metrics.media;
    let packets = [
        ("sent", media.rtp_sent.get()),
        ("received", media.rtp_received.get()),
    ];
    registry.register(
        "rtp_packets",
        "RTP packets sent and received",
        counts("direction", &packets),
    );
    registry.register(
        "media_tick_lateness_seconds",
        "How late a media worker woke for a frame's send time",
        media.tick_lateness.clone(),
    );
    registry.register(
        "webrtc_offers",
        "Browsers' call offers, answered or why refused",
        metrics.webrtc.offers.clone(),
    );
    registry.register(
        "webrtc_peers",
        "Browsers' media: connected, consent lost (the page vanished), closed",
        metrics.webrtc.peers.clone(),
    );
    registry.register(
        "flow_reloads",
        "Flows published, flow files rejected and flows removed by the reloader",
        metrics.flow_reloads.clone(),
    );
    registry.register(
        "build",
        "The running version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_text::encode(&mut text, &registry);
    text
}

/// A label of one name, for the families built at scrape time.
type Label = [(&'static str, &'static str); 1];

/// Counters read whole at scrape time, labelled `key` = each value's name.
fn counts(key: &'static str, values: &[(&'static str, u64)]) -> Family<Label, Counter> {
    let family = Family::<Label, Counter>::default();
    for &(name, count) in values {
        family.get_or_create(&[(key, name)]).inc_by(count);
    }
    family
}

fn register_calls(registry: &mut Registry, metrics: &Metrics, live: &Live) {
    registry.register(
        "calls_active",
        "Calls in progress",
        ConstGauge::new(live.calls_active as i64),
    );
    registry.register(
        "calls",
        "Finished calls by outcome: how the call ended, or how it left its flow",
        metrics.calls.finished.clone(),
    );
    registry.register(
        "calls_rejected",
        "Calls refused before they began, by reason",
        counts("reason", &live.calls_rejected),
    );
}

fn register_sip(registry: &mut Registry, metrics: &Metrics, live: &Live) {
    registry.register(
        "sip_requests",
        "SIP requests received and sent, by method",
        metrics.sip.requests.clone(),
    );
    registry.register(
        "sip_responses",
        "SIP responses received and sent, by class",
        metrics.sip.responses.clone(),
    );
    registry.register(
        "sip_limited_messages",
        "SIP messages over their source's rate: answered 503 (rejected) or dropped",
        counts("action", &live.sip_limited),
    );
    registry.register(
        "tcp_connections",
        "SIP TCP connections open",
        ConstGauge::new(live.tcp_connections as i64),
    );
    registry.register(
        "websocket_connections",
        "Browsers' SIP WebSocket connections open (the agent desktop's softphone)",
        ConstGauge::new(live.websocket_connections as i64),
    );
    registry.register(
        "websocket",
        "SIP over WebSocket: upgrades accepted and refused, frames received, messages sent, unreadable frames",
        counts("event", &live.websocket_events),
    );
    registry.register(
        "registrations_active",
        "Registered agent devices",
        ConstGauge::new(live.registrations as i64),
    );
    registry.register(
        "register_failures",
        "REGISTERs refused other than by a digest challenge, by reason",
        metrics.sip.register_failures.clone(),
    );
}

fn register_queues(registry: &mut Registry, metrics: &Metrics, live: &Live) {
    let waiting = Family::<Queue, Gauge>::default();
    let longest = Family::<Queue, Gauge<f64, AtomicU64>>::default();
    for queue in &live.queues {
        metrics.queue.know(&queue.name);
        let label = Queue {
            queue: queue.name.clone(),
        };
        waiting.get_or_create(&label).set(queue.waiting as i64);
        longest
            .get_or_create(&label)
            .set(queue.longest_wait.as_secs_f64());
    }
    registry.register("queue_waiting", "Callers waiting in the queue", waiting);
    registry.register(
        "queue_longest_wait_seconds",
        "The wait so far of the caller waiting longest",
        longest,
    );
    let queue = &metrics.queue;
    registry.register(
        "queue_answered",
        "Callers answered by an agent",
        queue.answered.clone(),
    );
    registry.register(
        "queue_abandoned",
        "Callers who hung up while waiting",
        queue.abandoned.clone(),
    );
    registry.register(
        "queue_wait_seconds",
        "Waits of answered callers, time in the IVR included",
        queue.wait.clone(),
    );
    let agents = Family::<Label, Gauge>::default();
    for (state, count) in AGENT_STATES.into_iter().zip(live.agents) {
        agents.get_or_create(&[("state", state)]).set(count as i64);
    }
    registry.register("agents", "Agents by state", agents);
}

fn register_crm(registry: &mut Registry, metrics: &Metrics, live: &Live) {
    registry.register(
        "db_write_queue_depth",
        "Call records and events waiting for the database writer",
        ConstGauge::new(live.db_write_queue_depth as i64),
    );
    if let Some(pending) = live.tickets_pending {
        registry.register(
            "tickets_pending",
            "Tickets not yet delivered to the CRM",
            ConstGauge::new(pending as i64),
        );
    }
    registry.register(
        "ticket_deliveries",
        "Ticket POSTs to the CRM by result: delivered, failed (retried later) or dead",
        metrics.ticket_deliveries.clone(),
    );
    registry.register(
        "lookup_duration_seconds",
        "How long CRM lookups took: who is calling (caller) or a flow's lookup (flow)",
        metrics.lookups.clone(),
    );
}
