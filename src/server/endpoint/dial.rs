//! Placing calls through the endpoint: a task asks for a call and receives
//! its signals, as a call handler does for an incoming one.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::{CallSignal, Endpoint, EndpointCommand, EndpointHandle, SIGNAL_QUEUE};
use crate::sip::ua::{CallId, OutgoingCall};

/// A call the endpoint placed, as the task that asked for it holds it.
#[derive(Debug)]
pub struct Dialled {
    /// The call's id, for `Hangup` (CANCEL before the answer, BYE after) and
    /// `AnswerReoffer`.
    pub call: CallId,
    /// `Progress`, then `Answered` or `Failed`; once answered `Info`,
    /// `ReOffer` and finally `Ended`.
    pub signals: mpsc::Receiver<CallSignal>,
}

impl EndpointHandle {
    /// Places a call; `None` when the endpoint has stopped.
    pub async fn dial(&self, call: OutgoingCall) -> Option<Dialled> {
        let (reply, dialled) = oneshot::channel();
        self.send(EndpointCommand::Dial(Box::new(call), reply))
            .await;
        dialled.await.ok()
    }
}

impl Endpoint {
    /// Sends the INVITE and hands its signals to the task that asked. A placed
    /// call counts towards the call limit like an incoming one: it holds the
    /// same resources (a task, RTP ports once bridged).
    pub(super) fn dial(&mut self, call: Box<OutgoingCall>, reply: oneshot::Sender<Dialled>) {
        let now = Instant::now();
        let remote = call.remote;
        let (signals_tx, signals) = mpsc::channel(SIGNAL_QUEUE);
        let call = self.ua.call(now, *call);
        info!(call = %call, to = %remote.addr, "placing a call");
        let entry = super::CallEntry {
            signals: signals_tx,
            source: None,
        };
        self.calls.insert(call.clone(), entry);
        let dialled = Dialled {
            call: call.clone(),
            signals,
        };
        if reply.send(dialled).is_err() {
            // The task that asked is gone, and nobody else could end the call.
            self.forget(&call);
            self.ua.hangup(now, &call);
        }
    }
}
