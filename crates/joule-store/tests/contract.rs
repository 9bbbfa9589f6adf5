//! The store contract: the same tests on SQLite (always) and PostgreSQL
//! (when `JOULE_TEST_POSTGRES_URL` is set; required when `CI=true`).
//! Real databases, no mocks: SQLite in a temp dir, PostgreSQL in a fresh
//! schema per test.

// Test helpers outside #[test] fns are not covered by clippy.toml's
// allow-unwrap-in-tests; this whole file is test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use joule_domain::access::api_key::{ApiScope, NewApiKey};
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::charger::{
    BootInfo, ChargerPatch, ConnectorStatus, Location, NewCharger, RegistrationStatus, StatusReport,
};
use joule_domain::charging::message_log::{Direction, FrameKind, LogEntry, LogFilter};
use joule_domain::charging::meter::{MeterReport, MeterSample, SampledValue};
use joule_domain::charging::session::SessionTariff;
use joule_domain::charging::session::{
    SessionFilter, SessionState, StartSession, StopOutcome, StopSession,
};
use joule_domain::charging::site::{NewSite, SiteAddress, SiteId};
use joule_domain::charging::token::{
    IdTokenType, NewToken, TokenFilter, TokenKind, TokenPatch, TokenStatus,
};
use joule_domain::charging::user_group::{
    ChargerAccess, ChargerAccessRule, NewUserGroup, UserGroupId, UserGroupPatch,
};
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken, TransactionId};
use joule_domain::kernel::language::LanguageCode;
use joule_domain::kernel::page::Page;
use joule_domain::ports::store::Store;
use joule_domain::pricing::assignment::{
    AssignmentFilter, AssignmentScope, NewTariffAssignment, ScopeKind,
};
use joule_domain::pricing::stored::NewTariff;
use joule_store::{connect, Database, StoreOptions};

// ---- harness ---------------------------------------------------------------

struct Harness {
    db: Database,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Harness {
    async fn finish(self) {
        self.db.close().await.expect("close");
        if let Some((url, schema)) = self.pg {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.expect("pg");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(&mut c)
            .await
            .expect("drop schema");
        }
    }
}

async fn sqlite_harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("sub/joule.db").display());
    let db = connect(&url, StoreOptions::default())
        .await
        .expect("open sqlite");
    Harness {
        store: db.store(),
        db,
        _dir: Some(dir),
        pg: None,
    }
}

async fn postgres_harness() -> Option<Harness> {
    let Ok(url) = std::env::var("JOULE_TEST_POSTGRES_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("PostgreSQL is required in CI: set JOULE_TEST_POSTGRES_URL");
        }
        eprintln!(
            "skipping PostgreSQL contract test: JOULE_TEST_POSTGRES_URL is not set \
             (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
        return None;
    };
    let schema = format!("joule_test_{}", uuid::Uuid::new_v4().simple());
    let options = StoreOptions {
        pg_schema: Some(schema.clone()),
        pg_max_connections: 8,
        ..StoreOptions::default()
    };
    let db = connect(&url, options).await.expect("open postgres");
    Some(Harness {
        store: db.store(),
        db,
        _dir: None,
        pg: Some((url, schema)),
    })
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = super::sqlite_harness().await;
                    super::$name(&h).await;
                    h.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(h) = super::postgres_harness().await else { return };
                    super::$name(&h).await;
                    h.finish().await;
                }
            )*
        }
    };
}

// ---- builders (the tests themselves are in contract/, one file per aggregate)

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn cid(s: &str) -> ChargerId {
    ChargerId::parse(s).unwrap()
}

fn tag(s: &str) -> IdToken {
    IdToken::parse(s).unwrap()
}

fn conn(n: u32) -> ConnectorId {
    ConnectorId::new(n).unwrap()
}

fn new_charger(id: &str) -> NewCharger {
    NewCharger {
        id: cid(id),
        label: Some(format!("{id} label")),
        location: None,
        registration: RegistrationStatus::Accepted,
        password_hash: Some("$argon2id$hash".into()),
    }
}

async fn charger(h: &Harness, id: &str) {
    h.store.create_charger(new_charger(id), t(0)).await.unwrap();
}

fn status(
    connector: u32,
    s: ConnectorStatus,
    reported: Option<i64>,
    received: i64,
) -> StatusReport {
    StatusReport {
        connector_id: conn(connector),
        status: s,
        error_code: None,
        info: None,
        vendor_id: None,
        vendor_error_code: None,
        reported_at: reported.map(t),
        received_at: t(received),
    }
}

fn start(charger: &str, id_tag: &str, meter: i64, at: i64) -> StartSession {
    StartSession {
        charger_id: cid(charger),
        connector_id: conn(1),
        id_tag: tag(id_tag),
        meter_start_wh: meter,
        started_at: t(at),
        reservation_id: None,
        authorization: AuthorizationStatus::Accepted,
        received_at: t(at + 1),
        tariff_id: None,
    }
}

/// A start as the charging service makes it: the tariff chosen by the
/// precedence rule from the store's candidates, at the start time.
async fn start_resolved(
    h: &Harness,
    charger: &str,
    id_tag: &str,
    meter: i64,
    at: i64,
) -> joule_domain::charging::session::StartOutcome {
    let mut st = start(charger, id_tag, meter, at);
    let candidates = h
        .store
        .tariff_candidates(&st.charger_id, Some(&st.id_tag))
        .await
        .unwrap();
    st.tariff_id = candidates.and_then(|c| {
        c.resolve(
            &st.charger_id,
            st.connector_id,
            Some(&st.id_tag),
            st.started_at,
        )
        .map(|r| r.tariff.tariff.id.clone())
    });
    h.store.start_session(st).await.unwrap()
}

fn stop(charger: &str, tx: TransactionId, meter: i64, at: i64) -> StopSession {
    StopSession {
        charger_id: cid(charger),
        transaction_id: tx,
        id_tag: Some(tag("tag1")),
        meter_stop_wh: meter,
        stopped_at: t(at),
        reason: Some("Local".into()),
        transaction_data: vec![],
        received_at: t(at + 1),
    }
}

fn energy(wh: i64) -> SampledValue {
    SampledValue {
        value: wh.to_string(),
        context: Some("Sample.Periodic".into()),
        format: None,
        measurand: None,
        phase: None,
        location: None,
        unit: Some("Wh".into()),
    }
}

fn power(w: i64) -> SampledValue {
    SampledValue {
        value: w.to_string(),
        context: None,
        format: None,
        measurand: Some("Power.Active.Import".into()),
        phase: None,
        location: None,
        unit: Some("W".into()),
    }
}

fn meter_report(tx: Option<TransactionId>, at: i64, wh: i64, w: i64) -> MeterReport {
    MeterReport {
        connector_id: conn(1),
        transaction_id: tx,
        samples: vec![MeterSample {
            timestamp: t(at),
            values: vec![energy(wh), power(w)],
        }],
        received_at: t(1000 + at),
    }
}

fn log(charger: &str, dir: Direction, action: &str, at: i64) -> LogEntry {
    LogEntry {
        charger_id: cid(charger),
        direction: dir,
        kind: FrameKind::Call,
        action: Some(action.into()),
        message_id: Some(format!("m{at}")),
        frame: format!("[2,\"m{at}\",\"{action}\",{{}}]"),
        note: None,
        at: t(at),
    }
}

async fn event_kinds(h: &Harness) -> Vec<String> {
    h.store
        .events_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

// ---- tariffs ---------------------------------------------------------------

fn new_tariff(id: &str, energy_price: &str) -> NewTariff {
    let json = format!(
        r#"{{"country_code": "ES", "party_id": "JOU", "id": "{id}", "currency": "EUR",
            "tariff_alt_text": [{{"language": "en", "text": "Standard"}}],
            "elements": [{{"price_components": [
                {{"type": "ENERGY", "price": {energy_price}, "vat": 21, "step_size": 1}}]}}],
            "last_updated": "2026-01-01T00:00:00Z"}}"#
    );
    NewTariff {
        tariff: serde_json::from_str(&json).unwrap(),
        extensions: joule_domain::pricing::TariffExtensions {
            idle_grace_period_s: 600,
            idle_fee_only_after_charging_finished: false,
            hold_amount_minor: Some(5000),
            ..Default::default()
        },
    }
}

// ---- user groups -----------------------------------------------------------

fn gid(s: &str) -> UserGroupId {
    UserGroupId::parse(s).unwrap()
}

async fn group(h: &Harness, id: &str) {
    h.store
        .create_user_group(
            NewUserGroup {
                id: gid(id),
                name: format!("Group {id}"),
            },
            t(0),
        )
        .await
        .unwrap();
}

fn simple_token(id: &str) -> NewToken {
    NewToken {
        id_tag: tag(id),
        token_type: IdTokenType::Iso14443,
        kind: TokenKind::Rfid,
        status: TokenStatus::Accepted,
        expires_at: None,
        parent_id_tag: None,
        allowed_chargers: vec![],
        label: None,
        language: None,
    }
}

// ---- sites and tariff assignments -------------------------------------------

fn sid(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

fn new_site(id: &str, access: ChargerAccessRule) -> NewSite {
    NewSite {
        id: sid(id),
        name: format!("{id} site"),
        time_zone: chrono_tz::Europe::Madrid,
        language: "es".into(),
        address: SiteAddress {
            street: Some("Gran Via 1".into()),
            city: Some("Madrid".into()),
            postal_code: Some("28013".into()),
            state: None,
            country: Some("ESP".into()),
        },
        access,
    }
}

fn kinds(events: &[joule_domain::events::event::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

fn assignment(tariff: &str, scope: AssignmentScope) -> NewTariffAssignment {
    NewTariffAssignment {
        tariff_id: tariff.into(),
        scope,
        valid_from: None,
        valid_until: None,
    }
}

#[path = "contract/holds.rs"]
mod holds;
#[path = "contract/payments.rs"]
mod payments;

#[path = "contract/accounts.rs"]
mod accounts;
#[path = "contract/api_keys.rs"]
mod api_keys;
#[path = "contract/chargers.rs"]
mod chargers;
#[path = "contract/message_log.rs"]
mod message_log;
#[path = "contract/outbox.rs"]
mod outbox;
#[path = "contract/sessions.rs"]
mod sessions;
#[path = "contract/sites.rs"]
mod sites;
#[path = "contract/tariff_assignments.rs"]
mod tariff_assignments;
#[path = "contract/tariffs.rs"]
mod tariffs;
#[path = "contract/terminals.rs"]
mod terminals;
#[path = "contract/tokens.rs"]
mod tokens;
#[path = "contract/user_groups.rs"]
mod user_groups;
