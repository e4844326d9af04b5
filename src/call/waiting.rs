//! A caller the flow handed to an agent queue: music on hold, position and
//! wait announcements, the callback key, and the bridge once an agent answers.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::answered::{Answered, Running};
use crate::crm::self_service::FlowTicket;
use crate::dtmf::{DigitEvent, DigitSource};
use crate::flow::{AgentContext, Prompt, TicketNumber, Value, Values};
use crate::say::Sayable;
use crate::server::agent_leg::AgentLeg;
use crate::server::endpoint::{CallSignal, EndpointCommand};
use crate::server::media::{self, MediaCommand, MediaEvent};
use crate::server::queue::{Membership, QueueNotice, WaitingCall};

/// The flow's hand-over to a queue.
pub(super) struct Enqueue {
    pub queue: String,
    pub priority: i32,
    pub skills: Vec<String>,
    pub context: AgentContext,
}

/// Play ids of the queue's own prompts, apart from the flow's.
const MUSIC: u64 = u64::MAX - 1;
const ANNOUNCEMENT: u64 = u64::MAX - 2;
const FAREWELL: u64 = u64::MAX - 3;

/// How long a caller who asked for a callback waits for its ticket before
/// hearing that all agents are busy: with the database gone the caller hears
/// a message in seconds rather than silence.
const CALLBACK_LIMIT: Duration = Duration::from_secs(3);

/// How long a farewell may take before the call is ended anyway.
const FAREWELL_LIMIT: Duration = Duration::from_secs(30);

impl Answered {
    /// Waits in the queue until an agent answers (then bridges), the queue
    /// gives up, or the caller hangs up; returns why the call ended.
    pub(super) async fn wait_for_agent(&mut self, state: &mut Running, enqueue: Enqueue) -> String {
        let queue = self.services.queue().clone();
        let language = enqueue.context.language.clone();
        let call = WaitingCall {
            number: self.caller.number.clone(),
            name: self.caller.customer.as_ref().map(|c| c.name.clone()),
            account: self
                .caller
                .customer
                .as_ref()
                .map(|c| c.account_number.clone()),
            context: enqueue.context,
            queue: enqueue.queue.clone(),
        };
        let waited = state.answered_at.elapsed();
        info!(queue = %enqueue.queue, "caller waits for an agent");
        self.log.event("queue", format!("joined {}", enqueue.queue));
        let Membership {
            caller,
            mut notices,
        } = queue.join(call, enqueue.priority, enqueue.skills, waited);
        self.play_music(state, &language).await;
        let callback_key = self.services.config().queue.callback_key.chars().next();
        loop {
            tokio::select! {
                signal = self.signals.recv() => match signal {
                    Some(CallSignal::Ended { reason }) => {
                        queue.hang_up(caller);
                        return reason;
                    }
                    None => {
                        queue.hang_up(caller);
                        return "endpoint stopped".into();
                    }
                    Some(CallSignal::ReOffer { sdp }) => {
                        self.reoffer(sdp, state.media.as_ref()).await
                    }
                    Some(CallSignal::Info { content_type, body }) => {
                        if let Ok(digit) = crate::dtmf::info::parse_info_body(&content_type, &body) {
                            state.digits.push(DigitEvent { digit, at: Instant::now(), source: DigitSource::SipInfo });
                        }
                    }
                    Some(_) => {}
                },
                _ = tokio::time::sleep_until(state.hangup_at.into()), if !state.hung_up => {
                    self.time_limit_reached(state).await;
                }
                event = next_event(state) => match event {
                    Some(MediaEvent::Digit(digit)) => state.digits.push(digit),
                    Some(MediaEvent::RtpTimeout { silent_for }) => {
                        self.caller_went_silent(state, silent_for).await;
                    }
                    // Cut short by a key or played out, the announcement gives way to the music.
                    Some(MediaEvent::PlaybackFinished { id: ANNOUNCEMENT, .. }) => {
                        self.play_music(state, &language).await;
                    }
                    Some(_) => {}
                    None => state.media = None,
                },
                notice = notices.recv() => match notice {
                    Some(QueueNotice::Announce { position, estimated_wait }) => {
                        let prompts = announcement(&language, position, estimated_wait, callback_key);
                        self.play_queue(state, ANNOUNCEMENT, &prompts, true, false).await;
                    }
                    Some(QueueNotice::Connect { agent, leg }) => {
                        self.log.event("queue", format!("answered by {agent}"));
                        let reason = self.bridge(state, leg).await;
                        queue.call_ended(&agent);
                        return reason;
                    }
                    Some(QueueNotice::RegisterCallback) => {
                        let prompts = self.register_callback(&language).await;
                        return self.play_farewell(state, &prompts).await;
                    }
                    Some(QueueNotice::Goodbye) | None => {
                        self.log.event("queue", "not served".into());
                        let prompts = [file("queue/all_busy", &language)];
                        return self.play_farewell(state, &prompts).await;
                    }
                },
            }
            while let Some(event) = state.digits.poll() {
                self.record_digit(event, state.answered_at);
                if Some(event.digit) == callback_key {
                    info!("caller asks to be called back");
                    queue.request_callback(caller);
                }
            }
        }
    }

    /// Registers the callback ticket the caller's place now stands for; what
    /// to tell the caller comes back.
    async fn register_callback(&self, language: &str) -> Vec<Prompt> {
        let fields: Values = [(
            "callback_number".to_owned(),
            Value::Text(self.caller.number.clone()),
        )]
        .into();
        let customer = self.caller.customer.as_ref().map(|c| c.id.as_str());
        let request = FlowTicket {
            kind: "callback",
            fields: &fields,
            customer,
            phone: &self.caller.number,
        };
        let types = &self.services.config().tickets.types;
        let registered = self
            .services
            .db()
            .register_flow_ticket(&self.hotline_id, request, types);
        match tokio::time::timeout(CALLBACK_LIMIT, registered).await {
            Ok(Ok(TicketNumber(number))) => {
                info!(ticket = %number, "callback registered");
                self.log.event("ticket", format!("callback {number}"));
                vec![
                    file("queue/callback_registered", language),
                    say(Sayable::Digits(number), language),
                ]
            }
            other => {
                warn!(?other, "callback ticket not registered");
                vec![file("queue/all_busy", language)]
            }
        }
    }

    /// Bridges the caller with the agent's leg until either hangs up.
    pub(super) async fn bridge(&mut self, state: &mut Running, mut leg: Box<AgentLeg>) -> String {
        let Some(caller_media) = &state.media else {
            leg.hang_up(&self.endpoint).await;
            return "no media".into();
        };
        caller_media.handle.send(MediaCommand::Stop).await;
        media::bridge(&caller_media.handle, &leg.media).await;
        info!("caller and agent bridged");
        let mut agent_media = true;
        let reason = loop {
            tokio::select! {
                signal = self.signals.recv() => match signal {
                    Some(CallSignal::Ended { reason }) => {
                        self.endpoint.send(EndpointCommand::Hangup(leg.call.clone())).await;
                        break reason;
                    }
                    None => break "endpoint stopped".into(),
                    Some(CallSignal::ReOffer { sdp }) => self.reoffer(sdp, state.media.as_ref()).await,
                    Some(CallSignal::Info { content_type, body }) => {
                        if let Ok(digit) = crate::dtmf::info::parse_info_body(&content_type, &body) {
                            leg.media.send(MediaCommand::SendDigit(digit)).await;
                        }
                    }
                    Some(_) => {}
                },
                signal = leg.signals.recv() => match signal {
                    Some(CallSignal::Ended { .. }) | None => {
                        info!("the agent hung up");
                        self.hang_up(state).await;
                    }
                    Some(CallSignal::ReOffer { sdp }) => leg.answer_reoffer(&self.endpoint, &sdp).await,
                    Some(CallSignal::Info { content_type, body }) => {
                        if let Ok(digit) = crate::dtmf::info::parse_info_body(&content_type, &body)
                            && let Some(caller_media) = &state.media
                        {
                            caller_media.handle.send(MediaCommand::SendDigit(digit)).await;
                        }
                    }
                    Some(_) => {}
                },
                _ = tokio::time::sleep_until(state.hangup_at.into()), if !state.hung_up => {
                    self.time_limit_reached(state).await;
                }
                event = next_event(state) => match event {
                    Some(MediaEvent::Digit(digit)) => {
                        self.record_digit(digit, state.answered_at);
                        leg.media.relay_digit(digit).await;
                    }
                    Some(MediaEvent::RtpTimeout { silent_for }) => {
                        self.caller_went_silent(state, silent_for).await;
                    }
                    Some(_) => {}
                    None => state.media = None,
                },
                event = leg.media_events.recv(), if agent_media => match event {
                    Some(MediaEvent::Digit(digit)) => {
                        if let Some(caller_media) = &state.media {
                            caller_media.handle.relay_digit(digit).await;
                        }
                    }
                    // The agent's phone is gone without a BYE: as if the agent hung up.
                    Some(MediaEvent::RtpTimeout { silent_for }) if !state.hung_up => {
                        info!(seconds = silent_for.as_secs(), "no RTP or RTCP from the agent; hanging up");
                        self.log.event("media", format!("agent silent for {} s", silent_for.as_secs()));
                        self.endpoint.send(EndpointCommand::Hangup(leg.call.clone())).await;
                        self.hang_up(state).await;
                    }
                    Some(_) => {}
                    None => agent_media = false,
                },
            }
        };
        leg.media.send(MediaCommand::Shutdown).await;
        reason
    }

    /// Plays a last message, hangs up when it ends, and waits for the call's end.
    pub(super) async fn play_farewell(
        &mut self,
        state: &mut Running,
        prompts: &[Prompt],
    ) -> String {
        if state.media.is_some() {
            self.play_queue(state, FAREWELL, prompts, false, false)
                .await;
        } else {
            self.hang_up(state).await;
        }
        let limit = tokio::time::sleep(FAREWELL_LIMIT);
        tokio::pin!(limit);
        loop {
            tokio::select! {
                signal = self.signals.recv() => match signal {
                    Some(CallSignal::Ended { reason }) => return reason,
                    None => return "endpoint stopped".into(),
                    Some(_) => {}
                },
                event = next_event(state) => match event {
                    Some(MediaEvent::PlaybackFinished { id: FAREWELL, .. }) => self.hang_up(state).await,
                    Some(_) => {}
                    None => {
                        state.media = None;
                        self.hang_up(state).await;
                    }
                },
                _ = &mut limit, if !state.hung_up => self.hang_up(state).await,
            }
        }
    }

    pub(super) async fn play_music(&self, state: &Running, language: &str) {
        let music = self.services.config().queue.music.clone();
        self.play_queue(state, MUSIC, &[file(&music, language)], false, true)
            .await;
    }

    async fn play_queue(
        &self,
        state: &Running,
        id: u64,
        prompts: &[Prompt],
        barge_in: bool,
        looping: bool,
    ) {
        let Some(media) = &state.media else { return };
        let prompts = super::prompts::resolve(&self.services.0.prompts, prompts);
        let play = MediaCommand::Play {
            id,
            prompts,
            barge_in,
            looping,
        };
        media.handle.send(play).await;
    }
}

/// "Your position in the queue is 3. The expected waiting time is about 5
/// minutes. To be called back instead of waiting, press 1."
fn announcement(
    language: &str,
    position: usize,
    estimated_wait: Option<Duration>,
    callback_key: Option<char>,
) -> Vec<Prompt> {
    let mut prompts = vec![
        file("queue/position", language),
        say(Sayable::Number(position as i64), language),
    ];
    if let Some(wait) = estimated_wait {
        let minutes = wait.as_secs().div_ceil(60).max(1) as i64;
        prompts.push(file("queue/wait_about", language));
        prompts.push(say(
            Sayable::Quantity {
                value: minutes,
                unit: "min".into(),
            },
            language,
        ));
    }
    if let Some(key) = callback_key {
        prompts.push(file("queue/callback_offer", language));
        prompts.push(say(Sayable::Digits(key.to_string()), language));
    }
    prompts
}

/// A prompt file in `language`.
pub(super) fn file(id: &str, language: &str) -> Prompt {
    Prompt::File {
        id: id.to_owned(),
        language: language.to_owned(),
    }
}

fn say(value: Sayable, language: &str) -> Prompt {
    Prompt::Say {
        value,
        language: language.to_owned(),
    }
}

async fn next_event(state: &mut Running) -> Option<MediaEvent> {
    match &mut state.media {
        Some(media) => media.events.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_names_the_place_the_wait_in_minutes_and_the_callback_key() {
        let prompts = announcement("uk", 3, Some(Duration::from_secs(250)), Some('1'));
        assert_eq!(
            prompts,
            [
                file("queue/position", "uk"),
                say(Sayable::Number(3), "uk"),
                file("queue/wait_about", "uk"),
                say(
                    Sayable::Quantity {
                        value: 5,
                        unit: "min".into()
                    },
                    "uk"
                ),
                file("queue/callback_offer", "uk"),
                say(Sayable::Digits("1".into()), "uk"),
            ]
        );
        let unsure = announcement("en", 1, None, None);
        assert_eq!(
            unsure.len(),
            2,
            "no estimate is announced when it is not sure"
        );
    }
}
