//! What each role sees of callers: the one place the API masks personal data.
//!
//! | field                               | monitor        | supervisor | admin |
//! |-------------------------------------|----------------|------------|-------|
//! | `caller`, `number`, `account`       | masked as logs | full       | full  |
//! | `name` of a caller                  | initials       | full       | full  |
//! | typed digits: `digit`, `[..]` in `path` | `•`        | `•`        | full  |
//!
//! Views work on the JSON the API is about to send, so every route (calls,
//! queue, event stream) is masked by the same rules.

use serde_json::Value;

use super::access::Role;
use crate::sip::identity::mask_number;

/// How a typed digit is shown to roles that may not see it.
const HIDDEN_DIGIT: &str = "•";

/// Masks `value` in place for `role`.
pub fn mask(role: Role, value: &mut Value) {
    if role == Role::Admin {
        return;
    }
    walk(role, value);
}

fn walk(role: Role, value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| walk(role, item)),
        Value::Object(fields) => {
            // A `name` is a person's only beside their number; else it names a queue.
            let person = fields.contains_key("caller") || fields.contains_key("number");
            for (key, field) in fields.iter_mut() {
                match key.as_str() {
                    "caller" | "number" | "account" if role < Role::Supervisor => {
                        map_text(field, mask_number)
                    }
                    "name" if person && role < Role::Supervisor => map_text(field, initials),
                    "digit" => map_text(field, |_| HIDDEN_DIGIT.to_owned()),
                    "path" => mask_path(field),
                    _ => walk(role, field),
                }
            }
        }
        _ => {}
    }
}

fn map_text(value: &mut Value, change: impl Fn(&str) -> String) {
    if let Value::String(text) = value {
        *text = change(text);
    }
}

/// `main [1] pin [1234] done` → `main [•] pin [•] done`; as a string or a list of steps.
fn mask_path(value: &mut Value) {
    let hide = |step: &str| {
        if step.starts_with('[') && step.ends_with(']') {
            format!("[{HIDDEN_DIGIT}]")
        } else {
            step.to_owned()
        }
    };
    match value {
        Value::String(path) => {
            *path = path.split(' ').map(hide).collect::<Vec<_>>().join(" ");
        }
        Value::Array(steps) => steps.iter_mut().for_each(|s| map_text(s, hide)),
        _ => {}
    }
}

/// `Olena Kovalenko` → `O. K.`
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .map(|c| format!("{c}."))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call() -> Value {
        json!([{
            "call_id": "abc",
            "caller": "+380501234567",
            "digits": [{"digit": "4", "source": "rfc4733", "at_ms": 10}],
        }])
    }

    fn screen_pop() -> Value {
        json!({
            "event": "screen_pop",
            "queue": "support",
            "caller": "+380501234567",
            "name": "Olena Kovalenko",
            "account": "4000123412341234",
            "path": ["welcome", "[1]", "pin", "[1234]", "support"],
        })
    }

    #[test]
    fn monitor_sees_numbers_as_the_logs_do_and_no_digits() {
        let mut calls = call();
        mask(Role::Monitor, &mut calls);
        assert_eq!(calls[0]["caller"], mask_number("+380501234567"));
        assert_ne!(calls[0]["caller"], "+380501234567");
        assert_eq!(calls[0]["digits"][0]["digit"], "•");
        assert_eq!(calls[0]["digits"][0]["source"], "rfc4733");

        let mut pop = screen_pop();
        mask(Role::Monitor, &mut pop);
        assert_eq!(pop["name"], "O. K.");
        assert_eq!(pop["account"], mask_number("4000123412341234"));
        assert_eq!(pop["queue"], "support");
        assert_eq!(
            pop["path"],
            json!(["welcome", "[•]", "pin", "[•]", "support"])
        );
    }

    #[test]
    fn supervisor_sees_who_called_but_not_what_they_typed() {
        let mut calls = call();
        mask(Role::Supervisor, &mut calls);
        assert_eq!(calls[0]["caller"], "+380501234567");
        assert_eq!(calls[0]["digits"][0]["digit"], "•");
        let mut pop = screen_pop();
        mask(Role::Supervisor, &mut pop);
        assert_eq!(pop["name"], "Olena Kovalenko");
        assert_eq!(pop["account"], "4000123412341234");
        assert_eq!(pop["path"][3], "[•]");
    }

    #[test]
    fn admin_sees_everything() {
        let (mut calls, mut pop) = (call(), screen_pop());
        mask(Role::Admin, &mut calls);
        mask(Role::Admin, &mut pop);
        assert_eq!(calls, call());
        assert_eq!(pop, screen_pop());
    }

    #[test]
    fn queue_names_are_not_taken_for_callers() {
        let mut queue = json!({"queues": [{"name": "support", "waiting": [
            {"position": 1, "number": "+380501234567", "name": "Olena Kovalenko"}
        ]}]});
        mask(Role::Monitor, &mut queue);
        assert_eq!(queue["queues"][0]["name"], "support");
        assert_eq!(queue["queues"][0]["waiting"][0]["name"], "O. K.");
        assert_ne!(queue["queues"][0]["waiting"][0]["number"], "+380501234567");
    }

    #[test]
    fn a_path_as_text_hides_its_keys() {
        let mut record = json!({"caller": "+380501234567", "path": "main [1] pin [1234] done"});
        mask(Role::Supervisor, &mut record);
        assert_eq!(record["path"], "main [•] pin [•] done");
    }
}
