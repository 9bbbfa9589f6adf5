//! `serve --demo`, `joule sim` and `joule bench`: simulated chargers from
//! `joule-sim`, pointed at this server or any other.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use joule_domain::charging::charger::{NewCharger, RegistrationStatus};
use joule_domain::charging::token::{IdTokenType, NewToken, TokenKind, TokenStatus};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, IdToken};
use joule_sim::{CancellationToken, FleetStats, SimConfig};
use tokio::task::JoinHandle;

use crate::app::Application;
use crate::cli::{BenchArgs, BenchScenario, SimArgs};

const DEMO_CHARGERS: u32 = 3;
const DEMO_PREFIX: &str = "DEMO-";
const DEMO_TAGS: [&str; 3] = ["DEMO-TAG-1", "DEMO-TAG-2", "DEMO-TAG-3"];

/// The name of the demo's payment terminal, found again by it on the next
/// start (one demo terminal per database).
const DEMO_TERMINAL: &str = "Demo terminal (SIMULATED)";

/// The simulated chargers of `serve --demo`.
pub struct DemoFleet {
    ids: Vec<String>,
    /// The SIMULATED payment terminal, when the simulated gateway is on.
    terminal: Option<joule_domain::payments::terminal::TerminalId>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl DemoFleet {
    pub fn describe(&self, out: &mut impl Write, app: &Application) {
        if let Some(pay) = app.demo_pay_url(&self.ids[0], 1) {
            let _ = writeln!(
                out,
                "  Payments: SIMULATED gateway (demo only, no money moves; test card sim_visa)."
            );
            let _ = writeln!(out, "  Pay page: {pay}");
        }
        if let Some(url) = self.terminal.and_then(|t| app.demo_terminal_url(t)) {
            let _ = writeln!(
                out,
                "  Terminal: {url}  (SIMULATED payment terminal for {})",
                self.ids.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  Demo: {} simulated chargers ({}) charging with tags {}.",
            self.ids.len(),
            self.ids.join(", "),
            DEMO_TAGS.join(", ")
        );
        let _ = writeln!(
            out,
            "  Try: curl -H \"Authorization: Bearer $KEY\" http://{}/api/v1/sessions",
            app.api_addr()
        );
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Registers demo chargers and tags (once) and starts the simulated fleet
/// against this server's OCPP endpoint.
pub async fn start(app: &Application) -> anyhow::Result<DemoFleet> {
    let store = app.store();
    let now = chrono::Utc::now();
    // One password for the demo fleet, new at every start: the chargers are
    // re-keyed so the printed credentials always work.
    let password = random_password();
    let hash = joule_csms::Argon2Passwords::default()
        .hash(&password)
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    let ids = joule_sim::charger_ids(DEMO_PREFIX, 1, DEMO_CHARGERS);
    for id in &ids {
        let id = ChargerId::parse(id)?;
        let created = store
            .create_charger(
                NewCharger {
                    id: id.clone(),
                    label: Some("Demo charger (simulated)".into()),
                    location: None,
                    registration: RegistrationStatus::Accepted,
                    password_hash: Some(hash.clone()),
                },
                now,
            )
            .await;
        match created {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => {
                let patch = joule_domain::charging::charger::ChargerPatch {
                    password_hash: Some(Some(hash.clone())),
                    ..Default::default()
                };
                store.update_charger(&id, patch, now).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    for tag in DEMO_TAGS {
        let created = store
            .create_token(
                NewToken {
                    id_tag: IdToken::parse(tag)?,
                    token_type: IdTokenType::Iso14443,
                    kind: TokenKind::Rfid,
                    status: TokenStatus::Accepted,
                    expires_at: None,
                    parent_id_tag: None,
                    allowed_chargers: vec![],
                    label: Some("Demo driver".into()),
                    language: None,
                },
                now,
            )
            .await;
        match created {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    ensure_demo_tariff(store.as_ref(), now).await?;
    let terminal = if app.takes_test_cards() {
        Some(ensure_demo_terminal(store.as_ref(), &ids, now).await?)
    } else {
        None
    };
    let config = SimConfig {
        base_url: format!("ws://{}/ocpp", loopback(app.ocpp_addr())),
        count: DEMO_CHARGERS,
        id_prefix: DEMO_PREFIX.into(),
        password: Some(password),
        id_tags: DEMO_TAGS.iter().map(|t| (*t).to_owned()).collect(),
        meter_interval: Duration::from_secs(5),
        session_min: Duration::from_secs(60),
        session_max: Duration::from_secs(180),
        pause_min: Duration::from_secs(10),
        pause_max: Duration::from_secs(40),
        ramp_per_sec: 10,
        ..SimConfig::default()
    };
    let stop = CancellationToken::new();
    let fleet_stop = stop.clone();
    let task = tokio::spawn(async move {
        joule_sim::run_fleet(config, fleet_stop).await;
    });
    Ok(DemoFleet {
        ids,
        terminal,
        stop,
        task,
    })
}

/// The demo's SIMULATED payment terminal (created once): it may start every
/// connector of the demo chargers, at the simulated gateway. Its page
/// (`/demo/terminal/{id}`) needs no key; an operator issues one with
/// `POST /api/v1/terminals/{id}/key` to try the terminal API by hand.
async fn ensure_demo_terminal(
    store: &dyn joule_domain::ports::store::Store,
    chargers: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<joule_domain::payments::terminal::TerminalId> {
    use joule_domain::kernel::page::Page;
    use joule_domain::payments::terminal::{
        NewTerminal, TerminalId, TerminalScope, TerminalTarget,
    };
    let mut offset = 0u64;
    loop {
        let page = store
            .list_terminals(Page::new(Some(Page::MAX_LIMIT), Some(offset)))
            .await?;
        if let Some(t) = page
            .items
            .iter()
            .find(|t| t.name == DEMO_TERMINAL && t.gateway == "simulated")
        {
            return Ok(t.id);
        }
        match page.next_offset {
            Some(next) => offset = next,
            None => break,
        }
    }
    let targets = chargers
        .iter()
        .map(|c| {
            Ok(TerminalTarget {
                charger_id: ChargerId::parse(c)?,
                connector_id: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let new = NewTerminal {
        id: TerminalId::new_v7(),
        name: DEMO_TERMINAL.to_owned(),
        site_id: None,
        scope: TerminalScope::Chargers { targets },
        gateway: "simulated".to_owned(),
        enabled: true,
    }
    .checked()
    .map_err(|e| anyhow::anyhow!("the demo terminal: {e}"))?;
    Ok(store.create_terminal(new, now).await?.id)
}

/// A default tariff for the demo (when none is set), with a hold, so the
/// demo pay page can take a payment: 0.40 EUR/kWh incl. 19 % VAT, hold
/// 30.00 EUR.
async fn ensure_demo_tariff(
    store: &dyn joule_domain::ports::store::Store,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    if store.default_tariff().await?.is_some() {
        return Ok(());
    }
    let tariff: joule_domain::pricing::Tariff = serde_json::from_value(serde_json::json!({
        "country_code": "DE", "party_id": "JOU", "id": "DEMO-TARIFF", "currency": "EUR",
        "elements": [{"price_components": [
            {"type": "ENERGY", "price": 0.3361, "vat": 19.0, "step_size": 1}
        ]}],
        "tariff_alt_text": [{"language": "en", "text": "0.40 EUR/kWh incl. VAT (demo)"}],
        "last_updated": "2026-01-01T00:00:00Z"
    }))?;
    // Hold limits on show: the simulated gateway raises the 30.00 EUR hold
    // by 30.00 at a time, up to 90.00 (the pay page says so).
    let extensions = joule_domain::pricing::TariffExtensions {
        hold_amount_minor: Some(3000),
        hold_limit_policy: joule_domain::pricing::HoldLimitPolicy::IncrementAuthorization,
        hold_max_minor: Some(9000),
        ..Default::default()
    };
    let created = store
        .create_tariff(
            joule_domain::pricing::stored::NewTariff { tariff, extensions },
            now,
        )
        .await;
    match created {
        Ok(_) | Err(StoreError::Conflict { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    store.set_default_tariff(Some("DEMO-TARIFF"), now).await?;
    Ok(())
}

/// Where a local client reaches a listener bound to the unspecified address.
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

fn random_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

/// `joule sim`.
pub async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        base_url: args.url.trim_end_matches('/').to_owned(),
        count: args.count,
        id_prefix: args.id_prefix.clone(),
        password: args.password.clone(),
        connectors: args.connectors,
        id_tags: args.id_tags.clone(),
        meter_interval: Duration::from_secs(args.meter_interval.max(1)),
        power_w: f64::from(args.power),
        ..SimConfig::default()
    };
    if let Some(api) = &args.api {
        let key = args
            .api_key
            .as_deref()
            .context("--api needs --api-key (or JOULE_API_KEY)")?;
        let ids = config.charger_ids();
        joule_sim::create_chargers_via_api(api, key, &ids, config.password.as_deref()).await?;
        joule_sim::create_id_tokens_via_api(api, key, &config.id_tags).await?;
    }
    joule_sim::raise_nofile_limit().ok();
    let stop = CancellationToken::new();
    let stats = Arc::new(FleetStats::default());
    let fleet = tokio::spawn(joule_sim::run_fleet_with_stats(config, stop.clone(), stats));
    match args.duration {
        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    stop.cancel();
    let report = fleet.await?;
    println!("{report}");
    Ok(())
}

/// `joule bench`.
pub async fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let scenario = match args.scenario {
        BenchScenario::Idle => joule_sim::Scenario::Idle,
        BenchScenario::Mix => joule_sim::Scenario::Mix,
        BenchScenario::Steady => joule_sim::Scenario::Steady,
        BenchScenario::Storm => joule_sim::Scenario::Storm,
    };
    let mut config = joule_sim::BenchConfig::new(scenario);
    config.base_url = args.url.trim_end_matches('/').to_owned();
    config.id_prefix = args.id_prefix.clone();
    config.chargers = args.chargers;
    config.password = args.password.clone();
    config.duration = Duration::from_secs(args.duration);
    config.period = Duration::from_secs_f64(args.period.max(0.001));
    config.ramp_per_sec = args.rate;
    config.server_pid = args.server_pid;
    let ids = joule_sim::charger_ids(&config.id_prefix, config.first_index, config.chargers);
    eprintln!("preparing {} chargers through {}", ids.len(), args.api);
    joule_sim::create_chargers_via_api(&args.api, &args.api_key, &ids, config.password.as_deref())
        .await?;
    joule_sim::create_id_tokens_via_api(&args.api, &args.api_key, &config.id_tags).await?;
    let report = joule_sim::run_bench(config).await;
    println!("{report}");
    Ok(())
}
