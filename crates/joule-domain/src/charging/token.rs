//! Id tokens (RFID/NFC uids, app tokens, ...) and who they let charge where.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kernel::ids::{ChargerId, IdToken};
use crate::kernel::language::LanguageCode;

/// How a token is carried. Informational today; pricing and payments use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Rfid,
    App,
    Other,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rfid => "rfid",
            Self::App => "app",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "rfid" => Some(Self::Rfid),
            "app" => Some(Self::App),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
}

/// What kind of identifier a token is, in the spelling OCPP 2.0.1
/// (`IdTokenEnumType`) and OCPI (`TokenType`, `Token.type`) share, so both
/// adapters pass it through unchanged. OCPP 1.6 has no token type: its adapter
/// leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdTokenType {
    /// An RFID/NFC card's uid (ISO/IEC 14443): the usual charging card.
    #[serde(rename = "ISO14443")]
    Iso14443,
    /// A vicinity card's uid (ISO/IEC 15693).
    #[serde(rename = "ISO15693")]
    Iso15693,
    /// An e-mobility account id (ISO 15118 contract id, e.g. Plug & Charge).
    #[serde(rename = "eMAID")]
    EMaid,
    /// A code the driver types on the charger's keypad.
    KeyCode,
    /// Made up by the back office (an app, QR or web payment start).
    Central,
    /// Made up by the charger itself (e.g. a free-vend id).
    Local,
    /// The vehicle's MAC address (ISO 15118 autocharge).
    MacAddress,
    /// Charging without any authorization (a free charger).
    NoAuthorization,
}

impl IdTokenType {
    pub const ALL: [IdTokenType; 8] = [
        Self::Iso14443,
        Self::Iso15693,
        Self::EMaid,
        Self::KeyCode,
        Self::Central,
        Self::Local,
        Self::MacAddress,
        Self::NoAuthorization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iso14443 => "ISO14443",
            Self::Iso15693 => "ISO15693",
            Self::EMaid => "eMAID",
            Self::KeyCode => "KeyCode",
            Self::Central => "Central",
            Self::Local => "Local",
            Self::MacAddress => "MacAddress",
            Self::NoAuthorization => "NoAuthorization",
        }
    }

    /// Exact spelling only, as both protocols define it.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// The type a token gets when none is given: what its [`TokenKind`]
    /// says it most likely is (an RFID card, a back-office app token, or
    /// something else the operator made up). Migration 0013 filled the
    /// tokens stored before types existed by the same rule.
    pub fn for_kind(kind: TokenKind) -> Self {
        match kind {
            TokenKind::Rfid => Self::Iso14443,
            TokenKind::App => Self::Central,
            TokenKind::Other => Self::Local,
        }
    }
}

/// The operator-set status of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Blocked => "blocked",
            Self::Expired => "expired",
            Self::Invalid => "invalid",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "accepted" => Some(Self::Accepted),
            "blocked" => Some(Self::Blocked),
            "expired" => Some(Self::Expired),
            "invalid" => Some(Self::Invalid),
            _ => None,
        }
    }
}

/// A token known to Joule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Token {
    pub id_tag: IdToken,
    pub token_type: IdTokenType,
    pub kind: TokenKind,
    pub status: TokenStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// Group identity (OCPP `parentIdTag`): tokens sharing a parent count as
    /// one driver or fleet.
    pub parent_id_tag: Option<IdToken>,
    /// When non-empty, the only chargers this token may start.
    pub allowed_chargers: Vec<ChargerId>,
    pub label: Option<String>,
    /// The driver's language, for the texts a charger shows them (see
    /// [`crate::kernel::language::choose_language`]).
    pub language: Option<LanguageCode>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Token {
    /// Applies `patch` to the stored fields (not `updated_at`, which the
    /// store sets): one rule for both backends.
    pub fn apply(&mut self, patch: &TokenPatch) {
        if let Some(t) = patch.token_type {
            self.token_type = t;
        }
        if let Some(k) = patch.kind {
            self.kind = k;
        }
        if let Some(s) = patch.status {
            self.status = s;
        }
        if let Some(e) = patch.expires_at {
            self.expires_at = e;
        }
        if let Some(p) = &patch.parent_id_tag {
            self.parent_id_tag = p.clone();
        }
        if let Some(a) = &patch.allowed_chargers {
            self.allowed_chargers = a.clone();
        }
        if let Some(l) = &patch.label {
            self.label = l.clone();
        }
        if let Some(l) = &patch.language {
            self.language = l.clone();
        }
    }
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id_tag: IdToken,
    pub token_type: IdTokenType,
    pub kind: TokenKind,
    pub status: TokenStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub parent_id_tag: Option<IdToken>,
    pub allowed_chargers: Vec<ChargerId>,
    pub label: Option<String>,
    pub language: Option<LanguageCode>,
}

/// A partial update; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TokenPatch {
    pub token_type: Option<IdTokenType>,
    pub kind: Option<TokenKind>,
    pub status: Option<TokenStatus>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub parent_id_tag: Option<Option<IdToken>>,
    pub allowed_chargers: Option<Vec<ChargerId>>,
    pub label: Option<Option<String>>,
    pub language: Option<Option<LanguageCode>>,
}

/// Filter for listing tokens.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub status: Option<TokenStatus>,
    pub parent_id_tag: Option<IdToken>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_types_keep_the_ocpp_201_and_ocpi_spelling() {
        let spelled: Vec<&str> = IdTokenType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            spelled,
            [
                "ISO14443",
                "ISO15693",
                "eMAID",
                "KeyCode",
                "Central",
                "Local",
                "MacAddress",
                "NoAuthorization"
            ]
        );
        for t in IdTokenType::ALL {
            assert_eq!(IdTokenType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::from(t.as_str())
            );
        }
        assert_eq!(IdTokenType::parse("emaid"), None);
        assert_eq!(IdTokenType::parse("rfid"), None);
    }

    #[test]
    fn a_token_without_a_type_gets_the_one_its_kind_suggests() {
        assert_eq!(
            IdTokenType::for_kind(TokenKind::Rfid),
            IdTokenType::Iso14443
        );
        assert_eq!(IdTokenType::for_kind(TokenKind::App), IdTokenType::Central);
        assert_eq!(IdTokenType::for_kind(TokenKind::Other), IdTokenType::Local);
    }
}
