//! The say engine: numbers, digits, money, dates and units spoken from word prompts.
//!
//! It turns a value into the sequence of word prompt ids that speak it with the
//! grammar of the language (plural forms, gender), e.g. `say/1000`, `say/200`.

/// A value to be spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sayable {
    /// A cardinal number, e.g. 1234 "one thousand two hundred thirty-four".
    Number(i64),
    /// Digits one by one, e.g. an account or ticket number.
    Digits(String),
    /// An amount in minor units (kopecks, cents) of an ISO 4217 currency.
    Money { minor_units: i64, currency: String },
    /// A calendar date.
    Date(chrono::NaiveDate),
    /// A quantity with a unit, e.g. 12000 kWh; `unit` is `kWh` or `m3`.
    Quantity { value: i64, unit: String },
}
