//! Ringing all of an agent's phones at once: which phone wins, which are told
//! to stop, and what their refusals add up to for the queue.
//!
//! An agent may have a desk phone, a softphone and a browser registered; the
//! offer rings them all (a parallel fork, as a SIP proxy forks to several
//! contacts, RFC 3261 §16.7) and the first to answer takes the call. [`Fork`]
//! is that decision with no I/O: the shell (`server::agent_leg::ring`) dials
//! the phones, feeds each phone's progress in with [`Fork::handle`], and
//! carries out what [`Fork::poll_action`] returns until a final action
//! ([`ForkAction::Won`], [`ForkAction::Refused`] or [`ForkAction::Withdrawn`]).
//! How long the phones may ring is the queue's ring timeout, which withdraws
//! the offer; the fork itself keeps no time.

use std::collections::VecDeque;

use super::OfferResult;

/// What happened to one phone of the fork, by its index among the phones dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkInput {
    /// The phone rings (18x); `early_media` when the answer carried SDP, so
    /// its network sends audio before the answer.
    Progress { phone: usize, early_media: bool },
    /// The phone answered (its 200 was ACKed).
    Answered { phone: usize },
    /// The phone will not answer: this final status (486 busy, 408 no answer, …).
    Failed { phone: usize, status: u16 },
    /// The phone's dialog is gone without an answer or a final status.
    Ended { phone: usize },
    /// The queue withdrew the offer (its ring timeout, the caller hung up).
    Withdrawn,
}

/// What the shell does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkAction {
    /// Play this phone's early media to the caller (only when one phone is
    /// rung: several phones' networks cannot all be heard).
    StartEarlyMedia { phone: usize },
    /// Stop this phone: CANCEL while it rings, BYE once it answered late.
    HangUp { phone: usize },
    /// This phone took the call; the fork is over.
    Won { phone: usize },
    /// No phone will answer; the fork is over.
    Refused(OfferResult),
    /// The offer was withdrawn and the phones told to stop; the fork is over.
    Withdrawn,
}

/// One offer's phones, ringing.
#[derive(Debug)]
pub struct Fork {
    /// Per phone: still in the race (dialled, neither refused nor ended).
    ringing: Vec<bool>,
    /// Final statuses of the phones that refused, in order.
    refusals: Vec<u16>,
    /// Whether the caller may hear a phone's early media.
    early_media_wanted: bool,
    early_media_started: bool,
    over: bool,
    actions: VecDeque<ForkAction>,
}

impl Fork {
    /// A fork over `phones` dialled phones; `early_media_wanted` when the
    /// caller should hear the network of a single phone before it answers.
    pub fn new(phones: usize, early_media_wanted: bool) -> Fork {
        let mut fork = Fork {
            ringing: vec![true; phones],
            refusals: Vec::new(),
            early_media_wanted,
            early_media_started: false,
            over: false,
            actions: VecDeque::new(),
        };
        if phones == 0 {
            fork.finish(ForkAction::Refused(OfferResult::Failed));
        }
        fork
    }

    /// Takes one phone's news (or the withdrawal); inputs after the end, or
    /// for a phone no longer in the race, are ignored.
    pub fn handle(&mut self, input: ForkInput) {
        if self.over {
            return;
        }
        match input {
            ForkInput::Progress { phone, early_media } => {
                if early_media
                    && self.early_media_wanted
                    && !self.early_media_started
                    && self.ringing.len() == 1
                    && self.is_ringing(phone)
                {
                    self.early_media_started = true;
                    self.actions
                        .push_back(ForkAction::StartEarlyMedia { phone });
                }
            }
            ForkInput::Answered { phone } => {
                if !self.is_ringing(phone) {
                    // Too late: a phone that failed cannot win now.
                    return;
                }
                self.ringing[phone] = false;
                self.stop_all_ringing();
                self.finish(ForkAction::Won { phone });
            }
            ForkInput::Failed { phone, status } => {
                if self.is_ringing(phone) {
                    self.ringing[phone] = false;
                    self.refusals.push(status);
                    self.refuse_if_none_left();
                }
            }
            ForkInput::Ended { phone } => {
                if self.is_ringing(phone) {
                    self.ringing[phone] = false;
                    self.refuse_if_none_left();
                }
            }
            ForkInput::Withdrawn => {
                self.stop_all_ringing();
                self.finish(ForkAction::Withdrawn);
            }
        }
    }

    /// The next thing to do, in order; `None` until more input.
    pub fn poll_action(&mut self) -> Option<ForkAction> {
        self.actions.pop_front()
    }

    /// Whether a final action has been given (or is waiting to be polled).
    pub fn is_over(&self) -> bool {
        self.over
    }

    fn is_ringing(&self, phone: usize) -> bool {
        self.ringing.get(phone).copied().unwrap_or(false)
    }

    fn stop_all_ringing(&mut self) {
        for (phone, ringing) in self.ringing.iter_mut().enumerate() {
            if std::mem::take(ringing) {
                self.actions.push_back(ForkAction::HangUp { phone });
            }
        }
    }

    fn refuse_if_none_left(&mut self) {
        if !self.ringing.iter().any(|r| *r) {
            let result = refusal(&self.refusals);
            self.finish(ForkAction::Refused(result));
        }
    }

    fn finish(&mut self, action: ForkAction) {
        self.over = true;
        self.actions.push_back(action);
    }
}

/// What the phones' refusals mean for the queue: busy or declined if any
/// phone said so, no answer if one rang out, else unreachable.
fn refusal(statuses: &[u16]) -> OfferResult {
    if statuses.iter().any(|s| matches!(s, 486 | 600)) {
        OfferResult::Busy
    } else if statuses.iter().any(|s| matches!(s, 603 | 403)) {
        OfferResult::Declined
    } else if statuses.iter().any(|s| matches!(s, 408 | 480 | 487)) {
        OfferResult::NoAnswer
    } else {
        OfferResult::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(fork: &mut Fork) -> Vec<ForkAction> {
        std::iter::from_fn(|| fork.poll_action()).collect()
    }

    #[test]
    fn the_first_phone_to_answer_wins_and_the_others_are_stopped() {
        let mut fork = Fork::new(3, true);
        fork.handle(ForkInput::Progress {
            phone: 0,
            early_media: false,
        });
        fork.handle(ForkInput::Answered { phone: 1 });
        assert_eq!(
            drain(&mut fork),
            [
                ForkAction::HangUp { phone: 0 },
                ForkAction::HangUp { phone: 2 },
                ForkAction::Won { phone: 1 },
            ]
        );
        assert!(fork.is_over());
        // The loser's late answer changes nothing: its hang-up was asked already.
        fork.handle(ForkInput::Answered { phone: 0 });
        assert_eq!(drain(&mut fork), []);
    }

    #[test]
    fn a_busy_phone_among_others_makes_the_agent_busy_once_all_refused() {
        let mut fork = Fork::new(2, false);
        fork.handle(ForkInput::Failed {
            phone: 0,
            status: 408,
        });
        assert_eq!(drain(&mut fork), [], "one phone still rings");
        fork.handle(ForkInput::Failed {
            phone: 1,
            status: 486,
        });
        assert_eq!(drain(&mut fork), [ForkAction::Refused(OfferResult::Busy)]);
    }

    #[test]
    fn refusals_add_up_in_order_of_meaning() {
        assert_eq!(refusal(&[408, 486]), OfferResult::Busy);
        assert_eq!(refusal(&[603]), OfferResult::Declined);
        assert_eq!(refusal(&[480, 503]), OfferResult::NoAnswer);
        assert_eq!(refusal(&[503]), OfferResult::Failed);
        assert_eq!(refusal(&[]), OfferResult::Failed);
    }

    #[test]
    fn a_phone_whose_dialog_ended_leaves_the_race_without_a_status() {
        let mut fork = Fork::new(2, false);
        fork.handle(ForkInput::Ended { phone: 0 });
        fork.handle(ForkInput::Failed {
            phone: 1,
            status: 480,
        });
        assert_eq!(
            drain(&mut fork),
            [ForkAction::Refused(OfferResult::NoAnswer)]
        );
    }

    #[test]
    fn withdrawing_stops_every_phone_still_ringing() {
        let mut fork = Fork::new(3, false);
        fork.handle(ForkInput::Failed {
            phone: 1,
            status: 486,
        });
        fork.handle(ForkInput::Withdrawn);
        assert_eq!(
            drain(&mut fork),
            [
                ForkAction::HangUp { phone: 0 },
                ForkAction::HangUp { phone: 2 },
                ForkAction::Withdrawn,
            ]
        );
    }

    #[test]
    fn early_media_is_played_from_a_single_phone_once() {
        let mut fork = Fork::new(1, true);
        let early = ForkInput::Progress {
            phone: 0,
            early_media: true,
        };
        fork.handle(early);
        fork.handle(early);
        assert_eq!(drain(&mut fork), [ForkAction::StartEarlyMedia { phone: 0 }]);
        fork.handle(ForkInput::Answered { phone: 0 });
        assert_eq!(drain(&mut fork), [ForkAction::Won { phone: 0 }]);
    }

    #[test]
    fn early_media_is_not_played_when_several_phones_ring_or_none_is_wanted() {
        let mut several = Fork::new(2, true);
        several.handle(ForkInput::Progress {
            phone: 0,
            early_media: true,
        });
        assert_eq!(drain(&mut several), []);
        let mut unwanted = Fork::new(1, false);
        unwanted.handle(ForkInput::Progress {
            phone: 0,
            early_media: true,
        });
        assert_eq!(drain(&mut unwanted), []);
    }

    #[test]
    fn no_phone_at_all_is_refused_at_once() {
        let mut fork = Fork::new(0, true);
        assert!(fork.is_over());
        assert_eq!(drain(&mut fork), [ForkAction::Refused(OfferResult::Failed)]);
    }
}
