//! Hold limits (issue 4, point 5; docs/payments.md, "Hold limits"): when a
//! session's running cost nears the card hold that pays for it, raise the
//! hold (incremental authorization) or stop the session, as the tariff
//! says. The rule is [`crate::payments::payment::hold_limit::decide`]; this carries
//! it out through the gateway and the command router.
//!
//! Called for each stored meter value of a session with an open hold (the
//! binary's hold watch) and periodically for every such session (safety
//! net). The caller runs one check at a time: each reads the payment
//! fresh, so one threshold crossing gives one increment; the stop is
//! claimed in the store, so it is sent once per session (again only when the
//! session is still running [`STOP_RETRY_S`] later).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::charging::session::{Session, SessionState};
use crate::kernel::ids::SessionId;
use crate::kernel::money::Money;
use crate::payments::payment::hold_limit::{
    decide, HoldAction, HoldLimits, HoldReading, StopReason,
};
use crate::payments::payment::{
    ClaimOwner, Payment, PaymentDetail, PaymentState, StepKind, StepOutcome, StepRequest,
    StepStatus,
};
use crate::ports::command::ChargerCommand;
use crate::ports::store::HoldLimitStore;
use crate::pricing::session_cost::price_session_cost;
use crate::services::tariff_lookup::charger_time_zone;

use super::{Claim, PaymentError, PaymentService};

/// A stop not followed by the session's end within this long is sent
/// again (the charger was offline, refused, or its StopTransaction is
/// late).
pub const STOP_RETRY_S: i64 = 120;

/// What one check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldCheck {
    /// No open hold pays for a running session here.
    NotHeld,
    /// The next meter interval fits in the hold.
    WithinHold { hold_minor: i64, cost_minor: i64 },
    /// The hold was raised.
    Incremented { new_total_minor: i64 },
    /// A `StopCharging` command was sent.
    StopRequested(StopReason),
    /// A stop was sent recently; not sent again.
    StopAlreadyRequested(StopReason),
    /// Another actor holds the payment (the capture at the session's end,
    /// recovery): nothing was done; the next meter value checks again.
    Busy { owner: ClaimOwner },
}

/// What the rule says, before anything is done.
enum Decision {
    NotHeld,
    Within(HoldCheck),
    /// The action, and whether the last increment was refused.
    Act(HoldAction, bool),
}

impl PaymentService {
    /// Lets the service claim hold-limit stops (one per session).
    pub fn with_hold_limits(mut self, store: Arc<dyn HoldLimitStore>) -> Self {
        self.holds = Some(store);
        self
    }

    /// Open holds of running sessions (what the hold watch follows).
    pub async fn held_sessions(&self, limit: u32) -> Result<Vec<Payment>, PaymentError> {
        match &self.holds {
            Some(h) => Ok(h.held_active_sessions(limit).await?),
            None => Ok(Vec::new()),
        }
    }

    /// Checks the hold of `session` now and acts on it.
    #[tracing::instrument(skip(self))]
    pub async fn check_hold_limit(&self, session: SessionId) -> Result<HoldCheck, PaymentError> {
        let Some(payment) = self.ports.payments.payment_for_session(session).await? else {
            return Ok(HoldCheck::NotHeld);
        };
        if payment.state != PaymentState::Authorized {
            return Ok(HoldCheck::NotHeld);
        }
        let Some(s) = self.ports.sessions.get_session(session).await? else {
            return Ok(HoldCheck::NotHeld);
        };
        if s.state != SessionState::Active {
            return Ok(HoldCheck::NotHeld);
        }
        let Some(detail) = self.ports.payments.get_payment(payment.id).await? else {
            return Ok(HoldCheck::NotHeld);
        };
        // Most checks find the cost within the hold: decided without a
        // claim (a read only); an action is decided again under it.
        match self.hold_decision(&detail, &s).await? {
            Decision::Within(check) => return Ok(check),
            Decision::NotHeld => return Ok(HoldCheck::NotHeld),
            Decision::Act(..) => {}
        }
        let (claim, detail) = match self.claim(payment.id, ClaimOwner::HoldWatch).await {
            Ok(claimed) => claimed,
            // The capture at the session's end (or recovery) holds it: the
            // next meter value checks again.
            Err(PaymentError::Busy { owner, .. }) => return Ok(HoldCheck::Busy { owner }),
            Err(e) => return Err(e),
        };
        let result = self.act_on_hold(&claim, &detail, &s).await;
        self.release(&claim).await;
        result
    }

    /// What the rule says for `detail`'s hold and the session's cost now.
    async fn hold_decision(
        &self,
        detail: &PaymentDetail,
        s: &Session,
    ) -> Result<Decision, PaymentError> {
        let payment = &detail.payment;
        if payment.state != PaymentState::Authorized
            || payment.session_id != Some(s.id)
            || detail.steps.iter().any(|st| !st.is_finished())
        {
            return Ok(Decision::NotHeld);
        }
        let Some((limits, cost_minor, last_interval_minor)) = self.running_cost(detail, s).await?
        else {
            return Ok(Decision::NotHeld);
        };
        // One increment per crossing: after a refused (or unanswered) one,
        // the gateway is not asked again; the session is stopped.
        let last_increment_refused = detail
            .steps
            .iter()
            .rev()
            .find(|st| st.kind == StepKind::IncrementAuthorization)
            .is_some_and(|st| st.status != StepStatus::Succeeded);
        let supports_increment = self.gateway_of(payment)?.capabilities().supports_increment;
        let reading = HoldReading {
            hold_minor: payment.authorized_minor,
            cost_minor,
            last_interval_minor,
            supports_increment,
        };
        Ok(match decide(&limits, &reading) {
            HoldAction::WithinHold => Decision::Within(HoldCheck::WithinHold {
                hold_minor: payment.authorized_minor,
                cost_minor,
            }),
            action => Decision::Act(action, last_increment_refused),
        })
    }

    /// Carries out the rule's action under the payment's claim, deciding
    /// again from the payment as read under it.
    async fn act_on_hold(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        s: &Session,
    ) -> Result<HoldCheck, PaymentError> {
        let payment = &detail.payment;
        match self.hold_decision(detail, s).await? {
            Decision::NotHeld => Ok(HoldCheck::NotHeld),
            Decision::Within(check) => Ok(check),
            Decision::Act(HoldAction::Increment { .. }, true) => {
                self.stop_for_hold(payment, s, StopReason::IncrementRefused)
                    .await
            }
            Decision::Act(HoldAction::Increment { new_total_minor }, false) => {
                match self.increment_hold(claim, payment, new_total_minor).await {
                    Ok(_) => Ok(HoldCheck::Incremented { new_total_minor }),
                    Err(error) => {
                        tracing::warn!(payment_id = %payment.id, session_id = %s.id, %error,
                            "the hold could not be raised; stopping the session");
                        self.stop_for_hold(payment, s, StopReason::IncrementRefused)
                            .await
                    }
                }
            }
            Decision::Act(HoldAction::Stop(reason), _) => {
                self.stop_for_hold(payment, s, reason).await
            }
            Decision::Act(HoldAction::WithinHold, _) => Ok(HoldCheck::WithinHold {
                hold_minor: payment.authorized_minor,
                cost_minor: 0,
            }),
        }
    }

    /// The hold-limit settings of the session's frozen tariff version, its
    /// running cost now and what its last meter interval cost, in minor
    /// units incl. VAT. `None` without a tariff (nothing can be owed).
    async fn running_cost(
        &self,
        detail: &PaymentDetail,
        s: &Session,
    ) -> Result<Option<(HoldLimits, i64, i64)>, PaymentError> {
        let Some(frozen) = &s.tariff else {
            return Ok(None);
        };
        let Some(tariff) = self
            .ports
            .tariffs
            .get_tariff_version(&frozen.tariff_id, frozen.version)
            .await?
        else {
            return Ok(None);
        };
        let meter_values = self.ports.sessions.session_meter_values(s.id).await?;
        let mut readings: Vec<DateTime<Utc>> = meter_values
            .iter()
            .filter(|m| m.timestamp > s.started_at && m.value.energy_register_wh().is_some())
            .map(|m| m.timestamp)
            .collect();
        readings.sort();
        readings.dedup();
        let now = self.now().max(
            readings
                .last()
                .map_or(s.started_at, |t| *t + Duration::microseconds(1)),
        );
        let statuses = self
            .ports
            .chargers
            .connector_status_range(&s.charger_id, s.connector_id, s.started_at, now)
            .await?;
        let time_zone = charger_time_zone(self.ports.assignments.as_ref(), &s.charger_id).await?;
        let payment = &detail.payment;
        let cost_at = |at: DateTime<Utc>| -> Result<i64, PaymentError> {
            let price = price_session_cost(s, &meter_values, &statuses, &tariff, time_zone, at)
                .map_err(|e| PaymentError::Cost(e.to_string()))?;
            if price.breakdown.currency != payment.currency {
                return Err(PaymentError::Cost(format!(
                    "the session is priced in {}, the hold is in {}",
                    price.breakdown.currency.code(),
                    payment.currency.code()
                )));
            }
            Ok(price.breakdown.total_cost.incl_vat.minor())
        };
        // One microsecond, the stored timestamps' resolution: readings less
        // than a millisecond apart are still told apart (with 1 ms the last
        // interval of two such readings cost 0 and the hold was passed).
        let just_after = |t: DateTime<Utc>| t + Duration::microseconds(1);
        let cost = cost_at(now)?;
        // What the last meter interval added: between the two latest
        // readings (or the start and the only one).
        let last_interval = match readings.as_slice() {
            [] => 0,
            [only] => cost_at(just_after(*only))? - cost_at(s.started_at)?,
            [.., before, last] => cost_at(just_after(*last))? - cost_at(just_after(*before))?,
        };
        let first_hold = detail
            .steps
            .iter()
            .find(|st| st.kind == StepKind::Authorize && st.is_finished())
            .map_or(payment.authorized_minor, |st| st.amount_minor);
        let limits =
            HoldLimits::from_extensions(payment.hold_limit_policy, &tariff.extensions, first_hold);
        Ok(Some((limits, cost, last_interval.max(0))))
    }

    /// Raises the hold to `new_total_minor`: intend, call, finish. A refusal
    /// (or an unknown outcome, left to the recovery worker) is an error.
    async fn increment_hold(
        &self,
        claim: &Claim,
        payment: &Payment,
        new_total_minor: i64,
    ) -> Result<PaymentDetail, PaymentError> {
        let by_minor = new_total_minor - payment.authorized_minor;
        let step = self
            .intend(
                claim,
                payment,
                StepRequest::IncrementAuthorization { by_minor },
            )
            .await?;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let new_total = Money::from_minor(new_total_minor, payment.currency);
        match gateway
            .increment_authorization(&intent, new_total, &step.idempotency_key)
            .await
        {
            Ok(_) => {
                tracing::info!(payment_id = %payment.id, new_total_minor, "hold raised");
                self.finish(
                    claim,
                    &step,
                    StepOutcome::succeeded(Some(intent.as_str().to_owned())),
                )
                .await
            }
            Err(error) => {
                let (code, message) = super::failure_of(&error);
                self.finish_from_error(claim, &step, error).await?;
                Err(PaymentError::GatewayRefused { code, message })
            }
        }
    }

    /// Asks the charger to stop the session, once (see [`STOP_RETRY_S`]).
    async fn stop_for_hold(
        &self,
        payment: &Payment,
        s: &Session,
        reason: StopReason,
    ) -> Result<HoldCheck, PaymentError> {
        let now = self.now();
        if let Some(holds) = &self.holds {
            let retry_before = now - Duration::seconds(STOP_RETRY_S);
            if !holds.claim_hold_stop(payment.id, now, retry_before).await? {
                return Ok(HoldCheck::StopAlreadyRequested(reason));
            }
        }
        let command = ChargerCommand::StopCharging {
            transaction: s.transaction_id,
        };
        let answer = self.ports.commands.send(&s.charger_id, command).await;
        tracing::info!(payment_id = %payment.id, session_id = %s.id, charger_id = %s.charger_id,
            reason = reason.as_str(), answer = ?answer, "hold limit: session stop requested");
        Ok(HoldCheck::StopRequested(reason))
    }

    /// Recovery of an increment left intended: the gateway's intent tells
    /// whether it was applied; otherwise it is repeated with its own key.
    pub(super) async fn recover_increment(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        step: &crate::payments::payment::PaymentStep,
    ) -> Result<(), PaymentError> {
        use crate::payments::gateway::IntentStatus;
        let payment = &detail.payment;
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let target = payment.authorized_minor + step.amount_minor;
        let state = gateway
            .read_intent(&intent)
            .await
            .map_err(|e| PaymentError::GatewayUnavailable(e.to_string()))?;
        let done = StepOutcome::succeeded(Some(intent.as_str().to_owned()));
        match state.status {
            IntentStatus::Authorized { capturable } if capturable.minor() >= target => {
                self.finish(claim, step, done).await?;
            }
            IntentStatus::Authorized { .. } => {
                let total = Money::from_minor(target, payment.currency);
                match gateway
                    .increment_authorization(&intent, total, &step.idempotency_key)
                    .await
                {
                    Ok(_) => {
                        self.finish(claim, step, done).await?;
                    }
                    Err(e) => {
                        self.finish_from_error(claim, step, e).await?;
                    }
                }
            }
            _ => {
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed("not_authorized", "the intent holds nothing to raise"),
                )
                .await?;
            }
        }
        Ok(())
    }
}
