//! Id tokens (RFID/NFC uids, app tokens, ...) and who they let charge where.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ChargerId, IdToken};
use crate::language::LanguageCode;

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
    /// [`crate::language::choose_language`]).
    pub language: Option<LanguageCode>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id_tag: IdToken,
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
