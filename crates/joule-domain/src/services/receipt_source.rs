//! The receipt of a captured payment, built from what is stored: the
//! session, its frozen tariff version priced with its connector's status
//! history (as `GET /api/v1/sessions/{id}` prices it), its site, the card
//! summary and the operator. One place for the receipt page and the receipt
//! email, so both show the same receipt.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::charging::site::Site;
use crate::kernel::error::StoreError;
use crate::kernel::language::Language;
use crate::payments::payment::{Payment, PaymentState};
use crate::ports::store::{ChargerStore, SessionStore, Store, TariffAssignmentStore, TariffStore};
use crate::pricing::session_cost::{price_session_cost, status_range, SessionCostError};
use crate::receipts::receipt::{
    OperatorInfo, PaymentMethod, Receipt, ReceiptContext, ReceiptError, ReceiptNumber, SiteInfo,
};

/// The store ports a receipt is read through.
#[derive(Clone)]
pub struct ReceiptSources {
    pub sessions: Arc<dyn SessionStore>,
    pub tariffs: Arc<dyn TariffStore>,
    pub chargers: Arc<dyn ChargerStore>,
    pub assignments: Arc<dyn TariffAssignmentStore>,
}

/// One backend provides all four.
impl From<Arc<dyn Store>> for ReceiptSources {
    fn from(store: Arc<dyn Store>) -> Self {
        Self {
            sessions: store.clone(),
            tariffs: store.clone(),
            chargers: store.clone(),
            assignments: store,
        }
    }
}

/// Why a receipt that should exist could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptBuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the session cannot be priced: {0}")]
    Price(#[from] SessionCostError),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
}

/// The receipt of `payment` in its language; `None` (logged) when it is not
/// captured, or its session or tariff version is missing: a receipt must not
/// be guessed.
pub async fn receipt_for_payment(
    src: &ReceiptSources,
    payment: &Payment,
    operator: &OperatorInfo,
    now: DateTime<Utc>,
) -> Result<Option<Receipt>, ReceiptBuildError> {
    if payment.state != PaymentState::Captured {
        return Ok(None);
    }
    let Some(session_id) = payment.session_id else {
        tracing::warn!(payment_id = %payment.id, "a captured payment without a session has no receipt");
        return Ok(None);
    };
    let Some(session) = src.sessions.get_session(session_id).await? else {
        tracing::warn!(payment_id = %payment.id, "the payment's session is missing");
        return Ok(None);
    };
    let Some(frozen) = &session.tariff else {
        tracing::warn!(payment_id = %payment.id, "the payment's session has no tariff");
        return Ok(None);
    };
    let Some(tariff) = src
        .tariffs
        .get_tariff_version(&frozen.tariff_id, frozen.version)
        .await?
    else {
        tracing::warn!(tariff_id = %frozen.tariff_id, version = frozen.version,
            "the session's tariff version is missing");
        return Ok(None);
    };
    let meter_values = src.sessions.session_meter_values(session.id).await?;
    let (from, to) = status_range(&session, &tariff, now);
    let statuses = src
        .chargers
        .connector_status_range(&session.charger_id, session.connector_id, from, to)
        .await?;
    let candidates = src
        .assignments
        .tariff_candidates(&session.charger_id, None)
        .await?;
    let time_zone = candidates
        .as_ref()
        .map_or(chrono_tz::UTC, |c| c.time_zone());
    let site = candidates.and_then(|c| c.site).map(site_info);
    let price = price_session_cost(&session, &meter_values, &statuses, &tariff, time_zone, now)?;
    let method = match &payment.card {
        Some(card) => PaymentMethod::Card(card.clone()),
        None => PaymentMethod::Account,
    };
    let receipt = Receipt::new(
        &session,
        &price.breakdown,
        ReceiptContext {
            number: ReceiptNumber::for_session(&session.id),
            operator,
            site: site.as_ref(),
            evse_id: None,
            time_zone,
            payment: method,
            language: Language::from_tag(&payment.language),
            meter_values: &meter_values,
            // The capture is the last change of a captured payment.
            issued_at: payment.updated_at,
        },
    )?;
    Ok(Some(receipt))
}

/// A site as a receipt prints it: its name and address lines.
pub fn site_info(site: Site) -> SiteInfo {
    let a = site.address;
    let city_line = [a.postal_code, a.city]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let address = [a.street, Some(city_line), a.state, a.country]
        .into_iter()
        .flatten()
        .filter(|line| !line.is_empty())
        .collect();
    SiteInfo {
        name: Some(site.name),
        address,
    }
}
