//! A caller the flow transfers to a SIP URI: hotline calls the URI and bridges
//! the caller to it (it stays in the media path, so the call is recorded and
//! ends cleanly on either side, whatever the other party supports).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::{info, warn};

use super::answered::{Answered, Running};
use crate::server::agent_leg::{self, RingOutcome, RingRequest, RingTarget};
use crate::server::endpoint::CallSignal;
use crate::server::media::MediaOptions;
use crate::sip::message::{Header, Host, NameAddr, Params, Uri};
use crate::sip::transaction::{Remote, Transport};

/// How long the transfer target may ring before the caller is told it did not answer.
const RING_LIMIT: Duration = Duration::from_secs(30);

impl Answered {
    /// Calls `uri` and bridges the caller to it; returns why the call ended.
    pub(super) async fn transfer(&mut self, state: &mut Running, uri: String) -> String {
        let language = state
            .call
            .as_ref()
            .map(|c| c.language().to_owned())
            .unwrap_or_else(|| self.services.config().audio.default_language.clone());
        let Some(target) = resolve(&uri).await else {
            warn!(%uri, "transfer target cannot be reached");
            return self.farewell(state, &language).await;
        };
        info!(%uri, "transferring the caller");
        self.log.event("transfer", uri.clone());
        let (cancel, cancelled) = oneshot::channel();
        let config = self.services.config();
        let sip = self.services.sip_address();
        let from = NameAddr {
            display_name: None,
            uri: agent_leg::caller_uri(&self.caller.number, sip)
                .unwrap_or_else(|| target.uri.clone()),
            params: Params::default(),
        };
        let request = RingRequest {
            agent: uri.clone(),
            targets: vec![target],
            from,
            headers: vec![Header {
                name: "X-Hotline-Caller".into(),
                value: self.caller.number.clone(),
            }],
            endpoint: self.endpoint.clone(),
            ports: self.services.0.ports.clone(),
            media_ip: self.services.0.media_ip,
            media_options: MediaOptions::from(&config.media),
            cancel: cancelled,
        };
        self.play_music(state, &language).await;
        let ringing = agent_leg::ring(request);
        tokio::pin!(ringing);
        let limit = tokio::time::sleep(RING_LIMIT);
        tokio::pin!(limit);
        let mut cancel = Some(cancel);
        loop {
            tokio::select! {
                outcome = &mut ringing => match outcome {
                    RingOutcome::Answered(leg) => return self.bridge(state, leg).await,
                    RingOutcome::Refused(result) => {
                        info!(?result, "transfer target did not take the call");
                        return self.farewell(state, &language).await;
                    }
                    RingOutcome::Withdrawn => return self.farewell(state, &language).await,
                },
                signal = self.signals.recv() => match signal {
                    Some(CallSignal::Ended { reason }) => {
                        if let Some(cancel) = cancel.take() {
                            let _ = cancel.send(());
                        }
                        // Let the ringing end (CANCEL sent) before the call does.
                        let _ = (&mut ringing).await;
                        return reason;
                    }
                    None => return "endpoint stopped".into(),
                    Some(_) => {}
                },
                _ = &mut limit, if cancel.is_some() => {
                    if let Some(cancel) = cancel.take() {
                        let _ = cancel.send(());
                    }
                }
            }
        }
    }

    /// Tells the caller nobody could take the call, hangs up, and waits for the end.
    async fn farewell(&mut self, state: &mut Running, language: &str) -> String {
        let prompts = [super::waiting::file("queue/all_busy", language)];
        self.play_farewell(state, &prompts).await
    }
}

/// Where a SIP URI's request goes: its host and port, resolved once (no SRV).
async fn resolve(uri: &str) -> Option<RingTarget> {
    let parsed = crate::sip::uri::parse_uri(uri).ok()?;
    let Uri::Sip(sip) = &parsed else {
        return None;
    };
    let transport = match sip
        .params
        .0
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("transport"))
    {
        Some((_, Some(value))) if value.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        _ => Transport::Udp,
    };
    let port = sip.port.unwrap_or(5060);
    let addr = match &sip.host {
        Host::Ipv4(ip) => SocketAddr::new((*ip).into(), port),
        Host::Ipv6(ip) => SocketAddr::new((*ip).into(), port),
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), port))
            .await
            .ok()?
            .next()?,
    };
    Some(RingTarget {
        uri: parsed.clone(),
        remote: Remote { addr, transport },
    })
}
