//! # joule-ocpp — the OCPP-J wire layer
//!
//! **Role.** Everything about OCPP that is bytes and rules, nothing that is
//! behaviour: the RPC envelope ([`frame`]), CALLERROR codes spelt per version
//! ([`error_code`]), the official OCPP 1.6 JSON schemas and validation against
//! them ([`schema`]), the payload kinds and the refusal a check yields
//! ([`payload`]), typed OCPP 1.6 requests and responses with routing
//! enums per direction ([`v16`]), and the per-connection bookkeeping of
//! outgoing calls ([`rpc`]). The CSMS adapter (`joule-csms`) and the charger
//! simulator (`joule-sim`) build on it; the domain never sees these types.
//!
//! **May depend on** serde, serde_json, chrono, thiserror and jsonschema only.
//! No async runtime, no sockets, no SQL, no domain crate.
//!
//! **Concurrency model.** None. Every type is a plain value or a pure state
//! machine that the caller drives and owns (one connection task per charger
//! owns its [`rpc::OutgoingCalls`]); time is passed in as `Instant`s. The only
//! shared state is the lazily compiled schema table in [`schema`], which is
//! immutable after first use.
//!
//! A typical inbound path (connection task, OCPP 1.6):
//!
//! ```
//! use joule_ocpp::{Frame, OcppVersion, v16};
//!
//! let text = r#"[2,"42","Heartbeat",{}]"#;
//! let reply = match Frame::parse(text) {
//!     Ok(Frame::Call(call)) => match v16::decode_charge_point_call(&call.action, call.payload) {
//!         Ok(v16::ChargePointCall::Heartbeat(_)) => {
//!             let resp = v16::HeartbeatResponse { current_time: chrono::Utc::now() };
//!             Some(Frame::call_result(call.message_id, v16::encode(&resp)))
//!         }
//!         Ok(_) => None,
//!         Err(violation) => Some(violation.reply(&call.message_id, OcppVersion::V16)),
//!     },
//!     Ok(_response) => None, // hand to rpc::OutgoingCalls::on_response
//!     Err(broken) => broken.reply(OcppVersion::V16),
//! };
//! assert!(reply.is_some_and(|f| f.to_text().starts_with(r#"[3,"42",{"currentTime":"#)));
//! ```

pub mod error_code;
pub mod frame;
pub mod payload;
pub mod rpc;
pub mod schema;
pub mod v16;

pub use error_code::{ErrorCode, OcppVersion};
pub use frame::{Call, CallError, CallResult, Frame, FrameError};
pub use payload::{PayloadKind, Violation};
pub use rpc::{
    ActionName, CallErrorReply, CallFailure, Completed, Drained, OutgoingCalls, QueueFull,
};
