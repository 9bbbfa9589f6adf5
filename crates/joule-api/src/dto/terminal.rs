//! Payment terminals: the operator's `/api/v1/terminals` and the terminal's
//! own `/api/v1/terminal/…` (docs/terminals.md).

use chrono::{DateTime, Utc};
use joule_domain::charging::site::SiteId;
use joule_domain::kernel::money::{Currency, Money};
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::gateway::IntentRef;
use joule_domain::payments::terminal::{self as domain, TerminalScope, TerminalTarget};
use joule_domain::services::payments::PaymentStatusView;
use joule_domain::{ChargerId, ConnectorId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::double_option;
use super::payment::{Card, PayCost};
use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// What a terminal may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every connector of every charger at the terminal's site.
    Site,
    /// The chargers and connectors in `chargers`.
    Chargers,
}

/// A charger (every connector) or one connector of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub charger_id: String,
    /// Absent or `null`: every connector of the charger.
    pub connector_id: Option<u32>,
}

/// A payment terminal as the operator sees it (never its key).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Terminal {
    pub id: String,
    pub name: String,
    pub site_id: Option<String>,
    pub scope: Scope,
    /// The chargers it may start when `scope` is `chargers`; empty for `site`.
    pub chargers: Vec<Target>,
    /// The gateway its holds are placed at: `stripe` or `simulated`.
    pub gateway: String,
    pub enabled: bool,
    /// The public part of its current key; `null` until one is issued.
    pub key_prefix: Option<String>,
    pub key_issued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<domain::Terminal> for Terminal {
    fn from(t: domain::Terminal) -> Self {
        let (scope, chargers) = match t.scope {
            TerminalScope::Site => (Scope::Site, Vec::new()),
            TerminalScope::Chargers { targets } => (
                Scope::Chargers,
                targets
                    .into_iter()
                    .map(|t| Target {
                        charger_id: t.charger_id.to_string(),
                        connector_id: t.connector_id.map(ConnectorId::get),
                    })
                    .collect(),
            ),
        };
        Self {
            id: t.id.to_string(),
            name: t.name,
            site_id: t.site_id.map(|s| s.to_string()),
            scope,
            chargers,
            gateway: t.gateway,
            enabled: t.enabled,
            key_prefix: t.key.as_ref().map(|k| k.prefix.clone()),
            key_issued_at: t.key.as_ref().map(|k| k.issued_at),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `POST /api/v1/terminals`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTerminal {
    /// 1 to 100 characters, e.g. `Car park entrance`.
    pub name: String,
    /// The site it stands at; required with `scope: site`.
    pub site_id: Option<String>,
    pub scope: Scope,
    /// With `scope: chargers`: what it may start (at most 500 entries).
    #[serde(default)]
    pub chargers: Vec<Target>,
    /// Default: the configured gateway.
    pub gateway: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// `PATCH /api/v1/terminals/{id}`: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTerminal {
    pub name: Option<String>,
    /// A site id, or `null` to take the terminal off its site.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub site_id: Option<Option<String>>,
    pub scope: Option<Scope>,
    /// Replaces the list; give it with `scope: chargers`.
    pub chargers: Option<Vec<Target>>,
    pub gateway: Option<String>,
    /// `false` refuses new payments from this terminal (its key keeps
    /// reading its payments).
    pub enabled: Option<bool>,
}

fn parse_targets(errors: &mut QueryErrors, raw: &[Target]) -> Vec<TerminalTarget> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let charger = errors.opt(
            &format!("chargers[{i}].charger_id"),
            Some(&t.charger_id),
            ChargerId::parse,
        );
        let connector = match t.connector_id {
            None => Some(None),
            Some(n) => errors
                .opt(
                    &format!("chargers[{i}].connector_id"),
                    Some(&n.to_string()),
                    |_| {
                        ConnectorId::new(n)
                            .ok()
                            .filter(|c| !c.is_whole_charger())
                            .ok_or(format!(
                                "must be an integer between 1 and {}",
                                ConnectorId::MAX
                            ))
                    },
                )
                .map(Some),
        };
        if let (Some(charger_id), Some(connector_id)) = (charger, connector) {
            out.push(TerminalTarget {
                charger_id,
                connector_id,
            });
        }
    }
    out
}

fn scope_of(errors: &mut QueryErrors, scope: Scope, chargers: &[Target]) -> Option<TerminalScope> {
    match scope {
        Scope::Site if !chargers.is_empty() => {
            errors.push("chargers", "must be empty with scope site");
            None
        }
        Scope::Site => Some(TerminalScope::Site),
        Scope::Chargers => Some(TerminalScope::Chargers {
            targets: parse_targets(errors, chargers),
        }),
    }
}

/// The field a domain refusal is about.
pub fn terminal_error(e: &domain::TerminalError) -> ApiError {
    let field = match e {
        domain::TerminalError::Name => "name",
        domain::TerminalError::SiteScopeWithoutSite => "site_id",
        domain::TerminalError::NoTargets
        | domain::TerminalError::TooManyTargets
        | domain::TerminalError::DuplicateTarget(_) => "chargers",
        domain::TerminalError::Gateway => "gateway",
    };
    ApiError::field(field, e.to_string())
}

impl CreateTerminal {
    pub fn validate(self, default_gateway: Option<&str>) -> Result<domain::NewTerminal, ApiError> {
        let mut errors = QueryErrors::new();
        let site_id = errors.opt("site_id", self.site_id.as_deref(), SiteId::parse);
        let scope = scope_of(&mut errors, self.scope, &self.chargers);
        let gateway = match self.gateway.or(default_gateway.map(str::to_owned)) {
            Some(g) => Some(g),
            None => {
                errors.push("gateway", "is required: no payment gateway is configured");
                None
            }
        };
        errors.finish()?;
        let (Some(scope), Some(gateway)) = (scope, gateway) else {
            return Err(ApiError::Internal(
                "validated terminal without fields".into(),
            ));
        };
        domain::NewTerminal {
            id: domain::TerminalId::new_v7(),
            name: self.name.trim().to_owned(),
            site_id,
            scope,
            gateway,
            enabled: self.enabled.unwrap_or(true),
        }
        .checked()
        .map_err(|e| terminal_error(&e))
    }
}

impl UpdateTerminal {
    pub fn validate(self) -> Result<domain::TerminalPatch, ApiError> {
        let mut errors = QueryErrors::new();
        let site_id = match self.site_id {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => errors.opt("site_id", Some(&raw), SiteId::parse).map(Some),
        };
        let scope = match (self.scope, &self.chargers) {
            (Some(scope), chargers) => {
                scope_of(&mut errors, scope, chargers.as_deref().unwrap_or_default())
            }
            (None, Some(_)) => {
                errors.push("scope", "give scope chargers with a new list of chargers");
                None
            }
            (None, None) => None,
        };
        errors.finish()?;
        Ok(domain::TerminalPatch {
            name: self.name.map(|n| n.trim().to_owned()),
            site_id,
            scope,
            gateway: self.gateway,
            enabled: self.enabled,
        })
    }
}

/// A terminal's new key: shown once, never stored in clear.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TerminalKeyIssued {
    pub terminal_id: String,
    /// `jt_<prefix>_<secret>`: give it to the terminal (its vendor's cloud)
    /// now; Joule cannot show it again. The previous key stopped working.
    pub key: String,
    pub key_prefix: String,
    pub issued_at: DateTime<Utc>,
}

/// Paging of the terminal list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TerminalQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Items to skip.
    pub offset: Option<String>,
}

impl TerminalQuery {
    pub fn parse(self) -> Result<joule_domain::kernel::page::Page, ApiError> {
        let mut errors = QueryErrors::new();
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok(page)
    }
}

/// The card as the terminal read it: brand, last 4 digits and expiry only.
/// A card number is refused (`last4` must be exactly 4 digits).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedCard {
    /// e.g. `visa`, `mastercard`.
    pub brand: String,
    pub last4: String,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
}

/// `POST /api/v1/terminal/payments`: a hold the terminal placed, and the
/// connector the driver chose on it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportTerminalPayment {
    /// The gateway's reference of the manual-capture hold (a Stripe
    /// PaymentIntent `pi_…` in `requires_capture`).
    pub gateway_payment_ref: String,
    /// The amount held, in minor units.
    pub amount_minor: i64,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    pub card: ReportedCard,
    pub charger_id: String,
    pub connector_id: u32,
    /// The driver's language (en, es, fr, de) for the status and receipt.
    pub language: Option<String>,
}

impl ReportTerminalPayment {
    pub fn validate(&self) -> Result<joule_domain::services::payments::TerminalReport, ApiError> {
        let mut errors = QueryErrors::new();
        let intent = errors.opt(
            "gateway_payment_ref",
            Some(&self.gateway_payment_ref),
            |r| IntentRef::parse(r),
        );
        let currency = errors.opt("currency", Some(&self.currency), Currency::parse);
        if self.amount_minor <= 0 {
            errors.push("amount_minor", "must be a positive number of minor units");
        }
        let card = errors.opt("card.last4", Some(&self.card.last4), |last4| {
            if self.card.brand.trim().is_empty() || self.card.brand.len() > 32 {
                return Err("give the card brand (at most 32 characters) with last4");
            }
            CardSummary::new(
                self.card.brand.trim(),
                last4,
                self.card.exp_month,
                self.card.exp_year,
            )
            .ok_or("must be exactly the last 4 digits of the card")
        });
        let charger = errors.charger_id("charger_id", Some(&self.charger_id));
        let connector = errors.opt("connector_id", Some(&self.connector_id.to_string()), |_| {
            ConnectorId::new(self.connector_id)
                .ok()
                .filter(|c| !c.is_whole_charger())
                .ok_or(format!(
                    "must be an integer between 1 and {}",
                    ConnectorId::MAX
                ))
        });
        errors.finish()?;
        match (intent, currency, card, charger, connector) {
            (Some(intent), Some(currency), Some(card), Some(charger_id), Some(connector_id)) => {
                Ok(joule_domain::services::payments::TerminalReport {
                    intent,
                    amount: Money::from_minor(self.amount_minor, currency),
                    card,
                    charger_id,
                    connector_id,
                    language: self.language.clone(),
                })
            }
            _ => Err(ApiError::Internal("validated report without fields".into())),
        }
    }
}

/// A terminal payment as its terminal sees it: enough to show the driver
/// where charging stands and print the receipt link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TerminalPayment {
    pub payment_id: String,
    /// `starting` (charger asked), `charging`, `finished` (capture pending),
    /// `captured`, `voided` (charging never started or nothing owed),
    /// `failed`.
    pub state: String,
    pub charger_id: String,
    pub connector_id: u32,
    pub gateway: String,
    pub gateway_payment_ref: Option<String>,
    pub currency: String,
    /// The hold.
    pub authorized_minor: i64,
    pub captured_minor: i64,
    pub card: Option<Card>,
    pub session_id: Option<String>,
    /// Decimal string, kWh with 3 decimals.
    pub energy_kwh: Option<String>,
    /// Running, then final cost.
    pub cost: Option<PayCost>,
    #[serde(rename = "final")]
    pub is_final: bool,
    /// The driver's receipt (HTML; append `.pdf` for the PDF) once
    /// captured: print it or show it as a QR code.
    pub receipt_url: Option<String>,
    /// Public JSON status of the payment, for the driver's phone.
    pub status_url: String,
    /// Why it failed or was voided, in the payment's language.
    pub message: Option<String>,
}

impl From<PaymentStatusView> for TerminalPayment {
    fn from(v: PaymentStatusView) -> Self {
        let p = &v.payment;
        Self {
            payment_id: p.id.to_string(),
            state: v.state.as_str().to_owned(),
            charger_id: p.charger_id.to_string(),
            connector_id: p.connector_id.get(),
            gateway: p.gateway.clone(),
            gateway_payment_ref: p.gateway_payment_ref.clone(),
            currency: p.currency.code().to_owned(),
            authorized_minor: p.authorized_minor,
            captured_minor: p.captured_minor,
            card: v.card.map(|c| Card {
                brand: c.brand,
                last4: c.last4,
            }),
            session_id: p.session_id.map(|s| s.to_string()),
            energy_kwh: v.energy_kwh.map(|d| d.to_string()),
            cost: v.cost.map(|c| PayCost {
                excl_vat: c.excl_vat.to_string(),
                incl_vat: c.incl_vat.to_string(),
                minor_incl_vat: c.minor_incl_vat,
            }),
            is_final: v.is_final,
            receipt_url: v.receipt_url,
            status_url: v.status_url,
            message: v.message,
        }
    }
}
