//! Identifier newtypes. Each is built only through `parse`, so a value that
//! exists is a value that is valid: handlers never re-check them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} must be at most {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains a character that is not allowed: {ch:?}")]
    BadChar { what: &'static str, ch: char },
    #[error("{what} is out of range")]
    OutOfRange { what: &'static str },
    #[error("{what} is not a valid UUID")]
    NotUuid { what: &'static str },
}

/// A charge point's identity: the last path segment of its WebSocket URL and
/// the Basic-auth username of security profile 1.
///
/// OCPP-J limits it to 48 characters of `[A-Za-z0-9*-_=+|@.]`; `:` is excluded
/// because it separates user and password in HTTP Basic auth.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChargerId(String);

impl ChargerId {
    pub const MAX_LEN: usize = 48;

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        check_text(raw, "charger id", Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || "*-_=+|@.".contains(c)
        })
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChargerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChargerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An authorization identifier as a charger presents it (RFID/NFC uid, eMAID,
/// app or QR token, ...). Sized for the widest protocol Joule speaks: OCPP
/// 2.0.1 `IdTokenType.idToken` and OCPI `Token.uid` are `CiString36`, while OCPP
/// 1.6 `idTag` is `CiString20`, so the 1.6 adapter refuses to send a longer one
/// (see `docs/adr/0012-id-tokens.md`). Case-insensitive in every protocol, so
/// equality and lookups use [`IdToken::key`], while the original spelling is
/// kept for display and for echoing back to chargers.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct IdToken(String);

impl IdToken {
    pub const MAX_LEN: usize = 36;

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        check_text(raw, "id tag", Self::MAX_LEN, |c| {
            c.is_ascii() && !c.is_ascii_control()
        })
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-folded form used for uniqueness and lookups.
    pub fn key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl PartialEq for IdToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for IdToken {}

impl std::hash::Hash for IdToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl fmt::Display for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A connector number on a charger. `0` addresses the charger as a whole
/// (OCPP 1.6 StatusNotification and meter values use it that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectorId(u32);

impl ConnectorId {
    pub const WHOLE_CHARGER: ConnectorId = ConnectorId(0);
    pub const MAX: u32 = 1000;

    pub fn new(n: u32) -> Result<Self, IdError> {
        if n > Self::MAX {
            return Err(IdError::OutOfRange {
                what: "connector id",
            });
        }
        Ok(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn is_whole_charger(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The integer transaction id that an OCPP 1.6 charger quotes in
/// StopTransaction and MeterValues. Assigned by Joule, unique per server (per
/// database, so also across nodes), and kept inside `i32` because OCPP 1.6
/// types it as a JSON integer that many chargers store in 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransactionId(i64);

impl TransactionId {
    pub fn new(n: i64) -> Result<Self, IdError> {
        if !(1..=i64::from(i32::MAX)).contains(&n) {
            return Err(IdError::OutOfRange {
                what: "transaction id",
            });
        }
        Ok(Self(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Joule's own, protocol-independent session identifier (UUIDv7, so ids sort by
/// creation time). OCPP transaction ids are attributes of a session, not its
/// identity: OCPP 2.0.1 lets the charger choose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| IdError::NotUuid { what: "session id" })
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Checks an operator-chosen slug (`madrid-centro`, `fleet-42`): 1 to `max`
/// characters of lowercase ASCII letters, digits, `-` and `_`, starting
/// with a letter or digit, so that it is stable in URLs, events and
/// assignments. `what` names the id in errors.
pub(crate) fn parse_slug(raw: &str, what: &'static str, max: usize) -> Result<String, IdError> {
    if let Some(first) = raw.chars().next() {
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) && raw.chars().count() <= max {
            return Err(IdError::BadChar { what, ch: first });
        }
    }
    check_text(raw, what, max, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
    })
}

/// The one shape of every textual id: 1 to `max` characters, each one
/// `allowed`; the first error in that order (empty, too long, bad
/// character) names `what`.
fn check_text(
    raw: &str,
    what: &'static str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<String, IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty { what });
    }
    if raw.chars().count() > max {
        return Err(IdError::TooLong { what, max });
    }
    if let Some(ch) = raw.chars().find(|c| !allowed(*c)) {
        return Err(IdError::BadChar { what, ch });
    }
    Ok(raw.to_owned())
}

/// A slug identifier type (see [`parse_slug`]): parsed on deserialization,
/// written as its string.
macro_rules! slug_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = 64;

            pub fn parse(raw: &str) -> Result<Self, $crate::kernel::ids::IdError> {
                $crate::kernel::ids::parse_slug(raw, $what, Self::MAX_LEN).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use slug_id;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charger_id_accepts_ocpp_identity_characters() {
        assert!(ChargerId::parse("CP-001_a.b@c+d|e=f*").is_ok());
    }

    #[test]
    fn charger_id_refuses_colon_slash_space_and_overlong() {
        assert!(matches!(
            ChargerId::parse("a:b"),
            Err(IdError::BadChar { ch: ':', .. })
        ));
        assert!(ChargerId::parse("a/b").is_err());
        assert!(ChargerId::parse("a b").is_err());
        assert!(ChargerId::parse("").is_err());
        assert!(ChargerId::parse(&"x".repeat(49)).is_err());
        assert!(ChargerId::parse(&"x".repeat(48)).is_ok());
    }

    #[test]
    fn id_tag_compares_case_insensitively_and_keeps_spelling() {
        let a = IdToken::parse("04a1b2c3").unwrap();
        let b = IdToken::parse("04A1B2C3").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.key(), "04A1B2C3");
        assert_eq!(a.as_str(), "04a1b2c3");
        assert!(IdToken::parse(&"1".repeat(21)).is_ok());
    }

    #[test]
    fn id_token_holds_36_characters_and_refuses_37() {
        let emaid = "NL-TNM-C00122045-K".to_owned() + &"X".repeat(18);
        assert_eq!(emaid.len(), 36);
        assert_eq!(IdToken::parse(&emaid).unwrap().as_str(), emaid);
        assert!(matches!(
            IdToken::parse(&"1".repeat(37)),
            Err(IdError::TooLong { max: 36, .. })
        ));
    }

    #[test]
    fn id_token_refuses_empty_control_and_non_ascii() {
        assert!(matches!(IdToken::parse(""), Err(IdError::Empty { .. })));
        assert!(IdToken::parse("a\tb").is_err());
        assert!(IdToken::parse("café").is_err());
    }

    #[test]
    fn transaction_id_stays_in_i32() {
        assert!(TransactionId::new(0).is_err());
        assert!(TransactionId::new(i64::from(i32::MAX)).is_ok());
        assert!(TransactionId::new(i64::from(i32::MAX) + 1).is_err());
    }
}
