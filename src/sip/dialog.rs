//! Dialog state (RFC 3261 §12): identifiers, sequence numbers, route set, and
//! building requests inside the dialog.

use crate::sip::message::*;
use crate::sip::transaction::{Remote, Transport};

/// One dialog as seen from our side.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Our URI (the To of an incoming INVITE).
    pub local_uri: NameAddr,
    /// The peer's URI (the From of an incoming INVITE).
    pub remote_uri: NameAddr,
    /// Where requests inside the dialog are addressed (the peer's Contact).
    pub remote_target: Uri,
    /// Record-Route values, in the order our requests must carry them.
    pub route_set: Vec<NameAddr>,
    pub local_seq: u32,
    pub remote_seq: Option<u32>,
    /// Where the dialog's requests physically go: the first loose route, or
    /// the address the peer's INVITE came from (or ours went to), which works
    /// behind NAT where the peer's Contact may be a private address.
    pub next_hop: Remote,
}

impl Dialog {
    /// The UAS side of a dialog created by an incoming INVITE (§12.1.1).
    pub fn from_invite(invite: &Request, local_tag: String, source: Remote) -> Dialog {
        let remote_target = invite
            .head
            .contact
            .first()
            .map(|c| c.uri.clone())
            .unwrap_or_else(|| invite.head.from.uri.clone());
        let route_set = invite.head.record_route.clone();
        let next_hop = first_hop(&route_set, source);
        let mut local_uri = invite.head.to.clone();
        local_uri.params.set("tag", Some(local_tag.clone()));
        Dialog {
            call_id: invite.head.call_id.clone(),
            local_tag,
            remote_tag: invite.head.from_tag().map(str::to_owned),
            local_uri,
            remote_uri: invite.head.from.clone(),
            remote_target,
            route_set,
            local_seq: 0,
            remote_seq: Some(invite.head.cseq.seq),
            next_hop,
        }
    }

    /// The UAC side of a dialog created by a 2xx to our INVITE sent to `remote` (§12.1.2).
    pub fn from_response(invite: &Request, response: &Response, remote: Remote) -> Dialog {
        let remote_target = response
            .head
            .contact
            .first()
            .map(|c| c.uri.clone())
            .unwrap_or_else(|| invite.uri.clone());
        // Record-Route lists the proxies from the callee's side: the UAC reverses it.
        let route_set: Vec<NameAddr> = response.head.record_route.iter().rev().cloned().collect();
        let next_hop = first_hop(&route_set, remote);
        Dialog {
            call_id: invite.head.call_id.clone(),
            local_tag: invite.head.from_tag().unwrap_or_default().to_owned(),
            remote_tag: response.head.to_tag().map(str::to_owned),
            local_uri: invite.head.from.clone(),
            remote_uri: response.head.to.clone(),
            remote_target,
            route_set,
            local_seq: invite.head.cseq.seq,
            remote_seq: None,
            next_hop,
        }
    }

    /// Whether an in-dialog request belongs to this dialog (Call-ID and both tags).
    pub fn matches(&self, request: &Request) -> bool {
        request.head.call_id == self.call_id
            && request.head.to_tag() == Some(self.local_tag.as_str())
            && request.head.from_tag() == self.remote_tag.as_deref()
    }

    /// Checks the CSeq of a new in-dialog request (§12.2.2): lower than the
    /// last one means out of order, answered 500.
    pub fn accept_remote_seq(&mut self, seq: u32) -> bool {
        if self.remote_seq.is_some_and(|last| seq <= last) {
            return false;
        }
        self.remote_seq = Some(seq);
        true
    }

    /// A new request inside the dialog (§12.2.1.1), e.g. BYE.
    pub fn request(&mut self, method: Method, via: Via, contact: NameAddr) -> Request {
        self.local_seq += 1;
        self.build(method, self.local_seq, via, contact)
    }

    /// The ACK for a 2xx to our INVITE of sequence number `invite_seq`
    /// (§13.2.2.4): a request of the dialog that reuses the INVITE's CSeq number.
    pub fn ack(&self, invite_seq: u32, via: Via, contact: NameAddr) -> Request {
        self.build(Method::Ack, invite_seq, via, contact)
    }

    fn build(&self, method: Method, seq: u32, via: Via, contact: NameAddr) -> Request {
        let mut to = self.remote_uri.clone();
        if let Some(tag) = &self.remote_tag {
            to.params.set("tag", Some(tag.clone()));
        }
        Request {
            method: method.clone(),
            uri: self.remote_target.clone(),
            head: Head {
                via: vec![via],
                from: self.local_uri.clone(),
                to,
                call_id: self.call_id.clone(),
                cseq: CSeq { seq, method },
                max_forwards: Some(70),
                contact: vec![contact],
                record_route: Vec::new(),
                route: self.route_set.clone(),
                content_type: None,
                other: Vec::new(),
            },
            body: Vec::new(),
        }
    }
}

/// The address of the first Route when it is an IP literal, else `source`
/// (where the peer's messages come from, or where our INVITE went).
pub(crate) fn first_hop(route_set: &[NameAddr], source: Remote) -> Remote {
    let Some(Uri::Sip(first)) = route_set.first().map(|r| &r.uri) else {
        return source;
    };
    let ip = match &first.host {
        Host::Ipv4(v4) => std::net::IpAddr::V4(*v4),
        Host::Ipv6(v6) => std::net::IpAddr::V6(*v6),
        // No DNS in the core: a named proxy is reached where the INVITE came from.
        Host::Name(_) => return source,
    };
    let transport = match first.params.value("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        // A WebSocket peer is reached on its own connection, never by address.
        Some(t) if t.eq_ignore_ascii_case("ws") || t.eq_ignore_ascii_case("wss") => {
            return source;
        }
        Some(_) => Transport::Udp,
        None => source.transport,
    };
    Remote {
        addr: std::net::SocketAddr::new(ip, first.port.unwrap_or(5060)),
        transport,
    }
}
