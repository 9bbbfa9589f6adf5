//! Closing a hold: capture the session's final cost (at most the hold),
//! void it when nothing is owed or the session never started; refunds.

use crate::charging::session::SessionState;
use crate::kernel::ids::SessionId;
use crate::kernel::money::Money;
use crate::payments::payment::{
    ClaimOwner, Payment, PaymentDetail, PaymentId, PaymentState, StepOutcome, StepRequest,
};

use super::{Claim, PaymentError, PaymentService};

impl PaymentService {
    /// Releases the whole hold (a settlement with nothing owed).
    #[tracing::instrument(skip(self, claim, payment), fields(payment_id = %payment.id))]
    pub(super) async fn void(
        &self,
        claim: &Claim,
        payment: &Payment,
    ) -> Result<PaymentDetail, PaymentError> {
        self.release_hold(claim, payment, StepRequest::Void).await
    }

    /// Releases a hold no session uses (never started, refused start): the
    /// state machine refuses once a session is linked, so a late
    /// StartTransaction and this release cannot both win.
    #[tracing::instrument(skip(self, claim, payment), fields(payment_id = %payment.id))]
    pub(super) async fn void_unused(
        &self,
        claim: &Claim,
        payment: &Payment,
    ) -> Result<PaymentDetail, PaymentError> {
        self.release_hold(claim, payment, StepRequest::VoidUnused)
            .await
    }

    async fn release_hold(
        &self,
        claim: &Claim,
        payment: &Payment,
        request: StepRequest,
    ) -> Result<PaymentDetail, PaymentError> {
        let step = self.intend(claim, payment, request).await?;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        match gateway.cancel(&intent, &step.idempotency_key).await {
            Ok(()) => {
                tracing::info!("hold voided");
                self.finish(
                    claim,
                    &step,
                    StepOutcome::succeeded(Some(intent.as_str().to_owned())),
                )
                .await
            }
            Err(e) => self.finish_from_error(claim, &step, e).await,
        }
    }

    /// Captures `amount_minor` (at most the hold; the rest is released).
    #[tracing::instrument(skip(self, claim, payment), fields(payment_id = %payment.id))]
    pub(super) async fn capture(
        &self,
        claim: &Claim,
        payment: &Payment,
        amount_minor: i64,
    ) -> Result<PaymentDetail, PaymentError> {
        let step = self
            .intend(claim, payment, StepRequest::Capture { amount_minor })
            .await?;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let amount = Money::from_minor(amount_minor, payment.currency);
        match gateway
            .capture(&intent, amount, &step.idempotency_key)
            .await
        {
            Ok(_) => {
                tracing::info!(amount_minor, "hold captured");
                self.finish(
                    claim,
                    &step,
                    StepOutcome::succeeded(Some(intent.as_str().to_owned())),
                )
                .await
            }
            Err(e) => self.finish_from_error(claim, &step, e).await,
        }
    }

    /// Gives back `amount_minor` (default: all that is refundable). The
    /// state machine refuses more than captured minus refunded; another
    /// actor on the payment is [`PaymentError::Busy`].
    #[tracing::instrument(skip(self))]
    pub async fn refund(
        &self,
        id: PaymentId,
        amount_minor: Option<i64>,
    ) -> Result<PaymentDetail, PaymentError> {
        let (claim, detail) = self.claim(id, ClaimOwner::Refund).await?;
        let result = self
            .refund_claimed(&claim, &detail.payment, amount_minor)
            .await;
        self.release(&claim).await;
        result
    }

    /// A refund request repeated with its `Idempotency-Key` after the
    /// first one died mid-way (its record stayed in progress since
    /// `since`; its claim on the payment has lapsed): the refund it made is
    /// found (a refund step of that amount intended since then), finished
    /// if the process died during the gateway call, and answered; when it
    /// made none, the refund is made now. Never a second refund for one
    /// request; at worst (another client's refund of the same amount in
    /// that window) one refund answers both.
    #[tracing::instrument(skip(self))]
    pub async fn resume_refund(
        &self,
        id: PaymentId,
        amount_minor: Option<i64>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<PaymentDetail, PaymentError> {
        let (claim, detail) = self.claim(id, ClaimOwner::Refund).await?;
        let made = detail
            .steps
            .iter()
            .rev()
            .find(|s| {
                s.kind == crate::payments::payment::StepKind::Refund
                    && s.intended_at >= since
                    && amount_minor.is_none_or(|a| a == s.amount_minor)
            })
            .cloned();
        let result = match made {
            Some(step) if !step.is_finished() => {
                tracing::info!(
                    seq = step.seq,
                    "finishing the refund a crashed request left"
                );
                match self.recover_refund(&claim, &detail, &step).await {
                    Ok(()) => self
                        .ports
                        .payments
                        .get_payment(id)
                        .await
                        .map_err(PaymentError::from)
                        .and_then(|d| d.ok_or(PaymentError::PaymentNotFound)),
                    Err(e) => Err(e),
                }
            }
            Some(step) => {
                tracing::info!(seq = step.seq, "the crashed request's refund was made");
                Ok(detail)
            }
            None => {
                self.refund_claimed(&claim, &detail.payment, amount_minor)
                    .await
            }
        };
        self.release(&claim).await;
        result
    }

    async fn refund_claimed(
        &self,
        claim: &Claim,
        payment: &Payment,
        amount_minor: Option<i64>,
    ) -> Result<PaymentDetail, PaymentError> {
        let amount_minor = amount_minor.unwrap_or_else(|| payment.refundable_minor());
        let step = self
            .intend(claim, payment, StepRequest::Refund { amount_minor })
            .await?;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let amount = Money::from_minor(amount_minor, payment.currency);
        match gateway.refund(&intent, amount, &step.idempotency_key).await {
            Ok(r) => {
                self.finish(
                    claim,
                    &step,
                    StepOutcome::succeeded(Some(r.refund.to_string())),
                )
                .await
            }
            Err(e) => self.finish_from_error(claim, &step, e).await,
        }
    }

    /// A session started: link it to the web payment whose id tag it
    /// carries (idempotent; the charging service links at once, this is
    /// the outbox consumer's safety net).
    pub async fn on_session_started(&self, session: SessionId) -> Result<(), PaymentError> {
        let Some(s) = self.ports.sessions.get_session(session).await? else {
            return Ok(());
        };
        if !s
            .start_authorization
            .eq(&crate::charging::auth::AuthorizationStatus::Accepted)
        {
            return Ok(());
        }
        let open = self
            .ports
            .payments
            .open_payment_for_id_tag(&s.charger_id, &s.id_tag)
            .await?;
        if let Some(p) = open.filter(|p| p.connector_id == s.connector_id) {
            self.ports
                .payments
                .link_session(p.id, s.id, self.now())
                .await?;
            tracing::info!(payment_id = %p.id, session_id = %s.id, "session linked");
        }
        Ok(())
    }

    /// A session ended (or the sweeper found its hold open): capture its
    /// final cost, at most the hold, or void when nothing is owed. Waits
    /// (returns `None`) while the cost can still change (idle time after
    /// the stop still billed); the sweeper comes back.
    #[tracing::instrument(skip(self))]
    pub async fn settle_session(
        &self,
        session: SessionId,
    ) -> Result<Option<PaymentDetail>, PaymentError> {
        let Some(payment) = self.ports.payments.payment_for_session(session).await? else {
            return Ok(None);
        };
        if payment.state != PaymentState::Authorized {
            return Ok(None);
        }
        let (claim, detail) = self.claim(payment.id, ClaimOwner::Settle).await?;
        let result = self.settle_claimed(&claim, &detail, session).await;
        self.release(&claim).await;
        result
    }

    /// [`PaymentService::settle_session`] under the payment's claim, from
    /// the payment as read under it.
    pub(super) async fn settle_claimed(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        session: SessionId,
    ) -> Result<Option<PaymentDetail>, PaymentError> {
        let payment = &detail.payment;
        if payment.state != PaymentState::Authorized || payment.session_id != Some(session) {
            return Ok(None);
        }
        if detail.steps.iter().any(|s| !s.is_finished()) {
            // The recovery worker finishes that step first.
            return Ok(None);
        }
        if detail.flag.is_some() {
            return Ok(None);
        }
        if let Some(refused) = refused_capture(detail) {
            return self
                .flag(claim, payment.id, "capture_failed", &refused)
                .await
                .map(Some);
        }
        let Some(s) = self.ports.sessions.get_session(session).await? else {
            return Ok(None);
        };
        if s.state != SessionState::Ended {
            return Ok(None);
        }
        let cost = crate::services::session_cost::session_cost_now(
            self.ports.tariffs.as_ref(),
            self.ports.chargers.as_ref(),
            self.ports.assignments.as_ref(),
            &s,
            &self.ports.sessions.session_meter_values(s.id).await?,
            self.now(),
        )
        .await?;
        let owed = match &cost {
            None => 0,
            Some(c) if !c.is_final => return Ok(None),
            Some(c) if c.price.breakdown.currency != payment.currency => {
                let why = format!(
                    "the session is priced in {}, the hold is in {}",
                    c.price.breakdown.currency.code(),
                    payment.currency.code()
                );
                return self
                    .flag(claim, payment.id, "cost_unavailable", &why)
                    .await
                    .map(Some);
            }
            Some(c) => c.incl_vat_minor(),
        };
        let amount = owed.min(payment.authorized_minor);
        let detail = if amount <= 0 {
            self.void(claim, payment).await?
        } else {
            self.capture(claim, payment, amount).await?
        };
        match refused_capture(&detail) {
            Some(refused) => self
                .flag(claim, payment.id, "capture_failed", &refused)
                .await
                .map(Some),
            None => Ok(Some(detail)),
        }
    }

    /// Flags the payment for an operator: Joule cannot bring it to an end
    /// by itself (docs/payments.md, "Flagged for an operator").
    async fn flag(
        &self,
        claim: &Claim,
        id: PaymentId,
        reason: &str,
        detail: &str,
    ) -> Result<PaymentDetail, PaymentError> {
        tracing::error!(payment_id = %id, reason, detail,
            "payment flagged for an operator: energy was delivered and nothing could be captured");
        match self
            .ports
            .payments
            .flag_payment(id, reason, detail, &claim.token, self.now())
            .await
        {
            Ok(d) => Ok(d),
            Err(crate::kernel::error::StoreError::Conflict { entity })
                if entity == crate::payments::payment::CLAIM_ENTITY =>
            {
                Err(PaymentError::ClaimLost)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The gateway's refusal of the payment's latest capture, if it refused:
/// a capture is not tried again after a refusal (the hold expired or was
/// cancelled, the issuer said no).
fn refused_capture(detail: &PaymentDetail) -> Option<String> {
    let last = detail
        .steps
        .iter()
        .rev()
        .find(|s| s.kind == crate::payments::payment::StepKind::Capture)?;
    match (&last.status, detail.payment.state) {
        (
            crate::payments::payment::StepStatus::Failed { code, message },
            PaymentState::Authorized,
        ) => Some(format!(
            "capture of {} refused: {code}: {message}",
            last.amount_minor
        )),
        _ => None,
    }
}
