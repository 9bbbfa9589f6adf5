//! How an operator configures the Stripe adapter (docs/payments.md,
//! "Gateways"). Secrets are [`Secret`]s so a printed config shows none.

use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;

/// The Stripe API version Joule's field mapping was written against; sent
/// as `Stripe-Version` so a change of the account's default version cannot
/// change the shape of answers under us.
pub const DEFAULT_API_VERSION: &str = "2024-06-20";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    /// `https://api.stripe.com`; tests point it at localstripe. Plain
    /// `http` is accepted for loopback hosts only.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// `sk_…` or a restricted `rk_…` key.
    pub secret_key: Secret,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: Secret,
    /// Per request; past it the outcome is unknown and the call is retried
    /// later with the same idempotency key.
    #[serde(default = "default_timeout_s")]
    pub request_timeout_s: u64,
    /// Oldest webhook signature accepted, against replays.
    #[serde(default = "default_tolerance_s")]
    pub webhook_tolerance_s: u64,
    /// Whether this Stripe account may increment authorizations (an
    /// eligibility Stripe grants per account); holds are then created with
    /// `request_incremental_authorization=if_available`.
    #[serde(default)]
    pub supports_increment: bool,
    #[serde(default = "default_api_version")]
    pub api_version: String,
}

impl StripeConfig {
    /// A configuration with the defaults, for code and tests.
    pub fn new(secret_key: Secret, webhook_secret: Secret) -> Self {
        Self {
            base_url: default_base_url(),
            secret_key,
            webhook_secret,
            request_timeout_s: default_timeout_s(),
            webhook_tolerance_s: default_tolerance_s(),
            supports_increment: false,
            api_version: default_api_version(),
        }
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_s)
    }

    pub(crate) fn webhook_tolerance(&self) -> Duration {
        Duration::from_secs(self.webhook_tolerance_s)
    }
}

fn default_base_url() -> String {
    "https://api.stripe.com".to_owned()
}

fn default_timeout_s() -> u64 {
    30
}

fn default_tolerance_s() -> u64 {
    300
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}
