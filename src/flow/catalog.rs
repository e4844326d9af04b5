//! What a flow may refer to outside itself: CRM lookups, ticket types, queues, prompts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::path::Path;

/// Names defined in configuration that flows may use; filled by the integrator.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Named self-service lookups.
    pub lookups: BTreeSet<String>,
    /// Ticket types and the fields each declares.
    pub ticket_types: BTreeMap<String, BTreeSet<String>>,
    /// Agent queues.
    pub queues: BTreeSet<String>,
}

/// Answers whether a prompt exists in a language.
pub trait PromptCatalog {
    /// Whether prompt `id` (e.g. `hotline/greeting`) exists in `language`.
    fn exists(&self, language: &str, id: &str) -> bool;
}

/// Extensions a prompt file may have.
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "mp3", "flac", "ogg"];

/// The prompts under an `audio/` directory (`audio/<lang>/<id>.<ext>`) and their texts.
#[derive(Debug, Clone, Default)]
pub struct AudioDir {
    files: HashSet<(String, String)>,
    texts: HashMap<(String, String), String>,
}

impl AudioDir {
    /// Scans `root` once: audio files, `.txt` stamps beside them and `*.tsv` manifests.
    pub fn open(root: &Path) -> io::Result<AudioDir> {
        let mut dir = AudioDir::default();
        for lang_entry in std::fs::read_dir(root)? {
            let lang_entry = lang_entry?;
            if !lang_entry.file_type()?.is_dir() {
                continue;
            }
            let lang = lang_entry.file_name().to_string_lossy().into_owned();
            dir.scan(&lang, &lang_entry.path(), "")?;
        }
        Ok(dir)
    }

    /// The text of a prompt, as written in the manifest, when known.
    pub fn text(&self, language: &str, id: &str) -> Option<&str> {
        self.texts
            .get(&(language.to_owned(), id.to_owned()))
            .map(String::as_str)
    }

    /// Records a prompt file by hand; for tests and other stores.
    pub fn insert(&mut self, language: &str, id: &str, text: &str) {
        self.files.insert((language.to_owned(), id.to_owned()));
        self.texts
            .insert((language.to_owned(), id.to_owned()), text.to_owned());
    }

    fn scan(&mut self, lang: &str, path: &Path, prefix: &str) -> io::Result<()> {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                self.scan(lang, &entry.path(), &format!("{prefix}{name}/"))?;
                continue;
            }
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            let id = format!("{prefix}{stem}");
            if AUDIO_EXTENSIONS.contains(&ext) {
                self.files.insert((lang.to_owned(), id));
            } else if ext == "txt" {
                let text = std::fs::read_to_string(entry.path())?;
                self.texts
                    .entry((lang.to_owned(), id))
                    .or_insert(text.trim().to_owned());
            } else if ext == "tsv" && prefix.is_empty() {
                // The manifest wins over a stale stamp: it is what the next synthesis makes.
                for line in std::fs::read_to_string(entry.path())?.lines() {
                    if let Some((id, text)) = line.split_once('\t')
                        && !id.starts_with('#')
                    {
                        self.texts
                            .insert((lang.to_owned(), id.to_owned()), text.to_owned());
                    }
                }
            }
        }
        Ok(())
    }
}

impl PromptCatalog for AudioDir {
    fn exists(&self, language: &str, id: &str) -> bool {
        self.files.contains(&(language.to_owned(), id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_dir_finds_nested_prompts_and_their_texts() {
        let root = tempfile::tempdir().unwrap();
        let en = root.path().join("en");
        std::fs::create_dir_all(en.join("hotline")).unwrap();
        std::fs::write(en.join("hotline/greeting.wav"), b"RIFF").unwrap();
        std::fs::write(en.join("hotline/greeting.txt"), "Hello").unwrap();
        std::fs::write(en.join("hotline/menu.ogg"), b"OggS").unwrap();
        std::fs::write(en.join("flow.tsv"), "hotline/menu\tThe menu\n").unwrap();
        let dir = AudioDir::open(root.path()).unwrap();
        assert!(dir.exists("en", "hotline/greeting"));
        assert!(dir.exists("en", "hotline/menu"));
        assert!(!dir.exists("uk", "hotline/greeting"));
        assert_eq!(dir.text("en", "hotline/greeting"), Some("Hello"));
        assert_eq!(dir.text("en", "hotline/menu"), Some("The menu"));
    }
}
