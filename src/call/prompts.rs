//! What a flow asks to play, as the encoded audio the media sends.

use std::sync::Arc;

use tracing::warn;

use crate::flow;
use crate::rtp::{Prompt, PromptStore};
use crate::server::media::{MediaCommand, MediaHandle};

/// Plays a flow's prompts on a leg's media; false when nothing will be
/// heard (no media, no prompt found), so the leg reports the playback
/// finished at once rather than have anyone wait for it.
pub(super) async fn play(
    store: Option<&PromptStore>,
    media: Option<&MediaHandle>,
    id: u64,
    prompts: &[flow::Prompt],
    barge_in: bool,
    looping: bool,
) -> bool {
    let (Some(store), Some(media)) = (store, media) else {
        return false;
    };
    let audio = resolve(store, prompts);
    if audio.is_empty() {
        return false;
    }
    let play = MediaCommand::Play {
        id,
        prompts: audio,
        barge_in,
        looping,
    };
    media.send(play).await
}

/// Prompt files in their language (the default language where one is
/// missing), values through the say engine's word prompts. A prompt that
/// cannot be found is skipped and logged: the caller hears the rest.
fn resolve(store: &PromptStore, prompts: &[flow::Prompt]) -> Vec<Arc<Prompt>> {
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
