//! The call core: one incoming call from ringing to its end, as a sans-IO value.
//!
//! It takes the legs' signals ([`LegSignal`]), the answers to what it asked
//! (CRM lookups, tickets, the queue's notices) and timer expiries, each with
//! `now`, and gives back [`Command`]s through [`CallCore::poll_command`] and
//! its next deadline through [`CallCore::poll_timeout`]. It reads no clock
//! and does no I/O; one drive loop per call (`drive.rs`) runs it, and the
//! tests below run whole calls on a virtual clock.
//!
//! Phases: [`Phase::Ringing`] until the answer delay is over, `Answering`
//! until the caller's media runs, `InFlow` while the flow interpreter
//! leads, then `Waiting` in a queue, `Bridged` to an agent or transfer
//! target, `Transferring` while the target rings, and `Farewell` for a last
//! message. Hang-up, re-offers, the RTP timeout and the maximum call
//! duration are handled once here, for every phase. While bridged, a party
//! that holds leaves the other hearing the music on hold until it resumes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::hand_over::HandedOver;
use super::leg::{LegCommand, LegId, LegSignal};
use crate::dtmf::{DigitEvent, DigitSource, DigitStream};
use crate::flow::{
    self, Action, AgentContext, CallContext, LookupFailure, PlayId, Prompt, TicketFailure,
    TicketNumber, Values,
};
use crate::say::Sayable;

/// Play ids of the core's own prompts, apart from the flow's (which count up from 1).
pub const MUSIC: u64 = u64::MAX - 1;
/// The queue's position announcement.
pub const ANNOUNCEMENT: u64 = u64::MAX - 2;
/// The last message before hanging up.
pub const FAREWELL: u64 = u64::MAX - 3;

/// How long a farewell may take before the call is ended anyway.
const FAREWELL_LIMIT: Duration = Duration::from_secs(30);

/// How long a transfer target may ring before the caller is told it did not answer.
const TRANSFER_RING_LIMIT: Duration = Duration::from_secs(30);

/// The longest a CRM query of a call may run; a flow's own timeout is usually shorter.
const CRM_LIMIT: Duration = Duration::from_secs(10);

/// How long a caller who asked for a callback waits for its ticket before
/// hearing that all agents are busy.
pub const CALLBACK_LIMIT: Duration = Duration::from_secs(3);

/// How a key of a secret collect is logged and recorded, one per key.
const SECRET_KEY: char = '•';

/// What the core needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the caller hears ringing before the answer.
    pub answer_delay: Duration,
    /// The maximum call duration, from the answer, wherever the call is then.
    pub max_duration: Duration,
    /// The key a waiting caller presses to be called back instead.
    pub callback_key: Option<char>,
    /// The music on hold prompt.
    pub music: String,
    /// The language of the queue's prompts when the flow chose none.
    pub default_language: String,
}

/// Where the call is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// The caller hears ringing until `until`.
    Ringing { until: Instant },
    /// Answered; waiting for the caller's media to run (SIP: the ACK).
    Answering,
    /// The flow interpreter leads the call.
    InFlow,
    /// Waiting in a queue for an agent.
    Waiting { language: String },
    /// Talking to the far leg (`agent` when it came from a queue).
    Bridged { agent: Option<String> },
    /// The transfer target rings until `until`, then it is cancelled
    /// (`None` once it was).
    Transferring {
        language: String,
        until: Option<Instant>,
        early_media: bool,
    },
    /// A last message plays; the caller is hung up when it ends or at `until`.
    Farewell { until: Instant },
    /// The call is over.
    Ended,
}

/// What the core asks the drive loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A command for one of the legs.
    Leg(LegId, LegCommand),
    /// Connect the caller's and the far leg's audio.
    Bridge,
    /// The flow starts: record its version.
    FlowStarted { version: String },
    /// Run a CRM lookup off the call's path, at most `limit`; answer with
    /// [`CallCore::handle_lookup_result`].
    Lookup {
        name: String,
        params: Values,
        limit: Duration,
    },
    /// Register a ticket off the call's path, at most `limit`; answer with
    /// [`CallCore::handle_ticket_result`].
    RegisterTicket {
        kind: String,
        fields: Values,
        customer: Option<String>,
        phone: String,
        limit: Duration,
    },
    /// Put the caller in a queue; its notices go to [`CallCore::handle_queue`].
    JoinQueue {
        queue: String,
        priority: i32,
        skills: Vec<String>,
        context: AgentContext,
        /// How long the caller has been on the line already.
        waited: Duration,
    },
    /// The caller left the queue (hung up while waiting).
    LeaveQueue,
    /// The caller pressed the callback key.
    RequestCallback,
    /// Register the callback ticket the caller's kept place stands for,
    /// within [`CALLBACK_LIMIT`]; answer with [`CallCore::handle_callback_registered`].
    RegisterCallback,
    /// The agent's call with this caller is over (for the queue's wrap-up).
    AgentCallEnded { agent: String },
    /// Ring this URI as the far leg; its signals come as [`LegId::Far`].
    Dial { uri: String },
    /// A call event for the record (`kind`: digit, lookup, ticket, queue, ...).
    Event { kind: &'static str, detail: String },
    /// A key the caller pressed, for the call record (secret keys masked).
    Digit {
        digit: char,
        source: DigitSource,
        at: Duration,
    },
}

/// A queue's notice to a waiting caller, without the agent's leg (the drive loop keeps it).
#[derive(Debug, Clone, PartialEq)]
pub enum QueueNotice {
    /// Tell the caller their place and, when known well enough, the wait ahead.
    Announce {
        position: usize,
        estimated_wait: Option<Duration>,
    },
    /// An agent answered; the drive loop holds the agent's leg as [`LegId::Far`].
    Connect { agent: String },
    /// Register a callback ticket, confirm and hang up.
    RegisterCallback,
    /// The caller cannot be served: say goodbye and hang up.
    Goodbye,
}

/// How the call ended, once [`CallCore::is_ended`].
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The caller cancelled before the answer.
    Cancelled,
    /// The call ended, with the reason the caller's leg gave.
    Ended { reason: String },
}

/// One incoming call, from ringing to its end.
pub struct CallCore {
    settings: Settings,
    phase: Phase,
    flow: Arc<flow::Flow>,
    context: Option<CallContext>,
    call: Option<flow::Call>,
    digits: DigitStream,
    commands: VecDeque<Command>,
    answered_at: Option<Instant>,
    /// We hung the caller up; the call ends when the leg says so.
    hung_up: bool,
    /// Whether a far leg exists (ringing or bridged) and has not ended.
    far: bool,
    /// The caller's media reported it is gone: no more commands for it.
    end: Option<End>,
    /// A caller another node handed over: queued at the answer, no flow.
    handed_over: Option<HandedOver>,
    /// Which parties of the bridge hold the call (and so leave the other on music).
    held: Held,
}

/// Who holds a bridged call.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    caller: bool,
    far: bool,
}

impl CallCore {
    /// A new call: the caller hears ringing for the answer delay, then the
    /// flow in `context` runs.
    pub fn new(
        now: Instant,
        settings: Settings,
        flow: Arc<flow::Flow>,
        context: CallContext,
    ) -> CallCore {
        let until = now + settings.answer_delay;
        let mut core = CallCore {
            settings,
            phase: Phase::Ringing { until },
            flow,
            context: Some(context),
            call: None,
            digits: DigitStream::new(),
            commands: VecDeque::new(),
            answered_at: None,
            hung_up: false,
            far: false,
            end: None,
            handed_over: None,
            held: Held::default(),
        };
        core.caller(LegCommand::Ring);
        core
    }

    /// A caller another node's flow put in a queue: once answered, they
    /// wait in that queue here instead of running the flow.
    pub fn handed_over(mut self, handed: HandedOver) -> CallCore {
        self.handed_over = Some(handed);
        self
    }

    /// The queue runs on another node: the caller waits, hearing the music,
    /// until the internal call there is answered, as for a transfer (the
    /// drive loop places it as the far leg).
    pub fn handle_handed_over(&mut self, now: Instant) {
        let Phase::Waiting { language } = self.phase.clone() else {
            return;
        };
        self.event("queue", "handed over to the ACD's node".into());
        self.far = true;
        self.phase = Phase::Transferring {
            language,
            until: Some(now + TRANSFER_RING_LIMIT),
            early_media: false,
        };
    }

    /// The next command; poll until `None` after every input.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`CallCore::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match &self.phase {
            Phase::Ringing { until } => Some(*until),
            Phase::InFlow => self.call.as_ref().and_then(flow::Call::poll_timeout),
            Phase::Transferring { until, .. } if self.far => *until,
            Phase::Farewell { until } if !self.hung_up => Some(*until),
            _ => None,
        };
        let limit = self.hangup_at().filter(|_| !self.hung_up);
        [phase, limit].into_iter().flatten().min()
    }

    /// The phase the call is in.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether the call is over; then [`CallCore::end`] says how.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// How the call ended.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// The flow the call ran, once it started one.
    pub fn flow_call(&self) -> Option<&flow::Call> {
        self.call.as_ref()
    }

    /// Timers: the answer delay, the flow's deadlines, the transfer's ring
    /// limit, the farewell's limit, the maximum call duration.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.hangup_at().is_some_and(|at| now >= at)
            && !self.hung_up
            && self.phase != Phase::Ended
        {
            let seconds = self.settings.max_duration.as_secs();
            self.event("limit", format!("maximum call duration {seconds} s"));
            self.hang_up_caller();
        }
        match self.phase.clone() {
            Phase::Ringing { until } if now >= until => {
                self.phase = Phase::Answering;
                self.caller(LegCommand::Answer);
            }
            Phase::InFlow => {
                if let Some(call) = &mut self.call {
                    call.handle_timeout(now);
                }
                self.run_flow(now);
            }
            Phase::Transferring {
                until: Some(until), ..
            } if now >= until && self.far => {
                // Cancelled: the far leg reports Refused, and the caller hears the farewell.
                if let Phase::Transferring { until, .. } = &mut self.phase {
                    *until = None;
                }
                self.far_command(LegCommand::HangUp);
            }
            Phase::Farewell { until } if now >= until => self.hang_up_caller(),
            _ => {}
        }
    }

    /// A signal of one of the legs.
    pub fn handle_leg(&mut self, now: Instant, leg: LegId, signal: LegSignal) {
        match leg {
            LegId::Caller => self.handle_caller(now, signal),
            LegId::Far => self.handle_far(now, signal),
        }
        self.take_digits(now);
        if self.phase == Phase::InFlow {
            self.run_flow(now);
        }
    }

    /// The answer to a [`Command::Lookup`].
    pub fn handle_lookup_result(
        &mut self,
        now: Instant,
        name: &str,
        result: Result<Values, LookupFailure>,
    ) {
        let detail = match &result {
            Ok(_) => format!("{name} found"),
            Err(LookupFailure::NotFound) => format!("{name} not found"),
            Err(LookupFailure::Unavailable(why)) => format!("{name} failed: {why}"),
        };
        self.event("lookup", detail);
        if self.phase == Phase::InFlow
            && let Some(call) = &mut self.call
        {
            call.handle_lookup_result(now, result);
            self.run_flow(now);
        }
    }

    /// The answer to a [`Command::RegisterTicket`].
    pub fn handle_ticket_result(
        &mut self,
        now: Instant,
        kind: &str,
        result: Result<TicketNumber, TicketFailure>,
    ) {
        let detail = match &result {
            Ok(TicketNumber(number)) => format!("{kind} {number}"),
            Err(TicketFailure::Rejected { code }) => format!("{kind} refused: {code}"),
            Err(TicketFailure::Unavailable(why)) => format!("{kind} failed: {why}"),
        };
        self.event("ticket", detail);
        if self.phase == Phase::InFlow
            && let Some(call) = &mut self.call
        {
            call.handle_ticket_result(now, result);
            self.run_flow(now);
        }
    }

    /// A notice of the queue the caller waits in.
    pub fn handle_queue(&mut self, now: Instant, notice: QueueNotice) {
        let Phase::Waiting { language } = self.phase.clone() else {
            // An agent connected to a call that left the queue: give the agent back.
            if let QueueNotice::Connect { agent } = notice {
                self.commands
                    .push_back(Command::Leg(LegId::Far, LegCommand::HangUp));
                self.commands.push_back(Command::AgentCallEnded { agent });
            }
            return;
        };
        match notice {
            QueueNotice::Announce {
                position,
                estimated_wait,
            } => {
                let prompts = announcement(
                    &language,
                    position,
                    estimated_wait,
                    self.settings.callback_key,
                );
                self.play(ANNOUNCEMENT, prompts, true, false);
            }
            QueueNotice::Connect { agent } => {
                self.event("queue", format!("answered by {agent}"));
                self.far = true;
                self.caller(LegCommand::StopPlayback);
                self.commands.push_back(Command::Bridge);
                self.phase = Phase::Bridged { agent: Some(agent) };
            }
            QueueNotice::RegisterCallback => self.commands.push_back(Command::RegisterCallback),
            QueueNotice::Goodbye => {
                self.event("queue", "not served".into());
                self.farewell(now, vec![file("queue/all_busy", &language)]);
            }
        }
    }

    /// The answer to [`Command::RegisterCallback`]: the ticket's number, or
    /// `None` when it could not be registered in time.
    pub fn handle_callback_registered(&mut self, now: Instant, number: Option<String>) {
        let Phase::Waiting { language } = self.phase.clone() else {
            return;
        };
        let prompts = match number {
            Some(number) => {
                self.event("ticket", format!("callback {number}"));
                vec![
                    file("queue/callback_registered", &language),
                    say(Sayable::Digits(number), &language),
                ]
            }
            None => vec![file("queue/all_busy", &language)],
        };
        self.farewell(now, prompts);
    }

    fn handle_caller(&mut self, now: Instant, signal: LegSignal) {
        match signal {
            LegSignal::Answered => {
                if self.phase == Phase::Answering {
                    self.start_flow(now);
                }
            }
            LegSignal::Cancelled => self.finish(now, End::Cancelled),
            LegSignal::Ended { reason } => {
                match &self.phase {
                    Phase::Waiting { .. } => self.commands.push_back(Command::LeaveQueue),
                    Phase::Bridged { .. } | Phase::Transferring { .. } if self.far => {
                        self.far_command(LegCommand::HangUp)
                    }
                    _ => {}
                }
                if let Phase::Bridged { agent: Some(agent) } = &self.phase {
                    let agent = agent.clone();
                    self.commands.push_back(Command::AgentCallEnded { agent });
                }
                self.finish(now, End::Ended { reason });
            }
            LegSignal::Digit(event) => match &self.phase {
                Phase::Bridged { .. } => {
                    // What the caller presses goes on to the far party; a key
                    // that came in-band already travels in the bridged audio.
                    // Only media keys are recorded, as they always were.
                    if event.source != DigitSource::SipInfo {
                        self.record_digit(event, false);
                    }
                    if event.source != DigitSource::InBand {
                        self.far_command(LegCommand::SendDigit(event.digit));
                    }
                }
                _ => self.digits.push(event),
            },
            LegSignal::ReOffer { offer } => self.caller(LegCommand::AnswerReoffer { offer }),
            LegSignal::Held => self.hold(LegId::Caller, true),
            LegSignal::Resumed => self.hold(LegId::Caller, false),
            LegSignal::PlaybackFinished { id } => match &self.phase {
                Phase::InFlow => {
                    if let Some(call) = &mut self.call {
                        call.handle_playback_finished(now, PlayId(id));
                    }
                }
                // Cut short by a key or played out, the announcement gives way to the music.
                Phase::Waiting { language } if id == ANNOUNCEMENT => {
                    let language = language.clone();
                    self.play_music(&language);
                }
                Phase::Farewell { .. } if id == FAREWELL => self.hang_up_caller(),
                _ => {}
            },
            LegSignal::MediaLost { silent_for } => {
                if self.hung_up || self.phase == Phase::Ended {
                    return;
                }
                let seconds = silent_for.as_secs();
                self.event("media", format!("caller silent for {seconds} s"));
                self.hang_up_caller();
            }
            // Only outgoing legs ring or are refused.
            LegSignal::Ringing { .. } | LegSignal::Refused { .. } => {}
        }
    }

    fn handle_far(&mut self, now: Instant, signal: LegSignal) {
        if !self.far {
            return;
        }
        match signal {
            LegSignal::Ringing { early_media: true } => {
                // The target's ringback or announcement replaces the music.
                if let Phase::Transferring { early_media, .. } = &mut self.phase
                    && !*early_media
                {
                    *early_media = true;
                    self.commands.push_back(Command::Bridge);
                }
            }
            LegSignal::Answered => {
                if let Phase::Transferring { .. } = self.phase {
                    self.caller(LegCommand::StopPlayback);
                    self.commands.push_back(Command::Bridge);
                    self.phase = Phase::Bridged { agent: None };
                }
            }
            LegSignal::Refused { status } => {
                self.far = false;
                if let Phase::Transferring { language, .. } = self.phase.clone() {
                    tracing::info!(status, "transfer target did not take the call");
                    self.farewell(now, vec![file("queue/all_busy", &language)]);
                }
            }
            LegSignal::Ended { .. } => {
                self.far = false;
                if matches!(self.phase, Phase::Bridged { .. }) {
                    self.hang_up_caller();
                }
            }
            LegSignal::MediaLost { silent_for } => {
                // The far phone is gone without a BYE: as if it hung up.
                if matches!(self.phase, Phase::Bridged { .. }) && !self.hung_up {
                    let seconds = silent_for.as_secs();
                    self.event("media", format!("agent silent for {seconds} s"));
                    self.far_command(LegCommand::HangUp);
                    self.hang_up_caller();
                }
            }
            LegSignal::Digit(event) => {
                if matches!(self.phase, Phase::Bridged { .. })
                    && event.source != DigitSource::InBand
                {
                    self.caller(LegCommand::SendDigit(event.digit));
                }
            }
            LegSignal::ReOffer { offer } => self.far_command(LegCommand::AnswerReoffer { offer }),
            LegSignal::Held => self.hold(LegId::Far, true),
            LegSignal::Resumed => self.hold(LegId::Far, false),
            LegSignal::Ringing { early_media: false }
            | LegSignal::Cancelled
            | LegSignal::PlaybackFinished { .. } => {}
        }
    }

    /// `holder` holds the bridged call (`on`) or resumes it: the other party
    /// hears the music on hold meanwhile, then the bridge again. Outside a
    /// bridge a hold changes nothing the caller hears (music or the flow
    /// plays to the caller anyway).
    fn hold(&mut self, holder: LegId, on: bool) {
        let held = match holder {
            LegId::Caller => &mut self.held.caller,
            LegId::Far => &mut self.held.far,
        };
        if std::mem::replace(held, on) == on || self.hung_up {
            return;
        }
        let Phase::Bridged { agent } = &self.phase else {
            return;
        };
        let who = match (holder, agent) {
            (LegId::Far, Some(agent)) => agent.clone(),
            (LegId::Far, None) => "the far party".to_owned(),
            (LegId::Caller, _) => "the caller".to_owned(),
        };
        let what = if on { "holds" } else { "resumes" };
        self.event("hold", format!("{who} {what}"));
        // The party left waiting: the other one.
        let listener = match holder {
            LegId::Caller => LegId::Far,
            LegId::Far => LegId::Caller,
        };
        let command = if on {
            let music = file(&self.settings.music, &self.language());
            LegCommand::Play {
                id: MUSIC,
                prompts: vec![music],
                barge_in: false,
                looping: true,
            }
        } else {
            LegCommand::StopPlayback
        };
        self.commands.push_back(Command::Leg(listener, command));
    }

    /// The language of the call's prompts: the flow's, else the default.
    fn language(&self) -> String {
        self.call.as_ref().map_or_else(
            || self.settings.default_language.clone(),
            |call| call.language().to_owned(),
        )
    }

    /// The caller's media runs: the flow starts.
    fn start_flow(&mut self, now: Instant) {
        self.answered_at = Some(now);
        if let Some(handed) = self.handed_over.take() {
            // The wait counts from the caller's answer on the first node.
            self.answered_at = now.checked_sub(handed.waited).or(Some(now));
            self.context = None;
            self.perform(
                now,
                Action::Enqueue {
                    queue: handed.queue,
                    priority: handed.priority,
                    skills: handed.skills,
                    context: handed.context,
                },
            );
            return;
        }
        let Some(context) = self.context.take() else {
            return;
        };
        let version = self.flow.version().0.clone();
        self.commands.push_back(Command::FlowStarted { version });
        self.call = Some(flow::Call::start(Arc::clone(&self.flow), context, now));
        self.phase = Phase::InFlow;
        self.run_flow(now);
    }

    /// Carries out what the flow asks, until it asks nothing more.
    fn run_flow(&mut self, now: Instant) {
        while let Some(action) = self.call.as_mut().and_then(flow::Call::poll_action) {
            self.perform(now, action);
        }
    }

    fn perform(&mut self, now: Instant, action: Action) {
        match action {
            Action::Play {
                id,
                prompts,
                barge_in,
            } => self.play(id.0, prompts, barge_in, false),
            Action::StopPlayback { .. } => self.caller(LegCommand::StopPlayback),
            Action::Lookup { name, params } => {
                let limit = self.query_limit(now);
                self.commands.push_back(Command::Lookup {
                    name,
                    params,
                    limit,
                });
            }
            Action::RegisterTicket {
                kind,
                fields,
                customer,
                phone,
            } => {
                let limit = self.query_limit(now);
                self.commands.push_back(Command::RegisterTicket {
                    kind,
                    fields,
                    customer,
                    phone,
                    limit,
                });
            }
            Action::Enqueue {
                queue,
                priority,
                skills,
                context,
            } => {
                let language = context.language.clone();
                let waited = self
                    .answered_at
                    .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
                self.event("queue", format!("joined {queue}"));
                self.commands.push_back(Command::JoinQueue {
                    queue,
                    priority,
                    skills,
                    context,
                    waited,
                });
                self.phase = Phase::Waiting {
                    language: language.clone(),
                };
                self.play_music(&language);
            }
            Action::Transfer { uri } => {
                let language = self.language();
                self.event("transfer", uri.clone());
                self.far = true;
                self.commands.push_back(Command::Dial { uri });
                self.phase = Phase::Transferring {
                    language: language.clone(),
                    until: Some(now + TRANSFER_RING_LIMIT),
                    early_media: false,
                };
                self.play_music(&language);
            }
            Action::Hangup { .. } => self.hang_up_caller(),
        }
    }

    /// Moves the keys pressed to where they are wanted: the flow, or the
    /// queue's callback key.
    fn take_digits(&mut self, now: Instant) {
        while let Some(event) = self.digits.poll() {
            match &self.phase {
                Phase::InFlow => {
                    // Checked before the key is handled: the last key of a PIN ends its collect.
                    let secret = self.call.as_ref().is_some_and(flow::Call::collects_secret);
                    self.record_digit(event, secret);
                    if let Some(call) = &mut self.call {
                        call.handle_digit(event.at.max(now), event.digit);
                    }
                }
                Phase::Waiting { .. } => {
                    self.record_digit(event, false);
                    if Some(event.digit) == self.settings.callback_key {
                        self.commands.push_back(Command::RequestCallback);
                    }
                }
                _ => self.record_digit(event, false),
            }
        }
    }

    /// Plays a last message, then hangs up; without media, hangs up at once.
    fn farewell(&mut self, now: Instant, prompts: Vec<Prompt>) {
        self.phase = Phase::Farewell {
            until: now + FAREWELL_LIMIT,
        };
        self.play(FAREWELL, prompts, false, false);
    }

    fn play_music(&mut self, language: &str) {
        let music = file(&self.settings.music, language);
        self.play(MUSIC, vec![music], false, true);
    }

    fn play(&mut self, id: u64, prompts: Vec<Prompt>, barge_in: bool, looping: bool) {
        self.caller(LegCommand::Play {
            id,
            prompts,
            barge_in,
            looping,
        });
    }

    /// Hangs the caller up once; the call ends when the leg reports it.
    fn hang_up_caller(&mut self) {
        if !std::mem::replace(&mut self.hung_up, true) {
            self.caller(LegCommand::HangUp);
        }
    }

    fn finish(&mut self, now: Instant, end: End) {
        if let Some(call) = &mut self.call {
            call.handle_hangup(now);
        }
        self.end = Some(end);
        self.phase = Phase::Ended;
    }

    fn record_digit(&mut self, event: DigitEvent, secret: bool) {
        let digit = if secret { SECRET_KEY } else { event.digit };
        let at = self
            .answered_at
            .map_or(Duration::ZERO, |at| event.at.saturating_duration_since(at));
        self.commands.push_back(Command::Digit {
            digit,
            source: event.source,
            at,
        });
    }

    /// How long the query the flow just asked for may run: until the flow's
    /// own deadline for it, so the query ends when the flow moves on to its
    /// fallback; never past `CRM_LIMIT`.
    fn query_limit(&self, now: Instant) -> Duration {
        let deadline = self.call.as_ref().and_then(flow::Call::poll_timeout);
        deadline
            .map_or(CRM_LIMIT, |deadline| {
                deadline.saturating_duration_since(now)
            })
            .min(CRM_LIMIT)
    }

    fn hangup_at(&self) -> Option<Instant> {
        self.answered_at.map(|at| at + self.settings.max_duration)
    }

    fn event(&mut self, kind: &'static str, detail: String) {
        self.commands.push_back(Command::Event { kind, detail });
    }

    fn caller(&mut self, command: LegCommand) {
        self.commands
            .push_back(Command::Leg(LegId::Caller, command));
    }

    fn far_command(&mut self, command: LegCommand) {
        self.commands.push_back(Command::Leg(LegId::Far, command));
    }
}

/// "Your position in the queue is 3. The expected waiting time is about 5
/// minutes. To be called back instead of waiting, press 1."
fn announcement(
    language: &str,
    position: usize,
    estimated_wait: Option<Duration>,
    callback_key: Option<char>,
) -> Vec<Prompt> {
    let mut prompts = vec![
        file("queue/position", language),
        say(Sayable::Number(position as i64), language),
    ];
    if let Some(wait) = estimated_wait {
        let minutes = wait.as_secs().div_ceil(60).max(1) as i64;
        prompts.push(file("queue/wait_about", language));
        prompts.push(say(
            Sayable::Quantity {
                value: minutes,
                unit: "min".into(),
            },
            language,
        ));
    }
    if let Some(key) = callback_key {
        prompts.push(file("queue/callback_offer", language));
        prompts.push(say(Sayable::Digits(key.to_string()), language));
    }
    prompts
}

/// A prompt file in `language`.
fn file(id: &str, language: &str) -> Prompt {
    Prompt::File {
        id: id.to_owned(),
        language: language.to_owned(),
    }
}

fn say(value: Sayable, language: &str) -> Prompt {
    Prompt::Say {
        value,
        language: language.to_owned(),
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
