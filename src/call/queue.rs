//! The agent queue's shell: one task drives the ACD core, rings agents'
//! phones, and tells waiting callers' tasks what happens to them.
//!
//! The core decides (who is offered to whom, announcements, limits); this task
//! carries it out. A caller's task joins with [`QueueHandle::join`] and then
//! receives [`QueueNotice`]s; when an agent answers, the answered leg is handed
//! to the caller's task, which bridges the two and reports the end.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::callback::{self, CallbackOutcome, CallbackRequest};
use crate::crm::Db;
use crate::crm::batch::Record;
use crate::crm::writer::RecordWriter;
use crate::flow::AgentContext;
use crate::queue::{
    Acd, AcdError, Action, AgentConfig, AgentId, AgentInput, AgentState, CallerId, Event,
    EventKind, Join, KeptPlaces, OfferId, OfferResult,
};
use crate::server::agent_leg::{self, AgentLeg, RingOutcome, RingRequest, RingTarget};
use crate::server::endpoint::EndpointHandle;
use crate::server::journal::{EventStream, Numbered, Replay};
use crate::server::locator::Locator;
use crate::server::media::MediaOptions;
use crate::server::ports::PortPool;
use crate::sip::digest::ClientCredentials;
use crate::sip::message::{Header, NameAddr, Params};

mod places;
mod remote;
mod shared;
mod snapshot;
mod term;
pub use places::PlacesLog;
pub use shared::share_while_leading;
use snapshot::AgentSeen;
pub use snapshot::QueueSnapshot;
pub use term::{Term, run_while_leading};

/// Why an agent's state was not changed.
#[derive(Debug, thiserror::Error)]
pub enum AgentChangeError {
    /// The queue core refused: an unknown agent, or a change that makes no sense now.
    #[error(transparent)]
    Refused(AcdError),
    /// The queue task is not running (no queue configured, or shutting down).
    #[error("the queue is not running")]
    NotRunning,
}

/// What a waiting caller's task hears from the queue.
#[derive(Debug)]
pub enum QueueNotice {
    /// Tell the caller their place and, when known well enough, the wait ahead.
    Announce {
        position: usize,
        estimated_wait: Option<Duration>,
    },
    /// An agent answered: bridge the caller with this leg, then report `call_ended`.
    Connect { agent: String, leg: Box<AgentLeg> },
    /// Register a callback ticket (the place in the queue is kept), confirm and hang up.
    RegisterCallback,
    /// The caller cannot be served: say goodbye and hang up.
    Goodbye,
}

/// A caller as the queue and the agent's screen know them.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingCall {
    /// The caller's number, E.164 where known.
    pub number: String,
    /// The customer's name, when identified.
    pub name: Option<String>,
    /// The customer's account number, when identified.
    pub account: Option<String>,
    /// What the IVR learned: customer, language, flow version, path, tickets.
    #[serde(skip)]
    pub context: AgentContext,
    /// The queue the flow chose.
    pub queue: String,
}

/// How tasks reach the queue.
#[derive(Clone)]
pub struct QueueHandle {
    commands: mpsc::UnboundedSender<Command>,
    next_caller: Arc<AtomicU64>,
    events: EventStream,
}

/// A caller's place in the queue, until it is given back by `leave` or the call ends.
pub struct Membership {
    pub caller: CallerId,
    pub notices: mpsc::UnboundedReceiver<QueueNotice>,
}

enum Command {
    Join {
        join: Join,
        call: Box<WaitingCall>,
        notices: mpsc::UnboundedSender<QueueNotice>,
    },
    Hangup(CallerId),
    Callback(CallerId),
    CallEnded(AgentId),
    Agent {
        agent: String,
        input: AgentInput,
        reply: Option<oneshot::Sender<Result<(), AgentChangeError>>>,
        /// Answered only by an ACD running on this node, never passed to the
        /// cluster's (the ACD's own commands, taken from the database).
        here_only: bool,
    },
    AddAgent(AgentConfig),
    Ringing(OfferId, RingOutcome),
    Snapshot {
        reply: oneshot::Sender<QueueSnapshot>,
        /// As for `Agent`: the ACD's own snapshot, never the cluster's.
        here_only: bool,
    },
    /// A callback whose customer was not reached goes back in the queue.
    RetryCallback {
        call: Box<WaitingCall>,
        attempt: u32,
    },
}

impl QueueHandle {
    /// Puts a caller in a queue; notices arrive on the membership.
    pub fn join(
        &self,
        call: WaitingCall,
        priority: i32,
        skills: Vec<String>,
        waited_before: Duration,
    ) -> Membership {
        let caller = CallerId(self.next_caller.fetch_add(1, Ordering::Relaxed));
        let (notices_tx, notices) = mpsc::unbounded_channel();
        let join = Join {
            caller,
            queue: call.queue.clone(),
            priority,
            waited_before,
            skills,
        };
        let _ = self.commands.send(Command::Join {
            join,
            call: Box::new(call),
            notices: notices_tx,
        });
        Membership { caller, notices }
    }

    /// The caller hung up while waiting (a callback entry stays).
    pub fn hang_up(&self, caller: CallerId) {
        let _ = self.commands.send(Command::Hangup(caller));
    }

    /// The caller asked to be called back instead of waiting.
    pub fn request_callback(&self, caller: CallerId) {
        let _ = self.commands.send(Command::Callback(caller));
    }

    /// A bridged call with `agent` ended.
    pub fn call_ended(&self, agent: &str) {
        let _ = self
            .commands
            .send(Command::CallEnded(AgentId(agent.to_owned())));
    }

    /// An agent's phone registered or unregistered.
    pub fn agent_registered(&self, agent: &str, registered: bool) {
        let input = AgentInput::Registered(registered);
        let _ = self.commands.send(Command::Agent {
            agent: agent.to_owned(),
            input,
            reply: None,
            here_only: false,
        });
    }

    /// Makes an agent known (from the database or configuration), logged out.
    pub fn add_agent(&self, agent: AgentConfig) {
        let _ = self.commands.send(Command::AddAgent(agent));
    }

    /// Changes an agent's state (log in, log out, pause, unpause); the error says why not.
    /// On a cluster node that does not run the ACD, the change goes to the ACD
    /// through the database.
    pub async fn set_agent(&self, agent: &str, input: AgentInput) -> Result<(), AgentChangeError> {
        self.send_agent(agent, input, false).await
    }

    async fn send_agent(
        &self,
        agent: &str,
        input: AgentInput,
        here_only: bool,
    ) -> Result<(), AgentChangeError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Agent {
            agent: agent.to_owned(),
            input,
            reply: Some(reply),
            here_only,
        };
        if self.commands.send(command).is_err() {
            return Err(AgentChangeError::NotRunning);
        }
        answer.await.unwrap_or(Err(AgentChangeError::NotRunning))
    }

    /// Agents with their states and the callers waiting in each queue.
    /// On a cluster node that does not run the ACD, the ACD's latest, from the database.
    pub async fn snapshot(&self) -> QueueSnapshot {
        self.ask_snapshot(false).await
    }

    /// The snapshot of an ACD running on this node only (empty elsewhere):
    /// what this node counts in its metrics, so that no queue is counted
    /// by every node of a cluster.
    pub async fn local_snapshot(&self) -> QueueSnapshot {
        self.ask_snapshot(true).await
    }

    async fn ask_snapshot(&self, here_only: bool) -> QueueSnapshot {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Snapshot { reply, here_only });
        // No queue running: no agents, no queues.
        answer.await.unwrap_or_default()
    }

    /// Publishes an event the ACD logged (on a cluster, every node's stream
    /// is fed from the queue log, wherever the ACD runs).
    pub fn relay(&self, event: serde_json::Value) {
        self.events.publish(event);
    }

    /// The live stream of queue events and agents' screen-pop context, as
    /// numbered JSON; with the id a reader saw last, what came after it.
    pub fn subscribe(
        &self,
        last: Option<u64>,
    ) -> (Replay, tokio::sync::broadcast::Receiver<Numbered>) {
        self.events.subscribe(last)
    }
}

/// Where agents can be rung: their registered phones, by agent id.
pub type Directory = Arc<dyn Fn(&str) -> Vec<RingTarget> + Send + Sync>;

/// What the queue task needs from the server.
pub struct QueueShell {
    pub acd: Acd,
    pub endpoint: EndpointHandle,
    pub directory: Directory,
    /// Writes the queue log.
    pub records: RecordWriter,
    pub db: Db,
    pub ports: PortPool,
    pub media_ip: std::net::IpAddr,
    pub media_options: MediaOptions,
    /// Our SIP address, for the From of calls to agents.
    pub sip_address: SocketAddr,
    /// Places of callers who hung up, for their next call.
    pub kept_places: KeptPlaces,
    /// The trunk URI template callbacks are dialled through, if any.
    pub callback_dial: Option<String>,
    /// What to answer the trunk's challenges with.
    pub trunk_auth: Option<ClientCredentials>,
    /// DNS for the trunk's name.
    pub locator: Locator,
    /// How often a callback whose customer is not reached is tried.
    pub callback_retry: CallbackRetry,
    /// The number callbacks are placed from.
    pub callback_caller_id: String,
    /// Where answers, abandons and waits are counted.
    pub metrics: crate::metrics::QueueMetrics,
    /// On a cluster: the waiting callers kept in the database for the next
    /// ACD; and then the event stream is fed from the queue log, not directly.
    pub places: Option<PlacesLog>,
}

/// Callbacks whose customer did not answer (busy, no answer, unreachable)
/// go back in the queue after `after`, up to `attempts` tries in all.
#[derive(Debug, Clone, Copy)]
pub struct CallbackRetry {
    pub attempts: u32,
    pub after: Duration,
}

/// The queue's handle, and the receiving end the task is started with.
pub fn channel() -> (QueueHandle, QueueInbox) {
    let (commands, inbox) = mpsc::unbounded_channel();
    let handle = QueueHandle {
        commands,
        next_caller: Arc::new(AtomicU64::new(1)),
        events: EventStream::new(),
    };
    (handle.clone(), QueueInbox { inbox, handle })
}

/// The commands waiting for the queue task.
pub struct QueueInbox {
    inbox: mpsc::UnboundedReceiver<Command>,
    handle: QueueHandle,
}

/// Runs the queue until every handle is dropped.
pub async fn run(shell: QueueShell, mut inbox: QueueInbox) {
    run_until(shell, &mut inbox, std::future::pending()).await;
}

/// Runs the queue until every handle is dropped (`false`) or `stop` is done
/// (`true`); stopping drops the waiting callers, whose tasks say goodbye.
async fn run_until(
    shell: QueueShell,
    inbox: &mut QueueInbox,
    stop: impl std::future::Future<Output = ()>,
) -> bool {
    let epoch_wall = chrono::Utc::now();
    let log = shell.records.clone();
    let mut task = QueueTask {
        shell,
        handle: inbox.handle.clone(),
        callers: HashMap::new(),
        ringing: HashMap::new(),
        answered: HashMap::new(),
        epoch_wall,
        log,
        seen: HashMap::new(),
    };
    let inbox = &mut inbox.inbox;
    let mut stop = std::pin::pin!(stop);
    loop {
        let deadline = task.shell.acd.poll_timeout();
        tokio::select! {
            command = inbox.recv() => match command {
                Some(command) => task.command(command).await,
                None => return false,
            },
            _ = sleep_until(deadline) => task.shell.acd.handle_timeout(Instant::now()),
            () = &mut stop => return true,
        }
        task.drain().await;
        task.keep_places();
    }
}

struct QueueTask {
    shell: QueueShell,
    handle: QueueHandle,
    callers: HashMap<CallerId, Waiting>,
    /// Offers ringing, with the means to withdraw them.
    ringing: HashMap<OfferId, oneshot::Sender<()>>,
    /// Offers answered, waiting for the core's `Connect` (or `CancelOffer`).
    answered: HashMap<OfferId, Box<AgentLeg>>,
    epoch_wall: chrono::DateTime<chrono::Utc>,
    /// The queue log's writer: a slow database never holds up the queue,
    /// and loses no line.
    log: RecordWriter,
    /// What wallboards show of each agent beyond the core's state.
    seen: HashMap<String, AgentSeen>,
}

/// A caller the queue knows: whom to notify, and what to show the agent.
struct Waiting {
    call: WaitingCall,
    notices: mpsc::UnboundedSender<QueueNotice>,
    /// For a callback placed again after the customer was not reached: which
    /// attempt this is (the first is 1).
    callback_attempt: u32,
    /// When the caller's wait began (the IVR included), ms since the Unix epoch.
    since_ms: i64,
}

impl QueueTask {
    async fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Join {
                mut join,
                call,
                notices,
            } => {
                if let Some(arrived) = self.shell.kept_places.take(&call.number, &join.queue, now) {
                    info!(
                        caller = join.caller.0,
                        "caller called again and has their place back"
                    );
                    join.waited_before = join
                        .waited_before
                        .max(now.saturating_duration_since(arrived));
                }
                let caller = join.caller;
                info!(caller = caller.0, queue = %join.queue, "caller joins the queue");
                let call = *call;
                let since_ms = crate::crm::now_ms() - join.waited_before.as_millis() as i64;
                self.callers.insert(
                    caller,
                    Waiting {
                        call,
                        notices,
                        callback_attempt: 1,
                        since_ms,
                    },
                );
                if let Err(error) = self.shell.acd.handle_join(now, join) {
                    warn!(%error, "caller cannot join; saying goodbye");
                    self.notify(caller, QueueNotice::Goodbye);
                }
            }
            Command::Hangup(caller) => {
                let _ = self.shell.acd.handle_hangup(now, caller);
            }
            Command::Callback(caller) => {
                if let Err(error) = self.shell.acd.handle_callback_request(now, caller) {
                    debug!(%error, "callback request not taken");
                }
            }
            Command::CallEnded(agent) => {
                if let Err(error) = self.shell.acd.handle_call_ended(now, &agent) {
                    debug!(%error, "call end for an agent not on a call");
                }
            }
            Command::Agent {
                agent,
                input,
                reply,
                ..
            } => {
                let id = AgentId(agent.clone());
                let mut result = self.shell.acd.handle_agent(now, &id, input.clone());
                // A phone that registers logs its agent in: agents start work by
                // starting their softphone, and log out or pause explicitly.
                if result.is_ok()
                    && input == AgentInput::Registered(true)
                    && self
                        .shell
                        .acd
                        .agent(&id)
                        .is_some_and(|a| *a.state() == AgentState::LoggedOut)
                {
                    result = self.shell.acd.handle_agent(now, &id, AgentInput::Login);
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result.map_err(AgentChangeError::Refused));
                } else if let Err(error) = result {
                    debug!(%error, agent = %agent, "agent input not taken");
                }
            }
            Command::AddAgent(agent) => {
                if let Err(error) = self.shell.acd.add_agent(agent) {
                    debug!(%error, "agent already known");
                }
            }
            Command::Ringing(offer, outcome) => {
                self.ringing.remove(&offer);
                let result = match outcome {
                    RingOutcome::Withdrawn => return,
                    RingOutcome::Refused(result) => result,
                    RingOutcome::Answered(leg) => {
                        self.answered.insert(offer, leg);
                        OfferResult::Answered
                    }
                };
                if let Err(error) = self.shell.acd.handle_offer_result(now, offer, result) {
                    debug!(%error, "offer already ended");
                    if let Some(leg) = self.answered.remove(&offer) {
                        leg.hang_up(&self.shell.endpoint).await;
                    }
                }
            }
            Command::Snapshot { reply, .. } => {
                let _ = reply.send(self.snapshot());
            }
            Command::RetryCallback { call, attempt } => {
                let caller = CallerId(self.handle.next_caller.fetch_add(1, Ordering::Relaxed));
                info!(
                    caller = caller.0,
                    attempt, "a callback goes back in the queue"
                );
                let join = Join {
                    caller,
                    queue: call.queue.clone(),
                    priority: 0,
                    waited_before: Duration::ZERO,
                    skills: Vec::new(),
                };
                // Nobody listens: the customer is not on the line.
                let (notices, _) = mpsc::unbounded_channel();
                self.callers.insert(
                    caller,
                    Waiting {
                        call: *call,
                        notices,
                        callback_attempt: attempt,
                        since_ms: crate::crm::now_ms(),
                    },
                );
                let placed = self
                    .shell
                    .acd
                    .handle_join(now, join)
                    .and_then(|()| self.shell.acd.handle_callback_request(now, caller));
                if let Err(error) = placed {
                    warn!(%error, "the callback could not go back in the queue");
                    self.callers.remove(&caller);
                }
            }
        }
    }

    /// On a cluster, keeps the waiting callers' places in the database.
    fn keep_places(&mut self) {
        if let Some(places) = &mut self.shell.places {
            places.sync(
                self.callers
                    .values()
                    .map(|w| (w.call.number.as_str(), w.call.queue.as_str(), w.since_ms)),
            );
        }
    }

    /// Carries out the core's actions and logs its events, until it has none.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.shell.acd.poll_action() {
                progressed = true;
                self.act(action).await;
            }
            while let Some(event) = self.shell.acd.poll_event() {
                progressed = true;
                self.record(event);
            }
            if !progressed {
                return;
            }
        }
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Offer {
                offer,
                caller,
                agent,
                callback,
                ..
            } => self.offer(offer, caller, agent, callback).await,
            Action::CancelOffer { offer, .. } => {
                if let Some(cancel) = self.ringing.remove(&offer) {
                    let _ = cancel.send(());
                }
                if let Some(leg) = self.answered.remove(&offer) {
                    leg.hang_up(&self.shell.endpoint).await;
                }
            }
            Action::Connect {
                offer,
                caller,
                agent,
                callback,
            } => {
                let Some(leg) = self.answered.remove(&offer) else {
                    return;
                };
                if callback {
                    self.call_back(caller, agent, leg);
                    return;
                }
                info!(caller = caller.0, agent = %agent.0, "connecting the caller to the agent");
                let notice = QueueNotice::Connect {
                    agent: agent.0.clone(),
                    leg,
                };
                // A caller whose task is gone cannot be bridged: the agent's leg ends.
                let sent = match self.callers.remove(&caller) {
                    Some(waiting) => waiting.notices.send(notice),
                    None => Err(mpsc::error::SendError(notice)),
                };
                if let Err(mpsc::error::SendError(QueueNotice::Connect { leg, .. })) = sent {
                    leg.hang_up(&self.shell.endpoint).await;
                    let _ = self.shell.acd.handle_call_ended(Instant::now(), &agent);
                }
            }
            Action::Announce {
                caller,
                position,
                estimated_wait,
                ..
            } => self.notify(
                caller,
                QueueNotice::Announce {
                    position,
                    estimated_wait,
                },
            ),
            Action::RegisterCallback { caller, .. } => {
                self.notify(caller, QueueNotice::RegisterCallback)
            }
            Action::Overflow { caller, from, to } => {
                info!(caller = caller.0, %from, %to, "caller moves to another queue")
            }
            Action::Goodbye { caller, limit, .. } => {
                info!(caller = caller.0, ?limit, "caller cannot be served");
                self.notify(caller, QueueNotice::Goodbye);
            }
        }
    }

    /// Rings the agent's phones for the caller, with the caller's context.
    async fn offer(&mut self, offer: OfferId, caller: CallerId, agent: AgentId, callback: bool) {
        let Some(waiting) = self.callers.get(&caller) else {
            let _ = self
                .shell
                .acd
                .handle_offer_result(Instant::now(), offer, OfferResult::Failed);
            return;
        };
        let call = &waiting.call;
        let targets = (self.shell.directory)(&agent.0);
        let host = self.shell.sip_address;
        let from_uri = agent_leg::caller_uri(&call.number, host)
            .or_else(|| targets.first().map(|t| t.uri.clone()));
        let Some(from_uri) = from_uri else {
            let _ = self
                .shell
                .acd
                .handle_offer_result(Instant::now(), offer, OfferResult::Failed);
            return;
        };
        let from = NameAddr {
            display_name: call.name.clone().or_else(|| Some(call.number.clone())),
            uri: from_uri,
            params: Params::default(),
        };
        let context = screen_pop(call, &agent.0, callback);
        self.seen.entry(agent.0.clone()).or_default().caller =
            Some((call.number.clone(), call.name.clone()));
        self.publish_logged(context);
        let (cancel_tx, cancel) = oneshot::channel();
        self.ringing.insert(offer, cancel_tx);
        let request = RingRequest {
            agent: agent.0.clone(),
            targets,
            from,
            headers: context_headers(call),
            endpoint: self.shell.endpoint.clone(),
            ports: self.shell.ports.clone(),
            media_ip: self.shell.media_ip,
            media_options: self.shell.media_options,
            cancel,
            auth: None,
            early_media: None,
        };
        let commands = self.handle.commands.clone();
        tokio::spawn(async move {
            let outcome = agent_leg::ring(request).await;
            let _ = commands.send(Command::Ringing(offer, outcome));
        });
    }

    /// A callback's turn came and an agent answered: with a trunk configured,
    /// hotline dials the customer and bridges them to the agent; without, the
    /// agent's screen gets the number and the phone call ends. Either way the
    /// agent's screen learns of it (`callback_due`, then how it went).
    fn call_back(&mut self, caller: CallerId, agent: AgentId, leg: Box<AgentLeg>) {
        let (call, attempt) = match self.callers.remove(&caller) {
            Some(waiting) => (Some(waiting.call), waiting.callback_attempt),
            None => (None, 1),
        };
        let number = call.as_ref().map(|c| c.number.clone()).unwrap_or_default();
        info!(caller = caller.0, agent = %agent.0, "a callback is handed to the agent");
        self.handle.events.publish(serde_json::json!({
            "event": "callback_due",
            "agent": agent.0,
            "number": number,
            "attempt": attempt,
        }));
        let endpoint = self.shell.endpoint.clone();
        let handle = self.handle.clone();
        let Some(dial) = self.shell.callback_dial.clone() else {
            tokio::spawn(async move {
                // The agent's screen shows the number; the phone call is then done.
                tokio::time::sleep(Duration::from_secs(1)).await;
                leg.hang_up(&endpoint).await;
                handle.call_ended(&agent.0);
            });
            return;
        };
        let request = CallbackRequest {
            number: number.clone(),
            dial,
            caller_id: self.shell.callback_caller_id.clone(),
            agent: leg,
            endpoint,
            ports: self.shell.ports.clone(),
            media_ip: self.shell.media_ip,
            media_options: self.shell.media_options,
            sip_address: self.shell.sip_address,
            auth: self.shell.trunk_auth.clone(),
            locator: self.shell.locator.clone(),
        };
        let retry = self.shell.callback_retry;
        tokio::spawn(async move {
            let outcome = callback::call_back(request).await;
            let again =
                matches!(outcome, CallbackOutcome::NotReached(_)) && attempt < retry.attempts;
            let result = match &outcome {
                CallbackOutcome::Talked => "talked".to_owned(),
                CallbackOutcome::AgentLeft => "agent_left".to_owned(),
                CallbackOutcome::NotReached(why) => format!("not_reached: {why}"),
            };
            handle.events.publish(serde_json::json!({
                "event": "callback_ended",
                "agent": agent.0,
                "number": number,
                "result": result,
                "attempt": attempt,
                "retry_in_seconds": again.then_some(retry.after.as_secs()),
            }));
            handle.call_ended(&agent.0);
            if let (true, Some(call)) = (again, call) {
                tokio::time::sleep(retry.after).await;
                let _ = handle.commands.send(Command::RetryCallback {
                    call: Box::new(call),
                    attempt: attempt + 1,
                });
            }
        });
    }

    fn notices(&self, caller: CallerId) -> Option<&mpsc::UnboundedSender<QueueNotice>> {
        self.callers.get(&caller).map(|w| &w.notices)
    }

    fn notify(&mut self, caller: CallerId, notice: QueueNotice) {
        let goodbye = matches!(notice, QueueNotice::Goodbye);
        if let Some(notices) = self.notices(caller) {
            let _ = notices.send(notice);
        }
        if goodbye {
            self.callers.remove(&caller);
        }
    }

    /// Appends an event to the queue log and the live stream.
    fn record(&mut self, event: Event) {
        self.shell.metrics.record(&event.kind);
        if let EventKind::Abandoned {
            caller,
            queue,
            waited_ms,
            ..
        } = &event.kind
            && let Some(waiting) = self.callers.remove(caller)
        {
            let now = Instant::now();
            let arrived = now
                .checked_sub(Duration::from_millis(*waited_ms))
                .unwrap_or(now);
            self.shell
                .kept_places
                .remember(&waiting.call.number, queue, arrived, now);
        }
        let at = self.epoch_wall + chrono::Duration::milliseconds(event.at_ms as i64);
        let mut json = serde_json::to_value(&event).unwrap_or_default();
        if let Some(object) = json.as_object_mut() {
            object.remove("at_ms");
            object.insert(
                "at".into(),
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    .into(),
            );
        }
        debug!(event = %json, "queue");
        if let EventKind::AgentStateChanged { agent, state } = &event.kind {
            let seen = self.seen.entry(agent.0.clone()).or_default();
            seen.since = at;
            if !matches!(state, AgentState::Ringing | AgentState::OnCall) {
                seen.caller = None;
            }
        }
        self.publish_logged(json);
    }

    /// Logs an event and streams it to this node's readers; on a cluster
    /// every node streams it from the log instead (`cluster::feed`), this one too.
    fn publish_logged(&self, event: serde_json::Value) {
        self.log.send(Record::queue_event(&event));
        if self.shell.places.is_none() {
            self.handle.events.publish(event);
        }
    }

    fn snapshot(&self) -> QueueSnapshot {
        let call = |caller: &CallerId| self.callers.get(caller).map(|w| &w.call);
        QueueSnapshot::of(
            &self.shell.acd,
            call,
            &self.seen,
            self.epoch_wall,
            Instant::now(),
        )
    }
}

/// The caller's context as the agent's screen shows it, for the event stream.
fn screen_pop(call: &WaitingCall, agent: &str, callback: bool) -> serde_json::Value {
    let path: Vec<String> = call.context.path.iter().map(ToString::to_string).collect();
    serde_json::json!({
        "event": "screen_pop",
        "agent": agent,
        "queue": call.queue,
        "callback": callback,
        "caller": call.number,
        "name": call.name,
        "customer": call.context.customer,
        "account": call.account,
        "language": call.context.language,
        "flow_version": call.context.flow_version,
        "path": path,
        "tickets": call.context.tickets,
    })
}

/// The caller's context in the INVITE to the agent, for softphones and CTI.
pub(crate) fn context_headers(call: &WaitingCall) -> Vec<Header> {
    let path: Vec<String> = call.context.path.iter().map(ToString::to_string).collect();
    let mut headers = vec![
        header("X-Hotline-Caller", &call.number),
        header("X-Hotline-Queue", &call.queue),
        header("X-Hotline-Language", &call.context.language),
        header("X-Hotline-Path", &path.join(" ")),
    ];
    if let Some(customer) = &call.context.customer {
        headers.push(header("X-Hotline-Customer", customer));
    }
    if let Some(account) = &call.account {
        headers.push(header("X-Hotline-Account", account));
    }
    if !call.context.tickets.is_empty() {
        headers.push(header("X-Hotline-Tickets", &call.context.tickets.join(",")));
    }
    headers
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
