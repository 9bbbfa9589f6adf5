//! The store contract: the same tests on SQLite (always) and PostgreSQL
//! (when `JOULE_TEST_POSTGRES_URL` is set; required when `CI=true`).
//! Real databases, no mocks: SQLite in a temp dir, PostgreSQL in a fresh
//! schema per test.

// Test helpers outside #[test] fns are not covered by clippy.toml's
// allow-unwrap-in-tests; this whole file is test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use joule_domain::api_key::{ApiScope, NewApiKey};
use joule_domain::auth::AuthorizationStatus;
use joule_domain::charger::{
    BootInfo, ChargerPatch, ConnectorStatus, Location, NewCharger, RegistrationStatus, StatusReport,
};
use joule_domain::error::StoreError;
use joule_domain::ids::{ChargerId, ConnectorId, IdTag, TransactionId};
use joule_domain::language::LanguageCode;
use joule_domain::message_log::{Direction, FrameKind, LogEntry, LogFilter};
use joule_domain::meter::{MeterReport, MeterSample, SampledValue};
use joule_domain::page::Page;
use joule_domain::session::SessionTariff;
use joule_domain::session::{SessionFilter, SessionState, StartSession, StopOutcome, StopSession};
use joule_domain::site::{NewSite, SiteAddress, SiteId};
use joule_domain::store::Store;
use joule_domain::tariff_assignment::{
    AssignmentFilter, AssignmentScope, NewTariffAssignment, ScopeKind,
};
use joule_domain::tariffs::NewTariff;
use joule_domain::token::{IdTokenPatch, NewIdToken, TokenFilter, TokenKind, TokenStatus};
use joule_domain::user_group::{
    ChargerAccess, ChargerAccessRule, NewUserGroup, UserGroupId, UserGroupPatch,
};
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

contract_tests!(
    charger_crud_conflict_and_patch,
    credentials_and_auto_register,
    boot_heartbeat_and_connection,
    mark_all_disconnected_emits_one_event_per_charger,
    telemetry_for_unknown_charger_is_not_found,
    status_history_and_late_status,
    connector_status_range_is_bounded_and_ordered,
    firmware_and_diagnostics_status,
    token_crud_is_case_insensitive,
    token_language_set_patch_and_clear,
    start_is_idempotent,
    stop_duplicate_and_unknown,
    meter_values_out_of_order_give_same_figures,
    transaction_ids_are_unique_under_concurrency,
    message_log_append_query_purge,
    api_keys,
    events_after_pages_in_order,
    list_sessions_filters_and_pages,
    timestamps_round_trip_with_microseconds,
    tariff_crud_conflict_and_versions,
    default_tariff_set_clear_and_delete,
    session_keeps_the_tariff_version_it_started_with,
    charger_tariff_takes_precedence_over_the_default,
    user_group_crud_and_events,
    token_groups_set_replace_and_cleanup,
    charger_access_set_and_cleanup,
    sites_crud_charger_site_and_inherited_access,
    tariff_assignments_crud_filters_and_cleanup,
    tariff_candidates_feed_the_precedence_rule,
    session_records_the_chosen_tariff_or_none_if_deleted,
);

// ---- builders --------------------------------------------------------------

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn cid(s: &str) -> ChargerId {
    ChargerId::parse(s).unwrap()
}

fn tag(s: &str) -> IdTag {
    IdTag::parse(s).unwrap()
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
) -> joule_domain::session::StartOutcome {
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

// ---- the contract ----------------------------------------------------------

async fn charger_crud_conflict_and_patch(h: &Harness) {
    let s = &h.store;
    let mut new = new_charger("CP-1");
    new.location = Some(Location {
        latitude: 52.5,
        longitude: 13.4,
        address: Some("Main St 1".into()),
    });
    let created = s.create_charger(new.clone(), t(0)).await.unwrap();
    assert_eq!(created.id, cid("CP-1"));
    assert!(created.has_password);
    assert_eq!(created.location.as_ref().unwrap().latitude, 52.5);
    assert!(!created.connection.connected);
    assert!(created.boot.is_none());

    let again = s.create_charger(new, t(1)).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    // None leaves alone, Some(None) clears.
    let patch = ChargerPatch {
        label: Some(None),
        registration: Some(RegistrationStatus::Rejected),
        ..Default::default()
    };
    let updated = s
        .update_charger(&cid("CP-1"), patch, t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.label, None);
    assert_eq!(updated.registration, RegistrationStatus::Rejected);
    assert!(updated.location.is_some());
    assert!(updated.has_password);
    assert_eq!(updated.updated_at, t(5));
    assert_eq!(updated.created_at, t(0));

    let patch = ChargerPatch {
        password_hash: Some(None),
        ..Default::default()
    };
    let updated = s
        .update_charger(&cid("CP-1"), patch, t(6))
        .await
        .unwrap()
        .unwrap();
    assert!(!updated.has_password);
    assert!(s
        .update_charger(&cid("NOPE"), ChargerPatch::default(), t(6))
        .await
        .unwrap()
        .is_none());

    charger(h, "CP-2").await;
    let page = s.list_chargers(Page::new(Some(1), None)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, cid("CP-1"));
    assert_eq!(page.next_offset, Some(1));
    let page = s.list_chargers(Page::new(Some(1), Some(1))).await.unwrap();
    assert_eq!(page.items[0].id, cid("CP-2"));
    assert_eq!(page.next_offset, None);

    s.record_status(&cid("CP-1"), status(1, ConnectorStatus::Available, None, 7))
        .await
        .unwrap();
    assert!(s.delete_charger(&cid("CP-1"), t(8)).await.unwrap());
    assert!(!s.delete_charger(&cid("CP-1"), t(9)).await.unwrap());
    assert!(s.get_charger(&cid("CP-1")).await.unwrap().is_none());
    assert!(s.connector_states(&cid("CP-1")).await.unwrap().is_empty());
    // History stays.
    let history = s
        .status_history(&cid("CP-1"), None, Page::default())
        .await
        .unwrap();
    assert_eq!(history.items.len(), 1);

    let kinds = event_kinds(h).await;
    assert_eq!(
        kinds,
        vec![
            "charger.created",
            "charger.updated",
            "charger.updated",
            "charger.created",
            "connector.status_changed",
            "charger.deleted",
        ]
    );
}

async fn credentials_and_auto_register(h: &Harness) {
    let s = &h.store;
    charger(h, "CP-1").await;
    let creds = s.charger_credentials(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(creds.registration, RegistrationStatus::Accepted);
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$hash"));
    assert!(s.charger_credentials(&cid("X")).await.unwrap().is_none());

    let auto = s.auto_register_charger(&cid("NEW-1"), t(3)).await.unwrap();
    assert_eq!(auto.registration, RegistrationStatus::Pending);
    assert!(!auto.has_password);
    // Existing charger comes back unchanged, without a second event.
    let again = s.auto_register_charger(&cid("NEW-1"), t(4)).await.unwrap();
    assert_eq!(again, auto);
    let existing = s.auto_register_charger(&cid("CP-1"), t(4)).await.unwrap();
    assert_eq!(existing.registration, RegistrationStatus::Accepted);

    let kinds = event_kinds(h).await;
    assert_eq!(kinds, vec!["charger.created", "charger.auto_registered"]);
}

async fn boot_heartbeat_and_connection(h: &Harness) {
    let s = &h.store;
    charger(h, "CP-1").await;
    let boot = BootInfo {
        vendor: "Acme".into(),
        model: "Fast 50".into(),
        firmware_version: Some("1.2.3".into()),
        charge_point_serial_number: Some("SN1".into()),
        ..Default::default()
    };
    assert_eq!(
        s.record_boot(&cid("CP-1"), boot.clone(), t(10))
            .await
            .unwrap(),
        Some(RegistrationStatus::Accepted)
    );
    assert_eq!(
        s.record_boot(&cid("UNKNOWN"), boot.clone(), t(10))
            .await
            .unwrap(),
        None
    );
    s.record_connection(&cid("CP-1"), Some("ocpp1.6"), t(9))
        .await
        .unwrap();
    s.record_heartbeat(&cid("CP-1"), t(20)).await.unwrap();
    let c = s.get_charger(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(c.boot.as_ref(), Some(&boot));
    assert_eq!(c.booted_at, Some(t(10)));
    assert_eq!(c.last_heartbeat_at, Some(t(20)));
    assert!(c.connection.connected);
    assert_eq!(c.connection.protocol.as_deref(), Some("ocpp1.6"));
    assert_eq!(c.connection.connected_at, Some(t(9)));
    assert_eq!(c.connection.last_seen_at, Some(t(20)));

    s.record_connection(&cid("CP-1"), None, t(30))
        .await
        .unwrap();
    let c = s.get_charger(&cid("CP-1")).await.unwrap().unwrap();
    assert!(!c.connection.connected);
    assert_eq!(c.connection.disconnected_at, Some(t(30)));
    assert_eq!(c.connection.protocol.as_deref(), Some("ocpp1.6"));

    let events = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    // Heartbeats are not events.
    assert_eq!(
        kinds,
        vec![
            "charger.created",
            "charger.booted",
            "charger.connected",
            "charger.disconnected"
        ]
    );
    assert_eq!(events[1].payload["vendor"], "Acme");
    assert_eq!(events[1].charger_id.as_deref(), Some("CP-1"));
    assert_eq!(events[2].payload["protocol"], "ocpp1.6");
}

async fn mark_all_disconnected_emits_one_event_per_charger(h: &Harness) {
    let s = &h.store;
    for id in ["A", "B", "C"] {
        charger(h, id).await;
    }
    s.record_connection(&cid("A"), Some("ocpp1.6"), t(1))
        .await
        .unwrap();
    s.record_connection(&cid("B"), Some("ocpp1.6"), t(1))
        .await
        .unwrap();
    assert_eq!(s.mark_all_disconnected(t(5)).await.unwrap(), 2);
    assert_eq!(s.mark_all_disconnected(t(6)).await.unwrap(), 0);
    let list = s.list_chargers(Page::default()).await.unwrap();
    assert!(list.items.iter().all(|c| !c.connection.connected));
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "charger.disconnected"), 2);
}

async fn telemetry_for_unknown_charger_is_not_found(h: &Harness) {
    let s = &h.store;
    let id = cid("GHOST");
    let nf = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound { .. }));
    assert!(nf(s.record_heartbeat(&id, t(1)).await));
    assert!(nf(s.record_connection(&id, Some("ocpp1.6"), t(1)).await));
    assert!(nf(s
        .record_status(&id, status(1, ConnectorStatus::Available, None, 1))
        .await));
    assert!(nf(s.record_firmware_status(&id, "Installed", t(1)).await));
    assert!(event_kinds(h).await.is_empty());
    // A failed status report leaves no history behind either.
    assert!(s
        .status_history(&id, None, Page::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn status_history_and_late_status(h: &Harness) {
    let s = &h.store;
    let id = cid("CP-1");
    charger(h, "CP-1").await;
    s.record_status(&id, status(1, ConnectorStatus::Available, Some(10), 11))
        .await
        .unwrap();
    s.record_status(&id, status(1, ConnectorStatus::Charging, Some(30), 31))
        .await
        .unwrap();
    // Late: happened at 20, arrives after the 30 one. History only.
    s.record_status(&id, status(1, ConnectorStatus::Preparing, Some(20), 40))
        .await
        .unwrap();
    // Same status again: no event, but history and `since` move.
    s.record_status(&id, status(1, ConnectorStatus::Charging, Some(50), 51))
        .await
        .unwrap();
    // No charger timestamp: arrival time counts.
    s.record_status(&id, status(2, ConnectorStatus::Faulted, None, 60))
        .await
        .unwrap();
    let mut faulted = status(2, ConnectorStatus::Faulted, None, 61);
    faulted.error_code = Some("GroundFailure".into());
    faulted.vendor_error_code = Some("MREC-1".into());
    s.record_status(&id, faulted).await.unwrap();

    let states = s.connector_states(&id).await.unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].connector_id, conn(1));
    assert_eq!(states[0].status, ConnectorStatus::Charging);
    assert_eq!(states[0].since, t(50));
    assert_eq!(states[1].status, ConnectorStatus::Faulted);
    assert_eq!(states[1].error_code.as_deref(), Some("GroundFailure"));
    assert_eq!(states[1].since, t(61));

    let all = s.status_history(&id, None, Page::default()).await.unwrap();
    assert_eq!(all.items.len(), 6);
    let c1 = s
        .status_history(&id, Some(conn(1)), Page::default())
        .await
        .unwrap();
    let order: Vec<_> = c1.items.iter().map(|r| r.status).collect();
    // Newest first by effective time: the late one sits where it happened.
    assert_eq!(
        order,
        vec![
            ConnectorStatus::Charging,
            ConnectorStatus::Charging,
            ConnectorStatus::Preparing,
            ConnectorStatus::Available
        ]
    );
    assert_eq!(c1.items[2].reported_at, Some(t(20)));
    assert_eq!(c1.items[2].received_at, t(40));
    let page = s
        .status_history(&id, Some(conn(1)), Page::new(Some(3), None))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next_offset, Some(3));

    let events = s.events_after(0, 100).await.unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "connector.status_changed")
        .collect();
    // Available, Charging (c1); Faulted, Faulted+error (c2).
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[1].payload["status"], "Charging");
    assert_eq!(changes[1].payload["previous_status"], "Available");
    assert_eq!(changes[3].payload["error_code"], "GroundFailure");
}

async fn connector_status_range_is_bounded_and_ordered(h: &Harness) {
    let s = &h.store;
    let id = cid("CP-1");
    charger(h, "CP-1").await;
    charger(h, "CP-2").await;
    for r in [
        status(1, ConnectorStatus::Preparing, Some(5), 6),
        status(1, ConnectorStatus::Charging, Some(10), 11),
        status(1, ConnectorStatus::Finishing, Some(40), 41),
        // Late: happened at 20, arrives last; sits where it happened.
        status(1, ConnectorStatus::SuspendedEV, Some(20), 90),
        // No charger timestamp: arrival counts.
        status(1, ConnectorStatus::Available, None, 50),
        status(1, ConnectorStatus::Charging, Some(70), 71),
        status(2, ConnectorStatus::SuspendedEV, Some(30), 31),
    ] {
        s.record_status(&id, r).await.unwrap();
    }
    s.record_status(
        &cid("CP-2"),
        status(1, ConnectorStatus::Faulted, Some(30), 31),
    )
    .await
    .unwrap();
    let got = s
        .connector_status_range(&id, conn(1), t(10), t(50))
        .await
        .unwrap();
    let got: Vec<_> = got.iter().map(|r| (r.status, r.effective_at())).collect();
    assert_eq!(
        got,
        vec![
            (ConnectorStatus::Charging, t(10)),
            (ConnectorStatus::SuspendedEV, t(20)),
            (ConnectorStatus::Finishing, t(40)),
            (ConnectorStatus::Available, t(50)),
        ]
    );
    assert!(s
        .connector_status_range(&id, conn(3), t(0), t(100))
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .connector_status_range(&cid("NOPE"), conn(1), t(0), t(100))
        .await
        .unwrap()
        .is_empty());
}

async fn token_language_set_patch_and_clear(h: &Harness) {
    let s = &h.store;
    let es = LanguageCode::parse("es").unwrap();
    let created = s
        .create_token(
            NewIdToken {
                language: Some(es.clone()),
                ..simple_token("LANG1")
            },
            t(0),
        )
        .await
        .unwrap();
    assert_eq!(created.language, Some(es));
    let fr = LanguageCode::parse("fr").unwrap();
    let patched = s
        .update_token(
            &tag("lang1"),
            IdTokenPatch {
                language: Some(Some(fr.clone())),
                ..Default::default()
            },
            t(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.language, Some(fr.clone()));
    // A patch without the field leaves it alone.
    let other = s
        .update_token(
            &tag("LANG1"),
            IdTokenPatch {
                label: Some(Some("x".into())),
                ..Default::default()
            },
            t(2),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.language, Some(fr));
    let cleared = s
        .update_token(
            &tag("LANG1"),
            IdTokenPatch {
                language: Some(None),
                ..Default::default()
            },
            t(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.language, None);
    assert_eq!(
        s.get_token(&tag("LANG1")).await.unwrap().unwrap().language,
        None
    );
    let events = s.events_after(0, 100).await.unwrap();
    let updates: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "token.updated")
        .collect();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[0].payload["language"], "fr");
}

async fn firmware_and_diagnostics_status(h: &Harness) {
    let s = &h.store;
    let id = cid("CP-1");
    charger(h, "CP-1").await;
    s.record_firmware_status(&id, "Downloading", t(1))
        .await
        .unwrap();
    s.record_firmware_status(&id, "Downloading", t(2))
        .await
        .unwrap();
    s.record_firmware_status(&id, "Installed", t(3))
        .await
        .unwrap();
    s.record_diagnostics_status(&id, "Uploaded", t(4))
        .await
        .unwrap();
    let c = s.get_charger(&id).await.unwrap().unwrap();
    assert_eq!(c.firmware_status.as_deref(), Some("Installed"));
    assert_eq!(c.diagnostics_status.as_deref(), Some("Uploaded"));
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "charger.firmware_status_changed"), 2);
    assert_eq!(count(&kinds, "charger.diagnostics_status_changed"), 1);
}

async fn token_crud_is_case_insensitive(h: &Harness) {
    let s = &h.store;
    let new = NewIdToken {
        id_tag: tag("04a1b2c3"),
        kind: TokenKind::Rfid,
        status: TokenStatus::Accepted,
        expires_at: Some(t(1000)),
        parent_id_tag: Some(tag("Fleet1")),
        allowed_chargers: vec![cid("CP-1"), cid("CP-2")],
        label: Some("Alice".into()),
        language: None,
    };
    let created = s.create_token(new.clone(), t(0)).await.unwrap();
    assert_eq!(created.id_tag.as_str(), "04a1b2c3");
    assert_eq!(created.allowed_chargers, vec![cid("CP-1"), cid("CP-2")]);
    let mut upper = new.clone();
    upper.id_tag = tag("04A1B2C3");
    assert!(matches!(
        s.create_token(upper, t(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    let found = s.get_token(&tag("04A1B2C3")).await.unwrap().unwrap();
    assert_eq!(
        found.id_tag.as_str(),
        "04a1b2c3",
        "spelling as given is kept"
    );
    assert_eq!(found.expires_at, Some(t(1000)));

    let patch = IdTokenPatch {
        status: Some(TokenStatus::Blocked),
        expires_at: Some(None),
        allowed_chargers: Some(vec![]),
        ..Default::default()
    };
    let updated = s
        .update_token(&tag("04A1B2c3"), patch, t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.status, TokenStatus::Blocked);
    assert_eq!(updated.expires_at, None);
    assert!(updated.allowed_chargers.is_empty());
    assert_eq!(updated.label.as_deref(), Some("Alice"));
    assert_eq!(updated.parent_id_tag, Some(tag("FLEET1")));

    let other = NewIdToken {
        id_tag: tag("B2"),
        kind: TokenKind::App,
        status: TokenStatus::Accepted,
        expires_at: None,
        parent_id_tag: None,
        allowed_chargers: vec![],
        label: None,
        language: None,
    };
    s.create_token(other, t(6)).await.unwrap();
    let blocked = s
        .list_tokens(
            TokenFilter {
                status: Some(TokenStatus::Blocked),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(blocked.items.len(), 1);
    let fleet = s
        .list_tokens(
            TokenFilter {
                parent_id_tag: Some(tag("fleet1")),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(fleet.items.len(), 1);
    let all = s
        .list_tokens(TokenFilter::default(), Page::new(Some(1), None))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.next_offset, Some(1));

    assert!(s.delete_token(&tag("04A1B2C3"), t(7)).await.unwrap());
    assert!(!s.delete_token(&tag("04a1b2c3"), t(8)).await.unwrap());
    assert!(s.get_token(&tag("04a1b2c3")).await.unwrap().is_none());
    assert!(s
        .update_token(&tag("nope"), IdTokenPatch::default(), t(9))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        event_kinds(h).await,
        vec![
            "token.created",
            "token.updated",
            "token.created",
            "token.deleted"
        ]
    );
}

async fn start_is_idempotent(h: &Harness) {
    let s = &h.store;
    let first = s
        .start_session(start("CP-1", "TagA", 1000, 100))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.session.state, SessionState::Active);
    assert_eq!(first.session.meter_start_wh, 1000);
    assert_eq!(first.session.started_at, t(100));
    assert_eq!(first.session.created_at, t(101));
    // A resend (id tag in another case, as chargers do): same session.
    let again = s
        .start_session(start("CP-1", "TAGA", 1000, 100))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.session.transaction_id, first.session.transaction_id);
    assert_eq!(again.session.id, first.session.id);
    // A different start is a new session.
    let other = s
        .start_session(start("CP-1", "TagA", 2000, 200))
        .await
        .unwrap();
    assert!(other.created);
    assert_ne!(other.session.transaction_id, first.session.transaction_id);

    let by_tx = s
        .get_session_by_transaction(first.session.transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_tx, first.session);
    let by_id = s.get_session(first.session.id).await.unwrap().unwrap();
    assert_eq!(by_id, first.session);

    let events = s.events_after(0, 100).await.unwrap();
    let started: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "session.started")
        .collect();
    assert_eq!(started.len(), 2);
    assert_eq!(
        started[0].session_id.as_deref(),
        Some(first.session.id.to_string().as_str())
    );
    assert_eq!(
        started[0].payload["transaction_id"],
        first.session.transaction_id.get()
    );
}

async fn stop_duplicate_and_unknown(h: &Harness) {
    let s = &h.store;
    let started = s
        .start_session(start("CP-1", "tag1", 1000, 100))
        .await
        .unwrap();
    let tx = started.session.transaction_id;

    let mut first = stop("CP-1", tx, 5000, 200);
    first.transaction_data = vec![MeterSample {
        timestamp: t(150),
        values: vec![energy(3000), power(7400)],
    }];
    let StopOutcome::Stopped(ended) = s.stop_session(first).await.unwrap() else {
        panic!("expected Stopped");
    };
    assert_eq!(ended.state, SessionState::Ended);
    assert_eq!(ended.stopped_at, Some(t(200)));
    assert_eq!(ended.meter_stop_wh, Some(5000));
    assert_eq!(ended.stop_reason.as_deref(), Some("Local"));
    assert_eq!(ended.stop_id_tag, Some(tag("TAG1")));
    assert_eq!(ended.last_meter_wh, Some(3000));
    assert_eq!(ended.peak_power_w, Some(7400));
    assert_eq!(ended.energy_wh(), 4000);
    let values = s.session_meter_values(ended.id).await.unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].transaction_id, Some(tx));

    // A resend with other figures: the first stop stands.
    let StopOutcome::AlreadyStopped(dup) =
        s.stop_session(stop("CP-1", tx, 9999, 300)).await.unwrap()
    else {
        panic!("expected AlreadyStopped");
    };
    assert_eq!(dup.meter_stop_wh, Some(5000));
    // Same transaction id from another charger: unknown there.
    assert!(matches!(
        s.stop_session(stop("CP-OTHER", tx, 1, 300)).await.unwrap(),
        StopOutcome::UnknownTransaction
    ));
    let unknown = TransactionId::new(999_999).unwrap();
    assert!(matches!(
        s.stop_session(stop("CP-1", unknown, 1, 300)).await.unwrap(),
        StopOutcome::UnknownTransaction
    ));

    let events = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "session.started",
            "session.ended",
            "session.stop_duplicated",
            "session.stop_unmatched",
            "session.stop_unmatched"
        ]
    );
    assert_eq!(events[1].payload["energy_wh"], 4000);
    assert_eq!(events[2].payload["meter_stop_wh"], 9999);
    assert_eq!(events[4].payload["transaction_id"], 999_999);
    assert_eq!(events[4].charger_id.as_deref(), Some("CP-1"));
}

async fn meter_values_out_of_order_give_same_figures(h: &Harness) {
    let s = &h.store;
    let a = s
        .start_session(start("CP-A", "t", 0, 0))
        .await
        .unwrap()
        .session;
    let b = s
        .start_session(start("CP-B", "t", 0, 0))
        .await
        .unwrap()
        .session;
    let readings = [(60, 1000, 7000), (120, 2000, 11000), (180, 3000, 5000)];
    for (at, wh, w) in readings {
        s.record_meter_values(
            &cid("CP-A"),
            meter_report(Some(a.transaction_id), at, wh, w),
        )
        .await
        .unwrap();
    }
    for (at, wh, w) in readings.iter().rev() {
        s.record_meter_values(
            &cid("CP-B"),
            meter_report(Some(b.transaction_id), *at, *wh, *w),
        )
        .await
        .unwrap();
    }
    let a = s.get_session(a.id).await.unwrap().unwrap();
    let b = s.get_session(b.id).await.unwrap().unwrap();
    for x in [&a, &b] {
        assert_eq!(x.last_meter_at, Some(t(180)));
        assert_eq!(x.last_meter_wh, Some(3000));
        assert_eq!(x.peak_power_w, Some(11000));
        assert_eq!(x.energy_wh(), 3000);
    }
    // Every sampled value is kept verbatim, in charger-time order.
    let values = s.session_meter_values(b.id).await.unwrap();
    assert_eq!(values.len(), 6);
    assert_eq!(values[0].timestamp, t(60));
    assert_eq!(values[0].value, energy(1000));
    assert_eq!(values[5].timestamp, t(180));

    // A transaction of another charger is not linked; no transaction at all
    // is stored unlinked. Neither is an event.
    s.record_meter_values(
        &cid("CP-B"),
        meter_report(Some(a.transaction_id), 500, 9000, 1),
    )
    .await
    .unwrap();
    s.record_meter_values(&cid("CP-A"), meter_report(None, 600, 9500, 1))
        .await
        .unwrap();
    let a2 = s.get_session(a.id).await.unwrap().unwrap();
    assert_eq!(a2.last_meter_wh, Some(3000));
    let kinds = event_kinds(h).await;
    assert_eq!(kinds, vec!["session.started", "session.started"]);
}

async fn transaction_ids_are_unique_under_concurrency(h: &Harness) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = h.store.clone();
        tasks.push(tokio::spawn(async move {
            s.start_session(start(&format!("CP-{}", i % 5), "T", i, i))
                .await
                .unwrap()
                .session
                .transaction_id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert!(ids.iter().all(|t| t.get() >= 1));
}

async fn message_log_append_query_purge(h: &Harness) {
    let s = &h.store;
    s.append_log(vec![
        log("CP-1", Direction::In, "BootNotification", 1),
        log("CP-1", Direction::Out, "BootNotification", 2),
        log("CP-2", Direction::In, "Heartbeat", 3),
    ])
    .await
    .unwrap();
    s.append_log(vec![
        log("CP-1", Direction::In, "Heartbeat", 10),
        log("CP-1", Direction::Out, "Heartbeat", 11),
    ])
    .await
    .unwrap();
    h.db.flush().await.unwrap();

    let all = s
        .query_log(&cid("CP-1"), LogFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 4);
    assert_eq!(all.items[0].entry.at, t(11), "newest first");
    assert_eq!(
        all.items[3].entry,
        log("CP-1", Direction::In, "BootNotification", 1)
    );
    assert!(all.items.windows(2).all(|w| w[0].id > w[1].id));

    let incoming = s
        .query_log(
            &cid("CP-1"),
            LogFilter {
                direction: Some(Direction::In),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(incoming.items.len(), 2);
    let hb = s
        .query_log(
            &cid("CP-1"),
            LogFilter {
                action: Some("Heartbeat".into()),
                from: Some(t(10)),
                to: Some(t(11)),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(hb.items.len(), 1);
    assert_eq!(hb.items[0].entry.at, t(10));
    let paged = s
        .query_log(
            &cid("CP-1"),
            LogFilter::default(),
            Page::new(Some(3), Some(0)),
        )
        .await
        .unwrap();
    assert_eq!(paged.items.len(), 3);
    assert_eq!(paged.next_offset, Some(3));

    assert_eq!(s.purge_log_before(t(10)).await.unwrap(), 3);
    let left = s
        .query_log(&cid("CP-1"), LogFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(left.items.len(), 2);
    assert!(
        event_kinds(h).await.is_empty(),
        "the log is not an event source"
    );
}

async fn api_keys(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.count_api_keys().await.unwrap(), 0);
    let new = NewApiKey {
        name: "admin".into(),
        prefix: "jk_abc".into(),
        secret_hash: "deadbeef".into(),
        scopes: vec![ApiScope::Admin],
    };
    let key = s.create_api_key(new.clone(), t(1)).await.unwrap();
    assert_eq!(key.prefix, "jk_abc");
    assert_eq!(key.scopes, vec![ApiScope::Admin]);
    assert_eq!(key.created_at, t(1));
    assert!(matches!(
        s.create_api_key(new, t(2)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.count_api_keys().await.unwrap(), 1);
    assert_eq!(s.find_api_key("jk_abc").await.unwrap(), Some(key));
    assert!(s.find_api_key("jk_nope").await.unwrap().is_none());
    let events = s.events_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.as_str(), "api_key.created");
    assert!(events[0].payload.get("secret_hash").is_none());
}

async fn events_after_pages_in_order(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.latest_event_id().await.unwrap(), 0);
    for i in 0..7 {
        charger(h, &format!("CP-{i}")).await;
    }
    let newest = s.latest_event_id().await.unwrap();
    assert!(s.events_after(newest, 10).await.unwrap().is_empty());
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let batch = s.events_after(cursor, 3).await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 3);
        cursor = batch.last().unwrap().id;
        seen.extend(batch);
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.last().unwrap().id, newest);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
    let order: Vec<_> = seen.iter().map(|e| e.charger_id.clone().unwrap()).collect();
    let expected: Vec<_> = (0..7).map(|i| format!("CP-{i}")).collect();
    assert_eq!(order, expected);
    assert!(seen.iter().all(|e| e.occurred_at == t(0)));
}

async fn list_sessions_filters_and_pages(h: &Harness) {
    let s = &h.store;
    let a1 = s
        .start_session(start("CP-A", "Alice", 0, 100))
        .await
        .unwrap()
        .session;
    let a2 = s
        .start_session(start("CP-A", "Bob", 0, 200))
        .await
        .unwrap()
        .session;
    let b1 = s
        .start_session(start("CP-B", "alice", 0, 300))
        .await
        .unwrap()
        .session;
    s.stop_session(stop("CP-A", a1.transaction_id, 10, 150))
        .await
        .unwrap();

    let all = s
        .list_sessions(SessionFilter::default(), Page::default())
        .await
        .unwrap();
    let order: Vec<_> = all.items.iter().map(|x| x.id).collect();
    assert_eq!(order, vec![b1.id, a2.id, a1.id], "newest first");

    let by_charger = s
        .list_sessions(
            SessionFilter {
                charger_id: Some(cid("CP-A")),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_charger.items.len(), 2);
    let by_tag = s
        .list_sessions(
            SessionFilter {
                id_tag: Some(tag("ALICE")),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        by_tag.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![b1.id, a1.id]
    );
    let active = s
        .list_sessions(
            SessionFilter {
                state: Some(SessionState::Active),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(active.items.len(), 2);
    let ended = s
        .list_sessions(
            SessionFilter {
                state: Some(SessionState::Ended),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(ended.items[0].id, a1.id);
    let window = s
        .list_sessions(
            SessionFilter {
                started_from: Some(t(200)),
                started_to: Some(t(300)),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        window.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a2.id]
    );
    let p1 = s
        .list_sessions(SessionFilter::default(), Page::new(Some(2), None))
        .await
        .unwrap();
    assert_eq!(p1.items.len(), 2);
    assert_eq!(p1.next_offset, Some(2));
    let p2 = s
        .list_sessions(SessionFilter::default(), Page::new(Some(2), Some(2)))
        .await
        .unwrap();
    assert_eq!(
        p2.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a1.id]
    );
    assert_eq!(p2.next_offset, None);
}

async fn timestamps_round_trip_with_microseconds(h: &Harness) {
    let s = &h.store;
    let at = Utc.timestamp_opt(1_767_225_600, 123_456_000).unwrap();
    s.create_charger(new_charger("CP-1"), at).await.unwrap();
    let c = s.get_charger(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(c.created_at, at);
    // Same start with sub-microsecond noise still matches the stored key.
    let mut st = start("CP-1", "x", 1, 0);
    st.started_at = at;
    let first = s.start_session(st.clone()).await.unwrap();
    assert_eq!(first.session.started_at, at);
    let again = s.start_session(st).await.unwrap();
    assert!(!again.created);
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

async fn tariff_crud_conflict_and_versions(h: &Harness) {
    let s = &h.store;
    let created = s
        .create_tariff(new_tariff("T1", "0.2345"), t(0))
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.created_at, t(0));
    assert_eq!(created.updated_at, t(0));
    // The OCPI body comes back exactly, prices included.
    assert_eq!(created.tariff, new_tariff("T1", "0.2345").tariff);
    assert_eq!(created.extensions.hold_amount_minor, Some(5000));
    assert_eq!(
        created.tariff.elements[0].price_components[0]
            .price
            .to_string(),
        "0.2345"
    );
    assert!(matches!(
        s.create_tariff(new_tariff("T1", "1"), t(1)).await,
        Err(StoreError::Conflict { .. })
    ));

    let updated = s
        .update_tariff("T1", new_tariff("T1", "0.40"), t(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, t(0));
    assert_eq!(updated.updated_at, t(2));
    let again = s
        .update_tariff("T1", new_tariff("T1", "0.41"), t(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version, 3);
    assert_eq!(s.get_tariff("T1").await.unwrap().unwrap(), again);
    assert!(s
        .update_tariff("nope", new_tariff("nope", "1"), t(3))
        .await
        .unwrap()
        .is_none());

    s.create_tariff(new_tariff("A0", "0.1"), t(4))
        .await
        .unwrap();
    s.create_tariff(new_tariff("b2", "0.1"), t(4))
        .await
        .unwrap();
    let first = s.list_tariffs(Page::new(Some(2), None)).await.unwrap();
    let ids: Vec<_> = first.items.iter().map(|t| t.tariff.id.as_str()).collect();
    assert_eq!(ids, ["A0", "T1"]);
    assert_eq!(first.next_offset, Some(2));
    let rest = s.list_tariffs(Page::new(Some(2), Some(2))).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_offset, None);

    assert!(s.delete_tariff("T1", t(5)).await.unwrap());
    assert!(!s.delete_tariff("T1", t(6)).await.unwrap());
    assert!(s.get_tariff("T1").await.unwrap().is_none());

    let events = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "tariff.created",
            "tariff.updated",
            "tariff.updated",
            "tariff.created",
            "tariff.created",
            "tariff.deleted"
        ]
    );
    assert_eq!(
        events[2].payload,
        serde_json::json!({"tariff_id": "T1", "version": 3, "currency": "EUR"})
    );
}

/// NEVI frozen price: a session records the default tariff's version at
/// start; replacing (or deleting) the tariff later leaves that version
/// readable and the session pointing at it.
async fn session_keeps_the_tariff_version_it_started_with(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    // No default tariff: the session has none.
    let none = start_resolved(h, "CP1", "TAG0", 0, 0).await;
    assert_eq!(none.session.tariff, None);

    s.create_tariff(new_tariff("T1", "0.30"), t(1))
        .await
        .unwrap();
    s.set_default_tariff(Some("T1"), t(1)).await.unwrap();
    let before = start_resolved(h, "CP1", "TAG1", 100, 2).await.session;
    let v1 = SessionTariff {
        tariff_id: "T1".into(),
        version: 1,
    };
    assert_eq!(before.tariff, Some(v1.clone()));

    s.update_tariff("T1", new_tariff("T1", "0.50"), t(3))
        .await
        .unwrap();
    let after = start_resolved(h, "CP1", "TAG2", 200, 4).await.session;
    assert_eq!(after.tariff.as_ref().map(|t| t.version), Some(2));
    // A resend of the first start still returns version 1.
    let resent = start_resolved(h, "CP1", "TAG1", 100, 2).await;
    assert!(!resent.created);
    assert_eq!(resent.session.tariff, Some(v1.clone()));
    assert_eq!(
        s.get_session(before.id).await.unwrap().unwrap().tariff,
        Some(v1)
    );

    let old = s.get_tariff_version("T1", 1).await.unwrap().unwrap();
    assert_eq!(old.version, 1);
    assert_eq!(old.tariff, new_tariff("T1", "0.30").tariff);
    let new = s.get_tariff_version("T1", 2).await.unwrap().unwrap();
    assert_eq!(new.tariff, new_tariff("T1", "0.50").tariff);
    assert!(s.get_tariff_version("T1", 3).await.unwrap().is_none());

    // Versions outlive the tariff and are never reused.
    assert!(s.delete_tariff("T1", t(5)).await.unwrap());
    assert!(s.get_tariff_version("T1", 1).await.unwrap().is_some());
    let again = s
        .create_tariff(new_tariff("T1", "0.90"), t(6))
        .await
        .unwrap();
    assert_eq!(again.version, 3);
    let old = s.get_tariff_version("T1", 1).await.unwrap().unwrap();
    assert_eq!(old.tariff, new_tariff("T1", "0.30").tariff);
}

async fn charger_tariff_takes_precedence_over_the_default(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    charger(h, "CP2").await;
    s.create_tariff(new_tariff("DEF", "0.30"), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("OWN", "0.20"), t(0))
        .await
        .unwrap();
    s.set_default_tariff(Some("DEF"), t(0)).await.unwrap();

    assert_eq!(s.charger_tariff(&cid("CP1")).await.unwrap(), Some(None));
    assert_eq!(s.charger_tariff(&cid("NOPE")).await.unwrap(), None);
    assert_eq!(
        s.set_charger_tariff(&cid("NOPE"), Some("OWN"), t(1))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        s.set_charger_tariff(&cid("CP1"), Some("MISSING"), t(1))
            .await,
        Err(StoreError::NotFound { entity: "tariff" })
    ));
    assert_eq!(
        s.set_charger_tariff(&cid("CP1"), Some("OWN"), t(1))
            .await
            .unwrap(),
        Some(Some("OWN".into()))
    );
    // Setting it again records nothing.
    s.set_charger_tariff(&cid("CP1"), Some("OWN"), t(1))
        .await
        .unwrap();
    assert_eq!(
        s.charger_tariff(&cid("CP1")).await.unwrap(),
        Some(Some("OWN".into()))
    );

    let tariff_of =
        |out: joule_domain::session::StartOutcome| out.session.tariff.unwrap().tariff_id;
    let own = start_resolved(h, "CP1", "TAG1", 0, 2).await;
    assert_eq!(tariff_of(own), "OWN");
    let def = start_resolved(h, "CP2", "TAG1", 0, 2).await;
    assert_eq!(tariff_of(def), "DEF");

    // Deleting the tariff clears it on the charger: the default applies.
    assert!(s.delete_tariff("OWN", t(3)).await.unwrap());
    assert_eq!(s.charger_tariff(&cid("CP1")).await.unwrap(), Some(None));
    let after = start_resolved(h, "CP1", "TAG2", 0, 4).await;
    assert_eq!(tariff_of(after), "DEF");

    let events = s.events_after(0, 100).await.unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "charger.tariff_changed")
        .map(|e| e.payload["tariff_id"].clone())
        .collect();
    assert_eq!(
        changes,
        vec![serde_json::json!("OWN"), serde_json::Value::Null]
    );
}

async fn default_tariff_set_clear_and_delete(h: &Harness) {
    let s = &h.store;
    assert!(s.default_tariff().await.unwrap().is_none());
    assert!(matches!(
        s.set_default_tariff(Some("T1"), t(0)).await,
        Err(StoreError::NotFound { .. })
    ));
    s.create_tariff(new_tariff("T1", "0.30"), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("T2", "0.35"), t(0))
        .await
        .unwrap();

    let set = s
        .set_default_tariff(Some("T1"), t(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.tariff.id, "T1");
    // Setting the same default again records nothing.
    s.set_default_tariff(Some("T1"), t(2)).await.unwrap();
    s.update_tariff("T1", new_tariff("T1", "0.31"), t(3))
        .await
        .unwrap();
    let default = s.default_tariff().await.unwrap().unwrap();
    assert_eq!((default.tariff.id.as_str(), default.version), ("T1", 2));

    s.set_default_tariff(Some("T2"), t(4)).await.unwrap();
    assert_eq!(s.default_tariff().await.unwrap().unwrap().tariff.id, "T2");
    assert!(s.set_default_tariff(None, t(5)).await.unwrap().is_none());
    assert!(s.default_tariff().await.unwrap().is_none());

    // Deleting the default tariff clears the default.
    s.set_default_tariff(Some("T2"), t(6)).await.unwrap();
    assert!(s.delete_tariff("T2", t(7)).await.unwrap());
    assert!(s.default_tariff().await.unwrap().is_none());
    // Deleting another tariff leaves the default alone.
    s.set_default_tariff(Some("T1"), t(8)).await.unwrap();
    s.create_tariff(new_tariff("T3", "0.1"), t(8))
        .await
        .unwrap();
    assert!(s.delete_tariff("T3", t(9)).await.unwrap());
    assert_eq!(s.default_tariff().await.unwrap().unwrap().tariff.id, "T1");

    let events = s.events_after(0, 100).await.unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "tariff.default_changed")
        .map(|e| e.payload.clone())
        .collect();
    assert_eq!(
        changes,
        [
            serde_json::json!({"tariff_id": "T1", "previous_tariff_id": null}),
            serde_json::json!({"tariff_id": "T2", "previous_tariff_id": "T1"}),
            serde_json::json!({"tariff_id": null, "previous_tariff_id": "T2"}),
            serde_json::json!({"tariff_id": "T2", "previous_tariff_id": null}),
            serde_json::json!({"tariff_id": null, "previous_tariff_id": "T2"}),
            serde_json::json!({"tariff_id": "T1", "previous_tariff_id": null}),
        ]
    );
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

fn simple_token(id: &str) -> NewIdToken {
    NewIdToken {
        id_tag: tag(id),
        kind: TokenKind::Rfid,
        status: TokenStatus::Accepted,
        expires_at: None,
        parent_id_tag: None,
        allowed_chargers: vec![],
        label: None,
        language: None,
    }
}

async fn user_group_crud_and_events(h: &Harness) {
    let s = &h.store;
    let new = NewUserGroup {
        id: gid("staff"),
        name: "Staff".into(),
    };
    let created = s.create_user_group(new.clone(), t(1)).await.unwrap();
    assert_eq!(created.name, "Staff");
    assert_eq!(created.created_at, t(1));
    assert!(matches!(
        s.create_user_group(new, t(2)).await,
        Err(StoreError::Conflict { .. })
    ));
    group(h, "alpha").await;
    let listed = s.list_user_groups(Page::default()).await.unwrap();
    let ids: Vec<_> = listed.items.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["alpha", "staff"]);

    let updated = s
        .update_user_group(
            &gid("staff"),
            UserGroupPatch {
                name: Some("Employees".into()),
            },
            t(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "Employees");
    assert_eq!(updated.created_at, t(1));
    assert_eq!(updated.updated_at, t(3));
    assert_eq!(
        s.get_user_group(&gid("staff")).await.unwrap().unwrap(),
        updated
    );
    assert!(s
        .update_user_group(&gid("nope"), UserGroupPatch::default(), t(3))
        .await
        .unwrap()
        .is_none());

    assert!(s.delete_user_group(&gid("staff"), t(4)).await.unwrap());
    assert!(!s.delete_user_group(&gid("staff"), t(4)).await.unwrap());
    assert!(s.get_user_group(&gid("staff")).await.unwrap().is_none());
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "user_group.created"), 2);
    assert_eq!(count(&kinds, "user_group.updated"), 1);
    assert_eq!(count(&kinds, "user_group.deleted"), 1);
}

async fn token_groups_set_replace_and_cleanup(h: &Harness) {
    let s = &h.store;
    group(h, "staff").await;
    group(h, "fleet").await;
    s.create_token(simple_token("AbC1"), t(0)).await.unwrap();
    assert!(s.token_groups(&tag("abc1")).await.unwrap().is_empty());

    // Case-insensitive tag; duplicates collapse; sorted.
    let set = s
        .set_token_groups(
            &tag("ABC1"),
            vec![gid("staff"), gid("fleet"), gid("staff")],
            t(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set, vec![gid("fleet"), gid("staff")]);
    assert_eq!(s.token_groups(&tag("abc1")).await.unwrap(), set);

    // An unknown group changes nothing.
    assert!(matches!(
        s.set_token_groups(&tag("abc1"), vec![gid("ghost")], t(2))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.token_groups(&tag("abc1")).await.unwrap(), set);
    // Unknown token.
    assert!(s
        .set_token_groups(&tag("nobody"), vec![gid("staff")], t(2))
        .await
        .unwrap()
        .is_none());

    // Deleting a group removes the membership.
    s.delete_user_group(&gid("fleet"), t(3)).await.unwrap();
    assert_eq!(
        s.token_groups(&tag("abc1")).await.unwrap(),
        vec![gid("staff")]
    );
    // Deleting and re-creating the token starts with no groups.
    s.delete_token(&tag("abc1"), t(4)).await.unwrap();
    s.create_token(simple_token("abc1"), t(5)).await.unwrap();
    assert!(s.token_groups(&tag("abc1")).await.unwrap().is_empty());
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "token.groups_changed"), 1);
}

async fn charger_access_set_and_cleanup(h: &Harness) {
    let s = &h.store;
    group(h, "staff").await;
    charger(h, "CP-1").await;
    assert_eq!(
        s.charger_access(&cid("CP-1")).await.unwrap(),
        Some(ChargerAccessRule::default())
    );
    assert!(s.charger_access(&cid("CP-X")).await.unwrap().is_none());

    let rule = ChargerAccessRule {
        access: ChargerAccess::Private,
        allowed_groups: vec![gid("staff"), gid("staff")],
    };
    let set = s
        .set_charger_access(&cid("CP-1"), rule, t(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.access, ChargerAccess::Private);
    assert_eq!(set.allowed_groups, vec![gid("staff")]);
    assert_eq!(s.charger_access(&cid("CP-1")).await.unwrap(), Some(set));

    assert!(matches!(
        s.set_charger_access(
            &cid("CP-1"),
            ChargerAccessRule {
                access: ChargerAccess::Restricted,
                allowed_groups: vec![gid("ghost")],
            },
            t(2)
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.charger_access(&cid("CP-1"))
            .await
            .unwrap()
            .unwrap()
            .access,
        ChargerAccess::Private
    );
    assert!(s
        .set_charger_access(&cid("CP-X"), ChargerAccessRule::default(), t(2))
        .await
        .unwrap()
        .is_none());

    // Deleting the group leaves the charger private, admitting nobody.
    s.delete_user_group(&gid("staff"), t(3)).await.unwrap();
    let after = s.charger_access(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(after.access, ChargerAccess::Private);
    assert!(after.allowed_groups.is_empty());
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "charger.access_changed"), 1);
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

fn kinds(events: &[joule_domain::event::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

async fn sites_crud_charger_site_and_inherited_access(h: &Harness) {
    let s = &h.store;
    group(h, "staff").await;
    charger(h, "CP1").await;
    let private = ChargerAccessRule {
        access: ChargerAccess::Private,
        allowed_groups: vec![gid("staff")],
    };
    let site = s
        .create_site(new_site("madrid", private.clone()), t(1))
        .await
        .unwrap();
    assert_eq!(site.time_zone, chrono_tz::Europe::Madrid);
    assert_eq!(site.access, private);
    assert_eq!(site.address.city.as_deref(), Some("Madrid"));
    assert!(matches!(
        s.create_site(new_site("madrid", ChargerAccessRule::default()), t(1))
            .await,
        Err(StoreError::Conflict { entity: "site" })
    ));
    let ghost = ChargerAccessRule {
        access: ChargerAccess::Private,
        allowed_groups: vec![gid("ghost")],
    };
    assert!(matches!(
        s.create_site(new_site("paris", ghost), t(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.get_site(&sid("madrid")).await.unwrap(),
        Some(site.clone())
    );
    assert!(s.get_site(&sid("paris")).await.unwrap().is_none());
    s.create_site(new_site("bilbao", ChargerAccessRule::default()), t(2))
        .await
        .unwrap();
    let page = s.list_sites(Page::new(Some(1), Some(0))).await.unwrap();
    assert_eq!(page.items[0].id, sid("bilbao"));
    assert_eq!(page.next_offset, Some(1));

    // A charger without its own rule inherits its site's.
    assert_eq!(
        s.charger_access(&cid("CP1")).await.unwrap(),
        Some(ChargerAccessRule::default())
    );
    assert_eq!(
        s.set_charger_site(&cid("NOPE"), Some(&sid("madrid")), t(3))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        s.set_charger_site(&cid("CP1"), Some(&sid("paris")), t(3))
            .await,
        Err(StoreError::NotFound { entity: "site" })
    ));
    assert_eq!(
        s.set_charger_site(&cid("CP1"), Some(&sid("madrid")), t(3))
            .await
            .unwrap(),
        Some(Some(sid("madrid")))
    );
    assert_eq!(
        s.charger_access(&cid("CP1")).await.unwrap(),
        Some(private.clone())
    );
    // Its own rule, once set, wins.
    s.set_charger_access(&cid("CP1"), ChargerAccessRule::default(), t(4))
        .await
        .unwrap();
    assert_eq!(
        s.charger_access(&cid("CP1")).await.unwrap(),
        Some(ChargerAccessRule::default())
    );

    let mut renamed = new_site("madrid", ChargerAccessRule::default());
    renamed.name = "Madrid Centro".into();
    renamed.time_zone = chrono_tz::Atlantic::Canary;
    let updated = s
        .update_site(&sid("madrid"), renamed.clone(), t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "Madrid Centro");
    assert_eq!(updated.time_zone, chrono_tz::Atlantic::Canary);
    assert_eq!(updated.updated_at, t(5));
    assert!(s
        .update_site(&sid("paris"), renamed, t(5))
        .await
        .unwrap()
        .is_none());

    // Deleting the site detaches its chargers.
    assert!(s.delete_site(&sid("madrid"), t(6)).await.unwrap());
    assert!(!s.delete_site(&sid("madrid"), t(6)).await.unwrap());
    let candidates = s
        .tariff_candidates(&cid("CP1"), None)
        .await
        .unwrap()
        .unwrap();
    assert!(candidates.site.is_none());
    let events = s.events_after(0, 100).await.unwrap();
    let site_events: Vec<&str> = kinds(&events)
        .into_iter()
        .filter(|k| k.starts_with("site.") || *k == "charger.site_changed")
        .collect();
    assert_eq!(
        site_events,
        [
            "site.created",
            "site.created",
            "charger.site_changed",
            "site.updated",
            "charger.site_changed",
            "site.deleted"
        ]
    );
    let moved = events
        .iter()
        .find(|e| e.kind.as_str() == "charger.site_changed")
        .unwrap();
    assert_eq!(moved.payload["site_id"], "madrid");
}

fn assignment(tariff: &str, scope: AssignmentScope) -> NewTariffAssignment {
    NewTariffAssignment {
        tariff_id: tariff.into(),
        scope,
        valid_from: None,
        valid_until: None,
    }
}

async fn tariff_assignments_crud_filters_and_cleanup(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    group(h, "staff").await;
    s.create_token(simple_token("TAG1"), t(0)).await.unwrap();
    s.create_site(new_site("madrid", ChargerAccessRule::default()), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("T1", "0.30"), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("T2", "0.20"), t(0))
        .await
        .unwrap();

    let unknown = [
        (
            assignment(
                "NOPE",
                AssignmentScope::Charger {
                    charger_id: cid("CP1"),
                },
            ),
            "tariff",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::Charger {
                    charger_id: cid("CP9"),
                },
            ),
            "charger",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::Connector {
                    charger_id: cid("CP9"),
                    connector_id: conn(1),
                },
            ),
            "charger",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::Site {
                    site_id: sid("paris"),
                },
            ),
            "site",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::UserGroup {
                    group_id: gid("ghost"),
                    site_id: None,
                },
            ),
            "user group",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::UserGroup {
                    group_id: gid("staff"),
                    site_id: Some(sid("paris")),
                },
            ),
            "site",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::IdToken {
                    id_tag: tag("NOBODY"),
                },
            ),
            "id token",
        ),
    ];
    for (new, entity) in unknown {
        match s.create_tariff_assignment(new, t(1)).await {
            Err(StoreError::NotFound { entity: e }) => assert_eq!(e, entity),
            other => panic!("expected {entity} not found, got {other:?}"),
        }
    }

    let mut dated = assignment(
        "T1",
        AssignmentScope::IdToken {
            id_tag: tag("tag1"),
        },
    );
    dated.valid_from = Some(t(10));
    dated.valid_until = Some(t(20));
    let token = s.create_tariff_assignment(dated, t(1)).await.unwrap();
    assert_eq!(token.valid_from, Some(t(10)));
    assert_eq!(token.valid_until, Some(t(20)));
    assert_eq!(token.created_at, t(1));
    let conn_a = s
        .create_tariff_assignment(
            assignment(
                "T2",
                AssignmentScope::Connector {
                    charger_id: cid("CP1"),
                    connector_id: conn(2),
                },
            ),
            t(2),
        )
        .await
        .unwrap();
    let group_a = s
        .create_tariff_assignment(
            assignment(
                "T2",
                AssignmentScope::UserGroup {
                    group_id: gid("staff"),
                    site_id: Some(sid("madrid")),
                },
            ),
            t(3),
        )
        .await
        .unwrap();
    let site_a = s
        .create_tariff_assignment(
            assignment(
                "T1",
                AssignmentScope::Site {
                    site_id: sid("madrid"),
                },
            ),
            t(4),
        )
        .await
        .unwrap();

    assert_eq!(
        s.get_tariff_assignment(conn_a.id).await.unwrap(),
        Some(conn_a.clone())
    );
    let all = s
        .list_tariff_assignments(AssignmentFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![token.id, conn_a.id, group_a.id, site_a.id]
    );
    let by = |f: AssignmentFilter| async move {
        s.list_tariff_assignments(f, Page::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
    };
    let f = AssignmentFilter {
        tariff_id: Some("T2".into()),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![conn_a.id, group_a.id]);
    let f = AssignmentFilter {
        site_id: Some(sid("madrid")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![group_a.id, site_a.id]);
    let f = AssignmentFilter {
        scope: Some(ScopeKind::Site),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![site_a.id]);
    let f = AssignmentFilter {
        id_tag: Some(tag("TAG1")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![token.id]);
    let f = AssignmentFilter {
        charger_id: Some(cid("CP1")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![conn_a.id]);
    let f = AssignmentFilter {
        group_id: Some(gid("staff")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![group_a.id]);

    assert!(s.delete_tariff_assignment(conn_a.id, t(5)).await.unwrap());
    assert!(!s.delete_tariff_assignment(conn_a.id, t(5)).await.unwrap());
    assert!(s.get_tariff_assignment(conn_a.id).await.unwrap().is_none());

    // A deleted tariff, group or token takes its assignments with it.
    assert!(s.delete_tariff("T1", t(6)).await.unwrap());
    assert_eq!(by(AssignmentFilter::default()).await, vec![group_a.id]);
    assert!(s.delete_user_group(&gid("staff"), t(7)).await.unwrap());
    assert!(by(AssignmentFilter::default()).await.is_empty());

    let events = s.events_after(0, 100).await.unwrap();
    let assignment_events: Vec<&str> = kinds(&events)
        .into_iter()
        .filter(|k| k.starts_with("tariff_assignment."))
        .collect();
    assert_eq!(
        assignment_events,
        [
            "tariff_assignment.created",
            "tariff_assignment.created",
            "tariff_assignment.created",
            "tariff_assignment.created",
            "tariff_assignment.deleted",
            "tariff_assignment.deleted",
            "tariff_assignment.deleted",
            "tariff_assignment.deleted"
        ]
    );
    let created = events
        .iter()
        .find(|e| e.kind.as_str() == "tariff_assignment.created")
        .unwrap();
    assert_eq!(created.payload["scope"], "id_token");
    assert_eq!(created.payload["id_tag"], "tag1");
    assert_eq!(created.payload["tariff_id"], "T1");
}

async fn tariff_candidates_feed_the_precedence_rule(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    charger(h, "CP2").await;
    group(h, "staff").await;
    s.create_token(simple_token("TAG1"), t(0)).await.unwrap();
    s.create_token(simple_token("TAG2"), t(0)).await.unwrap();
    s.set_token_groups(&tag("TAG1"), vec![gid("staff")], t(0))
        .await
        .unwrap();
    s.create_site(new_site("madrid", ChargerAccessRule::default()), t(0))
        .await
        .unwrap();
    s.set_charger_site(&cid("CP1"), Some(&sid("madrid")), t(0))
        .await
        .unwrap();
    for (id, price) in [
        ("DEF", "0.5"),
        ("SITE", "0.4"),
        ("GROUP", "0.2"),
        ("TOK", "0.1"),
    ] {
        s.create_tariff(new_tariff(id, price), t(0)).await.unwrap();
    }
    s.set_default_tariff(Some("DEF"), t(0)).await.unwrap();
    s.create_tariff_assignment(
        assignment(
            "SITE",
            AssignmentScope::Site {
                site_id: sid("madrid"),
            },
        ),
        t(0),
    )
    .await
    .unwrap();
    s.create_tariff_assignment(
        assignment(
            "GROUP",
            AssignmentScope::UserGroup {
                group_id: gid("staff"),
                site_id: None,
            },
        ),
        t(0),
    )
    .await
    .unwrap();
    let mut tok = assignment(
        "TOK",
        AssignmentScope::IdToken {
            id_tag: tag("TAG2"),
        },
    );
    tok.valid_from = Some(t(100));
    s.create_tariff_assignment(tok, t(0)).await.unwrap();

    assert!(s
        .tariff_candidates(&cid("NOPE"), None)
        .await
        .unwrap()
        .is_none());
    let pick = |charger: &'static str, id_tag: Option<&'static str>, at: i64| async move {
        let id_tag = id_tag.map(tag);
        let c = s
            .tariff_candidates(&cid(charger), id_tag.as_ref())
            .await
            .unwrap()
            .unwrap();
        c.resolve(&cid(charger), conn(1), id_tag.as_ref(), t(at))
            .map(|r| r.tariff.tariff.id.clone())
    };
    assert_eq!(pick("CP1", Some("TAG1"), 1).await.as_deref(), Some("GROUP"));
    assert_eq!(pick("CP1", Some("TAG2"), 1).await.as_deref(), Some("SITE"));
    assert_eq!(pick("CP1", Some("TAG2"), 100).await.as_deref(), Some("TOK"));
    assert_eq!(pick("CP1", None, 1).await.as_deref(), Some("SITE"));
    assert_eq!(pick("CP2", None, 1).await.as_deref(), Some("DEF"));
    assert_eq!(pick("CP2", Some("TAG1"), 1).await.as_deref(), Some("GROUP"));

    let c = s
        .tariff_candidates(&cid("CP1"), Some(&tag("tag1")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.groups, vec![gid("staff")]);
    assert_eq!(c.time_zone(), chrono_tz::Europe::Madrid);
    assert_eq!(c.site.map(|x| x.id), Some(sid("madrid")));
    assert_eq!(c.default.map(|d| d.tariff.id), Some("DEF".into()));
}

async fn session_records_the_chosen_tariff_or_none_if_deleted(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    s.create_tariff(new_tariff("T1", "0.30"), t(0))
        .await
        .unwrap();
    s.update_tariff("T1", new_tariff("T1", "0.35"), t(0))
        .await
        .unwrap();
    let mut st = start("CP1", "TAG1", 0, 1);
    st.tariff_id = Some("T1".into());
    let first = s.start_session(st.clone()).await.unwrap();
    assert_eq!(
        first.session.tariff,
        Some(SessionTariff {
            tariff_id: "T1".into(),
            version: 2
        })
    );
    // A resend keeps the version recorded first, even if told otherwise.
    s.update_tariff("T1", new_tariff("T1", "0.40"), t(2))
        .await
        .unwrap();
    let mut resend = st.clone();
    resend.tariff_id = None;
    let again = s.start_session(resend).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.session.tariff, first.session.tariff);
    // A tariff deleted between the choice and the write records none.
    let mut gone = start("CP1", "TAG2", 0, 3);
    gone.tariff_id = Some("DELETED".into());
    assert_eq!(s.start_session(gone).await.unwrap().session.tariff, None);
}

#[path = "contract/holds.rs"]
mod holds;
#[path = "contract/payments.rs"]
mod payments;

#[path = "contract/accounts.rs"]
mod accounts;
#[path = "contract/terminals.rs"]
mod terminals;
