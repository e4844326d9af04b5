//! Bindings of an agent's address of record, updated as RFC 3261 §10.3 steps 6–8 say.

use std::time::{Duration, Instant};

use super::request::{Change, Refusal, Register};
use crate::sip::message::{Header, NameAddr, Uri};
use crate::sip::transaction::Remote;

/// One registered device of an agent: where to ring it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The agent's login (the user part of the address of record).
    pub agent: String,
    /// The Contact as the phone gave it (`;ob`, `+sip.instance` and other
    /// parameters kept), without `expires`. Its URI is the Request-URI of an
    /// INVITE to this device.
    pub contact: NameAddr,
    /// Where the REGISTER came from.
    pub source: Remote,
    /// Where to send requests for this contact: the Contact's address when
    /// it can be reached, else `source` (NAT, TCP connection).
    pub target: Remote,
    pub expires_at: Instant,
    pub call_id: String,
    pub cseq: u32,
    /// The registering phone's User-Agent, for admins.
    pub user_agent: Option<String>,
    /// The REGISTER's Path (RFC 3327): requests to this device carry it as
    /// their Route set, so they reach the phone through the proxies it
    /// registered through; `target` is then the first of them.
    pub path: Vec<NameAddr>,
}

impl Binding {
    /// The Request-URI for requests to this device.
    pub fn uri(&self) -> &Uri {
        &self.contact.uri
    }

    /// Time left at `now`, rounded up to whole seconds as the 200 lists it.
    pub fn expires_in(&self, now: Instant) -> Duration {
        let left = self.expires_at.saturating_duration_since(now);
        Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// The Contact header of the 200 OK: as given, with the expiry left.
    pub fn contact_with_expires(&self, now: Instant) -> NameAddr {
        let mut contact = self.contact.clone();
        let seconds = self.expires_in(now).as_secs();
        contact.params.set("expires", Some(seconds.to_string()));
        contact
    }

    /// Whether this binding stands for the same device as `contact`.
    pub(crate) fn same_device(&self, contact: &NameAddr) -> bool {
        device_key(&self.contact) == device_key(contact)
    }
}

/// Limits the registrar applies to expiries and devices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BindingLimits {
    pub min_expires: u32,
    pub max_expires: u32,
    pub max_devices: usize,
}

/// The bindings after `register`, or why it is refused. The update is all or
/// nothing: a refusal leaves `current` as it was.
pub(crate) fn apply(
    current: &[Binding],
    register: &Register,
    source: Remote,
    now: Instant,
    limits: BindingLimits,
) -> Result<Vec<Binding>, Refusal> {
    let out_of_order = Refusal::because(500, "CSeq Out of Order");
    let stale = |b: &Binding| b.call_id == register.call_id && register.cseq <= b.cseq;
    let changes = match &register.change {
        Change::Query => return Ok(current.to_vec()),
        Change::RemoveAll if current.iter().any(stale) => return Err(out_of_order),
        Change::RemoveAll => return Ok(Vec::new()),
        Change::Contacts(changes) => changes,
    };
    if changes
        .iter()
        .any(|c| c.expires != 0 && c.expires < limits.min_expires)
    {
        let mut refusal = Refusal::status(423);
        refusal.headers.push(Header {
            name: "Min-Expires".into(),
            value: limits.min_expires.to_string(),
        });
        return Err(refusal);
    }
    let mut next = current.to_vec();
    let mut changed_here: Vec<String> = Vec::new();
    for change in changes {
        let key = device_key(&change.contact);
        let existing = next.iter().position(|b| b.same_device(&change.contact));
        if let Some(i) = existing
            && !changed_here.contains(&key)
            && stale(&next[i])
        {
            return Err(out_of_order);
        }
        changed_here.push(key);
        let seconds = change.expires.min(limits.max_expires);
        let binding = Binding {
            agent: register.agent.clone(),
            target: super::target::binding_target(&change.contact.uri, &register.path, source),
            contact: change.contact.clone(),
            source,
            expires_at: now + Duration::from_secs(u64::from(seconds)),
            call_id: register.call_id.clone(),
            cseq: register.cseq,
            user_agent: register.user_agent.clone(),
            path: register.path.clone(),
        };
        match (existing, seconds) {
            (Some(i), 0) => {
                next.remove(i);
            }
            (Some(i), _) => next[i] = binding,
            (None, 0) => {}
            (None, _) => next.push(binding),
        }
    }
    if next.len() > limits.max_devices {
        return Err(Refusal::because(403, "Too Many Devices"));
    }
    Ok(next)
}

/// Whether two lists hold the same devices, in any order and whatever their expiry.
pub(crate) fn same_devices(a: &[Binding], b: &[Binding]) -> bool {
    let mut a: Vec<String> = a.iter().map(|x| device_key(&x.contact)).collect();
    let mut b: Vec<String> = b.iter().map(|x| device_key(&x.contact)).collect();
    a.sort();
    b.sort();
    a == b
}

/// What identifies a device: its instance id (RFC 5626 §4.1, with its
/// `reg-id`), which survives a change of address or port, else the Contact URI.
fn device_key(contact: &NameAddr) -> String {
    match contact.params.value("+sip.instance") {
        Some(instance) => format!(
            "{instance};{}",
            contact.params.value("reg-id").unwrap_or_default()
        ),
        None => contact.uri.to_string(),
    }
}
