//! Finishing what was left open: steps left intended by a crash or an
//! unknown gateway outcome (recovery), holds nobody closed (sweeper), and
//! gateway webhooks (a nudge to look again).

use crate::kernel::money::Money;
use crate::payments::gateway::{GatewayEventKind, IntentStatus, WebhookPayload};
use crate::payments::payment::{
    ClaimOwner, PaymentDetail, PaymentState, PaymentStep, StepError, StepKind, StepOutcome,
};

use super::web::AuthorizeResult;
use super::{Claim, PaymentError, PaymentService};

/// How many payments one pass of a worker handles.
const BATCH: u32 = 50;

/// How often the starter asks a charger again to start a waiting hold.
const STARTER_RETRY: chrono::Duration = chrono::Duration::seconds(10);

/// What one pass did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub finished: u32,
    pub failed: u32,
}

impl PaymentService {
    /// One recovery pass: every step intended longer than
    /// `recovery_after` ago is finished. The gateway's intent is read
    /// FIRST, and a call is only repeated (with the step's own key) when
    /// the gateway has not applied it.
    pub async fn recover(&self) -> Result<PassReport, PaymentError> {
        let older_than = self.now() - self.settings.recovery_after;
        let open = self
            .ports
            .payments
            .payments_with_unfinished_steps(older_than, BATCH)
            .await?;
        let mut report = PassReport::default();
        for detail in open {
            let id = detail.payment.id;
            // A driver still entering the card needs nothing: looked at
            // without taking the payment, so the driver's own confirm is
            // never kept waiting by a pass that would do nothing.
            if self.waiting_for_card(&detail).await {
                continue;
            }
            let (claim, detail) = match self.claim(id, ClaimOwner::Recovery).await {
                Ok(claimed) => claimed,
                // Its owner is still on it (a driver still typing the card
                // holds no claim; a confirm in flight does).
                Err(PaymentError::Busy { .. }) => continue,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %id, %error, "recovery could not claim the payment");
                    continue;
                }
            };
            let result = self.recover_one(&claim, &detail).await;
            self.release(&claim).await;
            match result {
                Ok(()) => report.finished += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %id, %error, "recovery failed; retried on the next pass");
                }
            }
        }
        report.finished += self.cancel_lost_holds().await?;
        let starts = self.start_waiting_holds().await?;
        report.finished += starts.finished;
        report.failed += starts.failed;
        let terminals = self.recover_terminal_recordings().await?;
        report.finished += terminals.finished;
        report.failed += terminals.failed;
        Ok(report)
    }

    /// Web payments that failed because `create_hold` got no answer (a
    /// time-out, an outage) and whose intent Joule never learnt: the call
    /// may still have reached the gateway after Joule gave up, so the
    /// intent is looked for on every pass for `card_timeout` and, once
    /// found, recorded on the payment and cancelled (no orphan intent).
    async fn cancel_lost_holds(&self) -> Result<u32, PaymentError> {
        let filter = crate::payments::payment::PaymentFilter {
            state: Some(crate::payments::payment::PaymentState::Failed),
            channel: Some(crate::payments::payment::PaymentChannel::Web),
            ..Default::default()
        };
        let failed = self
            .ports
            .payments
            .list_payments(filter, crate::kernel::page::Page::new(Some(BATCH), None))
            .await?;
        let since = self.now() - self.settings.card_timeout;
        let mut cancelled = 0;
        for payment in failed.items {
            if payment.gateway_payment_ref.is_some() || payment.created_at < since {
                continue;
            }
            let Some(detail) = self.ports.payments.get_payment(payment.id).await? else {
                continue;
            };
            let lost = detail.steps.iter().any(|s| {
                s.kind == StepKind::Authorize
                    && matches!(&s.status, crate::payments::payment::StepStatus::Failed { code, .. }
                        if code == "timeout" || code == "unavailable")
            });
            let Some(step) = detail.steps.first().filter(|_| lost) else {
                continue;
            };
            let Ok(gateway) = self.gateway_of(&payment) else {
                continue;
            };
            let Ok(Some(intent)) = gateway.find_hold(&payment.id.to_string()).await else {
                continue;
            };
            tracing::info!(payment_id = %payment.id, %intent,
                "the intent of a hold whose creation timed out reached the gateway late; cancelling it");
            self.ports
                .payments
                .set_gateway_ref(payment.id, intent.as_str(), self.now())
                .await?;
            self.cancel_unconfirmed(gateway, &payment, step, &intent)
                .await;
            cancelled += 1;
        }
        Ok(cancelled)
    }

    /// Whether the payment's open step is an Authorize still waiting for
    /// the driver's card (before the card time-out): read without a claim;
    /// anything else, or a failed read, is decided under the claim.
    async fn waiting_for_card(&self, detail: &PaymentDetail) -> bool {
        let Some(step) = detail.steps.iter().find(|s| !s.is_finished()) else {
            return false;
        };
        if step.kind != StepKind::Authorize
            || self.now() - step.intended_at >= self.settings.card_timeout
        {
            return false;
        }
        let (Ok(gateway), Ok(intent)) = (
            self.gateway_of(&detail.payment),
            Self::intent_of(&detail.payment),
        ) else {
            // No intent recorded yet: nothing to do before the time-out.
            return true;
        };
        match gateway.read_intent(&intent).await {
            Ok(state) => match state.status {
                IntentStatus::RequiresConfirmation
                | IntentStatus::RequiresAction
                | IntentStatus::Processing => true,
                IntentStatus::RequiresPaymentMethod => state.decline.is_none(),
                _ => false,
            },
            Err(_) => false,
        }
    }

    /// Holds authorized whose charger was never asked to start, or whose
    /// start never got a definite answer (a crash between the authorization
    /// and the start, an offline charger, a time-out): asked again on each
    /// pass while their hold is younger than `start_timeout`, once the
    /// charger is back; the sweeper releases the rest.
    async fn start_waiting_holds(&self) -> Result<PassReport, PaymentError> {
        let after = self.now() - self.settings.start_timeout;
        let waiting = self
            .ports
            .payments
            .payments_awaiting_start(after, BATCH)
            .await?;
        let mut report = PassReport::default();
        for payment in waiting {
            let (claim, detail) = match self.claim(payment.id, ClaimOwner::Starter).await {
                Ok(claimed) => claimed,
                Err(PaymentError::Busy { .. }) => continue,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %payment.id, %error, "the starter could not claim the payment");
                    continue;
                }
            };
            // Asked at most once per STARTER_RETRY: a pass that just tried
            // (the recovery above, an earlier pass) leaves it for later.
            let recent = self
                .ports
                .payments
                .remote_start(payment.id)
                .await?
                .is_some_and(|r| self.now() - r.updated_at < STARTER_RETRY);
            if recent || detail.steps.iter().any(|s| !s.is_finished()) {
                self.release(&claim).await;
                continue;
            }
            let result = self.remote_start(&claim, &detail.payment, false).await;
            self.release(&claim).await;
            match result {
                Ok(()) => report.finished += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %payment.id, %error, "starting a waiting hold failed");
                }
            }
        }
        Ok(report)
    }

    #[tracing::instrument(skip(self, claim, detail), fields(payment_id = %detail.payment.id))]
    async fn recover_one(&self, claim: &Claim, detail: &PaymentDetail) -> Result<(), PaymentError> {
        let Some(step) = detail.steps.iter().find(|s| !s.is_finished()) else {
            return Ok(());
        };
        let payment = &detail.payment;
        tracing::info!(seq = step.seq, kind = %step.kind, "recovering an unfinished step");
        match step.kind {
            StepKind::Authorize => {
                let abandon = self.now() - step.intended_at >= self.settings.card_timeout;
                if let AuthorizeResult::Authorized(p) =
                    self.settle_authorize(claim, payment, step, abandon).await?
                {
                    // The driver confirmed, then Joule died before starting
                    // (or the driver never came back to the page). The
                    // charger may be offline: then the starter tries again
                    // until the sweeper's time-out.
                    self.remote_start(claim, &p, false).await?;
                }
                Ok(())
            }
            StepKind::Capture => self.recover_capture(claim, detail, step).await,
            StepKind::Void => self.recover_void(claim, detail, step).await,
            StepKind::Refund => self.recover_refund(claim, detail, step).await,
            StepKind::ChargeOffSession => {
                self.recover_charge_off_session(claim, payment, step).await
            }
            StepKind::IncrementAuthorization => self.recover_increment(claim, detail, step).await,
        }
    }

    async fn recover_capture(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        step: &PaymentStep,
    ) -> Result<(), PaymentError> {
        let payment = &detail.payment;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let state = gateway
            .read_intent(&intent)
            .await
            .map_err(|e| PaymentError::GatewayUnavailable(e.to_string()))?;
        let done = StepOutcome::succeeded(Some(intent.as_str().to_owned()));
        match state.status {
            IntentStatus::Succeeded { .. } => {
                tracing::info!("the gateway had captured; recording it");
                self.finish(claim, step, done).await?;
            }
            IntentStatus::Authorized { .. } => {
                let amount = Money::from_minor(step.amount_minor, payment.currency);
                match gateway
                    .capture(&intent, amount, &step.idempotency_key)
                    .await
                {
                    Ok(_) => {
                        tracing::info!("captured on recovery");
                        self.finish(claim, step, done).await?;
                    }
                    Err(e) => {
                        self.finish_from_error(claim, step, e).await?;
                    }
                }
            }
            IntentStatus::Canceled => {
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed("canceled", "the hold was cancelled"),
                )
                .await?;
            }
            _ => {
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed("not_capturable", "the intent holds nothing to capture"),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A refund whose outcome was lost: the gateway is asked whether a
    /// refund with the step's key exists, and only when none does is the
    /// call repeated with that key (localstripe ignores keys: a blind
    /// repeat would refund twice).
    pub(super) async fn recover_refund(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        step: &PaymentStep,
    ) -> Result<(), PaymentError> {
        let payment = &detail.payment;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let made = gateway
            .find_refund(&intent, &step.idempotency_key)
            .await
            .map_err(|e| PaymentError::GatewayUnavailable(e.to_string()))?;
        let result = match made {
            Some(r) => {
                tracing::info!(refund = %r.refund, "the gateway had refunded; recording it");
                Ok(r)
            }
            None => {
                let amount = Money::from_minor(step.amount_minor, payment.currency);
                gateway.refund(&intent, amount, &step.idempotency_key).await
            }
        };
        match result {
            Ok(r) => {
                self.finish(
                    claim,
                    step,
                    StepOutcome::succeeded(Some(r.refund.to_string())),
                )
                .await?;
            }
            Err(e) => {
                self.finish_from_error(claim, step, e).await?;
            }
        }
        Ok(())
    }

    async fn recover_void(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        step: &PaymentStep,
    ) -> Result<(), PaymentError> {
        let payment = &detail.payment;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let state = gateway
            .read_intent(&intent)
            .await
            .map_err(|e| PaymentError::GatewayUnavailable(e.to_string()))?;
        let done = StepOutcome::succeeded(Some(intent.as_str().to_owned()));
        match state.status {
            IntentStatus::Canceled => {
                self.finish(claim, step, done).await?;
            }
            IntentStatus::Succeeded { .. } => {
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed("already_captured", "the intent was captured"),
                )
                .await?;
            }
            _ => match gateway.cancel(&intent, &step.idempotency_key).await {
                Ok(()) => {
                    self.finish(claim, step, done).await?;
                }
                Err(e) => {
                    self.finish_from_error(claim, step, e).await?;
                }
            },
        }
        Ok(())
    }

    /// One sweeper pass: holds whose session never started within the
    /// start time-out are voided; holds whose session ended without a
    /// capture are settled.
    pub async fn sweep(&self) -> Result<PassReport, PaymentError> {
        let at = self.now() - self.settings.start_timeout;
        let stale = self
            .ports
            .payments
            .authorized_holds_older_than(at, BATCH)
            .await?;
        let mut report = PassReport::default();
        for hold in stale {
            let id = hold.payment.id;
            let (claim, detail) = match self.claim(id, ClaimOwner::Sweeper).await {
                Ok(claimed) => claimed,
                Err(PaymentError::Busy { .. }) => continue,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %id, %error, "the sweeper could not claim the payment");
                    continue;
                }
            };
            let result = self.sweep_one(&claim, &detail).await;
            self.release(&claim).await;
            match result {
                Ok(()) => report.finished += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %id, %error, "sweeping a hold failed");
                }
            }
        }
        Ok(report)
    }

    /// One stale hold, decided again from the payment as read under the
    /// claim: a session linked meanwhile is settled from that session,
    /// never released as unused.
    async fn sweep_one(&self, claim: &Claim, detail: &PaymentDetail) -> Result<(), PaymentError> {
        let payment = &detail.payment;
        if payment.state != PaymentState::Authorized
            || detail.steps.iter().any(|s| !s.is_finished())
        {
            return Ok(());
        }
        match payment.session_id {
            None => {
                tracing::info!(payment_id = %payment.id, "session never started; voiding the hold");
                match self.void_unused(claim, payment).await {
                    Ok(_) | Err(PaymentError::Step(StepError::HoldInUse)) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Some(session) => self
                .settle_claimed(claim, detail, session)
                .await
                .map(|_| ()),
        }
    }

    /// A webhook from `gateway`: verified, then the payment it names is
    /// looked at again (the same reconciliation as recovery, so duplicate
    /// deliveries change nothing). Unknown intents and other events are
    /// accepted and ignored.
    pub async fn handle_webhook(
        &self,
        gateway: &str,
        payload: &WebhookPayload<'_>,
    ) -> Result<(), PaymentError> {
        let gw = self
            .gateways
            .get(gateway)
            .ok_or_else(|| PaymentError::GatewayNotConfigured(gateway.to_owned()))?
            .clone();
        let event = gw
            .verify_webhook(payload, self.now())
            .map_err(PaymentError::BadWebhook)?;
        let intent = match &event.kind {
            GatewayEventKind::IntentAuthorized { intent, .. }
            | GatewayEventKind::IntentSucceeded { intent, .. }
            | GatewayEventKind::IntentFailed { intent, .. }
            | GatewayEventKind::IntentCanceled { intent } => intent,
            GatewayEventKind::SetupSucceeded { setup, .. } => {
                tracing::info!(event_id = %event.id, setup = %setup, "setup webhook");
                return self.on_setup_succeeded(gateway, setup).await;
            }
            GatewayEventKind::Other { .. } => return Ok(()),
        };
        let Some(payment) = self
            .ports
            .payments
            .payment_by_gateway_ref(gateway, intent.as_str())
            .await?
        else {
            tracing::info!(event_id = %event.id, "webhook for an intent Joule does not know");
            return Ok(());
        };
        tracing::info!(event_id = %event.id, payment_id = %payment.id, "webhook");
        let (claim, detail) = match self.claim(payment.id, ClaimOwner::Webhook).await {
            Ok(claimed) => claimed,
            // A webhook is only a nudge: the actor holding the payment
            // finishes it (and recovery finishes what it leaves).
            Err(PaymentError::Busy { owner, .. }) => {
                tracing::info!(event_id = %event.id, payment_id = %payment.id, %owner,
                    "webhook: the payment is being handled; nothing to do");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let result = self
            .handle_claimed_webhook(&claim, &detail, &event.kind, intent)
            .await;
        self.release(&claim).await;
        result
    }

    async fn handle_claimed_webhook(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        kind: &GatewayEventKind,
        intent: &crate::payments::gateway::IntentRef,
    ) -> Result<(), PaymentError> {
        let payment = &detail.payment;
        match detail.steps.iter().find(|s| !s.is_finished()) {
            Some(step) if step.kind == StepKind::Authorize => {
                if let AuthorizeResult::Authorized(p) =
                    self.settle_authorize(claim, payment, step, false).await?
                {
                    self.remote_start(claim, &p, false).await?;
                }
            }
            Some(_) => self.recover_one(claim, detail).await?,
            None => {
                if matches!(kind, GatewayEventKind::IntentCanceled { .. })
                    && payment.state == PaymentState::Authorized
                {
                    // Cancelled at the gateway (its dashboard, expiry):
                    // record the release the gateway already made.
                    let step = self
                        .intend(claim, payment, crate::payments::payment::StepRequest::Void)
                        .await?;
                    self.finish(
                        claim,
                        &step,
                        StepOutcome::succeeded(Some(intent.to_string())),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}
