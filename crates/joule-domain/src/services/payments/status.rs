//! What the pay page shows about one payment, in the driver's terms.

use rust_decimal::Decimal;

use crate::charging::session::SessionState;
use crate::kernel::language::Language;
use crate::payments::card::CardSummary;
use crate::payments::payment::{Payment, PaymentState, ReceiptToken};

use super::{PaymentError, PaymentService};

/// Where a web payment stands for the driver (docs/payments.md, "Web
/// payment flow").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebState {
    AwaitingCard,
    /// The hold is placed; nothing asked of the charger yet.
    Authorized,
    /// The charger was asked to start; no session yet.
    Starting,
    Charging,
    /// The session ended; the capture is pending.
    Finished,
    Captured,
    Voided,
    Failed,
}

impl WebState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingCard => "awaiting_card",
            Self::Authorized => "authorized",
            Self::Starting => "starting",
            Self::Charging => "charging",
            Self::Finished => "finished",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Failed => "failed",
        }
    }
}

/// A running or final cost.
#[derive(Debug, Clone, PartialEq)]
pub struct CostView {
    pub excl_vat: Decimal,
    pub incl_vat: Decimal,
    pub minor_incl_vat: i64,
}

/// The status of a web payment, as the pay page polls it.
#[derive(Debug, Clone)]
pub struct PaymentStatusView {
    pub payment: Payment,
    pub state: WebState,
    /// The hold placed (or, before the card, asked for), minor units.
    pub hold_minor: i64,
    pub energy_kwh: Option<Decimal>,
    pub cost: Option<CostView>,
    pub is_final: bool,
    pub card: Option<CardSummary>,
    pub receipt_url: Option<String>,
    pub status_url: String,
    pub message: Option<String>,
}

impl PaymentService {
    /// The public link of a payment's receipt.
    pub fn receipt_url(&self, token: &ReceiptToken) -> String {
        format!(
            "{}/receipts/{}",
            self.settings.public_base_url,
            token.as_str()
        )
    }

    /// The public link of a payment's status JSON.
    pub fn status_url(&self, token: &ReceiptToken) -> String {
        format!(
            "{}/pay/payments/{}/status",
            self.settings.public_base_url,
            token.as_str()
        )
    }

    pub async fn status(&self, token: &ReceiptToken) -> Result<PaymentStatusView, PaymentError> {
        let payment = self.by_token(token).await?;
        let hold_minor = if payment.authorized_minor > 0 {
            payment.authorized_minor
        } else {
            self.ports
                .payments
                .get_payment(payment.id)
                .await?
                .and_then(|d| {
                    d.steps
                        .iter()
                        .find(|s| s.kind == crate::payments::payment::StepKind::Authorize)
                        .map(|s| s.amount_minor)
                })
                .unwrap_or(0)
        };
        let session = match payment.session_id {
            Some(id) => self.ports.sessions.get_session(id).await?,
            None => None,
        };
        let cost = match &session {
            Some(s) => {
                crate::services::session_cost::session_cost_now(
                    self.ports.tariffs.as_ref(),
                    self.ports.chargers.as_ref(),
                    self.ports.assignments.as_ref(),
                    s,
                    &self.ports.sessions.session_meter_values(s.id).await?,
                    self.now(),
                )
                .await?
            }
            None => None,
        };
        let state = match payment.state {
            PaymentState::Created => WebState::AwaitingCard,
            PaymentState::Failed => WebState::Failed,
            PaymentState::Voided => WebState::Voided,
            PaymentState::Captured => WebState::Captured,
            PaymentState::Authorized => match &session {
                None => WebState::Starting,
                Some(s) if s.state == SessionState::Active => WebState::Charging,
                Some(_) => WebState::Finished,
            },
        };
        let language = Language::from_tag(&payment.language);
        let message = match state {
            WebState::Failed => Some(declined_text(language)),
            WebState::Voided if session.is_none() => Some(not_started_text(language)),
            WebState::Voided => Some(nothing_owed_text(language)),
            _ => None,
        }
        .map(str::to_owned);
        let energy_kwh = session.as_ref().map(|s| {
            // Always 3 decimals (Wh resolution), `10.000` not `10`.
            let mut kwh = Decimal::new(s.energy_wh(), 3);
            kwh.rescale(3);
            kwh
        });
        let is_final = matches!(
            state,
            WebState::Captured | WebState::Voided | WebState::Failed
        ) || cost.as_ref().is_some_and(|c| c.is_final);
        let cost = cost.map(|c| {
            let total = c.price.breakdown.total_cost;
            CostView {
                excl_vat: total.excl_vat.to_decimal(),
                incl_vat: total.incl_vat.to_decimal(),
                minor_incl_vat: total.incl_vat.minor(),
            }
        });
        Ok(PaymentStatusView {
            state,
            hold_minor,
            energy_kwh,
            cost,
            is_final,
            card: payment.card.clone(),
            receipt_url: (payment.state == PaymentState::Captured)
                .then(|| self.receipt_url(&payment.receipt_token)),
            status_url: self.status_url(&payment.receipt_token),
            message,
            payment,
        })
    }
}

fn declined_text(l: Language) -> &'static str {
    match l {
        Language::En => "Your card was not accepted. Nothing was charged.",
        Language::Es => "Su tarjeta no fue aceptada. No se ha cobrado nada.",
        Language::Fr => "Votre carte n'a pas été acceptée. Rien n'a été débité.",
        Language::De => "Ihre Karte wurde nicht akzeptiert. Es wurde nichts belastet.",
    }
}

fn not_started_text(l: Language) -> &'static str {
    match l {
        Language::En => "Charging did not start. The hold on your card was released.",
        Language::Es => "La carga no comenzó. Se liberó la retención de su tarjeta.",
        Language::Fr => "La charge n'a pas démarré. La pré-autorisation de votre carte a été libérée.",
        Language::De => "Der Ladevorgang wurde nicht gestartet. Die Reservierung auf Ihrer Karte wurde freigegeben.",
    }
}

fn nothing_owed_text(l: Language) -> &'static str {
    match l {
        Language::En => "Nothing is owed for this session. The hold on your card was released.",
        Language::Es => "No se debe nada por esta sesión. Se liberó la retención de su tarjeta.",
        Language::Fr => "Rien n'est dû pour cette session. La pré-autorisation de votre carte a été libérée.",
        Language::De => "Für diesen Ladevorgang ist nichts zu zahlen. Die Reservierung auf Ihrer Karte wurde freigegeben.",
    }
}
