//! Id token resources.

use chrono::{DateTime, Utc};
use joule_domain::charging::token as domain;
use joule_domain::kernel::ids;
use joule_domain::kernel::language::LanguageCode;
use joule_domain::ChargerId;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::{check_label, double_option};
use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// How a token is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Rfid,
    App,
    Other,
}

impl From<domain::TokenKind> for TokenKind {
    fn from(k: domain::TokenKind) -> Self {
        match k {
            domain::TokenKind::Rfid => Self::Rfid,
            domain::TokenKind::App => Self::App,
            domain::TokenKind::Other => Self::Other,
        }
    }
}

impl From<TokenKind> for domain::TokenKind {
    fn from(k: TokenKind) -> Self {
        match k {
            TokenKind::Rfid => Self::Rfid,
            TokenKind::App => Self::App,
            TokenKind::Other => Self::Other,
        }
    }
}

/// What kind of identifier a token is (OCPP 2.0.1 / OCPI spelling). The
/// fields carry the domain's [`domain::IdTokenType`] itself, whose serde
/// spelling is the wire's; this is its schema, built from the domain's list
/// so the document cannot drift from what is accepted.
#[derive(Debug)]
pub struct IdTokenType;

impl PartialSchema for IdTokenType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The token's type, as OCPP 2.0.1 and OCPI spell it. An OCPP 1.6 charger is not told it.",
            ))
            .enum_values(Some(domain::IdTokenType::ALL.map(domain::IdTokenType::as_str)))
            .into()
    }
}

impl ToSchema for IdTokenType {}

/// The operator-set status of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
}

impl From<domain::TokenStatus> for TokenStatus {
    fn from(s: domain::TokenStatus) -> Self {
        match s {
            domain::TokenStatus::Accepted => Self::Accepted,
            domain::TokenStatus::Blocked => Self::Blocked,
            domain::TokenStatus::Expired => Self::Expired,
            domain::TokenStatus::Invalid => Self::Invalid,
        }
    }
}

impl From<TokenStatus> for domain::TokenStatus {
    fn from(s: TokenStatus) -> Self {
        match s {
            TokenStatus::Accepted => Self::Accepted,
            TokenStatus::Blocked => Self::Blocked,
            TokenStatus::Expired => Self::Expired,
            TokenStatus::Invalid => Self::Invalid,
        }
    }
}

/// An id token (RFID/NFC uid, app token, ...).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdToken {
    /// As the charger presents it (OCPP `idTag`, case-insensitive).
    pub id_tag: String,
    #[schema(value_type = IdTokenType)]
    pub token_type: domain::IdTokenType,
    pub kind: TokenKind,
    pub status: TokenStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// Group identity (OCPP `parentIdTag`).
    pub parent_id_tag: Option<String>,
    /// When non-empty, the only chargers this token may start.
    pub allowed_chargers: Vec<String>,
    pub label: Option<String>,
    /// The driver's language (ISO 639-1): texts on chargers are in it when
    /// Joule has them (en, es, fr, de), else the site's or English.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An id token with the groups it belongs to (`GET /id-tokens/{id_tag}`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdTokenDetail {
    #[serde(flatten)]
    pub token: IdToken,
    /// The user groups the token belongs to, sorted; they decide where it
    /// may charge at private and restricted chargers.
    pub groups: Vec<String>,
}

impl From<domain::Token> for IdToken {
    fn from(t: domain::Token) -> Self {
        Self {
            id_tag: t.id_tag.to_string(),
            token_type: t.token_type,
            kind: t.kind.into(),
            status: t.status.into(),
            expires_at: t.expires_at,
            parent_id_tag: t.parent_id_tag.map(|p| p.to_string()),
            allowed_chargers: t.allowed_chargers.iter().map(ToString::to_string).collect(),
            label: t.label,
            language: t.language.map(|l| l.to_string()),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

fn parse_chargers(errors: &mut QueryErrors, raw: Vec<String>) -> Vec<ChargerId> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, raw)| errors.charger_id(&format!("allowed_chargers[{i}]"), Some(raw)))
        .collect()
}

fn parse_language(errors: &mut QueryErrors, raw: Option<String>) -> Option<LanguageCode> {
    errors.opt("language", raw.as_deref(), LanguageCode::parse)
}

fn parse_parent(errors: &mut QueryErrors, raw: Option<String>) -> Option<ids::IdToken> {
    errors.id_tag("parent_id_tag", raw.as_deref())
}

/// Body of `POST /id-tokens`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdToken {
    /// Up to 36 printable ASCII characters (an OCPP 1.6 charger takes 20).
    pub id_tag: String,
    /// Defaults to what `kind` suggests: `ISO14443` for `rfid`, `Central`
    /// for `app`, `Local` for `other`.
    #[serde(default)]
    #[schema(value_type = Option<IdTokenType>)]
    pub token_type: Option<domain::IdTokenType>,
    /// Defaults to `rfid`.
    #[serde(default)]
    pub kind: Option<TokenKind>,
    /// Defaults to `accepted`.
    #[serde(default)]
    pub status: Option<TokenStatus>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub parent_id_tag: Option<String>,
    /// Empty or absent: any charger.
    #[serde(default)]
    pub allowed_chargers: Vec<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// The driver's language, ISO 639-1 (e.g. `es`; any case).
    #[serde(default)]
    pub language: Option<String>,
}

impl CreateIdToken {
    pub fn validate(self) -> Result<domain::NewToken, ApiError> {
        let mut errors = QueryErrors::new();
        let id_tag = errors.id_tag("id_tag", Some(&self.id_tag));
        let parent_id_tag = parse_parent(&mut errors, self.parent_id_tag);
        let allowed_chargers = parse_chargers(&mut errors, self.allowed_chargers);
        let label = check_label(&mut errors, "label", self.label);
        let language = parse_language(&mut errors, self.language);
        errors.finish()?;
        let id_tag = id_tag.ok_or_else(|| ApiError::field("id_tag", "is invalid"))?;
        let kind = self.kind.map_or(domain::TokenKind::Rfid, Into::into);
        Ok(domain::NewToken {
            id_tag,
            token_type: self
                .token_type
                .unwrap_or_else(|| domain::IdTokenType::for_kind(kind)),
            kind,
            status: self
                .status
                .map_or(domain::TokenStatus::Accepted, Into::into),
            expires_at: self.expires_at,
            parent_id_tag,
            allowed_chargers,
            label,
            language,
        })
    }
}

/// Body of `PATCH /id-tokens/{id_tag}`. Absent fields stay as they are;
/// `null` clears `expires_at`, `parent_id_tag` and `label`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIdToken {
    #[serde(default)]
    #[schema(value_type = Option<IdTokenType>)]
    pub token_type: Option<domain::IdTokenType>,
    #[serde(default)]
    pub kind: Option<TokenKind>,
    #[serde(default)]
    pub status: Option<TokenStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub parent_id_tag: Option<Option<String>>,
    /// Replaces the list; `[]` allows every charger.
    #[serde(default)]
    pub allowed_chargers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub label: Option<Option<String>>,
    /// ISO 639-1; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub language: Option<Option<String>>,
}

impl UpdateIdToken {
    pub fn validate(self) -> Result<domain::TokenPatch, ApiError> {
        let mut errors = QueryErrors::new();
        let parent_id_tag = self.parent_id_tag.map(|p| parse_parent(&mut errors, p));
        let allowed_chargers = self
            .allowed_chargers
            .map(|list| parse_chargers(&mut errors, list));
        let label = self.label.map(|l| check_label(&mut errors, "label", l));
        let language = self.language.map(|l| parse_language(&mut errors, l));
        errors.finish()?;
        Ok(domain::TokenPatch {
            token_type: self.token_type,
            kind: self.kind.map(Into::into),
            status: self.status.map(Into::into),
            expires_at: self.expires_at,
            parent_id_tag,
            allowed_chargers,
            label,
            language,
        })
    }
}

/// Query of `GET /id-tokens`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdTokenQuery {
    /// Only tokens with this status.
    #[param(value_type = Option<TokenStatus>)]
    pub status: Option<String>,
    /// Only tokens of this group.
    pub parent_id_tag: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl IdTokenQuery {
    pub fn parse(
        self,
    ) -> Result<(domain::TokenFilter, joule_domain::kernel::page::Page), ApiError> {
        let mut errors = QueryErrors::new();
        let status = errors.opt("status", self.status.as_deref(), |raw| {
            domain::TokenStatus::parse(raw)
                .ok_or("must be one of accepted, blocked, expired, invalid")
        });
        let parent_id_tag = errors.id_tag("parent_id_tag", self.parent_id_tag.as_deref());
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok((
            domain::TokenFilter {
                status,
                parent_id_tag,
            },
            page,
        ))
    }
}
