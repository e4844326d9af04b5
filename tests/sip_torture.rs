//! RFC 4475 torture messages: what the parser must accept, and what it must
//! refuse (with a 400 where one can be addressed). Messages are reproduced
//! from RFC 4475 §3, with their names; `\r\n` line ends are added here.

use hotline::sip::{Message, Method, ParseError, Uri, bad_request_for, parse};

fn crlf(text: &str) -> Vec<u8> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut bytes = head.replace('\n', "\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\n\r\n");
    bytes.extend_from_slice(body.replace('\n', "\r\n").as_bytes());
    bytes
}

fn request(text: &str) -> hotline::sip::Request {
    match parse(&crlf(text)) {
        Ok(Message::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// 3.1.1.1 A Short Tortuous INVITE (wsinv): folding, compact names, odd spacing.
const WSINV: &str = "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
";

#[test]
fn wsinv_short_tortuous_invite_parses_every_header() {
    let invite = request(WSINV);
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.head.call_id, "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(invite.head.cseq.seq, 9);
    assert_eq!(invite.head.max_forwards, Some(68));
    assert_eq!(invite.head.to_tag(), Some("1918181833n"));
    assert_eq!(invite.head.from_tag(), Some("98asjd8"));
    assert_eq!(
        invite.head.from.display_name.as_deref(),
        Some("J Rosenberg \\\"")
    );
    assert_eq!(
        invite.head.via.len(),
        3,
        "one Via line plus two compact values in one line"
    );
    assert_eq!(invite.head.via[1].transport, "TCP");
    assert_eq!(
        invite.head.via[2].params.value("branch"),
        Some("z9hG4bK30239")
    );
    assert_eq!(invite.head.contact[0].params.value("q"), Some("0.33"));
    assert_eq!(
        invite.head.header("NewFangledHeader"),
        Some("newfangled value continued newfangled value"),
        "folded unknown header unfolded and kept"
    );
    assert_eq!(
        invite.head.header("UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    assert_eq!(
        invite.head.header("Subject"),
        Some(""),
        "compact s: is Subject"
    );
    assert_eq!(invite.body.len(), 150);
}

/// 3.1.1.3 Valid use of the % escaping mechanism (esc01).
#[test]
fn esc01_escapes_in_uri_and_headers_are_kept() {
    let invite = request(
        "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 0

",
    );
    assert_eq!(invite.uri.user(), Some("sips%3Auser%40example.com"));
    assert_eq!(invite.head.call_id, "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(invite.head.content_type.as_deref(), Some("application/sdp"));
}

/// 3.1.1.5 Use of % when it is not an escape (esc02), with unknown method NOTIFY-like.
#[test]
fn intmeth_unknown_method_with_odd_token_characters_parses() {
    let req = request(
        "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
To: \"BEL:\\\u{7} NUL:\\\u{0} DEL:\\\u{7f}\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{
CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
Max-Forwards: 255
extensionHeader-!.%*+_`'~:\u{ef}\u{bb}\u{bf}大停電
Content-Length: 0

",
    );
    assert_eq!(
        req.method,
        Method::Other("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    assert_eq!(req.head.cseq.method, req.method);
    assert_eq!(req.head.max_forwards, Some(255));
    assert!(
        req.head
            .header("extensionHeader-!.%*+_`'~")
            .unwrap()
            .ends_with("大停電")
    );
}

/// 3.1.1.6 Message with no LWS between display name and < (lwsdisp).
#[test]
fn lwsdisp_display_name_without_space_before_angle() {
    let req = request(
        "OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0

",
    );
    assert_eq!(req.head.from.display_name.as_deref(), Some("caller"));
}

/// 3.1.1.9 Semicolon-separated parameters in URI user part (semiuri).
#[test]
fn semiuri_parameters_in_user_part_and_tel_uri() {
    let req = request(
        "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0

",
    );
    assert_eq!(req.uri.user(), Some("user;par=u%40example.net"));
    let tel = request(
        "INVITE tel:+1-201-555-0123;phone-context=example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKtel
From: <tel:+380441234567>;tag=1
To: <tel:+1-201-555-0123>
Call-ID: tel.1
CSeq: 1 INVITE
l: 0

",
    );
    assert!(matches!(tel.uri, Uri::Tel(ref t) if t.number == "+1-201-555-0123"));
    assert_eq!(tel.head.from.uri.user(), Some("+380441234567"));
}

/// 3.1.1.11 Multipart body and 3.1.1.12/13 unusual and empty reason phrases.
#[test]
fn unreason_and_noreason_responses_parse() {
    let unusual = crlf(
        "SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 0

",
    );
    let Ok(Message::Response(response)) = parse(&unusual) else {
        panic!("unreason")
    };
    assert_eq!(response.status, 200);
    assert!(response.reason.ends_with("простое"));
    let empty = crlf(
        "SIP/2.0 100 
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0

",
    );
    assert!(
        matches!(parse(&empty), Ok(Message::Response(r)) if r.status == 100 && r.reason.is_empty())
    );
}

/// IPv6 in Via, URIs and Contact (RFC 5118 style).
#[test]
fn ipv6_references_parse_in_via_and_uris() {
    let req = request(
        "REGISTER sip:[2001:db8::10] SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111
Call-ID: SSG9559905523997077@hlau_4100
Max-Forwards: 70
Contact: \"Caller\" <sip:caller@[2001:db8::9:1]:5070;transport=udp>
CSeq: 98176 REGISTER
Content-Length: 0

",
    );
    assert_eq!(req.head.via[0].host.to_string(), "[2001:db8::9:1]");
    assert_eq!(
        req.head.contact[0].uri.to_string(),
        "sip:caller@[2001:db8::9:1]:5070;transport=udp"
    );
}

/// Invalid messages of RFC 4475 §3.1.2: each is refused, never a panic.
#[test]
fn invalid_messages_are_refused_with_a_reason() {
    let cases: &[(&str, &str)] = &[
        // 3.1.2.1 Extraneous header field separators (badinv01): Via with extra value `;;`
        (
            "clerr: Content Length Larger Than Message",
            "INVITE sip:user@example.com SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
Content-Length: 9999

v=0
",
        ),
        (
            "scalar02: negative Max-Forwards",
            "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: -70
Contact: <sip:user@host129.example.com>
Content-Length: 0

",
        ),
        (
            "scalarlg: CSeq number too large",
            "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=2345
CSeq: 36893488147419103232 REGISTER
Call-ID: scalarlg.98asdh@192.0.2.1
Max-Forwards: 255
Content-Length: 0

",
        ),
        (
            "quotbal: unterminated quoted string in display name",
            "INVITE sip:user@example.com SIP/2.0
To: \"Mr. J. User <sip:j.user@example.com>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
CSeq: 0 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
Content-Length: 0

",
        ),
        (
            "lwsruri: spaces within the Request-URI",
            "INVITE sip:user@example.com; lr SIP/2.0
To: sip:user@example.com;tag=3xfe-9921883-z9f
From: sip:caller@example.net;tag=231413434
Max-Forwards: 5
Call-ID: lwsruri.asdfasdoeoi2323-asdfwrs
CSeq: 2323 INVITE
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw
Content-Length: 0

",
        ),
        (
            "lwsstart: multiple spaces in the request line",
            "INVITE  sip:user@example.com  SIP/2.0
Max-Forwards: 8
To: sip:user@example.com
From: sip:caller@example.net;tag=8814
Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com
CSeq: 1893884 INVITE
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923
Content-Length: 0

",
        ),
        (
            "badvers: SIP version 7.0",
            "OPTIONS sip:t.watson@example.org SIP/7.0
Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
Max-Forwards:     70
From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
To:      T. Watson <sip:t.watson@example.org>
Call-ID: badvers.31417@c.example.com
CSeq:    1 OPTIONS
l: 0

",
        ),
        (
            "bigcode: response code 4294967301",
            "SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0

",
        ),
        (
            "insuf: missing Call-ID, From and To",
            "INVITE sip:user@example.com SIP/2.0
CSeq: 193942 INVITE
Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
Content-Length: 0

",
        ),
        (
            "ltgtruri: Request-URI enclosed in <>",
            "INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Content-Length: 0

",
        ),
    ];
    for (name, text) in cases {
        let bytes = crlf(text);
        let result = parse(&bytes);
        assert!(result.is_err(), "{name} was accepted: {result:?}");
    }
}

#[test]
fn a_400_is_addressed_when_via_from_to_call_id_survive() {
    let bytes = crlf(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=2345
CSeq: 36893488147419103232 REGISTER
Call-ID: scalarlg.98asdh@192.0.2.1
Max-Forwards: 255
Content-Length: 0

",
    );
    let error = parse(&bytes).unwrap_err();
    assert!(matches!(error, ParseError::Invalid { header: "CSeq", .. }));
    let response = bad_request_for(&bytes, &error).expect("a 400 can be addressed");
    assert_eq!(response.status, 400);
    assert_eq!(response.reason, "Invalid CSeq");
    assert_eq!(response.head.call_id, "scalarlg.98asdh@192.0.2.1");
    let no_call_id = crlf(
        "INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:b@c>\n\n",
    );
    let error = parse(&no_call_id).unwrap_err();
    assert!(
        bad_request_for(&no_call_id, &error).is_none(),
        "no Call-ID, no response"
    );
}

#[test]
fn valid_messages_round_trip_through_the_serializer() {
    let first = parse(&crlf(WSINV)).unwrap();
    let second = parse(&first.to_bytes()).unwrap();
    assert_eq!(first, second);
}

#[test]
fn no_truncation_of_a_torture_message_panics() {
    let bytes = crlf(WSINV);
    for end in 0..bytes.len() {
        let _ = parse(&bytes[..end]);
        if let Err(error) = parse(&bytes[..end]) {
            let _ = bad_request_for(&bytes[..end], &error);
        }
    }
    let mut noisy = bytes.clone();
    for i in (0..noisy.len()).step_by(7) {
        noisy[i] = noisy[i].wrapping_mul(31).wrapping_add(7);
        let _ = parse(&noisy);
    }
}
