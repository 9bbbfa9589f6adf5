//! Wire types of payments: the public pay routes (docs/payments.md, "Web
//! payment flow") and the operator's `/api/v1/payments`.

use chrono::{DateTime, Utc};
use joule_domain::kernel::money::Decimal;
use joule_domain::payments::payment as domain;
use joule_domain::services::payments::{PaymentStatusView, WebPaymentCreated};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;
use joule_domain::kernel::page::Page;

/// `POST /pay/{chargerId}/{connectorId}/payments`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebPayment {
    /// The driver's language (ISO 639-1: en, es, fr, de); else the site's.
    pub language: Option<String>,
    /// Where to email the receipt once the payment is captured (optional;
    /// sent once, then erased).
    pub email: Option<String>,
}

/// A web payment waiting for the card.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebPayment {
    /// The payment's public handle (32 hex digits); never the payment id.
    pub token: String,
    /// `awaiting_card`.
    pub state: String,
    /// `stripe` or `simulated`.
    pub gateway: String,
    /// For Stripe.js `confirmCardPayment` (or the simulated card route).
    pub client_secret: String,
    pub publishable_key: Option<String>,
    /// Stripe: the client secret of the card entry (a SetupIntent) for
    /// Stripe.js `confirmCardSetup` with the card Element; the hold is then
    /// confirmed by Joule (`confirm` with `card_entry`). Absent for the
    /// simulated gateway.
    pub card_entry_client_secret: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    /// The hold as a decimal string, e.g. `"50.00"`.
    pub amount: String,
    pub status_url: String,
    pub receipt_url: String,
}

impl WebPayment {
    pub fn new(created: WebPaymentCreated, status_url: String, receipt_url: String) -> Self {
        let hold = created.hold_minor;
        let p = created.payment;
        Self {
            token: p.receipt_token.as_str().to_owned(),
            state: "awaiting_card".to_owned(),
            gateway: p.gateway.clone(),
            client_secret: created.client_secret,
            publishable_key: created.publishable_key,
            card_entry_client_secret: created.card_entry_client_secret,
            amount_minor: hold,
            currency: p.currency.code().to_owned(),
            amount: joule_domain::kernel::money::Money::from_minor(hold, p.currency)
                .to_decimal()
                .to_string(),
            status_url,
            receipt_url,
        }
    }
}

/// `POST /pay/payments/{token}/confirm` (an empty body is accepted).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmWebPayment {
    /// The card entry the browser confirmed (Stripe: the SetupIntent id
    /// from `confirmCardSetup`): Joule attaches its card to the hold and
    /// confirms the hold. Never card data.
    pub card_entry: Option<String>,
}

/// `POST /pay/payments/{token}/simulated-card`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedCard {
    /// A simulated test card: `sim_visa`, `sim_mastercard`, `sim_declined`,
    /// `sim_insufficient_funds`, `sim_3ds`.
    pub card: String,
}

/// A running or final cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayCost {
    /// Decimal string.
    pub excl_vat: String,
    /// Decimal string.
    pub incl_vat: String,
    pub minor_incl_vat: i64,
}

/// A card as the gateway describes it: brand and last 4 digits only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Card {
    pub brand: String,
    pub last4: String,
}

/// What the pay page polls.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentStatus {
    pub token: String,
    /// `awaiting_card`, `authorized`, `starting`, `charging`, `finished`,
    /// `captured`, `voided`, `failed`.
    pub state: String,
    pub charger_id: String,
    pub connector_id: u32,
    pub currency: String,
    pub hold_minor: i64,
    /// Decimal string, kWh with 3 decimals.
    pub energy_kwh: Option<String>,
    pub cost: Option<PayCost>,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub card: Option<Card>,
    pub receipt_url: Option<String>,
    /// Why the payment failed or was voided, in the payment's language.
    pub message: Option<String>,
}

fn dec(d: Decimal) -> String {
    d.to_string()
}

impl From<PaymentStatusView> for PaymentStatus {
    fn from(v: PaymentStatusView) -> Self {
        let p = &v.payment;
        Self {
            token: p.receipt_token.as_str().to_owned(),
            state: v.state.as_str().to_owned(),
            charger_id: p.charger_id.to_string(),
            connector_id: p.connector_id.get(),
            currency: p.currency.code().to_owned(),
            hold_minor: v.hold_minor,
            energy_kwh: v.energy_kwh.map(dec),
            cost: v.cost.map(|c| PayCost {
                excl_vat: dec(c.excl_vat),
                incl_vat: dec(c.incl_vat),
                minor_incl_vat: c.minor_incl_vat,
            }),
            is_final: v.is_final,
            card: v.card.map(|c| Card {
                brand: c.brand,
                last4: c.last4,
            }),
            receipt_url: v.receipt_url,
            message: v.message,
        }
    }
}

/// A payment as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    /// `web`, `terminal`, `account`.
    pub channel: String,
    pub gateway: String,
    pub gateway_payment_ref: Option<String>,
    /// `created`, `authorized`, `captured`, `voided`, `failed`.
    pub state: String,
    /// `none`, `partial`, `full`.
    pub refund_state: String,
    pub currency: String,
    pub authorized_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub card: Option<Card>,
    pub charger_id: String,
    pub connector_id: u32,
    pub session_id: Option<String>,
    /// The id tag of a web payment's remote start.
    pub id_tag: Option<String>,
    /// The driver account charged (channel `account`).
    pub account_id: Option<String>,
    /// The terminal that reported a `terminal` payment (docs/terminals.md).
    pub terminal_id: Option<String>,
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<domain::Payment> for Payment {
    fn from(p: domain::Payment) -> Self {
        Self {
            id: p.id.to_string(),
            channel: p.channel.as_str().to_owned(),
            gateway: p.gateway.clone(),
            gateway_payment_ref: p.gateway_payment_ref.clone(),
            state: p.state.as_str().to_owned(),
            refund_state: match p.refund_state() {
                domain::RefundState::None => "none",
                domain::RefundState::Partial => "partial",
                domain::RefundState::Full => "full",
            }
            .to_owned(),
            currency: p.currency.code().to_owned(),
            authorized_minor: p.authorized_minor,
            captured_minor: p.captured_minor,
            refunded_minor: p.refunded_minor,
            card: p.card.map(|c| Card {
                brand: c.brand,
                last4: c.last4,
            }),
            charger_id: p.charger_id.to_string(),
            connector_id: p.connector_id.get(),
            session_id: p.session_id.map(|s| s.to_string()),
            id_tag: p.id_tag.map(|t| t.as_str().to_owned()),
            account_id: p.account_id,
            terminal_id: p.terminal_id,
            language: p.language,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// One gateway call of a payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentStep {
    pub seq: u32,
    /// `authorize`, `increment_authorization`, `capture`, `void`, `refund`,
    /// `charge_off_session`.
    pub kind: String,
    pub amount_minor: i64,
    /// `intended`, `succeeded`, `failed`.
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub gateway_ref: Option<String>,
    pub idempotency_key: String,
    pub intended_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<domain::PaymentStep> for PaymentStep {
    fn from(s: domain::PaymentStep) -> Self {
        let (status, failure_code, failure_message) = match s.status {
            domain::StepStatus::Intended => ("intended", None, None),
            domain::StepStatus::Succeeded => ("succeeded", None, None),
            domain::StepStatus::Failed { code, message } => ("failed", Some(code), Some(message)),
        };
        Self {
            seq: s.seq,
            kind: s.kind.as_str().to_owned(),
            amount_minor: s.amount_minor,
            status: status.to_owned(),
            failure_code,
            failure_message,
            gateway_ref: s.gateway_ref,
            idempotency_key: s.idempotency_key.as_str().to_owned(),
            intended_at: s.intended_at,
            finished_at: s.finished_at,
        }
    }
}

/// A payment with the history of its gateway steps, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentDetail {
    #[serde(flatten)]
    pub payment: Payment,
    pub steps: Vec<PaymentStep>,
    /// Set when Joule could not bring the payment to its end by itself
    /// (a capture the gateway refused, a cost it cannot compute): an
    /// operator must look at it (docs/payments.md, "Flagged for an
    /// operator").
    pub flag: Option<PaymentFlag>,
}

/// Why a payment needs an operator.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentFlag {
    /// `capture_failed` or `cost_unavailable`.
    pub reason: String,
    /// What happened (the gateway's code and message).
    pub detail: String,
    pub flagged_at: DateTime<Utc>,
}

impl From<domain::PaymentDetail> for PaymentDetail {
    fn from(d: domain::PaymentDetail) -> Self {
        Self {
            payment: d.payment.into(),
            steps: d.steps.into_iter().map(PaymentStep::from).collect(),
            flag: d.flag.map(|f| PaymentFlag {
                reason: f.reason,
                detail: f.detail,
                flagged_at: f.flagged_at,
            }),
        }
    }
}

/// `POST /api/v1/payments/{id}/refund`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units; default: everything still refundable.
    pub amount_minor: Option<i64>,
}

/// Filters of `GET /api/v1/payments`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// `created`, `authorized`, `captured`, `voided`, `failed`.
    pub state: Option<String>,
    /// `web`, `terminal`, `account`.
    pub channel: Option<String>,
    pub charger_id: Option<String>,
    pub session_id: Option<String>,
    /// `true`: only payments flagged for an operator (`flag`); `false`:
    /// only the others.
    #[param(value_type = Option<bool>)]
    pub flagged: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl PaymentQuery {
    pub fn parse(self) -> Result<(domain::PaymentFilter, Page), ApiError> {
        let mut errors = QueryErrors::new();
        let state = errors.opt("state", self.state.as_deref(), |raw| {
            domain::PaymentState::parse(raw)
                .ok_or("must be created, authorized, captured, voided or failed")
        });
        let channel = errors.opt("channel", self.channel.as_deref(), |raw| {
            domain::PaymentChannel::parse(raw).ok_or("must be web, terminal or account")
        });
        let charger_id = errors.charger_id("charger_id", self.charger_id.as_deref());
        let session_id = errors.opt("session_id", self.session_id.as_deref(), |raw| {
            joule_domain::SessionId::parse(raw).map_err(|e| e.to_string())
        });
        let flagged = errors.opt("flagged", self.flagged.as_deref(), |raw| match raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("must be true or false"),
        });
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok((
            domain::PaymentFilter {
                state,
                channel,
                charger_id,
                session_id,
                flagged,
            },
            page,
        ))
    }
}
