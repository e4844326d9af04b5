//! The flow interpreter: one call through one flow, as a sans-IO state machine.
//!
//! Inputs arrive through `handle_*(now, ..)`; the call answers with actions from
//! `poll_action` and a deadline from `poll_timeout`. It never reads a clock and
//! does no I/O, so SIP calls, the simulator and tests drive it the same way.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::model::*;
use super::value::{Value, Values};
use crate::say::Sayable;

/// Automatic steps (nodes entered without waiting) allowed per input; past it the flow is stuck.
const MAX_STEPS: usize = 200;

/// Keys pressed before the flow waits for them (type-ahead) are kept up to this many.
const TYPE_AHEAD: usize = 16;

/// What the shell knows about a call when it starts.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Calling number, E.164 where known.
    pub caller: String,
    /// Customer id found by the calling number.
    pub customer: Option<String>,
    /// Preferred language (e.g. the customer's); the flow default when absent or not spoken.
    pub language: Option<String>,
    /// Wall-clock time at start, for business hours.
    pub now_utc: DateTime<Utc>,
    /// A random number in 0..100 drawn once per call; every percentage split uses it.
    pub split_roll: u8,
}

/// Identifies one playback request, so a late "finished" is not mistaken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlayId(pub u64);

/// One thing to play, in a language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A prompt file `audio/<language>/<id>`.
    File { id: String, language: String },
    /// A value spoken by the say engine.
    Say { value: Sayable, language: String },
}

/// What the call asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Play prompts in sequence; report `handle_playback_finished(id)` when done.
    Play {
        id: PlayId,
        prompts: Vec<Prompt>,
        barge_in: bool,
    },
    /// Stop a playback early (the caller barged in).
    StopPlayback { id: PlayId },
    /// Run a named CRM lookup; report `handle_lookup_result`.
    Lookup { name: String, params: Values },
    /// Register a ticket for the caller (the customer once identified); report `handle_ticket_result`.
    RegisterTicket {
        kind: String,
        fields: Values,
        customer: Option<String>,
        phone: String,
    },
    /// Hand the call to an agent queue; the flow is done.
    Enqueue {
        queue: String,
        priority: i32,
        skills: Vec<String>,
        context: AgentContext,
    },
    /// Transfer the call; the flow is done.
    Transfer { uri: String },
    /// Hang up; the flow is done.
    Hangup { reason: HangupReason },
}

/// Why the flow hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupReason {
    /// A hangup node ended the call.
    Goodbye,
    /// The flow went round without waiting for anything; a bug in the flow.
    Stuck,
}

/// What the agent sees about a call handed to a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentContext {
    pub caller: String,
    pub customer: Option<String>,
    pub language: String,
    pub flow_version: String,
    pub path: Vec<PathStep>,
    pub tickets: Vec<String>,
}

/// A step of the caller's way through the flow, for the call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// A node entered.
    Node(String),
    /// Keys the caller pressed to choose.
    Key(String),
}

/// A node by its name, keys in brackets: `main [1] balance`.
impl std::fmt::Display for PathStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathStep::Node(node) => f.write_str(node),
            PathStep::Key(keys) => write!(f, "[{keys}]"),
        }
    }
}

/// Why a lookup gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupFailure {
    /// The query ran and found nothing, e.g. an unknown account number.
    NotFound,
    /// The CRM is down or failed; the reason is for logs.
    Unavailable(String),
}

/// A registered ticket's human-readable number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketNumber(pub String);

/// Why a ticket was not registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketFailure {
    /// The CRM refused the request, e.g. a meter reading below the last one.
    Rejected { code: String },
    /// The CRM is down or failed; the reason is for logs.
    Unavailable(String),
}

/// How a call left the flow, for containment figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Served by the IVR alone.
    ContainedByIvr,
    /// Ended with a ticket registered and no agent.
    TicketRegistered,
    /// Handed to an agent queue.
    ToAgent,
    /// Transferred elsewhere.
    Transferred,
    /// The caller hung up before being served.
    Abandoned,
}

impl Outcome {
    /// The name the call records and metrics use (as serialised).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::ContainedByIvr => "contained_by_ivr",
            Outcome::TicketRegistered => "ticket_registered",
            Outcome::ToAgent => "to_agent",
            Outcome::Transferred => "transferred",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// One call running through a flow.
#[derive(Debug)]
pub struct Call {
    pub(super) flow: Arc<Flow>,
    pub(super) ctx: CallContext,
    pub(super) started: Instant,
    pub(super) language: String,
    pub(super) vars: Values,
    pub(super) actions: VecDeque<Action>,
    pub(super) state: State,
    next_play: u64,
    /// Menus entered, oldest first; `back` returns along it.
    pub(super) menus: Vec<NodeId>,
    pub(super) greeted: HashSet<NodeId>,
    pub(super) path: Vec<PathStep>,
    outcome: Option<Outcome>,
    tickets: Vec<String>,
    served: bool,
    /// Keys pressed while a prompt, lookup or ticket had the call, for the next menu or collect.
    type_ahead: VecDeque<char>,
}

/// Where the call waits.
#[derive(Debug)]
pub(super) enum State {
    Menu(MenuState),
    Playing { play: PlayId, next: Target },
    Collect(CollectState),
    Lookup { node: NodeId, deadline: Instant },
    Ticket { node: NodeId, deadline: Instant },
    Goodbye { play: PlayId },
    Ended,
}

#[derive(Debug)]
pub(super) struct MenuState {
    pub(super) node: NodeId,
    pub(super) play: Option<PlayId>,
    pub(super) digits: String,
    pub(super) deadline: Option<Instant>,
    pub(super) no_input: u8,
    pub(super) invalid: u8,
}

#[derive(Debug)]
pub(super) struct CollectState {
    pub(super) node: NodeId,
    pub(super) play: Option<PlayId>,
    pub(super) digits: String,
    pub(super) deadline: Option<Instant>,
    pub(super) failures: u8,
    /// The digits being read back for confirmation.
    pub(super) confirming: Option<String>,
}

impl Call {
    /// Starts a call at the flow's start node; poll actions right after.
    pub fn start(flow: Arc<Flow>, ctx: CallContext, now: Instant) -> Call {
        let language = match &ctx.language {
            Some(l) if flow.languages.contains(l) => l.clone(),
            _ => flow.default_language.clone(),
        };
        let mut vars = Values::new();
        vars.insert("caller".into(), Value::Text(ctx.caller.clone()));
        vars.insert("language".into(), Value::Text(language.clone()));
        if let Some(customer) = &ctx.customer {
            vars.insert("customer".into(), Value::Text(customer.clone()));
        }
        let start = flow.start;
        let mut call = Call {
            flow,
            ctx,
            started: now,
            language,
            vars,
            actions: VecDeque::new(),
            state: State::Ended,
            next_play: 0,
            menus: Vec::new(),
            greeted: HashSet::new(),
            path: Vec::new(),
            outcome: None,
            tickets: Vec::new(),
            served: false,
            type_ahead: VecDeque::new(),
        };
        call.go(now, Target::Node(start));
        call
    }

    /// The next action for the shell, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Menu(m) => m.deadline,
            State::Collect(c) => c.deadline,
            State::Lookup { deadline, .. } | State::Ticket { deadline, .. } => Some(*deadline),
            State::Playing { .. } | State::Goodbye { .. } | State::Ended => None,
        }
    }

    /// The nodes entered and keys chosen so far.
    pub fn path(&self) -> &[PathStep] {
        &self.path
    }

    /// How the call left the flow; `None` while it is still in it.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The flow this call runs, the version it started with.
    pub fn flow(&self) -> &Arc<Flow> {
        &self.flow
    }

    /// Whether the call waits for the caller's keys (a menu or a collect).
    pub fn awaits_input(&self) -> bool {
        matches!(self.state, State::Menu(_) | State::Collect(_))
    }

    /// Whether keys pressed now are a secret collect's (a PIN), to be recorded
    /// only as [`SECRET_DIGITS`].
    pub fn collects_secret(&self) -> bool {
        match &self.state {
            State::Collect(c) => {
                matches!(&self.flow.node(c.node).kind, NodeKind::Collect(node) if node.secret)
            }
            _ => false,
        }
    }

    /// The call's variables.
    pub fn variables(&self) -> &Values {
        &self.vars
    }

    /// The language the call speaks now.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// A playback the call asked for has finished (or was stopped).
    pub fn handle_playback_finished(&mut self, now: Instant, id: PlayId) {
        let flow = Arc::clone(&self.flow);
        match &mut self.state {
            State::Menu(m) if m.play == Some(id) => {
                m.play = None;
                if let NodeKind::Menu(menu) = &flow.node(m.node).kind {
                    m.deadline = Some(now + menu.timeout);
                }
            }
            State::Collect(c) if c.play == Some(id) => {
                c.play = None;
                if let NodeKind::Collect(node) = &flow.node(c.node).kind {
                    c.deadline = Some(now + node.timeout);
                }
            }
            State::Playing { play, next } if *play == id => {
                let next = *next;
                self.go(now, next);
            }
            State::Goodbye { play } if *play == id => self.hang_up(HangupReason::Goodbye),
            _ => {}
        }
    }

    /// The caller pressed a key. A key pressed while the call plays a prompt
    /// or waits for the CRM is kept for the next menu or collect, so a caller
    /// who knows the menu need not wait for the greeting to end.
    pub fn handle_digit(&mut self, now: Instant, digit: char) {
        match self.state {
            State::Menu(_) => self.menu_digit(now, digit),
            State::Collect(_) => self.collect_digit(now, digit),
            State::Playing { .. } | State::Lookup { .. } | State::Ticket { .. } => {
                if self.type_ahead.len() < TYPE_AHEAD {
                    self.type_ahead.push_back(digit);
                }
            }
            State::Goodbye { .. } | State::Ended => {}
        }
    }

    /// Gives keys typed ahead to the menu or collect the call now waits in.
    fn deliver_type_ahead(&mut self, now: Instant) {
        while self.awaits_input() {
            let Some(digit) = self.type_ahead.pop_front() else {
                return;
            };
            self.handle_digit(now, digit);
        }
    }

    /// Stops a playback; one not yet handed to the shell is simply not sent.
    pub(super) fn stop_playback(&mut self, id: PlayId) {
        let queued = self
            .actions
            .iter()
            .position(|a| matches!(a, Action::Play { id: queued, .. } if *queued == id));
        match queued {
            Some(index) => {
                self.actions.remove(index);
            }
            None => self.actions.push_back(Action::StopPlayback { id }),
        }
    }

    /// A deadline from `poll_timeout` may have passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_none_or(|deadline| deadline > now) {
            return;
        }
        match &self.state {
            State::Menu(_) => self.menu_timeout(now),
            State::Collect(_) => self.collect_timeout(now),
            State::Lookup { node, .. } => {
                let target = self.lookup_node(*node).on_timeout;
                self.go(now, target);
            }
            State::Ticket { node, .. } => {
                let target = self.ticket_node(*node).on_error;
                self.go(now, target);
            }
            _ => {}
        }
    }

    /// The result of the lookup the call asked for; ignored if it came too late.
    pub fn handle_lookup_result(&mut self, now: Instant, result: Result<Values, LookupFailure>) {
        let State::Lookup { node, .. } = self.state else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let NodeKind::Lookup(lookup) = &flow.node(node).kind else {
            return;
        };
        let target = match result {
            Ok(values) => {
                if lookup.identifies
                    && let Some(customer) = values.get("customer")
                {
                    self.ctx.customer = Some(customer.to_string());
                    self.vars
                        .insert("customer".into(), Value::Text(customer.to_string()));
                }
                for (field, value) in values {
                    self.vars
                        .insert(format!("{}.{field}", lookup.save_as), value);
                }
                self.served = true;
                lookup.next
            }
            Err(LookupFailure::NotFound) => lookup.on_not_found,
            Err(LookupFailure::Unavailable(reason)) => {
                tracing::warn!(lookup = %lookup.name, %reason, "lookup failed; taking the fallback");
                lookup.on_error
            }
        };
        self.go(now, target);
    }

    /// The result of the ticket the call asked to register; ignored if it came too late.
    pub fn handle_ticket_result(
        &mut self,
        now: Instant,
        result: Result<TicketNumber, TicketFailure>,
    ) {
        let State::Ticket { node, .. } = self.state else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let NodeKind::Ticket(ticket) = &flow.node(node).kind else {
            return;
        };
        let target = match result {
            Ok(TicketNumber(number)) => {
                self.vars
                    .insert(ticket.save_as.clone(), Value::Text(number.clone()));
                self.tickets.push(number);
                ticket.next
            }
            Err(TicketFailure::Rejected { code }) => {
                self.vars
                    .insert(format!("{}.reason", ticket.save_as), Value::Text(code));
                ticket.on_rejected
            }
            Err(TicketFailure::Unavailable(reason)) => {
                tracing::warn!(ticket = %ticket.kind, %reason, "ticket not registered; taking the fallback");
                ticket.on_error
            }
        };
        self.go(now, target);
    }

    /// The caller hung up.
    pub fn handle_hangup(&mut self, _now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        self.state = State::Ended;
        self.outcome = Some(if !self.tickets.is_empty() {
            Outcome::TicketRegistered
        } else if self.served {
            Outcome::ContainedByIvr
        } else {
            Outcome::Abandoned
        });
    }

    /// Follows targets through automatic nodes until the call waits for something.
    pub(super) fn go(&mut self, now: Instant, mut target: Target) {
        for _ in 0..MAX_STEPS {
            let (id, full) = match target {
                Target::Node(id) => (id, false),
                Target::Top => {
                    self.menus.clear();
                    (self.flow.top, false)
                }
                Target::Back => match self.menus.last() {
                    Some(&id) => (id, false),
                    None => (self.flow.top, false),
                },
                Target::Repeat => match self.menus.last() {
                    Some(&id) => (id, true),
                    None => (self.flow.top, false),
                },
            };
            match self.enter(now, id, full) {
                Some(next) => target = next,
                None => {
                    self.deliver_type_ahead(now);
                    return;
                }
            }
        }
        tracing::error!(flow = %self.flow.version, "flow went round without waiting; hanging up");
        self.hang_up(HangupReason::Stuck);
    }

    /// Enters a node: returns where to go next, or `None` when the call now waits.
    fn enter(&mut self, now: Instant, id: NodeId, full: bool) -> Option<Target> {
        let flow = Arc::clone(&self.flow);
        let node = flow.node(id);
        self.path.push(PathStep::Node(node.name.clone()));
        match &node.kind {
            NodeKind::Menu(_) => {
                self.enter_menu(id, full);
                None
            }
            NodeKind::Play { prompts, next } => {
                let prompts = prompts.iter().map(|p| self.file(p, None)).collect();
                self.play_then(prompts, *next)
            }
            NodeKind::Say { parts, next } => {
                let prompts = self.say_parts(parts);
                self.play_then(prompts, *next)
            }
            NodeKind::Collect(c) => {
                let prompts = vec![self.file(&c.prompt, None)];
                let play = self.play(prompts, true);
                self.state = State::Collect(CollectState {
                    node: id,
                    play: Some(play),
                    digits: String::new(),
                    deadline: None,
                    failures: 0,
                    confirming: None,
                });
                None
            }
            NodeKind::Lookup(l) => match self.values(&l.params) {
                Some(params) => {
                    self.actions.push_back(Action::Lookup {
                        name: l.name.clone(),
                        params,
                    });
                    self.state = State::Lookup {
                        node: id,
                        deadline: now + l.timeout,
                    };
                    None
                }
                None => Some(l.on_error),
            },
            NodeKind::Ticket(t) => match self.values(&t.fields) {
                Some(fields) => {
                    self.actions.push_back(Action::RegisterTicket {
                        kind: t.kind.clone(),
                        fields,
                        customer: self.ctx.customer.clone(),
                        phone: self.ctx.caller.clone(),
                    });
                    self.state = State::Ticket {
                        node: id,
                        deadline: now + t.timeout,
                    };
                    None
                }
                None => Some(t.on_error),
            },
            NodeKind::Queue {
                name,
                priority,
                skills,
            } => {
                let context = AgentContext {
                    caller: self.ctx.caller.clone(),
                    customer: self.ctx.customer.clone(),
                    language: self.language.clone(),
                    flow_version: self.flow.version.0.clone(),
                    path: self.path.clone(),
                    tickets: self.tickets.clone(),
                };
                let (queue, priority, skills) = (name.clone(), *priority, skills.clone());
                self.actions.push_back(Action::Enqueue {
                    queue,
                    priority,
                    skills,
                    context,
                });
                self.finish(Outcome::ToAgent);
                None
            }
            NodeKind::Transfer { uri } => {
                self.actions
                    .push_back(Action::Transfer { uri: uri.clone() });
                self.finish(Outcome::Transferred);
                None
            }
            NodeKind::Branch {
                condition,
                then,
                otherwise,
            } => Some(if self.holds(now, condition) {
                *then
            } else {
                *otherwise
            }),
            NodeKind::Goto(target) => Some(*target),
            NodeKind::Hangup { prompt } => {
                match prompt {
                    Some(p) => {
                        let prompts = vec![self.file(p, None)];
                        let play = self.play(prompts, false);
                        self.state = State::Goodbye { play };
                    }
                    None => self.hang_up(HangupReason::Goodbye),
                }
                None
            }
        }
    }

    fn play_then(&mut self, prompts: Vec<Prompt>, next: Target) -> Option<Target> {
        if prompts.is_empty() {
            return Some(next);
        }
        let play = self.play(prompts, false);
        self.state = State::Playing { play, next };
        None
    }

    /// Queues a playback and returns its id.
    pub(super) fn play(&mut self, prompts: Vec<Prompt>, barge_in: bool) -> PlayId {
        self.next_play += 1;
        let id = PlayId(self.next_play);
        self.actions.push_back(Action::Play {
            id,
            prompts,
            barge_in,
        });
        id
    }

    /// A prompt file in `language` (the call's when `None`), or the default language's.
    pub(super) fn file(&self, prompt: &PromptRef, language: Option<&str>) -> Prompt {
        let wanted = language.unwrap_or(&self.language);
        let language = if prompt.languages.iter().any(|l| l == wanted) {
            wanted.to_owned()
        } else {
            self.flow.default_language.clone()
        };
        Prompt::File {
            id: prompt.id.clone(),
            language,
        }
    }

    /// A value spoken by the say engine in the call's language.
    pub(super) fn say(&self, value: Sayable) -> Prompt {
        Prompt::Say {
            value,
            language: self.language.clone(),
        }
    }

    fn say_parts(&self, parts: &[SayPart]) -> Vec<Prompt> {
        let mut prompts = Vec::new();
        for part in parts {
            match part {
                SayPart::Prompt(p) => prompts.push(self.file(p, None)),
                SayPart::Variable { name, kind } => {
                    match self.vars.get(name).and_then(|v| v.to_sayable(*kind)) {
                        Some(value) => prompts.push(self.say(value)),
                        None => {
                            tracing::warn!(variable = %name, "nothing to say: variable unset or of another kind")
                        }
                    }
                }
                SayPart::Each { name, prefix } => {
                    for text in self.vars.get(name).map(Value::texts).unwrap_or_default() {
                        let id = format!("{prefix}{text}");
                        prompts.push(Prompt::File {
                            id,
                            language: self.language.clone(),
                        });
                    }
                }
            }
        }
        prompts
    }

    /// The values of named variables; `None` if one is unset.
    fn values(&self, names: &[(String, String)]) -> Option<Values> {
        names
            .iter()
            .map(|(key, var)| self.vars.get(var).map(|v| (key.clone(), v.clone())))
            .collect()
    }

    fn holds(&self, now: Instant, condition: &Condition) -> bool {
        match condition {
            Condition::CallerKnown(known) => self.ctx.customer.is_some() == *known,
            Condition::IsSet(var) => self.vars.contains_key(var),
            Condition::Equals { variable, value } => self
                .vars
                .get(variable)
                .is_some_and(|v| v.to_string() == *value),
            Condition::LessThan { variable, value } => self
                .vars
                .get(variable)
                .and_then(Value::as_number)
                .is_some_and(|n| (n as f64) < *value),
            Condition::Open(i) => {
                let elapsed = now.saturating_duration_since(self.started);
                let at = self.ctx.now_utc + chrono::Duration::from_std(elapsed).unwrap_or_default();
                self.flow.calendars.get(*i).is_some_and(|c| c.is_open(at))
            }
            Condition::Percent(p) => self.ctx.split_roll < *p,
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.state = State::Ended;
        self.outcome = Some(outcome);
    }

    pub(super) fn hang_up(&mut self, reason: HangupReason) {
        self.actions.push_back(Action::Hangup { reason });
        let outcome = if self.tickets.is_empty() {
            Outcome::ContainedByIvr
        } else {
            Outcome::TicketRegistered
        };
        self.finish(outcome);
    }

    pub(super) fn menu(&self, id: NodeId) -> &Menu {
        match &self.flow.node(id).kind {
            NodeKind::Menu(m) => m,
            _ => unreachable!("menu state always holds a menu node"),
        }
    }

    fn lookup_node(&self, id: NodeId) -> &Lookup {
        match &self.flow.node(id).kind {
            NodeKind::Lookup(l) => l,
            _ => unreachable!("lookup state always holds a lookup node"),
        }
    }

    fn ticket_node(&self, id: NodeId) -> &Ticket {
        match &self.flow.node(id).kind {
            NodeKind::Ticket(t) => t,
            _ => unreachable!("ticket state always holds a ticket node"),
        }
    }
}
