//! Finishing what was left open: steps left intended by a crash or an
//! unknown gateway outcome (recovery), holds nobody closed (sweeper), and
//! gateway webhooks (a nudge to look again).

use crate::gateway::{GatewayEventKind, IntentStatus, WebhookPayload};
use crate::money::Money;
use crate::payment::{
    PaymentDetail, PaymentState, PaymentStep, StaleHoldReason, StepKind, StepOutcome,
};

use super::web::AuthorizeResult;
use super::{PaymentError, PaymentService};

/// How many payments one pass of a worker handles.
const BATCH: u32 = 50;

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
            match self.recover_one(&detail).await {
                Ok(()) => report.finished += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(payment_id = %detail.payment.id, %error, "recovery failed; retried on the next pass");
                }
            }
        }
        let terminals = self.recover_terminal_recordings().await?;
        report.finished += terminals.finished;
        report.failed += terminals.failed;
        Ok(report)
    }

    #[tracing::instrument(skip(self, detail), fields(payment_id = %detail.payment.id))]
    async fn recover_one(&self, detail: &PaymentDetail) -> Result<(), PaymentError> {
        let Some(step) = detail.steps.iter().find(|s| !s.is_finished()) else {
            return Ok(());
        };
        let payment = &detail.payment;
        tracing::info!(seq = step.seq, kind = %step.kind, "recovering an unfinished step");
        match step.kind {
            StepKind::Authorize => {
                let abandon = self.now() - step.intended_at >= self.settings.card_timeout;
                if let AuthorizeResult::Authorized(p) =
                    self.settle_authorize(payment, step, abandon).await?
                {
                    // The driver confirmed, then Joule died before starting.
                    self.remote_start(&p).await?;
                }
                Ok(())
            }
            StepKind::Capture => self.recover_capture(detail, step).await,
            StepKind::Void => self.recover_void(detail, step).await,
            StepKind::Refund => self.recover_refund(detail, step).await,
            StepKind::ChargeOffSession => self.recover_charge_off_session(payment, step).await,
            StepKind::IncrementAuthorization => self.recover_increment(detail, step).await,
        }
    }

    async fn recover_capture(
        &self,
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
                self.finish(step, done).await?;
            }
            IntentStatus::Authorized { .. } => {
                let amount = Money::from_minor(step.amount_minor, payment.currency);
                match gateway
                    .capture(&intent, amount, &step.idempotency_key)
                    .await
                {
                    Ok(_) => {
                        tracing::info!("captured on recovery");
                        self.finish(step, done).await?;
                    }
                    Err(e) => {
                        self.finish_from_error(step, e).await?;
                    }
                }
            }
            IntentStatus::Canceled => {
                self.finish(
                    step,
                    StepOutcome::failed("canceled", "the hold was cancelled"),
                )
                .await?;
            }
            _ => {
                self.finish(
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
    async fn recover_refund(
        &self,
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
                self.finish(step, StepOutcome::succeeded(Some(r.refund.to_string())))
                    .await?;
            }
            Err(e) => {
                self.finish_from_error(step, e).await?;
            }
        }
        Ok(())
    }

    async fn recover_void(
        &self,
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
                self.finish(step, done).await?;
            }
            IntentStatus::Succeeded { .. } => {
                self.finish(
                    step,
                    StepOutcome::failed("already_captured", "the intent was captured"),
                )
                .await?;
            }
            _ => match gateway.cancel(&intent, &step.idempotency_key).await {
                Ok(()) => {
                    self.finish(step, done).await?;
                }
                Err(e) => {
                    self.finish_from_error(step, e).await?;
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
            let result = match (hold.reason, hold.payment.session_id) {
                (StaleHoldReason::SessionNeverStarted, _) => {
                    tracing::info!(payment_id = %id, "session never started; voiding the hold");
                    self.void(&hold.payment).await.map(|_| ())
                }
                (StaleHoldReason::SessionEnded, Some(session)) => {
                    self.settle_session(session).await.map(|_| ())
                }
                (StaleHoldReason::SessionEnded, None) => Ok(()),
            };
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
        let Some(detail) = self.ports.payments.get_payment(payment.id).await? else {
            return Ok(());
        };
        match detail.steps.iter().find(|s| !s.is_finished()) {
            Some(step) if step.kind == StepKind::Authorize => {
                if let AuthorizeResult::Authorized(p) =
                    self.settle_authorize(&payment, step, false).await?
                {
                    self.remote_start(&p).await?;
                }
            }
            Some(_) => self.recover_one(&detail).await?,
            None => {
                if matches!(event.kind, GatewayEventKind::IntentCanceled { .. })
                    && payment.state == PaymentState::Authorized
                {
                    // Cancelled at the gateway (its dashboard, expiry):
                    // record the release the gateway already made.
                    let step = self
                        .intend(&payment, crate::payment::StepRequest::Void)
                        .await?;
                    self.finish(&step, StepOutcome::succeeded(Some(intent.to_string())))
                        .await?;
                }
            }
        }
        Ok(())
    }
}
