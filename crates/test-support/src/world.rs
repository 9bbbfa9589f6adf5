//! The payment test world: a real store in a temporary database with one
//! accepted charger and a default energy tariff, a manual clock, the real
//! simulated gateway (or a wrapper of it), a scripted charger, and the
//! payment and charging services wired over them as the binary wires them.
//! Optional parts (a terminal, a driver account with its token) are added
//! by the builder. The payment-flow tests build one per test.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use joule_domain::kernel::ids::{ChargerId, IdToken};
use joule_domain::payments::account::{AccountId, AccountRules};
use joule_domain::payments::gateway::PaymentGateway;
use joule_domain::payments::terminal::Terminal;
use joule_domain::ports::clock::ManualClock;
use joule_domain::ports::store::Store;
use joule_domain::pricing::TariffExtensions;
use joule_domain::services::charging::{ChargingPorts, ChargingService, ChargingSettings};
use joule_domain::services::payments::{
    GatewayRegistry, PaymentPorts, PaymentService, PaymentSettings,
};
use joule_payments::{SimulatedConfig, SimulatedGateway};

use crate::records::{self, AccountSpec};
use crate::{ScriptedCharger, TempDatabase, UuidRandom};

/// A built world. `gateway` is the gateway the payment service calls: the
/// simulated one itself, or a wrapper of it such as
/// [`crate::PausingGateway`]; `sim` is always the simulated gateway (test
/// cards are entered there).
pub struct World<G = SimulatedGateway> {
    pub db: joule_store::Database,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub sim: Arc<SimulatedGateway>,
    pub gateway: Arc<G>,
    pub charger: Arc<ScriptedCharger>,
    pub payments: PaymentService,
    pub charging: ChargingService,
    pub cp: ChargerId,
    terminal: Option<Terminal>,
    account: Option<(AccountId, IdToken)>,
    _dir: tempfile::TempDir,
}

impl<G> World<G> {
    /// The terminal of a world built [`WorldBuilder::terminal`].
    pub fn terminal(&self) -> &Terminal {
        self.terminal.as_ref().expect("built with a terminal")
    }

    /// The driver account of a world built [`WorldBuilder::account`].
    pub fn account(&self) -> AccountId {
        self.account.as_ref().expect("built with an account").0
    }

    /// The token linked to the world's driver account.
    pub fn account_tag(&self) -> &IdToken {
        &self.account.as_ref().expect("built with an account").1
    }
}

/// How the world is built; every part has the default the payment tests
/// share (connector 1 available, tariff `T1` at 0.30 EUR/kWh without hold
/// amount, a charger that accepts everything, web payments linked by id
/// tag).
#[derive(Debug)]
pub struct WorldBuilder {
    charger_id: &'static str,
    at: DateTime<Utc>,
    available: bool,
    tariff_id: &'static str,
    extensions: TariffExtensions,
    charger: ScriptedCharger,
    simulated: SimulatedConfig,
    hold_limits: bool,
    web_payments: bool,
    accounts: Option<AccountRules>,
    terminal: Option<&'static str>,
    account: Option<AccountSpec>,
}

impl WorldBuilder {
    /// A world around the charger `charger_id`, everything created at
    /// `at` (the manual clock starts there).
    pub fn new(charger_id: &'static str, at: DateTime<Utc>) -> Self {
        Self {
            charger_id,
            at,
            available: true,
            tariff_id: "T1",
            extensions: TariffExtensions::default(),
            charger: ScriptedCharger::default(),
            simulated: SimulatedConfig::default(),
            hold_limits: false,
            web_payments: true,
            accounts: None,
            terminal: None,
            account: None,
        }
    }

    /// Whether connector 1 has reported `Available`.
    pub fn connector_available(mut self, available: bool) -> Self {
        self.available = available;
        self
    }

    /// The default tariff: 0.30 EUR/kWh (no VAT) named `id`, with
    /// `extensions` (the hold amount, hold limits).
    pub fn tariff(mut self, id: &'static str, extensions: TariffExtensions) -> Self {
        self.tariff_id = id;
        self.extensions = extensions;
        self
    }

    pub fn charger(mut self, charger: ScriptedCharger) -> Self {
        self.charger = charger;
        self
    }

    /// How the simulated gateway behaves (e.g. without increments).
    pub fn simulated(mut self, config: SimulatedConfig) -> Self {
        self.simulated = config;
        self
    }

    /// The payment service raises holds up to their limits.
    pub fn hold_limits(mut self) -> Self {
        self.hold_limits = true;
        self
    }

    /// Driver accounts in both services under `rules`; the charging
    /// service then does not link web payments (account sessions start at
    /// the charger).
    pub fn accounts(mut self, rules: AccountRules) -> Self {
        self.accounts = Some(rules);
        self.web_payments = false;
        self
    }

    /// A terminal named `name` on the simulated gateway, serving every
    /// connector of the world's charger.
    pub fn terminal(mut self, name: &'static str) -> Self {
        self.terminal = Some(name);
        self
    }

    /// A driver account (`email`, `name`, `language`, EUR) with the
    /// accepted RFID token `tag` linked to it.
    pub fn account(
        mut self,
        tag: &'static str,
        email: &'static str,
        name: &'static str,
        language: &'static str,
    ) -> Self {
        self.account = Some(AccountSpec {
            tag,
            email,
            name,
            language,
        });
        self
    }

    /// Builds the world with the simulated gateway itself.
    pub async fn build(self) -> World {
        self.build_with_gateway(|sim| sim).await
    }

    /// Builds the world with the gateway `wrap` makes of the simulated one.
    pub async fn build_with_gateway<G: PaymentGateway + 'static>(
        self,
        wrap: impl FnOnce(Arc<SimulatedGateway>) -> Arc<G>,
    ) -> World<G> {
        let at = self.at;
        let (dir, db, store) = TempDatabase::sqlite("joule.db").await.into_parts();
        let cp =
            records::accepted_charger(store.as_ref(), self.charger_id, at, self.available).await;
        let clock = Arc::new(ManualClock::new(at));
        records::default_energy_tariff(store.as_ref(), self.tariff_id, self.extensions, at).await;
        let terminal = match self.terminal {
            Some(name) => Some(records::terminal(store.as_ref(), name, &cp, at).await),
            None => None,
        };
        let sim = Arc::new(SimulatedGateway::with_clock(self.simulated, clock.clone()));
        let gateway = wrap(sim.clone());
        let charger = Arc::new(self.charger);
        let mut payments = PaymentService::new(
            PaymentPorts {
                payments: store.clone(),
                sessions: store.clone(),
                tariffs: store.clone(),
                chargers: store.clone(),
                assignments: store.clone(),
                commands: charger.clone(),
                clock: clock.clone(),
                random: Arc::new(UuidRandom),
                faults: None,
            },
            GatewayRegistry::new()
                .with(gateway.clone())
                .with_test_cards("simulated", sim.clone()),
            PaymentSettings::default(),
        );
        if self.hold_limits {
            payments = payments.with_hold_limits(store.clone());
        }
        let mut charging = ChargingService::new(
            ChargingPorts::from(store.clone()),
            clock.clone(),
            ChargingSettings::default(),
        );
        if self.web_payments {
            charging = charging.with_web_payments(store.clone());
        }
        if let Some(rules) = self.accounts {
            payments = payments.with_accounts(store.clone());
            charging = charging.with_accounts(store.clone(), rules);
        }
        let account = match self.account {
            Some(spec) => Some(records::account_with_token(store.as_ref(), &spec, at).await),
            None => None,
        };
        World {
            db,
            store,
            clock,
            sim,
            gateway,
            charger,
            payments,
            charging,
            cp,
            terminal,
            account,
            _dir: dir,
        }
    }
}
