//! A call leg as the call core sees it: the signals a leg reports and the
//! commands it carries out, with no word of SIP, SDP or RTP.
//!
//! A leg is one party of a call: the caller's phone, or the far party
//! hotline rings for it (an agent, a transfer target, a customer called
//! back). Today a leg is a SIP dialog plus RTP media on the media workers;
//! a WebRTC leg implements the same [`Leg`] trait with its own signalling
//! and the same media workers, and the call core does not change. The
//! transport's details stay in the leg: an SDP re-offer, for instance,
//! reaches the core only as [`LegSignal::ReOffer`] carrying opaque bytes,
//! and the core answers it with [`LegCommand::AnswerReoffer`], which the
//! leg turns into its own offer/answer exchange; what the exchange means for
//! the call (the peer holds, or resumes) comes back as [`LegSignal::Held`]
//! and [`LegSignal::Resumed`].

use std::future::Future;
use std::time::Duration;

use crate::dtmf::DigitEvent;
use crate::flow::Prompt;
use crate::server::media::MediaHandle;

/// Which leg of a call a signal comes from or a command goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// The call's first leg: the caller, whose call came in and runs the
    /// flow; in a callback, the agent's phone that took it.
    Caller,
    /// The far leg hotline connects the first to: an agent's phone, a
    /// transfer target, a customer called back. At most one at a time.
    Far,
}

/// What a leg reports to the call core.
#[derive(Debug, Clone, PartialEq)]
pub enum LegSignal {
    /// The leg is answered and its media runs: an incoming call's answer
    /// was confirmed (SIP: the ACK; with a late offer, the ACK's answer),
    /// or an outgoing call was picked up.
    Answered,
    /// An outgoing leg rings; with `early_media` its network already sends
    /// audio (ringback, an announcement) that the caller may hear.
    Ringing { early_media: bool },
    /// An outgoing leg will not be answered: refused, unreachable, rang
    /// out, or withdrawn. `status` is a SIP-style status for logs (486
    /// busy, 480/408 no answer, 487 cancelled, 404 unreachable).
    Refused { status: u16 },
    /// The caller gave up before the answer (SIP: CANCEL).
    Cancelled,
    /// The leg is over; nothing more will come from it.
    Ended { reason: String },
    /// A key pressed on the leg, from any source (RFC 4733, SIP INFO, in-band).
    Digit(DigitEvent),
    /// The peer renegotiates its media (hold, resume, a new address); the
    /// offer is opaque to the core and goes back in [`LegCommand::AnswerReoffer`].
    ReOffer { offer: Vec<u8> },
    /// The peer put the call on hold: it no longer listens (its re-offer
    /// was `sendonly` or `inactive`). Reported by the leg once the re-offer
    /// is answered, and only when the hold state changed.
    Held,
    /// The peer took the call off hold: it listens again (`sendrecv`).
    Resumed,
    /// A playback asked with [`LegCommand::Play`] ended, played out or cut short.
    PlaybackFinished { id: u64 },
    /// The peer has sent no media for this long while not on hold: its
    /// phone or network is most likely gone.
    MediaLost { silent_for: Duration },
}

/// What the call core asks of a leg.
#[derive(Debug, Clone, PartialEq)]
pub enum LegCommand {
    /// Tell the caller the call is being set up (SIP: 180 Ringing).
    Ring,
    /// Answer the caller; [`LegSignal::Answered`] follows once media runs.
    Answer,
    /// Play prompts back to back, over and over if `looping`; with
    /// `barge_in` a key stops the playback. [`LegSignal::PlaybackFinished`]
    /// with `id` follows; a leg with nothing to play reports it at once.
    Play {
        id: u64,
        prompts: Vec<Prompt>,
        barge_in: bool,
        looping: bool,
    },
    /// Stop the current playback.
    StopPlayback,
    /// Send a key press to the leg's peer (relayed from the other leg).
    SendDigit(char),
    /// Answer a [`LegSignal::ReOffer`] with this offer.
    AnswerReoffer { offer: Vec<u8> },
    /// End the leg (SIP: BYE, or CANCEL while an outgoing leg rings);
    /// [`LegSignal::Ended`] or [`LegSignal::Refused`] follows.
    HangUp,
}

/// A leg a drive loop can run: carries out commands and reports signals.
///
/// Bridging two legs is the media workers' business, not the signalling's:
/// both legs' media run there whatever their transport, so a leg only hands
/// out its [`MediaHandle`]. The SIP implementations are in `super::sip_leg`:
/// `SipLeg` for a dialog that is up, `OutgoingLeg` for a call hotline
/// places (agent, transfer target, customer called back) from its first ring.
pub trait Leg: Send {
    /// The leg's media on the media workers, once it runs.
    fn media(&self) -> Option<&MediaHandle>;

    /// The audio codec the leg's media runs (e.g. `PCMU`), for the call's record.
    fn codec(&self) -> Option<&'static str>;

    /// Ends the leg's media; the leg's signalling is left as it is.
    fn close_media(&mut self) -> impl Future<Output = ()> + Send;

    /// Carries out one command; a leg that is gone ignores it.
    fn command(&mut self, command: LegCommand) -> impl Future<Output = ()> + Send;

    /// The next signal of the leg; `None` once the leg has nothing more to say.
    fn next_signal(&mut self) -> impl Future<Output = Option<LegSignal>> + Send;
}

/// What a leg's media reports, as the core hears it: keys, finished
/// playbacks and lost media; the rest (counters, a bridge's end, a browser's
/// connection) is the leg's own business and gives no signal.
pub(super) fn media_signal(event: crate::server::media::MediaEvent) -> Option<LegSignal> {
    use crate::server::media::MediaEvent;
    match event {
        MediaEvent::Digit(event) => Some(LegSignal::Digit(event)),
        MediaEvent::PlaybackFinished { id, .. } => Some(LegSignal::PlaybackFinished { id }),
        MediaEvent::RtpTimeout { silent_for } => Some(LegSignal::MediaLost { silent_for }),
        MediaEvent::Stats(stats) => {
            tracing::debug!(?stats, "media stats");
            None
        }
        MediaEvent::BridgeEnded => {
            tracing::debug!("media bridge ended");
            None
        }
        MediaEvent::PeerConnected | MediaEvent::PeerEnded(_) => None,
    }
}
