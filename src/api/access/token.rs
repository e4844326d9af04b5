//! API tokens: making them, hashing them for storage, reading them from requests.
//!
//! A token is 256 random bits, so its SHA-256 is a safe thing to store: the
//! hash cannot be turned back into a token, and unlike a password there is
//! nothing short to guess. Lookups compare hashes in constant time.

use sha2::{Digest, Sha256};

/// Every token starts with this, so one found in a log or a repository is recognisable.
const PREFIX: &str = "hotline_";

/// A fresh secret token, as shown once to whoever made it.
pub fn generate() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex(&bytes))
}

/// What is stored of a token: its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The hash of a token as presented.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// The hash as stored in the database (64 hex digits).
    pub fn to_hex(self) -> String {
        hex(&self.0)
    }

    /// Reads a stored hash; `None` for anything but 64 hex digits.
    pub fn from_hex(text: &str) -> Option<TokenHash> {
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(TokenHash(out))
    }

    /// Equality that takes the same time wherever the hashes differ, so
    /// response times say nothing about how close a guess came.
    pub fn matches(&self, other: &TokenHash) -> bool {
        let difference = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

/// The token of an `Authorization: Bearer <token>` header value; `None` for
/// any other scheme or an empty token.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_distinct_and_prefixed() {
        let (a, b) = (generate(), generate());
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_ne!(a, b);
    }

    #[test]
    fn a_hash_survives_storage_and_matches_only_its_token() {
        let token = generate();
        let stored = TokenHash::of(&token).to_hex();
        let read = TokenHash::from_hex(&stored).expect("64 hex digits");
        assert!(read.matches(&TokenHash::of(&token)));
        assert!(!read.matches(&TokenHash::of(&generate())));
        assert!(!stored.contains(&token[PREFIX.len()..]));
    }

    #[test]
    fn malformed_stored_hashes_are_refused() {
        assert_eq!(TokenHash::from_hex("abc"), None);
        assert_eq!(TokenHash::from_hex(&"zz".repeat(32)), None);
        assert_eq!(TokenHash::from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn only_bearer_headers_carry_a_token() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic YWxhZGRpbjpvcGVu"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer a b"), None);
        assert_eq!(bearer("abc"), None);
    }
}
