//! What the payment service tests (payments, terminal_payments,
//! account_payments, hold_limits) set up alike: a real SQLite store in a
//! temporary folder with one accepted charger, the 0.30 EUR/kWh default
//! tariff, and a random source.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use joule_domain::charger::{ConnectorStatus, NewCharger, RegistrationStatus, StatusReport};
use joule_domain::ids::{ChargerId, ConnectorId};
use joule_domain::store::Store;

/// Random bytes from UUIDv4s: as unguessable as the tests need.
#[derive(Debug)]
pub struct Random;

impl joule_domain::payment_service::RandomSource for Random {
    fn bytes16(&self) -> [u8; 16] {
        *uuid::Uuid::new_v4().as_bytes()
    }
}

/// A fresh SQLite store with the charger `id` accepted at `at`; its
/// connector 1 reported `Available` when `available`.
pub async fn store_with_charger(
    id: &str,
    at: DateTime<Utc>,
    available: bool,
) -> (
    tempfile::TempDir,
    joule_store::Database,
    Arc<dyn Store>,
    ChargerId,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("joule.db").display());
    let db = joule_store::connect(&url, joule_store::StoreOptions::default())
        .await
        .unwrap();
    let store = db.store();
    let cp = ChargerId::parse(id).unwrap();
    store
        .create_charger(
            NewCharger {
                id: cp.clone(),
                label: None,
                location: None,
                registration: RegistrationStatus::Accepted,
                password_hash: None,
            },
            at,
        )
        .await
        .unwrap();
    if available {
        store
            .record_status(
                &cp,
                StatusReport {
                    connector_id: ConnectorId::new(1).unwrap(),
                    status: ConnectorStatus::Available,
                    error_code: None,
                    info: None,
                    vendor_id: None,
                    vendor_error_code: None,
                    reported_at: Some(at),
                    received_at: at,
                },
            )
            .await
            .unwrap();
    }
    (dir, db, store, cp)
}

/// The claim a request held on `payment` when its process died at `at`
/// (it lapses after a minute, as `payments.recovery_after_s` says): what a
/// test that plays a crashed request records its steps under.
#[allow(dead_code)]
pub async fn claim_of_a_crashed_request(
    store: &dyn joule_domain::store::PaymentStore,
    payment: joule_domain::payment::PaymentId,
    at: chrono::DateTime<chrono::Utc>,
) -> joule_domain::payment::ClaimToken {
    use joule_domain::payment::{ClaimOwner, ClaimRequest, ClaimToken};
    let token = ClaimToken::new();
    store
        .claim_payment(
            payment,
            ClaimRequest {
                owner: ClaimOwner::Confirm,
                token,
                expires_at: at + chrono::Duration::seconds(60),
            },
            at,
        )
        .await
        .expect("store")
        .expect("the payment is free");
    token
}
