//! A charger behind the command port, scripted by the test: it answers
//! every command with one status, or refuses a second remote start on a
//! connector as a real charger does, or is offline; and it keeps what it
//! was sent. Real chargers are in tests/interop/.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken, TransactionId};
use joule_domain::ports::command::{ChargerCommand, CommandError, CommandReply, CommandRouter};

#[derive(Debug)]
pub struct ScriptedCharger {
    answer: CommandReply,
    /// Refuses a start for a connector that already
    /// accepted one (it is starting or charging), as a real charger does.
    one_start_per_connector: bool,
    /// The connectors that accepted a start.
    pub started: Mutex<BTreeSet<ConnectorId>>,
    /// Offline: every command fails and the charger reads as not connected.
    pub offline: AtomicBool,
    sent: Mutex<Vec<ChargerCommand>>,
}

impl Default for ScriptedCharger {
    fn default() -> Self {
        Self::answering("Accepted")
    }
}

impl ScriptedCharger {
    /// Answers every command `Accepted` when `answer` is "Accepted", and
    /// `Rejected` otherwise.
    pub fn answering(answer: &'static str) -> Self {
        Self {
            answer: if answer == "Accepted" {
                CommandReply::Accepted
            } else {
                CommandReply::Rejected
            },
            one_start_per_connector: false,
            started: Mutex::new(BTreeSet::new()),
            offline: AtomicBool::new(false),
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Accepts one start per connector and refuses any
    /// further one; accepts every other command.
    pub fn realistic() -> Self {
        Self {
            one_start_per_connector: true,
            ..Self::default()
        }
    }

    /// Never connected: sessions start at the charger (RFID), nothing can
    /// be sent to it.
    pub fn offline() -> Self {
        let charger = Self::default();
        charger.set_offline(true);
        charger
    }

    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }

    /// Everything sent, in order.
    pub fn sent(&self) -> Vec<ChargerCommand> {
        self.sent.lock().unwrap().clone()
    }

    /// The id tags of the remote starts sent, in order.
    pub fn starts(&self) -> Vec<IdToken> {
        self.sent()
            .into_iter()
            .filter_map(|c| match c {
                ChargerCommand::StartCharging { id_tag, .. } => Some(id_tag),
                _ => None,
            })
            .collect()
    }

    /// The transactions of the remote stops sent, in order.
    pub fn stops(&self) -> Vec<TransactionId> {
        self.sent()
            .into_iter()
            .filter_map(|c| match c {
                ChargerCommand::StopCharging { transaction } => Some(transaction),
                _ => None,
            })
            .collect()
    }

    /// The id tag of the first remote start sent.
    pub fn id_tag(&self) -> IdToken {
        self.starts().swap_remove(0)
    }

    /// Notes `command` as sent without answering it: what a request that
    /// crashed after sending left behind.
    pub fn record(&self, command: ChargerCommand) {
        self.sent.lock().unwrap().push(command);
    }
}

#[async_trait]
impl CommandRouter for ScriptedCharger {
    async fn send(
        &self,
        charger: &ChargerId,
        command: ChargerCommand,
    ) -> Result<CommandReply, CommandError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(CommandError::Offline(charger.clone()));
        }
        let start = match &command {
            ChargerCommand::StartCharging { connector, .. } => Some(*connector),
            _ => None,
        };
        self.record(command);
        if let (true, Some(connector)) = (self.one_start_per_connector, start) {
            if !self.started.lock().unwrap().insert(connector) {
                return Ok(CommandReply::Rejected);
            }
        }
        Ok(self.answer.clone())
    }

    fn is_connected(&self, _charger: &ChargerId) -> bool {
        !self.offline.load(Ordering::SeqCst)
    }
}
