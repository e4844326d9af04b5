//! The prompt player: sequences, loops and barge-in, feeding the RTP session frame by frame.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Codec;
use super::prompt::Prompt;
use super::session::FrameSource;

/// Plays one playback (a sequence of prompts) at a time; sans-IO.
#[derive(Debug, Default)]
pub struct Player {
    current: Option<Playback>,
    events: VecDeque<PlayerEvent>,
}

/// What the player reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerEvent {
    /// A playback ended: played to the end, or `interrupted` by `stop`/a new `play`.
    Finished { id: u64, interrupted: bool },
}

#[derive(Debug)]
struct Playback {
    id: u64,
    prompts: Vec<Arc<Prompt>>,
    looping: bool,
    /// Which prompt, and how many samples of it were already played.
    index: usize,
    offset: usize,
}

impl Player {
    /// A player with nothing to play.
    pub fn new() -> Self {
        Player::default()
    }

    /// Starts playing `prompts` back to back (over and over if `looping`).
    ///
    /// A playback still running is interrupted and reported finished.
    pub fn play(&mut self, id: u64, prompts: Vec<Arc<Prompt>>, looping: bool) {
        self.stop();
        let total: usize = prompts.iter().map(|p| p.encoded(Codec::Pcmu).len()).sum();
        if total == 0 {
            // Nothing to hear: finished at once (and a loop of nothing must not spin).
            self.events.push_back(PlayerEvent::Finished {
                id,
                interrupted: false,
            });
            return;
        }
        self.current = Some(Playback {
            id,
            prompts,
            looping,
            index: 0,
            offset: 0,
        });
    }

    /// Stops the current playback at once (barge-in); returns its id.
    pub fn stop(&mut self) -> Option<u64> {
        let playback = self.current.take()?;
        self.events.push_back(PlayerEvent::Finished {
            id: playback.id,
            interrupted: true,
        });
        Some(playback.id)
    }

    /// The id of the playback in progress.
    pub fn playing(&self) -> Option<u64> {
        self.current.as_ref().map(|p| p.id)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        self.events.pop_front()
    }
}

impl FrameSource for Player {
    fn fill_frame(&mut self, codec: Codec, out: &mut [u8]) -> bool {
        let Some(playback) = &mut self.current else {
            return false;
        };
        let mut filled = 0;
        while filled < out.len() {
            let Some(prompt) = playback.prompts.get(playback.index) else {
                if playback.looping {
                    playback.index = 0;
                    continue;
                }
                break;
            };
            let audio = prompt.encoded(codec);
            let available = audio.get(playback.offset..).unwrap_or(&[]);
            let n = available.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&available[..n]);
            filled += n;
            playback.offset += n;
            if playback.offset >= audio.len() {
                playback.index += 1;
                playback.offset = 0;
            }
        }
        // The last frame of a playback is completed with silence.
        out[filled..].fill(codec.silence());
        let done = !playback.looping && playback.index >= playback.prompts.len();
        if done {
            let id = playback.id;
            self.current = None;
            self.events.push_back(PlayerEvent::Finished {
                id,
                interrupted: false,
            });
        }
        filled > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: &str, len: usize, value: i16) -> Arc<Prompt> {
        Arc::new(Prompt::from_samples(id, None, &vec![value; len]))
    }

    fn frames(player: &mut Player, n: usize) -> Vec<(bool, Vec<u8>)> {
        (0..n)
            .map(|_| {
                let mut out = [0u8; 160];
                let audio = player.fill_frame(Codec::Pcmu, &mut out);
                (audio, out.to_vec())
            })
            .collect()
    }

    #[test]
    fn a_sequence_plays_back_to_back_and_finishes_once() {
        let mut player = Player::new();
        let a = Codec::Pcmu.encode(1000);
        let b = Codec::Pcmu.encode(-1000);
        player.play(
            7,
            vec![prompt("a", 200, 1000), prompt("b", 100, -1000)],
            false,
        );
        let out = frames(&mut player, 3);
        assert!(out[0].0 && out[1].0);
        assert!(out[0].1.iter().all(|c| *c == a));
        // Frame 2 holds the last 40 samples of "a", then 100 of "b", then silence.
        assert!(out[1].1[..40].iter().all(|c| *c == a));
        assert!(out[1].1[40..140].iter().all(|c| *c == b));
        assert!(out[1].1[140..].iter().all(|c| *c == 0xFF));
        assert_eq!(
            player.poll_event(),
            Some(PlayerEvent::Finished {
                id: 7,
                interrupted: false
            })
        );
        assert_eq!(player.poll_event(), None);
        assert!(!out[2].0, "silence after the end");
    }

    #[test]
    fn a_loop_wraps_around_until_stopped() {
        let mut player = Player::new();
        player.play(1, vec![prompt("moh", 100, 500)], true);
        let out = frames(&mut player, 50);
        assert!(
            out.iter()
                .all(|(audio, bytes)| *audio && bytes.iter().all(|c| *c != 0xFF))
        );
        assert_eq!(player.poll_event(), None);
        assert_eq!(player.stop(), Some(1));
        assert_eq!(
            player.poll_event(),
            Some(PlayerEvent::Finished {
                id: 1,
                interrupted: true
            })
        );
    }

    #[test]
    fn stop_silences_the_very_next_frame() {
        let mut player = Player::new();
        player.play(3, vec![prompt("long", 8000, 1000)], false);
        frames(&mut player, 2);
        player.stop();
        let out = frames(&mut player, 1);
        assert!(!out[0].0);
        assert_eq!(
            player.poll_event(),
            Some(PlayerEvent::Finished {
                id: 3,
                interrupted: true
            })
        );
    }

    #[test]
    fn a_new_play_interrupts_the_old_one() {
        let mut player = Player::new();
        player.play(1, vec![prompt("a", 8000, 1)], false);
        player.play(2, vec![prompt("b", 8000, 1)], false);
        assert_eq!(
            player.poll_event(),
            Some(PlayerEvent::Finished {
                id: 1,
                interrupted: true
            })
        );
        assert_eq!(player.playing(), Some(2));
    }

    #[test]
    fn an_empty_loop_finishes_at_once_instead_of_spinning() {
        let mut player = Player::new();
        player.play(4, vec![prompt("empty", 0, 0)], true);
        assert_eq!(
            player.poll_event(),
            Some(PlayerEvent::Finished {
                id: 4,
                interrupted: false
            })
        );
        assert!(!frames(&mut player, 1)[0].0);
    }
}
