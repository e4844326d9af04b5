use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn session() -> SdpSession {
    let local = LocalMedia {
        address: "203.0.113.5".parse().unwrap(),
        rtp_port: 10000,
    };
    SdpSession::new(local, &mut StdRng::seed_from_u64(7))
}

fn offer(formats: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP {formats}\r\n{extra}"
    )
}

fn answer_of(s: &mut SdpSession, body: &str) -> (SessionDescription, Negotiated) {
    let (bytes, n) = s.answer(body.as_bytes()).unwrap();
    (SessionDescription::parse(&bytes).unwrap(), n)
}

#[test]
fn answer_picks_first_shared_codec_in_callers_order() {
    let (sdp, n) = answer_of(&mut session(), &offer("18 8 0", ""));
    assert_eq!(n.codec, Codec::Pcma);
    assert_eq!(sdp.media[0].formats, ["8"]);
    assert_eq!(sdp.media[0].port, 10000);
    assert_eq!(n.remote_rtp, "192.0.2.1:4000".parse().unwrap());
    assert_eq!(sdp.connection, Some("203.0.113.5".parse().unwrap()));
}

#[test]
fn telephone_event_is_accepted_at_whatever_payload_type_offered() {
    for pt in [101u8, 96, 120] {
        let body = offer(
            &format!("0 {pt}"),
            &format!("a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"),
        );
        let (sdp, n) = answer_of(&mut session(), &body);
        assert_eq!(n.telephone_event_pt, Some(pt));
        assert_eq!(sdp.media[0].formats, ["0".to_string(), pt.to_string()]);
        assert_eq!(
            sdp.media[0].rtpmap(&pt.to_string()),
            Some(("telephone-event", 8000))
        );
        assert_eq!(
            sdp.media[0].attribute("fmtp"),
            Some(format!("{pt} 0-16").as_str())
        );
    }
}

#[test]
fn offer_without_g711_is_refused_for_488() {
    let body = offer("9 18", "a=rtpmap:9 G722/8000\r\na=rtpmap:18 G729/8000\r\n");
    assert_eq!(
        session().answer(body.as_bytes()).unwrap_err(),
        SdpError::NoCommonCodec
    );
}

#[test]
fn static_payload_type_remapped_to_another_codec_is_not_g711() {
    let body = offer("0", "a=rtpmap:0 opus/48000\r\n");
    assert_eq!(
        session().answer(body.as_bytes()).unwrap_err(),
        SdpError::NoCommonCodec
    );
}

#[test]
fn answer_direction_mirrors_hold() {
    let cases = [
        ("a=sendonly\r\n", Direction::RecvOnly),
        ("a=recvonly\r\n", Direction::SendOnly),
        ("a=inactive\r\n", Direction::Inactive),
        ("a=sendrecv\r\n", Direction::SendRecv),
        ("", Direction::SendRecv),
    ];
    for (attribute, ours) in cases {
        let (sdp, n) = answer_of(&mut session(), &offer("0", attribute));
        assert_eq!(n.direction, ours, "{attribute}");
        let written = Direction::from_attributes(&sdp.media[0].attributes);
        assert_eq!(written, Some(ours));
    }
}

#[test]
fn old_style_hold_with_zero_address_stops_our_sending() {
    let body = offer("0", "").replace("c=IN IP4 192.0.2.1", "c=IN IP4 0.0.0.0");
    let (_, n) = answer_of(&mut session(), &body);
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(!n.direction.sends());
}

#[test]
fn answer_keeps_order_and_count_of_m_lines_and_rejects_with_port_zero() {
    let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 0 RTP/AVP 0\r\n\
        m=audio 4002 RTP/SAVP 0\r\n\
        m=audio 4004 RTP/AVP 8\r\n\
        m=audio 4006 RTP/AVP 0\r\n";
    let (sdp, n) = answer_of(&mut session(), body);
    let ports: Vec<u16> = sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 0, 0, 10000, 0]);
    let media: Vec<&str> = sdp.media.iter().map(|m| m.media.as_str()).collect();
    assert_eq!(media, ["video", "audio", "audio", "audio", "audio"]);
    assert_eq!(sdp.media[2].protocol, "RTP/SAVP");
    assert_eq!(n.remote_rtp, "192.0.2.1:4004".parse().unwrap());
    assert_eq!(n.codec, Codec::Pcma);
}

#[test]
fn ipv6_offer_gives_ipv6_remote_address() {
    let body = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\na=ptime:30\r\n";
    let (_, n) = answer_of(&mut session(), body);
    assert_eq!(n.remote_rtp, "[2001:db8::1]:4000".parse().unwrap());
    assert_eq!(n.ptime_ms, 30);
}

#[test]
fn origin_version_increments_only_when_the_answer_changes() {
    let mut s = session();
    let (first, _) = answer_of(&mut s, &offer("0", ""));
    let (same, _) = answer_of(&mut s, &offer("0", ""));
    let (held, _) = answer_of(&mut s, &offer("0", "a=sendonly\r\n"));
    assert_eq!(first.origin.session_id, held.origin.session_id);
    assert_eq!(same.origin.session_version, first.origin.session_version);
    assert_eq!(
        held.origin.session_version,
        first.origin.session_version + 1
    );
}

#[test]
fn late_offer_lists_both_codecs_and_takes_the_answer_from_the_ack() {
    let mut s = session();
    let ours = SessionDescription::parse(&s.offer()).unwrap();
    assert_eq!(ours.media[0].formats, ["0", "8", "101"]);
    assert_eq!(ours.media[0].rtpmap("101"), Some(("telephone-event", 8000)));
    let answer = "v=0\r\no=- 9 9 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
                  m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let n = s.accept_answer(answer.as_bytes()).unwrap();
    assert_eq!(n.codec, Codec::Pcma);
    assert_eq!(n.telephone_event_pt, Some(101));
    assert_eq!(n.remote_rtp, "192.0.2.7:6000".parse().unwrap());
    assert_eq!(n.direction, Direction::SendRecv);
}

#[test]
fn answer_without_an_outstanding_offer_or_with_wrong_m_lines_is_refused() {
    let mut s = session();
    let answer = offer("0", "");
    assert!(matches!(
        s.accept_answer(answer.as_bytes()),
        Err(SdpError::AnswerMismatch(_))
    ));
    s.offer();
    let two = format!("{answer}m=video 0 RTP/AVP 31\r\n");
    assert!(matches!(
        s.accept_answer(two.as_bytes()),
        Err(SdpError::AnswerMismatch(_))
    ));
}
