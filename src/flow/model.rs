//! A compiled flow: node references are indices, every limit holds.
//!
//! Only `compile` builds these, so a `Flow` in hand is a valid flow.

use std::path::PathBuf;
use std::time::Duration;

use super::calendar::Calendar;
use super::value::SayKind;

/// Most items a menu may have.
pub const MAX_MENU_ITEMS: usize = 5;
/// Most items a menu that only gives information should have.
pub const MAX_INFORMATION_ITEMS: usize = 3;

/// A compiled flow, shared by the calls that run it.
#[derive(Debug)]
pub struct Flow {
    pub(crate) id: String,
    pub(crate) version: FlowVersion,
    pub(crate) file: PathBuf,
    pub(crate) default_language: String,
    pub(crate) languages: Vec<String>,
    pub(crate) start: NodeId,
    pub(crate) top: NodeId,
    pub(crate) global_keys: Vec<(String, Target)>,
    /// Label prompts of global keys announced by generated menus.
    pub(crate) global_labels: Vec<(String, PromptRef)>,
    pub(crate) phrases: Phrases,
    pub(crate) calendars: Vec<Calendar>,
    pub(crate) nodes: Vec<Node>,
}

/// An immutable published version of a flow: file name and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowVersion(pub String);

impl std::fmt::Display for FlowVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Index of a node in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) usize);

/// Where a key or a node leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A node of the flow.
    Node(NodeId),
    /// The menu before the current one.
    Back,
    /// The flow's top node.
    Top,
    /// The current menu again, in full.
    Repeat,
}

/// A prompt id with the languages it exists in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub(crate) id: String,
    pub(crate) languages: Vec<String>,
}

/// The phrase prompts of generated announcements and read-backs.
#[derive(Debug, Clone)]
pub struct Phrases {
    pub(crate) r#for: PromptRef,
    pub(crate) press: PromptRef,
    pub(crate) you_entered: PromptRef,
    pub(crate) confirm: PromptRef,
}

/// A named node.
#[derive(Debug)]
pub struct Node {
    pub(crate) name: String,
    pub(crate) kind: NodeKind,
}

/// What a node does.
#[derive(Debug)]
pub enum NodeKind {
    Menu(Menu),
    Play {
        prompts: Vec<PromptRef>,
        next: Target,
    },
    Say {
        parts: Vec<SayPart>,
        next: Target,
    },
    Collect(Collect),
    Lookup(Lookup),
    Ticket(Ticket),
    Queue {
        name: String,
        priority: i32,
        skills: Vec<String>,
    },
    Transfer {
        uri: String,
    },
    Branch {
        condition: Condition,
        then: Target,
        otherwise: Target,
    },
    Goto(Target),
    Hangup {
        prompt: Option<PromptRef>,
    },
}

/// A menu: at most five items, keys bound once.
#[derive(Debug)]
pub struct Menu {
    pub(crate) greeting: Option<PromptRef>,
    /// Hand-recorded prompt; `None` means the announcement is generated from labels.
    pub(crate) prompt: Option<PromptRef>,
    pub(crate) reprompt: Option<PromptRef>,
    pub(crate) items: Vec<Item>,
    pub(crate) timeout: Duration,
    pub(crate) inter_digit_timeout: Duration,
    pub(crate) barge_in: bool,
    pub(crate) no_input: Retry,
    pub(crate) invalid: Retry,
}

/// A menu item.
#[derive(Debug)]
pub struct Item {
    pub(crate) key: String,
    pub(crate) label: PromptRef,
    pub(crate) target: Target,
    pub(crate) language: Option<String>,
}

/// A counter's prompt and final action.
#[derive(Debug, Clone)]
pub struct Retry {
    pub(crate) prompt: Option<PromptRef>,
    pub(crate) tries: u8,
    pub(crate) then: Target,
}

/// One part of a say node.
#[derive(Debug, Clone)]
pub enum SayPart {
    Prompt(PromptRef),
    Variable { name: String, kind: SayKind },
    Each { name: String, prefix: String },
}

/// What is recorded instead of the keys of a secret collect (its length hidden too).
pub const SECRET_DIGITS: &str = "••••";

/// A collect node.
#[derive(Debug)]
pub struct Collect {
    pub(crate) prompt: PromptRef,
    pub(crate) min_digits: usize,
    pub(crate) max_digits: usize,
    pub(crate) terminator: Option<char>,
    pub(crate) timeout: Duration,
    pub(crate) inter_digit_timeout: Duration,
    pub(crate) rule: Option<Rule>,
    pub(crate) invalid_prompt: Option<PromptRef>,
    pub(crate) tries: u8,
    pub(crate) confirm: bool,
    /// Keys pressed here are recorded only as [`SECRET_DIGITS`](super::SECRET_DIGITS).
    pub(crate) secret: bool,
    pub(crate) save_as: String,
    pub(crate) next: Target,
    pub(crate) on_fail: Target,
}

/// A validation rule for collected digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Luhn,
    Range { min: u64, max: u64 },
}

/// A lookup node.
#[derive(Debug)]
pub struct Lookup {
    pub(crate) name: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) save_as: String,
    pub(crate) identifies: bool,
    pub(crate) next: Target,
    pub(crate) on_error: Target,
    pub(crate) on_timeout: Target,
    pub(crate) on_not_found: Target,
}

/// A ticket node.
#[derive(Debug)]
pub struct Ticket {
    pub(crate) kind: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) save_as: String,
    pub(crate) next: Target,
    pub(crate) on_rejected: Target,
    pub(crate) on_error: Target,
}

/// A branch condition.
#[derive(Debug, Clone)]
pub enum Condition {
    CallerKnown(bool),
    IsSet(String),
    Equals {
        variable: String,
        value: String,
    },
    LessThan {
        variable: String,
        value: f64,
    },
    /// Index into `Flow::calendars`.
    Open(usize),
    Percent(u8),
}

impl Flow {
    /// The flow id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The published version of this flow.
    pub fn version(&self) -> &FlowVersion {
        &self.version
    }

    /// The file the flow was compiled from.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// The languages the flow speaks, default first.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// The default language.
    pub fn default_language(&self) -> &str {
        &self.default_language
    }

    /// Names of all nodes, in file order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        // NodeIds are only made by the compiler for this flow's nodes.
        &self.nodes[id.0]
    }
}

impl Node {
    /// Every target this node can lead to, including menu counters' final actions.
    pub(crate) fn targets(&self) -> Vec<Target> {
        match &self.kind {
            NodeKind::Menu(m) => {
                let mut t: Vec<Target> = m.items.iter().map(|i| i.target).collect();
                t.push(m.no_input.then);
                t.push(m.invalid.then);
                t
            }
            NodeKind::Play { next, .. } | NodeKind::Say { next, .. } => vec![*next],
            NodeKind::Collect(c) => vec![c.next, c.on_fail],
            NodeKind::Lookup(l) => vec![l.next, l.on_error, l.on_timeout, l.on_not_found],
            NodeKind::Ticket(t) => vec![t.next, t.on_rejected, t.on_error],
            NodeKind::Branch {
                then, otherwise, ..
            } => vec![*then, *otherwise],
            NodeKind::Goto(t) => vec![*t],
            NodeKind::Queue { .. } | NodeKind::Transfer { .. } | NodeKind::Hangup { .. } => vec![],
        }
    }
}
