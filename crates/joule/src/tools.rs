//! What each subcommand does.

use std::io::Write;

use anyhow::Context;

use crate::app::{self, Application};
use crate::cli::{BenchArgs, MigrateArgs, ServeArgs, SimArgs, TariffArgs, TariffCommand};
use crate::{demo, settings, telemetry};

/// `joule serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = settings::load(args.config.config.as_deref(), args.overrides())
        .context("reading settings")?;
    if args.demo && settings.payments.gateway == settings::GatewayKind::None {
        // The demo takes payments with the SIMULATED gateway: no money moves.
        settings.payments.gateway = settings::GatewayKind::Simulated;
    }
    telemetry::init(&settings.log.format, &settings.log.filter);
    tracing::info!(
        database = %app::redact(&settings.database.url),
        ocpp = %settings.ocpp.listen,
        api = %settings.api.listen,
        "starting Joule"
    );
    let application = Application::build(settings).await?;
    let demo_fleet = if args.demo {
        Some(demo::start(&application).await?)
    } else {
        None
    };
    print_banner(&application, demo_fleet.as_ref());
    let shutdown = application.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        shutdown.cancel();
    });
    if let Some(fleet) = demo_fleet {
        let token = application.shutdown_token();
        tokio::spawn(async move {
            token.cancelled().await;
            fleet.stop().await;
        });
    }
    application.run_until_stopped().await
}

fn print_banner(app: &Application, demo: Option<&demo::DemoFleet>) {
    let mut out = std::io::stdout().lock();
    // Written to stdout (not the log) so it is seen once and can be parsed.
    let _ = writeln!(out, "Joule is ready.");
    let _ = writeln!(out, "  OCPP: ws://{}/ocpp/{{chargeBoxId}}", app.ocpp_addr());
    let _ = writeln!(out, "  API:  http://{}/api/v1", app.api_addr());
    if let Some(key) = app.generated_admin_key() {
        let _ = writeln!(out, "  Admin API key (shown once, keep it): {key}");
    }
    if let Some(demo) = demo {
        demo.describe(&mut out, app);
    }
    let _ = out.flush();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `joule migrate`.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let mut overrides = serde_json::json!({});
    if let Some(url) = &args.config.database {
        overrides = serde_json::json!({"database": {"url": url}});
    }
    let settings = settings::load(args.config.config.as_deref(), overrides)?;
    telemetry::init(&settings.log.format, &settings.log.filter);
    let database = app::open_database(&settings).await?;
    database.close().await?;
    println!(
        "migrations applied to {}",
        app::redact(&settings.database.url)
    );
    Ok(())
}

/// `joule sim`.
pub async fn sim(args: SimArgs) -> anyhow::Result<()> {
    telemetry::init("text", "info");
    crate::demo::run_sim(args).await
}

/// `joule bench`.
pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    telemetry::init("text", "warn");
    crate::demo::run_bench(args).await
}

/// `joule tariff …`: offline, no runtime; returns the exit code.
pub fn tariff(args: &TariffArgs) -> i32 {
    match &args.command {
        TariffCommand::Price(price) => crate::tariff_cli::run(
            price,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        ),
    }
}
