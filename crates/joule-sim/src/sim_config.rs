//! The settings of a simulated fleet and the charger ids it uses.
//!
//! Apart from [`crate::fleet`] because every simulated charger reads them
//! too, and the fleet starts the chargers (ADR 0011: no import circles).

use std::time::Duration;

/// Settings of a simulated fleet.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// WebSocket base, e.g. `ws://127.0.0.1:9000/ocpp`; the charger id is
    /// appended as the last path segment.
    pub base_url: String,
    /// Number of chargers.
    pub count: u32,
    /// Charger ids are `{id_prefix}{n:04}`, n from `first_index`.
    pub id_prefix: String,
    pub first_index: u32,
    /// Basic auth password (security profile 1), the same for all.
    pub password: Option<String>,
    /// Connectors per charger.
    pub connectors: u32,
    /// RFID tags drivers present; no sessions start when empty.
    pub id_tags: Vec<String>,
    /// Heartbeat interval; `None` uses the interval of the BootNotification
    /// answer.
    pub heartbeat_interval: Option<Duration>,
    /// MeterValueSampleInterval.
    pub meter_interval: Duration,
    /// Length of a charging session, uniformly in `[min, max]`.
    pub session_min: Duration,
    pub session_max: Duration,
    /// Time a connector stays free between sessions, uniformly in `[min, max]`.
    pub pause_min: Duration,
    pub pause_max: Duration,
    /// Charging power, W.
    pub power_w: f64,
    /// Phases the EV charges on (1 or 3).
    pub phases: u8,
    /// Share of periodic samples carrying an extra `SignedData` value (0..=1);
    /// when above 0, transaction begin/end readings are always signed.
    pub signed_share: f64,
    /// Seed of every random choice (charger n uses `seed` mixed with n).
    pub seed: u64,
    /// Charger starts per second.
    pub ramp_per_sec: u32,
    /// Time to wait for a CALLRESULT.
    pub call_timeout: Duration,
    /// TCP connect + WebSocket handshake limit.
    pub connect_timeout: Duration,
    pub vendor: String,
    pub model: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            base_url: "ws://127.0.0.1:9000/ocpp".to_owned(),
            count: 1,
            id_prefix: "CP-".to_owned(),
            first_index: 1,
            password: None,
            connectors: 2,
            id_tags: vec!["SIM-TAG-0001".to_owned()],
            heartbeat_interval: None,
            meter_interval: Duration::from_secs(60),
            session_min: Duration::from_secs(10 * 60),
            session_max: Duration::from_secs(60 * 60),
            pause_min: Duration::from_secs(60),
            pause_max: Duration::from_secs(15 * 60),
            power_w: 11_000.0,
            phases: 3,
            signed_share: 0.1,
            seed: 1,
            ramp_per_sec: 1_000,
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            vendor: "Joule".to_owned(),
            model: "SimCharger".to_owned(),
        }
    }
}

impl SimConfig {
    /// The ids of the fleet's chargers, in start order.
    pub fn charger_ids(&self) -> Vec<String> {
        charger_ids(&self.id_prefix, self.first_index, self.count)
    }
}

/// `count` charger ids `{prefix}{n:04}` from `first`: `CP-0001`, …,
/// `CP-9999`, `CP-10000`. Shared by `joule sim`, `joule bench` and the
/// REST preparation step so all three agree.
pub fn charger_ids(prefix: &str, first: u32, count: u32) -> Vec<String> {
    (0..count)
        .map(|n| format!("{prefix}{:04}", first.saturating_add(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charger_ids_are_padded_to_four_digits() {
        assert_eq!(charger_ids("CP-", 1, 2), ["CP-0001", "CP-0002"]);
        assert_eq!(charger_ids("CP-", 9_999, 2), ["CP-9999", "CP-10000"]);
        assert!(charger_ids("X", 1, 0).is_empty());
    }
}
