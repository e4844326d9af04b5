//! Stateless nonces: the issue time and a counter, signed with HMAC-SHA256.
//!
//! A nonce is `hex(issued_ms) hex(serial) hex(mac)`: the milliseconds since
//! the issuer was made, a serial that makes every nonce unique, and the first
//! 16 bytes of the HMAC of both under the secret. The secret is made anew at
//! each start, so a nonce from before a restart is simply not ours: a right
//! response with it is answered `stale=true` and the phone retries at once.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Issues and checks nonces.
pub struct Nonces {
    secret: [u8; 32],
    origin: Instant,
    lifetime: Duration,
    serial: u64,
}

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours and usable until `expires`.
    Fresh { expires: Instant },
    /// Ours but older than the lifetime.
    Expired,
    /// Not issued by us (forged, garbled, or from before a restart).
    Foreign,
}

/// Bytes of the HMAC kept in a nonce: 128 bits cannot be guessed.
const MAC_LEN: usize = 16;

/// Hex digits of a nonce: two u64 and the MAC.
const NONCE_LEN: usize = 2 * (8 + 8 + MAC_LEN);

impl Nonces {
    /// An issuer signing with `secret`; times count from `origin`.
    pub fn new(secret: [u8; 32], origin: Instant, lifetime: Duration) -> Nonces {
        Nonces {
            secret,
            origin,
            lifetime,
            serial: 0,
        }
    }

    /// A new nonce issued at `now`.
    pub fn issue(&mut self, now: Instant) -> String {
        self.serial += 1;
        let issued = now.saturating_duration_since(self.origin).as_millis() as u64;
        let mut nonce = format!("{issued:016x}{:016x}", self.serial);
        for byte in self.mac(issued, self.serial) {
            nonce.push_str(&format!("{byte:02x}"));
        }
        nonce
    }

    /// Whether `nonce` is ours and still fresh at `now`.
    pub fn check(&self, nonce: &str, now: Instant) -> NonceCheck {
        let Some((issued, serial, mac)) = split(nonce) else {
            return NonceCheck::Foreign;
        };
        if !super::constant_time_eq(&self.mac(issued, serial), &mac) {
            return NonceCheck::Foreign;
        }
        let expires = self.origin + Duration::from_millis(issued) + self.lifetime;
        if now >= expires {
            NonceCheck::Expired
        } else {
            NonceCheck::Fresh { expires }
        }
    }

    fn mac(&self, issued: u64, serial: u64) -> [u8; MAC_LEN] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(&issued.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }
}

/// The issue time, serial and MAC of a well-formed nonce.
fn split(nonce: &str) -> Option<(u64, u64, [u8; MAC_LEN])> {
    if nonce.len() != NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let issued = u64::from_str_radix(&nonce[..16], 16).ok()?;
    let serial = u64::from_str_radix(&nonce[16..32], 16).ok()?;
    let mut mac = [0; MAC_LEN];
    for (i, byte) in mac.iter_mut().enumerate() {
        let at = 32 + 2 * i;
        *byte = u8::from_str_radix(&nonce[at..at + 2], 16).ok()?;
    }
    Some((issued, serial, mac))
}
