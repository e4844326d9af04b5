//! Digest: RFC example vectors, headers real phones sent, nonces on a virtual clock.

use std::time::{Duration, Instant};

use super::credentials::parse_params;
use super::*;
use crate::sip::uri::parse_uri;

fn register() -> Method {
    Method::Register
}

fn get() -> Method {
    Method::from_token("GET")
}

/// The response a phone computes for `credentials` with `password`.
fn answer(credentials: &Credentials, password: &str, method: &Method) -> String {
    let ha1 = ha1(
        credentials.algorithm,
        &credentials.username,
        &credentials.realm,
        password,
    );
    response(credentials.algorithm, &ha1, credentials, method)
}

#[test]
fn rfc2617_example_response_md5() {
    let credentials = Credentials::parse(
        r#"Digest username="Mufasa", realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,
        nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
        opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )
    .unwrap();
    assert_eq!(credentials.algorithm, Algorithm::Md5, "MD5 when absent");
    assert_eq!(
        answer(&credentials, "Circle Of Life", &get()),
        credentials.response
    );
}

/// RFC 7616 §3.9.1, the header as printed there (folded over lines).
const RFC7616_SHA256: &str = r#"Digest username="Mufasa",
     realm="http-auth@example.org",
     uri="/dir/index.html",
     algorithm=SHA-256,
     nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
     nc=00000001,
     cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
     qop=auth,
     response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
     opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;

#[test]
fn rfc7616_example_responses_sha256_and_md5() {
    let mut credentials = Credentials::parse(RFC7616_SHA256).unwrap();
    assert_eq!(credentials.algorithm, Algorithm::Sha256);
    assert_eq!(credentials.nc, Some(1));
    assert_eq!(
        credentials.opaque.as_deref(),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );
    assert_eq!(
        answer(&credentials, "Circle of Life", &get()),
        credentials.response
    );
    credentials.algorithm = Algorithm::Md5;
    assert_eq!(
        answer(&credentials, "Circle of Life", &get()),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
}

/// Headers that baresip 1.0, pjsua2 2.15 and linphone 5.1 sent for user
/// `alice`, password `secret`, realm `hotline`, captured on loopback.
const BARESIP: &str = r#"Digest username="alice", realm="hotline", nonce="abc123md5", uri="sip:127.0.0.1:25110", response="c4eb6e8c3de390f6ef9089b99f43f8f0", cnonce="60ea2c96eb7102af", qop=auth, nc=00000001"#;
const PJSUA: &str = r#"Digest username="alice", realm="hotline", nonce="abc123md5", uri="sip:127.0.0.1:25110", response="ac8be01121a7189450b79d5dd2e93e1e", algorithm=MD5, cnonce="YIOmetdCkddNfAJ1UgZuysNMMhSfgHNb", qop=auth, nc=00000001"#;
const LINPHONE: &str = r#" Digest realm="hotline", nonce="abc123sha", algorithm=SHA-256, username="alice",  uri="sip:127.0.0.1", response="beb68f7afe9e8c687b53a2761f4b28d1a808bd6a792466246be9bc14d5644242", cnonce="-ZlPckYihJAYd~Dk", nc=00000001, qop=auth"#;

#[test]
fn headers_from_baresip_pjsua2_and_linphone_verify_with_the_password() {
    for (peer, header, algorithm) in [
        ("baresip", BARESIP, Algorithm::Md5),
        ("pjsua2", PJSUA, Algorithm::Md5),
        ("linphone", LINPHONE, Algorithm::Sha256),
    ] {
        let credentials = Credentials::parse(header).unwrap_or_else(|e| panic!("{peer}: {e}"));
        assert_eq!(credentials.username, "alice", "{peer}");
        assert_eq!(credentials.algorithm, algorithm, "{peer}");
        assert_eq!(credentials.qop.as_deref(), Some("auth"), "{peer}");
        assert_eq!(
            answer(&credentials, "secret", &register()),
            credentials.response,
            "{peer}"
        );
        assert_ne!(
            answer(&credentials, "Secret", &register()),
            credentials.response
        );
    }
}

#[test]
fn parameters_in_any_case_spacing_and_quoting() {
    let credentials = Credentials::parse(
        r#"digest  USERNAME = "al\"ice" ,Realm="a, b",nonce=n1 , URI="sip:x",
        response="R", qop="auth", Algorithm="sha-256", nc=0000000A, cnonce=c, extra="ignored""#,
    )
    .unwrap();
    assert_eq!(credentials.username, "al\"ice");
    assert_eq!(credentials.realm, "a, b");
    assert_eq!(credentials.nonce, "n1");
    assert_eq!(credentials.uri, "sip:x");
    assert_eq!(credentials.algorithm, Algorithm::Sha256);
    assert_eq!(credentials.nc, Some(10));
    assert_eq!(credentials.cnonce.as_deref(), Some("c"));
}

#[test]
fn broken_credentials_are_errors_not_panics() {
    use CredentialsError::*;
    type Expected = fn(&CredentialsError) -> bool;
    let cases: &[(&str, Expected)] = &[
        ("Basic YWxpY2U6c2VjcmV0", |e| *e == NotDigest),
        ("", |e| *e == NotDigest),
        (r#"Digest username="alice"#, |e| matches!(e, Syntax(_))),
        (r#"Digest username"alice""#, |e| matches!(e, Syntax(_))),
        (r#"Digest username="a" realm="b""#, |e| {
            matches!(e, Syntax(_))
        }),
        (r#"Digest username="a", username="b""#, |e| {
            matches!(e, Duplicate(_))
        }),
        (
            r#"Digest realm="r", nonce="n", uri="u", response="x""#,
            |e| *e == Missing("username"),
        ),
        (
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", nc=1"#,
            |e| matches!(e, Invalid { param: "nc", .. }),
        ),
        (
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=MD5-sess"#,
            |e| matches!(e, UnsupportedAlgorithm(_)),
        ),
        (
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", userhash=true"#,
            |e| {
                matches!(
                    e,
                    Invalid {
                        param: "userhash",
                        ..
                    }
                )
            },
        ),
        ("Digest =", |e| matches!(e, Syntax(_))),
        ("Digest a=\"\\", |e| matches!(e, Syntax(_))),
    ];
    for (text, expected) in cases {
        let error = Credentials::parse(text).unwrap_err();
        assert!(expected(&error), "{text}: {error:?}");
    }
}

const REALM: &str = "hotline";
const PASSWORD: &str = "secret";

fn auth(now: Instant, secret: u8) -> DigestAuth {
    DigestAuth::new(
        DigestSettings {
            realm: REALM.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
        },
        [secret; 32],
        now,
    )
}

/// The stored HA1 of `alice` with PASSWORD.
fn stored(algorithm: Algorithm) -> Option<String> {
    Some(ha1(algorithm, "alice", REALM, PASSWORD))
}

fn request_uri() -> Uri {
    parse_uri("sip:127.0.0.1:5060").unwrap()
}

/// What a phone answers to the `index`-th challenge header.
fn phone_answer(challenge: &Header, index: usize, nc: u32, password: &str) -> Credentials {
    let params = parse_params(challenge.value.strip_prefix("Digest").unwrap()).unwrap();
    let value = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let mut credentials = Credentials {
        username: "alice".into(),
        realm: value("realm"),
        nonce: value("nonce"),
        uri: "sip:127.0.0.1:5060".into(),
        response: String::new(),
        algorithm: Algorithm::from_token(&value("algorithm")).unwrap(),
        cnonce: Some(format!("cnonce{index}")),
        nc: Some(nc),
        qop: Some(value("qop")),
        opaque: None,
    };
    credentials.response = answer(&credentials, password, &register());
    credentials
}

#[test]
fn challenge_offers_sha256_then_md5_with_qop_auth() {
    let now = Instant::now();
    let headers = auth(now, 1).challenge(now, false);
    assert_eq!(headers.len(), 2);
    assert!(headers.iter().all(|h| h.name == "WWW-Authenticate"));
    assert!(
        headers[0].value.contains("algorithm=SHA-256"),
        "{headers:?}"
    );
    assert!(headers[1].value.contains("algorithm=MD5"), "{headers:?}");
    for header in &headers {
        assert!(
            header
                .value
                .starts_with("Digest realm=\"hotline\", nonce=\"")
        );
        assert!(header.value.contains("qop=\"auth\""));
        assert!(!header.value.contains("stale"));
    }
    let stale = auth(now, 1).challenge(now, true);
    assert!(stale[0].value.ends_with(", stale=true"), "{stale:?}");
}

#[test]
fn right_password_is_authorized_with_either_algorithm() {
    let now = Instant::now();
    let mut auth = auth(now, 1);
    let challenge = auth.challenge(now, false);
    // Both challenges carry one nonce, so the second answer counts on.
    for (index, header) in challenge.iter().enumerate() {
        let credentials = phone_answer(header, index, index as u32 + 1, PASSWORD);
        let verdict = auth.verify(now, &register(), &request_uri(), &credentials, stored);
        assert_eq!(verdict, Verdict::Authorized, "{}", header.value);
    }
}

#[test]
fn wrong_password_or_unknown_user_is_wrong() {
    let now = Instant::now();
    let mut auth = auth(now, 1);
    let challenge = auth.challenge(now, false);
    let credentials = phone_answer(&challenge[0], 0, 1, "guess");
    let verdict = auth.verify(now, &register(), &request_uri(), &credentials, stored);
    assert_eq!(verdict, Verdict::Wrong);
    let right = phone_answer(&challenge[0], 0, 1, PASSWORD);
    let unknown = auth.verify(now, &register(), &request_uri(), &right, |_| None);
    assert_eq!(unknown, Verdict::Wrong);
}

#[test]
fn expired_nonce_is_stale_only_for_the_right_password() {
    let start = Instant::now();
    let mut auth = auth(start, 1);
    let challenge = auth.challenge(start, false);
    let right = phone_answer(&challenge[1], 1, 1, PASSWORD);
    let later = start + Duration::from_secs(299);
    assert_eq!(
        auth.verify(later, &register(), &request_uri(), &right, stored),
        Verdict::Authorized
    );
    let expired = start + Duration::from_secs(300);
    let right = phone_answer(&challenge[1], 1, 2, PASSWORD);
    assert_eq!(
        auth.verify(expired, &register(), &request_uri(), &right, stored),
        Verdict::Stale
    );
    let wrong = phone_answer(&challenge[1], 1, 3, "guess");
    assert_eq!(
        auth.verify(expired, &register(), &request_uri(), &wrong, stored),
        Verdict::Wrong,
        "an old nonce must not tell right from wrong without counting"
    );
}

#[test]
fn nonce_of_another_secret_is_stale() {
    let now = Instant::now();
    let before_restart = auth(now, 1).challenge(now, false);
    let credentials = phone_answer(&before_restart[0], 0, 1, PASSWORD);
    let verdict = auth(now, 2).verify(now, &register(), &request_uri(), &credentials, stored);
    assert_eq!(verdict, Verdict::Stale);
    let mut garbled = credentials.clone();
    garbled.nonce = "not-a-nonce".into();
    garbled.response = answer(&garbled, PASSWORD, &register());
    let verdict = auth(now, 1).verify(now, &register(), &request_uri(), &garbled, stored);
    assert_eq!(verdict, Verdict::Stale);
}

#[test]
fn replayed_or_repeated_nonce_count_is_stale() {
    let now = Instant::now();
    let mut auth = auth(now, 1);
    let challenge = auth.challenge(now, false);
    let first = phone_answer(&challenge[0], 0, 1, PASSWORD);
    let verify = |auth: &mut DigestAuth, c: &Credentials| {
        auth.verify(now, &register(), &request_uri(), c, stored)
    };
    assert_eq!(verify(&mut auth, &first), Verdict::Authorized);
    assert_eq!(verify(&mut auth, &first), Verdict::Stale, "replay");
    let third = phone_answer(&challenge[0], 0, 3, PASSWORD);
    assert_eq!(
        verify(&mut auth, &third),
        Verdict::Authorized,
        "gaps are fine"
    );
    let second = phone_answer(&challenge[0], 0, 2, PASSWORD);
    assert_eq!(verify(&mut auth, &second), Verdict::Stale, "going back");
}

#[test]
fn other_realm_or_algorithm_not_offered_is_unanswered() {
    let now = Instant::now();
    let mut md5_only = DigestAuth::new(
        DigestSettings {
            realm: REALM.into(),
            algorithms: vec![Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
        },
        [1; 32],
        now,
    );
    let challenge = auth(now, 1).challenge(now, false);
    let sha = phone_answer(&challenge[0], 0, 1, PASSWORD);
    let verdict = md5_only.verify(now, &register(), &request_uri(), &sha, stored);
    assert_eq!(verdict, Verdict::Unanswered);
    let mut other_realm = phone_answer(&challenge[1], 1, 1, PASSWORD);
    other_realm.realm = "asterisk".into();
    let verdict = md5_only.verify(now, &register(), &request_uri(), &other_realm, stored);
    assert_eq!(verdict, Verdict::Unanswered);
}

#[test]
fn missing_qop_or_another_uri_is_invalid() {
    let now = Instant::now();
    let mut auth = auth(now, 1);
    let challenge = auth.challenge(now, false);
    let mut no_qop = phone_answer(&challenge[0], 0, 1, PASSWORD);
    no_qop.qop = None;
    no_qop.response = answer(&no_qop, PASSWORD, &register());
    assert!(matches!(
        auth.verify(now, &register(), &request_uri(), &no_qop, stored),
        Verdict::Invalid(_)
    ));
    let mut elsewhere = phone_answer(&challenge[0], 0, 1, PASSWORD);
    elsewhere.uri = "sip:other.example".into();
    elsewhere.response = answer(&elsewhere, PASSWORD, &register());
    assert!(matches!(
        auth.verify(now, &register(), &request_uri(), &elsewhere, stored),
        Verdict::Invalid(_)
    ));
    let mut upper = phone_answer(&challenge[0], 0, 1, PASSWORD);
    upper.uri = "SIP:127.0.0.1:5060".into();
    upper.response = answer(&upper, PASSWORD, &register());
    assert_eq!(
        auth.verify(now, &register(), &request_uri(), &upper, stored),
        Verdict::Authorized,
        "letter case of the digest URI is forgiven"
    );
}

#[test]
fn nonces_are_unique_and_tampering_is_foreign() {
    let now = Instant::now();
    let mut nonces = Nonces::new([3; 32], now, Duration::from_secs(10));
    let a = nonces.issue(now);
    let b = nonces.issue(now);
    assert_ne!(a, b);
    assert!(matches!(nonces.check(&a, now), NonceCheck::Fresh { .. }));
    // Moving the issue time forward would extend the nonce's life.
    let mut tampered = a.clone();
    tampered.replace_range(15..16, if &a[15..16] == "f" { "e" } else { "f" });
    assert_eq!(nonces.check(&tampered, now), NonceCheck::Foreign);
    assert_eq!(
        nonces.check(&a, now + Duration::from_secs(10)),
        NonceCheck::Expired
    );
    assert_eq!(nonces.check("", now), NonceCheck::Foreign);
    assert_eq!(nonces.check(&"g".repeat(a.len()), now), NonceCheck::Foreign);
}
