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
        match self {
            Method::Other(name) => f.write_str(name),
            known => f.write_str(known.standard_name().unwrap_or_default()),
        }
    }
}

impl Method {
    /// The name of a method this stack knows; `None` for an extension method.
    pub fn standard_name(&self) -> Option<&'static str> {
        Some(match self {
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
            Method::Other(_) => return None,
        })
    }

    /// The method for a request-line or CSeq token (methods are case-sensitive).
    pub fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        }
    }
}

impl Message {
    /// The headers of either kind of message.
    pub fn head(&self) -> &Head {
        match self {
            Message::Request(request) => &request.head,
            Message::Response(response) => &response.head,
        }
    }

    /// The message as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(request) => request.to_bytes(),
            Message::Response(response) => response.to_bytes(),
        }
    }
}

impl Request {
    /// The request as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!("{} {} SIP/2.0\r\n", self.method, self.uri).into_bytes();
        self.head.write(&mut bytes, self.body.len());
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

impl Response {
    /// A response to `request` per RFC 3261 §8.2.6: Via, From, To, Call-ID and
    /// CSeq copied, with the standard reason phrase.
    pub fn to_request(request: &Request, status: u16) -> Response {
        let source = &request.head;
        let mut other = Vec::new();
        if status == 100
            && let Some(timestamp) = source.header("Timestamp")
        {
            other.push(Header {
                name: "Timestamp".into(),
                value: timestamp.to_owned(),
            });
        }
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            head: Head {
                via: source.via.clone(),
                from: source.from.clone(),
                to: source.to.clone(),
                call_id: source.call_id.clone(),
                cseq: source.cseq.clone(),
                max_forwards: None,
                contact: Vec::new(),
                record_route: Vec::new(),
                route: Vec::new(),
                content_type: None,
                other,
            },
            body: Vec::new(),
        }
    }

    /// Sets the To tag unless the request already carried one.
    pub fn with_to_tag(mut self, tag: &str) -> Self {
        if !self.head.to.params.has("tag") {
            self.head.to.params.set("tag", Some(tag.to_owned()));
        }
        self
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!("SIP/2.0 {} {}\r\n", self.status, self.reason).into_bytes();
        self.head.write(&mut bytes, self.body.len());
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

impl Head {
    /// The tag of the From header.
    pub fn from_tag(&self) -> Option<&str> {
        self.from.params.value("tag")
    }

    /// The tag of the To header.
    pub fn to_tag(&self) -> Option<&str> {
        self.to.params.value("tag")
    }

    /// The branch of the topmost Via.
    pub fn branch(&self) -> Option<&str> {
        self.via.first().and_then(|via| via.params.value("branch"))
    }

    /// The first value of an untyped header (case-insensitive, compact names accepted).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).next()
    }

    /// Every value of an untyped header, in order.
    pub fn headers<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let canonical = super::parse::canonical_name(name);
        self.other
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(&canonical))
            .map(|h| h.value.as_str())
    }

    /// Replaces every value of an untyped header with one value.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.remove_header(name);
        self.push_header(name, value);
    }

    /// Appends an untyped header.
    pub fn push_header(&mut self, name: &str, value: impl Into<String>) {
        self.other.push(Header {
            name: super::parse::canonical_name(name),
            value: value.into(),
        });
    }

    /// Removes every value of an untyped header.
    pub fn remove_header(&mut self, name: &str) {
        let canonical = super::parse::canonical_name(name);
        self.other
            .retain(|h| !h.name.eq_ignore_ascii_case(&canonical));
    }

    /// Writes the headers and the blank line; Content-Length always from the body.
    fn write(&self, out: &mut Vec<u8>, body_len: usize) {
        use std::io::Write;
        for via in &self.via {
            let _ = write!(out, "Via: {via}\r\n");
        }
        for route in &self.record_route {
            let _ = write!(out, "Record-Route: {route}\r\n");
        }
        for route in &self.route {
            let _ = write!(out, "Route: {route}\r\n");
        }
        let _ = write!(out, "From: {}\r\nTo: {}\r\n", self.from, self.to);
        let _ = write!(
            out,
            "Call-ID: {}\r\nCSeq: {} {}\r\n",
            self.call_id, self.cseq.seq, self.cseq.method
        );
        if let Some(max_forwards) = self.max_forwards {
            let _ = write!(out, "Max-Forwards: {max_forwards}\r\n");
        }
        for contact in &self.contact {
            let _ = write!(out, "Contact: {contact}\r\n");
        }
        for header in &self.other {
            if !header.name.eq_ignore_ascii_case("Content-Length") {
                let _ = write!(out, "{}: {}\r\n", header.name, header.value);
            }
        }
        if let Some(content_type) = &self.content_type {
            let _ = write!(out, "Content-Type: {content_type}\r\n");
        }
        let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
    }
}

impl Params {
    /// The value of a parameter (name case-insensitive); `None` if absent or value-less.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether a parameter is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sets (or adds) a parameter.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(entry) => entry.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Removes a parameter.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

impl Uri {
    /// The user part of a SIP URI, or the number of a tel URI.
    pub fn user(&self) -> Option<&str> {
        match self {
            Uri::Sip(sip) => sip.user.as_deref(),
            Uri::Tel(tel) => Some(&tel.number),
            Uri::Other(_) => None,
        }
    }
}

impl SipUri {
    /// `sip:host:port` with no user and no parameters.
    pub fn new(host: Host, port: Option<u16>) -> SipUri {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port,
            params: Params::default(),
            headers: None,
        }
    }
}

impl From<std::net::IpAddr> for Host {
    fn from(ip: std::net::IpAddr) -> Host {
        match ip {
            std::net::IpAddr::V4(v4) => Host::Ipv4(v4),
            std::net::IpAddr::V6(v6) => Host::Ipv6(v6),
        }
    }
}

/// The standard reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match status / 100 {
            1 => "Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}
