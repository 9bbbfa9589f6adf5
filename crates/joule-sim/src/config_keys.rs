//! The configuration keys of a simulated charger (OCPP 1.6 §9.1 Core, §9.2
//! Local Auth List, §9.4 Smart Charging), answered by GetConfiguration and
//! changed by ChangeConfiguration.
//!
//! A fleet of 20,000 chargers shares this static table; each charger only
//! stores the keys it was told to change.

/// A standard key with its default value.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub key: &'static str,
    pub readonly: bool,
    pub default: &'static str,
}

const fn rw(key: &'static str, default: &'static str) -> KeyDef {
    KeyDef {
        key,
        readonly: false,
        default,
    }
}

const fn ro(key: &'static str, default: &'static str) -> KeyDef {
    KeyDef {
        key,
        readonly: true,
        default,
    }
}

/// Keys whose value lives in the charger's state (the `default` is unused).
pub const HEARTBEAT_INTERVAL: &str = "HeartbeatInterval";
pub const METER_VALUE_SAMPLE_INTERVAL: &str = "MeterValueSampleInterval";
pub const NUMBER_OF_CONNECTORS: &str = "NumberOfConnectors";
pub const AUTHORIZE_REMOTE_TX_REQUESTS: &str = "AuthorizeRemoteTxRequests";

/// Every key the simulator knows, in GetConfiguration order.
pub const KEYS: &[KeyDef] = &[
    rw("AllowOfflineTxForUnknownId", "false"),
    rw("AuthorizationCacheEnabled", "false"),
    rw(AUTHORIZE_REMOTE_TX_REQUESTS, "false"),
    rw("BlinkRepeat", "3"),
    rw("ClockAlignedDataInterval", "0"),
    rw("ConnectionTimeOut", "60"),
    rw("ConnectorPhaseRotation", "0.RST"),
    ro("GetConfigurationMaxKeys", "50"),
    rw(HEARTBEAT_INTERVAL, "300"),
    rw("LightIntensity", "80"),
    rw("LocalAuthorizeOffline", "true"),
    rw("LocalPreAuthorize", "false"),
    rw("MeterValuesAlignedData", "Energy.Active.Import.Register"),
    rw(
        "MeterValuesSampledData",
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC",
    ),
    rw(METER_VALUE_SAMPLE_INTERVAL, "60"),
    ro(NUMBER_OF_CONNECTORS, "1"),
    rw("ResetRetries", "3"),
    rw("StopTransactionOnEVSideDisconnect", "true"),
    rw("StopTransactionOnInvalidId", "true"),
    rw("StopTxnAlignedData", ""),
    rw("StopTxnSampledData", "Energy.Active.Import.Register"),
    ro(
        "SupportedFeatureProfiles",
        "Core,FirmwareManagement,LocalAuthListManagement,SmartCharging,RemoteTrigger",
    ),
    rw("TransactionMessageAttempts", "3"),
    rw("TransactionMessageRetryInterval", "30"),
    rw("UnlockConnectorOnEVSideDisconnect", "true"),
    rw("WebSocketPingInterval", "0"),
    rw("LocalAuthListEnabled", "true"),
    ro("LocalAuthListMaxLength", "1000"),
    ro("SendLocalListMaxLength", "100"),
    ro("ChargeProfileMaxStackLevel", "10"),
    ro("ChargingScheduleAllowedChargingRateUnit", "Current,Power"),
    ro("ChargingScheduleMaxPeriods", "24"),
    ro("MaxChargingProfilesInstalled", "10"),
];

/// The definition of `key` (exact, case-sensitive match as in the spec).
pub fn lookup(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.key == key)
}

/// Whether `value` fits the type of `def` (integer keys take integers,
/// boolean keys `true`/`false`, lists anything).
pub fn value_fits(def: &KeyDef, value: &str) -> bool {
    if def.default.parse::<u32>().is_ok() {
        value.trim().parse::<u32>().is_ok()
    } else if matches!(def.default, "true" | "false") {
        value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
    } else {
        value.len() <= 500
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_within_spec_lengths() {
        let mut names: Vec<_> = KEYS.iter().map(|k| k.key).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYS.len());
        assert!(KEYS
            .iter()
            .all(|k| k.key.len() <= 50 && k.default.len() <= 500));
        assert!(lookup(HEARTBEAT_INTERVAL).is_some());
        assert!(lookup("heartbeatinterval").is_none());
    }

    #[test]
    fn values_are_type_checked() {
        let hb = lookup(HEARTBEAT_INTERVAL).unwrap();
        assert!(value_fits(hb, "60"));
        assert!(!value_fits(hb, "sixty"));
        let b = lookup("LocalPreAuthorize").unwrap();
        assert!(value_fits(b, "TRUE"));
        assert!(!value_fits(b, "1"));
        assert!(value_fits(
            lookup("StopTxnAlignedData").unwrap(),
            "Energy.Active.Import.Register"
        ));
    }
}
