//! The command line. Flags are the last layer of configuration; they are
//! turned into a partial settings tree so `settings::load` applies them in
//! the documented order.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

#[derive(Debug, Parser)]
#[command(
    name = "joule",
    version,
    about = "Joule: an open-source EV charging back office (CSMS)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: OCPP endpoint for chargers and the REST API.
    Serve(ServeArgs),
    /// Run simulated OCPP 1.6 chargers against any server.
    Sim(SimArgs),
    /// Drive a running server with simulated chargers and print its figures.
    Bench(BenchArgs),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
    /// Tariff tools (see docs/pricing.md).
    Tariff(TariffArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TariffArgs {
    #[command(subcommand)]
    pub command: TariffCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TariffCommand {
    /// Price an OCPI 2.2.1 CDR's charging periods under an OCPI 2.2.1 tariff
    /// and print the breakdown as JSON.
    Price(TariffPriceArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TariffPriceArgs {
    /// An OCPI 2.2.1 Tariff object (JSON).
    #[arg(long)]
    pub tariff: PathBuf,
    /// An OCPI 2.2.1 CDR (JSON): start_date_time, end_date_time and
    /// charging_periods with their dimensions are read.
    #[arg(long)]
    pub session: PathBuf,
    /// IANA time zone in which time-of-day and day-of-week restrictions are read.
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,
    /// Joule's tariff extensions (JSON): idle_grace_period_s,
    /// idle_fee_only_after_charging_finished, hold_amount_minor.
    #[arg(long)]
    pub extensions: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// A TOML settings file (see docs/configuration.md).
    #[arg(long, short = 'c', env = "JOULE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://…
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnknownChargersArg {
    Reject,
    #[value(name = "auto_register", alias = "auto-register")]
    AutoRegister,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address for the OCPP WebSocket endpoint (default 0.0.0.0:9000).
    #[arg(long)]
    pub ocpp_listen: Option<SocketAddr>,
    /// Address for the REST API (default 127.0.0.1:8080).
    #[arg(long)]
    pub api_listen: Option<SocketAddr>,
    /// What to do with chargers that are not registered.
    #[arg(long, value_enum)]
    pub unknown_chargers: Option<UnknownChargersArg>,
    /// Heartbeat interval given to chargers at boot, in seconds.
    #[arg(long)]
    pub heartbeat_interval: Option<u32>,
    /// Seconds a command waits for the charger's answer.
    #[arg(long)]
    pub call_timeout: Option<u64>,
    /// Days to keep the OCPP message log (0 keeps it forever).
    #[arg(long)]
    pub message_log_retention_days: Option<u32>,
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Also start a few simulated chargers with demo tokens, so the API shows
    /// live chargers and sessions at once.
    #[arg(long)]
    pub demo: bool,
    /// Any setting as SECTION.KEY=VALUE, e.g. `--set ocpp.ping_interval_s=20`
    /// (repeatable; applied after the named flags). See docs/configuration.md.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
}

impl ServeArgs {
    /// The flags that were given, as a partial settings tree.
    pub fn overrides(&self) -> Value {
        let mut tree = Map::new();
        let mut put = |section: &str, key: &str, value: Value| {
            tree.entry(section)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .map(|o| o.insert(key.to_owned(), value));
        };
        if let Some(url) = &self.config.database {
            put("database", "url", json!(url));
        }
        if let Some(addr) = self.ocpp_listen {
            put("ocpp", "listen", json!(addr.to_string()));
        }
        if let Some(addr) = self.api_listen {
            put("api", "listen", json!(addr.to_string()));
        }
        if let Some(policy) = self.unknown_chargers {
            let name = match policy {
                UnknownChargersArg::Reject => "reject",
                UnknownChargersArg::AutoRegister => "auto_register",
            };
            put("ocpp", "unknown_chargers", json!(name));
        }
        if let Some(s) = self.heartbeat_interval {
            put("ocpp", "heartbeat_interval_s", json!(s));
        }
        if let Some(s) = self.call_timeout {
            put("ocpp", "call_timeout_s", json!(s));
        }
        if let Some(d) = self.message_log_retention_days {
            put("message_log", "retention_days", json!(d));
        }
        if let Some(f) = self.log_format {
            let name = match f {
                LogFormatArg::Text => "text",
                LogFormatArg::Json => "json",
            };
            put("log", "format", json!(name));
        }
        for assignment in &self.set {
            if let Some((path, value)) = assignment.split_once('=') {
                if let Some((section, key)) = path.trim().split_once('.') {
                    // Numbers and booleans as such; anything else as text.
                    let value = serde_json::from_str(value.trim())
                        .unwrap_or_else(|_| Value::String(value.trim().to_owned()));
                    put(section, key, value);
                    continue;
                }
            }
            // Kept as a bare key so that loading the settings fails and names it.
            put("set", assignment, Value::Null);
        }
        Value::Object(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_flags_become_settings_overrides() {
        let cli = Cli::parse_from([
            "joule",
            "serve",
            "--api-listen",
            "127.0.0.1:1",
            "--set",
            "ocpp.ping_interval_s=20",
            "--set",
            "log.format=json",
            "--set",
            "database.postgres_schema=joule",
        ]);
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        let tree = args.overrides();
        assert_eq!(tree["ocpp"]["ping_interval_s"], 20);
        assert_eq!(tree["log"]["format"], "json");
        assert_eq!(tree["database"]["postgres_schema"], "joule");
        assert_eq!(tree["api"]["listen"], "127.0.0.1:1");
        let settings = crate::settings::load(None, tree).unwrap();
        assert_eq!(settings.ocpp.ping_interval_s, 20);
    }

    #[test]
    fn a_malformed_set_flag_is_refused_by_name() {
        let cli = Cli::parse_from(["joule", "serve", "--set", "nonsense"]);
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        let error = crate::settings::load(None, args.overrides()).unwrap_err();
        assert!(error.to_string().contains("set"), "{error}");
    }
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// OCPP endpoint base, without the charger id.
    #[arg(long, default_value = "ws://127.0.0.1:9000/ocpp")]
    pub url: String,
    /// How many chargers to simulate.
    #[arg(long, short = 'n', default_value_t = 3)]
    pub count: u32,
    /// Charger ids are PREFIX0001, PREFIX0002, …
    #[arg(long, default_value = "SIM-")]
    pub id_prefix: String,
    /// Basic-auth password for every simulated charger.
    #[arg(long, env = "JOULE_SIM_PASSWORD")]
    pub password: Option<String>,
    /// Connectors per charger.
    #[arg(long, default_value_t = 2)]
    pub connectors: u32,
    /// RFID tags the simulated drivers present (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "SIM-TAG-1,SIM-TAG-2")]
    pub id_tags: Vec<String>,
    /// Seconds between meter values during a session.
    #[arg(long, default_value_t = 10)]
    pub meter_interval: u64,
    /// Charging power of the simulated vehicles, in W.
    #[arg(long, default_value_t = 11_000)]
    pub power: u32,
    /// REST API base and key: when given, the chargers and tags are created
    /// there first (existing ones are left alone).
    #[arg(long)]
    pub api: Option<String>,
    #[arg(long, env = "JOULE_API_KEY")]
    pub api_key: Option<String>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchScenario {
    /// Hold many idle chargers; report memory per connection.
    Idle,
    /// Back-to-back calls in a realistic mix; report calls/s and latency.
    Mix,
    /// Many chargers each sending one call every few seconds; report latency.
    Steady,
    /// Many chargers connecting and booting at a fixed rate.
    Storm,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub scenario: BenchScenario,
    #[arg(long, default_value = "ws://127.0.0.1:9000/ocpp")]
    pub url: String,
    /// REST API base used to create the benchmark chargers and tags.
    #[arg(long, default_value = "http://127.0.0.1:8080/api/v1")]
    pub api: String,
    #[arg(long, env = "JOULE_API_KEY")]
    pub api_key: String,
    /// The server's process id, to read its RSS and CPU time from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Number of chargers.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub chargers: u32,
    /// Seconds to run (mix, steady).
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds between calls per charger (steady).
    #[arg(long, default_value_t = 5.0)]
    pub period: f64,
    /// Connections per second (idle ramp, storm).
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Password for the benchmark chargers (created if absent).
    #[arg(long)]
    pub password: Option<String>,
    #[arg(long, default_value = "BENCH-")]
    pub id_prefix: String,
}
