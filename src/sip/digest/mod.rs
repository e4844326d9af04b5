//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! A sans-IO value: [`DigestAuth`] issues challenges and checks `Authorization`
//! headers with `now` as an argument. Nonces carry their issue time and an
//! HMAC under a per-process secret, so no table of issued nonces is kept and
//! expiry is checked from the nonce itself; only the last `nc` of each nonce
//! in use is remembered, to refuse replays.
//!
//! `client.rs` is the other side: answering a challenge to a request we send.

mod client;
mod credentials;
mod nonce;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

pub use client::{Challenge, ClientCredentials, pick_challenge};
pub use credentials::{Credentials, CredentialsError};
pub use nonce::{NonceCheck, Nonces};

use super::message::{Header, Method, Uri};
use super::uri::parse_uri;

/// A digest algorithm (RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
pub enum Algorithm {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "MD5")]
    Md5,
}

impl Algorithm {
    /// The `algorithm=` token.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// The algorithm a token names (case-insensitive); `-sess` variants are not supported.
    pub fn from_token(token: &str) -> Option<Algorithm> {
        [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .find(|a| a.token().eq_ignore_ascii_case(token))
    }

    /// The lower-case hex digest of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Sha256 => to_hex(&Sha256::digest(data)),
            Algorithm::Md5 => to_hex(&Md5::digest(data)),
        }
    }
}

/// `H(username:realm:password)`, what the server keeps instead of the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The `response` value for `qop=auth` (RFC 7616 §3.4.1).
pub fn response(
    algorithm: Algorithm,
    ha1: &str,
    credentials: &Credentials,
    method: &Method,
) -> String {
    let ha2 = algorithm.hex(format!("{method}:{}", credentials.uri).as_bytes());
    let Some(qop) = &credentials.qop else {
        // RFC 2069 form, kept for the test vectors; `verify` refuses it.
        return algorithm.hex(format!("{ha1}:{}:{ha2}", credentials.nonce).as_bytes());
    };
    let nc = credentials.nc.unwrap_or(0);
    let cnonce = credentials.cnonce.as_deref().unwrap_or_default();
    let nonce = &credentials.nonce;
    algorithm.hex(format!("{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}").as_bytes())
}

/// Settings of digest authentication.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    pub realm: String,
    /// Algorithms offered, one challenge each, in order of preference.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce may be used.
    pub nonce_lifetime: Duration,
}

/// What a request's credentials amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The response is right and the nonce fresh and not replayed.
    Authorized,
    /// The response is right but the nonce expired, is not ours (issued
    /// before a restart) or its `nc` was seen: challenge again with
    /// `stale=true`, and the phone retries without asking its user.
    Stale,
    /// The response is wrong (or the user unknown): a wrong password.
    Wrong,
    /// The credentials answer another realm or an algorithm we did not
    /// offer: challenge afresh.
    Unanswered,
    /// The credentials break RFC 7616 (no `qop`, a digest URI that is not the
    /// Request-URI).
    Invalid(&'static str),
}

/// Issues challenges and checks credentials.
pub struct DigestAuth {
    settings: DigestSettings,
    nonces: Nonces,
    /// The highest `nc` accepted per nonce still in use.
    counts: HashMap<String, (u32, Instant)>,
}

/// Nonces in use past which the `nc` table is swept of expired ones.
const COUNTS_SWEEP: usize = 4096;

impl DigestAuth {
    /// Digest authentication under `secret`, with nonce times counted from `now`.
    pub fn new(settings: DigestSettings, secret: [u8; 32], now: Instant) -> DigestAuth {
        DigestAuth {
            nonces: Nonces::new(secret, now, settings.nonce_lifetime),
            settings,
            counts: HashMap::new(),
        }
    }

    /// The realm challenged.
    pub fn realm(&self) -> &str {
        &self.settings.realm
    }

    /// `WWW-Authenticate` headers: one per algorithm, preferred first (RFC 8760 §2.4).
    pub fn challenge(&mut self, now: Instant, stale: bool) -> Vec<Header> {
        let nonce = self.nonces.issue(now);
        let stale = if stale { ", stale=true" } else { "" };
        self.settings
            .algorithms
            .iter()
            .map(|algorithm| Header {
                name: "WWW-Authenticate".into(),
                value: format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.settings.realm,
                    algorithm.token()
                ),
            })
            .collect()
    }

    /// Checks `credentials` sent with a `method` request to `request_uri`;
    /// `ha1` gives the stored HA1 of the user for an algorithm, `None` for an
    /// unknown user.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &Method,
        request_uri: &Uri,
        credentials: &Credentials,
        ha1: impl Fn(Algorithm) -> Option<String>,
    ) -> Verdict {
        let algorithm = credentials.algorithm;
        if credentials.realm != self.settings.realm
            || !self.settings.algorithms.contains(&algorithm)
        {
            return Verdict::Unanswered;
        }
        if credentials.qop.as_deref() != Some("auth")
            || credentials.nc.is_none()
            || credentials.cnonce.is_none()
        {
            return Verdict::Invalid("qop=auth with nc and cnonce required");
        }
        if !same_uri(&credentials.uri, request_uri) {
            return Verdict::Invalid("digest uri is not the Request-URI");
        }
        let right = ha1(algorithm).is_some_and(|ha1| {
            let expected = response(algorithm, &ha1, credentials, method);
            let given = credentials.response.to_ascii_lowercase();
            constant_time_eq(expected.as_bytes(), given.as_bytes())
        });
        if !right {
            return Verdict::Wrong;
        }
        let NonceCheck::Fresh { expires } = self.nonces.check(&credentials.nonce, now) else {
            return Verdict::Stale;
        };
        let nc = credentials.nc.unwrap_or(0);
        if self.counts.len() >= COUNTS_SWEEP {
            self.counts.retain(|_, (_, until)| *until > now);
        }
        let last = self
            .counts
            .entry(credentials.nonce.clone())
            .or_insert((0, expires));
        if nc <= last.0 {
            return Verdict::Stale;
        }
        last.0 = nc;
        Verdict::Authorized
    }
}

/// Whether the digest URI names the Request-URI (RFC 7616 §3.4.6). Phones
/// copy the Request-URI, so text equality (forgiving letter case) is the
/// rule; parsing both also forgives a differently written IPv6 address.
fn same_uri(digest_uri: &str, request_uri: &Uri) -> bool {
    digest_uri.eq_ignore_ascii_case(&request_uri.to_string())
        || parse_uri(digest_uri).is_ok_and(|uri| uri == *request_uri)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference, so the time taken
/// tells nothing about how much of a guessed response was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
