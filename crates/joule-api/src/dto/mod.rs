//! Wire types of the REST API and their conversions to and from the domain.
//!
//! Domain types never derive `ToSchema` or shape the JSON: each resource has
//! its own DTOs here, converted in one place. Enums are mirrored with
//! exhaustive `match`es both ways, so a new domain variant fails to compile
//! until the API decides how to spell it.

pub mod account;
pub mod charger;
pub mod id_token;
pub mod kpi;
pub mod message;
pub mod payment;
pub mod session;
pub mod site;
pub mod tariff;
pub mod tariff_assignment;
pub mod terminal;
pub mod user_group;

use serde::{Deserialize, Deserializer};

use crate::extract::QueryErrors;

/// For PATCH bodies: a missing field is `None` (leave alone), `null` is
/// `Some(None)` (clear), a value is `Some(Some(v))`. Use with
/// `#[serde(default, deserialize_with = "double_option")]`.
pub(crate) fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Longest free-text label accepted.
pub const MAX_LABEL_CHARS: usize = 200;

/// Checks a free-text label: trimmed, non-empty, bounded. An empty string
/// is refused rather than silently stored; `null` clears a label.
pub(crate) fn check_label(
    errors: &mut QueryErrors,
    field: &str,
    raw: Option<String>,
) -> Option<String> {
    let raw = raw?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        errors.push(field, "must not be empty (send null to clear it)");
        return None;
    }
    if trimmed.chars().count() > MAX_LABEL_CHARS {
        errors.push(
            field,
            format!("must be at most {MAX_LABEL_CHARS} characters"),
        );
        return None;
    }
    Some(trimmed.to_owned())
}

/// Declares a page of a list endpoint: `{items, next_offset}`. Concrete
/// types (not a generic) so the OpenAPI schemas get plain names.
macro_rules! paged {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Offset of the next page; absent on the last page.
            pub next_offset: Option<u64>,
        }
    };
}

paged!(
    /// A page of chargers.
    ChargerPage,
    charger::Charger
);
paged!(
    /// A page of a charger's status history, newest first.
    StatusReportPage,
    charger::StatusReport
);
paged!(
    /// A page of id tokens.
    IdTokenPage,
    id_token::IdToken
);
paged!(
    /// A page of sessions, newest first.
    SessionPage,
    session::Session
);
paged!(
    /// A page of the message log, newest first.
    LogEntryPage,
    message::LogEntry
);
paged!(
    /// A page of tariffs, by id.
    TariffPage,
    tariff::Tariff
);
paged!(
    /// A page of user groups, by id.
    UserGroupPage,
    user_group::UserGroup
);
paged!(
    /// A page of sites, by id.
    SitePage,
    site::Site
);
paged!(
    /// A page of tariff assignments, oldest first.
    TariffAssignmentPage,
    tariff_assignment::TariffAssignment
);
paged!(
    /// A page of payments, newest first.
    PaymentPage,
    payment::Payment
);
paged!(
    /// A page of driver accounts, oldest first.
    AccountPage,
    account::Account
);
paged!(
    /// A page of payment terminals, oldest first.
    TerminalPage,
    terminal::Terminal
);
