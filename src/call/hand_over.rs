//! Carrying a queued caller to the node that runs the ACD.
//!
//! In a cluster every node runs flows, but one node runs the queue. A flow
//! that reaches a queue on another node places an internal call to
//! `sip:acd@proxy` with the caller's context in the same `X-Hotline-*`
//! headers agents get; the proxy sends it to the node that answers OPTIONS
//! for the ACD, which answers it and puts it straight in the queue without
//! running a flow. The first node bridges the caller with that call, like a
//! transfer, so the caller hears the ACD's music, announcements and agent.
//! Only calls that come through the proxy are taken this way, and with
//! `[cluster] hand_over_secret`, only those whose context is signed with it.
//! The signature is an HMAC-SHA256 of the `X-Hotline-*` headers in order: the
//! secret never travels, and the context cannot be changed on the way; a
//! copy of a whole hand-over replayed through the proxy is not detected.

use std::net::SocketAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use super::queue::{WaitingCall, context_headers};
use crate::cluster::leader::Role;
use crate::flow::{AgentContext, PathStep};
use crate::sip::message::{Header, Request};

/// This node's place in the cluster, as calls need it.
#[derive(Debug, Clone)]
pub struct ClusterLink {
    /// Whether this node runs the ACD now.
    pub role: watch::Receiver<Role>,
    /// The request-URI user that designates the ACD.
    pub acd_user: String,
    /// The proxy: hand-overs go to it, and are taken only from it.
    pub proxy: SocketAddr,
    /// The secret hand-overs are signed with, if the cluster has one.
    pub secret: Option<String>,
}

/// The header that carries a hand-over's signature.
const SIGNATURE: &str = "X-Hotline-Signature";

impl ClusterLink {
    /// Where a caller who reaches a queue goes, when the ACD runs elsewhere.
    pub fn hand_over_uri(&self) -> Option<String> {
        match *self.role.borrow() {
            Role::Leader { .. } => None,
            Role::Follower => Some(format!("sip:{}@{}", self.acd_user, self.proxy)),
        }
    }

    /// Whether this node runs the ACD now.
    pub fn runs_acd(&self) -> bool {
        matches!(*self.role.borrow(), Role::Leader { .. })
    }

    /// The caller carried here by `request`, if it is a hand-over from the proxy.
    pub fn handed_over(&self, request: &Request, source: SocketAddr) -> Option<HandedOver> {
        if source != self.proxy || request.uri.user() != Some(self.acd_user.as_str()) {
            return None;
        }
        if let Some(secret) = &self.secret {
            let signature = request.head.header(SIGNATURE)?;
            let bytes: Option<Vec<u8>> = (0..signature.len() / 2)
                .map(|i| u8::from_str_radix(signature.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            let signed = context_mac(secret, request.head.other.iter());
            // Compared in constant time by the MAC.
            signed.verify_slice(&bytes?).ok()?;
        }
        HandedOver::from_headers(request)
    }

    /// Adds the signature of `headers` when the cluster has a secret.
    pub fn sign(&self, headers: &mut Vec<Header>) {
        let Some(secret) = &self.secret else { return };
        let signature = context_mac(secret, headers.iter()).finalize().into_bytes();
        let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
        headers.push(Header {
            name: SIGNATURE.into(),
            value: hex,
        });
    }
}

/// The MAC of a hand-over's `X-Hotline-*` headers (but the signature), in order.
fn context_mac<'a>(secret: &str, headers: impl Iterator<Item = &'a Header>) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    for header in headers {
        let name = header.name.to_ascii_lowercase();
        if name.starts_with("x-hotline-") && !header.name.eq_ignore_ascii_case(SIGNATURE) {
            // As the user agent writes it: one line, trimmed.
            let value: String = header
                .value
                .trim()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            mac.update(format!("{name}:{value}\n").as_bytes());
        }
    }
    mac
}

/// A caller another node's flow put in a queue, with what it learned.
#[derive(Debug, Clone, PartialEq)]
pub struct HandedOver {
    pub queue: String,
    pub priority: i32,
    pub skills: Vec<String>,
    pub context: AgentContext,
    /// How long the caller had been on the line at the first node.
    pub waited: Duration,
}

impl HandedOver {
    fn from_headers(request: &Request) -> Option<HandedOver> {
        let head = &request.head;
        let queue = head.header("X-Hotline-Queue")?.trim().to_owned();
        let caller = head.header("X-Hotline-Caller")?.trim().to_owned();
        if queue.is_empty() {
            return None;
        }
        let list = |name: &str, separator: char| -> Vec<String> {
            head.header(name)
                .map(|value| {
                    value
                        .split(separator)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let path = list("X-Hotline-Path", ' ')
            .into_iter()
            .map(
                |step| match step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    Some(keys) => PathStep::Key(keys.to_owned()),
                    None => PathStep::Node(step),
                },
            )
            .collect();
        Some(HandedOver {
            queue,
            priority: head
                .header("X-Hotline-Priority")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0),
            skills: list("X-Hotline-Skills", ','),
            waited: Duration::from_millis(
                head.header("X-Hotline-Waited-Ms")
                    .and_then(|ms| ms.trim().parse().ok())
                    .unwrap_or(0),
            ),
            context: AgentContext {
                caller,
                customer: head.header("X-Hotline-Customer").map(str::to_owned),
                language: head
                    .header("X-Hotline-Language")
                    .unwrap_or_default()
                    .to_owned(),
                flow_version: head
                    .header("X-Hotline-Flow-Version")
                    .unwrap_or_default()
                    .to_owned(),
                path,
                tickets: list("X-Hotline-Tickets", ','),
            },
        })
    }
}

/// The headers of the internal call: what agents see, and what the queue needs.
pub fn headers(
    call: &WaitingCall,
    priority: i32,
    skills: &[String],
    waited: Duration,
) -> Vec<Header> {
    let mut headers = context_headers(call);
    let mut add = |name: &str, value: String| {
        headers.push(Header {
            name: name.into(),
            value,
        })
    };
    add("X-Hotline-Priority", priority.to_string());
    add("X-Hotline-Waited-Ms", waited.as_millis().to_string());
    if !skills.is_empty() {
        add("X-Hotline-Skills", skills.join(","));
    }
    if !call.context.flow_version.is_empty() {
        add("X-Hotline-Flow-Version", call.context.flow_version.clone());
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(user: &str, headers: &[Header]) -> Request {
        let extra: String = headers
            .iter()
            .map(|h| format!("{}: {}\r\n", h.name, h.value))
            .collect();
        let text = format!(
            "INVITE sip:{user}@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
             From: <sip:+380441234567@127.0.0.1:5071>;tag=a\r\nTo: <sip:{user}@127.0.0.1:5060>\r\n\
             Call-ID: h1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match crate::sip::parse(text.as_bytes()).unwrap() {
            crate::sip::message::Message::Request(request) => request,
            other => panic!("{other:?}"),
        }
    }

    fn link(role: Role) -> ClusterLink {
        ClusterLink {
            role: watch::channel(role).1,
            acd_user: "acd".into(),
            proxy: "127.0.0.1:5060".parse().unwrap(),
            secret: None,
        }
    }

    fn waiting() -> WaitingCall {
        WaitingCall {
            number: "+380441234567".into(),
            name: Some("Olena Kovalenko".into()),
            account: Some("100200300".into()),
            context: AgentContext {
                caller: "+380441234567".into(),
                customer: Some("c-1".into()),
                language: "uk".into(),
                flow_version: "hotline.yaml@3".into(),
                path: vec![PathStep::Node("main".into()), PathStep::Key("0".into())],
                tickets: vec!["T-1".into()],
            },
            queue: "support".into(),
        }
    }

    #[test]
    fn the_context_survives_the_hand_over_headers() {
        let waited = Duration::from_millis(41_500);
        let headers = headers(&waiting(), 5, &["support".into(), "billing".into()], waited);
        let taken = link(Role::Leader { epoch: 1 })
            .handed_over(&invite("acd", &headers), "127.0.0.1:5060".parse().unwrap())
            .unwrap();
        assert_eq!(taken.queue, "support");
        assert_eq!(taken.priority, 5);
        assert_eq!(taken.skills, ["support", "billing"]);
        assert_eq!(taken.context, waiting().context);
        assert_eq!(taken.waited, waited);
    }

    #[test]
    fn only_calls_from_the_proxy_to_the_acd_user_are_hand_overs() {
        let headers = headers(&waiting(), 0, &[], Duration::ZERO);
        let link = link(Role::Leader { epoch: 1 });
        let proxy = "127.0.0.1:5060".parse().unwrap();
        let elsewhere = "127.0.0.1:5999".parse().unwrap();
        assert!(
            link.handed_over(&invite("acd", &headers), elsewhere)
                .is_none()
        );
        assert!(
            link.handed_over(&invite("hotline", &headers), proxy)
                .is_none()
        );
        assert!(link.handed_over(&invite("acd", &[]), proxy).is_none());
    }

    #[test]
    fn with_a_secret_only_a_hand_over_signed_with_it_and_unchanged_is_taken() {
        let proxy = "127.0.0.1:5060".parse().unwrap();
        let signed_by = |secret: &str| ClusterLink {
            secret: Some(secret.into()),
            ..link(Role::Follower)
        };
        let acd = signed_by("the cluster's secret");
        let mut headers = headers(&waiting(), 0, &[], Duration::from_secs(3));
        let unsigned = invite("acd", &headers);
        assert!(acd.handed_over(&unsigned, proxy).is_none(), "unsigned");
        acd.sign(&mut headers);
        let taken = acd.handed_over(&invite("acd", &headers), proxy);
        assert_eq!(taken.map(|t| t.queue).as_deref(), Some("support"));

        let mut forged = headers.clone();
        signed_by("another secret").sign(&mut forged);
        forged.retain(|h| h.name != SIGNATURE || forged_last(&headers, h));
        assert!(
            acd.handed_over(&invite("acd", &forged[..]), proxy)
                .is_none(),
            "signed with another secret"
        );
        let mut changed = headers.clone();
        for header in &mut changed {
            if header.name == "X-Hotline-Priority" {
                header.value = "9".into();
            }
        }
        assert!(
            acd.handed_over(&invite("acd", &changed), proxy).is_none(),
            "context changed on the way"
        );
        // A node without a secret takes any hand-over from the proxy, as before.
        assert!(
            link(Role::Leader { epoch: 1 })
                .handed_over(&unsigned, proxy)
                .is_some()
        );
    }

    /// Whether `header` is not the signature `headers` already carry.
    fn forged_last(headers: &[Header], header: &Header) -> bool {
        !headers
            .iter()
            .any(|h| h.name == SIGNATURE && h.value == header.value)
    }

    #[test]
    fn only_a_node_without_the_acd_hands_callers_over() {
        assert_eq!(link(Role::Leader { epoch: 2 }).hand_over_uri(), None);
        assert_eq!(
            link(Role::Follower).hand_over_uri().as_deref(),
            Some("sip:acd@127.0.0.1:5060")
        );
    }
}
