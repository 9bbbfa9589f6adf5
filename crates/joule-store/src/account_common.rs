//! What both backends share for driver accounts: decoding rows into domain
//! types and the outbox events of account changes, so SQLite and
//! PostgreSQL emit the same payloads.

use chrono::{DateTime, Utc};
use joule_domain::account::{Account, AccountCharge, AccountId, ChargeStatus, StoredCard};
use joule_domain::card::CardSummary;
use joule_domain::event::{EventKind, NewEvent};
use joule_domain::ids::{IdTag, SessionId};
use joule_domain::language::LanguageCode;
use joule_domain::money::Currency;
use joule_domain::payment::PaymentId;
use serde_json::json;

use crate::common::{corrupt, parse_or_corrupt};
use crate::payment_common::R;

/// An `accounts` row with backend types already converted.
pub(crate) struct AccountRow {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    pub language: String,
    pub currency: String,
    pub customer_gateway: Option<String>,
    pub customer_ref: Option<String>,
    pub card_gateway: Option<String>,
    pub card_customer_ref: Option<String>,
    pub card_payment_method: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub card_exp_month: Option<i64>,
    pub card_exp_year: Option<i64>,
    pub card_saved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountRow {
    pub(crate) fn into_account(self) -> R<Account> {
        let card = match (
            self.card_gateway,
            self.card_customer_ref,
            self.card_payment_method,
            self.card_brand,
            self.card_last4,
            self.card_saved_at,
        ) {
            (Some(gateway), Some(customer_ref), Some(pm), Some(brand), Some(last4), Some(at)) => {
                Some(StoredCard {
                    gateway,
                    customer_ref,
                    payment_method_ref: pm,
                    summary: CardSummary::new(
                        brand,
                        last4,
                        self.card_exp_month.and_then(|m| u8::try_from(m).ok()),
                        self.card_exp_year.and_then(|y| u16::try_from(y).ok()),
                    )
                    .ok_or_else(|| corrupt("account card last4"))?,
                    saved_at: at,
                })
            }
            _ => None,
        };
        Ok(Account {
            id: self.id,
            email: self.email,
            name: self.name,
            language: LanguageCode::parse(&self.language).map_err(corrupt)?,
            currency: Currency::parse(&self.currency).map_err(corrupt)?,
            customer: self.customer_gateway.zip(self.customer_ref),
            card,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// An `account_charges` row with backend types already converted.
pub(crate) struct ChargeRow {
    pub session_id: SessionId,
    pub account_id: AccountId,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub payment_id: Option<PaymentId>,
    pub debt_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ChargeRow {
    pub(crate) fn into_charge(self) -> R<AccountCharge> {
        Ok(AccountCharge {
            session_id: self.session_id,
            account_id: self.account_id,
            amount_minor: self.amount_minor,
            currency: Currency::parse(&self.currency).map_err(corrupt)?,
            status: parse_or_corrupt(&self.status, "account charge status", ChargeStatus::parse)?,
            payment_id: self.payment_id,
            debt_since: self.debt_since,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The stored id tag of a token link.
pub(crate) fn id_tag(raw: &str) -> R<IdTag> {
    IdTag::parse(raw).map_err(corrupt)
}

/// No email, name or card reference in payloads: consumers (webhooks) get
/// the id and what changed, and read the rest through the API.
pub(crate) fn ev_account(kind: EventKind, a: &Account, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(kind, at).payload(json!({
        "account_id": a.id.to_string(),
        "has_card": a.card.is_some(),
    }))
}

pub(crate) fn ev_token(kind: EventKind, id: AccountId, tag: &IdTag, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(kind, at).payload(json!({
        "account_id": id.to_string(),
        "id_tag": tag.as_str(),
    }))
}

pub(crate) fn ev_charge(c: &AccountCharge, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::AccountChargeChanged, at)
        .session(c.session_id)
        .payload(json!({
            "account_id": c.account_id.to_string(),
            "session_id": c.session_id.to_string(),
            "amount_minor": c.amount_minor,
            "currency": c.currency.code(),
            "status": c.status.as_str(),
            "payment_id": c.payment_id.map(|p| p.to_string()),
            "debt": c.is_debt(),
        }))
}
