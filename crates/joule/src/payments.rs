//! Wiring of the payment service from `[payments]`: the gateway, the
//! random source, and, in test builds only (the `fault-injection`
//! feature), the crash-point hook (`JOULE_FAULT`).

use std::sync::Arc;

use anyhow::Context;
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::ports::clock::Clock;
use joule_domain::ports::command::CommandRouter;
use joule_domain::ports::store::Store;
use joule_domain::services::payments::{
    FaultHook, GatewayRegistry, PaymentPorts, PaymentService, PaymentSettings, RandomSource,
};
use joule_payments::{Secret, SimulatedConfig, SimulatedGateway, StripeConfig, StripeGateway};

use crate::settings::{GatewayKind, PaymentsSettings};

/// The operating system's CSPRNG (through `rand`'s thread RNG, seeded
/// from it).
#[derive(Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn bytes16(&self) -> [u8; 16] {
        use rand::RngCore;
        let mut out = [0u8; 16];
        rand::rng().fill_bytes(&mut out);
        out
    }
}

/// The payment service's crash-point hook. Only a test build (the
/// `fault-injection` feature, which scripts/test turns on) has one, read
/// from `JOULE_FAULT`; the binary an operator builds has no code that
/// reads that variable, so this is `None` whatever the environment says.
pub fn fault_hook() -> Option<Arc<dyn FaultHook>> {
    #[cfg(feature = "fault-injection")]
    {
        crash_after::CrashAfter::from_env().map(|c| Arc::new(c) as Arc<dyn FaultHook>)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        None
    }
}

/// TEST BUILDS ONLY (`--features joule/fault-injection`):
/// `JOULE_FAULT=crash_after:<point>` kills the process with SIGKILL the
/// moment a flow reaches `<point>` (`<step kind>_intended` or
/// `<step kind>_called`, e.g. `capture_intended`, `void_called`; see
/// `FaultPoint`), as a power cut would: no destructor, flush or commit
/// runs. It proves that recovery finishes the step exactly once after a
/// restart.
#[cfg(feature = "fault-injection")]
mod crash_after {
    use joule_domain::services::payments::{FaultHook, FaultPoint};

    #[derive(Debug)]
    pub(super) struct CrashAfter(FaultPoint);

    impl CrashAfter {
        pub(super) fn from_env() -> Option<Self> {
            let raw = std::env::var("JOULE_FAULT").ok()?;
            let point = raw.strip_prefix("crash_after:").and_then(FaultPoint::parse);
            match point {
                Some(p) => {
                    tracing::warn!(
                        point = %p.name(),
                        "JOULE_FAULT set: this process will crash on purpose (tests only)"
                    );
                    Some(Self(p))
                }
                None => {
                    tracing::warn!(value = %raw, "JOULE_FAULT not understood; ignored");
                    None
                }
            }
        }
    }

    impl FaultHook for CrashAfter {
        fn reached(&self, point: FaultPoint) {
            if point == self.0 {
                eprintln!("JOULE_FAULT: crashing after {}", point.name());
                kill_self();
            }
        }
    }

    #[cfg(unix)]
    fn kill_self() {
        use rustix::process::{getpid, kill_process, Signal};
        // Only an error when the signal cannot be sent to ourselves; abort then.
        let _ = kill_process(getpid(), Signal::KILL);
        std::process::abort();
    }

    #[cfg(not(unix))]
    fn kill_self() {
        std::process::abort();
    }
}

/// The configured gateways; empty when payments are disabled.
pub fn gateway_registry(settings: &PaymentsSettings) -> anyhow::Result<GatewayRegistry> {
    Ok(match settings.gateway {
        GatewayKind::None => GatewayRegistry::new(),
        GatewayKind::Simulated => {
            tracing::warn!(
                gateway = "simulated",
                "SIMULATED payment gateway in use: no real money moves (demo and tests only)"
            );
            let gateway = Arc::new(SimulatedGateway::new(SimulatedConfig {
                supports_increment: settings.simulated_supports_increment,
                ..SimulatedConfig::default()
            }));
            GatewayRegistry::new()
                .with(gateway.clone())
                .with_test_cards("simulated", gateway)
        }
        GatewayKind::Stripe => {
            let secret = settings
                .stripe_secret_key
                .clone()
                .context("payments.stripe_secret_key is required with gateway = \"stripe\"")?;
            let webhook = settings
                .stripe_webhook_secret
                .clone()
                .context("payments.stripe_webhook_secret is required with gateway = \"stripe\"")?;
            let mut config = StripeConfig::new(Secret::new(secret), Secret::new(webhook));
            config.request_timeout_s = settings.stripe_request_timeout_s.max(1);
            config.supports_increment = settings.stripe_supports_increment;
            if let Some(url) = &settings.stripe_base_url {
                config.base_url = url.trim_end_matches('/').to_owned();
            }
            let gateway = StripeGateway::new(config).context("the Stripe configuration")?;
            tracing::info!(gateway = "stripe", "payment gateway ready");
            GatewayRegistry::new().with(Arc::new(gateway))
        }
    })
}

/// The service's settings from `[payments]`; links to drivers start with
/// `public_base_url` (`[api] public_base_url`, or this API's own address).
pub fn payment_settings(
    settings: &PaymentsSettings,
    public_base_url: &str,
) -> anyhow::Result<PaymentSettings> {
    let currency = Currency::parse(&settings.default_hold_currency)
        .map_err(|e| anyhow::anyhow!("payments.default_hold_currency: {e}"))?;
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    Ok(PaymentSettings {
        default_hold: (settings.default_hold_minor > 0)
            .then(|| Money::from_minor(settings.default_hold_minor, currency)),
        start_timeout: secs(settings.start_timeout_s),
        card_timeout: secs(settings.card_timeout_s),
        recovery_after: secs(settings.recovery_after_s),
        public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        publishable_key: match settings.gateway {
            GatewayKind::Stripe => settings.stripe_publishable_key.clone(),
            GatewayKind::Simulated | GatewayKind::None => None,
        },
    })
}

/// The payment service over `store`, reaching chargers through `commands`.
pub fn payment_service(
    store: Arc<dyn Store>,
    commands: Arc<dyn CommandRouter>,
    clock: Arc<dyn Clock>,
    gateways: GatewayRegistry,
    settings: PaymentSettings,
) -> PaymentService {
    let accounts: Arc<dyn joule_domain::ports::store::AccountStore> = store.clone();
    let holds: Arc<dyn joule_domain::ports::store::HoldLimitStore> = store.clone();
    let receipt_emails: Arc<dyn joule_domain::ports::store::ReceiptEmailStore> = store.clone();
    let ports = PaymentPorts {
        faults: fault_hook(),
        ..PaymentPorts::new(store, commands, clock, Arc::new(OsRandom))
    };
    PaymentService::new(ports, gateways, settings)
        .with_accounts(accounts)
        .with_hold_limits(holds)
        .with_receipt_emails(receipt_emails)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own error
mod tests {
    use super::*;
    use figment::Jail;

    /// The binary an operator builds ignores `JOULE_FAULT`: no fault hook
    /// whatever it says. A test build (`fault-injection`) reads it.
    #[test]
    fn joule_fault_is_read_by_test_builds_only() {
        Jail::expect_with(|jail| {
            jail.set_env("JOULE_FAULT", "crash_after:capture_intended");
            let hook = fault_hook();
            if cfg!(feature = "fault-injection") {
                assert!(hook.is_some(), "a test build reads JOULE_FAULT");
            } else {
                assert!(hook.is_none(), "the default build must ignore JOULE_FAULT");
            }
            jail.set_env("JOULE_FAULT", "crash_after:no_such_point");
            assert!(fault_hook().is_none());
            Ok(())
        });
    }
}
