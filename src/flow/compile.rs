//! Compiling a flow file: YAML to a `Flow` that cannot be invalid, with diagnostics.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use super::calendar::{self, Calendar};
use super::catalog::{Catalog, PromptCatalog};
use super::check;
use super::diagnostic::{Diagnostic, Severity};
use super::model::*;
use super::syntax::*;
use super::value::SayKind;

/// Variables every call has.
pub const BUILTIN_VARIABLES: [&str; 3] = ["caller", "customer", "language"];
/// Names targets use, so no node may have them.
const RESERVED_NAMES: [&str; 3] = ["back", "top", "repeat"];
const DTMF_KEYS: &str = "0123456789*#";

/// Compiles one flow file; warnings come with the flow, errors instead of it.
pub fn compile(
    source: &str,
    file: &Path,
    catalog: &Catalog,
    prompts: &dyn PromptCatalog,
) -> Result<(Flow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let syntax: FlowFile = match serde_saphyr::from_str(source) {
        Ok(syntax) => syntax,
        Err(e) => return Err(vec![yaml_error(file, &e)]),
    };
    let mut compiler = Compiler::new(file, catalog, prompts, &syntax);
    let flow = compiler.flow(&syntax, source);
    let mut diagnostics = compiler.diagnostics;
    if !diagnostics.iter().any(Diagnostic::is_error) {
        let locations: Vec<Location> = syntax.nodes.0.iter().map(|(k, _)| k.referenced).collect();
        diagnostics.extend(check::graph(&flow, &locations, file));
    }
    diagnostics.sort_by_key(|d| (d.line, d.column, d.severity));
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics)
    } else {
        Ok((flow, diagnostics))
    }
}

/// The version id of a flow source: file name and the start of its SHA-256.
pub fn version_of(file: &Path, source: &str) -> FlowVersion {
    let digest = Sha256::digest(source.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    FlowVersion(format!("{name}@{hash}"))
}

fn yaml_error(file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let at = e.location().unwrap_or(Location::UNKNOWN);
    let text = e.without_snippet().to_string();
    // The library appends the position; ours is in the diagnostic's own fields.
    let message = match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    Diagnostic::at(Severity::Error, file.to_owned(), at, message)
}

struct Compiler<'a> {
    file: PathBuf,
    catalog: &'a Catalog,
    prompts: &'a dyn PromptCatalog,
    diagnostics: Vec<Diagnostic>,
    names: HashMap<String, NodeId>,
    variables: HashSet<String>,
    /// Variables saved by secret collects: usable, never stored.
    secrets: HashSet<String>,
    calendars: HashMap<String, usize>,
    languages: Vec<String>,
    default_language: String,
    prompts_checked: HashSet<String>,
}

impl<'a> Compiler<'a> {
    fn new(
        file: &Path,
        catalog: &'a Catalog,
        prompts: &'a dyn PromptCatalog,
        syntax: &FlowFile,
    ) -> Self {
        let default_language = syntax.default_language.value.clone();
        let mut languages = vec![default_language.clone()];
        for lang in &syntax.languages {
            if !languages.contains(&lang.value) {
                languages.push(lang.value.clone());
            }
        }
        Compiler {
            file: file.to_owned(),
            catalog,
            prompts,
            diagnostics: Vec::new(),
            names: HashMap::new(),
            variables: BUILTIN_VARIABLES.iter().map(|s| s.to_string()).collect(),
            secrets: HashSet::new(),
            calendars: HashMap::new(),
            languages,
            default_language,
            prompts_checked: HashSet::new(),
        }
    }

    fn error(&mut self, at: Location, message: String) {
        self.diagnostics.push(Diagnostic::at(
            Severity::Error,
            self.file.clone(),
            at,
            message,
        ));
    }

    fn warning(&mut self, at: Location, message: String) {
        self.diagnostics.push(Diagnostic::at(
            Severity::Warning,
            self.file.clone(),
            at,
            message,
        ));
    }

    fn flow(&mut self, s: &FlowFile, source: &str) -> Flow {
        if !s
            .languages
            .iter()
            .any(|l| l.value == s.default_language.value)
        {
            let message = format!(
                "the default language {} is not among the flow's languages",
                s.default_language.value
            );
            self.error(s.default_language.referenced, message);
        }
        for (i, (name, node)) in s.nodes.0.iter().enumerate() {
            if RESERVED_NAMES.contains(&name.value.as_str()) {
                self.error(
                    name.referenced,
                    format!("'{}' is reserved and cannot name a node", name.value),
                );
            }
            self.names.insert(name.value.clone(), NodeId(i));
            if let NodeSyntax::Collect(c) = &node.value
                && c.secret
            {
                self.secrets.insert(c.save_as.value.clone());
            }
            if let Some(var) = saved_variable(&node.value) {
                self.variables.insert(var);
            }
        }
        let calendars = s.calendars.0.iter().enumerate().map(|(i, (name, cal))| {
            self.calendars.insert(name.value.clone(), i);
            self.calendar(cal)
        });
        let calendars: Vec<Calendar> = calendars.collect();
        let start = self.node_ref(&s.start);
        let top = s.top.as_ref().map_or(start, |t| self.node_ref(t));
        let global_keys = s.global_keys.0.iter().map(|(key, target)| {
            if key.value.chars().count() != 1 || !DTMF_KEYS.contains(key.value.as_str()) {
                self.error(
                    key.referenced,
                    format!("global key '{}' must be one of 0-9, * or #", key.value),
                );
            }
            (key.value.clone(), self.target(target, true))
        });
        let global_keys: Vec<(String, Target)> = global_keys.collect();
        let global_labels = s.global_labels.0.iter().map(|(key, label)| {
            if !global_keys.iter().any(|(g, _)| g == &key.value) {
                let message = format!("'{}' is not a global key of the flow", key.value);
                self.error(key.referenced, message);
            }
            (key.value.clone(), self.prompt(label))
        });
        let global_labels = global_labels.collect();
        let phrases = Phrases {
            r#for: self.phrase(&s.phrases.r#for),
            press: self.phrase(&s.phrases.press),
            you_entered: self.phrase(&s.phrases.you_entered),
            confirm: self.phrase(&s.phrases.confirm),
        };
        let mut nodes = Vec::new();
        for (name, node) in &s.nodes.0 {
            let kind = self.node(
                &name.value,
                node,
                &s.menu_defaults,
                &global_keys,
                &s.phrases,
            );
            nodes.push(Node {
                name: name.value.clone(),
                kind,
            });
        }
        Flow {
            id: s.id.value.clone(),
            version: version_of(&self.file, source),
            file: self.file.clone(),
            default_language: self.default_language.clone(),
            languages: self.languages.clone(),
            start,
            top,
            global_keys,
            global_labels,
            phrases,
            calendars,
            nodes,
        }
    }

    fn node(
        &mut self,
        name: &str,
        node: &Spanned<NodeSyntax>,
        defaults: &MenuDefaults,
        globals: &[(String, Target)],
        phrases: &PhrasesSyntax,
    ) -> NodeKind {
        match &node.value {
            NodeSyntax::Menu(m) => {
                NodeKind::Menu(self.menu(name, node.referenced, m, defaults, globals, phrases))
            }
            NodeSyntax::Play(p) => NodeKind::Play {
                prompts: p.prompts.iter().map(|id| self.prompt(id)).collect(),
                next: self.target(&p.next, false),
            },
            NodeSyntax::Say(say) => NodeKind::Say {
                parts: say.parts.iter().map(|part| self.say_part(part)).collect(),
                next: self.target(&say.next, false),
            },
            NodeSyntax::Collect(c) => NodeKind::Collect(self.collect(c, phrases)),
            NodeSyntax::Lookup(l) => NodeKind::Lookup(self.lookup(l)),
            NodeSyntax::Ticket(t) => NodeKind::Ticket(self.ticket(t)),
            NodeSyntax::Queue(q) => {
                if !self.catalog.queues.contains(&q.name.value) {
                    self.error(
                        q.name.referenced,
                        format!(
                            "queue '{}' is not defined in the configuration",
                            q.name.value
                        ),
                    );
                }
                NodeKind::Queue {
                    name: q.name.value.clone(),
                    priority: q.priority,
                    skills: q.skills.clone(),
                }
            }
            NodeSyntax::Transfer(t) => {
                let uri = &t.uri.value;
                if !(uri.starts_with("sip:") || uri.starts_with("sips:"))
                    || uri.contains(char::is_whitespace)
                {
                    self.error(
                        t.uri.referenced,
                        format!("transfer address '{uri}' is not a sip: or sips: URI"),
                    );
                }
                NodeKind::Transfer { uri: uri.clone() }
            }
            NodeSyntax::Branch(b) => NodeKind::Branch {
                condition: self.condition(&b.when),
                then: self.target(&b.then, false),
                otherwise: self.target(&b.r#else, false),
            },
            NodeSyntax::Goto(t) => NodeKind::Goto(self.target(t, false)),
            NodeSyntax::Hangup(h) => NodeKind::Hangup {
                prompt: h.prompt.as_ref().map(|p| self.prompt(p)),
            },
        }
    }

    fn menu(
        &mut self,
        name: &str,
        at: Location,
        m: &MenuSyntax,
        defaults: &MenuDefaults,
        globals: &[(String, Target)],
        phrases: &PhrasesSyntax,
    ) -> Menu {
        if m.items.value.len() > MAX_MENU_ITEMS {
            let message = format!(
                "menu '{name}' has {} items; at most {MAX_MENU_ITEMS} are allowed",
                m.items.value.len()
            );
            self.error(m.items.referenced, message);
        }
        let mut items: Vec<Item> = Vec::new();
        for item in &m.items.value {
            let key = &item.key.value;
            if key.is_empty()
                || key.chars().count() > 3
                || !key.chars().all(|c| DTMF_KEYS.contains(c))
            {
                self.error(
                    item.key.referenced,
                    format!("key '{key}' must be one to three of 0-9, * and #"),
                );
            } else if items.iter().any(|i| &i.key == key) {
                self.error(
                    item.key.referenced,
                    format!("key {key} is bound twice in menu '{name}'"),
                );
            } else if globals.iter().any(|(g, _)| g == key) {
                self.error(
                    item.key.referenced,
                    format!("key {key} in menu '{name}' is also a global key of the flow"),
                );
            } else if let Some((g, _)) = globals.iter().find(|(g, _)| key.starts_with(g.as_str())) {
                let message = format!(
                    "key {key} in menu '{name}' starts with the global key {g}, so it can never be chosen"
                );
                self.error(item.key.referenced, message);
            }
            let language = item.language.as_ref().map(|l| {
                if !self.languages.contains(&l.value) {
                    self.error(
                        l.referenced,
                        format!("language {} is not among the flow's languages", l.value),
                    );
                }
                l.value.clone()
            });
            items.push(Item {
                key: key.clone(),
                label: self.prompt(&item.label),
                target: self.target(&item.goto, true),
                language,
            });
        }
        match (&m.prompt, &m.announces) {
            (Some(prompt), Some(announced)) => {
                for key in &announced.value {
                    if !items.iter().any(|i| &i.key == key)
                        && !globals.iter().any(|(g, _)| g == key)
                    {
                        let message = format!(
                            "prompt '{}' announces key {key}, which menu '{name}' does not bind",
                            prompt.value
                        );
                        self.error(announced.referenced, message);
                    }
                }
                for item in &items {
                    if !announced.value.contains(&item.key) {
                        let message = format!(
                            "menu '{name}' binds key {}, which its prompt '{}' does not announce",
                            item.key, prompt.value
                        );
                        self.error(announced.referenced, message);
                    }
                }
            }
            (Some(prompt), None) => {
                let message = format!(
                    "menu '{name}' has a recorded prompt; list the keys it announces in 'announces'"
                );
                self.error(prompt.referenced, message);
            }
            (None, Some(announced)) => {
                let message = "'announces' only applies to a recorded 'prompt'".to_owned();
                self.error(announced.referenced, message);
            }
            (None, None) => {
                self.prompt(&phrases.r#for);
                self.prompt(&phrases.press);
            }
        }
        let no_input = self.retry(
            name,
            at,
            "no_input",
            m.no_input.as_ref().or(defaults.no_input.as_ref()),
        );
        let invalid = self.retry(
            name,
            at,
            "invalid",
            m.invalid.as_ref().or(defaults.invalid.as_ref()),
        );
        Menu {
            greeting: m.greeting.as_ref().map(|p| self.prompt(p)),
            prompt: m.prompt.as_ref().map(|p| self.prompt(p)),
            reprompt: m.reprompt.as_ref().map(|p| self.prompt(p)),
            items,
            timeout: self.seconds(m.timeout.as_ref().or(defaults.timeout.as_ref()), 5.0),
            inter_digit_timeout: self.seconds(
                m.inter_digit_timeout
                    .as_ref()
                    .or(defaults.inter_digit_timeout.as_ref()),
                2.0,
            ),
            barge_in: m.barge_in.or(defaults.barge_in).unwrap_or(true),
            no_input,
            invalid,
        }
    }

    fn retry(
        &mut self,
        name: &str,
        at: Location,
        what: &str,
        retry: Option<&RetrySyntax>,
    ) -> Retry {
        let Some(retry) = retry else {
            self.error(
                at,
                format!("menu '{name}' has no '{what}' action; set it here or in 'menu_defaults'"),
            );
            return Retry {
                prompt: None,
                tries: 1,
                then: Target::Top,
            };
        };
        if retry.tries.value == 0 {
            self.error(
                retry.tries.referenced,
                "tries must be at least 1".to_owned(),
            );
        }
        Retry {
            prompt: retry.prompt.as_ref().map(|p| self.prompt(p)),
            tries: retry.tries.value.max(1),
            then: self.target(&retry.then, true),
        }
    }

    fn say_part(&mut self, part: &SayPartSyntax) -> SayPart {
        let (var, kind) = match part {
            SayPartSyntax::Prompt(p) => return SayPart::Prompt(self.prompt(p)),
            SayPartSyntax::Each(each) => {
                self.variable(&each.variable);
                return SayPart::Each {
                    name: each.variable.value.clone(),
                    prefix: each.prefix.clone(),
                };
            }
            SayPartSyntax::Number(v) => (v, SayKind::Number),
            SayPartSyntax::Digits(v) => (v, SayKind::Digits),
            SayPartSyntax::Money(v) => (v, SayKind::Money),
            SayPartSyntax::Date(v) => (v, SayKind::Date),
            SayPartSyntax::Quantity(v) => (v, SayKind::Quantity),
        };
        self.variable(var);
        SayPart::Variable {
            name: var.value.clone(),
            kind,
        }
    }

    fn collect(&mut self, c: &CollectSyntax, phrases: &PhrasesSyntax) -> Collect {
        let (min, max) = (c.min_digits.value, c.max_digits.value);
        if max == 0 || max > 32 {
            self.error(
                c.max_digits.referenced,
                "max_digits must be between 1 and 32".to_owned(),
            );
        } else if min > max {
            self.error(
                c.min_digits.referenced,
                format!("min_digits {min} is more than max_digits {max}"),
            );
        }
        let terminator = match &c.terminator {
            None => Some('#'),
            Some(t) if t.value.is_empty() => None,
            Some(t) => {
                let mut chars = t.value.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) if DTMF_KEYS.contains(ch) => Some(ch),
                    _ => {
                        self.error(
                            t.referenced,
                            format!("terminator '{}' must be one of 0-9, * or #", t.value),
                        );
                        None
                    }
                }
            }
        };
        let rule = c.rule.as_ref().map(|r| match r.value {
            RuleSyntax::Luhn => Rule::Luhn,
            RuleSyntax::Range { min, max } => {
                if min > max {
                    self.error(r.referenced, format!("range {min} to {max} is empty"));
                }
                Rule::Range { min, max }
            }
        });
        if c.confirm {
            self.prompt(&phrases.you_entered);
            self.prompt(&phrases.confirm);
        }
        if c.tries.value == 0 {
            self.error(c.tries.referenced, "tries must be at least 1".to_owned());
        }
        Collect {
            prompt: self.prompt(&c.prompt),
            min_digits: min.into(),
            max_digits: max.into(),
            terminator,
            timeout: self.seconds(c.timeout.as_ref(), 5.0),
            inter_digit_timeout: self.seconds(c.inter_digit_timeout.as_ref(), 3.0),
            rule,
            invalid_prompt: c.invalid_prompt.as_ref().map(|p| self.prompt(p)),
            tries: c.tries.value.max(1),
            confirm: c.confirm,
            secret: c.secret,
            save_as: c.save_as.value.clone(),
            next: self.target(&c.next, false),
            on_fail: self.target(&c.on_fail, false),
        }
    }

    fn lookup(&mut self, l: &LookupSyntax) -> Lookup {
        if !self.catalog.lookups.contains(&l.name.value) {
            self.error(
                l.name.referenced,
                format!(
                    "lookup '{}' is not defined in the configuration",
                    l.name.value
                ),
            );
        }
        let params = l.params.0.iter().map(|(param, var)| {
            self.variable(var);
            (param.value.clone(), var.value.clone())
        });
        let params = params.collect();
        let on_error = self.target(&l.on_error, false);
        Lookup {
            name: l.name.value.clone(),
            params,
            timeout: self.seconds(l.timeout.as_ref(), 3.0),
            save_as: l.save_as.as_ref().unwrap_or(&l.name).value.clone(),
            identifies: l.identifies,
            next: self.target(&l.next, false),
            on_error,
            on_timeout: l
                .on_timeout
                .as_ref()
                .map_or(on_error, |t| self.target(t, false)),
            on_not_found: l
                .on_not_found
                .as_ref()
                .map_or(on_error, |t| self.target(t, false)),
        }
    }

    fn ticket(&mut self, t: &TicketSyntax) -> Ticket {
        match self.catalog.ticket_types.get(&t.kind.value) {
            None => {
                let message = format!(
                    "ticket type '{}' is not defined in the configuration",
                    t.kind.value
                );
                self.error(t.kind.referenced, message);
            }
            Some(declared) => {
                for (field, _) in &t.fields.0 {
                    if !declared.contains(&field.value) {
                        let message = format!(
                            "ticket type '{}' has no field '{}'",
                            t.kind.value, field.value
                        );
                        self.error(field.referenced, message);
                    }
                }
            }
        }
        let fields = t.fields.0.iter().map(|(field, var)| {
            self.variable(var);
            if self.secrets.contains(&var.value) {
                let message = format!(
                    "'{}' holds a secret collect's digits, which are never stored; \
                     a ticket field would store them",
                    var.value
                );
                self.error(var.referenced, message);
            }
            (field.value.clone(), var.value.clone())
        });
        let fields = fields.collect();
        let on_error = self.target(&t.on_error, false);
        Ticket {
            kind: t.kind.value.clone(),
            fields,
            timeout: self.seconds(t.timeout.as_ref(), 5.0),
            save_as: t
                .save_as
                .as_ref()
                .map_or("ticket".to_owned(), |s| s.value.clone()),
            next: self.target(&t.next, false),
            on_rejected: t
                .on_rejected
                .as_ref()
                .map_or(on_error, |r| self.target(r, false)),
            on_error,
        }
    }

    fn condition(&mut self, when: &Spanned<ConditionSyntax>) -> Condition {
        let at = when.referenced;
        let var = |c: &mut Self, name: &str| c.variable(&Spanned::new(name.to_owned(), at, at));
        match &when.value {
            ConditionSyntax::CallerKnown(known) => Condition::CallerKnown(*known),
            ConditionSyntax::IsSet(v) => {
                var(self, v);
                Condition::IsSet(v.clone())
            }
            ConditionSyntax::Equals { variable, value } => {
                var(self, variable);
                Condition::Equals {
                    variable: variable.clone(),
                    value: value.clone(),
                }
            }
            ConditionSyntax::LessThan { variable, value } => {
                var(self, variable);
                Condition::LessThan {
                    variable: variable.clone(),
                    value: *value,
                }
            }
            ConditionSyntax::Open(name) => match self.calendars.get(name) {
                Some(&i) => Condition::Open(i),
                None => {
                    self.error(at, format!("calendar '{name}' is not defined in this flow"));
                    Condition::Open(0)
                }
            },
            ConditionSyntax::Percent(p) => {
                if *p > 100 {
                    self.error(at, format!("a split of {p} percent is more than 100"));
                }
                Condition::Percent(*p)
            }
        }
    }

    fn calendar(&mut self, s: &CalendarSyntax) -> Calendar {
        let time_zone = s.time_zone.value.parse().unwrap_or_else(|_| {
            self.error(
                s.time_zone.referenced,
                format!("unknown time zone '{}'", s.time_zone.value),
            );
            chrono_tz::UTC
        });
        let mut weekly: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, spans) in &s.weekly.0 {
            let Some(weekday) = calendar::parse_weekday(&day.value) else {
                self.error(
                    day.referenced,
                    format!(
                        "'{}' is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                        day.value
                    ),
                );
                continue;
            };
            for span in spans {
                match calendar::parse_span(&span.value) {
                    Some(s) => weekly[weekday.num_days_from_monday() as usize].push(s),
                    None => self.error(
                        span.referenced,
                        format!("'{}' is not an opening span like 08:00-20:00", span.value),
                    ),
                }
            }
        }
        let mut closed = Vec::new();
        for date in &s.closed {
            match NaiveDate::parse_from_str(&date.value, "%Y-%m-%d") {
                Ok(d) => closed.push(d),
                Err(_) => self.error(
                    date.referenced,
                    format!("'{}' is not a date like 2025-12-25", date.value),
                ),
            }
        }
        let mut yearly = Vec::new();
        for day in &s.yearly {
            match calendar::parse_month_day(&day.value) {
                Some(md) => yearly.push(md),
                None => self.error(
                    day.referenced,
                    format!("'{}' is not a day of the year like 12-25", day.value),
                ),
            }
        }
        Calendar {
            time_zone,
            weekly,
            closed,
            yearly,
        }
    }

    fn seconds(&mut self, value: Option<&Spanned<f64>>, default: f64) -> Duration {
        let Some(v) = value else {
            return Duration::from_secs_f64(default);
        };
        if !(v.value > 0.0 && v.value <= 600.0) {
            self.error(
                v.referenced,
                format!("a timeout of {} seconds is not between 0 and 600", v.value),
            );
            return Duration::from_secs_f64(default);
        }
        Duration::from_secs_f64(v.value)
    }

    fn variable(&mut self, name: &Spanned<String>) {
        let known = self.variables.iter().any(|v| {
            name.value == *v
                || name
                    .value
                    .strip_prefix(v.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        if !known {
            self.error(
                name.referenced,
                format!("variable '{}' is never set in this flow", name.value),
            );
        }
    }

    fn node_ref(&mut self, name: &Spanned<String>) -> NodeId {
        match self.names.get(&name.value) {
            Some(&id) => id,
            None => {
                self.error(
                    name.referenced,
                    format!("there is no node '{}' in this flow", name.value),
                );
                NodeId(0)
            }
        }
    }

    fn target(&mut self, name: &Spanned<String>, in_menu: bool) -> Target {
        match name.value.as_str() {
            "back" => Target::Back,
            "top" => Target::Top,
            "repeat" if in_menu => Target::Repeat,
            "repeat" => {
                self.error(
                    name.referenced,
                    "'repeat' only applies to menu keys".to_owned(),
                );
                Target::Top
            }
            _ => Target::Node(self.node_ref(name)),
        }
    }

    fn phrase(&mut self, id: &Spanned<String>) -> PromptRef {
        self.prompt_ref(&id.value)
    }

    fn prompt_ref(&self, id: &str) -> PromptRef {
        let languages = self
            .languages
            .iter()
            .filter(|l| self.prompts.exists(l, id))
            .cloned()
            .collect();
        PromptRef {
            id: id.to_owned(),
            languages,
        }
    }

    /// Resolves a prompt and reports, once per id, the languages it is missing in.
    fn prompt(&mut self, id: &Spanned<String>) -> PromptRef {
        let prompt = self.prompt_ref(&id.value);
        if !self.prompts_checked.insert(id.value.clone()) {
            return prompt;
        }
        if !prompt.languages.contains(&self.default_language) {
            let message = format!(
                "prompt '{}' is missing in {}, the default language",
                id.value, self.default_language
            );
            self.error(id.referenced, message);
            return prompt;
        }
        let missing: BTreeSet<String> = self
            .languages
            .iter()
            .filter(|l| !prompt.languages.contains(l))
            .cloned()
            .collect();
        for lang in missing {
            let message = format!(
                "prompt '{}' is missing in {lang}; callers will hear the {} recording",
                id.value, self.default_language
            );
            self.warning(id.referenced, message);
        }
        prompt
    }
}

/// The variable a node sets, if any.
fn saved_variable(node: &NodeSyntax) -> Option<String> {
    match node {
        NodeSyntax::Collect(c) => Some(c.save_as.value.clone()),
        NodeSyntax::Lookup(l) => Some(l.save_as.as_ref().unwrap_or(&l.name).value.clone()),
        NodeSyntax::Ticket(t) => Some(
            t.save_as
                .as_ref()
                .map_or("ticket".to_owned(), |s| s.value.clone()),
        ),
        _ => None,
    }
}
