//! What both backends share for driver accounts: rows decoded into
//! domain types.

use crate::payments::R;
use crate::values::{corrupt, parse_or_corrupt};
use chrono::{DateTime, Utc};
use joule_domain::kernel::ids::{IdToken, SessionId};
use joule_domain::kernel::language::LanguageCode;
use joule_domain::kernel::money::Currency;
use joule_domain::payments::account::{
    Account, AccountCharge, AccountId, ChargeStatus, StoredCard,
};
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::payment::PaymentId;

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
pub(crate) fn id_tag(raw: &str) -> R<IdToken> {
    IdToken::parse(raw).map_err(corrupt)
}
