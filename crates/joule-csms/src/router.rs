//! The domain's [`CommandRouter`] for the chargers connected to this node:
//! checks the command against the 1.6 schema, finds the charger's
//! connection in the registry and hands the command to its mailbox.

use async_trait::async_trait;
use joule_domain::command::{ChargerCommand, CommandError, CommandRouter};
use joule_domain::ChargerId;
use joule_ocpp::v16::Action16;
use joule_ocpp::PayloadKind;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::registry::{Envelope, Mail};
use crate::server::Csms;

#[async_trait]
impl CommandRouter for Csms {
    async fn send(
        &self,
        charger: &ChargerId,
        command: ChargerCommand,
    ) -> Result<Value, CommandError> {
        let action: Action16 = command
            .kind
            .as_str()
            .parse()
            .map_err(|_| CommandError::Unsupported(command.kind.as_str()))?;
        if !action.initiator().central_system_may_send() {
            return Err(CommandError::Unsupported(command.kind.as_str()));
        }
        joule_ocpp::schema::validate(action, PayloadKind::Request, &command.payload)
            .map_err(|v| CommandError::InvalidPayload(v.description))?;
        let mailbox = self
            .inner
            .registry
            .mailbox(charger)
            .ok_or_else(|| CommandError::Offline(charger.clone()))?;
        let (reply, answer) = oneshot::channel();
        mailbox
            .try_send(Mail::Command(Box::new(Envelope {
                command,
                action,
                reply,
            })))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => CommandError::Busy(charger.clone()),
                mpsc::error::TrySendError::Closed(_) => CommandError::Offline(charger.clone()),
            })?;
        answer.await.map_err(|_| CommandError::ConnectionClosed)?
    }

    fn is_connected(&self, charger: &ChargerId) -> bool {
        self.inner.registry.contains(charger)
    }
}
