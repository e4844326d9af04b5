//! Ukrainian and Russian: the same grammar with the same prompt ids, spoken
//! from each language's own recordings.
//!
//! - Plural forms: a counted noun takes the form for 1 (`_1`: гривня / рубль)
//!   when the number ends in 1, the form for 2 (`_2`: гривні / рубля) when it
//!   ends in 2-4, and the form for 5 (`_5`: гривень / рублей) otherwise,
//!   including 0 and every number ending in 11-14.
//! - Gender: the counted noun sets the form of a final 1 or 2 ("одна гривня",
//!   "два рублі"); thousands are feminine ("дві тисячі"), millions and
//!   billions masculine ("два мільйони").
//! - Dates: the day is an ordinal (nominative neuter "двадцять третє" for
//!   [`Sayable::Date`], genitive "двадцять третього" for [`Sayable::DateOn`]),
//!   then the month in the genitive and the year as a genitive ordinal with
//!   "року" / "года": "дві тисячі двадцять шостого року".

use super::{
    Currency, MINUS, SayError, Sayable, Unit, YEARS, common_words, digits, split_money,
    within_range,
};
use chrono::Datelike;

/// Which of the two languages: they differ only in the gender of some nouns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Uk,
    Ru,
}

/// The cardinal words 0-19; 1 and 2 are the masculine forms (один, два),
/// which are also the counting forms.
const UNITS: [&str; 20] = [
    "say/0", "say/1", "say/2", "say/3", "say/4", "say/5", "say/6", "say/7", "say/8", "say/9",
    "say/10", "say/11", "say/12", "say/13", "say/14", "say/15", "say/16", "say/17", "say/18",
    "say/19",
];
/// Feminine one and two: одна, дві / одна, две.
const ONE_FEMININE: &str = "say/1f";
const TWO_FEMININE: &str = "say/2f";
/// Tens by their first digit; 0 and 1 are spoken through [`UNITS`].
const TENS: [&str; 10] = [
    "", "", "say/20", "say/30", "say/40", "say/50", "say/60", "say/70", "say/80", "say/90",
];
/// Hundreds by their first digit: сто, двісті, триста ...
const HUNDREDS: [&str; 10] = [
    "", "say/100", "say/200", "say/300", "say/400", "say/500", "say/600", "say/700", "say/800",
    "say/900",
];

/// Grammatical gender of a counted noun, which sets the form of 1 and 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gender {
    Masculine,
    Feminine,
}

/// A counted noun: its gender and its words for 1, 2-4 and 5+ (the three
/// may be the same word for indeclinable nouns such as євро / евро).
struct Noun {
    gender: Gender,
    forms: [&'static str; 3],
}

const fn noun(gender: Gender, one: &'static str, two: &'static str, five: &'static str) -> Noun {
    Noun {
        gender,
        forms: [one, two, five],
    }
}

use Gender::{Feminine, Masculine};

const THOUSAND: Noun = noun(
    Feminine,
    "say/thousand_1",
    "say/thousand_2",
    "say/thousand_5",
);
const MILLION: Noun = noun(Masculine, "say/million_1", "say/million_2", "say/million_5");
const BILLION: Noun = noun(Masculine, "say/billion_1", "say/billion_2", "say/billion_5");
/// Scale nouns with their value, largest first.
const SCALES: [(u64, &Noun); 3] = [
    (1_000_000_000, &BILLION),
    (1_000_000, &MILLION),
    (1_000, &THOUSAND),
];

const HRYVNIA: Noun = noun(Feminine, "say/uah_1", "say/uah_2", "say/uah_5");
const ROUBLE: Noun = noun(Masculine, "say/rub_1", "say/rub_2", "say/rub_5");
// The euro does not decline, but its number agrees as with a masculine noun: один євро.
const EURO: Noun = noun(Masculine, "say/eur", "say/eur", "say/eur");
const DOLLAR: Noun = noun(Masculine, "say/usd_1", "say/usd_2", "say/usd_5");
const KOPECK: Noun = noun(Feminine, "say/kopeck_1", "say/kopeck_2", "say/kopeck_5");
const CENT: Noun = noun(Masculine, "say/cent_1", "say/cent_2", "say/cent_5");
/// кіловат-година is feminine, киловатт-час masculine: same words, different gender.
const KILOWATT_HOUR_UK: Noun = noun(Feminine, "say/kwh_1", "say/kwh_2", "say/kwh_5");
const KILOWATT_HOUR_RU: Noun = noun(Masculine, "say/kwh_1", "say/kwh_2", "say/kwh_5");
const CUBIC_METRE: Noun = noun(Masculine, "say/m3_1", "say/m3_2", "say/m3_5");
/// хвилина / минута: feminine in both, одна хвилина, дві хвилини, п'ять хвилин.
const MINUTE: Noun = noun(Feminine, "say/min_1", "say/min_2", "say/min_5");
const NOUNS: [&Noun; 12] = [
    &THOUSAND,
    &MILLION,
    &BILLION,
    &HRYVNIA,
    &ROUBLE,
    &EURO,
    &DOLLAR,
    &KOPECK,
    &CENT,
    &KILOWATT_HOUR_UK,
    &CUBIC_METRE,
    &MINUTE,
];

/// Nominative neuter ordinals 1-19 for the day (index 0 unused): перше, друге ... / первое ...
const DAY_NOMINATIVE: [&str; 20] = [
    "",
    "say/ord_nom_1",
    "say/ord_nom_2",
    "say/ord_nom_3",
    "say/ord_nom_4",
    "say/ord_nom_5",
    "say/ord_nom_6",
    "say/ord_nom_7",
    "say/ord_nom_8",
    "say/ord_nom_9",
    "say/ord_nom_10",
    "say/ord_nom_11",
    "say/ord_nom_12",
    "say/ord_nom_13",
    "say/ord_nom_14",
    "say/ord_nom_15",
    "say/ord_nom_16",
    "say/ord_nom_17",
    "say/ord_nom_18",
    "say/ord_nom_19",
];
/// Nominative neuter ordinals of whole tens for the day: двадцяте, тридцяте (index = first digit).
const DAY_NOMINATIVE_TENS: [&str; 4] = ["", "", "say/ord_nom_20", "say/ord_nom_30"];

/// Genitive masculine/neuter ordinals 1-19 (index 0 unused): першого ... / первого ...;
/// used for the day of [`Sayable::DateOn`] and for years.
const GENITIVE: [&str; 20] = [
    "",
    "say/ord_gen_1",
    "say/ord_gen_2",
    "say/ord_gen_3",
    "say/ord_gen_4",
    "say/ord_gen_5",
    "say/ord_gen_6",
    "say/ord_gen_7",
    "say/ord_gen_8",
    "say/ord_gen_9",
    "say/ord_gen_10",
    "say/ord_gen_11",
    "say/ord_gen_12",
    "say/ord_gen_13",
    "say/ord_gen_14",
    "say/ord_gen_15",
    "say/ord_gen_16",
    "say/ord_gen_17",
    "say/ord_gen_18",
    "say/ord_gen_19",
];
/// Genitive ordinals of whole tens: двадцятого ... дев'яностого (index = first digit).
const GENITIVE_TENS: [&str; 10] = [
    "",
    "",
    "say/ord_gen_20",
    "say/ord_gen_30",
    "say/ord_gen_40",
    "say/ord_gen_50",
    "say/ord_gen_60",
    "say/ord_gen_70",
    "say/ord_gen_80",
    "say/ord_gen_90",
];
/// Genitive ordinals of whole hundreds: сотого, двохсотого ... (index = first digit).
const GENITIVE_HUNDREDS: [&str; 10] = [
    "",
    "say/ord_gen_100",
    "say/ord_gen_200",
    "say/ord_gen_300",
    "say/ord_gen_400",
    "say/ord_gen_500",
    "say/ord_gen_600",
    "say/ord_gen_700",
    "say/ord_gen_800",
    "say/ord_gen_900",
];
/// Genitive ordinals of whole thousands for years 1000 and 2000: тисячного, двохтисячного.
const GENITIVE_THOUSANDS: [&str; 3] = ["", "say/ord_gen_1000", "say/ord_gen_2000"];
/// Months in the genitive: січня ... грудня / января ... декабря.
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
/// "року" / "года" after the year.
const YEAR: &str = "say/year";

/// The Ukrainian or Russian word ids for `item`.
pub(super) fn expand(lang: Lang, item: &Sayable) -> Result<Vec<&'static str>, SayError> {
    let mut out = Vec::new();
    match item {
        Sayable::Number(n) => {
            let magnitude = within_range(n.is_negative(), n.unsigned_abs())?;
            if n.is_negative() {
                out.push(MINUS);
            }
            cardinal(&mut out, magnitude, Masculine);
        }
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
            let major = within_range(negative, major)?;
            if negative {
                out.push(MINUS);
            }
            if major > 0 || minor == 0 {
                counted(&mut out, major, major_noun);
            }
            if minor > 0 {
                counted(&mut out, minor, minor_noun);
            }
        }
        Sayable::Date(date) => date_words(&mut out, *date, false)?,
        Sayable::DateOn(date) => date_words(&mut out, *date, true)?,
        Sayable::Quantity { value, unit } => {
            let noun = match (Unit::parse(unit)?, lang) {
                (Unit::KilowattHour, Lang::Uk) => &KILOWATT_HOUR_UK,
                (Unit::KilowattHour, Lang::Ru) => &KILOWATT_HOUR_RU,
                (Unit::CubicMetre, _) => &CUBIC_METRE,
                (Unit::Minute, _) => &MINUTE,
            };
            let magnitude = within_range(value.is_negative(), value.unsigned_abs())?;
            if value.is_negative() {
                out.push(MINUS);
            }
            counted(&mut out, magnitude, noun);
        }
    }
    Ok(out)
}

/// Every Ukrainian or Russian word id [`expand`] can produce (the same ids in both).
pub(super) fn words() -> Vec<&'static str> {
    let mut ids = common_words();
    ids.extend(UNITS);
    ids.extend([ONE_FEMININE, TWO_FEMININE, YEAR]);
    let tables: [&[&'static str]; 8] = [
        &TENS,
        &HUNDREDS,
        &DAY_NOMINATIVE,
        &DAY_NOMINATIVE_TENS,
        &GENITIVE,
        &GENITIVE_TENS,
        &GENITIVE_HUNDREDS,
        &GENITIVE_THOUSANDS,
    ];
    ids.extend(
        tables
            .iter()
            .flat_map(|table| table.iter())
            .filter(|id| !id.is_empty()),
    );
    ids.extend(MONTHS);
    ids.extend(NOUNS.iter().flat_map(|noun| noun.forms));
    ids
}

/// Which of a noun's three forms follows `n`: 1 (and 21, 101 ...), 2-4 (and
/// 22-24 ...), or 5 (0, 5-20, 25-30, and everything ending in 11-14).
fn form_index(n: u64) -> usize {
    match (n % 10, n % 100) {
        (_, 11..=14) => 2,
        (1, _) => 0,
        (2..=4, _) => 1,
        _ => 2,
    }
}

/// A number and its noun in the right form, the number agreeing in gender.
fn counted(out: &mut Vec<&'static str>, n: u64, noun: &Noun) {
    cardinal(out, n, noun.gender);
    out.push(noun.forms[form_index(n)]);
}

/// A cardinal number below one trillion whose final 1 or 2 agrees with `gender`.
fn cardinal(out: &mut Vec<&'static str>, n: u64, gender: Gender) {
    if n == 0 {
        out.push(UNITS[0]);
        return;
    }
    for (value, scale) in SCALES {
        let group = n / value % 1000;
        if group > 0 {
            counted(out, group, scale);
        }
    }
    let last = n % 1000;
    if last > 0 {
        below_thousand(out, last, gender);
    }
}

/// 1 to 999: hundreds, then tens and units, or a word for 10-19.
fn below_thousand(out: &mut Vec<&'static str>, n: u64, gender: Gender) {
    let (hundreds, rest) = ((n / 100) as usize, n % 100);
    if hundreds > 0 {
        out.push(HUNDREDS[hundreds]);
    }
    if rest >= 20 {
        out.push(TENS[(rest / 10) as usize]);
    }
    let unit = if rest < 20 { rest } else { rest % 10 };
    match (unit, gender) {
        (0, _) => {}
        (1, Feminine) => out.push(ONE_FEMININE),
        (2, Feminine) => out.push(TWO_FEMININE),
        _ => out.push(UNITS[unit as usize]),
    }
}

/// Day ordinal, month in the genitive, year as a genitive ordinal and "року" / "года".
fn date_words(
    out: &mut Vec<&'static str>,
    date: chrono::NaiveDate,
    genitive: bool,
) -> Result<(), SayError> {
    if !YEARS.contains(&date.year()) {
        return Err(SayError::YearOutOfRange(date.year()));
    }
    let day = date.day() as usize;
    match (genitive, day) {
        (false, 1..=19) => out.push(DAY_NOMINATIVE[day]),
        (false, _) if day.is_multiple_of(10) => out.push(DAY_NOMINATIVE_TENS[day / 10]),
        (false, _) => out.extend([TENS[day / 10], DAY_NOMINATIVE[day % 10]]),
        (true, _) => genitive_below_hundred(out, day),
    }
    out.push(MONTHS[date.month0() as usize]);
    year(out, date.year().unsigned_abs() as usize);
    out.push(YEAR);
    Ok(())
}

/// A year from 1000 to 2999 as a genitive ordinal: only the last word is an
/// ordinal ("дві тисячі двадцять шостого"), and a year starting with one
/// thousand says "тисяча" without "одна", as is usual for years.
fn year(out: &mut Vec<&'static str>, year: usize) {
    let (thousands, rest) = (year / 1000, year % 1000);
    if rest == 0 {
        out.push(GENITIVE_THOUSANDS[thousands]);
        return;
    }
    if thousands == 1 {
        out.push(THOUSAND.forms[0]);
    } else {
        counted(out, thousands as u64, &THOUSAND);
    }
    let (hundreds, rest) = (rest / 100, rest % 100);
    if rest == 0 {
        out.push(GENITIVE_HUNDREDS[hundreds]);
        return;
    }
    if hundreds > 0 {
        out.push(HUNDREDS[hundreds]);
    }
    genitive_below_hundred(out, rest);
}

/// 1 to 99 as a genitive ordinal: "першого", "двадцятого", "двадцять шостого".
fn genitive_below_hundred(out: &mut Vec<&'static str>, n: usize) {
    match n {
        1..=19 => out.push(GENITIVE[n]),
        _ if n.is_multiple_of(10) => out.push(GENITIVE_TENS[n / 10]),
        _ => out.extend([TENS[n / 10], GENITIVE[n % 10]]),
    }
}
