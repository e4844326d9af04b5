//! The interpreter on a virtual clock: timeouts, counters, barge-in, global keys,
//! hours across a time zone, CRM failures and ticket rejection.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::*;
use crate::say::Sayable;

const FLOW: &str = r##"id: t
default_language: en
languages: [en, uk]
start: hours
top: main
global_keys: { "0": operator, "*": repeat, "#": back }
calendars:
  office:
    time_zone: Europe/Kyiv
    weekly:
      mon: ["08:00-20:00"]
      tue: ["08:00-20:00"]
      wed: ["08:00-20:00"]
      thu: ["08:00-20:00"]
      fri: ["08:00-20:00"]
    closed: ["2025-03-04"]
    yearly: ["08-24"]
menu_defaults:
  timeout: 5
  inter_digit_timeout: 2
  no_input: { prompt: p/no_input, tries: 3, then: operator }
  invalid: { prompt: p/invalid, tries: 2, then: bye }
nodes:
  hours:
    branch: { when: { open: office }, then: main, else: closed }
  closed:
    hangup: { prompt: p/closed }
  main:
    menu:
      greeting: p/greeting
      reprompt: p/short
      items:
        - { key: "1", label: l/balance, goto: balance }
        - { key: "2", label: l/sub, goto: sub }
        - { key: "3", label: l/meter, goto: reading }
        - { key: "5", label: l/five, goto: info }
        - { key: "55", label: l/fifty_five, goto: bye }
  sub:
    menu:
      prompt: p/en_only
      announces: ["1"]
      barge_in: false
      items:
        - { key: "1", label: l/one, goto: bye }
  info:
    play: { prompts: [p/info], next: back }
  balance:
    lookup: { name: balance, params: { customer: customer }, timeout: 3, next: say_balance, on_error: sorry }
  say_balance:
    say: { parts: [ { prompt: p/balance_is }, { money: balance.amount } ], next: main }
  sorry:
    play: { prompts: [p/sorry], next: operator }
  reading:
    collect:
      prompt: p/enter_reading
      max_digits: 6
      confirm: true
      invalid_prompt: p/bad
      save_as: reading
      next: submit
      on_fail: operator
  submit:
    ticket: { kind: meter_reading, fields: { reading: reading }, next: done, on_rejected: too_low, on_error: sorry }
  done:
    say: { parts: [ { prompt: p/ticket_is }, { digits: ticket } ], next: main }
  too_low:
    play: { prompts: [p/too_low], next: reading }
  operator:
    queue: { name: support, priority: 1, skills: [billing] }
  bye:
    hangup: { prompt: p/bye }
"##;

struct Prompts;

impl PromptCatalog for Prompts {
    fn exists(&self, language: &str, id: &str) -> bool {
        !(language == "uk" && id == "p/en_only")
    }
}

fn flow() -> Arc<Flow> {
    let catalog = Catalog {
        lookups: ["balance".to_owned()].into(),
        ticket_types: [("meter_reading".to_owned(), ["reading".to_owned()].into())].into(),
        queues: ["support".to_owned()].into(),
    };
    let (flow, warnings) = compile(FLOW, Path::new("t.yaml"), &catalog, &Prompts).unwrap();
    assert_eq!(
        warnings.len(),
        1,
        "only the English-only prompt: {warnings:?}"
    );
    Arc::new(flow)
}

/// Monday 2025-03-03, 10:00 in Kyiv.
const OPEN: &str = "2025-03-03T08:00:00Z";

fn start_at(utc: &str, language: Option<&str>) -> (Call, Instant) {
    let t0 = Instant::now();
    let ctx = CallContext {
        caller: "+380441234567".into(),
        customer: Some("c1".into()),
        language: language.map(str::to_owned),
        now_utc: utc.parse::<DateTime<Utc>>().unwrap(),
        split_roll: 0,
    };
    (Call::start(flow(), ctx, t0), t0)
}

fn actions(call: &mut Call) -> Vec<Action> {
    std::iter::from_fn(|| call.poll_action()).collect()
}

fn file(id: &str) -> Prompt {
    Prompt::File {
        id: id.into(),
        language: "en".into(),
    }
}

/// The prompt files of the only action, which must be a Play; returns its id.
fn played(actions: &[Action]) -> (PlayId, Vec<String>) {
    match actions {
        [Action::Play { id, prompts, .. }] => (
            *id,
            prompts
                .iter()
                .map(|p| match p {
                    Prompt::File { id, .. } => id.clone(),
                    Prompt::Say { value, .. } => format!("say {value:?}"),
                })
                .collect(),
        ),
        other => panic!("expected one Play, got {other:?}"),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Starts in the open main menu and lets the first prompt finish at t0 + 1 s.
fn in_main_menu() -> (Call, Instant) {
    let (mut call, t0) = start_at(OPEN, None);
    let (id, _) = played(&actions(&mut call));
    call.handle_playback_finished(t0 + secs(1), id);
    assert_eq!(actions(&mut call), []);
    (call, t0)
}

#[test]
fn menu_greets_once_and_announces_items_generated_from_labels() {
    let (mut call, _) = start_at(OPEN, None);
    let (_, prompts) = played(&actions(&mut call));
    assert_eq!(
        prompts[..5],
        [
            "p/greeting",
            "phrase/for",
            "l/balance",
            "phrase/press",
            "say Digits(\"1\")"
        ]
    );
    assert_eq!(prompts.len(), 1 + 5 * 4);
    assert_eq!(
        call.path(),
        [
            PathStep::Node("hours".into()),
            PathStep::Node("main".into())
        ]
    );
}

#[test]
fn first_digit_timeout_starts_when_the_prompt_ends_and_reprompts_short() {
    let (mut call, t0) = in_main_menu();
    assert_eq!(call.poll_timeout(), Some(t0 + secs(6)));
    call.handle_timeout(t0 + secs(5));
    assert_eq!(actions(&mut call), [], "not yet due");
    call.handle_timeout(t0 + secs(6));
    let (_, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/no_input", "p/short"]);
    assert_eq!(call.poll_timeout(), None, "no timer while the prompt plays");
}

#[test]
fn no_input_and_invalid_input_are_counted_separately() {
    let (mut call, t0) = in_main_menu();
    let mut now = t0 + secs(2);
    call.handle_digit(now, '9');
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/invalid", "p/short"]);
    for _ in 0..2 {
        call.handle_playback_finished(now, id);
        now += secs(5);
        call.handle_timeout(now);
        let (id2, prompts) = played(&actions(&mut call));
        assert_eq!(
            prompts,
            ["p/no_input", "p/short"],
            "two no-inputs of three still re-prompt"
        );
        call.handle_playback_finished(now, id2);
        now += secs(1);
        // The second invalid key is the last try for invalid input.
        if now > t0 + secs(12) {
            call.handle_digit(now, '8');
            let (_, prompts) = played(&actions(&mut call));
            assert_eq!(prompts, ["p/bye"]);
            return;
        }
    }
    panic!("the loop returns on the second invalid key");
}

#[test]
fn exhausted_no_input_takes_its_own_final_action() {
    let (mut call, t0) = in_main_menu();
    let mut now = t0 + secs(1);
    for _ in 0..2 {
        now += secs(5);
        call.handle_timeout(now);
        let (id, _) = played(&actions(&mut call));
        call.handle_playback_finished(now, id);
    }
    now += secs(5);
    call.handle_timeout(now);
    match actions(&mut call).as_slice() {
        [
            Action::Enqueue {
                queue,
                priority,
                skills,
                context,
            },
        ] => {
            assert_eq!(
                (queue.as_str(), *priority, skills.as_slice()),
                ("support", 1, ["billing".to_owned()].as_slice())
            );
            assert_eq!(context.customer.as_deref(), Some("c1"));
            assert!(context.flow_version.starts_with("t.yaml@"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(call.outcome(), Some(Outcome::ToAgent));
}

#[test]
fn barge_in_stops_the_prompt_and_takes_the_key() {
    let (mut call, t0) = start_at(OPEN, None);
    let (id, _) = played(&actions(&mut call));
    call.handle_digit(t0 + secs(1), '1');
    let mut params = Values::new();
    params.insert("customer".into(), Value::Text("c1".into()));
    assert_eq!(
        actions(&mut call),
        [
            Action::StopPlayback { id },
            Action::Lookup {
                name: "balance".into(),
                params
            }
        ]
    );
    assert_eq!(call.path().last(), Some(&PathStep::Node("balance".into())));
}

#[test]
fn without_barge_in_keys_during_the_prompt_are_ignored() {
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '2');
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/en_only"]);
    call.handle_digit(t0 + secs(3), '1');
    assert_eq!(actions(&mut call), []);
    call.handle_playback_finished(t0 + secs(4), id);
    call.handle_digit(t0 + secs(5), '1');
    assert_eq!(played(&actions(&mut call)).1, ["p/bye"]);
}

#[test]
fn global_keys_repeat_in_full_go_back_and_reach_an_operator() {
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '*');
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(
        prompts[0], "phrase/for",
        "repeat plays the full menu without the greeting"
    );
    call.handle_playback_finished(t0 + secs(3), id);
    call.handle_digit(t0 + secs(4), '2');
    let (id, _) = played(&actions(&mut call));
    call.handle_playback_finished(t0 + secs(5), id);
    call.handle_digit(t0 + secs(6), '#');
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/short"], "back returns to the main menu");
    call.handle_playback_finished(t0 + secs(7), id);
    call.handle_digit(t0 + secs(8), '0');
    assert!(matches!(
        actions(&mut call).as_slice(),
        [Action::Enqueue { .. }]
    ));
    let keys: Vec<&PathStep> = call
        .path()
        .iter()
        .filter(|s| matches!(s, PathStep::Key(_)))
        .collect();
    assert_eq!(
        keys,
        [
            &PathStep::Key("*".into()),
            &PathStep::Key("2".into()),
            &PathStep::Key("#".into()),
            &PathStep::Key("0".into())
        ]
    );
}

#[test]
fn a_key_that_starts_a_longer_key_waits_for_the_inter_digit_timeout() {
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '5');
    assert_eq!(actions(&mut call), []);
    assert_eq!(call.poll_timeout(), Some(t0 + secs(4)));
    call.handle_timeout(t0 + secs(4));
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/info"]);
    call.handle_playback_finished(t0 + secs(5), id);
    assert_eq!(
        played(&actions(&mut call)).1,
        ["p/short"],
        "the info item goes back to the menu"
    );
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '5');
    call.handle_digit(t0 + secs(3), '5');
    assert_eq!(played(&actions(&mut call)).1, ["p/bye"]);
}

#[test]
fn business_hours_are_judged_in_the_calendar_time_zone_with_holidays() {
    // 07:30 in Kyiv on a Monday: closed although it is 05:30 UTC in a working week.
    let (mut call, _) = start_at("2025-03-03T05:30:00Z", None);
    assert_eq!(played(&actions(&mut call)).1, ["p/closed"]);
    // 08:30 in Kyiv.
    let (mut call, _) = start_at("2025-03-03T06:30:00Z", None);
    assert_eq!(played(&actions(&mut call)).1[0], "p/greeting");
    // A dated closure on a Tuesday, and Independence Day on a Monday.
    for closed in ["2025-03-04T10:00:00Z", "2026-08-24T10:00:00Z"] {
        let (mut call, _) = start_at(closed, None);
        assert_eq!(played(&actions(&mut call)).1, ["p/closed"], "{closed}");
    }
    // After the goodbye prompt the flow hangs up.
    let (mut call, t0) = start_at("2025-03-04T10:00:00Z", None);
    let (id, _) = played(&actions(&mut call));
    call.handle_playback_finished(t0 + secs(2), id);
    assert_eq!(
        actions(&mut call),
        [Action::Hangup {
            reason: HangupReason::Goodbye
        }]
    );
    assert_eq!(call.outcome(), Some(Outcome::ContainedByIvr));
}

#[test]
fn lookup_result_is_spoken_and_the_menu_comes_back_short() {
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '1');
    actions(&mut call);
    let amount = Value::Money {
        minor_units: 123456,
        currency: "UAH".into(),
    };
    call.handle_lookup_result(t0 + secs(3), Ok([("amount".to_owned(), amount)].into()));
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(
        prompts,
        [
            "p/balance_is",
            "say Money { minor_units: 123456, currency: \"UAH\" }"
        ]
    );
    call.handle_playback_finished(t0 + secs(6), id);
    assert_eq!(played(&actions(&mut call)).1, ["p/short"]);
    call.handle_hangup(t0 + secs(7));
    assert_eq!(call.outcome(), Some(Outcome::ContainedByIvr));
}

#[test]
fn failing_or_slow_crm_takes_the_fallback_and_late_results_are_ignored() {
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '1');
    actions(&mut call);
    call.handle_lookup_result(
        t0 + secs(3),
        Err(LookupFailure::Unavailable("connection refused".into())),
    );
    assert_eq!(played(&actions(&mut call)).1, ["p/sorry"]);

    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '1');
    actions(&mut call);
    assert_eq!(call.poll_timeout(), Some(t0 + secs(5)));
    call.handle_timeout(t0 + secs(5));
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/sorry"]);
    call.handle_lookup_result(t0 + secs(6), Ok(Values::new()));
    assert_eq!(
        actions(&mut call),
        [],
        "a result after the timeout changes nothing"
    );
    call.handle_playback_finished(t0 + secs(7), id);
    assert!(matches!(
        actions(&mut call).as_slice(),
        [Action::Enqueue { .. }]
    ));
}

/// Presses 3 and enters a reading with the terminator; returns at the confirmation.
fn enter_reading(call: &mut Call, t0: Instant, reading: &str) -> PlayId {
    call.handle_digit(t0 + secs(2), '3');
    let (id, prompts) = played(&actions(call));
    assert_eq!(prompts, ["p/enter_reading"]);
    call.handle_playback_finished(t0 + secs(3), id);
    for d in reading.chars().chain(['#']) {
        call.handle_digit(t0 + secs(4), d);
    }
    let (id, prompts) = played(&actions(call));
    assert_eq!(
        prompts,
        [
            "phrase/you_entered",
            &format!("say Digits(\"{reading}\")"),
            "phrase/confirm"
        ]
    );
    id
}

#[test]
fn rejected_ticket_takes_its_branch_and_the_reason_is_kept() {
    let (mut call, t0) = in_main_menu();
    let id = enter_reading(&mut call, t0, "11000");
    call.handle_playback_finished(t0 + secs(5), id);
    call.handle_digit(t0 + secs(6), '1');
    let fields: Values = [("reading".to_owned(), Value::Text("11000".into()))].into();
    assert_eq!(
        actions(&mut call),
        [Action::RegisterTicket {
            kind: "meter_reading".into(),
            fields,
            customer: Some("c1".into()),
            phone: "+380441234567".into()
        }]
    );
    call.handle_ticket_result(
        t0 + secs(7),
        Err(TicketFailure::Rejected {
            code: "below_last".into(),
        }),
    );
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/too_low"]);
    assert_eq!(
        call.variables().get("ticket.reason"),
        Some(&Value::Text("below_last".into()))
    );
    call.handle_playback_finished(t0 + secs(8), id);
    assert_eq!(
        played(&actions(&mut call)).1,
        ["p/enter_reading"],
        "the caller may enter it again"
    );
}

#[test]
fn registered_ticket_number_is_read_back() {
    let (mut call, t0) = in_main_menu();
    let id = enter_reading(&mut call, t0, "12345");
    call.handle_digit(t0 + secs(5), '1');
    assert_eq!(actions(&mut call)[0], Action::StopPlayback { id });
    call.handle_ticket_result(t0 + secs(6), Ok(TicketNumber("7001".into())));
    let (_, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/ticket_is", "say Digits(\"7001\")"]);
    call.handle_hangup(t0 + secs(9));
    assert_eq!(call.outcome(), Some(Outcome::TicketRegistered));
}

#[test]
fn collect_re_enters_on_2_and_counts_bad_input() {
    let (mut call, t0) = in_main_menu();
    let id = enter_reading(&mut call, t0, "1");
    call.handle_playback_finished(t0 + secs(5), id);
    call.handle_digit(t0 + secs(6), '2');
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(prompts, ["p/enter_reading"]);
    call.handle_playback_finished(t0 + secs(7), id);
    assert_eq!(call.poll_timeout(), Some(t0 + secs(12)));
    call.handle_digit(t0 + secs(8), '#');
    assert_eq!(
        played(&actions(&mut call)).1,
        ["p/bad", "p/enter_reading"],
        "empty input is invalid"
    );
}

#[test]
fn missing_prompt_falls_back_to_the_default_language() {
    let (mut call, t0) = start_at(OPEN, Some("uk"));
    let (id, _) = played(&actions(&mut call));
    call.handle_playback_finished(t0 + secs(1), id);
    call.handle_digit(t0 + secs(2), '2');
    match actions(&mut call).as_slice() {
        [Action::Play { prompts, .. }] => assert_eq!(prompts, &[file("p/en_only")]),
        other => panic!("{other:?}"),
    }
    let (mut call, _) = start_at(OPEN, Some("uk"));
    match actions(&mut call).as_slice() {
        [Action::Play { prompts, .. }] => assert_eq!(
            prompts[4],
            Prompt::Say {
                value: Sayable::Digits("1".into()),
                language: "uk".into()
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_typed_ahead_during_a_lookup_and_a_prompt_choose_in_the_next_menu() {
    let (mut call, t0) = in_main_menu();
    call.handle_digit(t0 + secs(2), '1');
    assert!(matches!(
        actions(&mut call).as_slice(),
        [Action::Lookup { .. }]
    ));
    call.handle_digit(t0 + secs(2), '2');
    let balance = [(
        "amount".to_owned(),
        Value::Money {
            minor_units: 100,
            currency: "UAH".into(),
        },
    )];
    call.handle_lookup_result(t0 + secs(3), Ok(balance.into()));
    let (id, prompts) = played(&actions(&mut call));
    assert_eq!(
        prompts[0], "p/balance_is",
        "the key waits while the balance is said"
    );
    call.handle_playback_finished(t0 + secs(5), id);
    let (_, prompts) = played(&actions(&mut call));
    assert_eq!(
        prompts,
        ["p/en_only"],
        "the main menu took the key at once: its prompt never went out"
    );
    assert!(
        call.path().ends_with(&[
            PathStep::Node("main".into()),
            PathStep::Key("2".into()),
            PathStep::Node("sub".into())
        ]),
        "{:?}",
        call.path()
    );
}

#[test]
fn a_secret_collect_lends_its_digits_to_the_flow_but_records_a_placeholder() {
    let source = r#"id: s
default_language: en
languages: [en]
start: pin
nodes:
  pin:
    collect: { prompt: p/pin, max_digits: 4, secret: true, save_as: pin, next: check, on_fail: bye }
  check:
    lookup: { name: balance, params: { pin: pin }, next: bye, on_error: bye }
  bye:
    hangup: { prompt: p/bye }
"#;
    let catalog = Catalog {
        lookups: ["balance".to_owned()].into(),
        ticket_types: Default::default(),
        queues: Default::default(),
    };
    let (flow, _) = compile(source, Path::new("s.yaml"), &catalog, &Prompts).unwrap();
    let t0 = Instant::now();
    let ctx = CallContext {
        caller: "+380441234567".into(),
        customer: None,
        language: None,
        now_utc: OPEN.parse::<DateTime<Utc>>().unwrap(),
        split_roll: 0,
    };
    let mut call = Call::start(Arc::new(flow), ctx, t0);
    actions(&mut call);
    for (i, key) in "4711".chars().enumerate() {
        assert!(call.collects_secret(), "key {i} is a secret one");
        call.handle_digit(t0 + secs(1 + i as u64), key);
    }
    assert!(!call.collects_secret(), "the collect is over");
    match actions(&mut call).as_slice() {
        [Action::StopPlayback { .. }, Action::Lookup { params, .. }] => {
            assert_eq!(params.get("pin"), Some(&Value::Text("4711".into())));
        }
        other => panic!("{other:?}"),
    }
    let path: Vec<String> = call.path().iter().map(ToString::to_string).collect();
    assert_eq!(path, ["pin", "[••••]", "check"]);
}

#[test]
fn an_ordinary_collect_is_not_secret() {
    let (mut call, t0) = in_main_menu();
    enter_reading(&mut call, t0, "1");
    assert!(call.awaits_input());
    assert!(!call.collects_secret());
}
