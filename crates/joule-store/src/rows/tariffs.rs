//! Tariffs.

use joule_domain::pricing::stored::StoredTariff;

use super::{RowRead, R};
use crate::values;

/// `body, extensions, version, created_at, updated_at` of a tariff version.
pub(crate) fn tariff(row: &impl RowRead) -> R<StoredTariff> {
    values::parse_tariff(
        &row.text(0)?,
        &row.text(1)?,
        row.int(2)?,
        row.ts(3)?,
        row.ts(4)?,
    )
}
