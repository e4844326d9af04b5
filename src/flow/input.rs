//! The caller's keys in menus and collect nodes: barge-in, timeouts, counters.

use std::sync::Arc;
use std::time::Instant;

use super::call::{Call, CollectState, MenuState, PathStep, Prompt, State};
use super::model::*;
use super::value::Value;
use crate::say::Sayable;

impl Call {
    /// Enters a menu: the greeting the first time, the full prompt on first play or `full`.
    pub(super) fn enter_menu(&mut self, id: NodeId, full: bool) {
        match self.menus.iter().position(|&m| m == id) {
            Some(i) => self.menus.truncate(i + 1),
            None => self.menus.push(id),
        }
        let first = self.greeted.insert(id);
        let prompts = self.menu_prompts(id, first, first || full, None);
        let play = self.play(prompts, self.menu(id).barge_in);
        self.state = State::Menu(MenuState {
            node: id,
            play: Some(play),
            digits: String::new(),
            deadline: None,
            no_input: 0,
            invalid: 0,
        });
    }

    /// The prompts of a menu: greeting, a counter's prompt, then the full or short prompt.
    fn menu_prompts(
        &self,
        id: NodeId,
        greet: bool,
        full: bool,
        before: Option<&PromptRef>,
    ) -> Vec<Prompt> {
        let menu = self.menu(id);
        let mut prompts = Vec::new();
        if greet && let Some(g) = &menu.greeting {
            prompts.push(self.file(g, None));
        }
        if let Some(b) = before {
            prompts.push(self.file(b, None));
        }
        match (&menu.reprompt, &menu.prompt) {
            (Some(short), _) if !full => prompts.push(self.file(short, None)),
            (_, Some(recorded)) => prompts.push(self.file(recorded, None)),
            (_, None) => prompts.extend(self.announcement(menu)),
        }
        prompts
    }

    /// "For <label>, press <key>" for every item and labelled global key.
    fn announcement(&self, menu: &Menu) -> Vec<Prompt> {
        let phrases = &self.flow.phrases;
        let items = menu
            .items
            .iter()
            .map(|i| (i.key.as_str(), &i.label, i.language.as_deref()));
        let globals = self
            .flow
            .global_labels
            .iter()
            .map(|(k, label)| (k.as_str(), label, None));
        let mut prompts = Vec::new();
        for (key, label, language) in items.chain(globals) {
            let lang = language.unwrap_or(&self.language).to_owned();
            prompts.push(self.file(&phrases.r#for, Some(&lang)));
            prompts.push(self.file(label, Some(&lang)));
            prompts.push(self.file(&phrases.press, Some(&lang)));
            prompts.push(Prompt::Say {
                value: Sayable::Digits(key.to_owned()),
                language: lang,
            });
        }
        prompts
    }

    pub(super) fn menu_digit(&mut self, now: Instant, digit: char) {
        let State::Menu(m) = &mut self.state else {
            return;
        };
        let id = m.node;
        let flow = Arc::clone(&self.flow);
        let NodeKind::Menu(menu) = &flow.node(id).kind else {
            return;
        };
        if let Some(play) = m.play {
            if !menu.barge_in {
                return;
            }
            m.play = None;
            self.stop_playback(play);
        }
        let State::Menu(m) = &mut self.state else {
            return;
        };
        if m.digits.is_empty()
            && let Some((key, target)) = flow.global_keys.iter().find(|(k, _)| k.starts_with(digit))
        {
            self.path.push(PathStep::Key(key.clone()));
            if *target == Target::Back {
                // Back from a menu leaves this menu for the one before it.
                self.menus.pop();
                if self.menus.is_empty() {
                    self.menus.push(id);
                }
            }
            self.go(now, *target);
            return;
        }
        m.digits.push(digit);
        let digits = m.digits.clone();
        let longer = menu
            .items
            .iter()
            .any(|i| i.key.len() > digits.len() && i.key.starts_with(&digits));
        if longer {
            m.deadline = Some(now + menu.inter_digit_timeout);
        } else {
            self.menu_choose(now, id, &digits);
        }
    }

    pub(super) fn menu_timeout(&mut self, now: Instant) {
        let State::Menu(m) = &mut self.state else {
            return;
        };
        let id = m.node;
        if m.digits.is_empty() {
            m.no_input += 1;
            let count = m.no_input;
            let retry = self.menu(id).no_input.clone();
            self.menu_retry(now, id, count, &retry);
        } else {
            let digits = std::mem::take(&mut m.digits);
            self.menu_choose(now, id, &digits);
        }
    }

    /// Acts on complete input: the item bound to it, or the invalid counter.
    fn menu_choose(&mut self, now: Instant, id: NodeId, digits: &str) {
        let flow = Arc::clone(&self.flow);
        let NodeKind::Menu(menu) = &flow.node(id).kind else {
            return;
        };
        match menu.items.iter().find(|i| i.key == digits) {
            Some(item) => {
                self.path.push(PathStep::Key(item.key.clone()));
                if let Some(lang) = &item.language {
                    self.language = lang.clone();
                    self.vars
                        .insert("language".into(), Value::Text(lang.clone()));
                }
                self.go(now, item.target);
            }
            None => {
                let State::Menu(m) = &mut self.state else {
                    return;
                };
                m.digits.clear();
                m.invalid += 1;
                let count = m.invalid;
                self.menu_retry(now, id, count, &menu.invalid);
            }
        }
    }

    /// Re-prompts after no input or invalid input, or takes the final action.
    fn menu_retry(&mut self, now: Instant, id: NodeId, count: u8, retry: &Retry) {
        if count >= retry.tries {
            self.go(now, retry.then);
            return;
        }
        let prompts = self.menu_prompts(id, false, false, retry.prompt.as_ref());
        let play = self.play(prompts, self.menu(id).barge_in);
        if let State::Menu(m) = &mut self.state {
            m.play = Some(play);
            m.deadline = None;
        }
    }

    pub(super) fn collect_digit(&mut self, now: Instant, digit: char) {
        let State::Collect(c) = &mut self.state else {
            return;
        };
        let id = c.node;
        if let Some(play) = c.play.take() {
            self.stop_playback(play);
        }
        let flow = Arc::clone(&self.flow);
        let NodeKind::Collect(node) = &flow.node(id).kind else {
            return;
        };
        let State::Collect(c) = &mut self.state else {
            return;
        };
        if let Some(entered) = c.confirming.clone() {
            match digit {
                '1' => self.collect_done(now, node, entered),
                '2' => self.collect_ask(node, None),
                _ => self.collect_confirm(entered),
            }
            return;
        }
        if Some(digit) == node.terminator {
            let digits = std::mem::take(&mut c.digits);
            self.collect_check(now, node, digits);
            return;
        }
        c.digits.push(digit);
        if c.digits.len() >= node.max_digits {
            let digits = std::mem::take(&mut c.digits);
            self.collect_check(now, node, digits);
        } else {
            c.deadline = Some(now + node.inter_digit_timeout);
        }
    }

    pub(super) fn collect_timeout(&mut self, now: Instant) {
        let State::Collect(c) = &mut self.state else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let NodeKind::Collect(node) = &flow.node(c.node).kind else {
            return;
        };
        if c.digits.is_empty() {
            // No input, or silence at a confirmation.
            self.collect_failed(now, node);
        } else {
            let digits = std::mem::take(&mut c.digits);
            self.collect_check(now, node, digits);
        }
    }

    /// Validates complete input; reads it back when the node confirms.
    fn collect_check(&mut self, now: Instant, node: &Collect, digits: String) {
        let recorded = match node.secret {
            true => SECRET_DIGITS.to_owned(),
            false => digits.clone(),
        };
        self.path.push(PathStep::Key(recorded));
        if !valid(node, &digits) {
            self.collect_failed(now, node);
        } else if node.confirm {
            self.collect_confirm(digits);
        } else {
            self.collect_done(now, node, digits);
        }
    }

    fn collect_done(&mut self, now: Instant, node: &Collect, digits: String) {
        self.vars.insert(node.save_as.clone(), Value::Text(digits));
        self.go(now, node.next);
    }

    fn collect_failed(&mut self, now: Instant, node: &Collect) {
        let State::Collect(c) = &mut self.state else {
            return;
        };
        c.failures += 1;
        if c.failures >= node.tries {
            self.go(now, node.on_fail);
        } else {
            self.collect_ask(node, node.invalid_prompt.as_ref());
        }
    }

    /// Asks for the digits again, after an optional prompt saying what went wrong.
    fn collect_ask(&mut self, node: &Collect, before: Option<&PromptRef>) {
        let mut prompts: Vec<Prompt> = before.map(|p| self.file(p, None)).into_iter().collect();
        prompts.push(self.file(&node.prompt, None));
        let play = self.play(prompts, true);
        if let State::Collect(c) = &mut self.state {
            *c = CollectState {
                play: Some(play),
                digits: String::new(),
                deadline: None,
                confirming: None,
                ..*c
            };
        }
    }

    /// "You entered 1 2 3; press 1 to confirm, 2 to re-enter."
    fn collect_confirm(&mut self, digits: String) {
        let phrases = &self.flow.phrases;
        let prompts = vec![
            self.file(&phrases.you_entered, None),
            self.say(Sayable::Digits(digits.clone())),
            self.file(&phrases.confirm, None),
        ];
        let play = self.play(prompts, true);
        if let State::Collect(c) = &mut self.state {
            c.play = Some(play);
            c.deadline = None;
            c.digits.clear();
            c.confirming = Some(digits);
        }
    }
}

/// Whether collected digits satisfy the node's length and rule.
fn valid(node: &Collect, digits: &str) -> bool {
    if digits.len() < node.min_digits || digits.len() > node.max_digits {
        return false;
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    match node.rule {
        None => true,
        Some(Rule::Range { min, max }) => digits
            .parse::<u64>()
            .is_ok_and(|n| (min..=max).contains(&n)),
        Some(Rule::Luhn) => luhn(digits),
    }
}

/// The Luhn check used by card and many account numbers; a few lines, no crate needed.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}
