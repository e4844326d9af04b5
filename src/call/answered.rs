//! An answered call: media running, digits collected, the flow driving it.
//!
//! The flow interpreter is a sans-IO core; this task is its shell for a SIP
//! call. It feeds the interpreter digits, finished playbacks, timeouts and CRM
//! answers, and carries out what it asks: prompts to the media, lookups
//! and tickets to the database (on their own tasks, so a slow database never
//! stalls the call), hang-up to the endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::recent::DigitRecord;
use super::{Caller, FlowSummary, Outcome, Services};
use crate::crm::self_service::FlowTicket;
use crate::dtmf::{DigitEvent, DigitSource, DigitStream};
use crate::flow::{
    self, Action, CallContext, LookupFailure, PlayId, TicketFailure, TicketNumber, Values,
};
use crate::server::endpoint::{CallSignal, EndpointCommand, EndpointHandle};
use crate::server::media::{self, MediaCommand, MediaEvent, MediaHandle, MediaOptions};
use crate::sip::sdp::{Negotiated, SdpSession};
use crate::sip::ua::CallId;

/// The longest a CRM query of a call may run; a flow's own timeout is usually shorter.
const CRM_LIMIT: Duration = Duration::from_secs(10);

/// How a key of a secret collect is logged and recorded, one per key.
const SECRET_KEY: char = '•';

pub(super) struct Answered {
    pub services: Services,
    pub log: super::CallLog,
    pub caller: Caller,
    pub flow: Arc<flow::Flow>,
    pub id: CallId,
    /// hotline's own id of the call: the call record's id, the key of its tickets.
    pub hotline_id: String,
    pub signals: mpsc::Receiver<CallSignal>,
    pub endpoint: EndpointHandle,
    pub sdp: SdpSession,
    pub socket: Option<UdpSocket>,
    pub negotiated: Option<Negotiated>,
}

/// The media of the call, once it runs.
pub(super) struct Media {
    pub handle: MediaHandle,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
}

/// A CRM answer for the flow, from the task that ran the query.
enum CrmAnswer {
    Lookup {
        name: String,
        result: Result<Values, LookupFailure>,
    },
    Ticket {
        kind: String,
        result: Result<TicketNumber, TicketFailure>,
    },
}

/// What happens next, from whichever source spoke first.
enum Step {
    Signal(Option<CallSignal>),
    Media(Option<MediaEvent>),
    Crm(CrmAnswer),
    FlowTimeout,
    TimeLimit,
}

/// The call's state while answered.
pub(super) struct Running {
    pub media: Option<Media>,
    pub call: Option<flow::Call>,
    pub digits: DigitStream,
    /// We sent BYE; the call ends when the endpoint says so.
    pub hung_up: bool,
    pub answered_at: Instant,
    /// When the maximum call duration is reached, wherever the call is then
    /// (flow, queue, bridged to an agent).
    pub hangup_at: Instant,
    crm: mpsc::UnboundedSender<CrmAnswer>,
    /// The flow handed the call to a queue.
    enqueue: Option<super::waiting::Enqueue>,
    /// The flow transfers the call to this SIP URI.
    transfer: Option<String>,
}

impl Answered {
    pub async fn run(mut self) -> Outcome {
        let limit = Duration::from_secs(self.services.config().sip.max_call_seconds);
        let (crm, mut answers) = mpsc::unbounded_channel();
        let mut state = Running {
            media: None,
            call: None,
            digits: DigitStream::new(),
            hung_up: false,
            answered_at: Instant::now(),
            hangup_at: Instant::now() + limit,
            crm,
            enqueue: None,
            transfer: None,
        };
        // With an early offer, media and the flow start at once: the first
        // packet of the greeting leaves within one ptime of the answer.
        if let Some(negotiated) = self.negotiated {
            self.start(&mut state, negotiated).await;
        }
        let reason = loop {
            let deadline = state.call.as_ref().and_then(flow::Call::poll_timeout);
            let step = tokio::select! {
                signal = self.signals.recv() => Step::Signal(signal),
                event = next_media_event(&mut state.media) => Step::Media(event),
                Some(answer) = answers.recv() => Step::Crm(answer),
                _ = sleep_until(deadline) => Step::FlowTimeout,
                _ = tokio::time::sleep_until(state.hangup_at.into()), if !state.hung_up => Step::TimeLimit,
            };
            let now = Instant::now();
            match step {
                Step::TimeLimit => self.time_limit_reached(&mut state).await,
                Step::Signal(None) => break "endpoint stopped".to_owned(),
                Step::Signal(Some(signal)) => match signal {
                    CallSignal::Confirmed { sdp_in_ack } => {
                        if let Some(answer) = sdp_in_ack {
                            match self.sdp.accept_answer(&answer) {
                                Ok(agreed) => self.negotiated = Some(agreed),
                                Err(error) => warn!(%error, "unusable SDP answer in ACK"),
                            }
                        }
                        if state.media.is_none()
                            && let Some(negotiated) = self.negotiated
                        {
                            self.start(&mut state, negotiated).await;
                        }
                    }
                    CallSignal::ReOffer { sdp } => self.reoffer(sdp, state.media.as_ref()).await,
                    CallSignal::Info { content_type, body } => {
                        match crate::dtmf::info::parse_info_body(&content_type, &body) {
                            Ok(digit) => state.digits.push(DigitEvent {
                                digit,
                                at: now,
                                source: DigitSource::SipInfo,
                            }),
                            Err(error) => debug!(%error, "INFO without a digit"),
                        }
                    }
                    CallSignal::Cancelled => return Outcome::Cancelled,
                    CallSignal::Ended { reason } => break reason,
                    // Only calls hotline places get these; this one came in.
                    CallSignal::Progress { .. }
                    | CallSignal::Answered { .. }
                    | CallSignal::Failed { .. } => {}
                },
                Step::Media(Some(MediaEvent::Digit(event))) => state.digits.push(event),
                Step::Media(Some(MediaEvent::Stats(stats))) => debug!(?stats, "media stats"),
                Step::Media(Some(MediaEvent::BridgeEnded)) => debug!("media bridge ended"),
                Step::Media(Some(MediaEvent::RtpTimeout { silent_for })) => {
                    self.caller_went_silent(&mut state, silent_for).await;
                }
                Step::Media(Some(MediaEvent::PlaybackFinished { id, .. })) => {
                    if let Some(call) = &mut state.call {
                        call.handle_playback_finished(now, PlayId(id));
                    }
                }
                Step::Media(None) => state.media = None,
                Step::Crm(answer) => self.crm_answered(&mut state, now, answer),
                Step::FlowTimeout => {
                    if let Some(call) = &mut state.call {
                        call.handle_timeout(now);
                    }
                }
            }
            while let Some(event) = state.digits.poll() {
                // Checked before the key is handled: the last key of a PIN ends its collect.
                let secret = state.call.as_ref().is_some_and(flow::Call::collects_secret);
                self.record_key(event, state.answered_at, secret);
                if let Some(call) = &mut state.call {
                    call.handle_digit(event.at.max(now), event.digit);
                }
            }
            self.perform_actions(&mut state).await;
            if let Some(enqueue) = state.enqueue.take() {
                break self.wait_for_agent(&mut state, enqueue).await;
            }
            if let Some(uri) = state.transfer.take() {
                break self.transfer(&mut state, uri).await;
            }
        };
        if let Some(media) = state.media.take() {
            media.handle.send(MediaCommand::Shutdown).await;
        }
        let flow = state.call.as_mut().map(|call| {
            call.handle_hangup(Instant::now());
            summary(call)
        });
        Outcome::Ended { reason, flow }
    }

    /// Starts media on the negotiated session, then the flow.
    async fn start(&mut self, state: &mut Running, negotiated: Negotiated) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        self.services.0.recent.update(&self.id.0, |record| {
            record.codec = Some(negotiated.codec.encoding_name().to_owned());
        });
        let options = MediaOptions::from(&self.services.config().media);
        match media::spawn(socket, negotiated, options) {
            Ok((handle, events)) => state.media = Some(Media { handle, events }),
            Err(error) => {
                warn!(%error, "media could not start; ending the call");
                self.hang_up(state).await;
                return;
            }
        }
        let ctx = CallContext {
            caller: self.caller.number.clone(),
            customer: self.caller.customer.as_ref().map(|c| c.id.clone()),
            language: self.caller.customer.as_ref().map(|c| c.language.clone()),
            now_utc: chrono::Utc::now(),
            split_roll: rand::rng().random_range(0..100),
        };
        let version = self.flow.version().0.clone();
        info!(flow = %version, "flow started");
        self.log.flow(version);
        state.call = Some(flow::Call::start(
            Arc::clone(&self.flow),
            ctx,
            Instant::now(),
        ));
        self.perform_actions(state).await;
    }

    /// Carries out everything the flow asks, until it asks nothing more.
    async fn perform_actions(&mut self, state: &mut Running) {
        loop {
            let Some(action) = state.call.as_mut().and_then(flow::Call::poll_action) else {
                return;
            };
            self.perform(state, action).await;
        }
    }

    async fn perform(&mut self, state: &mut Running, action: Action) {
        match action {
            Action::Play {
                id,
                prompts,
                barge_in,
            } => {
                let audio = super::prompts::resolve(&self.services.0.prompts, &prompts);
                let sent = match (&state.media, audio.is_empty()) {
                    (Some(media), false) => {
                        let play = MediaCommand::Play {
                            id: id.0,
                            prompts: audio,
                            barge_in,
                            looping: false,
                        };
                        media.handle.send(play).await
                    }
                    _ => false,
                };
                // Nothing to hear: the flow must not wait for a playback that never ends.
                if !sent && let Some(call) = &mut state.call {
                    call.handle_playback_finished(Instant::now(), id);
                }
            }
            Action::StopPlayback { .. } => {
                if let Some(media) = &state.media {
                    media.handle.send(MediaCommand::Stop).await;
                }
            }
            Action::Lookup { name, params } => {
                let services = self.services.clone();
                let answers = state.crm.clone();
                let limit = flow_limit(state);
                tokio::spawn(async move {
                    let started = Instant::now();
                    let result = services.0.crm.lookup(&name, &params, limit).await;
                    services.metrics().lookup_took("flow", started.elapsed());
                    let _ = answers.send(CrmAnswer::Lookup { name, result });
                });
            }
            Action::RegisterTicket {
                kind,
                fields,
                customer,
                phone,
            } => {
                let services = self.services.clone();
                let answers = state.crm.clone();
                let call_id = self.hotline_id.clone();
                let limit = flow_limit(state);
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
                    let _ = answers.send(CrmAnswer::Ticket { kind, result });
                });
            }
            Action::Enqueue {
                queue,
                priority,
                skills,
                context,
            } => {
                state.enqueue = Some(super::waiting::Enqueue {
                    queue,
                    priority,
                    skills,
                    context,
                });
            }
            Action::Transfer { uri } => state.transfer = Some(uri),
            Action::Hangup { reason } => {
                info!(?reason, "the flow hangs up");
                self.hang_up(state).await;
            }
        }
    }

    fn crm_answered(&self, state: &mut Running, now: Instant, answer: CrmAnswer) {
        let Some(call) = &mut state.call else { return };
        match answer {
            CrmAnswer::Lookup { name, result } => {
                let detail = match &result {
                    Ok(_) => format!("{name} found"),
                    Err(LookupFailure::NotFound) => format!("{name} not found"),
                    Err(LookupFailure::Unavailable(why)) => format!("{name} failed: {why}"),
                };
                info!(lookup = %detail);
                self.log.event("lookup", detail);
                call.handle_lookup_result(now, result);
            }
            CrmAnswer::Ticket { kind, result } => {
                let detail = match &result {
                    Ok(TicketNumber(number)) => format!("{kind} {number}"),
                    Err(TicketFailure::Rejected { code }) => format!("{kind} refused: {code}"),
                    Err(TicketFailure::Unavailable(why)) => format!("{kind} failed: {why}"),
                };
                info!(ticket = %detail);
                self.log.event("ticket", detail);
                call.handle_ticket_result(now, result);
            }
        }
    }

    /// Sends BYE once; the call ends when the endpoint reports it.
    pub(super) async fn hang_up(&self, state: &mut Running) {
        if std::mem::replace(&mut state.hung_up, true) {
            return;
        }
        self.endpoint
            .send(EndpointCommand::Hangup(self.id.clone()))
            .await;
    }

    /// Ends a call that reached the maximum call duration.
    pub(super) async fn time_limit_reached(&self, state: &mut Running) {
        let seconds = self.services.config().sip.max_call_seconds;
        info!(seconds, "maximum call duration reached; hanging up");
        self.log
            .event("limit", format!("maximum call duration {seconds} s"));
        self.hang_up(state).await;
    }

    /// Ends a call whose phone has sent nothing for the RTP timeout: it is
    /// gone without a BYE, and must not hold its line, place or agent.
    pub(super) async fn caller_went_silent(&self, state: &mut Running, silent_for: Duration) {
        let seconds = silent_for.as_secs();
        info!(seconds, "no RTP or RTCP from the caller; hanging up");
        self.log
            .event("media", format!("caller silent for {seconds} s"));
        self.hang_up(state).await;
    }

    pub(super) async fn reoffer(&mut self, offer: Vec<u8>, media: Option<&Media>) {
        let body = media::answer_reoffer(&mut self.sdp, &offer, media.map(|m| &m.handle)).await;
        self.endpoint
            .send(EndpointCommand::AnswerReoffer(self.id.clone(), body))
            .await;
    }

    pub(super) fn record_digit(&self, event: DigitEvent, answered_at: Instant) {
        self.record_key(event, answered_at, false);
    }

    /// Logs and records a key pressed; a `secret` one (a PIN) only as a placeholder.
    fn record_key(&self, event: DigitEvent, answered_at: Instant, secret: bool) {
        let digit = match secret {
            true => SECRET_KEY,
            false => event.digit,
        };
        info!(%digit, source = ?event.source, "digit");
        let record = DigitRecord {
            digit,
            source: match event.source {
                DigitSource::Rfc4733 => "rfc4733",
                DigitSource::SipInfo => "sip_info",
                DigitSource::InBand => "in_band",
            },
            at_ms: event.at.saturating_duration_since(answered_at).as_millis() as u64,
        };
        self.log
            .event("digit", format!("{} {}", record.digit, record.source));
        self.services
            .0
            .recent
            .update(&self.id.0, |r| r.digits.push(record));
    }
}

/// How long the query the flow just asked for may run: until the flow's own
/// deadline for it (the lookup's or ticket's `timeout`), so the query ends when
/// the flow moves on to its fallback whatever the pool is doing; never past
/// `CRM_LIMIT`.
fn flow_limit(state: &Running) -> Duration {
    let deadline = state.call.as_ref().and_then(flow::Call::poll_timeout);
    query_limit(deadline, Instant::now())
}

/// The time left until the flow's `deadline`, at most `CRM_LIMIT`.
fn query_limit(deadline: Option<Instant>, now: Instant) -> Duration {
    deadline
        .map_or(CRM_LIMIT, |deadline| {
            deadline.saturating_duration_since(now)
        })
        .min(CRM_LIMIT)
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

async fn next_media_event(media: &mut Option<Media>) -> Option<MediaEvent> {
    match media {
        Some(m) => m.events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_ends_at_the_flows_deadline_and_never_after_the_crm_limit() {
        let now = Instant::now();
        let three = Duration::from_secs(3);
        assert_eq!(query_limit(Some(now + three), now), three);
        assert_eq!(
            query_limit(Some(now + three), now + three * 2),
            Duration::ZERO
        );
        assert_eq!(query_limit(Some(now + CRM_LIMIT * 3), now), CRM_LIMIT);
        assert_eq!(query_limit(None, now), CRM_LIMIT);
    }
}
