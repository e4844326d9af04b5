//! The serializer is the parser's inverse: whatever `parse` accepts, writing it
//! out and parsing it again gives the same message. The inputs under
//! `tests/data/sip-roundtrip/` are ones the fuzz target found breaking that; each
//! is now refused on input, because what it holds cannot be written back.

use super::*;

/// Parses, serializes and parses again; the two parses must agree.
fn assert_round_trips(bytes: &[u8]) {
    let Ok(first) = parse(bytes) else {
        return;
    };
    let wire = first.to_bytes();
    let again = parse(&wire).unwrap_or_else(|error| {
        panic!(
            "serialized message does not parse ({error}):\n{}",
            String::from_utf8_lossy(&wire)
        )
    });
    assert_eq!(again, first, "{}", String::from_utf8_lossy(&wire));
}

/// The input is refused because its To URI holds a `<`, `>` or `"`.
fn assert_to_refused(bytes: &[u8]) {
    assert_round_trips(bytes);
    match parse(bytes) {
        Err(ParseError::Invalid { header: "To", .. }) => {}
        other => panic!("expected an invalid To, got {other:?}"),
    }
}

macro_rules! data {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/data/sip-roundtrip/", $name))
    };
}

#[test]
fn bare_uri_ending_in_gt_is_refused() {
    assert_to_refused(data!("to-bare-uri-ends-in-gt.sip"));
}

#[test]
fn bare_uri_ending_in_gt_with_folded_params_is_refused() {
    assert_to_refused(data!("to-bare-uri-ends-in-gt-folded-params.sip"));
}

#[test]
fn bare_uri_with_digit_scheme_ending_in_gt_is_refused() {
    assert_to_refused(data!("to-bare-uri-digit-scheme-ends-in-gt.sip"));
}

#[test]
fn bare_uri_with_dotted_scheme_ending_in_gt_is_refused() {
    assert_to_refused(data!("to-bare-uri-dotted-scheme-ends-in-gt.sip"));
}

#[test]
fn bare_uri_with_colon_in_user_ending_in_gt_is_refused() {
    assert_to_refused(data!("to-bare-uri-colon-in-user-ends-in-gt.sip"));
}

#[test]
fn bare_uri_with_gt_in_user_is_refused() {
    assert_to_refused(data!("to-bare-uri-gt-in-user.sip"));
}

#[test]
fn bare_uri_with_gt_in_user_and_long_request_uri_is_refused() {
    assert_to_refused(data!("to-bare-uri-gt-in-user-long-request-uri.sip"));
}

#[test]
fn bare_uri_with_gt_in_host_is_refused() {
    assert_to_refused(data!("to-bare-uri-gt-in-host.sip"));
}

#[test]
fn bare_sip_uri_with_gt_in_user_is_refused() {
    assert_to_refused(data!("to-bare-sip-uri-gt-in-user.sip"));
}

#[test]
fn repeated_to_whose_last_bare_uri_ends_in_gt_is_refused() {
    assert_to_refused(data!("to-repeated-last-bare-uri-ends-in-gt.sip"));
}

#[test]
fn glued_second_message_with_bare_uri_ending_in_gt_is_refused() {
    assert_to_refused(data!("to-second-message-bare-uri-ends-in-gt.sip"));
}

const INVITE_HEAD: &str = "INVITE sip:ivr@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: <sip:caller@example.com>;tag=1\r\n\
Call-ID: rt@192.0.2.1\r\n\
CSeq: 1 INVITE\r\n";

fn invite_with_to(to: &str) -> Vec<u8> {
    format!("{INVITE_HEAD}To: {to}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

#[test]
fn escaped_gt_in_a_bare_uri_is_accepted_and_round_trips() {
    let bytes = invite_with_to("sip:a%3Eb@example.com;tag=9");
    assert_round_trips(&bytes);
    let message = parse(&bytes).unwrap();
    assert_eq!(message.head().to.uri.user(), Some("a%3Eb"));
    assert_eq!(message.head().to_tag(), Some("9"));
}

#[test]
fn angle_brackets_and_quotes_inside_a_uri_are_refused_in_every_form() {
    for to in [
        "sip:a>b@example.com",
        "<sip:a<b@example.com>",
        "sip:a\"b@example.com",
        "urn:x>y",
    ] {
        assert!(
            matches!(
                parse(&invite_with_to(to)),
                Err(ParseError::Invalid { header: "To", .. })
            ),
            "{to}"
        );
    }
}

#[test]
fn real_world_forms_of_to_round_trip() {
    for to in [
        "sip:bob@example.com",
        "sip:bob@example.com;tag=abc",
        "<sip:bob@example.com;transport=tcp>;tag=abc",
        "\"Kovalenko, \\\"Olena\\\"\" <sip:o@example.com>",
        "Bob <sip:bob@[2001:db8::1]:5070>",
        "<tel:+1-201-555-0123;phone-context=example.com>",
        "<urn:service:sos>",
    ] {
        assert_round_trips(&invite_with_to(to));
    }
}

#[test]
fn star_contact_keeps_its_parameters_and_display_name() {
    for contact in ["*", "*;expires=0", "<*>;expires=0", "\"all\" <*>"] {
        let bytes = format!(
            "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n\
Call-ID: star@192.0.2.1\r\nCSeq: 2 REGISTER\r\nContact: {contact}\r\n\
Expires: 0\r\nContent-Length: 0\r\n\r\n"
        );
        assert_round_trips(bytes.as_bytes());
    }
}
