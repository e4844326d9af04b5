//! The flow file as written: serde types for the YAML, with source positions.
//!
//! Nothing here is checked beyond YAML shape and field names; `compile` turns a
//! `FlowFile` into a `Flow` that cannot be invalid.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A whole flow file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// Flow id, unique among the flows of a directory.
    pub id: Spanned<String>,
    /// Language used when a prompt is missing in the caller's language.
    pub default_language: Spanned<String>,
    /// Languages this flow speaks.
    pub languages: Vec<Spanned<String>>,
    /// The node a call starts at.
    pub start: Spanned<String>,
    /// The node `top` goes to; the start node when absent.
    #[serde(default)]
    pub top: Option<Spanned<String>>,
    /// Keys that work in every menu of the flow, e.g. `"0": operator`.
    #[serde(default)]
    pub global_keys: SpannedMap<Spanned<String>>,
    /// Label prompts announcing global keys after the items of generated menus.
    #[serde(default)]
    pub global_labels: SpannedMap<Spanned<String>>,
    /// Settings shared by every menu unless the menu sets its own.
    #[serde(default)]
    pub menu_defaults: MenuDefaults,
    /// Phrase prompts used by generated announcements and read-backs.
    #[serde(default)]
    pub phrases: PhrasesSyntax,
    /// Business-hour calendars by name.
    #[serde(default)]
    pub calendars: SpannedMap<CalendarSyntax>,
    /// The nodes by name, in file order.
    pub nodes: SpannedMap<Spanned<NodeSyntax>>,
    /// Flow tests; read by the test runner, ignored by the compiler.
    #[serde(default, rename = "tests")]
    pub _tests: Option<IgnoredAny>,
}

/// Menu settings a flow sets once for all its menus.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuDefaults {
    pub timeout: Option<Spanned<f64>>,
    pub inter_digit_timeout: Option<Spanned<f64>>,
    pub barge_in: Option<bool>,
    pub no_input: Option<RetrySyntax>,
    pub invalid: Option<RetrySyntax>,
}

/// Phrase prompt ids; each has a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhrasesSyntax {
    /// "For" in "for balance, press 1".
    pub r#for: Spanned<String>,
    /// "press" in "for balance, press 1".
    pub press: Spanned<String>,
    /// "You entered" before a read-back.
    pub you_entered: Spanned<String>,
    /// "Press 1 to confirm, 2 to re-enter".
    pub confirm: Spanned<String>,
}

impl Default for PhrasesSyntax {
    fn default() -> Self {
        let unknown = |s: &str| Spanned::new(s.to_owned(), Location::UNKNOWN, Location::UNKNOWN);
        PhrasesSyntax {
            r#for: unknown("phrase/for"),
            press: unknown("phrase/press"),
            you_entered: unknown("phrase/you_entered"),
            confirm: unknown("phrase/confirm"),
        }
    }
}

/// Weekly opening hours, dated closures and yearly holidays in a time zone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSyntax {
    /// IANA time zone, e.g. `Europe/Kyiv`.
    pub time_zone: Spanned<String>,
    /// Weekday (`mon`..`sun`) to opening spans like `08:00-20:00`.
    #[serde(default)]
    pub weekly: SpannedMap<Vec<Spanned<String>>>,
    /// Dated closures, `YYYY-MM-DD`.
    #[serde(default)]
    pub closed: Vec<Spanned<String>>,
    /// Holidays closed every year, `MM-DD`.
    #[serde(default)]
    pub yearly: Vec<Spanned<String>>,
}

/// One node; the YAML key names its kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeSyntax {
    Menu(MenuSyntax),
    Play(PlaySyntax),
    Say(SaySyntax),
    Collect(CollectSyntax),
    Lookup(LookupSyntax),
    Ticket(TicketSyntax),
    Queue(QueueSyntax),
    Transfer(TransferSyntax),
    Branch(BranchSyntax),
    Goto(Spanned<String>),
    Hangup(HangupSyntax),
}

/// A menu node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuSyntax {
    /// Played once per call, the first time the menu is entered.
    pub greeting: Option<Spanned<String>>,
    /// A hand-recorded menu prompt; generated from the labels when absent.
    pub prompt: Option<Spanned<String>>,
    /// The keys a hand-recorded prompt announces.
    pub announces: Option<Spanned<Vec<String>>>,
    /// A short prompt played instead of the full one after the first play.
    pub reprompt: Option<Spanned<String>>,
    /// The menu items, at most five.
    pub items: Spanned<Vec<ItemSyntax>>,
    pub timeout: Option<Spanned<f64>>,
    pub inter_digit_timeout: Option<Spanned<f64>>,
    pub barge_in: Option<bool>,
    pub no_input: Option<RetrySyntax>,
    pub invalid: Option<RetrySyntax>,
}

/// A menu item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSyntax {
    /// DTMF keys, e.g. `"1"`.
    pub key: Spanned<String>,
    /// Label prompt used in the generated announcement.
    pub label: Spanned<String>,
    /// Where the item leads.
    pub goto: Spanned<String>,
    /// Choosing the item switches the call to this language; it is announced in it too.
    pub language: Option<Spanned<String>>,
}

/// What a menu does on no input or invalid input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySyntax {
    /// Played before the re-prompt.
    pub prompt: Option<Spanned<String>>,
    /// After this many, `then` runs.
    #[serde(default = "default_tries")]
    pub tries: Spanned<u8>,
    /// The final action.
    pub then: Spanned<String>,
}

fn default_tries() -> Spanned<u8> {
    Spanned::new(3, Location::UNKNOWN, Location::UNKNOWN)
}

/// A play node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaySyntax {
    pub prompts: Vec<Spanned<String>>,
    pub next: Spanned<String>,
}

/// A say node: prompts and variables spoken in sequence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaySyntax {
    pub parts: Vec<SayPartSyntax>,
    pub next: Spanned<String>,
}

/// One part of a say node; the value names a variable except for `prompt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SayPartSyntax {
    Prompt(Spanned<String>),
    Number(Spanned<String>),
    Digits(Spanned<String>),
    Money(Spanned<String>),
    Date(Spanned<String>),
    Quantity(Spanned<String>),
    /// Each text of a variable (or a list of them) as the prompt `prefix + text`.
    Each(EachSyntax),
}

/// `each: { variable, prefix }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EachSyntax {
    pub variable: Spanned<String>,
    pub prefix: String,
}

/// A collect node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSyntax {
    pub prompt: Spanned<String>,
    #[serde(default = "one")]
    pub min_digits: Spanned<u8>,
    pub max_digits: Spanned<u8>,
    /// Ends input early; `#` when absent.
    pub terminator: Option<Spanned<String>>,
    pub timeout: Option<Spanned<f64>>,
    pub inter_digit_timeout: Option<Spanned<f64>>,
    pub rule: Option<Spanned<RuleSyntax>>,
    pub invalid_prompt: Option<Spanned<String>>,
    #[serde(default = "default_tries")]
    pub tries: Spanned<u8>,
    #[serde(default)]
    pub confirm: bool,
    /// The digits (a PIN) are used by the flow but never stored or shown.
    #[serde(default)]
    pub secret: bool,
    pub save_as: Spanned<String>,
    pub next: Spanned<String>,
    pub on_fail: Spanned<String>,
}

fn one() -> Spanned<u8> {
    Spanned::new(1, Location::UNKNOWN, Location::UNKNOWN)
}

/// A validation rule for collected digits.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSyntax {
    /// The Luhn check digit (card and many account numbers).
    Luhn,
    /// The digits read as a number lie in `[min, max]`.
    Range { min: u64, max: u64 },
}

/// A lookup node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSyntax {
    pub name: Spanned<String>,
    #[serde(default)]
    pub params: SpannedMap<Spanned<String>>,
    pub timeout: Option<Spanned<f64>>,
    /// Results are stored as `<save_as>.<field>`; the lookup name when absent.
    pub save_as: Option<Spanned<String>>,
    /// The result's `customer` field identifies the caller.
    #[serde(default)]
    pub identifies: bool,
    pub next: Spanned<String>,
    pub on_error: Spanned<String>,
    pub on_timeout: Option<Spanned<String>>,
    pub on_not_found: Option<Spanned<String>>,
}

/// A ticket node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSyntax {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub fields: SpannedMap<Spanned<String>>,
    pub timeout: Option<Spanned<f64>>,
    /// The ticket number variable; `ticket` when absent.
    pub save_as: Option<Spanned<String>>,
    pub next: Spanned<String>,
    pub on_rejected: Option<Spanned<String>>,
    pub on_error: Spanned<String>,
}

/// A queue node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSyntax {
    pub name: Spanned<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub skills: Vec<String>,
}

/// A transfer node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSyntax {
    pub uri: Spanned<String>,
}

/// A branch node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchSyntax {
    pub when: Spanned<ConditionSyntax>,
    pub then: Spanned<String>,
    pub r#else: Spanned<String>,
}

/// A branch condition.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionSyntax {
    /// The caller is (true) or is not (false) a known customer.
    CallerKnown(bool),
    /// A variable is set.
    IsSet(String),
    /// A variable equals a text.
    Equals { variable: String, value: String },
    /// A variable, read as a number, is less than a value.
    LessThan { variable: String, value: f64 },
    /// A named calendar is open now.
    Open(String),
    /// This share of calls, in percent, takes `then`.
    Percent(u8),
}

/// A hangup node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HangupSyntax {
    pub prompt: Option<Spanned<String>>,
}

/// A YAML mapping with string keys kept in file order, keys with their positions.
#[derive(Debug)]
pub struct SpannedMap<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for SpannedMap<V> {
    fn default() -> Self {
        SpannedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SpannedMap<V> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = SpannedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(SpannedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}
