//! Call variables: the values a flow stores, compares, speaks and sends.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::say::Sayable;

/// A value held in a call variable, from the call, a lookup or a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// Free text, e.g. a service code or collected digits.
    Text(String),
    /// A whole number.
    Number(i64),
    /// An amount in minor units of an ISO 4217 currency.
    Money { minor_units: i64, currency: String },
    /// A calendar date.
    Date(NaiveDate),
    /// A quantity with a unit (`kWh`, `m3`).
    Quantity { value: i64, unit: String },
    /// Several values, e.g. the service codes connected on a number.
    List(Vec<Value>),
}

/// Named values, e.g. the fields of a lookup result.
pub type Values = BTreeMap<String, Value>;

impl Value {
    /// The value as a whole number, when it is one or is text of digits.
    pub fn as_number(&self) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Quantity { value, .. } => Some(*value),
            Value::Money { minor_units, .. } => Some(*minor_units),
            Value::Date(_) | Value::List(_) => None,
        }
    }

    /// The value spoken as the given kind, when it has that shape.
    pub fn to_sayable(&self, kind: SayKind) -> Option<Sayable> {
        match (kind, self) {
            (SayKind::Number, v) => v.as_number().map(Sayable::Number),
            (SayKind::Digits, Value::Text(t)) => Some(Sayable::Digits(t.clone())),
            (SayKind::Digits, Value::Number(n)) => Some(Sayable::Digits(n.to_string())),
            (
                SayKind::Money,
                Value::Money {
                    minor_units,
                    currency,
                },
            ) => Some(Sayable::Money {
                minor_units: *minor_units,
                currency: currency.clone(),
            }),
            (SayKind::Date, Value::Date(d)) => Some(Sayable::Date(*d)),
            (SayKind::Quantity, Value::Quantity { value, unit }) => Some(Sayable::Quantity {
                value: *value,
                unit: unit.clone(),
            }),
            _ => None,
        }
    }

    /// The texts of the value: itself if text, its text elements if a list.
    pub fn texts(&self) -> Vec<String> {
        match self {
            Value::List(items) => items.iter().flat_map(Value::texts).collect(),
            Value::Text(t) => vec![t.clone()],
            other => vec![other.to_string()],
        }
    }
}

/// How a say part speaks a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SayKind {
    Number,
    Digits,
    Money,
    Date,
    Quantity,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(t) => f.write_str(t),
            Value::Number(n) => write!(f, "{n}"),
            Value::Money {
                minor_units,
                currency,
            } => {
                let sign = if *minor_units < 0 { "-" } else { "" };
                let abs = minor_units.unsigned_abs();
                write!(f, "{sign}{}.{:02} {currency}", abs / 100, abs % 100)
            }
            Value::Date(d) => write!(f, "{d}"),
            Value::Quantity { value, unit } => write!(f, "{value} {unit}"),
            Value::List(items) => {
                let texts: Vec<String> = items.iter().map(Value::to_string).collect();
                write!(f, "[{}]", texts.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_displays_with_two_decimals_and_sign() {
        let v = Value::Money {
            minor_units: -5,
            currency: "EUR".into(),
        };
        assert_eq!(v.to_string(), "-0.05 EUR");
        let v = Value::Money {
            minor_units: 123456,
            currency: "UAH".into(),
        };
        assert_eq!(v.to_string(), "1234.56 UAH");
    }

    #[test]
    fn collected_digits_speak_as_number_or_digits() {
        let v = Value::Text("012".into());
        assert_eq!(v.to_sayable(SayKind::Number), Some(Sayable::Number(12)));
        assert_eq!(
            v.to_sayable(SayKind::Digits),
            Some(Sayable::Digits("012".into()))
        );
        assert_eq!(v.to_sayable(SayKind::Money), None);
    }
}
