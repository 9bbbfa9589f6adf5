//! Charger passwords (OCPP 1.6 security profile 1: HTTP Basic auth).
//!
//! Stored as Argon2id PHC strings. Verification is deliberately slow, so it
//! runs on the blocking pool, and a bounded cache remembers recently verified
//! (charger, hash, password) triples as SHA-256 digests: a reconnect storm of
//! thousands of chargers then costs one Argon2 run per charger, not one per
//! attempt. The cache key covers the stored hash, so a password change
//! invalidates it; it never holds a plain password.
//!
//! Cost parameters: charger passwords are machine secrets of 16–40
//! characters (OCPP security whitepaper `AuthorizationKey`; the API refuses
//! shorter ones), so the memory-hard work factor only has to make a stolen
//! hash useless for low-entropy guesses, not protect a human password.
//! New hashes use Argon2id with 4 MiB and one pass (about 2 ms on one core),
//! so a reconnect storm of 500 chargers/s after a restart (cold cache) stays
//! within one core. Existing hashes verify with the parameters stored in
//! their PHC string, so the cost can be raised later without a migration.
//! At most [`MAX_CONCURRENT_VERIFICATIONS`] run at once: a flood of
//! handshakes waits in line instead of spawning a blocking thread and a
//! memory block each.

use std::collections::HashSet;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// Most cache entries kept; the cache is emptied when it is full (simple and
/// bounded; a full refill costs one Argon2 run per charger).
const CACHE_CAPACITY: usize = 100_000;

/// Memory of a new hash, in KiB, and its passes (see the module docs).
const MEMORY_KIB: u32 = 4096;
const PASSES: u32 = 1;

/// Argon2 verifications allowed at the same time.
pub const MAX_CONCURRENT_VERIFICATIONS: usize = 4;

/// Argon2id hashing and verification with a verification cache.
#[derive(Debug)]
pub struct Argon2Passwords {
    verified: Mutex<HashSet<[u8; 32]>>,
    permits: tokio::sync::Semaphore,
}

impl Default for Argon2Passwords {
    fn default() -> Self {
        Self {
            verified: Mutex::default(),
            permits: tokio::sync::Semaphore::new(MAX_CONCURRENT_VERIFICATIONS),
        }
    }
}

impl Argon2Passwords {
    pub fn new() -> Self {
        Self::default()
    }

    fn hasher() -> Result<Argon2<'static>, PasswordError> {
        let params =
            Params::new(MEMORY_KIB, PASSES, 1, None).map_err(|e| PasswordError(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Verifies a charger's password at the handshake: from the cache when
    /// possible, else on the blocking pool, with at most
    /// [`MAX_CONCURRENT_VERIFICATIONS`] Argon2 runs in flight.
    pub async fn verify_charger(
        self: &std::sync::Arc<Self>,
        charger: &str,
        plain: &str,
        phc: &str,
    ) -> bool {
        let key = cache_key(charger, plain, phc);
        if self.lock().contains(&key) {
            return true;
        }
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let this = std::sync::Arc::clone(self);
        let (charger, plain, phc) = (charger.to_owned(), plain.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || this.verify_cached(&charger, &plain, &phc))
            .await
            .unwrap_or(false)
    }

    /// Hashes `plain` into an Argon2id PHC string with a random salt.
    pub fn hash(&self, plain: &str) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError(e.to_string()))?;
        Self::hasher()?
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError(e.to_string()))
    }

    /// Whether `plain` matches the PHC string `phc` (false for a malformed
    /// hash). Synchronous and slow: call it on a blocking thread.
    pub fn verify(&self, plain: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => Argon2::default()
                .verify_password(plain.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// [`Self::verify`] for one charger, answered from the cache when this
    /// exact (charger, hash, password) was verified before.
    pub fn verify_cached(&self, charger: &str, plain: &str, phc: &str) -> bool {
        let key = cache_key(charger, plain, phc);
        if self.lock().contains(&key) {
            return true;
        }
        let ok = self.verify(plain, phc);
        if ok {
            let mut cache = self.lock();
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key);
        }
        ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        // A poisoned cache is still a valid set of digests.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The domain's port, so the REST API hashes operator-set passwords in the
/// format the handshake verifies.
impl joule_domain::ports::credentials::PasswordHasher for Argon2Passwords {
    fn hash(&self, plain: &str) -> Result<String, String> {
        Argon2Passwords::hash(self, plain).map_err(|e| e.to_string())
    }
}

fn cache_key(charger: &str, plain: &str, phc: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [charger, phc, plain] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let p = Argon2Passwords::new();
        let phc = p.hash("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=4096,t=1,p=1$"), "{phc}");
        assert!(p.verify("s3cret", &phc));
        assert!(!p.verify("wrong", &phc));
        assert!(!p.verify("s3cret", "not a hash"));
    }

    #[test]
    fn cache_is_keyed_by_charger_hash_and_password() {
        let p = Argon2Passwords::new();
        let phc = p.hash("pw").unwrap();
        assert!(p.verify_cached("CP1", "pw", &phc));
        assert!(p.verify_cached("CP1", "pw", &phc));
        assert!(!p.verify_cached("CP1", "other", &phc));
        let phc2 = p.hash("new").unwrap();
        assert!(!p.verify_cached("CP1", "pw", &phc2));
    }
}
