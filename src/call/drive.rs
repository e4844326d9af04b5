//! The drive loop of one incoming call: it runs the [`CallCore`], reading
//! the clock for it, carrying out its commands on the legs, the CRM and the
//! queue, and feeding back what they answer.
//!
//! This is the only place a call waits on anything: the caller's leg, the
//! far leg, CRM answers, the queue's notices and the core's next deadline.
//! Lookups and tickets run on their own tasks, so a slow database never
//! stalls the call's audio or its keys.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::core::{self, CallCore, Command, End, QueueNotice as CoreNotice};
use super::leg::{Leg, LegId, LegSignal};
use super::recent::DigitRecord;
use super::sip_leg::{OutgoingLeg, SipLeg};
use super::{Caller, FlowSummary, Outcome, Services};
use crate::call::queue::{Membership, QueueNotice, WaitingCall};
use crate::crm::self_service::FlowTicket;
use crate::dtmf::DigitSource;
use crate::flow::{self, LookupFailure, TicketFailure, TicketNumber, Value, Values};
use crate::server::agent_leg::{self, RingOutcome, RingRequest};
use crate::server::endpoint::EndpointHandle;
use crate::server::media::{self, MediaOptions};
use crate::sip::message::{Header, NameAddr, Params};
use crate::sip::ua::CallId;

/// An answer to something the core asked, from the task that did it.
enum Answer {
    Lookup {
        name: String,
        result: Result<Values, LookupFailure>,
    },
    Ticket {
        kind: String,
        result: Result<TicketNumber, TicketFailure>,
    },
    Callback(Option<String>),
}

/// What woke the loop.
enum Wake {
    Caller(Option<LegSignal>),
    Far(Option<LegSignal>),
    Answer(Answer),
    Queue(Option<QueueNotice>),
    Timer,
}

/// One incoming call's shell around its core, over the caller's leg `C`
/// (any transport); the legs it places are SIP calls on `endpoint`.
pub(super) struct Drive<C: Leg> {
    pub services: Services,
    pub log: super::CallLog,
    pub caller: Caller,
    pub id: CallId,
    /// hotline's own id of the call: the call record's id, the key of its tickets.
    pub hotline_id: String,
    pub leg: C,
    /// The SIP endpoint agents and transfer targets are called on.
    pub endpoint: EndpointHandle,
    pub core: CallCore,
}

/// The rest of the loop's state: the far leg, the queue place, the answers' channel.
struct Around {
    far: Option<OutgoingLeg>,
    queue: Option<Membership>,
    /// Answers are boxed: the channel's first block holds 32 messages, kept
    /// for the whole call, and answers are few.
    answers: mpsc::UnboundedSender<Box<Answer>>,
}

impl<C: Leg> Drive<C> {
    /// Runs the call to its end; returns how it ended.
    ///
    /// An async block rather than an async fn: an async fn keeps its
    /// arguments twice in its future (once as given, once moved into its
    /// body), and this future lives in the call's task for the whole call.
    #[allow(clippy::manual_async_fn)]
    pub fn run(mut self) -> impl Future<Output = Outcome> {
        async move {
            let (answers, mut answered) = mpsc::unbounded_channel();
            let mut around = Around {
                far: None,
                queue: None,
                answers,
            };
            loop {
                while let Some(command) = self.core.poll_command() {
                    self.perform(&mut around, command).await;
                }
                if self.core.is_ended() {
                    break;
                }
                let deadline = self.core.poll_timeout();
                let wake = tokio::select! {
                    signal = self.leg.next_signal() => Wake::Caller(signal),
                    signal = far_signal(&mut around.far) => Wake::Far(signal),
                    Some(answer) = answered.recv() => Wake::Answer(*answer),
                    notice = queue_notice(&mut around.queue) => Wake::Queue(notice),
                    _ = sleep_until(deadline) => Wake::Timer,
                };
                // The one place the call reads the clock.
                let now = Instant::now();
                match wake {
                    Wake::Caller(signal) => {
                        let signal = signal.unwrap_or(LegSignal::Ended {
                            reason: "endpoint stopped".into(),
                        });
                        if signal == LegSignal::Answered
                            && let Some(codec) = self.leg.codec()
                        {
                            self.services.0.recent.update(&self.id.0, |record| {
                                record.codec = Some(codec.to_owned());
                            });
                        }
                        self.core.handle_leg(now, LegId::Caller, signal);
                    }
                    Wake::Far(Some(signal)) => self.core.handle_leg(now, LegId::Far, signal),
                    Wake::Far(None) => {
                        around.far = None;
                        let ended = LegSignal::Ended {
                            reason: "gone".into(),
                        };
                        self.core.handle_leg(now, LegId::Far, ended);
                    }
                    Wake::Answer(Answer::Lookup { name, result }) => {
                        self.core.handle_lookup_result(now, &name, result)
                    }
                    Wake::Answer(Answer::Ticket { kind, result }) => {
                        self.core.handle_ticket_result(now, &kind, result)
                    }
                    Wake::Answer(Answer::Callback(number)) => {
                        self.core.handle_callback_registered(now, number)
                    }
                    Wake::Queue(notice) => self.queue_notice(now, &mut around, notice),
                    Wake::Timer => self.core.handle_timeout(now),
                }
            }
            self.leg.close_media().await;
            if let Some(far) = around.far.take() {
                far.finish().await;
            }
            let flow = self.core.flow_call().map(summary);
            match self.core.end() {
                Some(End::Cancelled) => Outcome::Cancelled,
                Some(End::Ended { reason }) => Outcome::Ended {
                    reason: reason.clone(),
                    flow,
                },
                None => Outcome::ended("ended"),
            }
        }
    }

    fn queue_notice(&mut self, now: Instant, around: &mut Around, notice: Option<QueueNotice>) {
        let notice = match notice {
            Some(QueueNotice::Announce {
                position,
                estimated_wait,
            }) => CoreNotice::Announce {
                position,
                estimated_wait,
            },
            Some(QueueNotice::Connect { agent, leg }) => {
                let prompts = Some(Arc::clone(&self.services.0.prompts));
                let endpoint = self.endpoint.clone();
                let leg = SipLeg::answered(*leg, endpoint.clone(), prompts.clone());
                around.far = Some(OutgoingLeg::connected(leg, endpoint, prompts));
                around.queue = None;
                CoreNotice::Connect { agent }
            }
            Some(QueueNotice::RegisterCallback) => CoreNotice::RegisterCallback,
            Some(QueueNotice::Goodbye) | None => {
                around.queue = None;
                CoreNotice::Goodbye
            }
        };
        self.core.handle_queue(now, notice);
    }

    /// Carries out one command of the core.
    async fn perform(&mut self, around: &mut Around, command: Command) {
        match command {
            Command::Leg(LegId::Caller, command) => self.leg.command(command).await,
            Command::Leg(LegId::Far, command) => {
                if let Some(far) = &mut around.far {
                    far.command(command).await;
                }
            }
            Command::Bridge => {
                if let (Some(caller), Some(far)) =
                    (self.leg.media(), around.far.as_ref().and_then(Leg::media))
                {
                    media::bridge(caller, far).await;
                    info!("caller bridged");
                }
            }
            Command::FlowStarted { version } => {
                info!(flow = %version, "flow started");
                self.log.flow(version);
            }
            Command::Lookup {
                name,
                params,
                limit,
            } => {
                let services = self.services.clone();
                let answers = around.answers.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let result = services.0.crm.lookup(&name, &params, limit).await;
                    services.metrics().lookup_took("flow", started.elapsed());
                    let _ = answers.send(Box::new(Answer::Lookup { name, result }));
                });
            }
            Command::RegisterTicket {
                kind,
                fields,
                customer,
                phone,
                limit,
            } => {
                let services = self.services.clone();
                let answers = around.answers.clone();
                let call_id = self.hotline_id.clone();
                tokio::spawn(async move {
                    let request = FlowTicket {
                        kind: &kind,
                        fields: &fields,
                        customer: customer.as_deref(),
                        phone: &phone,
                    };
                    let types = &services.config().tickets.types;
                    let registered = services
                        .0
                        .crm
                        .register_ticket(&call_id, request, types, limit);
                    let result = tokio::time::timeout(limit, registered)
                        .await
                        .unwrap_or_else(|_| {
                            Err(TicketFailure::Unavailable(
                                "the database is too slow".into(),
                            ))
                        });
                    let _ = answers.send(Box::new(Answer::Ticket { kind, result }));
                });
            }
            Command::JoinQueue {
                queue,
                priority,
                skills,
                context,
                waited,
            } => {
                info!(queue = %queue, "caller waits for an agent");
                let call = WaitingCall {
                    number: self.caller.number.clone(),
                    name: self.caller.customer.as_ref().map(|c| c.name.clone()),
                    account: self
                        .caller
                        .customer
                        .as_ref()
                        .map(|c| c.account_number.clone()),
                    context,
                    queue,
                };
                if let Some(uri) = self.services.hand_over_uri() {
                    info!(%uri, "the ACD runs on another node: handing the caller over");
                    let mut headers = super::hand_over::headers(&call, priority, &skills, waited);
                    self.services.sign_hand_over(&mut headers);
                    self.core.handle_handed_over(Instant::now());
                    around.far = Some(self.dial(uri, headers));
                    return;
                }
                let queue = self.services.queue();
                around.queue = Some(queue.join(call, priority, skills, waited));
            }
            Command::LeaveQueue => {
                if let Some(membership) = around.queue.take() {
                    self.services.queue().hang_up(membership.caller);
                }
            }
            Command::RequestCallback => {
                if let Some(membership) = &around.queue {
                    info!("caller asks to be called back");
                    self.services.queue().request_callback(membership.caller);
                }
            }
            Command::RegisterCallback => {
                around.queue = None;
                self.register_callback(around.answers.clone());
            }
            Command::AgentCallEnded { agent } => self.services.queue().call_ended(&agent),
            Command::Dial { uri } => {
                info!(%uri, "transferring the caller");
                let headers = vec![Header {
                    name: "X-Hotline-Caller".into(),
                    value: self.caller.number.clone(),
                }];
                around.far = Some(self.dial(uri, headers));
            }
            Command::Event { kind, detail } => {
                info!(%kind, %detail, "call event");
                self.log.event(kind, detail);
            }
            Command::Digit { digit, source, at } => {
                info!(%digit, ?source, "digit");
                let record = DigitRecord {
                    digit,
                    source: match source {
                        DigitSource::Rfc4733 => "rfc4733",
                        DigitSource::SipInfo => "sip_info",
                        DigitSource::InBand => "in_band",
                    },
                    at_ms: at.as_millis() as u64,
                };
                self.log
                    .event("digit", format!("{} {}", record.digit, record.source));
                self.services
                    .0
                    .recent
                    .update(&self.id.0, |r| r.digits.push(record));
            }
        }
    }

    /// Registers the callback ticket the caller's kept place stands for, off the call's path.
    fn register_callback(&self, answers: mpsc::UnboundedSender<Box<Answer>>) {
        let services = self.services.clone();
        let caller = self.caller.clone();
        let call_id = self.hotline_id.clone();
        tokio::spawn(async move {
            let fields: Values = [(
                "callback_number".to_owned(),
                Value::Text(caller.number.clone()),
            )]
            .into();
            let request = FlowTicket {
                kind: "callback",
                fields: &fields,
                customer: caller.customer.as_ref().map(|c| c.id.as_str()),
                phone: &caller.number,
            };
            let types = &services.config().tickets.types;
            let registered = services.db().register_flow_ticket(&call_id, request, types);
            let number = match tokio::time::timeout(core::CALLBACK_LIMIT, registered).await {
                Ok(Ok(TicketNumber(number))) => {
                    info!(ticket = %number, "callback registered");
                    Some(number)
                }
                other => {
                    warn!(?other, "callback ticket not registered");
                    None
                }
            };
            let _ = answers.send(Box::new(Answer::Callback(number)));
        });
    }

    /// Rings the transfer target `uri` as the far leg, with `headers`.
    fn dial(&self, uri: String, headers: Vec<Header>) -> OutgoingLeg {
        let (cancel, cancelled) = oneshot::channel();
        let (early_tx, early) = mpsc::unbounded_channel();
        let services = self.services.clone();
        let endpoint = self.endpoint.clone();
        let number = self.caller.number.clone();
        let ring_endpoint = endpoint.clone();
        let ringing = async move {
            let Some(target) = services.locator().locate(&uri).await else {
                warn!(%uri, "transfer target cannot be reached");
                return RingOutcome::Refused(crate::queue::OfferResult::Failed);
            };
            let config = services.config();
            let from = NameAddr {
                display_name: None,
                uri: agent_leg::caller_uri(&number, services.sip_address())
                    .unwrap_or_else(|| target.uri.clone()),
                params: Params::default(),
            };
            agent_leg::ring(RingRequest {
                agent: uri.clone(),
                targets: vec![target],
                from,
                headers,
                endpoint: ring_endpoint,
                ports: services.0.ports.clone(),
                media_ip: services.0.media_ip,
                media_options: MediaOptions::from(&config.media),
                cancel: cancelled,
                auth: config.trunk.credentials(),
                early_media: Some(early_tx),
            })
            .await
        };
        let prompts = Some(Arc::clone(&self.services.0.prompts));
        OutgoingLeg::new(Box::pin(ringing), cancel, early, endpoint, prompts)
    }
}

/// The flow's version, outcome and path, for the call record.
fn summary(call: &flow::Call) -> FlowSummary {
    let path: Vec<String> = call.path().iter().map(ToString::to_string).collect();
    FlowSummary {
        version: call.flow().version().0.clone(),
        outcome: call.outcome(),
        path: path.join(" "),
    }
}

async fn far_signal(far: &mut Option<OutgoingLeg>) -> Option<LegSignal> {
    match far {
        Some(far) => far.next_signal().await,
        None => std::future::pending().await,
    }
}

async fn queue_notice(queue: &mut Option<Membership>) -> Option<QueueNotice> {
    match queue {
        Some(membership) => membership.notices.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
