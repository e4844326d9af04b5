//! SDP offer/answer (RFC 3264) for one audio stream of G.711 plus telephone-events.

use std::net::{IpAddr, SocketAddr};

use rand::Rng;

use super::{Attribute, MediaDescription, Origin, SdpError, SessionDescription};
pub use crate::rtp::{Codec, Direction, Negotiated};

/// How a direction is written in SDP (RFC 3264 §5.1, §6.1).
trait DirectionAttribute: Sized {
    fn attribute(self) -> &'static str;
    fn from_attributes(attributes: &[Attribute]) -> Option<Self>;
}

impl DirectionAttribute for Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attributes(attributes: &[Attribute]) -> Option<Direction> {
        attributes.iter().rev().find_map(|a| match a.name.as_str() {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        })
    }
}

/// Where we receive RTP for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address put in `c=` and `o=`.
    pub address: IpAddr,
    /// Our RTP port (RTCP is on the next one).
    pub rtp_port: u16,
}

/// Our side of the offer/answer exchange for one call.
#[derive(Debug, Clone)]
pub struct SdpSession {
    local: LocalMedia,
    session_id: u64,
    version: u64,
    last_sent: Option<SessionDescription>,
    pending_offer: Option<SessionDescription>,
}

/// The payload type we use for telephone-events in our own offers.
const OUR_TELEPHONE_EVENT_PT: u8 = 101;
/// The packet time we send and ask for.
const OUR_PTIME_MS: u32 = 20;

impl SdpSession {
    /// A session for one call; the session id comes from the injected RNG.
    pub fn new(local: LocalMedia, rng: &mut impl Rng) -> Self {
        SdpSession {
            local,
            // Kept below 2^62 so it survives peers that parse it as a signed integer.
            session_id: rng.random::<u64>() >> 2,
            version: 1,
            last_sent: None,
            pending_offer: None,
        }
    }

    /// Answers a peer's offer: the answer body and what was agreed.
    ///
    /// `Err(SdpError::NoCommonCodec)` means the shell must answer 488.
    pub fn answer(&mut self, offer: &[u8]) -> Result<(Vec<u8>, Negotiated), SdpError> {
        let offer = SessionDescription::parse(offer)?;
        let session_direction = Direction::from_attributes(&offer.attributes);
        let mut negotiated = None;
        let mut media = Vec::with_capacity(offer.media.len());
        for m in &offer.media {
            let accepted = if negotiated.is_none() {
                accept_stream(&offer, m, session_direction)
            } else {
                None // one audio stream per call; the rest are declined
            };
            match accepted {
                Some(n) => {
                    media.push(self.local_media(&m.protocol, &n, m.attribute("fmtp")));
                    negotiated = Some(n);
                }
                None => media.push(rejected(m)),
            }
        }
        let negotiated = negotiated.ok_or(SdpError::NoCommonCodec)?;
        let body = self.stamp(media);
        Ok((body, negotiated))
    }

    /// Builds our offer, for an INVITE that came without SDP (late offer).
    pub fn offer(&mut self) -> Vec<u8> {
        let mut m = MediaDescription {
            media: "audio".to_string(),
            port: self.local.rtp_port,
            protocol: "RTP/AVP".to_string(),
            formats: vec!["0".into(), "8".into(), OUR_TELEPHONE_EVENT_PT.to_string()],
            connection: None,
            attributes: Vec::new(),
        };
        for codec in [Codec::Pcmu, Codec::Pcma] {
            m.attributes
                .push(rtpmap(codec.payload_type(), codec.encoding_name()));
        }
        m.attributes
            .push(rtpmap(OUR_TELEPHONE_EVENT_PT, "telephone-event"));
        m.attributes
            .push(attr("fmtp", format!("{OUR_TELEPHONE_EVENT_PT} 0-16")));
        m.attributes.push(attr("ptime", OUR_PTIME_MS.to_string()));
        m.attributes.push(flag(Direction::SendRecv.attribute()));
        let body = self.stamp(vec![m]);
        self.pending_offer = self.last_sent.clone();
        body
    }

    /// Takes the answer to our offer (in the ACK after a late-offer INVITE).
    pub fn accept_answer(&mut self, answer: &[u8]) -> Result<Negotiated, SdpError> {
        let offer = self
            .pending_offer
            .take()
            .ok_or(SdpError::AnswerMismatch("no offer outstanding"))?;
        let answer = SessionDescription::parse(answer)?;
        if answer.media.len() != offer.media.len() {
            return Err(SdpError::AnswerMismatch("number of m= lines differs"));
        }
        let session_direction = Direction::from_attributes(&answer.attributes);
        answer
            .media
            .iter()
            .find_map(|m| accept_stream(&answer, m, session_direction))
            .ok_or(SdpError::NoCommonCodec)
    }

    /// Serializes our description, bumping the `o=` version when it changed.
    fn stamp(&mut self, media: Vec<MediaDescription>) -> Vec<u8> {
        let mut sdp = SessionDescription {
            origin: Origin {
                username: "hotline".to_string(),
                session_id: self.session_id,
                session_version: self.version,
                address: self.local.address,
            },
            session_name: "hotline".to_string(),
            connection: Some(self.local.address),
            timing: (0, 0),
            attributes: Vec::new(),
            media,
        };
        if let Some(last) = &self.last_sent {
            let unchanged = last.media == sdp.media && last.connection == sdp.connection;
            if !unchanged {
                self.version += 1;
                sdp.origin.session_version = self.version;
            }
        }
        let body = sdp.to_bytes();
        self.last_sent = Some(sdp);
        body
    }

    fn local_media(&self, protocol: &str, n: &Negotiated, fmtp: Option<&str>) -> MediaDescription {
        let mut m = MediaDescription {
            media: "audio".to_string(),
            port: self.local.rtp_port,
            protocol: protocol.to_string(),
            formats: vec![n.codec.payload_type().to_string()],
            connection: None,
            attributes: vec![rtpmap(n.codec.payload_type(), n.codec.encoding_name())],
        };
        if let Some(pt) = n.telephone_event_pt {
            m.formats.push(pt.to_string());
            m.attributes.push(rtpmap(pt, "telephone-event"));
            // Mirror the events the peer offered when it said which; else the digits.
            let events = fmtp
                .and_then(|f| f.split_once(' '))
                .filter(|(p, _)| p.trim() == pt.to_string())
                .map(|(_, e)| e.trim().to_string())
                .unwrap_or_else(|| "0-15".to_string());
            m.attributes.push(attr("fmtp", format!("{pt} {events}")));
        }
        m.attributes.push(attr("ptime", OUR_PTIME_MS.to_string()));
        m.attributes.push(flag(n.direction.attribute()));
        m
    }
}

/// What we would agree for one offered (or answered) stream, or None to decline it.
fn accept_stream(
    sdp: &SessionDescription,
    m: &MediaDescription,
    session_direction: Option<Direction>,
) -> Option<Negotiated> {
    let usable_protocol = matches!(m.protocol.as_str(), "RTP/AVP" | "RTP/AVPF");
    if m.media != "audio" || m.port == 0 || !usable_protocol {
        return None;
    }
    // The first codec we share, in the peer's order.
    let codec = m.formats.iter().find_map(|pt| codec_of(m, pt))?;
    let telephone_event_pt = m.formats.iter().find_map(|pt| {
        let (name, rate) = m.rtpmap(pt)?;
        let is_event = name.eq_ignore_ascii_case("telephone-event") && rate == 8000;
        is_event.then(|| pt.parse().ok()).flatten()
    });
    let address = m.address(sdp)?;
    let mut theirs = Direction::from_attributes(&m.attributes)
        .or(session_direction)
        .unwrap_or(Direction::SendRecv);
    // RFC 2543 hold: c=0.0.0.0 means "do not send to me".
    if address.is_unspecified() && theirs.receives() {
        theirs = if theirs.sends() {
            Direction::SendOnly
        } else {
            Direction::Inactive
        };
    }
    let ptime_ms = m
        .attribute("ptime")
        .and_then(|p| p.trim().parse::<u32>().ok())
        .filter(|p| (10..=60).contains(p) && p % 10 == 0)
        .unwrap_or(OUR_PTIME_MS);
    Some(Negotiated {
        remote_rtp: SocketAddr::new(address, m.port),
        codec,
        telephone_event_pt,
        ptime_ms,
        direction: theirs.reversed(),
    })
}

/// The G.711 codec a payload type stands for, if any.
fn codec_of(m: &MediaDescription, pt: &str) -> Option<Codec> {
    let codec = match pt {
        "0" => Codec::Pcmu,
        "8" => Codec::Pcma,
        _ => return None,
    };
    // A static payload type remapped to something else is not G.711.
    match m.rtpmap(pt) {
        Some((name, rate)) if !name.eq_ignore_ascii_case(codec.encoding_name()) || rate != 8000 => {
            None
        }
        _ => Some(codec),
    }
}

/// The answer line for a declined stream: same media and protocol, port 0.
fn rejected(m: &MediaDescription) -> MediaDescription {
    let mut formats = m.formats.clone();
    if formats.is_empty() {
        formats.push("0".to_string());
    }
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        protocol: m.protocol.clone(),
        formats,
        connection: None,
        attributes: Vec::new(),
    }
}

fn rtpmap(pt: u8, name: &str) -> Attribute {
    attr("rtpmap", format!("{pt} {name}/8000"))
}

fn attr(name: &str, value: String) -> Attribute {
    Attribute {
        name: name.to_string(),
        value: Some(value),
    }
}

fn flag(name: &str) -> Attribute {
    Attribute {
        name: name.to_string(),
        value: None,
    }
}

#[cfg(test)]
#[path = "negotiate_tests.rs"]
mod tests;
