//! A REGISTER request read once into what the registrar acts on (RFC 3261 §10.2).

use crate::sip::message::{Header, NameAddr, Request, Uri};
use crate::sip::uri::parse_name_addr_list;

/// The option tag of the Path extension (RFC 3327), the one extension we implement.
pub(crate) const PATH: &str = "path";

/// What a REGISTER asks for.
#[derive(Debug, Clone)]
pub(crate) struct Register {
    /// The user part of the To URI: the agent's login.
    pub agent: String,
    pub change: Change,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
    /// The proxies between the phone and us, nearest the registrar first
    /// (RFC 3327 `Path`): the Route set of requests to the phone.
    pub path: Vec<NameAddr>,
    /// Whether the phone said `Supported: path`: then the 200 lists the Path.
    pub path_supported: bool,
}

/// The change to the bindings of the address of record.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// No Contact: list the bindings (§10.2.3).
    Query,
    /// `Contact: *` with `Expires: 0`: remove every binding (§10.2.2).
    RemoveAll,
    /// Add, refresh or (with expires 0) remove these contacts.
    Contacts(Vec<ContactChange>),
}

/// One Contact of a REGISTER.
#[derive(Debug, Clone)]
pub(crate) struct ContactChange {
    /// The contact as given, without its `expires` parameter.
    pub contact: NameAddr,
    /// Seconds asked for (parameter, else Expires header, else the default).
    pub expires: u32,
}

/// A request refused before any binding changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    /// A reason phrase other than the standard one.
    pub reason: Option<&'static str>,
    pub headers: Vec<Header>,
}

impl Refusal {
    /// A refusal with the standard reason phrase.
    pub fn status(status: u16) -> Refusal {
        Refusal {
            status,
            reason: None,
            headers: Vec::new(),
        }
    }

    /// A refusal saying why in its reason phrase.
    pub fn because(status: u16, reason: &'static str) -> Refusal {
        Refusal {
            reason: Some(reason),
            ..Refusal::status(status)
        }
    }
}

impl Register {
    /// Reads a REGISTER; `default_expires` applies where it names no expiry.
    pub fn parse(request: &Request, default_expires: u32) -> Result<Register, Refusal> {
        let head = &request.head;
        // Of the extensions, we implement Path only (no outbound or gruu).
        let unsupported: Vec<&str> = option_tags(head.headers("Require"))
            .filter(|tag| !tag.eq_ignore_ascii_case(PATH))
            .collect();
        if !unsupported.is_empty() {
            let mut refusal = Refusal::status(420);
            refusal.headers.push(Header {
                name: "Unsupported".into(),
                value: unsupported.join(", "),
            });
            return Err(refusal);
        }
        let path = head
            .headers("Path")
            .map(parse_name_addr_list)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Refusal::because(400, "Malformed Path"))?
            .into_iter()
            .flatten()
            .collect();
        let path_supported =
            option_tags(head.headers("Supported")).any(|tag| tag.eq_ignore_ascii_case(PATH));
        let agent = match &head.to.uri {
            Uri::Sip(uri) => uri.user.clone(),
            _ => None,
        }
        .ok_or(Refusal::because(404, "Not Found: no user in To"))?;
        let header_expires = head
            .header("Expires")
            .map(|value| expires(value, default_expires));
        let is_star = |c: &NameAddr| matches!(&c.uri, Uri::Other(star) if star == "*");
        let change = if head.contact.iter().any(is_star) {
            if head.contact.len() != 1 || header_expires != Some(0) {
                return Err(Refusal::because(400, "Contact * needs Expires: 0 alone"));
            }
            Change::RemoveAll
        } else if head.contact.is_empty() {
            Change::Query
        } else {
            let changes = head
                .contact
                .iter()
                .map(|contact| {
                    if !matches!(contact.uri, Uri::Sip(_)) {
                        return Err(Refusal::because(400, "Contact is not a SIP URI"));
                    }
                    let mut contact = contact.clone();
                    let asked = contact.params.value("expires").map(str::to_owned);
                    contact.params.remove("expires");
                    let expires = match asked {
                        Some(value) => expires(&value, default_expires),
                        None => header_expires.unwrap_or(default_expires),
                    };
                    Ok(ContactChange { contact, expires })
                })
                .collect::<Result<_, _>>()?;
            Change::Contacts(changes)
        };
        Ok(Register {
            agent,
            change,
            call_id: head.call_id.clone(),
            cseq: head.cseq.seq,
            user_agent: head.header("User-Agent").map(str::to_owned),
            path,
            path_supported,
        })
    }
}

/// The option tags of `Require` or `Supported` header values.
fn option_tags<'a>(values: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    values
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
}

/// An expiry in seconds: a malformed value counts as the default and a huge
/// one as the largest (RFC 3261 §10.2.1.1, §20.19).
fn expires(value: &str, default: u32) -> u32 {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return default;
    }
    value
        .parse::<u64>()
        .map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32)
}
