//! SIP message types: the facade every other layer uses.
//!
//! Headers that the stack acts on are typed once, when a message is parsed
//! ("parse, don't validate"); every other header is kept verbatim, in order,
//! so that it can be passed on or inspected. The wire parser lives in
//! `parse.rs`, the serializer in `Display` impls; both can be replaced
//! without touching the layers above.

use std::fmt;

/// A SIP request method (RFC 3261 §7.1 and extensions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Info,
    Prack,
    Update,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// A method this stack does not know; kept so it can be answered 501.
    Other(String),
}

/// A parsed SIP message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// A SIP request with its mandatory headers typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub head: Head,
    pub body: Vec<u8>,
}

/// A SIP response with its mandatory headers typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub head: Head,
    pub body: Vec<u8>,
}

/// The headers of a request or response.
///
/// Via, From, To, Call-ID, CSeq are mandatory in every message (RFC 3261 §8.1.1);
/// a message without them does not parse. `other` keeps every remaining header
/// in arrival order, with compact names expanded to their full form.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// Via values, topmost first (several values in one line are split).
    pub via: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: CSeq,
    pub max_forwards: Option<u32>,
    /// Contact values; empty when absent. `*` (REGISTER) is `Uri::Other("*")`.
    pub contact: Vec<NameAddr>,
    pub record_route: Vec<NameAddr>,
    pub route: Vec<NameAddr>,
    /// Content-Type, e.g. `application/sdp`.
    pub content_type: Option<String>,
    /// All other headers, in order, values unfolded and trimmed.
    pub other: Vec<Header>,
}

/// A header kept verbatim: canonical (long-form) name and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// One Via value (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token in upper case: `UDP`, `TCP`, `TLS`, `WS`, ...
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

/// The sequence number and method of the CSeq header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// A name-addr or addr-spec with header parameters, as in From, To, Contact, Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display_name: Option<String>,
    pub uri: Uri,
    /// Header parameters after the URI, e.g. `tag`, `expires`, `q`.
    pub params: Params,
}

/// A URI in a request line or header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Tel(TelUri),
    /// Any other scheme, or `*`, kept as written.
    Other(String),
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    /// The user part, still percent-encoded as received.
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// URI headers after `?`, kept as written.
    pub headers: Option<String>,
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number as written, visual separators included, e.g. `+1-201-555-0123`.
    pub number: String,
    pub params: Params,
}

/// A host: name, IPv4 or IPv6 address (stored without brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    Ipv4(std::net::Ipv4Addr),
    Ipv6(std::net::Ipv6Addr),
}

/// `;name=value` parameters in order; a value-less parameter has `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(name) => name,
        })
    }
}
