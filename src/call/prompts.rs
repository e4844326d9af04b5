//! What a flow asks to play, as the encoded audio the media sends.

use std::sync::Arc;

use tracing::warn;

use crate::flow;
use crate::rtp::{Prompt, PromptStore};

/// Prompt files in their language (the default language where one is
/// missing), values through the say engine's word prompts. A prompt that
/// cannot be found is skipped and logged: the caller hears the rest.
pub(super) fn resolve(store: &PromptStore, prompts: &[flow::Prompt]) -> Vec<Arc<Prompt>> {
    let mut audio = Vec::with_capacity(prompts.len());
    let mut push = |language: &str, id: &str| match store.get(language, id) {
        Ok(found) => audio.push(found.prompt),
        Err(error) => warn!(%error, "prompt missing"),
    };
    for prompt in prompts {
        match prompt {
            flow::Prompt::File { id, language } => push(language, id),
            flow::Prompt::Say { value, language } => match crate::say::expand(language, value) {
                Ok(words) => words.iter().for_each(|word| push(language, word)),
                Err(error) => warn!(%error, ?value, "cannot say the value"),
            },
        }
    }
    audio
}
