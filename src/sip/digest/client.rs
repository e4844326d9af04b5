//! Answering a digest challenge to a request hotline sends (RFC 3261 §22.2,
//! RFC 7616): a trunk that asks who is calling before it carries a callback.

use super::credentials::{CredentialsError, algorithm_param, digest_params, param};
use super::{Algorithm, Credentials, ha1, response};
use crate::sip::message::{Method, Uri};

/// A user name and password hotline answers challenges with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub username: String,
    pub password: String,
    /// Only challenges of this realm are answered; any realm when None.
    pub realm: Option<String>,
}

/// One `WWW-Authenticate` or `Proxy-Authenticate: Digest …` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// The server offers `qop=auth` (else the RFC 2069 form is answered).
    pub qop_auth: bool,
    /// The nonce expired, not the credentials: answering again is right.
    pub stale: bool,
}

impl Challenge {
    /// Parses a challenge header value; an algorithm we do not speak is an
    /// error, so that the next challenge offered can be tried.
    pub fn parse(value: &str) -> Result<Challenge, CredentialsError> {
        let params = digest_params(value)?;
        let get = |name: &str| param(&params, name);
        let algorithm = algorithm_param(&params)?;
        Ok(Challenge {
            realm: get("realm").ok_or(CredentialsError::Missing("realm"))?,
            nonce: get("nonce").ok_or(CredentialsError::Missing("nonce"))?,
            algorithm,
            opaque: get("opaque"),
            qop_auth: get("qop").is_some_and(|qop| {
                qop.split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"))
            }),
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The `Authorization` value answering this challenge for a `method`
    /// request to `uri`; `cnonce` is ours, fresh for each answer.
    pub fn answer(
        &self,
        credentials: &ClientCredentials,
        method: &Method,
        uri: &Uri,
        cnonce: &str,
    ) -> String {
        let answered = Credentials {
            username: credentials.username.clone(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: self.algorithm,
            cnonce: self.qop_auth.then(|| cnonce.to_owned()),
            nc: self.qop_auth.then_some(1),
            qop: self.qop_auth.then(|| "auth".to_owned()),
            opaque: self.opaque.clone(),
        };
        let ha1 = ha1(
            self.algorithm,
            &credentials.username,
            &self.realm,
            &credentials.password,
        );
        let digest = response(self.algorithm, &ha1, &answered, method);
        let mut value = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{digest}\", algorithm={}",
            quote(&answered.username),
            quote(&answered.realm),
            quote(&answered.nonce),
            answered.uri,
            self.algorithm.token(),
        );
        if self.qop_auth {
            value.push_str(&format!(", qop=auth, nc=00000001, cnonce=\"{cnonce}\""));
        }
        if let Some(opaque) = &self.opaque {
            value.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        value
    }
}

/// The first challenge among `values` these credentials may answer.
pub fn pick_challenge<'a>(
    values: impl IntoIterator<Item = &'a str>,
    credentials: &ClientCredentials,
) -> Option<Challenge> {
    values
        .into_iter()
        .filter_map(|value| Challenge::parse(value).ok())
        .find(|c| credentials.realm.as_deref().is_none_or(|r| r == c.realm))
}

/// Escapes a value for a quoted string.
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::sip::digest::{DigestAuth, DigestSettings, Verdict};

    fn alice() -> ClientCredentials {
        ClientCredentials {
            username: "alice".into(),
            password: "secret \"quoted\"".into(),
            realm: None,
        }
    }

    #[test]
    fn an_answer_to_our_own_challenge_verifies_for_each_algorithm() {
        let now = Instant::now();
        for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
            let mut server = DigestAuth::new(
                DigestSettings {
                    realm: "trunk.example".into(),
                    algorithms: vec![algorithm],
                    nonce_lifetime: Duration::from_secs(60),
                },
                [7; 32],
                now,
            );
            let headers = server.challenge(now, false);
            let challenge =
                pick_challenge(headers.iter().map(|h| h.value.as_str()), &alice()).unwrap();
            assert_eq!(challenge.algorithm, algorithm);
            let uri = crate::sip::uri::parse_uri("sip:+380441234567@trunk.example").unwrap();
            let answer = challenge.answer(&alice(), &Method::Invite, &uri, "c0ffee");
            let credentials = Credentials::parse(&answer).unwrap();
            let verdict = server.verify(now, &Method::Invite, &uri, &credentials, |a| {
                Some(ha1(a, "alice", "trunk.example", "secret \"quoted\""))
            });
            assert_eq!(verdict, Verdict::Authorized, "{answer}");
        }
    }

    #[test]
    fn challenges_are_read_as_servers_write_them() {
        let c = Challenge::parse(
            "Digest realm=\"asterisk\",nonce=\"1a2b\" , opaque=\"x\", algorithm=MD5, qop=\"auth,auth-int\", stale=TRUE",
        )
        .unwrap();
        assert_eq!(c.realm, "asterisk");
        assert_eq!(c.nonce, "1a2b");
        assert_eq!(c.opaque.as_deref(), Some("x"));
        assert!(c.qop_auth && c.stale);
        let plain = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert_eq!(plain.algorithm, Algorithm::Md5);
        assert!(!plain.qop_auth);
        assert!(Challenge::parse("Basic realm=\"r\"").is_err());
        assert!(Challenge::parse("Digest realm=\"r\"").is_err());
    }

    #[test]
    fn an_unknown_algorithm_or_another_realm_is_passed_over() {
        let values = [
            "Digest realm=\"trunk\", nonce=\"a\", algorithm=SHA-512-256",
            "Digest realm=\"other\", nonce=\"b\"",
            "Digest realm=\"trunk\", nonce=\"c\", algorithm=MD5",
        ];
        let credentials = ClientCredentials {
            realm: Some("trunk".into()),
            ..alice()
        };
        let picked = pick_challenge(values, &credentials).unwrap();
        assert_eq!(picked.nonce, "c");
        let picked = pick_challenge(values, &alice()).unwrap();
        assert_eq!(picked.nonce, "b");
    }

    #[test]
    fn an_answer_without_qop_uses_the_rfc_2069_form() {
        let challenge = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        let uri = crate::sip::uri::parse_uri("sip:1@h").unwrap();
        let answer = challenge.answer(&alice(), &Method::Invite, &uri, "x");
        assert!(!answer.contains("qop"), "{answer}");
        let credentials = Credentials::parse(&answer).unwrap();
        let expected = response(
            Algorithm::Md5,
            &ha1(Algorithm::Md5, "alice", "r", "secret \"quoted\""),
            &credentials,
            &Method::Invite,
        );
        assert_eq!(credentials.response, expected);
    }
}
