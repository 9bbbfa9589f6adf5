//! API keys for the REST API. Keys are long random secrets, so a fast hash
//! (SHA-256, computed by the API adapter) is enough to store them: only the
//! hash and a lookup prefix are kept.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a key may do. Issue-by-issue this grows (site hosts, partners); today
/// there is the operator's full access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    Admin,
}

impl ApiScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    /// Public, unique lookup part of the key.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub secret_hash: String,
    pub scopes: Vec<ApiScope>,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub scopes: Vec<ApiScope>,
    pub created_at: DateTime<Utc>,
}
