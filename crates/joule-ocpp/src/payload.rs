//! The two payloads of an exchange, and why a payload was refused.
//!
//! Shared by the schema check ([`crate::schema`]) and the typed 1.6 decoding
//! ([`crate::v16`]); kept apart from both so that neither imports the other
//! in a circle (ADR 0011): the schema table is indexed by
//! [`Action16`](crate::v16::Action16), and the decoding calls the schema check.

use crate::error_code::{ErrorCode, OcppVersion};
use crate::frame::{truncate, Frame, MAX_ERROR_DESCRIPTION_LEN};

/// Which payload of an exchange a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// The CALL payload.
    Request,
    /// The CALLRESULT payload.
    Response,
}

/// Why a payload was refused, ready to become a CALLERROR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct Violation {
    pub code: ErrorCode,
    /// Names the offending field path; at most 255 characters.
    pub description: String,
}

impl Violation {
    /// A violation; the description is cut to 255 characters.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = description.into();
        let description = match truncate(&description, MAX_ERROR_DESCRIPTION_LEN) {
            cut if cut.len() == description.len() => description,
            cut => cut.to_owned(),
        };
        Violation { code, description }
    }

    /// The CALLERROR answering CALL `message_id` with this violation.
    pub fn reply(&self, message_id: &str, version: OcppVersion) -> Frame {
        Frame::call_error_reply(message_id, self.code, version, &self.description)
    }
}
