//! Calling a customer back: when a callback's turn comes and its agent has
//! answered, hotline dials the customer's number through the trunk named by
//! `[queue] callback_dial` and bridges the two legs until either hangs up.
//!
//! The agent is called first (the queue offers the callback like any caller),
//! so a customer never answers to silence while an agent is being found.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::callback_core::CallbackCore;
use super::core::Command;
use super::leg::{Leg, LegId, LegSignal};
use super::sip_leg::{OutgoingLeg, SipLeg};
use crate::rtp::Prompt;
use crate::server::agent_leg::{self, AgentLeg, RingRequest};
use crate::server::endpoint::EndpointHandle;
use crate::server::locator::Locator;
use crate::server::media::{self, MediaCommand, MediaOptions};
use crate::server::ports::PortPool;
use crate::sip::digest::ClientCredentials;
use crate::sip::identity::mask_number;
use crate::sip::message::{NameAddr, Params};

/// The playback id of the ringback tone the agent hears meanwhile.
const RINGBACK: u64 = u64::MAX - 1;

/// The ringback tone (ITU-T E.180: 425 Hz, 1 s on, 4 s off), which the
/// agent hears while the customer's phone rings, so that they know the call
/// is on its way; made once and shared by every callback.
fn ringback() -> Arc<Prompt> {
    static TONE: LazyLock<Arc<Prompt>> = LazyLock::new(|| {
        let samples: Vec<i16> = (0..5 * 8000)
            .map(|i| {
                if i < 8000 {
                    let t = i as f64 / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 425.0 * t).sin()) as i16
                } else {
                    0
                }
            })
            .collect();
        Arc::new(Prompt::from_samples("ringback", None, &samples))
    });
    Arc::clone(&TONE)
}

/// A callback to place: the customer to dial and the agent who answered for it.
pub struct CallbackRequest {
    /// The number the callback ticket holds.
    pub number: String,
    /// The trunk's URI template, `{number}` standing for the number.
    pub dial: String,
    /// The number the call comes from (empty: anonymous).
    pub caller_id: String,
    pub agent: Box<AgentLeg>,
    pub endpoint: EndpointHandle,
    pub ports: PortPool,
    pub media_ip: std::net::IpAddr,
    pub media_options: MediaOptions,
    /// Our SIP address, for the From of the call.
    pub sip_address: SocketAddr,
    /// What to answer the trunk's challenge with.
    pub auth: Option<ClientCredentials>,
    /// DNS for the trunk's name.
    pub locator: Locator,
}

pub use super::callback_core::CallbackOutcome;

/// The URI to dial for `number`: the template with `{number}` replaced by
/// the number's dialable characters; None when there are none.
pub fn dial_uri(template: &str, number: &str) -> Option<String> {
    let digits: String = number
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    (digits.trim_start_matches('+').len() >= 3).then(|| template.replace("{number}", &digits))
}

/// Dials the customer, bridges them to the agent, and returns when the call is over.
pub async fn call_back(request: CallbackRequest) -> CallbackOutcome {
    let CallbackRequest {
        number,
        dial,
        caller_id,
        agent,
        endpoint,
        ports,
        media_ip,
        media_options,
        sip_address,
        auth,
        locator,
    } = request;
    let masked = mask_number(&number);
    let target = match dial_uri(&dial, &number) {
        Some(uri) => locator.locate(&uri).await,
        None => None,
    };
    let Some(target) = target else {
        agent.hang_up(&endpoint).await;
        return CallbackOutcome::NotReached("the number or the trunk cannot be dialled".into());
    };
    info!(number = %masked, "calling the customer back");
    // The bridge, once the customer answers, stops it.
    agent
        .media
        .send(MediaCommand::Play {
            id: RINGBACK,
            prompts: vec![ringback()],
            barge_in: false,
            looping: true,
        })
        .await;
    let from = NameAddr {
        display_name: None,
        uri: agent_leg::caller_uri(&caller_id, sip_address).unwrap_or_else(|| target.uri.clone()),
        params: Params::default(),
    };
    let (cancel, cancelled) = oneshot::channel();
    let (early_tx, early_media) = mpsc::unbounded_channel();
    let ringing = agent_leg::ring(RingRequest {
        agent: "customer".into(),
        targets: vec![target],
        from,
        headers: Vec::new(),
        endpoint: endpoint.clone(),
        ports,
        media_ip,
        media_options,
        cancel: cancelled,
        auth,
        early_media: Some(early_tx),
    });
    let mut customer = OutgoingLeg::new(
        Box::pin(ringing),
        cancel,
        early_media,
        endpoint.clone(),
        None,
    );
    let mut agent = Some(SipLeg::answered(*agent, endpoint, None));
    let mut core = CallbackCore::new(Instant::now());
    let outcome = loop {
        while let Some(command) = core.poll_command() {
            match command {
                Command::Leg(LegId::Caller, command) => {
                    if let Some(agent) = &mut agent {
                        agent.command(command).await;
                    }
                }
                Command::Leg(LegId::Far, command) => customer.command(command).await,
                Command::Bridge => {
                    if let (Some(a), Some(c)) =
                        (agent.as_ref().and_then(Leg::media), customer.media())
                    {
                        media::bridge(a, c).await;
                    }
                }
                _ => {}
            }
        }
        if let Some(outcome) = core.outcome() {
            break outcome.clone();
        }
        let deadline = core.poll_timeout();
        let (leg, signal) = tokio::select! {
            signal = agent_signal(&mut agent) => (LegId::Caller, signal),
            Some(signal) = customer.next_signal() => (LegId::Far, Some(signal)),
            _ = sleep_until(deadline) => {
                core.handle_timeout(Instant::now());
                continue;
            }
        };
        let signal = signal.unwrap_or_else(|| {
            // The agent's leg has nothing more to say: as if it hung up.
            agent = None;
            LegSignal::Ended {
                reason: "gone".into(),
            }
        });
        if (leg, &signal) == (LegId::Far, &LegSignal::Ringing { early_media: true }) {
            info!(number = %masked, "early media from the customer's network");
        }
        let answered = (leg, &signal) == (LegId::Far, &LegSignal::Answered);
        core.handle_leg(Instant::now(), leg, signal);
        if answered && core.outcome().is_none() {
            info!(number = %masked, "customer called back and bridged to the agent");
        }
    };
    info!(number = %masked, ?outcome, "callback over");
    if let Some(mut agent) = agent {
        agent.close_media().await;
    }
    customer.finish().await;
    outcome
}

async fn agent_signal(agent: &mut Option<SipLeg>) -> Option<LegSignal> {
    match agent {
        Some(agent) => agent.next_signal().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_fills_the_template_with_its_dialable_characters_only() {
        assert_eq!(
            dial_uri("sip:{number}@gw.example:5060", "+380 (44) 123-45-67").as_deref(),
            Some("sip:+380441234567@gw.example:5060")
        );
        assert_eq!(
            dial_uri("sip:9{number}@10.0.0.1;transport=tcp", "0441234567").as_deref(),
            Some("sip:90441234567@10.0.0.1;transport=tcp")
        );
    }

    #[test]
    fn a_withheld_or_junk_number_is_not_dialled() {
        assert_eq!(dial_uri("sip:{number}@gw", "anonymous"), None);
        assert_eq!(dial_uri("sip:{number}@gw", ""), None);
        assert_eq!(dial_uri("sip:{number}@gw", "+1"), None);
        assert_eq!(dial_uri("sip:{number}@gw", "sip:evil@x>;"), None);
    }
}
