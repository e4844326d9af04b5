//! SIP passwords minted for agents' browser sessions.
//!
//! The agent desktop registers the browser as one of the agent's devices.
//! Rather than keep the agent's own SIP password in the page, the server
//! mints a random password per page load, good for a limited time, which the
//! registrar accepts beside the stored one. It is handed only to the agent's
//! own signed-in session (`POST /agent/sip`), never to another role, and a
//! leaked one expires on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::sip::digest::{Algorithm, ha1};

/// How long a minted password registers; the page asks again when it reloads.
pub const MINTED_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Minted passwords kept per agent: a few tabs or reloads, the oldest dropped.
const PER_AGENT: usize = 8;

/// The minted passwords of every agent, shared by the API that mints them
/// and the registrar that checks them.
#[derive(Clone, Debug)]
pub struct SessionCredentials {
    realm: String,
    minted: Arc<Mutex<HashMap<String, Vec<Minted>>>>,
}

#[derive(Debug)]
struct Minted {
    /// Which sign-in it was minted for, so signing out revokes it.
    session: String,
    ha1_md5: String,
    ha1_sha256: String,
    expires_at: Instant,
}

impl SessionCredentials {
    /// An empty store for passwords of `realm`.
    pub fn new(realm: impl Into<String>) -> SessionCredentials {
        SessionCredentials {
            realm: realm.into(),
            minted: Arc::default(),
        }
    }

    /// A new random password for `login` signed in as `session` (any tag
    /// that names the sign-in), good until `now` + [`MINTED_LIFETIME`] or
    /// until [`SessionCredentials::revoke`] of that session.
    pub fn mint(&self, login: &str, session: &str, now: Instant, rng: &mut impl Rng) -> String {
        let password: String = (0..24)
            .map(|_| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[rng.random_range(0..32)]))
            .collect();
        let minted = Minted {
            session: session.to_owned(),
            ha1_md5: ha1(Algorithm::Md5, login, &self.realm, &password),
            ha1_sha256: ha1(Algorithm::Sha256, login, &self.realm, &password),
            expires_at: now + MINTED_LIFETIME,
        };
        let mut all = self.lock();
        let list = all.entry(login.to_owned()).or_default();
        list.retain(|m| m.expires_at > now);
        if list.len() >= PER_AGENT {
            list.remove(0);
        }
        list.push(minted);
        password
    }

    /// Revokes the passwords minted for `session` (the agent signed out);
    /// their browsers' next REGISTER is refused.
    pub fn revoke(&self, session: &str) {
        let mut all = self.lock();
        for list in all.values_mut() {
            list.retain(|m| m.session != session);
        }
        all.retain(|_, list| !list.is_empty());
    }

    /// The HA1s of `login`'s passwords still good at `now`.
    pub fn ha1s(&self, login: &str, algorithm: Algorithm, now: Instant) -> Vec<String> {
        let all = self.lock();
        let live = all.get(login).into_iter().flatten();
        live.filter(|m| m.expires_at > now)
            .map(|m| match algorithm {
                Algorithm::Md5 => m.ha1_md5.clone(),
                Algorithm::Sha256 => m.ha1_sha256.clone(),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Minted>>> {
        // A poisoned lock only means another task panicked mid-update.
        self.minted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_minted_password_is_the_agents_until_it_expires() {
        let store = SessionCredentials::new("hotline");
        let now = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let password = store.mint("alice", "tab-1", now, &mut rng);
        let expected = ha1(Algorithm::Md5, "alice", "hotline", &password);
        assert_eq!(store.ha1s("alice", Algorithm::Md5, now), vec![expected]);
        assert!(store.ha1s("bob", Algorithm::Md5, now).is_empty());
        assert!(
            store
                .ha1s("alice", Algorithm::Md5, now + MINTED_LIFETIME)
                .is_empty()
        );
    }

    #[test]
    fn signing_out_revokes_that_sign_ins_passwords_only() {
        let store = SessionCredentials::new("hotline");
        let now = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        store.mint("alice", "tab-1", now, &mut rng);
        store.mint("alice", "tab-2", now, &mut rng);
        store.revoke("tab-1");
        assert_eq!(store.ha1s("alice", Algorithm::Md5, now).len(), 1);
        store.revoke("tab-2");
        assert!(store.ha1s("alice", Algorithm::Md5, now).is_empty());
    }

    #[test]
    fn only_the_latest_few_are_kept() {
        let store = SessionCredentials::new("hotline");
        let now = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..PER_AGENT + 3 {
            store.mint("alice", "tab-1", now, &mut rng);
        }
        assert_eq!(store.ha1s("alice", Algorithm::Sha256, now).len(), PER_AGENT);
    }
}
