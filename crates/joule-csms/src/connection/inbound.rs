//! The charger's side of the conversation: frames in, CALLs answered one at
//! a time in arrival order (rate limit, boot state, the 1.6 handlers), and
//! what an answered CALL leaves for the extension.

use joule_domain::charging::charger::RegistrationStatus;
use joule_domain::charging::message_log::{Direction, FrameKind};
use joule_ocpp::v16::{self, ChargePointCall};
use joule_ocpp::{ErrorCode, Frame};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument as _;
use tungstenite::{Error as WsError, Message};

use super::extension::{Answered, ConnectionExtension as _, Link};
use super::{Connection, End, VERSION};
use crate::msglog::Logged;
use crate::rate::Admission;
use crate::v16::{dispatch, Ctx, Handled};

impl Connection {
    pub(super) async fn on_read_error(&mut self, error: WsError) -> End {
        match error {
            WsError::Capacity(cap) => {
                self.log(Logged {
                    direction: Direction::In,
                    kind: FrameKind::Invalid,
                    action: None,
                    message_id: None,
                    frame: "<message above the frame limit, not kept>",
                    note: Some(format!("{cap}; connection closed with 1009")),
                })
                .await;
                End::TooBig
            }
            WsError::ConnectionClosed | WsError::AlreadyClosed => End::PeerClosed,
            other => End::Error(other),
        }
    }

    pub(super) async fn on_message(&mut self, message: Message) -> Result<(), End> {
        let (refuse, text) = match message {
            Message::Text(text) => (self.admit().await, text),
            Message::Binary(bytes) => {
                let _ = self.admit().await;
                self.log(Logged {
                    direction: Direction::In,
                    kind: FrameKind::Invalid,
                    action: None,
                    message_id: None,
                    frame: &format!("<binary frame, {} bytes>", bytes.len()),
                    note: Some("binary frames are not OCPP-J".to_owned()),
                })
                .await;
                let reply = Frame::call_error_reply(
                    joule_ocpp::frame::UNKNOWN_MESSAGE_ID,
                    ErrorCode::FormationViolation,
                    VERSION,
                    "binary frames are not OCPP-J; send text frames",
                );
                return self.reply(reply, None, None).await;
            }
            // Pings are answered by tungstenite; pongs and closes only count
            // as signs of life (a Close is answered and the stream then ends).
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return Ok(())
            }
        };
        let text = text.as_str();
        match Frame::parse(text) {
            Err(error) => {
                self.log(Logged {
                    direction: Direction::In,
                    kind: FrameKind::Invalid,
                    action: None,
                    message_id: Some(&error.message_id),
                    frame: text,
                    note: Some(error.description.clone()),
                })
                .await;
                match error.reply(VERSION) {
                    Some(reply) => self.reply(reply, None, None).await,
                    None => Ok(()),
                }
            }
            Ok(Frame::Call(call)) => self.on_call(call, text, refuse).await,
            Ok(response) => self.on_response(response, text).await,
        }
    }

    /// Applies the rate limit (see `rate.rs`); returns whether the frame
    /// must be refused.
    async fn admit(&mut self) -> bool {
        match self.bucket.admit(Instant::now().into_std()) {
            Admission::Now => false,
            Admission::After(wait) => {
                tokio::time::sleep(wait).await;
                false
            }
            Admission::RefuseAfter(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
        }
    }

    async fn on_call(
        &mut self,
        call: joule_ocpp::Call,
        text: &str,
        refuse: bool,
    ) -> Result<(), End> {
        let span = tracing::debug_span!("ocpp_message", message_id = %call.message_id, action = %call.action);
        let message_id = call.message_id;
        let action = call.action;
        self.log(Logged {
            direction: Direction::In,
            kind: FrameKind::Call,
            action: Some(&action),
            message_id: Some(&message_id),
            frame: text,
            note: None,
        })
        .await;
        let (reply, note, answered) = if refuse {
            let reply = Frame::call_error_reply(
                message_id.as_str(),
                ErrorCode::GenericError,
                VERSION,
                "rate limit exceeded",
            );
            (reply, Some("rate limit exceeded".to_owned()), None)
        } else {
            self.answer(&message_id, &action, call.payload)
                .instrument(span)
                .await
        };
        self.reply(reply, Some(&action), note).await?;
        // What the answered CALL asked for goes out now that its CALLRESULT
        // is written, through the outgoing queue; never waits for answers.
        let Some(answered) = answered else {
            return Ok(());
        };
        let link = Link {
            charger: &self.charger,
            accepted: self.accepted,
        };
        let calls = self.extension.after_call(&link, answered).await;
        self.send_own_calls(calls).await
    }

    /// Decodes, checks the boot state, handles; returns the answer frame, a
    /// log note and, for a handled CALL, what it leaves for the extension.
    async fn answer(
        &mut self,
        message_id: &str,
        action: &str,
        payload: Value,
    ) -> (Frame, Option<String>, Option<Answered>) {
        let decoded = match v16::decode_charge_point_call(action, payload) {
            Ok(decoded) => decoded,
            Err(violation) => {
                tracing::debug!(%violation, "CALL refused");
                return (violation.reply(message_id, VERSION), None, None);
            }
        };
        if !self.accepted && !matches!(decoded, ChargePointCall::BootNotification(_)) {
            let reply = Frame::call_error_reply(
                message_id,
                ErrorCode::SecurityError,
                VERSION,
                "charger is not accepted: BootNotification must be accepted first",
            );
            return (
                reply,
                Some("refused before boot acceptance".to_owned()),
                None,
            );
        }
        let ctx = Ctx {
            charger: &self.charger,
            service: &self.inner.service,
            data_transfer: &self.inner.data_transfer,
            cost_display: self.extension.listening(),
        };
        match dispatch(&ctx, decoded).await {
            Ok(Handled {
                payload,
                note,
                boot,
                cost,
            }) => {
                if let Some(registration) = boot {
                    self.accepted = registration == RegistrationStatus::Accepted;
                }
                (
                    Frame::call_result(message_id, payload),
                    note,
                    Some(Answered { boot, cost }),
                )
            }
            Err(error) => {
                tracing::warn!(%error, "CALL failed");
                let reply = Frame::call_error_reply(
                    message_id,
                    error.code(),
                    VERSION,
                    &error.description(),
                );
                (reply, Some(error.to_string()), None)
            }
        }
    }

    /// Writes our answer to a CALL (or to a broken frame) and logs it.
    pub(super) async fn reply(
        &mut self,
        frame: Frame,
        action: Option<&str>,
        note: Option<String>,
    ) -> Result<(), End> {
        let kind = match frame {
            Frame::CallResult(_) => FrameKind::CallResult,
            Frame::CallError(_) => FrameKind::CallError,
            Frame::Call(_) => FrameKind::Call,
        };
        let text = frame.to_text();
        self.log(Logged {
            direction: Direction::Out,
            kind,
            action,
            message_id: Some(frame.message_id()),
            frame: &text,
            note,
        })
        .await;
        self.send(Message::text(text)).await
    }
}
