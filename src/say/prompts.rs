//! The texts of the shipped word prompts, read from the same `audio/<lang>/say.tsv`
//! files the recordings are synthesised from, so a sentence shown in a log or a
//! test is exactly what the recordings say.

use super::Language;

const EN: &str = include_str!("../../audio/en/say.tsv");
const UK: &str = include_str!("../../audio/uk/say.tsv");
const RU: &str = include_str!("../../audio/ru/say.tsv");

/// The text of word prompt `id` in `language`, if the prompt list has it.
pub(super) fn text(language: Language, id: &str) -> Option<&'static str> {
    entries(language)
        .find(|(key, _)| *key == id)
        .map(|(_, text)| text)
}

/// Every `(prompt id, text)` line of a language's prompt list; an optional third
/// column (the pronunciation given to the synthesiser) is not part of the text.
pub(super) fn entries(language: Language) -> impl Iterator<Item = (&'static str, &'static str)> {
    let manifest = match language {
        Language::En => EN,
        Language::Uk => UK,
        Language::Ru => RU,
    };
    manifest
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut columns = line.split('\t');
            Some((columns.next()?, columns.next()?))
        })
}
