//! One call: dialog, media, digits and prompts together.
//!
//! [`Services`] holds what every call shares (configuration, RTP ports,
//! prompts, the recent-calls view); [`run`] is the task of one call, from
//! INVITE to hang-up. What a call does is decided by [`core::CallCore`], a
//! sans-IO state machine over transport-neutral legs ([`leg`]); one drive
//! loop per call (`drive.rs`) runs it over the SIP legs of [`sip_leg`], or,
//! for a caller in a web page ([`web`]), over the WebRTC leg of [`web_leg`].
//! A callback (agent and customer, no caller) is [`callback_core`], driven
//! the same way by [`callback`]. The agent queue's task ([`queue`]) rings
//! agents and hands answered legs to the callers' tasks.

mod agents;
pub use agents::follow_registrations;
pub mod callback;
pub mod callback_core;
mod cluster_queue;
pub mod core;
mod drive;
pub mod flows;
pub mod hand_over;
pub mod leg;
mod log;
mod prompts;
pub mod queue;
pub mod recent;
pub mod relayed;
pub mod sip_leg;
pub mod web;
pub mod web_leg;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

use crate::config::Config;
use crate::crm::Db;
use crate::crm::calls::CallEnd;
use crate::crm::customers::Customer;
use crate::flow::CallContext;
use crate::metrics::Metrics;
use crate::rtp::PromptStore;
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle, NewCall};
use crate::sip::identity::{caller_number, mask_number, normalize_e164};
use crate::sip::sdp::{LocalMedia, SdpSession};
use crate::sip::ua::CallId;
use rand::Rng;

use crate::crm::writer::{RecordWriter, WriterSettings};
use crate::server::admission::{LookupGauge, SetupLoad};
use crate::server::ports::{self, PortPool};
use log::{CallLog, DB_WAIT};
pub use recent::CallRecord;
use recent::RecentCalls;

/// Live figures of the server, as `GET /status` shows them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Calls in progress.
    pub calls_active: usize,
    /// Calls since start.
    pub calls_total: u64,
    /// The version of each loaded flow, by flow id.
    pub flows: std::collections::BTreeMap<String, String>,
    /// What the SIP limits did since start.
    #[schema(value_type = crate::server::limits::LimitStats)]
    pub sip_limits: Arc<crate::server::limits::LimitStats>,
    /// Each CRM source's lookups and circuit since start.
    pub crm_sources: Vec<crate::crm::sources::SourceCounters>,
    /// The record writer: what waits for the database, what was written.
    pub records: crate::crm::writer::RecordStats,
}

/// What every call shares.
#[derive(Clone)]
pub struct Services(Arc<Shared>);

struct Shared {
    config: Config,
    db: Db,
    /// Lookups and caller identification, on the CRM's sources or hotline's tables.
    crm: crate::crm::sources::Crm,
    /// Writes call records, call events and queue events in batches.
    records: RecordWriter,
    /// How long caller lookups take, for admission control.
    lookups: Arc<LookupGauge>,
    /// Tells background workers (ticket delivery) to stop.
    stop: tokio::sync::watch::Sender<bool>,
    media_ip: IpAddr,
    ports: PortPool,
    prompts: Arc<PromptStore>,
    flows: flows::LiveFlows,
    queue: queue::QueueHandle,
    /// Our SIP address as written in calls we place.
    sip_address: std::net::SocketAddr,
    recent: RecentCalls,
    /// DNS for the SIP URIs calls are transferred or called back to.
    locator: crate::server::locator::Locator,
    active: AtomicUsize,
    total: AtomicU64,
    /// What the SIP limits refused, filled by the endpoint and the transport.
    sip_limits: Arc<crate::server::limits::LimitStats>,
    /// The counters `/metrics` shows.
    metrics: Metrics,
    /// This node's place in a cluster, once its queue is started as one.
    cluster: std::sync::OnceLock<hand_over::ClusterLink>,
    /// The WebRTC driver that answers browsers' offers, when `[webrtc]` is enabled.
    webrtc: Option<Arc<crate::webrtc::Driver>>,
}

/// Why the server could not prepare its services.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Prompts(#[from] crate::rtp::PromptError),
    #[error("audio {language}: {source}")]
    Words {
        language: String,
        source: crate::say::SayError,
    },
    #[error(transparent)]
    Database(#[from] crate::crm::DbError),
    #[error(transparent)]
    Flows(#[from] flows::FlowsError),
    #[error(transparent)]
    Crm(#[from] crate::crm::sources::SetupError),
}

impl Services {
    /// Loads prompts and prepares what calls need; a prompt that cannot be
    /// decoded or a missing say-engine word stops start-up, naming it.
    /// `queue` is the agent queue's handle (its task starts with
    /// [`Services::start_queue`] once the SIP endpoint runs), `sip_address`
    /// the address calls hotline places come from, `sip_limits` the
    /// counters the endpoint and the transport fill, and `webrtc` the
    /// driver browsers' media goes through, when enabled.
    pub async fn start(
        config: &Config,
        db: Db,
        queue: queue::QueueHandle,
        sip_address: std::net::SocketAddr,
        sip_limits: Arc<crate::server::limits::LimitStats>,
        webrtc: Option<Arc<crate::webrtc::Driver>>,
    ) -> Result<Services, StartError> {
        let metrics = Metrics {
            media: crate::server::media::metrics().clone(),
            ..Metrics::default()
        };
        let crm = config.crm(db.clone())?;
        crm.probe_in_background();
        // Before any call is taken, so every open call is one of a past run.
        let interrupted = match config.cluster() {
            None => db.close_interrupted_calls().await?,
            // The other nodes' calls are open too: only those past the
            // longest call are surely over.
            Some(_) => {
                let longest = config.sip.max_call_seconds as i64 * 1000;
                db.close_calls_open_since(crate::crm::now_ms() - longest)
                    .await?
            }
        };
        if interrupted > 0 {
            warn!(
                calls = interrupted,
                "calls left open by the last run closed as interrupted"
            );
        }
        let records = RecordWriter::spawn(
            Db::open_writer(&config.database.url).await?,
            WriterSettings {
                node: config.cluster().map(|cluster| cluster.node_id.clone()),
                ..WriterSettings::default()
            },
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        match crm.delivery() {
            Some(target) => {
                let worker = crate::crm::delivery::run_worker(
                    db.clone(),
                    target.clone(),
                    Duration::from_secs(1),
                    stopped,
                    metrics.ticket_deliveries.clone(),
                );
                tokio::spawn(worker);
            }
            None => info!("no CRM delivery configured: tickets stay in the database"),
        }
        let media = &config.media;
        let media_ip = crate::server::advertised_ip(media.bind_address, media.public_address);
        let prompts = PromptStore::load(&config.audio.dir, &config.audio.default_language)?;
        let languages: Vec<String> = prompts.languages().map(str::to_owned).collect();
        for language in &languages {
            crate::say::check_prompts(language, |id| {
                crate::flow::PromptCatalog::exists(&prompts, language, id)
            })
            .map_err(|source| StartError::Words {
                language: language.clone(),
                source,
            })?;
        }
        info!(languages = ?languages, "prompts loaded");
        let prompts = Arc::new(prompts);
        let flows = flows::LiveFlows::load(
            config.flows.dir.clone(),
            &config.flows.entry,
            config.catalog(),
            Arc::clone(&prompts),
            metrics.flow_reloads.clone(),
        )?;
        let watcher = flows.clone().watch(
            Duration::from_millis(config.flows.reload_ms),
            stop.subscribe(),
        );
        tokio::spawn(watcher);
        Ok(Services(Arc::new(Shared {
            config: config.clone(),
            db,
            crm,
            records,
            lookups: Arc::default(),
            stop,
            media_ip,
            ports: PortPool::new(media.bind_address, media.port_min, media.port_max),
            prompts,
            flows,
            queue,
            sip_address,
            recent: RecentCalls::default(),
            locator: crate::server::locator::Locator::new(&config.sip.dns_servers),
            active: AtomicUsize::new(0),
            total: AtomicU64::new(0),
            sip_limits,
            metrics,
            cluster: std::sync::OnceLock::new(),
            webrtc,
        })))
    }

    /// Where a caller who reaches a queue is handed over, when this node is
    /// one of a cluster's and another node runs the ACD.
    pub fn hand_over_uri(&self) -> Option<String> {
        self.0.cluster.get()?.hand_over_uri()
    }

    /// Signs a hand-over's headers with the cluster's secret, if it has one.
    pub(crate) fn sign_hand_over(&self, headers: &mut Vec<crate::sip::message::Header>) {
        if let Some(link) = self.0.cluster.get() {
            link.sign(headers);
        }
    }

    /// The WebRTC driver, for answering browsers' offers (web callers,
    /// browser agents); `None` unless `[webrtc] enabled`.
    pub fn webrtc(&self) -> Option<&Arc<crate::webrtc::Driver>> {
        self.0.webrtc.as_ref()
    }

    /// The calls' live figures and recent calls, for the admin API.
    pub fn monitor(&self) -> Monitor {
        Monitor(Arc::clone(&self.0))
    }

    /// The counters `/metrics` shows that the shell's parts fill.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// What admission control reads: the writer's backlog and lookup times.
    pub fn setup_load(&self) -> SetupLoad {
        SetupLoad {
            records: self.0.records.clone(),
            lookups: Arc::clone(&self.0.lookups),
        }
    }

    /// Starts the agent queue's task on the SIP endpoint (it rings agents
    /// through it), taking the commands sent to [`Services::queue`].
    pub fn start_queue(
        &self,
        inbox: queue::QueueInbox,
        endpoint: EndpointHandle,
        directory: queue::Directory,
    ) -> Result<(), crate::queue::ConfigError> {
        let shell = self.queue_shell(endpoint, directory, self.0.records.clone())?;
        tokio::spawn(queue::run(shell, inbox));
        Ok(())
    }

    /// A fresh ACD and what it needs, writing its log to `records`.
    fn queue_shell(
        &self,
        endpoint: EndpointHandle,
        directory: queue::Directory,
        records: RecordWriter,
    ) -> Result<queue::QueueShell, crate::queue::ConfigError> {
        let sip_address = self.0.sip_address;
        let config = self.config();
        let acd = crate::queue::Acd::new(config.acd(), std::time::Instant::now())?;
        Ok(queue::QueueShell {
            acd,
            endpoint,
            directory,
            db: self.0.db.clone(),
            records,
            ports: self.0.ports.clone(),
            media_ip: self.0.media_ip,
            media_options: crate::server::media::MediaOptions::from(&config.media),
            sip_address,
            kept_places: crate::queue::KeptPlaces::new(std::time::Duration::from_secs(
                config.queue.keep_place_seconds,
            )),
            callback_dial: Some(config.queue.callback_dial.clone()).filter(|d| !d.is_empty()),
            trunk_auth: config.trunk.credentials(),
            locator: self.0.locator.clone(),
            callback_caller_id: config.queue.callback_caller_id.clone(),
            callback_retry: queue::CallbackRetry {
                attempts: config.queue.callback_attempts.max(1),
                after: std::time::Duration::from_secs(config.queue.callback_retry_seconds),
            },
            metrics: self.0.metrics.queue.clone(),
            places: None,
        })
    }

    /// Stops background work before the process exits, and writes the
    /// records still queued (calls still in progress are closed as
    /// interrupted at the next start).
    pub async fn shutdown(&self) {
        let _ = self.0.stop.send(true);
        let backlog = self.0.records.backlog();
        if !self.0.records.flush(SHUTDOWN_FLUSH).await {
            warn!(
                records = backlog,
                "the database did not take the last records before shutdown"
            );
        }
    }

    fn config(&self) -> &Config {
        &self.0.config
    }

    /// The live flows, for the console's flows page (publish, roll back).
    pub fn flows(&self) -> &flows::LiveFlows {
        &self.0.flows
    }

    /// The prompts directory, whose texts the flow simulator shows.
    pub fn audio_dir(&self) -> &std::path::Path {
        &self.0.config.audio.dir
    }

    /// The CRM database.
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// Our SIP address, for the From of calls hotline places.
    fn sip_address(&self) -> std::net::SocketAddr {
        self.0.sip_address
    }

    /// The agent queue callers are handed to.
    /// DNS for SIP URIs hotline calls.
    pub fn locator(&self) -> &crate::server::locator::Locator {
        &self.0.locator
    }

    pub fn queue(&self) -> &queue::QueueHandle {
        &self.0.queue
    }
}

/// The calls as the admin API sees them: live figures and recent calls,
/// read-only.
#[derive(Clone)]
pub struct Monitor(Arc<Shared>);

impl Monitor {
    /// Live figures for the admin API.
    pub fn status(&self) -> Status {
        Status {
            calls_active: self.0.active.load(Ordering::Relaxed),
            calls_total: self.0.total.load(Ordering::Relaxed),
            flows: self.0.flows.versions().into_iter().collect(),
            sip_limits: Arc::clone(&self.0.sip_limits),
            crm_sources: self.0.crm.counters(),
            records: self.0.records.stats(),
        }
    }

    /// Calls in progress.
    pub fn calls_active(&self) -> u64 {
        self.0.active.load(Ordering::Relaxed) as u64
    }

    /// Records handed to the writer and not yet committed.
    pub fn record_backlog(&self) -> usize {
        self.0.records.backlog()
    }

    /// The counters the SIP limits fill, shown in [`Monitor::status`].
    pub fn sip_limit_stats(&self) -> Arc<crate::server::limits::LimitStats> {
        Arc::clone(&self.0.sip_limits)
    }

    /// The calls in progress and the most recent finished ones.
    pub fn recent_calls(&self) -> Vec<CallRecord> {
        self.0.recent.list()
    }
}

/// How long shutdown waits for the record writer to empty its queue.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(10);

/// Counts a call as active for as long as it lives.
struct ActiveGuard(Services);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The task of one call, from INVITE to hang-up. The call comes boxed into
/// its block, so the block holds 8 bytes of it beside `account`'s future for
/// the whole call (see [`account`]), and nothing runs until the task does:
/// not on the SIP endpoint's path.
pub fn run(services: Services, call: NewCall) -> impl Future<Output = ()> + Send {
    let call = Box::new(call);
    async move {
        let caller = caller_number(&call.request)
            .and_then(|raw| normalize_e164(&raw, &services.config().sip.country_code))
            .unwrap_or_default();
        let listed_id = call.call.0.clone();
        let identifying = {
            let (services, caller) = (services.clone(), caller.clone());
            async move { identify(&services, &caller).await }
        };
        let started = Started {
            listed_id,
            number: caller,
            channel: Channel::Sip,
        };
        account(
            services,
            started,
            identifying,
            |services, hotline_id, log, caller| {
                let handed_over = services
                    .0
                    .cluster
                    .get()
                    .and_then(|link| link.handed_over(&call.request, call.remote.addr));
                Call::new(services, *call, hotline_id, log, caller)
                    .handed_over(handed_over)
                    .run()
            },
        )
        .await
    }
}

/// A call as it begins, before its caller is identified.
pub(crate) struct Started {
    /// The id the recent-calls list knows it by (the SIP Call-ID, or a web call's id).
    pub listed_id: String,
    /// The caller's number, E.164; empty when there is none (a web caller).
    pub number: String,
    pub channel: Channel,
}

/// Where a call came in: how reports tell phone calls from a web page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A phone or trunk over SIP.
    Sip,
    /// A browser, from a web page's "call us" widget.
    Web,
}

impl Channel {
    /// As stored in `calls.channel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sip => "sip",
            Channel::Web => "web",
        }
    }
}

/// Everything around one call's run, whatever its channel: counted while it
/// lives, listed among recent calls, its caller identified (`identifying`)
/// and its record begun, then `run`, then its outcome counted and recorded.
///
/// Its future lives in the call's task for the whole call, so it is kept
/// small: a plain fn returning the instrumented block (an async fn would hold
/// its arguments a second time), and what is used once at the start boxed.
pub(crate) fn account<R>(
    services: Services,
    started: Started,
    identifying: impl Future<Output = Option<Customer>>,
    run: impl FnOnce(Services, String, CallLog, Caller) -> R,
) -> impl Future<Output = ()>
where
    R: Future<Output = Outcome>,
{
    let identifying = Box::pin(identifying);
    let run = Box::new(run);
    // hotline's own id of the call: the call record's id and the key of its
    // tickets. The SIP Call-ID is the caller's to choose (and some PBXs reuse
    // it), so it is kept for reference only.
    let hotline_id = crate::crm::new_id();
    let span = info_span!("call", call_id = %started.listed_id, id = %hotline_id);
    async move {
        services.0.active.fetch_add(1, Ordering::Relaxed);
        services.0.total.fetch_add(1, Ordering::Relaxed);
        let _guard = ActiveGuard(services.clone());
        let Started {
            listed_id: id,
            number: caller,
            channel,
        } = started;
        info!(caller = %mask_number(&caller), channel = channel.as_str(), "call started");
        services.0.recent.start(CallRecord {
            call_id: id.clone(),
            caller: caller.clone(),
            channel,
            started_at: chrono::Utc::now(),
            ended_at: None,
            digits: Vec::new(),
            codec: None,
            outcome: None,
        });
        // The record is begun once the caller is known, so that it is one
        // row written once; neither waits for the database's writes.
        let customer = identifying.await;
        let record = CallLog::start(
            &services.0.records,
            &hotline_id,
            &id,
            &caller,
            channel,
            // A customer found in the company's CRM has no row among
            // hotline's customers for the record to point at.
            customer
                .as_ref()
                .filter(|_| !services.0.crm.identifies_externally())
                .map(|c| c.id.clone()),
        );
        let caller = Caller {
            number: caller,
            customer,
        };
        let outcome = run(services.clone(), hotline_id, record.clone(), caller).await;
        info!(?outcome, "call finished");
        let finished = crate::metrics::Outcome {
            outcome: outcome.metric_label(),
        };
        services
            .0
            .metrics
            .calls
            .finished
            .get_or_create(&finished)
            .inc();
        record.finish(outcome.record()).await;
        services.0.recent.update(&id, |record| {
            record.ended_at = Some(chrono::Utc::now());
            record.outcome = Some(outcome.label());
        });
    }
    .instrument(span)
}

/// Finds the customer calling from `number`; a database that is down or slow
/// makes the caller unknown, never holds up the call. How long it took feeds
/// the lookup latency metric and, when hotline's own database answered,
/// admission control: a slow company CRM has its own circuit breaker and
/// says nothing of this server's capacity.
async fn identify(services: &Services, number: &str) -> Option<Customer> {
    let started = std::time::Instant::now();
    let found = services.0.crm.identify(number, DB_WAIT).await;
    let took = started.elapsed();
    if !services.0.crm.identifies_externally() {
        services.0.lookups.record(took);
    }
    services.0.metrics.lookup_took("caller", took);
    match found {
        Ok(Some(customer)) => {
            info!(customer = %customer.id, "caller identified");
            Some(customer)
        }
        Ok(None) => None,
        Err(error) => {
            warn!(%error, "caller lookup failed; going on as unknown");
            None
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// E.164 where it could be normalised; empty when the call carries none.
    pub number: String,
    pub customer: Option<Customer>,
}

impl Caller {
    /// What the flow knows of the caller as the call begins.
    fn context(&self) -> CallContext {
        CallContext {
            caller: self.number.clone(),
            customer: self.customer.as_ref().map(|c| c.id.clone()),
            language: self.customer.as_ref().map(|c| c.language.clone()),
            now_utc: chrono::Utc::now(),
            split_roll: rand::rng().random_range(0..100),
        }
    }
}

/// What the call core needs from the configuration.
fn core_settings(config: &Config) -> self::core::Settings {
    self::core::Settings {
        answer_delay: Duration::from_millis(config.sip.answer_delay_ms),
        max_duration: Duration::from_secs(config.sip.max_call_seconds),
        callback_key: config.queue.callback_key.chars().next(),
        music: config.queue.music.clone(),
        default_language: config.audio.default_language.clone(),
    }
}

/// How a call ended, for logs and the call record.
#[derive(Debug)]
pub enum Outcome {
    /// No codec in common: answered 488.
    NotAcceptable,
    /// No RTP port free: answered 503.
    NoMedia,
    /// The flow that answers calls is not published (its file was removed): answered 503.
    NoFlow,
    /// The caller cancelled before the answer.
    Cancelled,
    /// The call was answered and ended; with the flow it ran, once it started one.
    Ended {
        reason: String,
        flow: Option<FlowSummary>,
    },
}

/// The flow a call ran and how it left it.
#[derive(Debug, Clone)]
pub struct FlowSummary {
    pub version: String,
    /// `None` when the call ended inside the flow without an outcome (e.g. a time limit).
    pub outcome: Option<crate::flow::Outcome>,
    /// Nodes entered and keys chosen, space-separated; keys in brackets.
    pub path: String,
}

impl Outcome {
    /// An answered call that ended before any flow ran.
    fn ended(reason: impl Into<String>) -> Outcome {
        Outcome::Ended {
            reason: reason.into(),
            flow: None,
        }
    }

    fn label(&self) -> String {
        match self {
            Outcome::NotAcceptable => "not_acceptable".into(),
            Outcome::NoMedia => "no_media".into(),
            Outcome::NoFlow => "no_flow".into(),
            Outcome::Cancelled => "cancelled".into(),
            Outcome::Ended { reason, .. } => format!("ended: {reason}"),
        }
    }

    /// How the call ended, from a fixed set: the flow's outcome once one
    /// ran to it, else `ended` or why the call was never answered.
    fn metric_label(&self) -> &'static str {
        match self {
            Outcome::NotAcceptable => "not_acceptable",
            Outcome::NoMedia => "no_media",
            Outcome::NoFlow => "no_flow",
            Outcome::Cancelled => "cancelled",
            Outcome::Ended { flow, .. } => match flow.as_ref().and_then(|f| f.outcome) {
                Some(outcome) => outcome.label(),
                None => "ended",
            },
        }
    }

    fn record(&self) -> CallEnd {
        let flow = match self {
            Outcome::Ended { flow, .. } => flow.as_ref(),
            _ => None,
        };
        CallEnd {
            outcome: self.label(),
            flow_outcome: flow.and_then(|f| f.outcome).map(|o| {
                serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
            path: flow.map(|f| f.path.clone()),
        }
    }
}

struct Call {
    services: Services,
    log: CallLog,
    caller: Caller,
    id: CallId,
    hotline_id: String,
    offer: Option<Vec<u8>>,
    signals: mpsc::Receiver<CallSignal>,
    endpoint: EndpointHandle,
    /// A caller another node handed over to this node's queue.
    handed_over: Option<hand_over::HandedOver>,
}

impl Call {
    fn handed_over(mut self, handed: Option<hand_over::HandedOver>) -> Call {
        self.handed_over = handed;
        self
    }

    fn new(
        services: Services,
        call: NewCall,
        hotline_id: String,
        log: CallLog,
        caller: Caller,
    ) -> Call {
        Call {
            services,
            log,
            caller,
            id: call.call,
            hotline_id,
            offer: call.offer,
            signals: call.signals,
            endpoint: call.endpoint,
            handed_over: None,
        }
    }

    /// Answers the call and drives it to its end (an async block, not an
    /// async fn, for the reason given at `Drive::run`).
    #[allow(clippy::manual_async_fn)]
    fn run(mut self) -> impl Future<Output = Outcome> {
        async move {
            let runs_acd = self.services.0.cluster.get().is_some_and(|l| l.runs_acd());
            if self.handed_over.is_some() && !runs_acd {
                // The ACD moved meanwhile: the proxy tries the node that has it.
                info!("a hand-over for an ACD this node does not run; answering 503");
                self.command(EndpointCommand::Reject(self.id.clone(), 503, Vec::new()))
                    .await;
                return Outcome::ended("not the ACD's node");
            }
            // The version published now is the one this call keeps to its end.
            let entry = &self.services.config().flows.entry;
            let Some(flow) = self.services.0.flows.get(entry) else {
                warn!(flow = %entry, "the flow that answers calls is not published; answering 503");
                self.command(EndpointCommand::Reject(self.id.clone(), 503, Vec::new()))
                    .await;
                return Outcome::NoFlow;
            };
            let socket = match self.services.0.ports.bind().await {
                Ok(socket) => socket,
                Err(error) => {
                    let stats = &self.services.0.sip_limits;
                    crate::server::limits::LimitStats::count(&stats.calls_overloaded);
                    if error == ports::PortError::NoDescriptor {
                        crate::server::limits::LimitStats::count(&stats.descriptors_exhausted);
                    }
                    warn!(%error, "cannot answer");
                    self.command(EndpointCommand::Reject(self.id.clone(), 503, Vec::new()))
                        .await;
                    return Outcome::NoMedia;
                }
            };
            let local = LocalMedia {
                address: self.services.0.media_ip,
                rtp_port: socket.local_addr().map(|a| a.port()).unwrap_or_default(),
            };
            let mut sdp = SdpSession::new(local, &mut rand::rng());
            let (body, negotiated) = match self.offer.take() {
                Some(offer) => match sdp.answer(&offer) {
                    Ok((body, negotiated)) => (body, Some(negotiated)),
                    Err(error) => {
                        info!(%error, "offer not acceptable");
                        self.command(EndpointCommand::Reject(self.id.clone(), 488, Vec::new()))
                            .await;
                        return Outcome::NotAcceptable;
                    }
                },
                // Late offer: our offer goes in the 200, the answer comes in the ACK.
                None => (sdp.offer(), None),
            };

            let config = self.services.config();
            let mut settings = core_settings(config);
            if self.handed_over.is_some() {
                // The caller already heard ringing on the first node.
                settings.answer_delay = Duration::ZERO;
            }
            let context = self.caller.context();
            let leg = sip_leg::SipLeg::incoming(
                sip_leg::Incoming {
                    call: self.id.clone(),
                    endpoint: self.endpoint.clone(),
                    signals: self.signals,
                    sdp,
                    socket,
                    negotiated,
                    answer: body,
                },
                crate::server::media::MediaOptions::from(&config.media),
                Arc::clone(&self.services.0.prompts),
            );
            let mut core =
                self::core::CallCore::new(std::time::Instant::now(), settings, flow, context);
            if let Some(handed) = self.handed_over.take() {
                info!(queue = %handed.queue, "a caller handed over by another node joins the queue");
                core = core.handed_over(handed);
            }
            drive::Drive {
                services: self.services,
                log: self.log,
                caller: self.caller,
                id: self.id,
                hotline_id: self.hotline_id,
                leg,
                endpoint: self.endpoint,
                core,
            }
            .run()
            .await
        }
    }

    async fn command(&self, command: EndpointCommand) {
        self.endpoint.send(command).await;
    }
}
