//! The say engine: numbers, digits, money, dates and units spoken from word prompts.
//!
//! It turns a value into the sequence of word prompt ids that speak it with the
//! grammar of the language (plural forms, gender), e.g. `say/1000`, `say/200`.
//! Each id names a recording `audio/<lang>/<id>.wav`; the texts the recordings
//! are made from live in `audio/<lang>/say.tsv`.
//!
//! Choices made once for all callers:
//! - English is British (en-gb): "one hundred and one", "two thousand and twenty-six".
//! - Money with zero minor units says only the major part ("five hryvnias",
//!   "п'ять гривень"); an amount below one major unit says only the minor part
//!   ("fifty kopecks"); exactly zero says "zero hryvnias" / "нуль гривень".
//! - Ukrainian and Russian say "одна тисяча" / "одна тысяча", "один мільйон" in
//!   full, as balances are read out, but years say "тисяча дев'ятсот ..." as usual.

mod english;
mod prompts;
mod slavic;

#[cfg(test)]
mod tests;

/// A value to be spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sayable {
    /// A cardinal number, e.g. 1234 "one thousand two hundred and thirty-four".
    Number(i64),
    /// Digits one by one, e.g. an account or ticket number; `0-9`, `*`, `#`, `+`,
    /// with spaces and dashes skipped.
    Digits(String),
    /// An amount in minor units (kopecks, cents) of an ISO 4217 currency.
    Money { minor_units: i64, currency: String },
    /// A calendar date named on its own: "the twenty-third of November ...",
    /// Ukrainian "двадцять третє листопада ...", Russian "двадцать третье ноября ...".
    Date(chrono::NaiveDate),
    /// A calendar date as the time something happens ("paid on ..."): the same in
    /// English, genitive in Ukrainian "двадцять третього листопада ..." and Russian
    /// "двадцать третьего ноября ...".
    DateOn(chrono::NaiveDate),
    /// A quantity with a unit, e.g. 12000 kWh; `unit` is `kWh`, `m3` or `min`.
    Quantity { value: i64, unit: String },
}

/// Why a value cannot be spoken, or a language's prompts are incomplete.
///
/// All of these are the caller's or the configuration's fault (a flow asking
/// for a language, currency or unit the engine has no words for, or a prompt
/// directory missing a recording), never the caller on the phone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SayError {
    /// The language has no say-engine grammar (supported: en, uk, ru).
    #[error("the say engine does not speak language {0:?} (supported: en, uk, ru)")]
    UnsupportedLanguage(String),
    /// The currency is not one of UAH, RUB, EUR, USD.
    #[error("the say engine cannot speak currency {0:?} (supported: UAH, RUB, EUR, USD)")]
    UnsupportedCurrency(String),
    /// The unit is not one of kWh, m3.
    #[error("the say engine cannot speak unit {0:?} (supported: kWh, m3, min)")]
    UnsupportedUnit(String),
    /// The number is beyond the largest scale word (below one trillion).
    #[error("the number {0} is too large to speak (the limit is 999 999 999 999)")]
    NumberTooLarge(i128),
    /// The year of a date is outside the years the engine has words for.
    #[error("the year {0} cannot be spoken (supported: 1000 to 2999)")]
    YearOutOfRange(i32),
    /// A character in a digit string is not a dialable digit.
    #[error("{0:?} is not a digit that can be spoken (0-9, *, #, +)")]
    InvalidDigit(char),
    /// A word prompt the engine can produce has no recording.
    #[error("the say-engine word prompt {id:?} is missing for language {lang:?}")]
    MissingWord { lang: String, id: String },
}

/// The word prompt ids that speak `item` in `lang` (`en`, `uk`, `ru`, or a tag
/// such as `uk-UA`), in the order they are played.
pub fn expand(lang: &str, item: &Sayable) -> Result<Vec<String>, SayError> {
    let ids = match Language::parse(lang)? {
        Language::En => english::expand(item)?,
        Language::Uk => slavic::expand(slavic::Lang::Uk, item)?,
        Language::Ru => slavic::expand(slavic::Lang::Ru, item)?,
    };
    Ok(ids.into_iter().map(str::to_owned).collect())
}

/// Every word prompt id the engine can produce in `lang`, each once.
pub fn words(lang: &str) -> Result<Vec<&'static str>, SayError> {
    let mut ids = match Language::parse(lang)? {
        Language::En => english::words(),
        Language::Uk | Language::Ru => slavic::words(),
    };
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Checks at load time that every word of `lang` has a recording, asking
/// `exists` about each prompt id; the first missing one is named in the error.
pub fn check_prompts(lang: &str, mut exists: impl FnMut(&str) -> bool) -> Result<(), SayError> {
    match words(lang)?.into_iter().find(|id| !exists(id)) {
        Some(id) => Err(SayError::MissingWord {
            lang: lang.to_owned(),
            id: id.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The readable sentence a sequence of word prompts speaks, from the shipped
/// prompt texts (for logs and tests); an id without a text shows as `[id]`.
pub fn text(lang: &str, ids: &[String]) -> String {
    let Ok(language) = Language::parse(lang) else {
        return ids.join(" ");
    };
    let mut out = String::new();
    let mut previous: Option<&str> = None;
    for id in ids {
        let word = match prompts::text(language, id) {
            Some(word) => word.to_owned(),
            None => format!("[{id}]"),
        };
        if let Some(previous) = previous {
            // English writes compound tens with a hyphen: "thirty-four", "twenty-first".
            let hyphen = language == Language::En && english::joins_with_hyphen(previous, id);
            out.push(if hyphen { '-' } else { ' ' });
        }
        out.push_str(&word);
        previous = Some(id);
    }
    out
}

/// A language the engine has grammar for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    En,
    Uk,
    Ru,
}

impl Language {
    /// Accepts `en`, `uk`, `ru` in any case, with or without a region (`uk-UA`, `ru_RU`).
    fn parse(tag: &str) -> Result<Self, SayError> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "en" => Ok(Language::En),
            "uk" => Ok(Language::Uk),
            "ru" => Ok(Language::Ru),
            _ => Err(SayError::UnsupportedLanguage(tag.to_owned())),
        }
    }
}

/// The word ids of digits and signs, the same in every language.
const DIGIT_WORDS: [&str; 10] = [
    "say/0", "say/1", "say/2", "say/3", "say/4", "say/5", "say/6", "say/7", "say/8", "say/9",
];
const STAR: &str = "say/star";
const HASH: &str = "say/hash";
const PLUS: &str = "say/plus";
const MINUS: &str = "say/minus";

/// Words every language uses for digits and signs.
fn common_words() -> Vec<&'static str> {
    let mut ids = DIGIT_WORDS.to_vec();
    ids.extend([STAR, HASH, PLUS, MINUS]);
    ids
}

/// Digits one word each; the digit words are the counting forms of 0-9
/// (uk/ru "один", "два"), which are also the masculine cardinals.
fn digits(text: &str) -> Result<Vec<&'static str>, SayError> {
    let mut ids = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = match c {
            '0'..='9' => DIGIT_WORDS[c as usize - '0' as usize],
            '*' => STAR,
            '#' => HASH,
            '+' => PLUS,
            // Account numbers are often written in groups: "100 200 300", "100-200-300".
            ' ' | '-' => continue,
            other => return Err(SayError::InvalidDigit(other)),
        };
        ids.push(id);
    }
    Ok(ids)
}

/// An amount split into sign, major and minor units (all four currencies have 100 minor units).
fn split_money(minor_units: i64) -> (bool, u64, u64) {
    let magnitude = minor_units.unsigned_abs();
    (minor_units < 0, magnitude / 100, magnitude % 100)
}

/// The currencies the engine can speak, by ISO 4217 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Currency {
    Uah,
    Rub,
    Eur,
    Usd,
}

impl Currency {
    fn parse(code: &str) -> Result<Self, SayError> {
        match code.to_ascii_uppercase().as_str() {
            "UAH" => Ok(Currency::Uah),
            "RUB" => Ok(Currency::Rub),
            "EUR" => Ok(Currency::Eur),
            "USD" => Ok(Currency::Usd),
            _ => Err(SayError::UnsupportedCurrency(code.to_owned())),
        }
    }
}

/// The units of measure the engine can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    KilowattHour,
    CubicMetre,
    /// Minutes, for waits in a queue.
    Minute,
}

impl Unit {
    fn parse(unit: &str) -> Result<Self, SayError> {
        match unit.to_ascii_lowercase().as_str() {
            "kwh" => Ok(Unit::KilowattHour),
            "m3" | "m³" => Ok(Unit::CubicMetre),
            "min" => Ok(Unit::Minute),
            _ => Err(SayError::UnsupportedUnit(unit.to_owned())),
        }
    }
}

/// The years dates can be spoken for: Slavic year ordinals have words for the
/// thousands 1000 and 2000 only (тисячного, двохтисячного).
const YEARS: std::ops::RangeInclusive<i32> = 1000..=2999;

/// The largest magnitude that has scale words (billions / мільярди / миллиарды).
const LARGEST: u64 = 999_999_999_999;

/// Checks a magnitude against [`LARGEST`], naming the signed value when too large.
fn within_range(negative: bool, magnitude: u64) -> Result<u64, SayError> {
    if magnitude > LARGEST {
        let signed = if negative {
            -i128::from(magnitude)
        } else {
            i128::from(magnitude)
        };
        return Err(SayError::NumberTooLarge(signed));
    }
    Ok(magnitude)
}
