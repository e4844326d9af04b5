//! Calling a customer back: when a callback's turn comes and its agent has
//! answered, hotline dials the customer's number through the trunk named by
//! `[queue] callback_dial` and bridges the two legs until either hangs up.
//!
//! The agent is called first (the queue offers the callback like any caller),
//! so a customer never answers to silence while an agent is being found.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::info;

use crate::call::PortPool;
use crate::rtp::Prompt;
use crate::server::agent_leg::{self, AgentLeg, RingOutcome, RingRequest};
use crate::server::endpoint::{CallSignal, EndpointHandle};
use crate::server::locator::Locator;
use crate::server::media::{self, MediaCommand, MediaEvent, MediaOptions};
use crate::sip::digest::ClientCredentials;
use crate::sip::identity::mask_number;
use crate::sip::message::{NameAddr, Params};

/// How long the customer's phone may ring.
const RING_LIMIT: Duration = Duration::from_secs(30);
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
        mut agent,
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
    let (early_tx, mut early_media) = mpsc::unbounded_channel();
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
    tokio::pin!(ringing);
    let limit = tokio::time::sleep(RING_LIMIT);
    tokio::pin!(limit);
    let mut cancel = Some(cancel);
    let mut agent_left = false;
    let mut early_bridged = false;
    let customer = loop {
        tokio::select! {
            outcome = &mut ringing => break outcome,
            // The network's ringback or announcement: the agent hears it
            // instead of ours, through the bridge the answer keeps.
            Some(early) = early_media.recv(), if !early_bridged => {
                early_bridged = media::bridge(&agent.media, &early).await;
                info!(number = %masked, "early media from the customer's network");
            }
            signal = agent.signals.recv(), if !agent_left => match signal {
                Some(CallSignal::Ended { .. }) | None => {
                    agent_left = true;
                    if let Some(cancel) = cancel.take() {
                        let _ = cancel.send(());
                    }
                }
                Some(CallSignal::ReOffer { sdp }) => agent.answer_reoffer(&endpoint, &sdp).await,
                Some(_) => {}
            },
            _ = &mut limit, if cancel.is_some() => {
                if let Some(cancel) = cancel.take() {
                    let _ = cancel.send(());
                }
            }
        }
    };
    let mut customer = match customer {
        RingOutcome::Answered(customer) if !agent_left => customer,
        RingOutcome::Answered(customer) => {
            customer.hang_up(&endpoint).await;
            agent.hang_up(&endpoint).await;
            return CallbackOutcome::AgentLeft;
        }
        _ if agent_left => {
            agent.hang_up(&endpoint).await;
            return CallbackOutcome::AgentLeft;
        }
        RingOutcome::Refused(result) => {
            info!(number = %masked, ?result, "the customer did not answer the callback");
            agent.hang_up(&endpoint).await;
            return CallbackOutcome::NotReached(format!("{result:?}").to_lowercase());
        }
        RingOutcome::Withdrawn => {
            info!(number = %masked, "the customer's phone rang out");
            agent.hang_up(&endpoint).await;
            return CallbackOutcome::NotReached("noanswer".into());
        }
    };
    if !early_bridged {
        media::bridge(&agent.media, &customer.media).await;
    }
    info!(number = %masked, "customer called back and bridged to the agent");
    talk(&mut agent, &mut customer, &endpoint).await;
    agent.hang_up(&endpoint).await;
    customer.hang_up(&endpoint).await;
    CallbackOutcome::Talked
}

/// Carries the bridged call until either side hangs up or goes silent.
async fn talk(agent: &mut AgentLeg, customer: &mut AgentLeg, endpoint: &EndpointHandle) {
    let (mut agent_media, mut customer_media) = (true, true);
    loop {
        tokio::select! {
            signal = agent.signals.recv() => match signal {
                Some(CallSignal::Ended { .. }) | None => return,
                Some(CallSignal::ReOffer { sdp }) => agent.answer_reoffer(endpoint, &sdp).await,
                Some(_) => {}
            },
            signal = customer.signals.recv() => match signal {
                Some(CallSignal::Ended { .. }) | None => return,
                Some(CallSignal::ReOffer { sdp }) => customer.answer_reoffer(endpoint, &sdp).await,
                Some(_) => {}
            },
            event = agent.media_events.recv(), if agent_media => match event {
                Some(MediaEvent::RtpTimeout { .. }) => return,
                Some(MediaEvent::Digit(digit)) => customer.media.relay_digit(digit).await,
                Some(_) => {}
                None => agent_media = false,
            },
            event = customer.media_events.recv(), if customer_media => match event {
                Some(MediaEvent::RtpTimeout { .. }) => return,
                Some(MediaEvent::Digit(digit)) => agent.media.relay_digit(digit).await,
                Some(_) => {}
                None => customer_media = false,
            },
        }
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
