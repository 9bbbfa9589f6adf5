//! # joule-payments
//!
//! Payment gateway adapters behind the domain's
//! [`PaymentGateway`](joule_domain::payments::gateway::PaymentGateway) port:
//! [`stripe`] (the REST API; tested against localstripe) and [`simulated`]
//! (in-process, for demos and tests; no money moves). The binary picks one
//! from configuration with [`build_gateway`]. Adding a gateway (Adyen,
//! Worldline) is a new module here and a new [`GatewayConfig`] variant.
//!
//! **May depend on:** joule-domain, reqwest (rustls), serde, hmac + sha2,
//! tracing. Never on another adapter (store, api, csms) nor the binary.
//!
//! **Concurrency model:** adapters are `Send + Sync`, shared behind an
//! `Arc`; each port call is one HTTP request (Stripe, with the configured
//! timeout) or one short critical section (simulated). No background tasks,
//! no retries inside: the payment service decides what to retry.
//!
//! **PCI DSS:** no function here accepts a card number. Cards are confirmed
//! in the browser (Stripe.js) or, for the simulated gateway, named by test
//! tokens; Joule receives references and brand / last 4 / expiry only.

pub mod secret;
pub mod signature;
pub mod simulated;
pub mod stripe;

use std::sync::Arc;

use joule_domain::payments::gateway::PaymentGateway;
use serde::Deserialize;

pub use secret::Secret;
pub use simulated::{SimulatedConfig, SimulatedGateway};
pub use stripe::{StripeConfig, StripeGateway};

/// Which gateway Joule uses, as read from settings (`[payments.gateway]`
/// with `kind = "stripe"` or `kind = "simulated"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GatewayConfig {
    Stripe(StripeConfig),
    /// Demo and tests only: no money moves.
    Simulated(SimulatedConfig),
}

/// A configuration that cannot work; reported at start, before any payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid payment gateway configuration: {0}")]
    Invalid(String),
}

/// Builds the configured gateway.
pub fn build_gateway(config: GatewayConfig) -> Result<Arc<dyn PaymentGateway>, ConfigError> {
    match config {
        GatewayConfig::Stripe(config) => {
            let gateway = StripeGateway::new(config)?;
            tracing::info!(gateway = "stripe", "payment gateway ready");
            Ok(Arc::new(gateway))
        }
        GatewayConfig::Simulated(config) => {
            tracing::warn!(
                gateway = "simulated",
                "SIMULATED payment gateway in use: no real money moves (demo and tests only)"
            );
            Ok(Arc::new(SimulatedGateway::new(config)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_picks_the_gateway_by_kind() {
        let sim: GatewayConfig = serde_json::from_str(r#"{"kind": "simulated"}"#).unwrap();
        assert_eq!(build_gateway(sim).unwrap().name(), "simulated");

        let stripe: GatewayConfig = serde_json::from_str(
            r#"{"kind": "stripe", "secret_key": "sk_test_abcdef", "webhook_secret": "whsec_x"}"#,
        )
        .unwrap();
        let gw = build_gateway(stripe).unwrap();
        assert_eq!(gw.name(), "stripe");
        assert!(!gw.capabilities().supports_increment);
        // Debug output of the adapter never shows its secrets.
        let shown = format!("{gw:?}");
        assert!(
            !shown.contains("sk_test_abcdef") && !shown.contains("whsec_x"),
            "{shown}"
        );
    }

    #[test]
    fn unsafe_or_incomplete_stripe_configs_are_refused() {
        let mk = |url: &str, key: &str, whsec: &str| {
            let mut c = StripeConfig::new(Secret::new(key), Secret::new(whsec));
            c.base_url = url.to_owned();
            StripeGateway::new(c).err()
        };
        assert!(mk("https://api.stripe.com", "sk_test_abcdef", "whsec_x").is_none());
        assert!(mk("http://127.0.0.1:8420", "sk_test_abcdef", "whsec_x").is_none());
        assert!(mk("http://api.stripe.com", "sk_test_abcdef", "whsec_x").is_some());
        assert!(mk("https://api.stripe.com", "pk_test_abcdef", "whsec_x").is_some());
        assert!(mk("https://api.stripe.com", "sk_test_abcdef", "").is_some());
        assert!(mk("not a url", "sk_test_abcdef", "whsec_x").is_some());
        let unknown: Result<GatewayConfig, _> = serde_json::from_str(
            r#"{"kind": "stripe", "secret_key": "sk_x", "webhook_secret": "w", "typo": 1}"#,
        );
        assert!(unknown.is_err());
    }
}
