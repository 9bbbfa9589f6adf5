//! The domain's [`CommandRouter`] for the chargers connected to this node:
//! encodes the command as a 1.6 call (`v16::commands`), checks it against
//! the 1.6 schema, finds the charger's connection in the registry, hands the
//! call to its mailbox and reads the answer back as a [`CommandReply`].

use async_trait::async_trait;
use joule_domain::ports::command::{ChargerCommand, CommandError, CommandReply, CommandRouter};
use joule_domain::ChargerId;
use joule_ocpp::PayloadKind;
use tokio::sync::{mpsc, oneshot};

use crate::registry::{Envelope, Mail};
use crate::server::Csms;
use crate::v16::commands::to_call;

#[async_trait]
impl CommandRouter for Csms {
    async fn send(
        &self,
        charger: &ChargerId,
        command: ChargerCommand,
    ) -> Result<CommandReply, CommandError> {
        let mut call = to_call(command)?;
        joule_ocpp::schema::validate(call.action, PayloadKind::Request, &call.payload)
            .map_err(|v| CommandError::InvalidPayload(v.description))?;
        let mailbox = self
            .inner
            .registry
            .mailbox(charger)
            .ok_or_else(|| CommandError::Offline(charger.clone()))?;
        let (reply, answer) = oneshot::channel();
        mailbox
            .try_send(Mail::Command(Box::new(Envelope {
                action: call.action,
                payload: std::mem::take(&mut call.payload),
                reply,
            })))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => CommandError::Busy(charger.clone()),
                mpsc::error::TrySendError::Closed(_) => CommandError::Offline(charger.clone()),
            })?;
        let payload = answer.await.map_err(|_| CommandError::ConnectionClosed)??;
        call.reply(payload)
    }

    fn is_connected(&self, charger: &ChargerId) -> bool {
        self.inner.registry.contains(charger)
    }
}
