//! A callback as a sans-IO value: the agent's leg is up, the customer's
//! rings; once the customer answers the two talk until either leaves.
//!
//! The agent's leg is [`LegId::Caller`] (the call's first leg), the
//! customer's [`LegId::Far`]. Like [`super::core::CallCore`] it takes the
//! legs' signals and timer expiries with `now` and gives back commands.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::core::Command;
use super::leg::{LegCommand, LegId, LegSignal};
use crate::dtmf::DigitSource;

/// How long the customer's phone may ring.
pub const RING_LIMIT: Duration = Duration::from_secs(30);

/// How a callback went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The customer answered and talked to the agent.
    Talked,
    /// The customer could not be reached (why, for the event stream).
    NotReached(String),
    /// The agent hung up before the customer answered.
    AgentLeft,
}

/// One callback, from the customer's first ring to the end.
pub struct CallbackCore {
    /// When the customer's ringing is cancelled; `None` once it was, or answered.
    ring_until: Option<Instant>,
    talking: bool,
    agent_left: bool,
    early_bridged: bool,
    outcome: Option<CallbackOutcome>,
    commands: VecDeque<Command>,
}

impl CallbackCore {
    /// The customer's phone starts ringing at `now`.
    pub fn new(now: Instant) -> CallbackCore {
        CallbackCore {
            ring_until: Some(now + RING_LIMIT),
            talking: false,
            agent_left: false,
            early_bridged: false,
            outcome: None,
            commands: VecDeque::new(),
        }
    }

    /// The next command; poll until `None` after every input.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`CallbackCore::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ring_until
    }

    /// How the callback went, once it is over.
    pub fn outcome(&self) -> Option<&CallbackOutcome> {
        self.outcome.as_ref()
    }

    /// The customer's phone rang long enough: it is cancelled.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ring_until.is_some_and(|until| now >= until) {
            self.ring_until = None;
            self.leg(LegId::Far, LegCommand::HangUp);
        }
    }

    /// A signal of the agent's ([`LegId::Caller`]) or the customer's leg.
    pub fn handle_leg(&mut self, _now: Instant, leg: LegId, signal: LegSignal) {
        if self.outcome.is_some() {
            return;
        }
        match signal {
            LegSignal::Ended { .. } if self.talking => self.finish(CallbackOutcome::Talked),
            LegSignal::MediaLost { .. } if self.talking => self.finish(CallbackOutcome::Talked),
            LegSignal::Ended { .. } if leg == LegId::Caller => {
                // The customer's ringing is withdrawn; the outcome waits for it to stop.
                self.agent_left = true;
                self.ring_until = None;
                self.leg(LegId::Far, LegCommand::HangUp);
            }
            LegSignal::Ringing { early_media: true } if !self.early_bridged => {
                // The network's ringback or announcement: the agent hears it
                // instead of ours, through the bridge the answer keeps.
                self.early_bridged = true;
                self.commands.push_back(Command::Bridge);
            }
            LegSignal::Answered if leg == LegId::Far => {
                self.ring_until = None;
                if self.agent_left {
                    self.finish(CallbackOutcome::AgentLeft);
                    return;
                }
                self.talking = true;
                if !self.early_bridged {
                    self.commands.push_back(Command::Bridge);
                }
            }
            LegSignal::Refused { status } => {
                self.ring_until = None;
                let outcome = match self.agent_left {
                    true => CallbackOutcome::AgentLeft,
                    false => CallbackOutcome::NotReached(refusal(status).into()),
                };
                self.finish(outcome);
            }
            LegSignal::ReOffer { offer } => self.leg(leg, LegCommand::AnswerReoffer { offer }),
            // A key goes across once both talk; in-band ones travel in the audio.
            LegSignal::Digit(event) if self.talking && event.source != DigitSource::InBand => {
                self.leg(other(leg), LegCommand::SendDigit(event.digit));
            }
            _ => {}
        }
    }

    /// Hangs up both legs and keeps the outcome.
    fn finish(&mut self, outcome: CallbackOutcome) {
        self.leg(LegId::Caller, LegCommand::HangUp);
        self.leg(LegId::Far, LegCommand::HangUp);
        self.outcome = Some(outcome);
    }

    fn leg(&mut self, leg: LegId, command: LegCommand) {
        self.commands.push_back(Command::Leg(leg, command));
    }
}

fn other(leg: LegId) -> LegId {
    match leg {
        LegId::Caller => LegId::Far,
        LegId::Far => LegId::Caller,
    }
}

/// The queue's word for a refusal's status (486 busy, 603 declined, ...).
fn refusal(status: u16) -> &'static str {
    match status {
        486 | 600 => "busy",
        603 | 403 => "declined",
        408 | 480 | 487 => "noanswer",
        _ => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::DigitEvent;

    fn commands(core: &mut CallbackCore) -> Vec<Command> {
        std::iter::from_fn(|| core.poll_command()).collect()
    }

    const AGENT_HANGUP: Command = Command::Leg(LegId::Caller, LegCommand::HangUp);
    const CUSTOMER_HANGUP: Command = Command::Leg(LegId::Far, LegCommand::HangUp);

    #[test]
    fn a_customer_who_answers_after_early_media_talks_to_the_agent_until_one_leaves() {
        let t0 = Instant::now();
        let mut core = CallbackCore::new(t0);
        core.handle_leg(t0, LegId::Far, LegSignal::Ringing { early_media: true });
        assert_eq!(commands(&mut core), [Command::Bridge]);
        core.handle_leg(t0, LegId::Far, LegSignal::Answered);
        assert_eq!(commands(&mut core), [], "the early bridge stays");
        assert_eq!(core.poll_timeout(), None);
        let digit = DigitEvent {
            digit: '4',
            at: t0,
            source: DigitSource::Rfc4733,
        };
        core.handle_leg(t0, LegId::Caller, LegSignal::Digit(digit));
        assert_eq!(
            commands(&mut core),
            [Command::Leg(LegId::Far, LegCommand::SendDigit('4'))]
        );
        let silent = Duration::from_secs(30);
        core.handle_leg(t0, LegId::Far, LegSignal::MediaLost { silent_for: silent });
        assert_eq!(commands(&mut core), [AGENT_HANGUP, CUSTOMER_HANGUP]);
        assert_eq!(core.outcome(), Some(&CallbackOutcome::Talked));
    }

    #[test]
    fn a_customer_who_never_answers_is_cancelled_after_the_ring_limit() {
        let t0 = Instant::now();
        let mut core = CallbackCore::new(t0);
        core.handle_timeout(t0 + RING_LIMIT - Duration::from_millis(1));
        assert_eq!(commands(&mut core), []);
        core.handle_timeout(t0 + RING_LIMIT);
        assert_eq!(commands(&mut core), [CUSTOMER_HANGUP]);
        assert_eq!(core.poll_timeout(), None, "cancelled once");
        core.handle_leg(
            t0 + RING_LIMIT,
            LegId::Far,
            LegSignal::Refused { status: 487 },
        );
        assert_eq!(
            core.outcome(),
            Some(&CallbackOutcome::NotReached("noanswer".into()))
        );
        assert!(commands(&mut core).contains(&AGENT_HANGUP));
    }

    #[test]
    fn an_agent_who_leaves_while_the_customer_rings_withdraws_the_call() {
        let t0 = Instant::now();
        let mut core = CallbackCore::new(t0);
        let ended = LegSignal::Ended {
            reason: "BYE".into(),
        };
        core.handle_leg(t0, LegId::Caller, ended);
        assert_eq!(commands(&mut core), [CUSTOMER_HANGUP]);
        assert_eq!(core.outcome(), None, "until the ringing stops");
        // The customer picked up just before the CANCEL arrived.
        core.handle_leg(t0, LegId::Far, LegSignal::Answered);
        assert_eq!(core.outcome(), Some(&CallbackOutcome::AgentLeft));
        assert!(commands(&mut core).contains(&CUSTOMER_HANGUP));
    }

    #[test]
    fn a_busy_customer_is_not_reached_as_busy() {
        let t0 = Instant::now();
        let mut core = CallbackCore::new(t0);
        core.handle_leg(t0, LegId::Far, LegSignal::Refused { status: 486 });
        assert_eq!(
            core.outcome(),
            Some(&CallbackOutcome::NotReached("busy".into()))
        );
    }
}
