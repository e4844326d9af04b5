//! Running a call through a flow without a phone: a virtual clock, scripted keys
//! and a CRM backend (the real one or a fixture), producing a readable transcript.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::call::*;
use super::catalog::AudioDir;
use super::model::Flow;
use super::value::{Value, Values};

/// What the simulator asks of the CRM; `None` answers mean "no answer in time".
pub trait Backend {
    /// The customer calling from a number, if known.
    fn find_customer(&mut self, caller: &str) -> Option<Customer>;
    /// Runs a named lookup.
    fn lookup(&mut self, name: &str, params: &Values) -> Option<Result<Values, LookupFailure>>;
    /// Registers a ticket for the caller (and the customer, once identified).
    fn register_ticket(
        &mut self,
        kind: &str,
        fields: &Values,
        customer: Option<&str>,
        phone: &str,
    ) -> Option<Result<TicketNumber, TicketFailure>>;
}

/// A customer as the flow sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub language: Option<String>,
}

/// One simulated call.
#[derive(Debug, Clone)]
pub struct SimulationInput {
    /// Calling number.
    pub caller: String,
    /// Keys pressed in turn whenever the call waits for input; `w` waits for the timeout.
    /// When they run out while the call waits for input, the caller hangs up.
    pub keys: String,
    /// Wall-clock time of the call.
    pub at_time: DateTime<Utc>,
    /// Language setting; the customer's or the flow default when absent.
    pub language: Option<String>,
    /// The call's percentage-split roll, 0..100.
    pub split_roll: u8,
}

/// What happened in a simulated call, in order.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub version: String,
    pub events: Vec<Event>,
    pub path: Vec<PathStep>,
    pub outcome: Option<Outcome>,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Prompts played, each with its text when known.
    Play(Vec<(Prompt, Option<String>)>),
    Key(char),
    Silence,
    Lookup {
        name: String,
        params: Values,
        result: String,
    },
    Ticket {
        kind: String,
        fields: Values,
        result: String,
    },
    Enqueue {
        queue: String,
        priority: i32,
    },
    Transfer {
        uri: String,
    },
    Hangup,
    CallerHungUp,
}

/// How long a simulated prompt or key press takes on the virtual clock.
const STEP: Duration = Duration::from_secs(1);
const MAX_EVENTS: usize = 2000;

/// Runs one call through `flow` on a virtual clock.
pub fn simulate(
    flow: Arc<Flow>,
    input: &SimulationInput,
    backend: &mut dyn Backend,
    texts: &AudioDir,
) -> Transcript {
    let customer = backend.find_customer(&input.caller);
    let language = input
        .language
        .clone()
        .or_else(|| customer.as_ref().and_then(|c| c.language.clone()));
    let ctx = CallContext {
        caller: input.caller.clone(),
        customer: customer.map(|c| c.id),
        language,
        now_utc: input.at_time,
        split_roll: input.split_roll,
    };
    let version = flow.version().0.clone();
    let mut now = Instant::now();
    let mut call = Call::start(flow, ctx, now);
    let mut keys = input.keys.chars().filter(|c| !c.is_whitespace());
    let mut events = Vec::new();
    let mut playing: Option<PlayId> = None;
    while events.len() < MAX_EVENTS {
        while let Some(action) = call.poll_action() {
            match action {
                Action::Play { id, prompts, .. } => {
                    let with_text = prompts.into_iter().map(|p| {
                        let text = match &p {
                            Prompt::File { id, language } => {
                                texts.text(language, id).map(str::to_owned)
                            }
                            Prompt::Say { value, language } => crate::say::expand(language, value)
                                .ok()
                                .map(|words| crate::say::text(language, &words)),
                        };
                        (p, text)
                    });
                    events.push(Event::Play(with_text.collect()));
                    playing = Some(id);
                }
                Action::StopPlayback { id } if playing == Some(id) => playing = None,
                Action::StopPlayback { .. } => {}
                Action::Lookup { name, params } => {
                    let answer = backend.lookup(&name, &params);
                    let result = match &answer {
                        Some(Ok(values)) => format_values(values),
                        Some(Err(LookupFailure::NotFound)) => "not found".to_owned(),
                        Some(Err(LookupFailure::Unavailable(why))) => format!("failed: {why}"),
                        None => "no answer".to_owned(),
                    };
                    events.push(Event::Lookup {
                        name,
                        params,
                        result,
                    });
                    if let Some(answer) = answer {
                        call.handle_lookup_result(now, answer);
                    }
                }
                Action::RegisterTicket {
                    kind,
                    fields,
                    customer,
                    phone,
                } => {
                    let answer =
                        backend.register_ticket(&kind, &fields, customer.as_deref(), &phone);
                    let result = match &answer {
                        Some(Ok(TicketNumber(n))) => format!("number {n}"),
                        Some(Err(TicketFailure::Rejected { code })) => format!("rejected: {code}"),
                        Some(Err(TicketFailure::Unavailable(why))) => format!("failed: {why}"),
                        None => "no answer".to_owned(),
                    };
                    events.push(Event::Ticket {
                        kind,
                        fields,
                        result,
                    });
                    if let Some(answer) = answer {
                        call.handle_ticket_result(now, answer);
                    }
                }
                Action::Enqueue {
                    queue, priority, ..
                } => events.push(Event::Enqueue { queue, priority }),
                Action::Transfer { uri } => events.push(Event::Transfer { uri }),
                Action::Hangup { .. } => events.push(Event::Hangup),
            }
        }
        if call.outcome().is_some() {
            break;
        }
        if let Some(id) = playing.take() {
            now += STEP;
            call.handle_playback_finished(now, id);
            continue;
        }
        let Some(deadline) = call.poll_timeout() else {
            // Nothing to wait for: only a broken backend answer could leave a call here.
            break;
        };
        if call.awaits_input() {
            match keys.next() {
                Some('w') => {
                    events.push(Event::Silence);
                    now = now.max(deadline);
                    call.handle_timeout(now);
                }
                Some(key) => {
                    now += STEP;
                    events.push(Event::Key(key));
                    call.handle_digit(now, key);
                }
                None => {
                    events.push(Event::CallerHungUp);
                    call.handle_hangup(now);
                }
            }
        } else {
            now = now.max(deadline);
            call.handle_timeout(now);
        }
    }
    Transcript {
        version,
        events,
        path: call.path().to_vec(),
        outcome: call.outcome(),
    }
}

fn format_values(values: &Values) -> String {
    let parts: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
}

impl Transcript {
    /// Prompt file ids played, in order.
    pub fn prompt_ids(&self) -> Vec<&str> {
        let files = self.events.iter().filter_map(|e| match e {
            Event::Play(prompts) => Some(prompts.iter().filter_map(|(p, _)| match p {
                Prompt::File { id, .. } => Some(id.as_str()),
                Prompt::Say { .. } => None,
            })),
            _ => None,
        });
        files.flatten().collect()
    }

    /// Kinds of the tickets registered, in order.
    pub fn tickets(&self) -> Vec<&str> {
        let registered = self.events.iter().filter_map(|e| match e {
            Event::Ticket { kind, result, .. } if result.starts_with("number") => {
                Some(kind.as_str())
            }
            _ => None,
        });
        registered.collect()
    }

    /// The queue the call was handed to, if any.
    pub fn queue(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::Enqueue { queue, .. } => Some(queue.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "flow {}", self.version)?;
        for event in &self.events {
            match event {
                Event::Play(prompts) => {
                    for (prompt, text) in prompts {
                        let (what, lang) = match prompt {
                            Prompt::File { id, language } => (id.clone(), language),
                            Prompt::Say { value, language } => (format!("say {value:?}"), language),
                        };
                        match text {
                            Some(text) => writeln!(f, "  play [{lang}] {what}: \"{text}\"")?,
                            None => writeln!(f, "  play [{lang}] {what}")?,
                        }
                    }
                }
                Event::Key(k) => writeln!(f, "  key {k}")?,
                Event::Silence => writeln!(f, "  (silence until the timeout)")?,
                Event::Lookup {
                    name,
                    params,
                    result,
                } => writeln!(f, "  lookup {name}({}) -> {result}", format_values(params))?,
                Event::Ticket {
                    kind,
                    fields,
                    result,
                } => writeln!(f, "  ticket {kind}({}) -> {result}", format_values(fields))?,
                Event::Enqueue { queue, priority } => {
                    writeln!(f, "  to queue {queue} (priority {priority})")?
                }
                Event::Transfer { uri } => writeln!(f, "  transfer to {uri}")?,
                Event::Hangup => writeln!(f, "  hangup")?,
                Event::CallerHungUp => writeln!(f, "  caller hangs up")?,
            }
        }
        let outcome = self
            .outcome
            .map_or("still in the flow".to_owned(), |o| format!("{o:?}"));
        writeln!(f, "outcome: {outcome}")
    }
}

/// A CRM made of data, for flow tests and `flows simulate` without a database.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fixture {
    /// Customers found by calling number.
    pub customers: Vec<FixtureCustomer>,
    /// Results per lookup name; the first case whose `when` matches the params answers.
    pub lookups: BTreeMap<String, Vec<LookupCase>>,
    /// Every lookup and ticket fails as if the database were down.
    pub crm_down: bool,
    /// Lookups and ticket kinds that never answer.
    pub slow: Vec<String>,
    /// Ticket numbers handed out in order; then 100001, 100002, ...
    pub ticket_numbers: Vec<String>,
    /// Tickets refused when a field is below a value.
    pub reject: Vec<Rejection>,
    #[serde(skip)]
    issued: usize,
}

/// A customer in a fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureCustomer {
    pub id: String,
    pub phone: String,
    #[serde(default)]
    pub language: Option<String>,
}

/// One answer of a fixture lookup.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupCase {
    /// Params that must match (as text); empty matches any.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    pub result: Values,
}

/// A ticket the fixture refuses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub kind: String,
    pub field: String,
    pub below: i64,
    pub code: String,
}

impl Backend for Fixture {
    fn find_customer(&mut self, caller: &str) -> Option<Customer> {
        let c = self.customers.iter().find(|c| c.phone == caller)?;
        Some(Customer {
            id: c.id.clone(),
            language: c.language.clone(),
        })
    }

    fn lookup(&mut self, name: &str, params: &Values) -> Option<Result<Values, LookupFailure>> {
        if self.slow.iter().any(|s| s == name) {
            return None;
        }
        if self.crm_down {
            return Some(Err(LookupFailure::Unavailable(
                "the CRM database is down".into(),
            )));
        }
        let cases = self
            .lookups
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let matches = |case: &&LookupCase| {
            case.when
                .iter()
                .all(|(k, v)| params.get(k).is_some_and(|p| p.to_string() == *v))
        };
        Some(
            cases
                .iter()
                .find(matches)
                .map(|c| c.result.clone())
                .ok_or(LookupFailure::NotFound),
        )
    }

    fn register_ticket(
        &mut self,
        kind: &str,
        fields: &Values,
        _customer: Option<&str>,
        _phone: &str,
    ) -> Option<Result<TicketNumber, TicketFailure>> {
        if self.slow.iter().any(|s| s == kind) {
            return None;
        }
        if self.crm_down {
            return Some(Err(TicketFailure::Unavailable(
                "the CRM database is down".into(),
            )));
        }
        for r in self.reject.iter().filter(|r| r.kind == kind) {
            if fields
                .get(&r.field)
                .and_then(Value::as_number)
                .is_some_and(|v| v < r.below)
            {
                return Some(Err(TicketFailure::Rejected {
                    code: r.code.clone(),
                }));
            }
        }
        self.issued += 1;
        let number = self.ticket_numbers.get(self.issued - 1).cloned();
        Some(Ok(TicketNumber(
            number.unwrap_or_else(|| (100_000 + self.issued).to_string()),
        )))
    }
}
