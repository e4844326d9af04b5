//! The prompt store: every prompt decoded, resampled and G.711-encoded once at start,
//! then shared by all calls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::Codec;
use super::decode::decode_file;
use super::resample::resample;

/// One prompt, ready to send in either codec.
#[derive(Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The prompt id, e.g. `menu/main`.
    pub id: String,
    /// What the prompt says (from the sibling `.txt`), for transcripts.
    pub text: Option<String>,
    pcmu: Box<[u8]>,
    pcma: Box<[u8]>,
}

impl Prompt {
    /// A prompt from linear samples at 8 kHz (generated audio, tests).
    pub fn from_samples(id: &str, text: Option<String>, samples: &[i16]) -> Self {
        let encode = |codec: Codec| samples.iter().map(|s| codec.encode(*s)).collect();
        Prompt {
            id: id.to_string(),
            text,
            pcmu: encode(Codec::Pcmu),
            pcma: encode(Codec::Pcma),
        }
    }

    /// The prompt encoded in `codec`, one byte per 8 kHz sample.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }

    /// How long the prompt plays.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.pcmu.len() as u64 * 125)
    }
}

/// A prompt found by `PromptStore::get`.
#[derive(Debug, Clone)]
pub struct Found {
    /// The prompt.
    pub prompt: Arc<Prompt>,
    /// The language it was found in.
    pub language: String,
    /// True when it came from the default language, not the one asked for.
    pub fell_back: bool,
}

/// Why prompts could not be loaded or found.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The prompt directory could not be read (configuration or file system fault).
    #[error("cannot read prompt directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A prompt file could not be decoded (the file is damaged or not audio).
    #[error("cannot decode prompt file {path}: {reason}")]
    Decode { path: PathBuf, reason: String },
    /// Two files give the same prompt id (e.g. `a.wav` and `a.mp3`).
    #[error("prompt {id} is given twice in language {language}: {path}")]
    Duplicate {
        language: String,
        id: String,
        path: PathBuf,
    },
    /// No such prompt in the language asked for nor in the default one.
    #[error("no prompt {id} in language {language} or the default language")]
    NotFound { language: String, id: String },
}

/// All prompts of all languages, shared by every call.
#[derive(Debug, Default)]
pub struct PromptStore {
    default_language: String,
    languages: HashMap<String, HashMap<String, Arc<Prompt>>>,
}

/// File extensions we decode as audio.
const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "mp3", "flac", "ogg", "oga"];

impl PromptStore {
    /// An empty store (prompts added with `insert`).
    pub fn new(default_language: &str) -> Self {
        PromptStore {
            default_language: default_language.to_string(),
            languages: HashMap::new(),
        }
    }

    /// Loads `<dir>/<lang>/**`: every audio file becomes a prompt.
    pub fn load(dir: &Path, default_language: &str) -> Result<Self, PromptError> {
        let mut store = PromptStore::new(default_language);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PromptError::Io { path, source }
        };
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            if !entry.file_type().map_err(io(&entry.path()))?.is_dir() {
                continue;
            }
            let language = entry.file_name().to_string_lossy().into_owned();
            let mut files = Vec::new();
            collect_audio_files(&entry.path(), &mut files)?;
            files.sort();
            for path in files {
                let id = prompt_id(&entry.path(), &path);
                let prompt = load_prompt(&path, &id)?;
                if store.get_exact(&language, &id).is_some() {
                    return Err(PromptError::Duplicate { language, id, path });
                }
                store.insert(&language, prompt);
            }
        }
        Ok(store)
    }

    /// Adds (or replaces) a prompt.
    pub fn insert(&mut self, language: &str, prompt: Prompt) {
        self.languages
            .entry(language.to_string())
            .or_default()
            .insert(prompt.id.clone(), Arc::new(prompt));
    }

    /// Finds a prompt in `language`, else in the default language.
    pub fn get(&self, language: &str, id: &str) -> Result<Found, PromptError> {
        if let Some(prompt) = self.get_exact(language, id) {
            return Ok(Found {
                prompt,
                language: language.to_string(),
                fell_back: false,
            });
        }
        match self.get_exact(&self.default_language, id) {
            Some(prompt) => {
                tracing::debug!(language, id, "prompt missing, using the default language");
                Ok(Found {
                    prompt,
                    language: self.default_language.clone(),
                    fell_back: true,
                })
            }
            None => Err(PromptError::NotFound {
                language: language.to_string(),
                id: id.to_string(),
            }),
        }
    }

    /// The languages that have prompts.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.languages.keys().map(String::as_str)
    }

    /// How many prompts a language has.
    pub fn len(&self, language: &str) -> usize {
        self.languages.get(language).map_or(0, HashMap::len)
    }

    fn get_exact(&self, language: &str, id: &str) -> Option<Arc<Prompt>> {
        self.languages.get(language)?.get(id).cloned()
    }
}

fn collect_audio_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PromptError> {
    let io = |source| PromptError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_audio_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// `audio/en/menu/main.wav` under `audio/en` is `menu/main`.
fn prompt_id(language_dir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(language_dir).unwrap_or(file);
    let without_ext = relative.with_extension("");
    without_ext
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn load_prompt(path: &Path, id: &str) -> Result<Prompt, PromptError> {
    let decoded = decode_file(path).map_err(|reason| PromptError::Decode {
        path: path.to_path_buf(),
        reason,
    })?;
    let at_8k = resample(&decoded.samples, decoded.rate, 8000);
    let linear: Vec<i16> = at_8k
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect();
    let text = std::fs::read_to_string(path.with_extension("txt"))
        .ok()
        .map(|t| t.trim().to_string());
    Ok(Prompt::from_samples(id, text, &linear))
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
