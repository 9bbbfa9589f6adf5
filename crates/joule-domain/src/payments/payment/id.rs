//! Identifiers of payments and of their receipts.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::kernel::ids::IdError;

/// Joule's identifier of a payment (UUIDv7, so ids sort by creation time,
/// like [`SessionId`](crate::kernel::ids::SessionId)). It is also the subject of
/// every gateway idempotency key of the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(Uuid);

impl PaymentId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| IdError::NotUuid { what: "payment id" })
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The secret part of a receipt link (`/receipts/{token}`): whoever holds
/// it may read the receipt, so it is 128 random bits, never derived from
/// the payment id (which sorts by time and is guessable). The domain does
/// no I/O, so the caller draws the bytes from a CSPRNG and hands them in.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReceiptToken(String);

impl ReceiptToken {
    /// Hex digits of a token: 16 bytes.
    pub const LEN: usize = 32;

    /// The token for 16 random bytes, as 32 lower-case hex digits.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        use fmt::Write;
        let mut out = String::with_capacity(Self::LEN);
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        Self(out)
    }

    /// A token read back from storage or a URL.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        const WHAT: &str = "receipt token";
        if raw.len() != Self::LEN {
            return Err(IdError::OutOfRange { what: WHAT });
        }
        if let Some(ch) = raw
            .chars()
            .find(|c| !(c.is_ascii_digit() || ('a'..='f').contains(c)))
        {
            return Err(IdError::BadChar { what: WHAT, ch });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Kept out of logs: the token is a bearer secret.
impl fmt::Debug for ReceiptToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_token_is_32_hex_digits_and_round_trips() {
        let t = ReceiptToken::from_random_bytes([0xab; 16]);
        assert_eq!(t.as_str(), "ab".repeat(16));
        assert_eq!(ReceiptToken::parse(t.as_str()).unwrap(), t);
        assert!(ReceiptToken::parse("AB").is_err());
        assert!(ReceiptToken::parse(&"AB".repeat(16)).is_err());
        assert!(ReceiptToken::parse(&"g0".repeat(16)).is_err());
        assert_eq!(format!("{t:?}"), "ReceiptToken(…)");
    }

    #[test]
    fn payment_id_parses_what_it_prints() {
        let id = PaymentId::new_v7();
        assert_eq!(PaymentId::parse(&id.to_string()).unwrap(), id);
        assert!(PaymentId::parse("nope").is_err());
    }
}
