//! A charger behind the command port, scripted by the test: it answers
//! every command with one status, or refuses a second remote start on a
//! connector as a real charger does, or is offline; and it keeps what it
//! was sent. Real chargers are in tests/interop/.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use joule_domain::command::{ChargerCommand, CommandError, CommandKind, CommandRouter};
use joule_domain::ids::{ChargerId, IdTag};

#[derive(Debug)]
pub struct ScriptedCharger {
    answer: &'static str,
    /// Refuses a RemoteStartTransaction for a connector that already
    /// accepted one (it is starting or charging), as a real charger does.
    one_start_per_connector: bool,
    /// The connectors that accepted a RemoteStartTransaction.
    pub started: Mutex<BTreeSet<u64>>,
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
    /// Answers every command with `{"status": answer}`.
    pub fn answering(answer: &'static str) -> Self {
        Self {
            answer,
            one_start_per_connector: false,
            started: Mutex::new(BTreeSet::new()),
            offline: AtomicBool::new(false),
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Accepts one RemoteStartTransaction per connector and refuses any
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

    /// Everything sent of `kind`, in order.
    pub fn commands(&self, kind: CommandKind) -> Vec<ChargerCommand> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.kind == kind)
            .cloned()
            .collect()
    }

    /// The payloads of everything sent of `kind`, in order.
    pub fn of_kind(&self, kind: CommandKind) -> Vec<serde_json::Value> {
        self.commands(kind).into_iter().map(|c| c.payload).collect()
    }

    /// The id tags of the remote starts sent, in order.
    pub fn starts(&self) -> Vec<IdTag> {
        self.of_kind(CommandKind::RemoteStartTransaction)
            .iter()
            .map(|p| IdTag::parse(p["idTag"].as_str().unwrap()).unwrap())
            .collect()
    }

    /// The id tag of the first remote start sent.
    pub fn id_tag(&self) -> IdTag {
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
    ) -> Result<serde_json::Value, CommandError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(CommandError::Offline(charger.clone()));
        }
        let start = (command.kind == CommandKind::RemoteStartTransaction)
            .then(|| command.payload["connectorId"].as_u64());
        self.record(command);
        if let (true, Some(Some(connector))) = (self.one_start_per_connector, start) {
            if !self.started.lock().unwrap().insert(connector) {
                return Ok(serde_json::json!({ "status": "Rejected" }));
            }
        }
        Ok(serde_json::json!({ "status": self.answer }))
    }

    fn is_connected(&self, _charger: &ChargerId) -> bool {
        !self.offline.load(Ordering::SeqCst)
    }
}
