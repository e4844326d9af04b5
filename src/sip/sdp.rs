//! SDP (RFC 4566): the subset real phones send, parsed into values and written back.
//!
//! Offer/answer (RFC 3264) lives in `sdp/negotiate.rs`; this file only knows the
//! syntax. Lines we do not model (`i=`, `u=`, `b=`, `k=`, `z=`, ...) are skipped on
//! input: we never need to echo the caller's session description back.

mod negotiate;

pub use negotiate::{Codec, Direction, LocalMedia, Negotiated, SdpSession};

use std::fmt;
use std::net::IpAddr;

/// A session description: session-level fields plus its media descriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDescription {
    /// The `o=` line.
    pub origin: Origin,
    /// The `s=` line.
    pub session_name: String,
    /// The session-level `c=` line, if any.
    pub connection: Option<IpAddr>,
    /// The `t=` line (start, stop).
    pub timing: (u64, u64),
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// The `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

/// The `o=` line: who made the description and which version of it this is.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The user name (`-` when there is none).
    pub username: String,
    /// The session id, fixed for the life of the session.
    pub session_id: u64,
    /// The version, incremented on every change (RFC 3264 §8).
    pub session_version: u64,
    /// The address of the machine that made the description.
    pub address: IpAddr,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaDescription {
    /// The media type (`audio`, `video`, ...).
    pub media: String,
    /// The transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The transport protocol (`RTP/AVP`, `RTP/SAVP`, ...).
    pub protocol: String,
    /// The format list; payload type numbers for RTP.
    pub formats: Vec<String>,
    /// The media-level `c=` line, if any; it overrides the session one.
    pub connection: Option<IpAddr>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

/// One `a=` line: `a=name` or `a=name:value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute name, e.g. `rtpmap`.
    pub name: String,
    /// The value after the colon, if any.
    pub value: Option<String>,
}

/// Why an SDP body could not be used; all of these are the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not valid SDP (line number and what was wrong).
    #[error("invalid SDP at line {line}: {reason}")]
    Invalid { line: usize, reason: &'static str },
    /// The body is not UTF-8 text.
    #[error("SDP body is not UTF-8 text")]
    NotText,
    /// A mandatory line is missing.
    #[error("SDP has no {0} line")]
    Missing(&'static str),
    /// No audio stream shares a codec with us (the shell answers 488).
    #[error("no audio stream offers PCMU or PCMA")]
    NoCommonCodec,
    /// An answer does not match the offer we sent.
    #[error("SDP answer does not match our offer: {0}")]
    AnswerMismatch(&'static str),
}

impl SessionDescription {
    /// Parses an SDP body; never panics, whatever the bytes.
    pub fn parse(body: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
        let mut origin = None;
        let mut session_name = None;
        let mut connection = None;
        let mut timing = None;
        let mut attributes = Vec::new();
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut saw_version = false;

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim_end_matches('\r');
            if raw.trim().is_empty() {
                continue;
            }
            let invalid = |reason| SdpError::Invalid { line, reason };
            let (kind, value) = match raw.split_once('=') {
                Some((k, v)) if k.len() == 1 => (k, v.trim()),
                _ => return Err(invalid("expected <type>=<value>")),
            };
            if !saw_version && kind != "v" {
                return Err(invalid("first line must be v="));
            }
            match kind {
                "v" if value == "0" => saw_version = true,
                "v" => return Err(invalid("unsupported version")),
                "o" => origin = Some(parse_origin(value).ok_or_else(|| invalid("bad o= line"))?),
                "s" => session_name = Some(value.to_string()),
                "t" => timing = Some(parse_timing(value).ok_or_else(|| invalid("bad t= line"))?),
                "c" => {
                    let addr = parse_connection(value).ok_or_else(|| invalid("bad c= line"))?;
                    match media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => connection = Some(addr),
                    }
                }
                "m" => media.push(parse_media(value).ok_or_else(|| invalid("bad m= line"))?),
                "a" => {
                    let attribute = parse_attribute(value);
                    match media.last_mut() {
                        Some(m) => m.attributes.push(attribute),
                        None => attributes.push(attribute),
                    }
                }
                _ => {} // i= u= e= p= b= z= k= r=: not needed for audio calls
            }
        }
        if !saw_version {
            return Err(SdpError::Missing("v="));
        }
        Ok(SessionDescription {
            origin: origin.ok_or(SdpError::Missing("o="))?,
            session_name: session_name.unwrap_or_else(|| "-".to_string()),
            connection,
            timing: timing.unwrap_or((0, 0)),
            attributes,
            media,
        })
    }

    /// The body bytes to put in a SIP message.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl MediaDescription {
    /// The address the peer receives this stream on (media `c=` over session `c=`).
    pub fn address(&self, session: &SessionDescription) -> Option<IpAddr> {
        self.connection.or(session.connection)
    }

    /// The value of the first attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .and_then(|a| a.value.as_deref())
    }

    /// The `a=rtpmap` encoding name and clock rate of a payload type.
    pub fn rtpmap(&self, payload_type: &str) -> Option<(&str, u32)> {
        self.attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("rtpmap"))
            .filter_map(|a| a.value.as_deref())
            .find_map(|v| {
                let (pt, rest) = v.split_once(' ')?;
                if pt.trim() != payload_type {
                    return None;
                }
                let mut parts = rest.trim().split('/');
                let name = parts.next()?;
                let rate = parts.next()?.parse().ok()?;
                Some((name, rate))
            })
    }
}

fn parse_origin(value: &str) -> Option<Origin> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [username, id, version, net, _addr_type, address] = fields.as_slice() else {
        return None;
    };
    if !net.eq_ignore_ascii_case("IN") {
        return None;
    }
    Some(Origin {
        username: username.to_string(),
        // Some phones put non-numeric or huge ids here; treat them as 0 rather than fail.
        session_id: id.parse().unwrap_or(0),
        session_version: version.parse().unwrap_or(0),
        address: address
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
    })
}

fn parse_timing(value: &str) -> Option<(u64, u64)> {
    let (start, stop) = value.split_once(' ')?;
    Some((start.trim().parse().ok()?, stop.trim().parse().ok()?))
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [net, addr_type, address] = fields.as_slice() else {
        return None;
    };
    if !net.eq_ignore_ascii_case("IN") {
        return None;
    }
    // Multicast addresses carry "/ttl[/count]"; the address is what precedes it.
    let address = address.split('/').next()?;
    let ip: IpAddr = address.parse().ok()?;
    let type_matches = match ip {
        IpAddr::V4(_) => addr_type.eq_ignore_ascii_case("IP4"),
        IpAddr::V6(_) => addr_type.eq_ignore_ascii_case("IP6"),
    };
    type_matches.then_some(ip)
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut fields = value.split_whitespace();
    let media = fields.next()?.to_string();
    // "port/count" is legal; we only use the first port.
    let port = fields.next()?.split('/').next()?.parse().ok()?;
    let protocol = fields.next()?.to_string();
    let formats = fields.map(str::to_string).collect();
    Some(MediaDescription {
        media,
        port,
        protocol,
        formats,
        connection: None,
        attributes: Vec::new(),
    })
}

fn parse_attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, v)) => Attribute {
            name: name.trim().to_string(),
            value: Some(v.trim().to_string()),
        },
        None => Attribute {
            name: value.trim().to_string(),
            value: None,
        },
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} IN {} {}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            addr_type(o.address),
            o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(c) = self.connection {
            write!(f, "c=IN {} {}\r\n", addr_type(c), c)?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        for m in &self.media {
            write!(f, "m={} {} {}", m.media, m.port, m.protocol)?;
            for format in &m.formats {
                write!(f, " {format}")?;
            }
            write!(f, "\r\n")?;
            if let Some(c) = m.connection {
                write!(f, "c=IN {} {}\r\n", addr_type(c), c)?;
            }
            for a in &m.attributes {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{}\r\n", self.name, v),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

fn addr_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLYCOM: &str = "v=0\r\n\
        o=- 1234 1 IN IP4 192.0.2.10\r\n\
        s=Polycom IP Phone\r\n\
        c=IN IP4 192.0.2.10\r\n\
        b=AS:512\r\n\
        t=0 0\r\n\
        a=sendrecv\r\n\
        m=audio 2222 RTP/AVP 8 0 101\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n\
        a=ptime:20\r\n\
        m=video 0 RTP/AVP 34\r\n";

    #[test]
    fn phone_offer_parses_with_session_connection_and_two_media_lines() {
        let sdp = SessionDescription::parse(POLYCOM.as_bytes()).unwrap();
        assert_eq!(sdp.origin.session_id, 1234);
        assert_eq!(sdp.connection, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(sdp.media.len(), 2);
        let audio = &sdp.media[0];
        assert_eq!(audio.port, 2222);
        assert_eq!(audio.formats, ["8", "0", "101"]);
        assert_eq!(audio.rtpmap("101"), Some(("telephone-event", 8000)));
        assert_eq!(audio.attribute("ptime"), Some("20"));
        assert_eq!(audio.address(&sdp), Some("192.0.2.10".parse().unwrap()));
        assert_eq!(sdp.media[1].port, 0);
    }

    #[test]
    fn media_level_ipv6_connection_overrides_session_level() {
        let body = "v=0\no=alice 1 2 IN IP6 2001:db8::1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
                    m=audio 4000 RTP/AVP 0\nc=IN IP6 2001:db8::2\n";
        let sdp = SessionDescription::parse(body.as_bytes()).unwrap();
        assert_eq!(
            sdp.media[0].address(&sdp),
            Some("2001:db8::2".parse().unwrap())
        );
    }

    #[test]
    fn serialized_description_parses_back_to_the_same_value() {
        let sdp = SessionDescription::parse(POLYCOM.as_bytes()).unwrap();
        let again = SessionDescription::parse(&sdp.to_bytes()).unwrap();
        assert_eq!(sdp, again);
    }

    #[test]
    fn garbage_gives_typed_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"hello",
            b"v=1\r\n",
            b"o=- 1 1 IN IP4 1.2.3.4\r\n",
            b"v=0\r\nm=audio\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 not-an-ip\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n",
            b"v=0\r\ns=-\r\n",
        ];
        for case in cases {
            assert!(SessionDescription::parse(case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn every_prefix_of_a_valid_body_parses_or_fails_cleanly() {
        for end in 0..POLYCOM.len() {
            let _ = SessionDescription::parse(&POLYCOM.as_bytes()[..end]);
        }
    }
}
