//! Charger credentials as a port: the domain never holds a plain charger
//! password, and which algorithm hashes it (Argon2 today) belongs to the
//! adapter that verifies it at the WebSocket handshake. The REST API takes this
//! port to hash a password an operator sets, so both sides agree on the format
//! without depending on each other.

/// Turns a plain charger password into the string stored as
/// `password_hash` (a self-describing PHC string, e.g. `$argon2id$...`).
pub trait PasswordHasher: Send + Sync {
    /// Hashes with a fresh salt. Errors carry the hasher's own message.
    fn hash(&self, plain: &str) -> Result<String, String>;
}
