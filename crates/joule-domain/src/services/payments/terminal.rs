//! The terminal flow (docs/terminals.md): a payment terminal placed a
//! manual-capture hold at the gateway itself and reports it with the
//! connector the driver chose. Joule verifies the hold at the gateway,
//! records the payment with its Authorize step, and remote-starts the
//! connector with the payment's own id tag, exactly as the web flow does.
//! From there on a terminal payment is like any other: the session links
//! by id tag, the settle path captures, the sweeper and the recovery worker
//! finish what a crash left open.
//!
//! Before the payment is recorded every refusal is an error and nothing is
//! written: the hold still belongs to the terminal, which must release it.
//! Once recorded, Joule owns the hold: it captures or voids it.

use crate::charging::charger::ConnectorStatus;
use crate::kernel::ids::{ChargerId, ConnectorId};
use crate::kernel::language::Language;
use crate::kernel::money::Money;
use crate::payments::card::CardSummary;
use crate::payments::gateway::{
    GatewayError, IntentRef, IntentState, IntentStatus, PaymentGateway,
};
use crate::payments::payment::{
    ClaimOwner, NewPayment, Payment, PaymentChannel, PaymentId, PaymentState, ReceiptToken,
    StepOutcome, StepRequest, StepSuccess,
};
use crate::payments::terminal::Terminal;
use crate::pricing::HoldLimitPolicy;

use super::web::{open_authorize, payment_id_tag, AuthorizeResult};
use super::{Claim, PaymentError, PaymentService, PaymentStatusView};

/// What a terminal reports: the hold it placed, the card it read, and the
/// connector the driver chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalReport {
    /// The gateway's reference of the hold (a Stripe PaymentIntent
    /// `pi_…` in `requires_capture`).
    pub intent: IntentRef,
    /// The amount the terminal held.
    pub amount: Money,
    /// Brand, last 4 and expiry as the terminal read them; the gateway's
    /// own description wins when it gives one.
    pub card: CardSummary,
    pub charger_id: ChargerId,
    pub connector_id: ConnectorId,
    /// The driver's language (ISO 639-1) for the status and receipt.
    pub language: Option<String>,
}

/// The answer to a report.
#[derive(Debug, Clone)]
pub struct TerminalReported {
    pub status: PaymentStatusView,
    /// `true` when this hold had been reported before by the same terminal
    /// (a retry with a new idempotency key): nothing new was done.
    pub existing: bool,
}

impl PaymentService {
    /// Records a terminal's hold and starts the connector; see the module
    /// documentation for what is checked and who owns the hold when.
    #[tracing::instrument(skip(self, terminal, report), fields(
        terminal_id = %terminal.id, charger_id = %report.charger_id,
        connector = report.connector_id.get(), intent = %report.intent))]
    pub async fn report_terminal_payment(
        &self,
        terminal: &Terminal,
        report: TerminalReport,
    ) -> Result<TerminalReported, PaymentError> {
        if !terminal.enabled {
            return Err(PaymentError::TerminalDisabled);
        }
        let gateway = self
            .gateways
            .get(&terminal.gateway)
            .ok_or_else(|| PaymentError::GatewayNotConfigured(terminal.gateway.clone()))?
            .clone();
        let (charger, connector) = (&report.charger_id, report.connector_id);
        let candidates = self
            .ports
            .assignments
            .tariff_candidates(charger, None)
            .await?;
        let site = candidates
            .as_ref()
            .and_then(|c| c.site.as_ref())
            .map(|s| &s.id);
        if !terminal.may_start(charger, connector, site) {
            return Err(PaymentError::ChargerNotAllowed {
                charger: charger.to_string(),
                connector: connector.get(),
            });
        }
        let Some(candidates) = candidates else {
            return Err(PaymentError::ChargerNotFound(charger.to_string()));
        };
        if let Some(existing) = self
            .ports
            .payments
            .payment_by_gateway_ref(gateway.name(), report.intent.as_str())
            .await?
        {
            return self.reported_again(terminal, existing, &report).await;
        }
        let now = self.now();
        let tariff = candidates
            .resolve(charger, connector, None, now)
            .map(|r| r.tariff.clone())
            .ok_or_else(|| PaymentError::NoTariff(charger.to_string()))?;
        if tariff.tariff.currency != report.amount.currency().code() {
            return Err(PaymentError::HoldNotUsable(format!(
                "the hold is in {}, charging at {charger} is priced in {}",
                report.amount.currency().code(),
                tariff.tariff.currency
            )));
        }
        if report.amount.minor() <= 0 {
            return Err(PaymentError::HoldNotUsable(
                "the amount held must be positive".to_owned(),
            ));
        }
        self.require_free(charger, connector).await?;
        let state = read_hold(gateway.as_ref(), &report.intent).await?;
        let card = verified_card(&state, &report)?;

        let language = report
            .language
            .as_deref()
            .and_then(Language::supported)
            .or_else(|| {
                candidates
                    .site
                    .as_ref()
                    .and_then(|s| Language::supported(&s.language))
            })
            .unwrap_or_default();
        let id_tag = payment_id_tag(self.ports.random.bytes16())
            .ok_or_else(|| PaymentError::Cost("no id tag could be drawn".to_owned()))?;
        let created = self
            .ports
            .payments
            .create_payment(NewPayment {
                id: PaymentId::new_v7(),
                channel: PaymentChannel::Terminal,
                gateway: gateway.name().to_owned(),
                gateway_payment_ref: Some(report.intent.as_str().to_owned()),
                currency: report.amount.currency(),
                card: Some(card.clone()),
                charger_id: charger.clone(),
                connector_id: connector,
                account_id: None,
                terminal_id: Some(terminal.id.to_string()),
                hold_limit_policy: HoldLimitPolicy::StopSession,
                receipt_token: ReceiptToken::from_random_bytes(self.ports.random.bytes16()),
                language: language.code().to_owned(),
                id_tag: Some(id_tag),
                created_at: now,
            })
            .await;
        let payment = match created {
            Ok(p) => p,
            Err(crate::kernel::error::StoreError::Conflict { .. }) => {
                // Another request recorded this hold between our look-up
                // and our insert (the unique (gateway, reference) index).
                let existing = self
                    .ports
                    .payments
                    .payment_by_gateway_ref(gateway.name(), report.intent.as_str())
                    .await?
                    .ok_or(PaymentError::IntentAlreadyUsed)?;
                return self.reported_again(terminal, existing, &report).await;
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(payment_id = %payment.id, "terminal hold recorded");
        let (claim, _) = self.claim(payment.id, ClaimOwner::TerminalReport).await?;
        let result = match self
            .authorize_verified(&claim, &payment, report.amount.minor(), card)
            .await
        {
            Ok(authorized) => self.remote_start(&claim, &authorized, true).await,
            Err(e) => Err(e),
        };
        self.release(&claim).await;
        result?;
        self.answer(&payment.id, false).await
    }

    /// The Authorize step of a hold the terminal placed: intended, then
    /// finished with what the gateway said when it was verified (the
    /// verification is this step's gateway call). A crash in between is
    /// finished by the recovery worker, which reads the intent again.
    async fn authorize_verified(
        &self,
        claim: &Claim,
        payment: &Payment,
        amount_minor: i64,
        card: CardSummary,
    ) -> Result<Payment, PaymentError> {
        let step = self
            .intend(claim, payment, StepRequest::Authorize { amount_minor })
            .await?;
        let outcome = StepOutcome::Succeeded(StepSuccess {
            gateway_ref: payment.gateway_payment_ref.clone(),
            card: Some(card),
        });
        Ok(self.finish(claim, &step, outcome).await?.payment)
    }

    /// The terminal's answer: the payment's status.
    async fn answer(
        &self,
        id: &PaymentId,
        existing: bool,
    ) -> Result<TerminalReported, PaymentError> {
        let payment = self.payment(*id).await?;
        Ok(TerminalReported {
            status: self.status(&payment.receipt_token).await?,
            existing,
        })
    }

    /// The same hold reported again: by the same terminal for the same
    /// connector it is a retry (answered with the payment, finishing a
    /// recording a crash interrupted); anything else is a reuse.
    async fn reported_again(
        &self,
        terminal: &Terminal,
        existing: Payment,
        report: &TerminalReport,
    ) -> Result<TerminalReported, PaymentError> {
        let same = existing.channel == PaymentChannel::Terminal
            && existing.terminal_id.as_deref() == Some(terminal.id.to_string().as_str())
            && existing.charger_id == report.charger_id
            && existing.connector_id == report.connector_id
            && existing.currency == report.amount.currency();
        if !same {
            return Err(PaymentError::IntentAlreadyUsed);
        }
        if existing.state != PaymentState::Created {
            return self.answer(&existing.id, true).await;
        }
        // Recorded but not authorized yet: either another request is
        // recording it right now (it holds the payment's claim: leave it
        // alone, or the charger would be asked twice), or that request died
        // and its claim lapsed. Only then finish it, as the recovery worker
        // would.
        let (claim, detail) = match self.claim(existing.id, ClaimOwner::TerminalReport).await {
            Ok(claimed) => claimed,
            Err(PaymentError::Busy { .. }) => return self.answer(&existing.id, true).await,
            Err(e) => return Err(e),
        };
        let result = self.finish_report(&claim, &detail, report).await;
        self.release(&claim).await;
        let started = result?;
        self.answer(&existing.id, !started).await
    }

    /// Finishes a recording a crashed request left (under its claim);
    /// `true` when this request authorized the hold and started the
    /// connector.
    async fn finish_report(
        &self,
        claim: &Claim,
        detail: &crate::payments::payment::PaymentDetail,
        report: &TerminalReport,
    ) -> Result<bool, PaymentError> {
        let existing = &detail.payment;
        if existing.state != PaymentState::Created {
            return Ok(false);
        }
        let authorized = match open_authorize(&detail.steps) {
            Some(step) => match self.settle_authorize(claim, existing, step, false).await? {
                AuthorizeResult::Authorized(p) => *p,
                _ => return Ok(false),
            },
            None if detail.steps.is_empty() => {
                let gateway = self.gateway_of(existing)?.clone();
                let state = read_hold(gateway.as_ref(), &report.intent).await?;
                let card = verified_card(&state, report)?;
                self.authorize_verified(claim, existing, report.amount.minor(), card)
                    .await?
            }
            None => return Ok(false),
        };
        self.remote_start(claim, &authorized, true).await?;
        Ok(true)
    }

    /// Terminal payments recorded but never authorized: the process died
    /// between recording the payment and intending its Authorize step, and
    /// the terminal did not report again. The hold was verified before it
    /// was recorded, so it is read once more and finished the way a
    /// retried report would (then the charger is asked to start; the
    /// sweeper voids the hold if no session follows). A hold the gateway no
    /// longer holds fails the payment. Part of the recovery pass.
    pub(super) async fn recover_terminal_recordings(
        &self,
    ) -> Result<super::PassReport, PaymentError> {
        let filter = crate::payments::payment::PaymentFilter {
            state: Some(PaymentState::Created),
            channel: Some(PaymentChannel::Terminal),
            ..Default::default()
        };
        let created = self
            .ports
            .payments
            .list_payments(filter, crate::kernel::page::Page::new(Some(50), None))
            .await?;
        let older_than = self.now() - self.settings.recovery_after;
        let mut report = super::PassReport::default();
        for payment in created.items {
            if payment.created_at >= older_than {
                continue;
            }
            let (claim, detail) = match self.claim(payment.id, ClaimOwner::Recovery).await {
                Ok(claimed) => claimed,
                Err(PaymentError::Busy { .. }) => continue,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %payment.id, %error, "recovery could not claim the payment");
                    continue;
                }
            };
            let result = self.finish_recording(&claim, &detail).await;
            self.release(&claim).await;
            match result {
                Ok(true) => report.finished += 1,
                Ok(false) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %payment.id, %error,
                        "finishing a terminal payment's recording failed; retried on the next pass");
                }
            }
        }
        Ok(report)
    }

    /// One recording left without steps; `false` when it has steps (the
    /// step recovery owns it).
    async fn finish_recording(
        &self,
        claim: &Claim,
        detail: &crate::payments::payment::PaymentDetail,
    ) -> Result<bool, PaymentError> {
        let payment = &detail.payment;
        if payment.state != PaymentState::Created || !detail.steps.is_empty() {
            return Ok(false);
        }
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let state = match gateway.read_intent(&intent).await {
            Ok(state) => state,
            Err(e) if e.is_retryable() => {
                return Err(PaymentError::GatewayUnavailable(e.to_string()))
            }
            Err(e) => {
                let (code, message) = super::failure_of(&e);
                return Err(PaymentError::GatewayRefused { code, message });
            }
        };
        let IntentStatus::Authorized { capturable } = state.status else {
            let status = status_name(&state.status);
            return self
                .fail_recording(
                    claim,
                    payment,
                    state.amount.minor(),
                    format!("the hold is {status} at the gateway"),
                )
                .await;
        };
        let card = state
            .card
            .or_else(|| payment.card.clone())
            .ok_or(PaymentError::NoGatewayReference)?;
        tracing::info!(payment_id = %payment.id, "finishing a terminal payment's recording");
        let authorized = self
            .authorize_verified(claim, payment, capturable.minor(), card)
            .await?;
        self.remote_start(claim, &authorized, false).await?;
        Ok(true)
    }

    /// Closes a recording whose hold the gateway no longer holds (the
    /// terminal cancelled it, or it expired): an Authorize step of the
    /// intent's amount that failed, which fails the payment.
    async fn fail_recording(
        &self,
        claim: &Claim,
        payment: &Payment,
        amount_minor: i64,
        message: String,
    ) -> Result<bool, PaymentError> {
        let step = self
            .intend(
                claim,
                payment,
                StepRequest::Authorize {
                    amount_minor: amount_minor.max(1),
                },
            )
            .await?;
        self.finish(claim, &step, StepOutcome::failed("not_authorized", message))
            .await?;
        Ok(true)
    }

    /// A terminal's view of one of its own payments. Another terminal's
    /// payment is as unknown as a payment that does not exist.
    pub async fn terminal_payment(
        &self,
        terminal: &Terminal,
        id: PaymentId,
    ) -> Result<PaymentStatusView, PaymentError> {
        let payment = self.payment(id).await?;
        if payment.channel != PaymentChannel::Terminal
            || payment.terminal_id.as_deref() != Some(terminal.id.to_string().as_str())
        {
            return Err(PaymentError::PaymentNotFound);
        }
        self.status(&payment.receipt_token).await
    }

    async fn payment(&self, id: PaymentId) -> Result<Payment, PaymentError> {
        Ok(self
            .ports
            .payments
            .get_payment(id)
            .await?
            .ok_or(PaymentError::PaymentNotFound)?
            .payment)
    }

    async fn require_free(
        &self,
        charger: &ChargerId,
        connector: ConnectorId,
    ) -> Result<(), PaymentError> {
        let states = self.ports.chargers.connector_states(charger).await?;
        let free = states.iter().any(|s| {
            s.connector_id == connector
                && matches!(
                    s.status,
                    ConnectorStatus::Available | ConnectorStatus::Preparing
                )
        });
        if free {
            Ok(())
        } else {
            Err(PaymentError::ConnectorBusy {
                charger: charger.to_string(),
                connector: connector.get(),
            })
        }
    }
}

/// Reads the hold at the gateway: it must be there and authorized.
async fn read_hold(
    gateway: &dyn PaymentGateway,
    intent: &IntentRef,
) -> Result<IntentState, PaymentError> {
    match gateway.read_intent(intent).await {
        Ok(state) => Ok(state),
        Err(e) if e.is_retryable() => Err(PaymentError::GatewayUnavailable(e.to_string())),
        Err(GatewayError::InvalidRequest { message, .. }) => Err(PaymentError::HoldNotUsable(
            format!("the gateway does not know this hold: {message}"),
        )),
        Err(e) => {
            let (code, message) = super::failure_of(&e);
            Err(PaymentError::GatewayRefused { code, message })
        }
    }
}

/// Checks what the gateway says against what the terminal reported, and
/// returns the card to record.
fn verified_card(
    state: &IntentState,
    report: &TerminalReport,
) -> Result<CardSummary, PaymentError> {
    let capturable = match &state.status {
        IntentStatus::Authorized { capturable } => *capturable,
        other => {
            return Err(PaymentError::HoldNotUsable(format!(
                "the hold is not authorized at the gateway (status {})",
                status_name(other)
            )))
        }
    };
    if capturable != report.amount {
        return Err(PaymentError::HoldNotUsable(format!(
            "the gateway holds {} {}, the terminal reported {} {}",
            capturable.minor(),
            capturable.currency().code(),
            report.amount.minor(),
            report.amount.currency().code()
        )));
    }
    match &state.card {
        Some(card) if card.last4 != report.card.last4 => Err(PaymentError::HoldNotUsable(
            "the card at the gateway is not the card reported".to_owned(),
        )),
        Some(card) => Ok(card.clone()),
        None => Ok(report.card.clone()),
    }
}

fn status_name(status: &IntentStatus) -> &'static str {
    match status {
        IntentStatus::RequiresPaymentMethod => "requires_payment_method",
        IntentStatus::RequiresConfirmation => "requires_confirmation",
        IntentStatus::RequiresAction => "requires_action",
        IntentStatus::Processing => "processing",
        IntentStatus::Authorized { .. } => "authorized",
        IntentStatus::Succeeded { .. } => "succeeded",
        IntentStatus::Canceled => "canceled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::money::Currency;

    fn report(amount: i64, last4: &str) -> TerminalReport {
        TerminalReport {
            intent: IntentRef::parse("pi_123").unwrap(),
            amount: Money::from_minor(amount, Currency::parse("EUR").unwrap()),
            card: CardSummary::new("visa", last4, None, None).unwrap(),
            charger_id: ChargerId::parse("CP-1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            language: None,
        }
    }

    fn state(status: IntentStatus, card: Option<&str>) -> IntentState {
        IntentState {
            intent: IntentRef::parse("pi_123").unwrap(),
            status,
            amount: Money::from_minor(3000, Currency::parse("EUR").unwrap()),
            card: card.and_then(|l| CardSummary::new("visa", l, Some(12), Some(2030))),
            decline: None,
        }
    }

    fn held(minor: i64, code: &str) -> IntentStatus {
        IntentStatus::Authorized {
            capturable: Money::from_minor(minor, Currency::parse(code).unwrap()),
        }
    }

    #[test]
    fn a_hold_is_usable_only_when_authorized_for_the_reported_amount_and_card() {
        // The gateway's card (with its expiry) is what is recorded.
        let ok = verified_card(
            &state(held(3000, "EUR"), Some("4242")),
            &report(3000, "4242"),
        );
        assert_eq!(ok.unwrap().exp_year, Some(2030));
        // Without a card at the gateway, the terminal's is recorded.
        let ok = verified_card(&state(held(3000, "EUR"), None), &report(3000, "4242"));
        assert_eq!(ok.unwrap().last4, "4242");
        for (st, rep) in [
            (state(held(2000, "EUR"), None), report(3000, "4242")),
            (state(held(3000, "USD"), None), report(3000, "4242")),
            (state(held(3000, "EUR"), Some("1111")), report(3000, "4242")),
            (
                state(IntentStatus::RequiresPaymentMethod, None),
                report(3000, "4242"),
            ),
            (state(IntentStatus::Canceled, None), report(3000, "4242")),
            (
                state(IntentStatus::Succeeded { received: None }, None),
                report(3000, "4242"),
            ),
        ] {
            assert!(
                matches!(
                    verified_card(&st, &rep),
                    Err(PaymentError::HoldNotUsable(_))
                ),
                "{st:?}"
            );
        }
    }
}
