//! The compiler's every error and warning, with its exact message and position.

use std::path::Path;

use super::*;

const BASE: &str = r#"id: t
default_language: en
languages: [en, uk]
start: main
global_keys:
  "0": operator
menu_defaults:
  no_input: { then: operator }
  invalid: { then: operator }
nodes:
  main:
    menu:
      items:
        - { key: "1", label: l/one, goto: bye }
  operator:
    queue: { name: support }
  bye:
    hangup: { prompt: p/bye }
"#;

fn catalog() -> Catalog {
    Catalog {
        lookups: ["balance".to_owned()].into(),
        ticket_types: [("line_repair".to_owned(), ["phone".to_owned()].into())].into(),
        queues: ["support".to_owned()].into(),
    }
}

fn prompts() -> AudioDir {
    let mut dir = AudioDir::default();
    for lang in ["en", "uk"] {
        for id in [
            "l/one",
            "l/two",
            "l/three",
            "l/four",
            "l/five",
            "l/six",
            "p/bye",
            "p/info",
            "phrase/for",
            "phrase/press",
            "phrase/you_entered",
            "phrase/confirm",
            "p/menu",
        ] {
            dir.insert(lang, id, id);
        }
    }
    dir.insert("en", "p/en_only", "only English");
    dir
}

/// Every diagnostic as `line:column: severity: message`.
fn diagnostics(source: &str) -> Vec<String> {
    let diags = match compile(source, Path::new("t.yaml"), &catalog(), &prompts()) {
        Ok((_, warnings)) => warnings,
        Err(errors) => errors,
    };
    diags
        .iter()
        .map(|d| {
            let s = d.to_string();
            s.strip_prefix("t.yaml:").unwrap_or(&s).to_owned()
        })
        .collect()
}

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replace(from, to)
}

#[test]
fn the_base_flow_compiles_clean() {
    assert_eq!(diagnostics(BASE), Vec::<String>::new());
}

#[test]
fn unknown_field_is_an_error_at_its_position() {
    let d = diagnostics(&with(
        "    queue: { name: support }",
        "    queue: { name: support, colour: red }",
    ));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("16:29: error: unknown field `colour`"),
        "{d:?}"
    );
}

#[test]
fn unknown_node_kind_is_an_error_at_its_position() {
    let d = diagnostics(&with(
        "    hangup: { prompt: p/bye }",
        "    dance: { prompt: p/bye }",
    ));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("18:5: error: unknown variant `dance`"),
        "{d:?}"
    );
}

#[test]
fn six_items_is_an_error() {
    let items = r#"        - { key: "1", label: l/one, goto: bye }
        - { key: "2", label: l/two, goto: bye }
        - { key: "3", label: l/three, goto: bye }
        - { key: "4", label: l/four, goto: bye }
        - { key: "5", label: l/five, goto: bye }
        - { key: "6", label: l/six, goto: bye }"#;
    let d = diagnostics(&with(
        r#"        - { key: "1", label: l/one, goto: bye }"#,
        items,
    ));
    assert_eq!(
        d,
        ["14:9: error: menu 'main' has 6 items; at most 5 are allowed"]
    );
}

#[test]
fn information_only_menu_with_four_items_is_a_warning() {
    let items = r#"        - { key: "1", label: l/one, goto: info }
        - { key: "2", label: l/two, goto: info }
        - { key: "3", label: l/three, goto: info }
        - { key: "4", label: l/four, goto: bye }
  info:
    play: { prompts: [p/info], next: main }"#;
    let d = diagnostics(&with(
        r#"        - { key: "1", label: l/one, goto: bye }"#,
        items,
    ));
    assert_eq!(
        d,
        [
            "11:3: warning: menu 'main' only gives information and has 4 items; callers cope with at most 3"
        ]
    );
}

#[test]
fn four_items_with_self_service_are_fine() {
    let items = r#"        - { key: "1", label: l/one, goto: info }
        - { key: "2", label: l/two, goto: info }
        - { key: "3", label: l/three, goto: info }
        - { key: "4", label: l/four, goto: balance }
  balance:
    lookup: { name: balance, next: bye, on_error: operator }
  info:
    play: { prompts: [p/info], next: main }"#;
    assert_eq!(
        diagnostics(&with(
            r#"        - { key: "1", label: l/one, goto: bye }"#,
            items
        )),
        Vec::<String>::new()
    );
}

#[test]
fn key_bound_twice_is_an_error() {
    let items = r#"        - { key: "1", label: l/one, goto: bye }
        - { key: "1", label: l/two, goto: operator }"#;
    let d = diagnostics(&with(
        r#"        - { key: "1", label: l/one, goto: bye }"#,
        items,
    ));
    assert_eq!(d, ["15:18: error: key 1 is bound twice in menu 'main'"]);
}

#[test]
fn key_clashing_with_a_global_key_is_an_error() {
    let d = diagnostics(&with(
        r#"key: "1", label: l/one"#,
        r#"key: "0", label: l/one"#,
    ));
    assert_eq!(
        d,
        ["14:18: error: key 0 in menu 'main' is also a global key of the flow"]
    );
    let d = diagnostics(&with(
        r#"key: "1", label: l/one"#,
        r#"key: "01", label: l/one"#,
    ));
    assert_eq!(
        d,
        [
            "14:18: error: key 01 in menu 'main' starts with the global key 0, so it can never be chosen"
        ]
    );
}

#[test]
fn keys_must_be_dtmf() {
    let d = diagnostics(&with(
        r#"key: "1", label: l/one"#,
        r#"key: "A", label: l/one"#,
    ));
    assert_eq!(
        d,
        ["14:18: error: key 'A' must be one to three of 0-9, * and #"]
    );
    let d = diagnostics(&with(r#""0": operator"#, r#""00": operator"#));
    assert_eq!(
        d,
        ["6:3: error: global key '00' must be one of 0-9, * or #"]
    );
}

#[test]
fn goto_to_a_missing_node_is_an_error() {
    let d = diagnostics(&with("goto: bye }", "goto: byee }"));
    assert_eq!(d, ["14:43: error: there is no node 'byee' in this flow"]);
    let d = diagnostics(&with("start: main", "start: mian"));
    assert_eq!(d, ["4:8: error: there is no node 'mian' in this flow"]);
}

#[test]
fn unreachable_node_is_a_warning() {
    let extra = "    hangup: { prompt: p/bye }\n  orphan:\n    hangup: {}\n";
    let d = diagnostics(&with("    hangup: { prompt: p/bye }\n", extra));
    assert_eq!(
        d,
        ["19:3: warning: node 'orphan' is not reached from the start of the flow"]
    );
}

#[test]
fn automatic_loop_with_no_exit_is_an_error() {
    let extra = r#"    hangup: { prompt: p/bye }
  spin:
    play: { prompts: [p/info], next: spin2 }
  spin2:
    goto: spin
"#;
    let source =
        with("    hangup: { prompt: p/bye }\n", extra).replace("goto: bye }", "goto: spin }");
    let d = diagnostics(&source);
    assert_eq!(
        d,
        [
            "17:3: warning: node 'bye' is not reached from the start of the flow",
            "19:3: error: nodes 'spin', 'spin2' form a loop that never reaches a caller choice or a person",
        ]
    );
}

#[test]
fn menus_trapping_the_caller_are_an_error() {
    let source = BASE
        .replace("global_keys:\n  \"0\": operator\n", "")
        .replace("{ then: operator }", "{ then: main }")
        .replace("goto: bye }", "goto: main }")
        .replace("start: main", "start: main\ntop: operator");
    let d = diagnostics(&source);
    assert_eq!(
        d,
        [
            "10:3: error: nodes 'main' form a loop with no way out to a person or the end of the call",
            "16:3: warning: node 'bye' is not reached from the start of the flow",
        ]
    );
}

#[test]
fn prompt_missing_in_a_spoken_language_falls_back_with_a_warning() {
    let d = diagnostics(&with("prompt: p/bye", "prompt: p/en_only"));
    assert_eq!(
        d,
        ["18:23: warning: prompt 'p/en_only' is missing in uk; callers will hear the en recording"]
    );
}

#[test]
fn prompt_missing_in_the_default_language_is_an_error() {
    let d = diagnostics(&with("prompt: p/bye", "prompt: p/nowhere"));
    assert_eq!(
        d,
        ["18:23: error: prompt 'p/nowhere' is missing in en, the default language"]
    );
}

#[test]
fn undefined_queue_lookup_and_ticket_type_are_errors() {
    let d = diagnostics(&with("name: support", "name: sales"));
    assert_eq!(
        d,
        ["16:20: error: queue 'sales' is not defined in the configuration"]
    );
    let extra = r#"    hangup: { prompt: p/bye }
  l:
    lookup: { name: weather, next: bye, on_error: bye }
  t:
    ticket: { kind: pizza, next: bye, on_error: bye }
  u:
    ticket: { kind: line_repair, fields: { colour: caller }, next: bye, on_error: bye }
"#;
    let source = with("    hangup: { prompt: p/bye }\n", extra)
        .replace(r#"        - { key: "1", label: l/one, goto: bye }"#, "        - { key: \"1\", label: l/one, goto: l }\n        - { key: \"2\", label: l/two, goto: t }\n        - { key: \"3\", label: l/three, goto: u }");
    let d = diagnostics(&source);
    assert_eq!(
        d,
        [
            "22:21: error: lookup 'weather' is not defined in the configuration",
            "24:21: error: ticket type 'pizza' is not defined in the configuration",
            "26:44: error: ticket type 'line_repair' has no field 'colour'",
        ]
    );
}

#[test]
fn recorded_prompt_must_announce_exactly_the_bound_keys() {
    let menu = "    menu:\n      prompt: p/menu\n      announces: [\"1\", \"2\", \"0\"]\n";
    let d = diagnostics(&with("    menu:\n", menu));
    assert_eq!(
        d,
        ["14:18: error: prompt 'p/menu' announces key 2, which menu 'main' does not bind"]
    );
    let menu = "    menu:\n      prompt: p/menu\n      announces: []\n";
    let d = diagnostics(&with("    menu:\n", menu));
    assert_eq!(
        d,
        ["14:18: error: menu 'main' binds key 1, which its prompt 'p/menu' does not announce"]
    );
    let menu = "    menu:\n      prompt: p/menu\n";
    let d = diagnostics(&with("    menu:\n", menu));
    assert_eq!(
        d,
        [
            "13:15: error: menu 'main' has a recorded prompt; list the keys it announces in 'announces'"
        ]
    );
}

#[test]
fn menu_without_counter_actions_is_an_error() {
    let source = BASE.replace("  no_input: { then: operator }\n", "");
    let d = diagnostics(&source);
    assert_eq!(
        d,
        ["11:5: error: menu 'main' has no 'no_input' action; set it here or in 'menu_defaults'"]
    );
}

#[test]
fn unknown_variable_is_an_error() {
    let extra = r#"    hangup: { prompt: p/bye }
  s:
    say: { parts: [ { prompt: p/info }, { money: balance.amount } ], next: bye }
"#;
    let source = with("    hangup: { prompt: p/bye }\n", extra).replace("goto: bye }", "goto: s }");
    let d = diagnostics(&source);
    assert_eq!(
        d,
        ["20:50: error: variable 'balance.amount' is never set in this flow"]
    );
}

#[test]
fn bad_values_are_errors_in_plain_words() {
    let d = diagnostics(&with(
        "name: support }",
        "name: support }\n  x:\n    transfer: { uri: \"tel:123\" }",
    ));
    assert!(
        d.contains(
            &"18:22: error: transfer address 'tel:123' is not a sip: or sips: URI".to_owned()
        ),
        "{d:?}"
    );
    let d = diagnostics(&with("menu_defaults:\n", "menu_defaults:\n  timeout: 0\n"));
    assert_eq!(
        d,
        ["8:12: error: a timeout of 0 seconds is not between 0 and 600"]
    );
    let d = diagnostics(&with("languages: [en, uk]", "languages: [uk]"));
    assert_eq!(
        d,
        ["2:19: error: the default language en is not among the flow's languages"]
    );
    let d = diagnostics(&with("  bye:\n", "  back:\n    goto: bye\n  bye:\n"));
    assert!(
        d.contains(&"17:3: error: 'back' is reserved and cannot name a node".to_owned()),
        "{d:?}"
    );
}

#[test]
fn calendar_mistakes_are_errors() {
    let cal = r#"calendars:
  office:
    time_zone: Europe/Atlantis
    weekly: { mon: ["08:00-20:00"], mun: ["08:00-20:00"], tue: ["20:00-08:00"] }
    closed: ["2025-13-01"]
    yearly: ["02-30"]
nodes:
"#;
    let d = diagnostics(&with("nodes:\n", cal));
    assert_eq!(
        d,
        [
            "12:16: error: unknown time zone 'Europe/Atlantis'",
            "13:37: error: 'mun' is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
            "13:65: error: '20:00-08:00' is not an opening span like 08:00-20:00",
            "14:14: error: '2025-13-01' is not a date like 2025-12-25",
            "15:14: error: '02-30' is not a day of the year like 12-25",
        ]
    );
}

#[test]
fn branch_on_a_missing_calendar_is_an_error() {
    let extra = "    hangup: { prompt: p/bye }\n  hours:\n    branch: { when: { open: office }, then: main, else: bye }\n";
    let source =
        with("    hangup: { prompt: p/bye }\n", extra).replace("start: main", "start: hours");
    let d = diagnostics(&source);
    assert_eq!(
        d,
        ["20:21: error: calendar 'office' is not defined in this flow"]
    );
}

#[test]
fn a_compiled_flow_has_a_version_from_file_name_and_content() {
    let (flow, _) = compile(BASE, Path::new("dir/t.yaml"), &catalog(), &prompts()).unwrap();
    assert!(flow.version().0.starts_with("t.yaml@"));
    assert_eq!(flow.version().0.len(), "t.yaml@".len() + 12);
    let (other, _) = compile(
        &BASE.replace("p/bye", "p/info"),
        Path::new("t.yaml"),
        &catalog(),
        &prompts(),
    )
    .unwrap();
    assert_ne!(flow.version(), other.version());
}

#[test]
fn a_secret_collect_cannot_be_stored_in_a_ticket() {
    let extra = r#"    hangup: { prompt: p/bye }
  pin:
    collect: { prompt: p/bye, max_digits: 4, secret: true, save_as: pin, next: t, on_fail: bye }
  t:
    ticket: { kind: line_repair, fields: { phone: pin }, next: bye, on_error: bye }
"#;
    let source =
        with("    hangup: { prompt: p/bye }\n", extra).replace("goto: bye }", "goto: pin }");
    assert_eq!(
        diagnostics(&source),
        [
            "22:51: error: 'pin' holds a secret collect's digits, which are never stored; \
             a ticket field would store them"
        ]
    );
    let open = source.replace("secret: true, ", "");
    assert_eq!(diagnostics(&open), Vec::<String>::new());
}
