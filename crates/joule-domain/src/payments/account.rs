//! Driver accounts (issue 4, point 4): a driver with a card saved at the
//! gateway and linked id tokens (RFID cards, app tokens); each session
//! started with a linked token is charged off-session after it ends. A
//! declined charge becomes debt; an account in debt may be refused at the
//! charger (docs/payments.md, "Accounts").
//!
//! PCI DSS: an account holds gateway references and the card's brand, last
//! 4 and expiry ([`CardSummary`]), never a card number.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::charging::auth::{AuthorizationReason, AuthorizationStatus};
use crate::kernel::ids::{IdError, IdToken, SessionId};
use crate::kernel::language::LanguageCode;
use crate::kernel::money::Currency;
use crate::payments::card::CardSummary;
use crate::payments::gateway::ClientSecret;
use crate::payments::payment::PaymentId;

/// Joule's identifier of a driver account (UUIDv7). Also the subject of the
/// idempotency key of the account's customer record at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(Uuid);

impl AccountId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| IdError::NotUuid { what: "account id" })
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why account input is refused (a 422 in the API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountInputError {
    #[error("email must be an address like name@example.com (at most 254 characters)")]
    Email,
    #[error("name must be 1 to 200 characters without control characters")]
    Name,
}

/// An email address as far as Joule needs one: something@something, no
/// spaces or control characters, at most 254 characters (RFC 5321). Stored
/// as given; compared case-insensitively for uniqueness.
pub fn parse_email(raw: &str) -> Result<String, AccountInputError> {
    let s = raw.trim();
    let ok = s.len() <= 254
        && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(AccountInputError::Email)
    }
}

/// A display name: trimmed, 1 to 200 characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String, AccountInputError> {
    let s = raw.trim();
    let n = s.chars().count();
    if (1..=200).contains(&n) && !s.chars().any(char::is_control) {
        Ok(s.to_owned())
    } else {
        Err(AccountInputError::Name)
    }
}

/// The card an account is charged with: where it is saved and what the
/// driver may be shown of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCard {
    /// The gateway holding the card (`stripe`, `simulated`).
    pub gateway: String,
    /// The gateway's customer (`cus_…`) the card belongs to.
    pub customer_ref: String,
    /// The saved card (`pm_…`), charged off-session.
    pub payment_method_ref: String,
    pub summary: CardSummary,
    pub saved_at: DateTime<Utc>,
}

/// A driver account as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    /// For pages and receipts (ISO 639-1).
    pub language: LanguageCode,
    /// The currency the driver is billed in; a session priced in another
    /// currency is still charged in the tariff's currency.
    pub currency: Currency,
    /// The gateway customer created at the first card setup: `(gateway,
    /// customer ref)`. Kept when the card is replaced.
    pub customer: Option<(String, String)>,
    pub card: Option<StoredCard>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An account to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    pub language: LanguageCode,
    pub currency: Currency,
}

/// A partial update; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub language: Option<LanguageCode>,
    pub currency: Option<Currency>,
}

/// Where the charge of one session to an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// A payment is being charged (or its outcome is unknown: a gateway
    /// outage; the recovery worker finishes it). Not debt by itself.
    Pending,
    /// Paid, or nothing was owed.
    Paid,
    /// The card was declined: the amount is owed until settled.
    Debt,
}

impl ChargeStatus {
    pub const ALL: [ChargeStatus; 3] = [Self::Pending, Self::Paid, Self::Debt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Debt => "debt",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One session charged to an account: the ledger line that says what was
/// owed and how it was paid. One per session, so a session is never
/// charged twice however many workers look at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountCharge {
    pub session_id: SessionId,
    pub account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: ChargeStatus,
    /// The payment of the latest attempt (the session's own charge, then
    /// each debt settlement); `None` when nothing was owed.
    pub payment_id: Option<PaymentId>,
    /// When the charge was first declined; kept after the debt is settled,
    /// so a paid line with it is a settled debt.
    pub debt_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountCharge {
    /// Still owed: declined and not paid since, including while a
    /// settlement attempt is in flight.
    pub fn is_debt(&self) -> bool {
        match self.status {
            ChargeStatus::Debt => true,
            ChargeStatus::Pending => self.debt_since.is_some(),
            ChargeStatus::Paid => false,
        }
    }
}

/// A session's charge to record, with the payment that charges it (none
/// when nothing is owed).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccountCharge {
    pub session_id: SessionId,
    pub account_id: AccountId,
    pub amount_minor: i64,
    pub currency: Currency,
    pub created_at: DateTime<Utc>,
}

/// What the charger-side check needs to know of the account behind a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AccountStanding {
    pub account_id: AccountId,
    pub has_card: bool,
    pub in_debt: bool,
}

/// An account with its linked tokens and open debts, for the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountDetail {
    pub account: Account,
    /// Sorted.
    pub tokens: Vec<IdToken>,
    /// Open debts, oldest first.
    pub debts: Vec<AccountCharge>,
}

impl AccountDetail {
    /// The total owed, per currency of the debts (normally one).
    pub fn debt_totals(&self) -> Vec<(Currency, i64)> {
        let mut out: Vec<(Currency, i64)> = Vec::new();
        for d in self.debts.iter().filter(|d| d.is_debt()) {
            match out.iter_mut().find(|(c, _)| *c == d.currency) {
                Some((_, total)) => *total = total.saturating_add(d.amount_minor),
                None => out.push((d.currency, d.amount_minor)),
            }
        }
        out
    }
}

/// A card-saving request handed to a driver: the gateway's SetupIntent and
/// the unguessable token of its page (`/accounts/card/{token}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSetup {
    /// 128 random bits as hex, like a receipt token: whoever holds the link
    /// may save a card on this account, nothing else.
    pub token: String,
    pub account_id: AccountId,
    pub gateway: String,
    pub setup_ref: String,
    /// For the page's Stripe.js; kept out of logs by its `Debug`.
    pub client_secret: ClientSecret,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// How strict the charger-side check is (`[payments]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRules {
    /// `block_accounts_in_debt`: refuse an account with an unpaid declined
    /// charge until it is settled.
    pub block_in_debt: bool,
    /// `account_requires_card`: refuse an account that has no saved card
    /// (its sessions could not be charged).
    pub require_card: bool,
}

impl Default for AccountRules {
    fn default() -> Self {
        Self {
            block_in_debt: true,
            require_card: true,
        }
    }
}

/// The refusal an account's standing calls for, if any. Both refusals are
/// `Blocked` (OCPP 1.6 "not allowed for charging"): the token is fine, the
/// account is not. A gateway outage never appears here: a charge whose
/// outcome is unknown is not debt.
pub fn account_refusal(
    standing: &AccountStanding,
    rules: AccountRules,
) -> Option<(AuthorizationStatus, AuthorizationReason)> {
    if rules.block_in_debt && standing.in_debt {
        return Some((
            AuthorizationStatus::Blocked,
            AuthorizationReason::AccountInDebt,
        ));
    }
    if rules.require_card && !standing.has_card {
        return Some((
            AuthorizationStatus::Blocked,
            AuthorizationReason::AccountWithoutCard,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(has_card: bool, in_debt: bool) -> AccountStanding {
        AccountStanding {
            account_id: AccountId::new_v7(),
            has_card,
            in_debt,
        }
    }

    #[test]
    fn debt_blocks_before_a_missing_card_and_both_are_configurable() {
        let strict = AccountRules::default();
        assert_eq!(account_refusal(&standing(true, false), strict), None);
        assert_eq!(
            account_refusal(&standing(false, true), strict),
            Some((
                AuthorizationStatus::Blocked,
                AuthorizationReason::AccountInDebt
            ))
        );
        assert_eq!(
            account_refusal(&standing(false, false), strict),
            Some((
                AuthorizationStatus::Blocked,
                AuthorizationReason::AccountWithoutCard
            ))
        );
        let lenient = AccountRules {
            block_in_debt: false,
            require_card: false,
        };
        assert_eq!(account_refusal(&standing(false, true), lenient), None);
    }

    #[test]
    fn a_pending_charge_is_debt_only_after_a_decline() {
        let mut c = AccountCharge {
            session_id: SessionId::new_v7(),
            account_id: AccountId::new_v7(),
            amount_minor: 500,
            currency: Currency::parse("EUR").unwrap(),
            status: ChargeStatus::Pending,
            payment_id: None,
            debt_since: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert!(!c.is_debt(), "an outage is not debt");
        c.status = ChargeStatus::Debt;
        c.debt_since = Some(Utc::now());
        assert!(c.is_debt());
        c.status = ChargeStatus::Pending;
        assert!(c.is_debt(), "settling in flight is still owed");
        c.status = ChargeStatus::Paid;
        assert!(!c.is_debt());
        for s in ChargeStatus::ALL {
            assert_eq!(ChargeStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn emails_and_names_are_checked() {
        assert_eq!(
            parse_email(" ana@example.com ").as_deref(),
            Ok("ana@example.com")
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "a b@example.com",
            "ana@localhost",
            "a@b@c.d",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert!(parse_email(&format!("{}@example.com", "a".repeat(250))).is_err());
        assert_eq!(parse_name(" Ana ").as_deref(), Ok("Ana"));
        assert!(parse_name("  ").is_err());
        assert!(parse_name("a\nb").is_err());
        assert!(parse_name(&"x".repeat(201)).is_err());
    }
}
