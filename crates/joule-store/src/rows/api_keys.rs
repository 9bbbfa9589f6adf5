//! API keys.

use joule_domain::access::api_key::ApiKey;

use super::{RowRead, R};
use crate::values;

/// `id, name, prefix, secret_hash, scopes, created_at` of an API key.
pub(crate) fn api_key(row: &impl RowRead) -> R<ApiKey> {
    Ok(ApiKey {
        id: row.int(0)?,
        name: row.text(1)?,
        prefix: row.text(2)?,
        secret_hash: row.text(3)?,
        scopes: values::parse_api_scopes(&row.text(4)?)?,
        created_at: row.ts(5)?,
    })
}
