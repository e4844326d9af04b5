//! Console sessions: what a browser holds after signing in with an API token.
//!
//! Browsers cannot send a bearer header on an `EventSource`, so a person
//! signs in once with their token and gets a session cookie instead. The
//! server keeps only the SHA-256 of each session secret (256 random bits,
//! like a token), the token it was opened with, and when it expires. A
//! session grants what its token grants, so revoking the token ends every
//! session opened with it. Sessions live in memory: a restart signs
//! everyone out, which costs a sign-in and keeps no secret on disk. Agents
//! sign in with their SIP login and password instead, for their own desktop.

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
#[derive(Debug, Clone)]
struct Session {
    grant: Grant,
    opened_ms: i64,
    expires_ms: i64,
}

/// What a session was opened with, and so what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// An API token: that token's role, for as long as the token is valid.
    Token(TokenHash),
    /// An agent's login and SIP password: that agent's own desktop only.
    Agent(String),
}

impl Sessions {
    /// Opens a session granting `grant`; returns its secret, for the cookie.
    pub fn open(&mut self, grant: Grant, now_ms: i64) -> String {
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
            grant,
            opened_ms: now_ms,
            expires_ms: now_ms + LIFETIME_MS,
        };
        self.open.insert(TokenHash::of(&secret).0, session);
        secret
    }

    /// What a session secret grants, while the session has not expired.
    pub fn grant(&self, secret: &str, now_ms: i64) -> Option<Grant> {
        let session = self.open.get(&TokenHash::of(secret).0)?;
        (session.expires_ms > now_ms).then(|| session.grant.clone())
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
        let token = Grant::Token(TokenHash::of("hotline_abc"));
        let secret = sessions.open(token.clone(), 1_000);
        assert_eq!(sessions.grant(&secret, 1_000), Some(token.clone()));
        let late = 1_000 + LIFETIME_MS - 1;
        assert_eq!(sessions.grant(&secret, late), Some(token));
        assert_eq!(sessions.grant(&secret, 1_000 + LIFETIME_MS), None);
        assert_eq!(sessions.grant("hotline_guess", 1_000), None);
        let agent = sessions.open(Grant::Agent("alice".into()), 0);
        assert_eq!(
            sessions.grant(&agent, 0),
            Some(Grant::Agent("alice".into()))
        );
    }

    #[test]
    fn only_the_hash_of_a_session_is_kept_and_sign_out_ends_it() {
        let mut sessions = Sessions::default();
        let secret = sessions.open(t(), 0);
        let kept = format!("{sessions:?}");
        assert!(!kept.contains(&secret[8..]), "{kept}");
        sessions.close(&secret);
        assert_eq!(sessions.grant(&secret, 0), None);
    }

    #[test]
    fn expired_sessions_are_dropped_and_their_number_is_bounded() {
        let mut sessions = Sessions::default();
        let first = sessions.open(t(), 0);
        sessions.open(t(), LIFETIME_MS + 1);
        assert_eq!(sessions.open.len(), 1);
        assert_eq!(sessions.grant(&first, 0), None);
        for i in 0..MOST as i64 + 5 {
            sessions.open(t(), LIFETIME_MS + 2 + i);
        }
        assert_eq!(sessions.open.len(), MOST);
    }

    fn t() -> Grant {
        Grant::Token(TokenHash::of("t"))
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
