//! Typed fields of a lookup: where each comes from in a source's answer and
//! what it is (money, number, date, list …), so the say engine speaks it.
//!
//! An SQL answer is its rows, each a JSON object of its columns; an HTTP
//! answer is the JSON body. A field's `from` is a column name for SQL (the
//! first row's; every row's for a list) and a JSON pointer (RFC 6901) for HTTP.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::flow::{Value, Values};

/// One field of a lookup (`[lookups.fields]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Column or JSON pointer; the field's own name (`/name` for HTTP) by default.
    #[serde(default)]
    pub from: Option<String>,
    /// Money: the currency code, when the source does not give it.
    #[serde(default)]
    pub currency: Option<String>,
    /// Money: the column or pointer of the currency code.
    #[serde(default)]
    pub currency_from: Option<String>,
    /// Money: the amount is in minor units (cents), not a decimal amount.
    #[serde(default)]
    pub minor_units: bool,
    /// Quantity: the unit (`kWh`), when the source does not give it.
    #[serde(default)]
    pub unit: Option<String>,
    /// List (HTTP): the pointer inside each element of the array.
    #[serde(default)]
    pub item: Option<String>,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Money,
    Date,
    Quantity,
    List,
}

/// An answer that does not fit the mapping, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct MappingError {
    pub field: String,
    pub problem: String,
}

/// A source's answer, as the mapping reads it.
pub enum Answer<'a> {
    /// SQL rows, each an object of its columns.
    Rows(&'a [Json]),
    /// An HTTP response body.
    Body(&'a Json),
}

impl Answer<'_> {
    /// The value at `from`: the first row's column, or the body's pointer.
    fn get(&self, from: &str) -> Option<&Json> {
        match self {
            Answer::Rows(rows) => rows.first()?.get(from),
            Answer::Body(body) => body.pointer(from),
        }
    }

    /// The values a list field holds.
    fn list(&self, from: &str, item: Option<&str>) -> Option<Vec<&Json>> {
        match self {
            Answer::Rows(rows) => Some(rows.iter().filter_map(|row| row.get(from)).collect()),
            Answer::Body(body) => {
                let items = body.pointer(from)?.as_array()?;
                Some(match item {
                    Some(item) => items.iter().filter_map(|i| i.pointer(item)).collect(),
                    None => items.iter().collect(),
                })
            }
        }
    }
}

/// Maps an answer to the lookup's typed fields.
pub fn map_fields(
    fields: &BTreeMap<String, FieldSpec>,
    answer: &Answer<'_>,
) -> Result<Values, MappingError> {
    let mut values = Values::new();
    for (name, spec) in fields {
        let default_from = match answer {
            Answer::Rows(_) => name.clone(),
            Answer::Body(_) => format!("/{name}"),
        };
        let from = spec.from.as_deref().unwrap_or(&default_from);
        let fail = |problem: String| MappingError {
            field: name.clone(),
            problem,
        };
        let value = if spec.kind == FieldKind::List {
            let items = answer
                .list(from, spec.item.as_deref())
                .ok_or_else(|| fail(format!("`{from}` is not a list")))?;
            let items = items.into_iter().map(scalar_text);
            Value::List(items.collect::<Option<_>>().ok_or_else(|| {
                fail(format!(
                    "`{from}` holds something other than text or numbers"
                ))
            })?)
        } else {
            let raw = answer
                .get(from)
                .filter(|v| !v.is_null())
                .ok_or_else(|| fail(format!("`{from}` is missing")))?;
            let sibling = |key: &Option<String>| key.as_deref().and_then(|k| answer.get(k));
            typed(spec, raw, sibling(&spec.currency_from)).map_err(fail)?
        };
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// The columns of the first row as they are: numbers and text.
pub fn untyped(row: &Json) -> Values {
    let Some(row) = row.as_object() else {
        return Values::new();
    };
    row.iter()
        .filter_map(|(name, v)| {
            let value = match v {
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Value::Number(i),
                    None => Value::Text(n.to_string()),
                },
                Json::String(s) => Value::Text(s.clone()),
                Json::Bool(b) => Value::Number(i64::from(*b)),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

fn typed(spec: &FieldSpec, raw: &Json, currency: Option<&Json>) -> Result<Value, String> {
    match spec.kind {
        FieldKind::Text | FieldKind::List => {
            scalar_text(raw).ok_or_else(|| format!("{raw} is not text"))
        }
        FieldKind::Number => whole(raw).map(Value::Number),
        FieldKind::Money => {
            let minor_units = match spec.minor_units {
                true => whole(raw)?,
                false => decimal_minor_units(raw)?,
            };
            let currency = match (currency.and_then(Json::as_str), spec.currency.as_deref()) {
                (Some(code), _) | (None, Some(code)) => code.trim().to_ascii_uppercase(),
                (None, None) => return Err("has no currency".into()),
            };
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("`{currency}` is not an ISO 4217 currency code"));
            }
            Ok(Value::Money {
                minor_units,
                currency,
            })
        }
        FieldKind::Quantity => Ok(Value::Quantity {
            value: whole(raw)?,
            unit: spec.unit.clone().unwrap_or_default(),
        }),
        FieldKind::Date => {
            let text = raw.as_str().ok_or_else(|| format!("{raw} is not a date"))?;
            let day = text.get(..10).unwrap_or(text);
            NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))
        }
    }
}

/// Text or a number, as text (a list's element, a text field).
fn scalar_text(raw: &Json) -> Option<Value> {
    match raw {
        Json::String(s) => Some(Value::Text(s.clone())),
        Json::Number(n) => Some(Value::Text(n.to_string())),
        _ => None,
    }
}

/// A whole number, given as a number or as text of digits.
fn whole(raw: &Json) -> Result<i64, String> {
    let parsed = match raw {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("{raw} is not a whole number"))
}

/// A decimal amount (`1234.56`, `"-25.5"`) in hundredths, exactly: text is
/// read digit by digit, so no binary fraction rounds a balance.
fn decimal_minor_units(raw: &Json) -> Result<i64, String> {
    let text = match raw {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.trim().to_owned(),
        _ => return Err(format!("{raw} is not an amount")),
    };
    let bad = || format!("`{text}` is not an amount");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    // Digits past the cent are zeros of a DECIMAL(…,4) column, or rounding.
    let cents: String = fraction.chars().chain("00".chars()).take(2).collect();
    let value = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(100))
        .and_then(|w| w.checked_add(cents.parse::<i64>().ok()?))
        .ok_or_else(bad)?;
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(toml_text: &str) -> FieldSpec {
        toml::from_str(toml_text).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, FieldSpec> {
        pairs
            .iter()
            .map(|(name, text)| (name.to_string(), spec(text)))
            .collect()
    }

    #[test]
    fn a_decimal_balance_with_its_currency_becomes_money_in_minor_units() {
        let body = json!({"balance": {"amount": "1234.56", "currency": "uah"}});
        let f = fields(&[(
            "amount",
            "type = \"money\"\nfrom = \"/balance/amount\"\ncurrency_from = \"/balance/currency\"",
        )]);
        let values = map_fields(&f, &Answer::Body(&body)).unwrap();
        assert_eq!(
            values["amount"],
            Value::Money {
                minor_units: 123_456,
                currency: "UAH".into()
            }
        );
        for (amount, minor) in [(json!(-25.5), -2550), (json!("7"), 700), (json!(0.05), 5)] {
            assert_eq!(decimal_minor_units(&amount), Ok(minor), "{amount}");
        }
    }

    #[test]
    fn sql_rows_give_scalars_from_the_first_row_and_lists_from_every_row() {
        let rows = [
            json!({"code": "internet_100", "cents": -2550, "cur": "EUR", "due": "2026-12-31"}),
            json!({"code": "iptv_basic", "cents": 0, "cur": "EUR", "due": "2027-01-31"}),
        ];
        let f = fields(&[
            ("codes", "type = \"list\"\nfrom = \"code\""),
            (
                "owed",
                "type = \"money\"\nfrom = \"cents\"\nminor_units = true\ncurrency_from = \"cur\"",
            ),
            ("due", "type = \"date\""),
        ]);
        let values = map_fields(&f, &Answer::Rows(&rows)).unwrap();
        assert_eq!(
            values["codes"],
            Value::List(vec![
                Value::Text("internet_100".into()),
                Value::Text("iptv_basic".into())
            ])
        );
        assert_eq!(values["owed"].to_string(), "-25.50 EUR");
        assert_eq!(
            values["due"],
            Value::Date(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())
        );
    }

    #[test]
    fn a_list_of_objects_is_read_through_its_item_pointer() {
        let body = json!({"services": [{"code": "a"}, {"code": "b"}]});
        let f = fields(&[(
            "codes",
            "type = \"list\"\nfrom = \"/services\"\nitem = \"/code\"",
        )]);
        let values = map_fields(&f, &Answer::Body(&body)).unwrap();
        assert_eq!(values["codes"].texts(), ["a", "b"]);
    }

    #[test]
    fn an_answer_that_does_not_match_names_the_field() {
        let body = json!({"balance": {"amount": "lots"}});
        let f = fields(&[(
            "amount",
            "type = \"money\"\nfrom = \"/balance/amount\"\ncurrency = \"UAH\"",
        )]);
        let error = map_fields(&f, &Answer::Body(&body)).unwrap_err();
        assert_eq!(error.to_string(), "field `amount`: `lots` is not an amount");
        let f = fields(&[("reading", "type = \"quantity\"\nunit = \"kWh\"")]);
        let error = map_fields(&f, &Answer::Body(&body)).unwrap_err();
        assert_eq!(error.to_string(), "field `reading`: `/reading` is missing");
        let f = fields(&[("amount", "type = \"money\"\nfrom = \"/balance/amount\"")]);
        let body = json!({"balance": {"amount": 1}});
        let error = map_fields(&f, &Answer::Body(&body)).unwrap_err();
        assert_eq!(error.to_string(), "field `amount`: has no currency");
    }

    #[test]
    fn untyped_columns_stay_numbers_and_text() {
        let values = untyped(&json!({"open": 2, "status": "new", "nothing": null}));
        assert_eq!(values["open"], Value::Number(2));
        assert_eq!(values["status"], Value::Text("new".into()));
        assert!(!values.contains_key("nothing"));
    }
}
