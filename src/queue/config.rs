//! Queue and agent configuration: the serde syntax and its compiled, checked form.
//!
//! The syntax is what an admin writes (`[[queues]]` and `[[agents]]` tables in
//! TOML); [`compile`] turns it into specs whose overflow targets are indices and
//! whose escalation steps are ordered, so the core never meets a dangling name.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::strategy::Strategy;

/// The ACD configuration: queues, the agents known from the start, and global defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcdConfig {
    /// Seconds of wrap-up after a call, for queues that set none.
    #[serde(default)]
    pub wrap_up_seconds: u32,
    /// Agents known from the start (`[[agents]]`); more can be added at run time.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// The queues (`[[queues]]`).
    pub queues: Vec<QueueConfig>,
}

/// One agent: an id and skills with levels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The agent's id, as the shell names them (login, extension).
    pub id: String,
    /// Skill name → level; a lower level is offered first (1 = first line, 2 = second line).
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
}

/// One queue as declared in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The queue's name, as flows name it in `enqueue`.
    pub name: String,
    /// How the next agent is chosen.
    pub strategy: Strategy,
    /// Skills an agent needs, all of them, to serve this queue; none means every agent.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Seconds an offer rings before it is cancelled and the agent paused.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_seconds: u32,
    /// Seconds of wrap-up after a call from this queue; the global default when absent.
    #[serde(default)]
    pub wrap_up_seconds: Option<u32>,
    /// Which agent levels serve a caller after how long a wait; empty means all levels at once.
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
    /// Seconds between position announcements; none means no announcements.
    #[serde(default)]
    pub announce_every_seconds: Option<u32>,
    /// Longest wait before `on_max_wait` applies; none means no limit.
    #[serde(default)]
    pub max_wait_seconds: Option<u32>,
    /// Most callers on hold (callbacks not counted) before `on_full` applies to a joiner.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Seconds before a new round of offers once every available agent was tried for a caller.
    #[serde(default = "default_retry")]
    pub retry_seconds: u32,
    /// Pause an agent who lets an offer ring out (reason "no answer").
    #[serde(default = "default_true")]
    pub pause_on_no_answer: bool,
    /// What a caller gets after `max_wait_seconds`.
    #[serde(default)]
    pub on_max_wait: LimitAction,
    /// What a joiner gets when `max_length` callers are already on hold.
    #[serde(default)]
    pub on_full: LimitAction,
    /// What a caller gets when no agent serving the queue is logged in.
    #[serde(default)]
    pub on_no_agents: LimitAction,
    /// The target wallboards colour the queue's figures against.
    #[serde(default)]
    pub service_level: ServiceLevel,
}

/// A service-level target: `percent` of callers answered within `seconds`
/// (`service_level = { percent = 80, seconds = 20 }`, the common "80/20").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLevel {
    pub percent: u8,
    pub seconds: u32,
}

impl Default for ServiceLevel {
    fn default() -> Self {
        ServiceLevel {
            percent: 80,
            seconds: 20,
        }
    }
}

/// From `after_seconds` of waiting on, agents up to `max_level` serve the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Seconds of waiting (IVR time included) from which the step applies.
    pub after_seconds: u32,
    /// The highest agent level offered from then on.
    pub max_level: u8,
}

/// What happens to a caller who reaches a limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LimitAction {
    /// Register a callback ticket; the caller keeps their place as a callback entry.
    Callback,
    /// Move the caller to another queue (`{ queue = "name" }`).
    Queue(String),
    /// Say goodbye and hang up.
    #[default]
    Goodbye,
}

/// A configuration mistake, naming the queue or agent at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("queue `{queue}`: {message}")]
    Queue { queue: String, message: String },
    #[error("agent `{agent}`: {message}")]
    Agent { agent: String, message: String },
}

/// A queue's configuration, checked and with durations and targets resolved.
#[derive(Debug, Clone)]
pub(super) struct QueueSpec {
    pub(super) name: String,
    pub(super) strategy: Strategy,
    pub(super) skills: Vec<String>,
    pub(super) ring_timeout: Duration,
    pub(super) wrap_up: Duration,
    /// Ordered by wait; the first is at zero, so every caller has a level limit.
    pub(super) escalation: Vec<(Duration, u8)>,
    pub(super) announce_every: Option<Duration>,
    pub(super) max_wait: Option<Duration>,
    pub(super) max_length: Option<usize>,
    pub(super) retry: Duration,
    pub(super) pause_on_no_answer: bool,
    pub(super) on_max_wait: Resolved,
    pub(super) on_full: Resolved,
    pub(super) on_no_agents: Resolved,
}

/// A limit action with its overflow queue as an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved {
    Callback,
    Overflow(usize),
    Goodbye,
}

impl QueueSpec {
    /// The highest agent level allowed once `steps` escalation steps were reached.
    pub(super) fn max_level(&self, steps: usize) -> u8 {
        match steps.checked_sub(1) {
            Some(last) if !self.escalation.is_empty() => self.escalation[last].1,
            _ => u8::MAX,
        }
    }

    /// How many escalation steps a caller who waited `waited` has reached.
    pub(super) fn steps_reached(&self, waited: Duration) -> usize {
        self.escalation
            .iter()
            .take_while(|(after, _)| *after <= waited)
            .count()
    }
}

/// Checks the configuration and resolves queue names; the first mistake is returned.
pub(super) fn compile(config: &AcdConfig) -> Result<Vec<QueueSpec>, ConfigError> {
    let mut agents = HashSet::new();
    for agent in &config.agents {
        if agent.id.is_empty() || !agents.insert(agent.id.as_str()) {
            return Err(ConfigError::Agent {
                agent: agent.id.clone(),
                message: "agent ids must be unique and not empty".into(),
            });
        }
    }
    let mut index = HashMap::new();
    for (i, queue) in config.queues.iter().enumerate() {
        if queue.name.is_empty() || index.insert(queue.name.as_str(), i).is_some() {
            return Err(fault(queue, "queue names must be unique and not empty"));
        }
    }
    config
        .queues
        .iter()
        .map(|queue| compile_queue(queue, config.wrap_up_seconds, &index))
        .collect()
}

fn compile_queue(
    queue: &QueueConfig,
    wrap_up_default: u32,
    index: &HashMap<&str, usize>,
) -> Result<QueueSpec, ConfigError> {
    if queue.ring_timeout_seconds == 0 {
        return Err(fault(queue, "ring_timeout_seconds must be above zero"));
    }
    if queue.announce_every_seconds == Some(0) {
        return Err(fault(queue, "announce_every_seconds must be above zero"));
    }
    if queue.service_level.percent > 100 || queue.service_level.seconds == 0 {
        return Err(fault(
            queue,
            "service_level needs a percent of 0 to 100 and seconds above zero",
        ));
    }
    // Zero would expire a caller again on every overflow into the queue.
    if queue.max_wait_seconds == Some(0) {
        return Err(fault(queue, "max_wait_seconds must be above zero"));
    }
    if queue.max_length == Some(0) {
        return Err(fault(queue, "max_length must be above zero"));
    }
    let escalation = escalation(queue)?;
    let resolve = |action: &LimitAction, setting: &str| match action {
        LimitAction::Callback => Ok(Resolved::Callback),
        LimitAction::Goodbye => Ok(Resolved::Goodbye),
        LimitAction::Queue(target) if *target == queue.name => Err(fault(
            queue,
            &format!("{setting} overflows to the queue itself"),
        )),
        LimitAction::Queue(target) => index
            .get(target.as_str())
            .map(|&i| Resolved::Overflow(i))
            .ok_or_else(|| fault(queue, &format!("{setting} names unknown queue `{target}`"))),
    };
    Ok(QueueSpec {
        name: queue.name.clone(),
        strategy: queue.strategy,
        skills: queue.skills.clone(),
        ring_timeout: seconds(queue.ring_timeout_seconds),
        wrap_up: seconds(queue.wrap_up_seconds.unwrap_or(wrap_up_default)),
        escalation,
        announce_every: queue.announce_every_seconds.map(seconds),
        max_wait: queue.max_wait_seconds.map(seconds),
        max_length: queue.max_length,
        retry: seconds(queue.retry_seconds),
        pause_on_no_answer: queue.pause_on_no_answer,
        on_max_wait: resolve(&queue.on_max_wait, "on_max_wait")?,
        on_full: resolve(&queue.on_full, "on_full")?,
        on_no_agents: resolve(&queue.on_no_agents, "on_no_agents")?,
    })
}

/// Escalation must start at zero and widen with time, or some caller would have no agents.
fn escalation(queue: &QueueConfig) -> Result<Vec<(Duration, u8)>, ConfigError> {
    let steps = &queue.escalation;
    if steps.first().is_some_and(|first| first.after_seconds != 0) {
        return Err(fault(
            queue,
            "the first escalation step must be at after_seconds = 0",
        ));
    }
    if steps
        .windows(2)
        .any(|w| w[1].after_seconds <= w[0].after_seconds || w[1].max_level <= w[0].max_level)
    {
        return Err(fault(
            queue,
            "escalation steps must grow in both after_seconds and max_level",
        ));
    }
    Ok(steps
        .iter()
        .map(|s| (seconds(s.after_seconds), s.max_level))
        .collect())
}

fn fault(queue: &QueueConfig, message: &str) -> ConfigError {
    ConfigError::Queue {
        queue: queue.name.clone(),
        message: message.to_owned(),
    }
}

fn seconds(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

fn default_ring_timeout() -> u32 {
    15
}

fn default_retry() -> u32 {
    5
}

fn default_true() -> bool {
    true
}
