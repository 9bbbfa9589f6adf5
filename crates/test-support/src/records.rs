//! What tests put into a store before they act: an accepted charger, the
//! default energy tariff, a terminal, a driver account with its token.
//! Each is written the way the API or the charger would leave it.

use chrono::{DateTime, Utc};
use joule_domain::charging::charger::{
    ConnectorStatus, NewCharger, RegistrationStatus, StatusReport,
};
use joule_domain::charging::token::{IdTokenType, NewToken, TokenKind, TokenStatus};
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken};
use joule_domain::kernel::language::LanguageCode;
use joule_domain::kernel::money::Currency;
use joule_domain::payments::account::{AccountId, NewAccount};
use joule_domain::payments::terminal::{
    NewTerminal, Terminal, TerminalId, TerminalScope, TerminalTarget,
};
use joule_domain::ports::store::Store;
use joule_domain::pricing::stored::NewTariff;
use joule_domain::pricing::TariffExtensions;

/// Registers the charger `id` as accepted at `at`; its connector 1
/// reported `Available` when `available`.
pub async fn accepted_charger(
    store: &dyn Store,
    id: &str,
    at: DateTime<Utc>,
    available: bool,
) -> ChargerId {
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
    cp
}

/// The default tariff: 0.30 EUR/kWh (no VAT) named `id`, with
/// `extensions` (the hold amount, hold limits). 10 kWh cost 3.00 EUR.
pub async fn default_energy_tariff(
    store: &dyn Store,
    id: &str,
    extensions: TariffExtensions,
    at: DateTime<Utc>,
) {
    let tariff = serde_json::from_value(serde_json::json!({
        "country_code": "DE", "party_id": "JOU", "id": id, "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    store
        .create_tariff(NewTariff { tariff, extensions }, at)
        .await
        .unwrap();
    store.set_default_tariff(Some(id), at).await.unwrap();
}

/// A terminal named `name` on the simulated gateway, serving every
/// connector of `cp`.
pub async fn terminal(
    store: &dyn Store,
    name: &str,
    cp: &ChargerId,
    at: DateTime<Utc>,
) -> Terminal {
    store
        .create_terminal(
            NewTerminal {
                id: TerminalId::new_v7(),
                name: name.into(),
                site_id: None,
                scope: TerminalScope::Chargers {
                    targets: vec![TerminalTarget {
                        charger_id: cp.clone(),
                        connector_id: None,
                    }],
                },
                gateway: "simulated".into(),
                enabled: true,
            }
            .checked()
            .unwrap(),
            at,
        )
        .await
        .unwrap()
}

/// A driver account (EUR) and the accepted RFID token linked to it.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub tag: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub language: &'static str,
}

pub async fn account_with_token(
    store: &dyn Store,
    spec: &AccountSpec,
    at: DateTime<Utc>,
) -> (AccountId, IdToken) {
    let tag = IdToken::parse(spec.tag).unwrap();
    store
        .create_token(
            NewToken {
                id_tag: tag.clone(),
                token_type: IdTokenType::Iso14443,
                kind: TokenKind::Rfid,
                status: TokenStatus::Accepted,
                expires_at: None,
                parent_id_tag: None,
                allowed_chargers: vec![],
                label: None,
                language: None,
            },
            at,
        )
        .await
        .unwrap();
    let account = store
        .create_account(
            NewAccount {
                id: AccountId::new_v7(),
                email: spec.email.into(),
                name: spec.name.into(),
                language: LanguageCode::parse(spec.language).unwrap(),
                currency: Currency::parse("EUR").unwrap(),
            },
            at,
        )
        .await
        .unwrap()
        .id;
    store.link_account_token(account, &tag, at).await.unwrap();
    (account, tag)
}
