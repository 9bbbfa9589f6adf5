//! Errors of the domain and of its storage port.

use crate::kernel::ids::IdError;

/// What can go wrong behind a storage port. Backends map their own errors
/// into these, so callers never see a SQL error type.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} already exists")]
    Conflict { entity: &'static str },
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

/// Errors of domain services.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    InvalidId(#[from] IdError),
    #[error("charger {0} is not known")]
    UnknownCharger(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}
