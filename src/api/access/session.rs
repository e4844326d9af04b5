//! Console sessions: what a browser holds after signing in with an API token.
//!
//! Browsers cannot send a bearer header on an `EventSource`, so a person
//! signs in once with their token and gets a session cookie instead. The
//! server keeps only the SHA-256 of each session secret (256 random bits,
//! like a token), the token it was opened with, and when it expires. A
//! session grants what its token grants, so revoking the token ends every
//! session opened with it. Sessions live in memory: a restart signs
//! everyone out, which costs a sign-in and keeps no secret on disk.

use std::collections::HashMap;

use super::token::{self, TokenHash};

/// How long a session lasts after sign-in.
pub const LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// The cookie that carries a session.
pub const COOKIE: &str = "hotline_session";

/// Most sessions kept at once; the oldest goes first past this, so a loop of
/// sign-ins cannot grow the server's memory.
const MOST: usize = 10_000;

/// Open sessions by the hash of their secret.
#[derive(Debug, Default)]
pub struct Sessions {
    open: HashMap<[u8; 32], Session>,
}

/// One signed-in browser.
#[derive(Debug, Clone, Copy)]
struct Session {
    /// The API token it was opened with; it grants that token's role.
    token: TokenHash,
    opened_ms: i64,
    expires_ms: i64,
}

impl Sessions {
    /// Opens a session for whoever presented `token`; returns its secret, for the cookie.
    pub fn open(&mut self, token: TokenHash, now_ms: i64) -> String {
        self.open.retain(|_, s| s.expires_ms > now_ms);
        if self.open.len() >= MOST
            && let Some(oldest) = self
                .open
                .iter()
                .min_by_key(|(_, s)| s.opened_ms)
                .map(|(k, _)| *k)
        {
            self.open.remove(&oldest);
        }
        let secret = token::generate();
        let session = Session {
            token,
            opened_ms: now_ms,
            expires_ms: now_ms + LIFETIME_MS,
        };
        self.open.insert(TokenHash::of(&secret).0, session);
        secret
    }

    /// The token behind a session secret, while the session has not expired.
    pub fn token(&self, secret: &str, now_ms: i64) -> Option<TokenHash> {
        let session = self.open.get(&TokenHash::of(secret).0)?;
        (session.expires_ms > now_ms).then_some(session.token)
    }

    /// Ends a session (sign-out).
    pub fn close(&mut self, secret: &str) {
        self.open.remove(&TokenHash::of(secret).0);
    }
}

/// The session secret in a `Cookie` header value, if any.
pub fn from_cookie(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` value that hands a browser its session: not readable by
/// scripts, never sent by another site's page.
pub fn set_cookie(secret: &str) -> String {
    format!(
        "{COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        LIFETIME_MS / 1000
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_grants_its_token_until_it_expires() {
        let mut sessions = Sessions::default();
        let token = TokenHash::of("hotline_abc");
        let secret = sessions.open(token, 1_000);
        assert_eq!(sessions.token(&secret, 1_000), Some(token));
        assert_eq!(
            sessions.token(&secret, 1_000 + LIFETIME_MS - 1),
            Some(token)
        );
        assert_eq!(sessions.token(&secret, 1_000 + LIFETIME_MS), None);
        assert_eq!(sessions.token("hotline_guess", 1_000), None);
    }

    #[test]
    fn only_the_hash_of_a_session_is_kept_and_sign_out_ends_it() {
        let mut sessions = Sessions::default();
        let secret = sessions.open(TokenHash::of("t"), 0);
        let kept = format!("{sessions:?}");
        assert!(!kept.contains(&secret[8..]), "{kept}");
        sessions.close(&secret);
        assert_eq!(sessions.token(&secret, 0), None);
    }

    #[test]
    fn expired_sessions_are_dropped_and_their_number_is_bounded() {
        let mut sessions = Sessions::default();
        let first = sessions.open(TokenHash::of("t"), 0);
        sessions.open(TokenHash::of("t"), LIFETIME_MS + 1);
        assert_eq!(sessions.open.len(), 1);
        assert_eq!(sessions.token(&first, 0), None);
        for i in 0..MOST as i64 + 5 {
            sessions.open(TokenHash::of("t"), LIFETIME_MS + 2 + i);
        }
        assert_eq!(sessions.open.len(), MOST);
    }

    #[test]
    fn the_session_is_read_from_among_other_cookies() {
        assert_eq!(from_cookie("a=1; hotline_session=xyz; b=2"), Some("xyz"));
        assert_eq!(from_cookie("hotline_session="), None);
        assert_eq!(from_cookie("other_hotline_session=xyz"), None);
        let cookie = set_cookie("xyz");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    }
}
