//! The OCPP-J RPC envelope (OCPP-J 1.6 §4, OCPP 2.0.1 Part 4 §4).
//!
//! ```text
//! CALL        [2, "<id>", "<Action>", {payload}]
//! CALLRESULT  [3, "<id>", {payload}]
//! CALLERROR   [4, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}]
//! ```
//!
//! [`Frame::parse`] reads a websocket text message with one `serde_json`
//! pass and moves the parts out of the parsed array (no second parse, no
//! payload copies). Decisions where the specs leave room:
//!
//! - An unreadable message id (not JSON, not an array, id missing, not a
//!   string, or empty) is reported with id [`UNKNOWN_MESSAGE_ID`] (`"-1"`),
//!   as OCPP 2.0.1 prescribes; 1.6 is silent and we do the same.
//! - Envelope errors (bad array shape, wrong element count, type number not a
//!   number, id longer than 36 chars, action not a string) are
//!   [`ErrorCode::RpcFrameworkError`]: it renders as `FormationViolation` in
//!   1.6 (the message does not conform to the PDU structure) and as
//!   `RpcFrameworkError` in 2.0.1, which is what each spec asks for.
//! - A payload (or CALLERROR details) that is not a JSON object is
//!   [`ErrorCode::FormationViolation`] (`FormatViolation` in 2.0.1).
//! - An unknown message type number (e.g. 5 or 9) is
//!   [`ErrorCode::MessageTypeNotSupported`] (1.6 spelling `ProtocolError`).
//! - A message id longer than 36 characters is rejected (both specs cap it at
//!   36) but kept in the error, so the peer can correlate the CALLERROR.
//! - A CALLERROR without the `errorDetails` element (4 elements) is accepted
//!   with empty details: chargers in the field do send it, and refusing a
//!   response helps nobody.
//!
//! A CALLERROR is only ever sent in reply to a CALL: [`FrameError::reply`]
//! returns `None` when the broken message was itself a CALLRESULT/CALLERROR.

use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::error_code::{ErrorCode, OcppVersion};

/// The message id used when the id of a broken message cannot be read.
pub const UNKNOWN_MESSAGE_ID: &str = "-1";
/// The longest message id both OCPP versions allow.
pub const MAX_MESSAGE_ID_LEN: usize = 36;
/// The longest CALLERROR description we send (OCPP 2.0.1 caps it at 255).
pub const MAX_ERROR_DESCRIPTION_LEN: usize = 255;

const CALL: u64 = 2;
const CALL_RESULT: u64 = 3;
const CALL_ERROR: u64 = 4;

/// One OCPP-J RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request, `[2, id, action, payload]`.
    Call(Call),
    /// A successful response, `[3, id, payload]`.
    CallResult(CallResult),
    /// A failed response, `[4, id, code, description, details]`.
    CallError(CallError),
}

/// A request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub message_id: String,
    pub action: String,
    /// Always a JSON object once parsed.
    pub payload: Value,
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub message_id: String,
    /// Always a JSON object once parsed.
    pub payload: Value,
}

/// A failed response. The code is kept as sent, so an unknown or
/// misspelt code from a charger survives; [`CallError::code`] interprets it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub message_id: String,
    pub error_code: String,
    pub error_description: String,
    /// Always a JSON object once parsed.
    pub error_details: Value,
}

impl CallError {
    /// The error code, in either version's spelling; `None` if unknown.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.error_code)
    }
}

/// A message that is not a valid OCPP-J frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} (message id {message_id}): {description}")]
pub struct FrameError {
    /// The message id, or [`UNKNOWN_MESSAGE_ID`] when it could not be read.
    pub message_id: String,
    pub code: ErrorCode,
    pub description: String,
    /// The broken message was recognisably a CALLRESULT or CALLERROR; it
    /// must not be answered.
    pub was_response: bool,
}

impl FrameError {
    fn new(message_id: &str, code: ErrorCode, description: impl Into<String>) -> Self {
        FrameError {
            message_id: message_id.to_owned(),
            code,
            description: description.into(),
            was_response: false,
        }
    }

    fn unreadable(description: impl Into<String>) -> Self {
        Self::new(
            UNKNOWN_MESSAGE_ID,
            ErrorCode::RpcFrameworkError,
            description,
        )
    }

    /// The CALLERROR to send back, or `None` if the broken message was a
    /// response (which is never answered; log it instead).
    pub fn reply(&self, version: OcppVersion) -> Option<Frame> {
        (!self.was_response).then(|| {
            Frame::call_error_reply(&self.message_id, self.code, version, &self.description)
        })
    }
}

impl Frame {
    /// Parses one websocket text message. See the module docs for the
    /// error-code decisions.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FrameError::unreadable(format!("not valid JSON: {e}")))?;
        let Value::Array(mut items) = value else {
            return Err(FrameError::unreadable("message is not a JSON array"));
        };
        let message_id = match items.get_mut(1) {
            Some(Value::String(id)) if !id.is_empty() => std::mem::take(id),
            Some(Value::String(_)) => return Err(FrameError::unreadable("message id is empty")),
            Some(_) => return Err(FrameError::unreadable("message id is not a string")),
            None => return Err(FrameError::unreadable("message id is missing")),
        };
        let type_id = items.first().and_then(Value::as_u64);
        let was_response = matches!(type_id, Some(CALL_RESULT | CALL_ERROR));
        let fail = |code, description: String| FrameError {
            message_id: message_id.clone(),
            code,
            description,
            was_response,
        };
        if message_id.chars().count() > MAX_MESSAGE_ID_LEN {
            return Err(fail(
                ErrorCode::RpcFrameworkError,
                format!("message id is longer than {MAX_MESSAGE_ID_LEN} characters"),
            ));
        }
        let Some(type_id) = type_id else {
            return Err(fail(
                ErrorCode::RpcFrameworkError,
                "message type is not a number".to_owned(),
            ));
        };
        let expected_len = match type_id {
            CALL => 4..=4,
            CALL_RESULT => 3..=3,
            CALL_ERROR => 4..=5,
            other => {
                return Err(fail(
                    ErrorCode::MessageTypeNotSupported,
                    format!("message type {other} is not supported"),
                ))
            }
        };
        if !expected_len.contains(&items.len()) {
            return Err(fail(
                ErrorCode::RpcFrameworkError,
                format!(
                    "message type {type_id} needs {} elements, got {}",
                    expected_len.end(),
                    items.len()
                ),
            ));
        }
        let mut rest = items.drain(2..);
        let mut next = || rest.next().unwrap_or(Value::Null);
        match type_id {
            CALL => {
                let Value::String(action) = next() else {
                    return Err(fail(
                        ErrorCode::RpcFrameworkError,
                        "action is not a string".to_owned(),
                    ));
                };
                let payload = next();
                if !payload.is_object() {
                    return Err(fail(
                        ErrorCode::FormationViolation,
                        "payload is not a JSON object".to_owned(),
                    ));
                }
                Ok(Frame::Call(Call {
                    message_id,
                    action,
                    payload,
                }))
            }
            CALL_RESULT => {
                let payload = next();
                if !payload.is_object() {
                    return Err(fail(
                        ErrorCode::FormationViolation,
                        "payload is not a JSON object".to_owned(),
                    ));
                }
                Ok(Frame::CallResult(CallResult {
                    message_id,
                    payload,
                }))
            }
            _ => {
                let (Value::String(error_code), Value::String(error_description)) =
                    (next(), next())
                else {
                    return Err(fail(
                        ErrorCode::RpcFrameworkError,
                        "error code and description must be strings".to_owned(),
                    ));
                };
                let error_details = match next() {
                    Value::Null => Value::Object(Map::new()),
                    details @ Value::Object(_) => details,
                    _ => {
                        return Err(fail(
                            ErrorCode::FormationViolation,
                            "error details are not a JSON object".to_owned(),
                        ))
                    }
                };
                Ok(Frame::CallError(CallError {
                    message_id,
                    error_code,
                    error_description,
                    error_details,
                }))
            }
        }
    }

    /// Serialises the frame as one websocket text message.
    pub fn to_text(&self) -> String {
        // Serialising strings and `Value`s into a `String` cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message id of any frame.
    pub fn message_id(&self) -> &str {
        match self {
            Frame::Call(c) => &c.message_id,
            Frame::CallResult(r) => &r.message_id,
            Frame::CallError(e) => &e.message_id,
        }
    }

    /// A CALL frame.
    pub fn call(message_id: impl Into<String>, action: impl Into<String>, payload: Value) -> Frame {
        Frame::Call(Call {
            message_id: message_id.into(),
            action: action.into(),
            payload,
        })
    }

    /// A CALLRESULT frame answering `message_id`.
    pub fn call_result(message_id: impl Into<String>, payload: Value) -> Frame {
        Frame::CallResult(CallResult {
            message_id: message_id.into(),
            payload,
        })
    }

    /// A CALLERROR frame answering `message_id`, with empty details. The code
    /// is spelt for `version`; the description is cut to
    /// [`MAX_ERROR_DESCRIPTION_LEN`] characters.
    pub fn call_error_reply(
        message_id: impl Into<String>,
        code: ErrorCode,
        version: OcppVersion,
        description: &str,
    ) -> Frame {
        Frame::CallError(CallError {
            message_id: message_id.into(),
            error_code: code.as_str(version).to_owned(),
            error_description: truncate(description, MAX_ERROR_DESCRIPTION_LEN).to_owned(),
            error_details: Value::Object(Map::new()),
        })
    }
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Frame::Call(c) => {
                let mut seq = serializer.serialize_seq(Some(4))?;
                seq.serialize_element(&CALL)?;
                seq.serialize_element(&c.message_id)?;
                seq.serialize_element(&c.action)?;
                seq.serialize_element(&c.payload)?;
                seq.end()
            }
            Frame::CallResult(r) => {
                let mut seq = serializer.serialize_seq(Some(3))?;
                seq.serialize_element(&CALL_RESULT)?;
                seq.serialize_element(&r.message_id)?;
                seq.serialize_element(&r.payload)?;
                seq.end()
            }
            Frame::CallError(e) => {
                let mut seq = serializer.serialize_seq(Some(5))?;
                seq.serialize_element(&CALL_ERROR)?;
                seq.serialize_element(&e.message_id)?;
                seq.serialize_element(&e.error_code)?;
                seq.serialize_element(&e.error_description)?;
                seq.serialize_element(&e.error_details)?;
                seq.end()
            }
        }
    }
}

/// The longest prefix of `text` with at most `max` characters.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(text: &str) -> FrameError {
        match Frame::parse(text) {
            Err(e) => e,
            Ok(f) => panic!("expected an error for {text}, got {f:?}"),
        }
    }

    fn assert_err(text: &str, id: &str, code: ErrorCode) {
        let e = err(text);
        assert_eq!((e.message_id.as_str(), e.code), (id, code), "{text}: {e}");
    }

    #[test]
    fn unreadable_ids_get_minus_one() {
        for text in [
            "",
            "not json",
            "{\"a\":1}",
            "{}",
            "[]",
            "[2]",
            "\"text\"",
            "42",
            "[2, 5, \"Heartbeat\", {}]",
            "[2, null, \"Heartbeat\", {}]",
            "[2, \"\", \"Heartbeat\", {}]",
            "[2, [\"a\"], \"Heartbeat\", {}]",
        ] {
            assert_err(text, UNKNOWN_MESSAGE_ID, ErrorCode::RpcFrameworkError);
        }
    }

    #[test]
    fn envelope_errors_keep_the_id() {
        assert_err(
            r#"[9, "a", "Heartbeat", {}]"#,
            "a",
            ErrorCode::MessageTypeNotSupported,
        );
        assert_err(r#"[0, "a"]"#, "a", ErrorCode::MessageTypeNotSupported);
        assert_err(
            r#"["2", "a", "Heartbeat", {}]"#,
            "a",
            ErrorCode::RpcFrameworkError,
        );
        assert_err(
            r#"[2.5, "a", "Heartbeat", {}]"#,
            "a",
            ErrorCode::RpcFrameworkError,
        );
        assert_err(
            r#"[2, "a", "Heartbeat"]"#,
            "a",
            ErrorCode::RpcFrameworkError,
        );
        assert_err(
            r#"[2, "a", "Heartbeat", {}, {}]"#,
            "a",
            ErrorCode::RpcFrameworkError,
        );
        assert_err(r#"[3, "a", {}, 1]"#, "a", ErrorCode::RpcFrameworkError);
        assert_err(r#"[3, "a"]"#, "a", ErrorCode::RpcFrameworkError);
        assert_err(
            r#"[4, "a", "GenericError"]"#,
            "a",
            ErrorCode::RpcFrameworkError,
        );
        assert_err(
            r#"[4, "a", "X", "d", {}, 1]"#,
            "a",
            ErrorCode::RpcFrameworkError,
        );
        assert_err(r#"[2, "a", 7, {}]"#, "a", ErrorCode::RpcFrameworkError);
        assert_err(r#"[4, "a", 1, "d", {}]"#, "a", ErrorCode::RpcFrameworkError);
    }

    #[test]
    fn payload_not_an_object_is_a_formation_violation() {
        assert_err(
            r#"[2, "a", "Heartbeat", []]"#,
            "a",
            ErrorCode::FormationViolation,
        );
        assert_err(
            r#"[2, "a", "Heartbeat", null]"#,
            "a",
            ErrorCode::FormationViolation,
        );
        assert_err(r#"[3, "a", "ok"]"#, "a", ErrorCode::FormationViolation);
        assert_err(
            r#"[4, "a", "GenericError", "d", 3]"#,
            "a",
            ErrorCode::FormationViolation,
        );
    }

    #[test]
    fn long_message_ids_are_rejected_but_kept() {
        let id36 = "a".repeat(36);
        let id37 = "a".repeat(37);
        assert!(Frame::parse(&format!(r#"[2, "{id36}", "Heartbeat", {{}}]"#)).is_ok());
        assert_err(
            &format!(r#"[2, "{id37}", "Heartbeat", {{}}]"#),
            &id37,
            ErrorCode::RpcFrameworkError,
        );
    }

    #[test]
    fn broken_responses_are_not_answered() {
        let e = err(r#"[3, "a", "ok"]"#);
        assert!(e.was_response);
        assert_eq!(e.reply(OcppVersion::V16), None);
        let e = err(r#"[2, "a", "Heartbeat", 1]"#);
        assert!(!e.was_response);
        assert!(e.reply(OcppVersion::V16).is_some());
    }

    #[test]
    fn callerror_replies_render_exactly() {
        let reply = err("not json").reply(OcppVersion::V16).map(|f| f.to_text());
        assert_eq!(
            reply.as_deref(),
            Some(
                r#"[4,"-1","FormationViolation","not valid JSON: expected ident at line 1 column 2",{}]"#
            )
        );
        let reply = err("[]").reply(OcppVersion::V201).map(|f| f.to_text());
        assert_eq!(
            reply.as_deref(),
            Some(r#"[4,"-1","RpcFrameworkError","message id is missing",{}]"#)
        );
        let reply = err(r#"[2, "m1", "Heartbeat", []]"#)
            .reply(OcppVersion::V201)
            .map(|f| f.to_text());
        assert_eq!(
            reply.as_deref(),
            Some(r#"[4,"m1","FormatViolation","payload is not a JSON object",{}]"#)
        );
        let reply = Frame::call_error_reply(
            "19223201",
            ErrorCode::OccurrenceConstraintViolation,
            OcppVersion::V16,
            "/idTag: required",
        );
        assert_eq!(
            reply.to_text(),
            r#"[4,"19223201","OccurenceConstraintViolation","/idTag: required",{}]"#
        );
    }

    #[test]
    fn parses_all_three_kinds() {
        let call = Frame::parse(
            r#"[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]"#,
        );
        assert_eq!(
            call,
            Ok(Frame::call(
                "19223201",
                "BootNotification",
                json!({"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"})
            ))
        );
        assert_eq!(
            Frame::parse(r#"[3, "1", {"currentTime": "2024-01-01T00:00:00Z"}]"#),
            Ok(Frame::call_result(
                "1",
                json!({"currentTime": "2024-01-01T00:00:00Z"})
            ))
        );
        let Ok(Frame::CallError(e)) =
            Frame::parse(r#"[4, "1", "OccurenceConstraintViolation", "missing", {"k": 1}]"#)
        else {
            panic!("not a CALLERROR");
        };
        assert_eq!(e.code(), Some(ErrorCode::OccurrenceConstraintViolation));
        assert_eq!(e.error_details, json!({"k": 1}));
        // Four-element CALLERROR: details default to {}.
        let Ok(Frame::CallError(e)) = Frame::parse(r#"[4, "1", "Bogus", "d"]"#) else {
            panic!("not a CALLERROR");
        };
        assert_eq!(e.code(), None);
        assert_eq!(e.error_details, json!({}));
    }

    #[test]
    fn round_trips() {
        let frames = [
            Frame::call("a-1", "Heartbeat", json!({})),
            Frame::call(
                "x",
                "DataTransfer",
                json!({"vendorId": "v", "data": "ü\"\\"}),
            ),
            Frame::call_result("b", json!({"status": "Accepted"})),
            Frame::call_error_reply("c", ErrorCode::NotImplemented, OcppVersion::V16, "nope"),
        ];
        for frame in frames {
            let text = frame.to_text();
            assert_eq!(Frame::parse(&text), Ok(frame.clone()), "{text}");
            assert_eq!(
                frame.message_id(),
                Frame::parse(&text)
                    .map(|f| f.message_id().to_owned())
                    .unwrap_or_default()
            );
        }
        assert_eq!(
            Frame::call("1", "Heartbeat", json!({})).to_text(),
            r#"[2,"1","Heartbeat",{}]"#
        );
    }

    #[test]
    fn descriptions_are_cut_to_255_chars() {
        let long = "é".repeat(300);
        let Frame::CallError(e) =
            Frame::call_error_reply("1", ErrorCode::GenericError, OcppVersion::V16, &long)
        else {
            panic!("not a CALLERROR");
        };
        assert_eq!(e.error_description.chars().count(), 255);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn json_leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                (0u64..6).prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                ".{0,40}".prop_map(Value::String),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            json_leaf().prop_recursive(3, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(".{0,8}", inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn parse_never_panics_on_strings(text in ".{0,200}") {
                let _ = Frame::parse(&text);
            }

            #[test]
            fn parse_never_panics_on_arrays(items in prop::collection::vec(json_value(), 0..7)) {
                let text = Value::Array(items).to_string();
                // Never panics; an error always names an id to answer with.
                if let Err(e) = Frame::parse(&text) {
                    prop_assert!(!e.message_id.is_empty());
                }
            }

            #[test]
            fn frames_with_a_known_shape_parse(
                id in "[a-zA-Z0-9-]{1,36}",
                action in "[A-Za-z]{1,30}",
                payload in prop::collection::btree_map("[a-z]{1,8}", json_leaf(), 0..5),
            ) {
                let payload = Value::Object(payload.into_iter().collect());
                let frame = Frame::call(id, action, payload);
                prop_assert_eq!(Frame::parse(&frame.to_text()), Ok(frame));
            }
        }
    }
}
