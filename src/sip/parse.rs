//! The SIP wire parser.
//!
//! Hand-written rather than rsip 0.4: rsip silently returns no Via or Call-ID
//! for compact header names and rejects folded lines and `tel:` URIs, all of
//! which real phones and carriers send. This parser is tolerant where RFC 3261
//! §7.3.1 and RFC 4475 ask for tolerance, strict where they ask for rejection,
//! and never panics on any input.

use super::message::*;
use super::uri::{parse_name_addr_list, parse_params, parse_uri, split_list};

/// Largest message accepted, on any transport.
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message larger than {MAX_MESSAGE_SIZE} bytes")]
    TooLarge,
    #[error("no end of headers")]
    Incomplete,
    #[error("invalid start line: {0}")]
    StartLine(String),
    #[error("header line without a colon: {0}")]
    HeaderLine(String),
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid {header}: {detail}")]
    Invalid {
        header: &'static str,
        detail: String,
    },
    #[error("Content-Length {declared} exceeds the body of {available} bytes")]
    BodyTooShort { declared: usize, available: usize },
    #[error("header is not UTF-8")]
    Encoding,
}

impl ParseError {
    /// A short reason phrase for a 400 response.
    pub fn reason(&self) -> String {
        match self {
            ParseError::Missing(header) => format!("Missing {header}"),
            ParseError::Invalid { header, .. } => format!("Invalid {header}"),
            ParseError::BodyTooShort { .. } => "Bad Content-Length".into(),
            ParseError::TooLarge => "Message Too Large".into(),
            _ => "Bad Request".into(),
        }
    }
}

/// Parses one complete SIP message (a datagram, or one framed from a stream).
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge);
    }
    let raw = split_raw(bytes, BadLine::Refuse)?;
    let mut head = build_head(&raw.headers)?;
    let body = raw.body(&head)?;
    // The serializer always writes Content-Length from the body it sends.
    head.remove_header("Content-Length");
    match raw.start {
        StartLine::Request { method, uri } => Ok(Message::Request(Request {
            method,
            uri,
            head,
            body,
        })),
        StartLine::Response { status, reason } => Ok(Message::Response(Response {
            status,
            reason,
            head,
            body,
        })),
    }
}

/// A 400 response to bytes that did not parse, when enough of a request is
/// legible to address one (RFC 3261 §8.2: Via, From, To, Call-ID, CSeq).
pub fn bad_request_for(bytes: &[u8], error: &ParseError) -> Option<Response> {
    // Lines that are not headers are passed over: the 400 is about them, and
    // the caller should hear it as long as the lines it is addressed by are sound.
    let raw = split_raw(
        bytes.get(..MAX_MESSAGE_SIZE.min(bytes.len()))?,
        BadLine::Skip,
    )
    .ok()?;
    let StartLine::Request { method, .. } = raw.start else {
        return None;
    };
    if method == Method::Ack {
        return None; // ACK is never answered.
    }
    let find = |name: &str| {
        raw.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let via = parse_via_list(find("Via")?).ok()?;
    let from = super::uri::parse_name_addr(find("From")?).ok()?;
    let to = super::uri::parse_name_addr(find("To")?).ok()?;
    let call_id = find("Call-ID")?.trim().to_owned();
    if call_id.is_empty() || via.is_empty() {
        return None;
    }
    let cseq = parse_cseq(find("CSeq").unwrap_or("")).unwrap_or(CSeq {
        seq: 0,
        method: method.clone(),
    });
    let head = Head {
        via,
        from,
        to,
        call_id,
        cseq,
        max_forwards: None,
        contact: Vec::new(),
        record_route: Vec::new(),
        route: Vec::new(),
        content_type: None,
        other: Vec::new(),
    };
    Some(Response {
        status: 400,
        reason: error.reason(),
        head,
        body: Vec::new(),
    })
}

enum StartLine {
    Request { method: Method, uri: Uri },
    Response { status: u16, reason: String },
}

struct Raw<'a> {
    start: StartLine,
    /// Headers with canonical names and unfolded, trimmed values.
    headers: Vec<(String, String)>,
    rest: &'a [u8],
}

impl Raw<'_> {
    fn body(&self, head: &Head) -> Result<Vec<u8>, ParseError> {
        let declared = head
            .header("Content-Length")
            .map(|v| {
                v.trim().parse::<usize>().map_err(|_| ParseError::Invalid {
                    header: "Content-Length",
                    detail: v.to_owned(),
                })
            })
            .transpose()?;
        match declared {
            // Extra bytes after the body on a datagram are ignored (RFC 3261 §18.3).
            Some(len) if len <= self.rest.len() => Ok(self.rest[..len].to_vec()),
            Some(len) => Err(ParseError::BodyTooShort {
                declared: len,
                available: self.rest.len(),
            }),
            None => Ok(self.rest.to_vec()),
        }
    }
}

/// What `split_raw` does with a header line that has no colon or a bad name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BadLine {
    Refuse,
    Skip,
}

fn split_raw(bytes: &[u8], bad_line: BadLine) -> Result<Raw<'_>, ParseError> {
    // Leading CRLFs before a message are allowed (RFC 3261 §7.5).
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .ok_or(ParseError::Incomplete)?;
    let bytes = &bytes[start..];
    let (head_end, body_start) = find_head_end(bytes).ok_or(ParseError::Incomplete)?;
    let head_text = std::str::from_utf8(&bytes[..head_end]).map_err(|_| ParseError::Encoding)?;
    let mut lines = unfold(head_text).into_iter();
    let first = lines.next().ok_or(ParseError::Incomplete)?;
    let start = parse_start_line(&first)?;
    let mut headers = Vec::new();
    for line in lines {
        match header_field(&line) {
            Some((name, value)) => headers.push((canonical_name(name), value.trim().to_owned())),
            None if bad_line == BadLine::Skip => {}
            None => return Err(ParseError::HeaderLine(truncate(&line))),
        }
    }
    Ok(Raw {
        start,
        headers,
        rest: &bytes[body_start..],
    })
}

/// Splits `Name: value`; `None` without a colon or with a name that is not a token.
fn header_field(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim_end_matches([' ', '\t']);
    (!name.is_empty() && name.bytes().all(is_token_byte)).then_some((name, value))
}

/// Finds the blank line; accepts bare LF line ends, as some peers send.
fn find_head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            match bytes.get(i + 1) {
                Some(b'\n') => return Some((i, i + 2)),
                Some(b'\r') if bytes.get(i + 2) == Some(&b'\n') => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Splits header lines and joins folded continuations (a line starting with SP/HT).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if (line.starts_with(' ') || line.starts_with('\t')) && !lines.is_empty() {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else if !line.is_empty() {
            lines.push(line.to_owned());
        }
    }
    lines
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let bad = || ParseError::StartLine(truncate(line));
    if let Some(rest) = strip_prefix_ci(line, "SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let status: u16 = code.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&status) {
            return Err(bad());
        }
        return Ok(StartLine::Response {
            status,
            reason: reason.to_owned(),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly single spaces.
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if method.is_empty()
        || !method.bytes().all(is_token_byte)
        || !version.eq_ignore_ascii_case("SIP/2.0")
    {
        return Err(bad());
    }
    let uri = parse_uri(uri).map_err(|_| bad())?;
    if matches!(&uri, Uri::Other(s) if s == "*") {
        return Err(bad());
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri,
    })
}

fn build_head(headers: &[(String, String)]) -> Result<Head, ParseError> {
    let mut via = Vec::new();
    let mut from = None;
    let mut to = None;
    let mut call_id = None;
    let mut cseq = None;
    let mut max_forwards = None;
    let mut contact = Vec::new();
    let mut record_route = Vec::new();
    let mut route = Vec::new();
    let mut content_type = None;
    let mut other = Vec::new();
    for (name, value) in headers {
        match name.as_str() {
            "Via" => via.extend(parse_via_list(value)?),
            "From" => from = Some(name_addr("From", value)?),
            "To" => to = Some(name_addr("To", value)?),
            "Call-ID" => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(invalid("Call-ID", value));
                }
                call_id = Some(value.clone());
            }
            "CSeq" => cseq = Some(parse_cseq(value)?),
            "Max-Forwards" => {
                max_forwards = Some(value.parse().map_err(|_| invalid("Max-Forwards", value))?)
            }
            "Contact" => {
                if value.trim() == "*" {
                    contact.push(NameAddr {
                        display_name: None,
                        uri: Uri::Other("*".into()),
                        params: Params::default(),
                    });
                } else {
                    contact.extend(list("Contact", value)?);
                }
            }
            "Record-Route" => record_route.extend(list("Record-Route", value)?),
            "Route" => route.extend(list("Route", value)?),
            "Content-Type" => content_type = Some(value.clone()),
            _ => other.push(Header {
                name: name.clone(),
                value: value.clone(),
            }),
        }
    }
    Ok(Head {
        via: if via.is_empty() {
            return Err(ParseError::Missing("Via"));
        } else {
            via
        },
        from: from.ok_or(ParseError::Missing("From"))?,
        to: to.ok_or(ParseError::Missing("To"))?,
        call_id: call_id.ok_or(ParseError::Missing("Call-ID"))?,
        cseq: cseq.ok_or(ParseError::Missing("CSeq"))?,
        max_forwards,
        contact,
        record_route,
        route,
        content_type,
        other,
    })
}

fn name_addr(header: &'static str, value: &str) -> Result<NameAddr, ParseError> {
    super::uri::parse_name_addr(value).map_err(|detail| ParseError::Invalid { header, detail })
}

fn list(header: &'static str, value: &str) -> Result<Vec<NameAddr>, ParseError> {
    parse_name_addr_list(value).map_err(|detail| ParseError::Invalid { header, detail })
}

fn invalid(header: &'static str, value: &str) -> ParseError {
    ParseError::Invalid {
        header,
        detail: truncate(value),
    }
}

/// Parses `1 INVITE`.
pub fn parse_cseq(value: &str) -> Result<CSeq, ParseError> {
    let mut parts = value.split_whitespace();
    let (Some(seq), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("CSeq", value));
    };
    let seq: u32 = seq.parse().map_err(|_| invalid("CSeq", value))?;
    if !method.bytes().all(is_token_byte) {
        return Err(invalid("CSeq", value));
    }
    Ok(CSeq {
        seq,
        method: Method::from_token(method),
    })
}

/// Parses one Via header value, which may hold several comma-separated vias.
pub fn parse_via_list(value: &str) -> Result<Vec<Via>, ParseError> {
    split_list(value)
        .into_iter()
        .map(|item| parse_via(item).ok_or_else(|| invalid("Via", item)))
        .collect()
}

fn parse_via(item: &str) -> Option<Via> {
    // SIP / 2.0 / UDP host:port;params — LWS is allowed around the slashes.
    let (protocol, rest) = split_sent_protocol(item)?;
    let mut pieces = protocol.split('/').map(str::trim);
    let (Some(name), Some(version), Some(transport)) =
        (pieces.next(), pieces.next(), pieces.next())
    else {
        return None;
    };
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" || transport.is_empty() {
        return None;
    }
    let (sent_by, params) = match rest.find(';') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = super::uri::parse_host_port(sent_by.trim()).ok()?;
    Some(Via {
        transport: transport.to_ascii_uppercase(),
        host,
        port,
        params: parse_params(params).ok()?,
    })
}

/// Splits `SIP/2.0/UDP` (possibly with spaces around `/`) from the sent-by.
fn split_sent_protocol(item: &str) -> Option<(String, &str)> {
    let mut protocol = String::new();
    let mut slashes = 0;
    let chars = item.char_indices().peekable();
    for (i, c) in chars {
        match c {
            '/' => {
                slashes += 1;
                protocol.push('/');
            }
            ' ' | '\t' => {
                // Whitespace ends the protocol once the transport token has started.
                let next_is_slash = item[i..].trim_start().starts_with('/');
                if slashes == 2 && !protocol.ends_with('/') && !next_is_slash {
                    return Some((protocol, item[i..].trim_start()));
                }
            }
            _ => protocol.push(c),
        }
    }
    None
}

/// The long form of a header name: compact forms expanded, known names in
/// their usual capitalisation, unknown names kept as written.
pub fn canonical_name(name: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("v", "Via"),
        ("via", "Via"),
        ("f", "From"),
        ("from", "From"),
        ("t", "To"),
        ("to", "To"),
        ("i", "Call-ID"),
        ("call-id", "Call-ID"),
        ("cseq", "CSeq"),
        ("m", "Contact"),
        ("contact", "Contact"),
        ("l", "Content-Length"),
        ("content-length", "Content-Length"),
        ("c", "Content-Type"),
        ("content-type", "Content-Type"),
        ("e", "Content-Encoding"),
        ("content-encoding", "Content-Encoding"),
        ("k", "Supported"),
        ("supported", "Supported"),
        ("s", "Subject"),
        ("subject", "Subject"),
        ("o", "Event"),
        ("event", "Event"),
        ("r", "Refer-To"),
        ("refer-to", "Refer-To"),
        ("u", "Allow-Events"),
        ("allow-events", "Allow-Events"),
        ("x", "Session-Expires"),
        ("session-expires", "Session-Expires"),
        ("b", "Referred-By"),
        ("referred-by", "Referred-By"),
        ("d", "Request-Disposition"),
        ("y", "Identity"),
        ("max-forwards", "Max-Forwards"),
        ("record-route", "Record-Route"),
        ("route", "Route"),
        ("allow", "Allow"),
        ("accept", "Accept"),
        ("expires", "Expires"),
        ("user-agent", "User-Agent"),
        ("server", "Server"),
        ("retry-after", "Retry-After"),
        ("p-asserted-identity", "P-Asserted-Identity"),
        ("authorization", "Authorization"),
        ("www-authenticate", "WWW-Authenticate"),
        ("proxy-authenticate", "Proxy-Authenticate"),
        ("proxy-authorization", "Proxy-Authorization"),
        ("require", "Require"),
        ("unsupported", "Unsupported"),
        ("timestamp", "Timestamp"),
    ];
    let lower = name.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(key, _)| *key == lower)
        .map(|(_, canonical)| (*canonical).to_owned())
        .unwrap_or_else(|| name.to_owned())
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS_WITH_LINE_WITHOUT_COLON: &[u8] = b"OPTIONS sip:ivr@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-nocolon\r\n\
From: <sip:caller@example.com>;tag=1\r\n\
To: <sip:ivr@example.com>\r\n\
Call-ID: nocolon@192.0.2.1\r\n\
CSeq: 7 OPTIONS\r\n\
This line has no colon\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn header_line_without_colon_is_refused_and_answered_400() {
        let error = parse(OPTIONS_WITH_LINE_WITHOUT_COLON).unwrap_err();
        assert_eq!(
            error,
            ParseError::HeaderLine("This line has no colon".into())
        );
        let response = bad_request_for(OPTIONS_WITH_LINE_WITHOUT_COLON, &error)
            .expect("the request is addressable");
        assert_eq!(response.status, 400);
        assert_eq!(response.head.call_id, "nocolon@192.0.2.1");
        assert_eq!(response.head.branch(), Some("z9hG4bK-nocolon"));
        assert_eq!(response.head.cseq.seq, 7);
        assert_eq!(response.head.cseq.method, Method::Options);
    }

    #[test]
    fn header_name_that_is_not_a_token_is_answered_400() {
        let bytes = String::from_utf8_lossy(OPTIONS_WITH_LINE_WITHOUT_COLON)
            .replace("This line has no colon", "Bad Name: value")
            .into_bytes();
        let error = parse(&bytes).unwrap_err();
        assert!(matches!(error, ParseError::HeaderLine(_)), "{error:?}");
        assert_eq!(bad_request_for(&bytes, &error).map(|r| r.status), Some(400));
    }

    #[test]
    fn line_without_colon_in_an_ack_gets_no_answer() {
        let bytes = String::from_utf8_lossy(OPTIONS_WITH_LINE_WITHOUT_COLON)
            .replace("OPTIONS", "ACK")
            .into_bytes();
        let error = parse(&bytes).unwrap_err();
        assert!(bad_request_for(&bytes, &error).is_none());
    }
}
