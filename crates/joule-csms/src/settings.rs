//! Settings of the charger-facing server.

use std::net::SocketAddr;
use std::time::Duration;

/// What to do with a charger whose identity is not in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownChargerPolicy {
    /// Refuse the handshake with HTTP 404 (OCPP-J 1.6 §3.1.1).
    #[default]
    Reject,
    /// Register it as `Pending` (no password) and let it connect: it may boot
    /// and is told to retry until an operator accepts it.
    AutoRegisterPending,
}

/// Settings of [`crate::Csms`].
#[derive(Debug, Clone)]
pub struct CsmsSettings {
    /// Where to listen for chargers; port 0 picks a free port.
    pub listen: SocketAddr,
    pub unknown_chargers: UnknownChargerPolicy,
    /// How long a command waits for the charger's answer once written.
    pub call_timeout: Duration,
    /// Commands that may wait per charger (mailbox and queue behind the one
    /// in flight); beyond it, `CommandError::Busy`.
    pub command_queue: usize,
    /// Quiet time after which Joule pings a charger.
    pub ping_interval: Duration,
    /// How long after a ping the charger has to show any sign of life.
    pub pong_timeout: Duration,
    /// Largest WebSocket message accepted; above it the connection is closed
    /// with 1009 (see the crate docs).
    pub max_frame_bytes: usize,
    /// Sustained rate of data frames per connection.
    pub rate_limit_per_s: u32,
    /// Frames a charger may send in a burst above the rate.
    pub rate_burst: u32,
    /// Time allowed for the whole HTTP upgrade (request head and auth).
    pub handshake_timeout: Duration,
    /// Receipt page base URL: the OCA `qrCodeText` is this + `/{receipt
    /// token}` of the session's payment (see `v16::tariff_and_cost`).
    pub receipt_base_url: String,
    /// Period of the OCA `RunningCost` during a session on a charger that
    /// displays prices (also sent at start and at tariff boundaries).
    pub running_cost_interval: Duration,
}

impl Default for CsmsSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9000)),
            unknown_chargers: UnknownChargerPolicy::Reject,
            call_timeout: Duration::from_secs(30),
            command_queue: 16,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(30),
            max_frame_bytes: 64 * 1024,
            rate_limit_per_s: 20,
            rate_burst: 60,
            handshake_timeout: Duration::from_secs(10),
            receipt_base_url: "http://127.0.0.1:8080/receipts".to_owned(),
            running_cost_interval: Duration::from_secs(60),
        }
    }
}
