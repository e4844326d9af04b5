//! `hotline crm check`: tries every configured source and lookup before callers do.
//!
//! Each SQL source is connected to; each lookup runs with the `sample`
//! parameters of its `[[lookups]]` entry and shows the fields it mapped,
//! masked, since they are a real customer's data.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Crm, Kind};
use crate::flow::{Value, Values};

/// How long each step of the check may take.
const CHECK_LIMIT: Duration = Duration::from_secs(5);

impl Crm {
    /// Checks every source and lookup; the report, and whether all passed.
    pub async fn check(&self) -> (String, bool) {
        let mut report = String::new();
        let mut clean = true;
        if self.0.sources.is_empty() {
            report.push_str("no CRM sources configured: lookups read hotline's own database\n");
        }
        for source in self.0.sources.values() {
            let (kind, reached) = match &source.kind {
                Kind::Sql(sql) => match tokio::time::timeout(CHECK_LIMIT, sql.ping()).await {
                    Ok(Ok(())) => ("sql", "connected".to_owned()),
                    Ok(Err(error)) => {
                        clean = false;
                        ("sql", format!("cannot connect: {error}"))
                    }
                    Err(_) => {
                        clean = false;
                        ("sql", format!("no connection within {CHECK_LIMIT:?}"))
                    }
                },
                Kind::Http(_) => ("http", "client ready".to_owned()),
            };
            let _ = writeln!(report, "source {} ({kind}): {reached}", source.name);
            let lookups = self.0.lookups.iter();
            for lookup in lookups.filter(|l| l.source.as_deref() == Some(&source.name)) {
                let params: Values = lookup
                    .sample
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Text(v.clone())))
                    .collect();
                let shown: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", masked(v)))
                    .collect();
                let _ = write!(report, "  lookup {} ({})", lookup.name, shown.join(", "));
                match source.run(lookup, &params, CHECK_LIMIT).await {
                    Ok(Some(values)) => {
                        report.push_str(": found\n");
                        for (name, value) in &values {
                            let _ = writeln!(
                                report,
                                "    {name:<12} {:<8} {}",
                                kind_of(value),
                                masked(value)
                            );
                        }
                    }
                    Ok(None) => report.push_str(": not found\n"),
                    Err(error) => {
                        clean = false;
                        let _ = writeln!(report, ": FAILED: {error}");
                    }
                }
            }
        }
        (report, clean)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Text(_) => "text",
        Value::Number(_) => "number",
        Value::Money { .. } => "money",
        Value::Date(_) => "date",
        Value::Quantity { .. } => "quantity",
        Value::List(_) => "list",
    }
}

/// A value with its personal part hidden: every digit but the last two, and
/// every letter of text but the first of each word. Currency codes and units stay.
pub fn masked(value: &Value) -> String {
    match value {
        Value::Text(text) => mask_digits(&mask_words(text)),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(masked).collect();
            format!("[{}]", items.join(", "))
        }
        other => mask_digits(&other.to_string()),
    }
}

fn mask_words(text: &str) -> String {
    let mut out = String::new();
    let mut word_start = true;
    for c in text.chars() {
        if c.is_alphabetic() {
            out.push(if word_start { c } else { '•' });
            word_start = false;
        } else {
            out.push(c);
            word_start = true;
        }
    }
    out
}

fn mask_digits(text: &str) -> String {
    let total = text.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            if seen + 2 > total { c } else { '•' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_values_show_their_shape_but_not_the_customer() {
        let money = Value::Money {
            minor_units: 123_456,
            currency: "UAH".into(),
        };
        assert_eq!(masked(&money), "••••.56 UAH");
        assert_eq!(
            masked(&Value::Text("+380441234567".into())),
            "+••••••••••67"
        );
        assert_eq!(
            masked(&Value::Text("Olena Kovalenko".into())),
            "O•••• K••••••••"
        );
    }
}
