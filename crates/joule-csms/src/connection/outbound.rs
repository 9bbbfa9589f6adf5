//! Joule's side of the conversation: operator commands from the mailbox and
//! the extension's own calls, one in flight and the rest queued
//! ([`OutgoingCalls`](joule_ocpp::OutgoingCalls)); each answer, failure or
//! timeout settled with whoever waits for it.

use joule_domain::charging::message_log::{Direction, FrameKind};
use joule_domain::ports::command::CommandError;
use joule_ocpp::rpc::CallFailure;
use joule_ocpp::v16::Action16;
use joule_ocpp::{Frame, PayloadKind};
use serde_json::Value;
use tokio::time::Instant;
use tungstenite::Message;

use super::extension::{ConnectionExtension as _, Link};
use super::{Connection, End, OwnCalls, Waiter};
use crate::msglog::Logged;
use crate::registry::Envelope;

impl Connection {
    pub(super) async fn on_command(&mut self, envelope: Box<Envelope>) -> Result<(), End> {
        let Envelope {
            action,
            payload,
            reply,
        } = *envelope;
        match self.calls.enqueue(
            action,
            payload,
            Waiter::Command(reply),
            Instant::now().into_std(),
        ) {
            Ok(Some(text)) => self.write_call(text).await,
            Ok(None) => Ok(()),
            Err(full) => {
                let busy = CommandError::Busy(self.charger.clone());
                let calls = self.settle(full.reply, Err(busy)).await;
                self.send_own_calls(calls).await
            }
        }
    }

    /// Queues the extension's calls (each written now if nothing is in
    /// flight); a full queue drops a call, logged.
    pub(super) async fn send_own_calls(&mut self, calls: OwnCalls) -> Result<(), End> {
        for call in calls {
            let action = call.action;
            match self.calls.enqueue(
                action,
                call.payload,
                Waiter::Own(call.tag),
                Instant::now().into_std(),
            ) {
                Ok(Some(text)) => self.write_call(text).await?,
                Ok(None) => {}
                Err(_) => tracing::warn!(%action, "outgoing queue full: own call dropped"),
            }
        }
        Ok(())
    }

    /// Times out the call in flight when its deadline passed.
    pub(super) async fn on_call_timeout(&mut self, now: Instant) -> Result<(), End> {
        let Some(done) = self.calls.on_tick(now.into_std()) else {
            return Ok(());
        };
        tracing::info!(action = %done.action, message_id = %done.message_id, "command timed out");
        let timeout = CommandError::Timeout(self.charger.clone());
        let calls = self.settle(done.reply, Err(timeout)).await;
        if let Some(next) = done.next_frame {
            self.write_call(next).await?;
        }
        self.send_own_calls(calls).await
    }

    pub(super) async fn on_response(&mut self, frame: Frame, text: &str) -> Result<(), End> {
        let kind = match frame {
            Frame::CallError(_) => FrameKind::CallError,
            _ => FrameKind::CallResult,
        };
        let Some(done) = self.calls.on_response(&frame, Instant::now().into_std()) else {
            self.log(Logged {
                direction: Direction::In,
                kind,
                action: None,
                message_id: Some(frame.message_id()),
                frame: text,
                note: Some("matches no outstanding call; ignored".to_owned()),
            })
            .await;
            return Ok(());
        };
        self.log(Logged {
            direction: Direction::In,
            kind,
            action: Some(done.action.as_str()),
            message_id: Some(&done.message_id),
            frame: text,
            note: None,
        })
        .await;
        let result = match done.outcome {
            Ok(payload) => {
                joule_ocpp::schema::validate(done.action, PayloadKind::Response, &payload)
                    .map(|()| payload)
                    .map_err(|v| CommandError::InvalidResponse(v.description))
            }
            Err(CallFailure::CallError(e)) => Err(CommandError::CallError {
                code: e.code,
                description: e.description,
            }),
            Err(CallFailure::Timeout) => Err(CommandError::Timeout(self.charger.clone())),
        };
        let calls = self.settle(done.reply, result).await;
        if let Some(next) = done.next_frame {
            self.write_call(next).await?;
        }
        self.send_own_calls(calls).await
    }

    /// Hands the answer (or failure) of one of our CALLs to whoever waits;
    /// returns the calls the extension makes in consequence.
    pub(super) async fn settle(
        &mut self,
        waiter: Waiter,
        result: Result<Value, CommandError>,
    ) -> OwnCalls {
        match waiter {
            Waiter::Command(reply) => {
                let _ = reply.send(result);
                Vec::new()
            }
            Waiter::Own(tag) => {
                let link = Link {
                    charger: &self.charger,
                    accepted: self.accepted,
                };
                // Boxed: `finish` settles drained calls too, so an unboxed
                // extension future would be part of every connection task's
                // state for its whole life (`joule bench idle`: boxing it took
                // an idle connection from about 13.2 to 11.6 KiB).
                Box::pin(self.extension.on_own_reply(&link, tag, result)).await
            }
        }
    }

    /// Writes the CALL `OutgoingCalls` just put in flight.
    pub(super) async fn write_call(&mut self, text: String) -> Result<(), End> {
        self.log(Logged {
            direction: Direction::Out,
            kind: FrameKind::Call,
            action: self.calls.in_flight_action().map(Action16::as_str),
            message_id: self.calls.in_flight_id(),
            frame: &text,
            note: None,
        })
        .await;
        self.send(Message::text(text)).await
    }
}
