//! CALLERROR error codes and their per-version spelling.
//!
//! One enum for both OCPP versions; [`ErrorCode::as_str`] spells a code the
//! way the negotiated version expects it (OCPP-J 1.6 §4.2.3, OCPP 2.0.1
//! Part 4 §4.3). The whole mapping is the single table in [`ErrorCode::as_str`].

use std::fmt;

/// The OCPP version negotiated for a connection (websocket subprotocol
/// `ocpp1.6` or `ocpp2.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcppVersion {
    /// OCPP 1.6 (JSON).
    V16,
    /// OCPP 2.0.1.
    V201,
}

impl OcppVersion {
    /// The websocket subprotocol name for this version.
    pub fn subprotocol(self) -> &'static str {
        match self {
            OcppVersion::V16 => "ocpp1.6",
            OcppVersion::V201 => "ocpp2.0.1",
        }
    }

    /// Parses a websocket subprotocol name (`ocpp1.6`, `ocpp2.0.1`).
    pub fn from_subprotocol(name: &str) -> Option<Self> {
        match name {
            "ocpp1.6" => Some(OcppVersion::V16),
            "ocpp2.0.1" => Some(OcppVersion::V201),
            _ => None,
        }
    }
}

/// A CALLERROR error code, independent of version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The requested action is not known by the receiver.
    NotImplemented,
    /// The requested action is recognised but not supported by the receiver.
    NotSupported,
    /// An internal error occurred while processing the action.
    InternalError,
    /// The payload for the action is incomplete.
    ProtocolError,
    /// A security issue occurred while processing the action.
    SecurityError,
    /// The payload is syntactically incorrect (1.6 `FormationViolation`,
    /// 2.0.1 `FormatViolation`).
    FormationViolation,
    /// A field contains an invalid value (enum, length, range, format, ...).
    PropertyConstraintViolation,
    /// A required field is missing or a field occurs too often.
    OccurrenceConstraintViolation,
    /// A field has the wrong JSON type.
    TypeConstraintViolation,
    /// Any other error.
    GenericError,
    /// 2.0.1 only: the message type number is not supported.
    MessageTypeNotSupported,
    /// 2.0.1 only: the message is not a valid RPC request (e.g. unreadable id).
    RpcFrameworkError,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::NotImplemented,
        ErrorCode::NotSupported,
        ErrorCode::InternalError,
        ErrorCode::ProtocolError,
        ErrorCode::SecurityError,
        ErrorCode::FormationViolation,
        ErrorCode::PropertyConstraintViolation,
        ErrorCode::OccurrenceConstraintViolation,
        ErrorCode::TypeConstraintViolation,
        ErrorCode::GenericError,
        ErrorCode::MessageTypeNotSupported,
        ErrorCode::RpcFrameworkError,
    ];

    /// The wire spelling of this code for `version`.
    ///
    /// 1.6 has no `MessageTypeNotSupported` (mapped to `ProtocolError`) and no
    /// `RpcFrameworkError` (mapped to `FormationViolation`: the message does
    /// not conform to the PDU structure). `SecurityError` exists in both.
    pub fn as_str(self, version: OcppVersion) -> &'static str {
        use ErrorCode as E;
        use OcppVersion::{V16, V201};
        match (self, version) {
            (E::NotImplemented, _) => "NotImplemented",
            (E::NotSupported, _) => "NotSupported",
            (E::InternalError, _) => "InternalError",
            (E::ProtocolError, _) => "ProtocolError",
            (E::SecurityError, _) => "SecurityError",
            (E::FormationViolation, V16) => "FormationViolation",
            (E::FormationViolation, V201) => "FormatViolation",
            (E::PropertyConstraintViolation, _) => "PropertyConstraintViolation",
            (E::OccurrenceConstraintViolation, V16) => "OccurenceConstraintViolation",
            (E::OccurrenceConstraintViolation, V201) => "OccurrenceConstraintViolation",
            (E::TypeConstraintViolation, _) => "TypeConstraintViolation",
            (E::GenericError, _) => "GenericError",
            (E::MessageTypeNotSupported, V16) => "ProtocolError",
            (E::MessageTypeNotSupported, V201) => "MessageTypeNotSupported",
            (E::RpcFrameworkError, V16) => "FormationViolation",
            (E::RpcFrameworkError, V201) => "RpcFrameworkError",
        }
    }

    /// Parses a wire error code in either version's spelling
    /// (`FormationViolation`/`FormatViolation`,
    /// `OccurenceConstraintViolation`/`OccurrenceConstraintViolation`).
    pub fn parse(text: &str) -> Option<ErrorCode> {
        use ErrorCode as E;
        Some(match text {
            "NotImplemented" => E::NotImplemented,
            "NotSupported" => E::NotSupported,
            "InternalError" => E::InternalError,
            "ProtocolError" => E::ProtocolError,
            "SecurityError" => E::SecurityError,
            "FormationViolation" | "FormatViolation" => E::FormationViolation,
            "PropertyConstraintViolation" => E::PropertyConstraintViolation,
            "OccurenceConstraintViolation" | "OccurrenceConstraintViolation" => {
                E::OccurrenceConstraintViolation
            }
            "TypeConstraintViolation" => E::TypeConstraintViolation,
            "GenericError" => E::GenericError,
            "MessageTypeNotSupported" => E::MessageTypeNotSupported,
            "RpcFrameworkError" => E::RpcFrameworkError,
            _ => return None,
        })
    }
}

/// Displays the 2.0.1 spelling (the unambiguous one); use
/// [`ErrorCode::as_str`] on the wire.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str(OcppVersion::V201))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_version_specific_codes() {
        assert_eq!(
            ErrorCode::FormationViolation.as_str(OcppVersion::V16),
            "FormationViolation"
        );
        assert_eq!(
            ErrorCode::FormationViolation.as_str(OcppVersion::V201),
            "FormatViolation"
        );
        assert_eq!(
            ErrorCode::OccurrenceConstraintViolation.as_str(OcppVersion::V16),
            "OccurenceConstraintViolation"
        );
        assert_eq!(
            ErrorCode::OccurrenceConstraintViolation.as_str(OcppVersion::V201),
            "OccurrenceConstraintViolation"
        );
        assert_eq!(
            ErrorCode::MessageTypeNotSupported.as_str(OcppVersion::V16),
            "ProtocolError"
        );
        assert_eq!(
            ErrorCode::RpcFrameworkError.as_str(OcppVersion::V16),
            "FormationViolation"
        );
    }

    #[test]
    fn every_spelling_parses_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str(OcppVersion::V201)), Some(code));
            // 1.6 spellings parse to themselves or to the code they stand in for.
            let v16 = ErrorCode::parse(code.as_str(OcppVersion::V16));
            assert!(v16.is_some(), "{code:?}");
        }
        assert_eq!(ErrorCode::parse("Bogus"), None);
    }

    #[test]
    fn v16_spellings_are_all_in_the_ocpp_j_16_table() {
        const V16_TABLE: [&str; 10] = [
            "NotImplemented",
            "NotSupported",
            "InternalError",
            "ProtocolError",
            "SecurityError",
            "FormationViolation",
            "PropertyConstraintViolation",
            "OccurenceConstraintViolation",
            "TypeConstraintViolation",
            "GenericError",
        ];
        for code in ErrorCode::ALL {
            assert!(
                V16_TABLE.contains(&code.as_str(OcppVersion::V16)),
                "{code:?}"
            );
        }
    }

    #[test]
    fn subprotocols_round_trip() {
        for v in [OcppVersion::V16, OcppVersion::V201] {
            assert_eq!(OcppVersion::from_subprotocol(v.subprotocol()), Some(v));
        }
        assert_eq!(OcppVersion::from_subprotocol("ocpp2.1"), None);
    }
}
