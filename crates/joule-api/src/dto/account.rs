//! Driver accounts on the wire: the account with its card summary (brand,
//! last 4, expiry: never a card number), linked tokens and debt.

use joule_domain::kernel::language::LanguageCode;
use joule_domain::kernel::money::Currency;
use joule_domain::kernel::page::Page;
use joule_domain::payments::account as domain;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// `POST /api/v1/accounts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Unique (case-insensitive).
    pub email: String,
    pub name: String,
    /// ISO 639-1, for the card page and receipts (default `en`).
    pub language: Option<String>,
    /// ISO 4217 (default `EUR`).
    pub currency: Option<String>,
}

/// `PATCH /api/v1/accounts/{id}`: fields left out are unchanged.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    pub email: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub currency: Option<String>,
}

fn language(errors: &mut QueryErrors, raw: Option<&str>) -> Option<LanguageCode> {
    errors.opt("language", raw, LanguageCode::parse)
}

fn currency(errors: &mut QueryErrors, raw: Option<&str>) -> Option<Currency> {
    errors.opt("currency", raw, |c| {
        Currency::parse(c).map_err(|e| e.to_string())
    })
}

impl CreateAccount {
    pub fn validate(self) -> Result<domain::NewAccount, ApiError> {
        let mut errors = QueryErrors::new();
        let email = errors.opt("email", Some(self.email.as_str()), domain::parse_email);
        let name = errors.opt("name", Some(self.name.as_str()), domain::parse_name);
        let language = language(&mut errors, self.language.as_deref());
        let currency = currency(&mut errors, self.currency.as_deref());
        errors.finish()?;
        let missing = || ApiError::Internal("validated field missing".into());
        Ok(domain::NewAccount {
            id: domain::AccountId::new_v7(),
            email: email.ok_or_else(missing)?,
            name: name.ok_or_else(missing)?,
            language: match language {
                Some(l) => l,
                None => LanguageCode::parse("en").map_err(|e| ApiError::Internal(e.to_string()))?,
            },
            currency: match currency {
                Some(c) => c,
                None => Currency::parse("EUR").map_err(|e| ApiError::Internal(e.to_string()))?,
            },
        })
    }
}

impl UpdateAccount {
    pub fn validate(self) -> Result<domain::AccountPatch, ApiError> {
        let mut errors = QueryErrors::new();
        let email = errors.opt("email", self.email.as_deref(), domain::parse_email);
        let name = errors.opt("name", self.name.as_deref(), domain::parse_name);
        let language = language(&mut errors, self.language.as_deref());
        let currency = currency(&mut errors, self.currency.as_deref());
        errors.finish()?;
        Ok(domain::AccountPatch {
            email,
            name,
            language,
            currency,
        })
    }
}

/// The saved card as the gateway describes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountCard {
    pub brand: String,
    pub last4: String,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
    /// `stripe`, `simulated`.
    pub gateway: String,
    pub saved_at: chrono::DateTime<chrono::Utc>,
}

/// One session's unpaid charge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Debt {
    pub session_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// `debt`, or `pending` while a settlement is in flight.
    pub status: String,
    /// The latest payment that tried to collect it.
    pub payment_id: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<domain::AccountCharge> for Debt {
    fn from(c: domain::AccountCharge) -> Self {
        Self {
            session_id: c.session_id.to_string(),
            amount_minor: c.amount_minor,
            currency: c.currency.code().to_owned(),
            status: c.status.as_str().to_owned(),
            payment_id: c.payment_id.map(|p| p.to_string()),
            since: c.debt_since,
        }
    }
}

/// What is owed in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DebtTotal {
    pub currency: String,
    pub amount_minor: i64,
}

/// A driver account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub name: String,
    pub language: String,
    pub currency: String,
    /// Absent until a card is saved.
    pub card: Option<AccountCard>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<domain::Account> for Account {
    fn from(a: domain::Account) -> Self {
        Self {
            id: a.id.to_string(),
            email: a.email,
            name: a.name,
            language: a.language.as_str().to_owned(),
            currency: a.currency.code().to_owned(),
            card: a.card.map(|c| AccountCard {
                brand: c.summary.brand,
                last4: c.summary.last4,
                exp_month: c.summary.exp_month,
                exp_year: c.summary.exp_year,
                gateway: c.gateway,
                saved_at: c.saved_at,
            }),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// An account with its linked tokens and what it owes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: Account,
    /// Linked id tags, sorted.
    pub id_tokens: Vec<String>,
    /// Open debts, oldest first.
    pub debts: Vec<Debt>,
    /// Totals of `debts` per currency; empty when nothing is owed.
    pub debt_total: Vec<DebtTotal>,
    /// Whether anything is owed (a declined charge not settled yet); with
    /// `[payments] block_accounts_in_debt` the account's tokens are
    /// refused until it is settled.
    pub in_debt: bool,
}

impl From<domain::AccountDetail> for AccountDetail {
    fn from(d: domain::AccountDetail) -> Self {
        let debt_total = d
            .debt_totals()
            .into_iter()
            .map(|(c, amount_minor)| DebtTotal {
                currency: c.code().to_owned(),
                amount_minor,
            })
            .collect::<Vec<_>>();
        Self {
            in_debt: !debt_total.is_empty(),
            debt_total,
            id_tokens: d.tokens.iter().map(|t| t.as_str().to_owned()).collect(),
            debts: d.debts.into_iter().map(Debt::from).collect(),
            account: d.account.into(),
        }
    }
}

/// `POST /api/v1/accounts/{id}/card-setup`: hand `page_url` to the driver
/// (or use `client_secret` with Stripe.js in your own app).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardSetup {
    pub account_id: String,
    /// `stripe`, `simulated`.
    pub gateway: String,
    /// The gateway's SetupIntent id.
    pub setup_id: String,
    /// For Stripe.js `confirmCardSetup`.
    pub client_secret: String,
    /// The Joule page where the driver saves the card.
    pub page_url: String,
}

/// Query of `GET /api/v1/accounts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl AccountQuery {
    pub fn parse(self) -> Result<Page, ApiError> {
        let mut errors = QueryErrors::new();
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok(page)
    }
}

/// `POST /accounts/card/{token}/simulated-card` (demo gateway only).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedSetupCard {
    /// A simulated test card: `sim_visa`, `sim_mastercard`, `sim_declined`, …
    pub card: String,
}
