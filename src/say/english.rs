//! British English: "one thousand two hundred and thirty-four", "the twenty-third
//! of November two thousand and twenty-six", "one hryvnia", "two hryvnias".
//!
//! Numbers are composed from 0-19, the tens and "hundred" / "thousand" /
//! "million" / "billion"; "and" comes before the last two digits of each group
//! of three that has hundreds, and before a final group below one hundred
//! ("one thousand and one").

use super::{
    Currency, MINUS, SayError, Sayable, Unit, YEARS, common_words, digits, split_money,
    within_range,
};
use chrono::Datelike;

const UNITS: [&str; 20] = [
    "say/0", "say/1", "say/2", "say/3", "say/4", "say/5", "say/6", "say/7", "say/8", "say/9",
    "say/10", "say/11", "say/12", "say/13", "say/14", "say/15", "say/16", "say/17", "say/18",
    "say/19",
];
/// Tens by their first digit; 0 and 1 are spoken through [`UNITS`].
const TENS: [&str; 10] = [
    "", "", "say/20", "say/30", "say/40", "say/50", "say/60", "say/70", "say/80", "say/90",
];
const HUNDRED: &str = "say/hundred";
const AND: &str = "say/and";
/// Scale words with their value, largest first.
const SCALES: [(u64, &str); 3] = [
    (1_000_000_000, "say/billion"),
    (1_000_000, "say/million"),
    (1_000, "say/thousand"),
];
/// Ordinals 1st-19th by number (index 0 unused), for days of the month.
const ORDINALS: [&str; 20] = [
    "",
    "say/ord_1",
    "say/ord_2",
    "say/ord_3",
    "say/ord_4",
    "say/ord_5",
    "say/ord_6",
    "say/ord_7",
    "say/ord_8",
    "say/ord_9",
    "say/ord_10",
    "say/ord_11",
    "say/ord_12",
    "say/ord_13",
    "say/ord_14",
    "say/ord_15",
    "say/ord_16",
    "say/ord_17",
    "say/ord_18",
    "say/ord_19",
];
const ORD_20: &str = "say/ord_20";
const ORD_30: &str = "say/ord_30";
const MONTHS: [&str; 12] = [
    "say/month_1",
    "say/month_2",
    "say/month_3",
    "say/month_4",
    "say/month_5",
    "say/month_6",
    "say/month_7",
    "say/month_8",
    "say/month_9",
    "say/month_10",
    "say/month_11",
    "say/month_12",
];
const THE: &str = "say/the";
const OF: &str = "say/of";
/// "oh" as in "nineteen oh five".
const OH: &str = "say/oh";

/// A counted noun: its singular and its plural word.
struct Noun {
    one: &'static str,
    many: &'static str,
}

const HRYVNIA: Noun = Noun {
    one: "say/uah_1",
    many: "say/uah_5",
};
const ROUBLE: Noun = Noun {
    one: "say/rub_1",
    many: "say/rub_5",
};
const EURO: Noun = Noun {
    one: "say/eur_1",
    many: "say/eur_5",
};
const DOLLAR: Noun = Noun {
    one: "say/usd_1",
    many: "say/usd_5",
};
const KOPECK: Noun = Noun {
    one: "say/kopeck_1",
    many: "say/kopeck_5",
};
const CENT: Noun = Noun {
    one: "say/cent_1",
    many: "say/cent_5",
};
const KILOWATT_HOUR: Noun = Noun {
    one: "say/kwh_1",
    many: "say/kwh_5",
};
const CUBIC_METRE: Noun = Noun {
    one: "say/m3_1",
    many: "say/m3_5",
};
const MINUTE: Noun = Noun {
    one: "say/min_1",
    many: "say/min_5",
};
const NOUNS: [&Noun; 9] = [
    &HRYVNIA,
    &ROUBLE,
    &EURO,
    &DOLLAR,
    &KOPECK,
    &CENT,
    &KILOWATT_HOUR,
    &CUBIC_METRE,
    &MINUTE,
];

/// The English word ids for `item`.
pub(super) fn expand(item: &Sayable) -> Result<Vec<&'static str>, SayError> {
    let mut out = Vec::new();
    match item {
        Sayable::Number(n) => signed(&mut out, n.is_negative(), n.unsigned_abs())?,
        Sayable::Digits(text) => out = digits(text)?,
        Sayable::Money {
            minor_units,
            currency,
        } => {
            let (major_noun, minor_noun) = match Currency::parse(currency)? {
                Currency::Uah => (&HRYVNIA, &KOPECK),
                Currency::Rub => (&ROUBLE, &KOPECK),
                Currency::Eur => (&EURO, &CENT),
                Currency::Usd => (&DOLLAR, &CENT),
            };
            let (negative, major, minor) = split_money(*minor_units);
            if negative {
                out.push(MINUS);
            }
            let major = within_range(negative, major)?;
            if major > 0 || minor == 0 {
                counted(&mut out, major, major_noun);
            }
            if minor > 0 {
                if major > 0 {
                    out.push(AND);
                }
                counted(&mut out, minor, minor_noun);
            }
        }
        Sayable::Date(date) | Sayable::DateOn(date) => {
            if !YEARS.contains(&date.year()) {
                return Err(SayError::YearOutOfRange(date.year()));
            }
            out.push(THE);
            day_ordinal(&mut out, date.day());
            out.push(OF);
            out.push(MONTHS[date.month0() as usize]);
            year(&mut out, date.year().unsigned_abs().into());
        }
        Sayable::Quantity { value, unit } => {
            let noun = match Unit::parse(unit)? {
                Unit::KilowattHour => &KILOWATT_HOUR,
                Unit::CubicMetre => &CUBIC_METRE,
                Unit::Minute => &MINUTE,
            };
            if value.is_negative() {
                out.push(MINUS);
            }
            let magnitude = within_range(value.is_negative(), value.unsigned_abs())?;
            counted(&mut out, magnitude, noun);
        }
    }
    Ok(out)
}

/// Every English word id [`expand`] can produce.
pub(super) fn words() -> Vec<&'static str> {
    let mut ids = common_words();
    ids.extend(UNITS);
    ids.extend(TENS.iter().filter(|id| !id.is_empty()));
    ids.extend([HUNDRED, AND, THE, OF, OH, ORD_20, ORD_30]);
    ids.extend(SCALES.iter().map(|(_, id)| *id));
    ids.extend(ORDINALS.iter().filter(|id| !id.is_empty()));
    ids.extend(MONTHS);
    ids.extend(NOUNS.iter().flat_map(|noun| [noun.one, noun.many]));
    ids
}

/// Whether the text of `next` is joined to `previous` with a hyphen, as in
/// "thirty-four" and "twenty-first".
pub(super) fn joins_with_hyphen(previous: &str, next: &str) -> bool {
    TENS.contains(&previous) && (UNITS[1..10].contains(&next) || ORDINALS.contains(&next))
}

/// A signed cardinal: "minus" for negatives.
fn signed(out: &mut Vec<&'static str>, negative: bool, magnitude: u64) -> Result<(), SayError> {
    let magnitude = within_range(negative, magnitude)?;
    if negative {
        out.push(MINUS);
    }
    cardinal(out, magnitude);
    Ok(())
}

/// A number and its noun: singular only for exactly one ("zero hryvnias", "one hryvnia").
fn counted(out: &mut Vec<&'static str>, n: u64, noun: &Noun) {
    cardinal(out, n);
    out.push(if n == 1 { noun.one } else { noun.many });
}

/// A cardinal number below one trillion.
fn cardinal(out: &mut Vec<&'static str>, n: u64) {
    if n == 0 {
        out.push(UNITS[0]);
        return;
    }
    for (value, word) in SCALES {
        let group = n / value % 1000;
        if group > 0 {
            below_thousand(out, group);
            out.push(word);
        }
    }
    let last = n % 1000;
    if last > 0 {
        if n >= 1000 && last < 100 {
            out.push(AND);
        }
        below_thousand(out, last);
    }
}

/// 1 to 999: "two hundred and thirty-four".
fn below_thousand(out: &mut Vec<&'static str>, n: u64) {
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        out.extend([UNITS[hundreds as usize], HUNDRED]);
        if rest > 0 {
            out.push(AND);
        }
    }
    if rest > 0 {
        below_hundred(out, rest);
    }
}

/// 1 to 99: "thirty-four" is "thirty" then "four".
fn below_hundred(out: &mut Vec<&'static str>, n: u64) {
    if n < 20 {
        out.push(UNITS[n as usize]);
    } else {
        out.push(TENS[(n / 10) as usize]);
        if !n.is_multiple_of(10) {
            out.push(UNITS[(n % 10) as usize]);
        }
    }
}

/// A day of the month, 1 to 31: "first", "twentieth", "twenty-second".
fn day_ordinal(out: &mut Vec<&'static str>, day: u32) {
    match day {
        1..=19 => out.push(ORDINALS[day as usize]),
        20 => out.push(ORD_20),
        30 => out.push(ORD_30),
        _ => out.extend([TENS[(day / 10) as usize], ORDINALS[(day % 10) as usize]]),
    }
}

/// A year as British English says it: "two thousand and twenty-six",
/// "nineteen ninety-nine", "nineteen oh five", "nineteen hundred".
fn year(out: &mut Vec<&'static str>, year: u64) {
    if (2000..3000).contains(&year) || year.is_multiple_of(1000) {
        cardinal(out, year);
        return;
    }
    let (century, rest) = (year / 100, year % 100);
    below_hundred(out, century);
    match rest {
        0 => out.push(HUNDRED),
        1..=9 => out.extend([OH, UNITS[rest as usize]]),
        _ => below_hundred(out, rest),
    }
}
