//! One call: dialog, media, digits and prompts together.
//!
//! [`Services`] holds what every call shares (configuration, RTP ports,
//! prompts, the recent-calls view); [`run`] is the task of one call, from
//! INVITE to hang-up.

mod answered;
mod ports;
pub mod recent;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

use crate::config::Config;
use crate::crm::Db;
use crate::rtp::PromptStore;
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle, NewCall};
use crate::sip::identity::{caller_number, mask_number, normalize_e164};
use crate::sip::sdp::{LocalMedia, SdpSession};
use crate::sip::ua::CallId;

pub use ports::PortPool;
use recent::{CallRecord, RecentCalls};

/// What every call shares.
#[derive(Clone)]
pub struct Services(Arc<Shared>);

struct Shared {
    config: Config,
    db: Db,
    /// Tells background workers (ticket delivery) to stop.
    stop: tokio::sync::watch::Sender<bool>,
    media_ip: IpAddr,
    ports: PortPool,
    prompts: PromptStore,
    recent: RecentCalls,
    active: AtomicUsize,
    total: AtomicU64,
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
}

impl Services {
    /// Loads prompts and prepares what calls need; a prompt that cannot be
    /// decoded or a missing say-engine word stops start-up, naming it.
    pub async fn start(config: &Config) -> Result<Services, StartError> {
        let db = Db::connect(&config.database.url).await?;
        if config.database.seed_demo && db.customer_count().await? == 0 {
            let added = db.seed_demo().await?;
            info!(
                customers = added,
                "demo CRM data loaded into the new database"
            );
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        match &config.tickets.webhook {
            Some(webhook) => {
                let worker = crate::crm::delivery::run_worker(
                    db.clone(),
                    webhook.clone(),
                    Duration::from_secs(1),
                    stopped,
                );
                tokio::spawn(worker);
            }
            None => info!("no CRM webhook configured: tickets stay in the database"),
        }
        let media = &config.media;
        let media_ip = crate::server::advertised_ip(media.bind_address, media.public_address);
        let prompts = PromptStore::load(&config.audio.dir, &config.audio.default_language)?;
        let languages: Vec<String> = prompts.languages().map(str::to_owned).collect();
        for language in &languages {
            crate::say::check_prompts(language, |id| {
                prompts.get(language, id).is_ok_and(|f| !f.fell_back)
            })
            .map_err(|source| StartError::Words {
                language: language.clone(),
                source,
            })?;
        }
        info!(languages = ?languages, "prompts loaded");
        Ok(Services(Arc::new(Shared {
            config: config.clone(),
            db,
            stop,
            media_ip,
            ports: PortPool::new(media.bind_address, media.port_min, media.port_max),
            prompts,
            recent: RecentCalls::default(),
            active: AtomicUsize::new(0),
            total: AtomicU64::new(0),
        })))
    }

    /// Live figures for the admin API.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "calls_active": self.0.active.load(Ordering::Relaxed),
            "calls_total": self.0.total.load(Ordering::Relaxed),
        })
    }

    /// The calls in progress and the most recent finished ones.
    pub fn recent_calls(&self) -> Vec<CallRecord> {
        self.0.recent.list()
    }

    /// Stops background work before the process exits.
    pub async fn shutdown(&self) {
        let _ = self.0.stop.send(true);
    }

    fn config(&self) -> &Config {
        &self.0.config
    }
}

/// The call's record in the database, written in order by one writer task
/// per call. A database that is slow or down is logged and never holds up or
/// drops the call.
#[derive(Clone)]
pub(crate) struct CallLog {
    writer: Option<mpsc::UnboundedSender<LogEntry>>,
}

enum LogEntry {
    Event {
        kind: &'static str,
        detail: String,
    },
    Finish {
        outcome: String,
        done: tokio::sync::oneshot::Sender<()>,
    },
}

/// How long a call waits for the database before going on without it.
const DB_WAIT: Duration = Duration::from_secs(2);

impl CallLog {
    async fn start(services: &Services, sip_call_id: &str, caller: &str) -> CallLog {
        let db = services.0.db.clone();
        let customer = match db.find_customer_by_phone(caller, DB_WAIT).await {
            Ok(customer) => customer,
            Err(error) => {
                warn!(%error, "caller lookup failed; going on as unknown");
                None
            }
        };
        if let Some(customer) = &customer {
            info!(customer = %customer.id, "caller identified");
        }
        let started = db.start_call(
            sip_call_id,
            caller,
            customer.as_ref().map(|c| c.id.as_str()),
        );
        let id = match tokio::time::timeout(DB_WAIT, started).await {
            Ok(Ok(id)) => id,
            Ok(Err(error)) => {
                warn!(%error, "call not recorded");
                return CallLog { writer: None };
            }
            Err(_) => {
                warn!("call not recorded: database too slow");
                return CallLog { writer: None };
            }
        };
        let (writer, entries) = mpsc::unbounded_channel();
        tokio::spawn(write_call_log(db, id, entries));
        CallLog {
            writer: Some(writer),
        }
    }

    /// Records an event, in order with the call's other events.
    pub(crate) fn event(&self, kind: &'static str, detail: String) {
        if let Some(writer) = &self.writer {
            let _ = writer.send(LogEntry::Event { kind, detail });
        }
    }

    /// Records the outcome after every event, waiting a bounded time.
    async fn finish(&self, outcome: &str) {
        let Some(writer) = &self.writer else { return };
        let (done, written) = tokio::sync::oneshot::channel();
        let entry = LogEntry::Finish {
            outcome: outcome.to_owned(),
            done,
        };
        if writer.send(entry).is_ok() {
            let _ = tokio::time::timeout(DB_WAIT * 2, written).await;
        }
    }
}

async fn write_call_log(db: Db, id: String, mut entries: mpsc::UnboundedReceiver<LogEntry>) {
    while let Some(entry) = entries.recv().await {
        match entry {
            LogEntry::Event { kind, detail } => {
                if let Err(error) = db.record_call_event(&id, kind, &detail).await {
                    warn!(%error, "call event not recorded");
                }
            }
            LogEntry::Finish { outcome, done } => {
                if let Err(error) = db.finish_call(&id, &outcome).await {
                    warn!(%error, "call outcome not recorded");
                }
                let _ = done.send(());
                return;
            }
        }
    }
}

/// Counts a call as active for as long as it lives.
struct ActiveGuard(Services);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The task of one call, from INVITE to hang-up.
pub async fn run(services: Services, call: NewCall) {
    let span = info_span!("call", call_id = %call.call);
    async move {
        services.0.active.fetch_add(1, Ordering::Relaxed);
        services.0.total.fetch_add(1, Ordering::Relaxed);
        let _guard = ActiveGuard(services.clone());
        let caller = caller_number(&call.request)
            .and_then(|raw| normalize_e164(&raw, &services.config().sip.country_code))
            .unwrap_or_default();
        info!(caller = %mask_number(&caller), "call started");
        services.0.recent.start(CallRecord {
            call_id: call.call.0.clone(),
            caller: caller.clone(),
            started_at: chrono::Utc::now(),
            ended_at: None,
            digits: Vec::new(),
            codec: None,
            outcome: None,
        });
        let id = call.call.0.clone();
        let record = CallLog::start(&services, &id, &caller).await;
        let outcome = Call::new(services.clone(), call, record.clone())
            .run()
            .await;
        info!(?outcome, "call finished");
        record.finish(&outcome.label()).await;
        services.0.recent.update(&id, |record| {
            record.ended_at = Some(chrono::Utc::now());
            record.outcome = Some(outcome.label());
        });
    }
    .instrument(span)
    .await
}

/// How a call ended, for logs and the call record.
#[derive(Debug)]
pub enum Outcome {
    /// No codec in common: answered 488.
    NotAcceptable,
    /// No RTP port free: answered 503.
    NoMedia,
    /// The caller cancelled before the answer.
    Cancelled,
    /// The call was answered and ended.
    Ended(String),
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::NotAcceptable => "not_acceptable".into(),
            Outcome::NoMedia => "no_media".into(),
            Outcome::Cancelled => "cancelled".into(),
            Outcome::Ended(reason) => format!("ended: {reason}"),
        }
    }
}

struct Call {
    services: Services,
    log: CallLog,
    id: CallId,
    offer: Option<Vec<u8>>,
    signals: mpsc::Receiver<CallSignal>,
    endpoint: EndpointHandle,
}

impl Call {
    fn new(services: Services, call: NewCall, log: CallLog) -> Call {
        Call {
            services,
            log,
            id: call.call,
            offer: call.offer,
            signals: call.signals,
            endpoint: call.endpoint,
        }
    }

    async fn run(mut self) -> Outcome {
        let Some(socket) = self.services.0.ports.bind().await else {
            warn!("no RTP port free in the configured range");
            self.command(EndpointCommand::Reject(self.id.clone(), 503, Vec::new()))
                .await;
            return Outcome::NoMedia;
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

        self.command(EndpointCommand::Ring(self.id.clone())).await;
        let delay = Duration::from_millis(self.services.config().sip.answer_delay_ms);
        if let Some(outcome) = self.ring_for(delay).await {
            return outcome;
        }
        self.command(EndpointCommand::Answer(self.id.clone(), body))
            .await;
        answered::Answered {
            services: self.services,
            log: self.log,
            id: self.id,
            signals: self.signals,
            endpoint: self.endpoint,
            sdp,
            socket: Some(socket),
            negotiated,
        }
        .run()
        .await
    }

    /// Rings for `delay`, unless the caller gives up first.
    async fn ring_for(&mut self, delay: Duration) -> Option<Outcome> {
        let deadline = tokio::time::sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return None,
                signal = self.signals.recv() => match signal {
                    Some(CallSignal::Cancelled) => return Some(Outcome::Cancelled),
                    Some(CallSignal::Ended { reason }) => return Some(Outcome::Ended(reason)),
                    Some(_) => {}
                    None => return Some(Outcome::Ended("endpoint stopped".into())),
                },
            }
        }
    }

    async fn command(&self, command: EndpointCommand) {
        self.endpoint.send(command).await;
    }
}
