//! Say-engine tests: each language's sentences as the shipped prompt texts spell
//! them, and the checks that hold for every language.

mod en;
mod ru;
mod uk;

use super::*;
use chrono::NaiveDate;
use std::collections::HashSet;

/// What `item` sounds like in `lang`, as the readable sentence of its word prompts.
fn say(lang: &str, item: Sayable) -> String {
    let ids = expand(lang, &item).unwrap_or_else(|e| panic!("{lang} {item:?}: {e}"));
    text(lang, &ids)
}

fn number(lang: &str, n: i64) -> String {
    say(lang, Sayable::Number(n))
}

fn money(lang: &str, minor_units: i64, currency: &str) -> String {
    say(
        lang,
        Sayable::Money {
            minor_units,
            currency: currency.to_owned(),
        },
    )
}

fn date(lang: &str, y: i32, m: u32, d: u32) -> String {
    say(
        lang,
        Sayable::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()),
    )
}

fn date_on(lang: &str, y: i32, m: u32, d: u32) -> String {
    say(
        lang,
        Sayable::DateOn(NaiveDate::from_ymd_opt(y, m, d).unwrap()),
    )
}

fn quantity(lang: &str, value: i64, unit: &str) -> String {
    say(
        lang,
        Sayable::Quantity {
            value,
            unit: unit.to_owned(),
        },
    )
}

fn digits_of(lang: &str, text: &str) -> String {
    say(lang, Sayable::Digits(text.to_owned()))
}

/// A spread of values of every kind, to check the word inventory against.
fn samples() -> Vec<Sayable> {
    let mut items = Vec::new();
    let mut n: i64 = 1;
    while n < 1_000_000_000_000 {
        let multiples = [
            n - 1,
            n,
            n + 1,
            2 * n,
            5 * n,
            11 * n,
            21 * n,
            99 * n,
            123 * n,
            999 * n,
        ];
        for k in multiples.into_iter().filter(|k| *k < 1_000_000_000_000) {
            items.push(Sayable::Number(k));
            items.push(Sayable::Number(-k));
        }
        n *= 10;
    }
    items.extend((0..1000).map(Sayable::Number));
    items.push(Sayable::Number(999_999_999_999));
    for currency in ["UAH", "RUB", "EUR", "USD"] {
        for minor_units in [
            0,
            1,
            2,
            5,
            11,
            21,
            100,
            101,
            200,
            123_456,
            -2_500,
            100_000_000,
        ] {
            let currency = currency.to_owned();
            items.push(Sayable::Money {
                minor_units,
                currency,
            });
        }
    }
    for unit in ["kWh", "m3", "min"] {
        for value in [0, 1, 2, 5, 12_000, -3] {
            let unit = unit.to_owned();
            items.push(Sayable::Quantity { value, unit });
        }
    }
    let mut day = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap();
    while day.year() < 3000 {
        items.push(Sayable::Date(day));
        items.push(Sayable::DateOn(day));
        day += chrono::TimeDelta::days(97);
    }
    for d in 1..=31 {
        let day = NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        items.extend([Sayable::Date(day), Sayable::DateOn(day)]);
    }
    for year in [1000, 1900, 1905, 1999, 2000, 2001, 2010, 2100, 2200, 2999] {
        let day = NaiveDate::from_ymd_opt(year, 12, 31).unwrap();
        items.extend([Sayable::Date(day), Sayable::DateOn(day)]);
    }
    items.push(Sayable::Digits("0123456789*#+".to_owned()));
    items
}

use chrono::Datelike;

#[test]
fn every_word_produced_is_in_the_language_inventory() {
    for lang in ["en", "uk", "ru"] {
        let inventory: HashSet<&str> = words(lang).unwrap().into_iter().collect();
        for item in samples() {
            for id in expand(lang, &item).unwrap() {
                assert!(
                    inventory.contains(id.as_str()),
                    "{lang} {item:?} says {id}, not in words()"
                );
            }
        }
    }
}

#[test]
fn every_word_is_used_by_some_value() {
    for lang in ["en", "uk", "ru"] {
        let used: HashSet<String> = samples()
            .iter()
            .flat_map(|item| expand(lang, item).unwrap())
            .collect();
        for id in words(lang).unwrap() {
            assert!(used.contains(id), "{lang}: {id} is never spoken");
        }
    }
}

#[test]
fn shipped_prompt_list_has_exactly_the_words_of_each_language() {
    for (lang, language) in [
        ("en", Language::En),
        ("uk", Language::Uk),
        ("ru", Language::Ru),
    ] {
        let shipped: Vec<&str> = prompts::entries(language).map(|(id, _)| id).collect();
        let unique: HashSet<&str> = shipped.iter().copied().collect();
        assert_eq!(
            unique.len(),
            shipped.len(),
            "{lang}: a prompt id is listed twice"
        );
        let inventory: HashSet<&str> = words(lang).unwrap().into_iter().collect();
        assert_eq!(unique, inventory, "{lang}: say.tsv and words() differ");
        for (id, text) in prompts::entries(language) {
            assert!(!text.trim().is_empty(), "{lang}: {id} has no text");
        }
    }
}

#[test]
fn slavic_prompt_texts_are_in_cyrillic_with_plain_apostrophes() {
    for language in [Language::Uk, Language::Ru] {
        for (id, text) in prompts::entries(language) {
            let foreign = text
                .chars()
                .find(|c| c.is_alphabetic() && !('\u{0400}'..='\u{04FF}').contains(c));
            assert_eq!(
                foreign, None,
                "{language:?} {id} {text:?} is not all Cyrillic"
            );
        }
    }
}

#[test]
fn check_prompts_names_the_first_missing_word() {
    let missing = "say/uah_2";
    let err = check_prompts("uk", |id| id != missing).unwrap_err();
    assert_eq!(
        err,
        SayError::MissingWord {
            lang: "uk".into(),
            id: missing.into()
        }
    );
    assert!(err.to_string().contains("say/uah_2"));
}

#[test]
fn check_prompts_passes_when_every_word_exists_and_asks_about_each() {
    let mut asked = Vec::new();
    check_prompts("ru", |id| {
        asked.push(id.to_owned());
        true
    })
    .unwrap();
    assert_eq!(asked.len(), words("ru").unwrap().len());
}

#[test]
fn check_prompts_against_the_shipped_recordings() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
    for lang in ["en", "uk", "ru"] {
        check_prompts(lang, |id| {
            root.join(lang).join(format!("{id}.wav")).is_file()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn synthesiser_pronunciations_are_espeak_phonemes() {
    for lang in ["en", "uk", "ru"] {
        let manifest = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("audio/{lang}/say.tsv")),
        )
        .unwrap();
        for line in manifest.lines().filter(|line| !line.starts_with('#')) {
            let columns: Vec<&str> = line.split('\t').collect();
            assert!(matches!(columns.len(), 2 | 3), "{lang}: {line:?}");
            if let Some(spoken) = columns.get(2) {
                assert!(
                    spoken.starts_with("[[") && spoken.ends_with("]]"),
                    "{lang}: {line:?}"
                );
            }
        }
    }
}

#[test]
fn unsupported_inputs_are_typed_errors() {
    let money = |currency: &str| Sayable::Money {
        minor_units: 100,
        currency: currency.into(),
    };
    assert_eq!(
        expand("de", &Sayable::Number(1)),
        Err(SayError::UnsupportedLanguage("de".into()))
    );
    assert_eq!(words("pl"), Err(SayError::UnsupportedLanguage("pl".into())));
    for lang in ["en", "uk", "ru"] {
        assert_eq!(
            expand(lang, &money("GBP")),
            Err(SayError::UnsupportedCurrency("GBP".into()))
        );
        let litres = Sayable::Quantity {
            value: 3,
            unit: "l".into(),
        };
        assert_eq!(
            expand(lang, &litres),
            Err(SayError::UnsupportedUnit("l".into()))
        );
        assert_eq!(
            expand(lang, &Sayable::Number(1_000_000_000_000)),
            Err(SayError::NumberTooLarge(1_000_000_000_000))
        );
        assert_eq!(
            expand(lang, &Sayable::Number(i64::MIN)),
            Err(SayError::NumberTooLarge(i64::MIN.into()))
        );
        let old = NaiveDate::from_ymd_opt(999, 1, 1).unwrap();
        assert_eq!(
            expand(lang, &Sayable::Date(old)),
            Err(SayError::YearOutOfRange(999))
        );
        assert_eq!(
            expand(lang, &Sayable::Digits("12a".into())),
            Err(SayError::InvalidDigit('a'))
        );
    }
}

#[test]
fn language_tags_with_region_and_codes_in_any_case_are_accepted() {
    assert_eq!(number("uk-UA", 2), number("uk", 2));
    assert_eq!(number("RU_ru", 2), "два");
    assert_eq!(money("en-GB", 100, "usd"), "one dollar");
    assert_eq!(quantity("uk", 2, "KWH"), "дві кіловат-години");
    assert_eq!(quantity("uk", 2, "m³"), "два кубічні метри");
}

#[test]
fn digits_skip_group_separators_and_use_the_same_words_in_every_language() {
    let expected = ["say/1", "say/0", "say/0", "say/2", "say/star", "say/hash"];
    for lang in ["en", "uk", "ru"] {
        assert_eq!(
            expand(lang, &Sayable::Digits("10-0 2*#".into())).unwrap(),
            expected
        );
    }
}

#[test]
fn text_marks_words_it_has_no_text_for() {
    let ids = vec!["say/5".to_owned(), "say/nothing".to_owned()];
    assert_eq!(text("en", &ids), "five [say/nothing]");
}
