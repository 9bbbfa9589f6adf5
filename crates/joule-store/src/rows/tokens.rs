//! Id tokens.

use joule_domain::charging::token::{IdTokenType, Token, TokenKind, TokenStatus};
use joule_domain::kernel::language::LanguageCode;

use super::{RowRead, R};
use crate::values::{self, corrupt, parse_or_corrupt};

/// A row of `token_cols!()`.
pub(crate) fn token(row: &impl RowRead) -> R<Token> {
    let allowed: Vec<String> = match row.opt_json(5)? {
        Some(v) => serde_json::from_value(v).map_err(corrupt)?,
        None => return Err(corrupt("allowed_chargers is NULL")),
    };
    Ok(Token {
        id_tag: values::id_tag(&row.text(0)?)?,
        token_type: parse_or_corrupt(&row.text(10)?, "token type", IdTokenType::parse)?,
        kind: parse_or_corrupt(&row.text(1)?, "token kind", TokenKind::parse)?,
        status: parse_or_corrupt(&row.text(2)?, "token status", TokenStatus::parse)?,
        expires_at: row.opt_ts(3)?,
        parent_id_tag: row
            .opt_text(4)?
            .as_deref()
            .map(values::id_tag)
            .transpose()?,
        allowed_chargers: allowed
            .iter()
            .map(|s| values::charger_id(s))
            .collect::<R<_>>()?,
        label: row.opt_text(6)?,
        created_at: row.ts(7)?,
        updated_at: row.ts(8)?,
        language: row
            .opt_text(9)?
            .as_deref()
            .map(LanguageCode::parse)
            .transpose()
            .map_err(corrupt)?,
    })
}
