//! Typed, layered configuration: defaults → TOML file (`--config`) →
//! `JOULE_*` environment variables → command-line flags. One `Settings`
//! value is built at start-up and its parts are handed to constructors; there
//! is no global configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything `joule serve` can be told.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub ocpp: OcppSettings,
    pub api: ApiSettings,
    pub message_log: MessageLogSettings,
    pub log: LogSettings,
    pub operator: OperatorSettings,
    pub payments: PaymentsSettings,
    pub receipts: ReceiptSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (embedded, default) or `postgres://…`.
    pub url: String,
    /// SQLite `synchronous` pragma: `full` (durable across power loss, the
    /// default) or `normal` (durable across process crashes only).
    pub sqlite_synchronous: SqliteSynchronous,
    /// Maximum connections in the PostgreSQL pool.
    pub postgres_max_connections: u32,
    /// PostgreSQL schema to use (created if absent); default: the role's
    /// search path (normally `public`).
    pub postgres_schema: Option<String>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://./joule-data/joule.db".into(),
            sqlite_synchronous: SqliteSynchronous::Full,
            postgres_max_connections: 16,
            postgres_schema: None,
        }
    }
}

/// How hard SQLite syncs to disk at each group commit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

/// What to do with a charger that connects but is not registered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnknownChargers {
    Reject,
    AutoRegister,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OcppSettings {
    /// Where chargers connect: `ws://HOST:PORT/ocpp/{chargeBoxId}`.
    pub listen: SocketAddr,
    pub unknown_chargers: UnknownChargers,
    /// Heartbeat interval told to accepted chargers at boot.
    pub heartbeat_interval_s: u32,
    /// Retry interval told to pending/rejected chargers at boot.
    pub boot_retry_interval_s: u32,
    /// How long a command waits for the charger's answer.
    pub call_timeout_s: u64,
    /// Commands that may wait behind the one in flight, per charger.
    pub command_queue: usize,
    /// WebSocket ping period and how long to wait for the pong: a dead
    /// charger is marked offline within their sum.
    pub ping_interval_s: u64,
    pub pong_timeout_s: u64,
    pub max_frame_bytes: usize,
    /// Incoming calls per second allowed per charger, and the burst above it.
    pub rate_limit_per_s: u32,
    pub rate_burst: u32,
    /// Base URL of the receipt pages (`{[api] public_base_url}/receipts`):
    /// chargers that display prices (OCA California Pricing) show
    /// `{receipt_base_url}/{receipt token}` of a session paid through Joule
    /// as a QR code with the final cost.
    pub receipt_base_url: String,
    /// Seconds between the OCA `RunningCost` messages of a session on a
    /// charger that displays prices (also sent at its start and when a
    /// tariff boundary is crossed); 0 is taken as 1.
    pub running_cost_interval_s: u64,
}

impl Default for OcppSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9000)),
            unknown_chargers: UnknownChargers::Reject,
            heartbeat_interval_s: 300,
            boot_retry_interval_s: 60,
            call_timeout_s: 30,
            command_queue: 16,
            ping_interval_s: 30,
            pong_timeout_s: 30,
            max_frame_bytes: 64 * 1024,
            rate_limit_per_s: 20,
            rate_burst: 100,
            receipt_base_url: "http://127.0.0.1:8080/receipts".to_owned(),
            running_cost_interval_s: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    pub listen: SocketAddr,
    /// The admin API key to install when the database has none. Taken from
    /// `JOULE_ADMIN_KEY` as well; never logged.
    #[serde(skip_serializing)]
    pub admin_key: Option<String>,
    /// Where drivers reach the pages from outside (scheme, host, optional
    /// path prefix): the pay page QR codes hold `{public_base_url}/pay/…`.
    /// Default: `http://` and the address the API listens on.
    pub public_base_url: Option<String>,
    /// Where the pay page loads Stripe.js from (tests point it at
    /// localstripe's fake).
    pub stripe_js_url: String,
    /// Rate limits of the public pay POST routes.
    pub pay_rate_limit: joule_api::rate_limit::PayRateLimits,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_key: None,
            public_base_url: None,
            stripe_js_url: joule_api::pages::DEFAULT_STRIPE_JS_URL.to_owned(),
            pay_rate_limit: Default::default(),
        }
    }
}

/// Who sells the energy, printed on every receipt (weights-and-measures
/// rules ask for the business name and a contact; EU invoices a VAT id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorSettings {
    pub name: String,
    /// Postal address, one line per entry.
    pub address: Vec<String>,
    pub vat_id: Option<String>,
    /// E-mail, phone or web address for questions and complaints.
    pub contact: Option<String>,
    /// A jurisdiction's complaint notice, printed as given.
    pub complaint_notice: Option<String>,
}

impl Default for OperatorSettings {
    fn default() -> Self {
        Self {
            name: "Joule".to_owned(),
            address: Vec::new(),
            vat_id: None,
            contact: None,
            complaint_notice: None,
        }
    }
}

impl OperatorSettings {
    pub fn info(&self) -> joule_domain::receipts::receipt::OperatorInfo {
        joule_domain::receipts::receipt::OperatorInfo {
            name: self.name.clone(),
            address: self.address.clone(),
            vat_id: self.vat_id.clone(),
            contact: self.contact.clone(),
            complaint_notice: self.complaint_notice.clone(),
        }
    }
}

/// Which payment gateway takes web payments. None by default: the pay
/// routes then answer 503 `payments_disabled`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    #[default]
    None,
    /// Demo and tests only: no money moves.
    Simulated,
    Stripe,
}

/// `[payments]`: the gateway, holds and the payment workers
/// (docs/configuration.md, docs/payments.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsSettings {
    pub gateway: GatewayKind,
    /// `sk_…` or `rk_…`; never logged.
    #[serde(skip_serializing)]
    pub stripe_secret_key: Option<String>,
    /// `pk_…`, handed to the pay page for Stripe.js.
    pub stripe_publishable_key: Option<String>,
    /// Tests point it at localstripe (http only for loopback).
    pub stripe_base_url: Option<String>,
    /// The webhook endpoint's signing secret (`whsec_…`); never logged.
    #[serde(skip_serializing)]
    pub stripe_webhook_secret: Option<String>,
    /// Seconds Joule waits for one Stripe request; past it the outcome is
    /// unknown and the recovery worker finishes the step.
    pub stripe_request_timeout_s: u64,
    /// Hold placed when the tariff in force sets none, in minor units of
    /// `default_hold_currency`; a tariff in another currency needs its own
    /// `hold_amount_minor`.
    pub default_hold_minor: i64,
    pub default_hold_currency: String,
    /// Seconds after the hold within which the session must start, else
    /// the hold is voided.
    pub start_timeout_s: u64,
    /// Seconds a driver has to confirm the card before the payment is
    /// abandoned.
    pub card_timeout_s: u64,
    /// Seconds a step may stay intended before the recovery worker
    /// finishes it. At least [`PaymentsSettings::min_recovery_after_s`]:
    /// twice the longest its owner may still be waiting (start-up refuses
    /// less, see [`Settings::check`]).
    pub recovery_after_s: u64,
    /// Seconds between passes of the recovery worker and the sweeper.
    pub worker_interval_s: u64,
    /// Refuse (`Blocked`) a token whose account has an unpaid declined
    /// charge until the debt is settled (docs/payments.md, "Accounts").
    pub block_accounts_in_debt: bool,
    /// Refuse (`Blocked`) a token whose account has no saved card; when
    /// false such sessions are allowed and their charge becomes debt.
    pub account_requires_card: bool,
    /// Seconds between hold-limit checks of every running session with an
    /// open hold (the safety net; each meter value is checked at once).
    pub hold_check_interval_s: u64,
    /// Whether the Stripe account may increment authorizations (Stripe
    /// enables it per account; localstripe has none).
    pub stripe_supports_increment: bool,
    /// Whether the simulated gateway increments authorizations (tests of a
    /// gateway without it set `false`).
    pub simulated_supports_increment: bool,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            gateway: GatewayKind::None,
            stripe_secret_key: None,
            stripe_publishable_key: None,
            stripe_base_url: None,
            stripe_webhook_secret: None,
            stripe_request_timeout_s: 30,
            default_hold_minor: 5000,
            default_hold_currency: "EUR".to_owned(),
            start_timeout_s: 120,
            card_timeout_s: 900,
            // 2 × (stripe_request_timeout_s + ocpp.call_timeout_s)
            recovery_after_s: 120,
            worker_interval_s: 5,
            block_accounts_in_debt: true,
            account_requires_card: true,
            hold_check_interval_s: 30,
            stripe_supports_increment: false,
            simulated_supports_increment: true,
        }
    }
}

impl PaymentsSettings {
    /// How long one gateway request may keep its caller waiting: the
    /// Stripe request time-out (at least 1 s, as the gateway is built);
    /// nothing for the simulated gateway, which answers in-process. `None`
    /// when payments are off.
    fn gateway_wait_s(&self) -> Option<u64> {
        match self.gateway {
            GatewayKind::None => None,
            GatewayKind::Simulated => Some(0),
            GatewayKind::Stripe => Some(self.stripe_request_timeout_s.max(1)),
        }
    }

    /// The `recovery_after_s` these time-outs call for:
    /// `2 × (gateway wait + ocpp.call_timeout_s)`. The owner of a payment
    /// step (whoever holds the payment's claim, which lapses after
    /// `recovery_after_s`) may wait for one gateway request and then for the
    /// charger's answer to the RemoteStart sent once a hold is confirmed;
    /// twice that leaves a margin as long as the wait itself. Below it the
    /// claim can lapse under a live owner: its later writes are refused and
    /// recovery takes over (reading the gateway first), so nothing is done
    /// twice, but calls and remote starts are repeated for nothing. `None`
    /// when payments are off (no recovery worker runs).
    pub fn recommended_recovery_after_s(&self, ocpp: &OcppSettings) -> Option<u64> {
        let wait = self.gateway_wait_s()?.saturating_add(ocpp.call_timeout_s);
        Some(wait.saturating_mul(2))
    }

    /// The least `recovery_after_s` Joule starts with: comfortably above
    /// the gateway time-out (twice it), or recovery would take over nearly
    /// every step while its request still waits for the gateway.
    pub fn min_recovery_after_s(&self) -> Option<u64> {
        Some(self.gateway_wait_s()?.saturating_mul(2))
    }
}

impl Settings {
    /// Refuses settings that are unsafe to run with, before anything is
    /// opened or bound, and returns warnings about settings that work but
    /// cost something (to be logged loudly): a `payments.recovery_after_s`
    /// below [`PaymentsSettings::min_recovery_after_s`] is refused, one
    /// below [`PaymentsSettings::recommended_recovery_after_s`] is warned
    /// about (docs/configuration.md, "Payment timing").
    pub fn check(&self) -> anyhow::Result<Vec<String>> {
        let p = &self.payments;
        let mut warnings = Vec::new();
        if let Some(min) = p.min_recovery_after_s() {
            if p.recovery_after_s < min.max(1) {
                anyhow::bail!(
                    "unsafe settings: payments.recovery_after_s = {} must be at least \
                     2 × payments.stripe_request_timeout_s = 2 × {} = {}: with less, the recovery \
                     worker would take over nearly every payment step while its request still \
                     waits for the gateway. Raise payments.recovery_after_s or lower the time-out \
                     (docs/configuration.md, \"Payment timing\")",
                    p.recovery_after_s,
                    p.stripe_request_timeout_s.max(1),
                    min.max(1)
                );
            }
        }
        if let Some(recommended) = p.recommended_recovery_after_s(&self.ocpp) {
            if p.recovery_after_s < recommended {
                let formula = match p.gateway {
                    GatewayKind::Stripe => format!(
                        "2 × (payments.stripe_request_timeout_s + ocpp.call_timeout_s) = 2 × ({} + {})",
                        p.stripe_request_timeout_s.max(1),
                        self.ocpp.call_timeout_s
                    ),
                    GatewayKind::Simulated | GatewayKind::None => format!(
                        "2 × ocpp.call_timeout_s = 2 × {} (the simulated gateway answers at once)",
                        self.ocpp.call_timeout_s
                    ),
                };
                warnings.push(format!(
                    "payments.recovery_after_s = {} is below {formula} = {recommended}: a payment's \
                     claim can lapse while its owner still waits for the gateway or the charger; \
                     nothing is done twice (the lapsed owner's writes are refused), but gateway \
                     calls and remote starts will be repeated for nothing (docs/configuration.md, \
                     \"Payment timing\")",
                    p.recovery_after_s
                ));
            }
        }
        Ok(warnings)
    }
}

/// `[receipts]`: emailing each captured payment's receipt to the address
/// the driver gave (docs/payments.md, "Receipt emails"). Off while
/// `smtp_host` is unset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptSettings {
    pub smtp_host: Option<String>,
    /// Default: 25, 587 or 465 by `smtp_security`.
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls`, or `none` (a local relay or test server).
    pub smtp_security: joule_mail::SmtpSecurity,
    pub smtp_username: Option<String>,
    /// Never logged.
    #[serde(skip_serializing)]
    pub smtp_password: Option<String>,
    /// The sender, e.g. `Joule Charging <receipts@example.com>`.
    pub from: String,
    /// Per SMTP command.
    pub smtp_timeout_s: u64,
    /// Seconds before the first retry of a failed send; doubled each
    /// time, at most an hour.
    pub retry_initial_s: u64,
    /// Attempts before an email is given up.
    pub max_attempts: u32,
    /// Seconds between looks for emails to send.
    pub poll_interval_s: u64,
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        Self {
            smtp_host: None,
            smtp_port: None,
            smtp_security: joule_mail::SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            from: "Joule <receipts@localhost>".to_owned(),
            smtp_timeout_s: 30,
            retry_initial_s: 30,
            max_attempts: 8,
            poll_interval_s: 2,
        }
    }
}

impl ReceiptSettings {
    /// The SMTP server, when receipt emails are on.
    pub fn smtp(&self) -> Option<joule_mail::SmtpConfig> {
        let host = self.smtp_host.clone().filter(|h| !h.is_empty())?;
        Some(joule_mail::SmtpConfig {
            host,
            port: self.smtp_port,
            security: self.smtp_security,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            from: self.from.clone(),
            timeout_s: self.smtp_timeout_s,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MessageLogSettings {
    /// Frames older than this are deleted; 0 keeps them forever.
    pub retention_days: u32,
}

impl Default for MessageLogSettings {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,joule_csms=debug`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// Builds the settings from all layers. `overrides` are the command-line
/// flags, already shaped as a partial settings tree.
pub fn load(
    config_file: Option<&Path>,
    overrides: serde_json::Value,
) -> Result<Settings, Box<figment::Error>> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = config_file {
        if !path.exists() {
            return Err(Box::new(figment::Error::from(format!(
                "config file {} does not exist",
                path.display()
            ))));
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment
        // Only JOULE_SECTION__KEY variables are settings; other JOULE_*
        // variables (JOULE_BIN, JOULE_API_KEY of the tools, …) are not ours to refuse.
        .merge(
            Env::prefixed("JOULE_")
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        )
        // Short aliases for the two settings people set most.
        .merge(
            Env::raw()
                .only(&["JOULE_DATABASE"])
                .map(|_| "database.url".into()),
        )
        .merge(
            Env::raw()
                .only(&["JOULE_ADMIN_KEY"])
                .map(|_| "api.admin_key".into()),
        )
        .merge(Serialized::defaults(overrides));
    figment.extract().map_err(Box::new)
}

/// The directory holding a SQLite database file, so it can be created.
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://")?;
    Path::new(path).parent().map(Path::to_path_buf)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own error
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_match_the_readme() {
        let s = Settings::default();
        assert_eq!(s.ocpp.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.api.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://./joule-data/joule.db");
        assert!(s.ocpp.ping_interval_s + s.ocpp.pong_timeout_s < 120);
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "joule.toml",
                r#"
                [ocpp]
                heartbeat_interval_s = 111
                call_timeout_s = 7
                [api]
                listen = "127.0.0.1:1111"
                "#,
            )?;
            jail.set_env("JOULE_OCPP__CALL_TIMEOUT_S", "8");
            jail.set_env("JOULE_API__LISTEN", "127.0.0.1:2222");
            jail.set_env("JOULE_DATABASE", "postgres://db/joule");
            jail.set_env("JOULE_ADMIN_KEY", "jk_abc_secret");
            jail.set_env("JOULE_BIN", "/usr/local/bin/joule"); // not a setting: ignored
            let s = load(
                Some(Path::new("joule.toml")),
                serde_json::json!({"api": {"listen": "127.0.0.1:3333"}}),
            )
            .map_err(|e| *e)?;
            assert_eq!(s.ocpp.heartbeat_interval_s, 111); // file
            assert_eq!(s.ocpp.call_timeout_s, 8); // env beats file
            assert_eq!(s.api.listen.to_string(), "127.0.0.1:3333"); // flag beats env
            assert_eq!(s.database.url, "postgres://db/joule");
            assert_eq!(s.api.admin_key.as_deref(), Some("jk_abc_secret"));
            Ok(())
        });
    }

    #[test]
    fn pay_rate_limits_come_from_the_file_and_nested_env() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "joule.toml",
                r#"
                [api.pay_rate_limit]
                per_ip = { per_minute = 30, burst = 15 }
                client_ip_header = "x-forwarded-for"
                "#,
            )?;
            jail.set_env("JOULE_API__PAY_RATE_LIMIT__PER_CONNECTOR__BURST", "3");
            let s = load(Some(Path::new("joule.toml")), serde_json::json!({})).map_err(|e| *e)?;
            let limits = &s.api.pay_rate_limit;
            assert_eq!((limits.per_ip.per_minute, limits.per_ip.burst), (30, 15));
            assert_eq!(
                (limits.per_connector.per_minute, limits.per_connector.burst),
                (6, 3)
            );
            assert_eq!(limits.client_ip_header.as_deref(), Some("x-forwarded-for"));
            Ok(())
        });
    }

    #[test]
    fn recovery_after_is_refused_near_the_gateway_time_out_and_warned_about_below_the_owners_wait()
    {
        let mut s = Settings::default();
        // Payments off: no recovery worker, nothing to check.
        s.payments.recovery_after_s = 1;
        assert!(s.check().unwrap().is_empty());

        s = Settings::default();
        s.payments.gateway = GatewayKind::Stripe;
        // The defaults: 2 × (30 + 30) = 120, no warning.
        assert_eq!(s.payments.recommended_recovery_after_s(&s.ocpp), Some(120));
        assert!(s.check().unwrap().is_empty());
        s.payments.recovery_after_s = 119;
        let warned = s.check().unwrap();
        assert_eq!(warned.len(), 1);
        assert!(
            warned[0].contains(
                "2 × (payments.stripe_request_timeout_s + ocpp.call_timeout_s) = 2 × (30 + 30) = 120"
            ),
            "{warned:?}"
        );
        // Not comfortably above the gateway time-out: refused.
        s.payments.recovery_after_s = 59;
        let refused = s.check().unwrap_err().to_string();
        assert!(
            refused.contains("payments.recovery_after_s = 59"),
            "{refused}"
        );
        assert!(
            refused.contains("2 × payments.stripe_request_timeout_s = 2 × 30 = 60"),
            "{refused}"
        );
        s.payments.recovery_after_s = 60;
        assert_eq!(s.check().unwrap().len(), 1);
        // 0 s is taken as 1 s by the Stripe client, and checked as such.
        s.payments.stripe_request_timeout_s = 0;
        s.ocpp.call_timeout_s = 2;
        s.payments.recovery_after_s = 1;
        assert!(s.check().is_err());
        s.payments.recovery_after_s = 6;
        assert!(s.check().unwrap().is_empty());

        // The simulated gateway answers at once: only the charger's wait.
        s.payments.gateway = GatewayKind::Simulated;
        s.payments.stripe_request_timeout_s = 30;
        s.payments.recovery_after_s = 4;
        assert!(s.check().unwrap().is_empty());
        s.payments.recovery_after_s = 3;
        let warned = s.check().unwrap();
        assert!(
            warned[0].contains("2 × ocpp.call_timeout_s = 2 × 2"),
            "{warned:?}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[ocpp]\nlisen = \"0.0.0.0:1\"\n")?;
            assert!(load(Some(Path::new("bad.toml")), serde_json::json!({})).is_err());
            Ok(())
        });
    }
}
