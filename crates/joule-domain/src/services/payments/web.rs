//! The web (QR pay page) flow: create a payment and its hold, confirm the
//! card, remote-start the connector with the payment's own id tag.

use crate::charging::charger::ConnectorStatus;
use crate::charging::token::IdTokenType;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken};
use crate::kernel::language::Language;
use crate::payments::gateway::{
    CardEntryConfirmation, GatewayError, HoldRequest, IntentStatus, SetupRef,
};
use crate::payments::idempotency::IdempotencyKey;
use crate::payments::payment::{
    ClaimOwner, NewPayment, Payment, PaymentChannel, PaymentDetail, PaymentId, PaymentState,
    PaymentStep, ReceiptToken, RemoteStart, StartStatus, StepError, StepKind, StepOutcome,
    StepRequest, StepSuccess, CLAIM_ENTITY,
};
use crate::ports::command::{ChargerCommand, CommandError, CommandReply};
use crate::services::tariff_lookup::tariff_in_force;

use super::{Claim, PaymentError, PaymentService, PaymentStatusView};

/// A web payment waiting for the driver's card.
#[derive(Debug, Clone)]
pub struct WebPaymentCreated {
    pub payment: Payment,
    /// The hold asked for (the payment's `authorized_minor` stays 0 until
    /// the card confirms it).
    pub hold_minor: i64,
    /// For the gateway's hosted fields (Stripe.js) in the browser.
    pub client_secret: String,
    pub publishable_key: Option<String>,
    /// For gateways that take the card apart from the hold (Stripe: a
    /// SetupIntent's client secret for `confirmCardSetup`); the browser
    /// then confirms with [`PaymentService::confirm_with_card_entry`].
    pub card_entry_client_secret: Option<String>,
}

/// The key of the card-entry calls of an Authorize step (`joule:{payment}:authorize:{seq}:card_entry`).
fn card_entry_key(payment: &Payment, step: &PaymentStep, call: &str) -> IdempotencyKey {
    IdempotencyKey::derive(
        payment.id,
        format_args!("{}:{}:{call}", step.kind, step.seq),
    )
}

/// The type of every payment tag (web, QR and terminal): Joule makes them
/// up, which OCPP 2.0.1 and OCPI call a `Central` token.
pub(super) const PAYMENT_TOKEN_TYPE: IdTokenType = IdTokenType::Central;

/// `PAY` and 17 hex digits (68 random bits), so a tag cannot be guessed to
/// start someone else's hold. Twenty characters although an [`IdToken`]
/// holds 36: a payment must start on an OCPP 1.6 charger too, whose `idTag`
/// holds 20.
pub(super) fn payment_id_tag(bytes: [u8; 16]) -> Option<IdToken> {
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    IdToken::parse(&format!("PAY{}", &hex[..17])).ok()
}

impl PaymentService {
    /// Creates a web payment for a connector and a manual-capture hold at
    /// the gateway, sized by the tariff in force (else the default hold).
    /// The Authorize step is intended before the gateway is called and
    /// finished when [`PaymentService::confirm`] sees the hold authorized.
    #[tracing::instrument(skip(self), fields(charger_id = %charger, connector = connector.get()))]
    pub async fn create_web_payment(
        &self,
        charger: &ChargerId,
        connector: ConnectorId,
        language: Option<&str>,
    ) -> Result<WebPaymentCreated, PaymentError> {
        let now = self.now();
        let not_found = || PaymentError::ChargerNotFound(charger.to_string());
        let gateway = self
            .gateways
            .default_gateway()
            .ok_or_else(|| PaymentError::GatewayNotConfigured("none".to_owned()))?
            .clone();
        self.ports
            .chargers
            .get_charger(charger)
            .await?
            .ok_or_else(not_found)?;
        let in_force = tariff_in_force(
            self.ports.assignments.as_ref(),
            charger,
            connector,
            None,
            now,
        )
        .await?
        .filter(|f| f.access.is_publicly_visible())
        .ok_or_else(not_found)?;
        let states = self.ports.chargers.connector_states(charger).await?;
        let free = states.iter().any(|s| {
            s.connector_id == connector
                && matches!(
                    s.status,
                    ConnectorStatus::Available | ConnectorStatus::Preparing
                )
        });
        if !free {
            return Err(PaymentError::ConnectorBusy {
                charger: charger.to_string(),
                connector: connector.get(),
            });
        }
        let no_tariff = || PaymentError::NoTariff(charger.to_string());
        let tariff = in_force.tariff.ok_or_else(no_tariff)?;
        let hold = match tariff.hold_amount() {
            Some(hold) => hold,
            None => self
                .settings
                .default_hold
                .filter(|h| h.currency().code() == tariff.tariff.currency)
                .ok_or_else(no_tariff)?,
        };
        if hold.minor() <= 0 {
            return Err(no_tariff());
        }
        let language = language
            .and_then(Language::supported)
            .or_else(|| in_force.language.as_deref().and_then(Language::supported))
            .unwrap_or_default();
        let id_tag = payment_id_tag(self.ports.random.bytes16()).ok_or_else(no_tariff)?;
        let payment = self
            .ports
            .payments
            .create_payment(NewPayment {
                id: PaymentId::new_v7(),
                channel: PaymentChannel::Web,
                gateway: gateway.name().to_owned(),
                gateway_payment_ref: None,
                currency: hold.currency(),
                card: None,
                charger_id: charger.clone(),
                connector_id: connector,
                account_id: None,
                terminal_id: None,
                // The tariff's rule, snapshotted: the pay page showed it.
                hold_limit_policy: tariff.extensions.hold_limit_policy,
                receipt_token: ReceiptToken::from_random_bytes(self.ports.random.bytes16()),
                language: language.code().to_owned(),
                id_tag: Some(id_tag),
                created_at: now,
            })
            .await?;
        // Nobody else knows the payment yet; the claim keeps the recovery
        // worker off it should the gateway be slow past recovery_after.
        let (claim, _) = self.claim(payment.id, ClaimOwner::Confirm).await?;
        let result = self.create_hold(&claim, &payment, hold, &gateway).await;
        self.release(&claim).await;
        result
    }

    async fn create_hold(
        &self,
        claim: &Claim,
        payment: &Payment,
        hold: crate::kernel::money::Money,
        gateway: &std::sync::Arc<dyn crate::payments::gateway::PaymentGateway>,
    ) -> Result<WebPaymentCreated, PaymentError> {
        let step = self
            .intend(
                claim,
                payment,
                StepRequest::Authorize {
                    amount_minor: hold.minor(),
                },
            )
            .await?;
        let request = HoldRequest {
            amount: hold,
            reference: payment.id.to_string(),
        };
        let created = match gateway.create_hold(&request, &step.idempotency_key).await {
            Ok(created) => {
                // Recorded at once, before any further call: an intent Joule
                // knows is one recovery can cancel.
                self.ports
                    .payments
                    .set_gateway_ref(payment.id, created.intent.as_str(), self.now())
                    .await?;
                gateway
                    .create_card_entry(
                        &payment.id.to_string(),
                        &card_entry_key(payment, &step, "card_entry"),
                    )
                    .await
                    .map(|entry| (created, entry))
            }
            Err(error) => Err(error),
        };
        match created {
            Ok((created, card_entry)) => {
                let payment = self
                    .ports
                    .payments
                    .get_payment(payment.id)
                    .await?
                    .ok_or(PaymentError::PaymentNotFound)?
                    .payment;
                tracing::info!(payment_id = %payment.id, intent = %created.intent, "hold created");
                Ok(WebPaymentCreated {
                    payment,
                    hold_minor: hold.minor(),
                    client_secret: created.client_secret.expose().to_owned(),
                    publishable_key: self.settings.publishable_key.clone(),
                    card_entry_client_secret: card_entry
                        .map(|e| e.client_secret.expose().to_owned()),
                })
            }
            Err(error) => {
                // Nothing is held yet (an intent without a card holds no
                // money, and a card entry is no hold), so the payment fails
                // at once; the driver may try again. An intent already
                // created is cancelled, so no card can be confirmed on it.
                tracing::warn!(payment_id = %payment.id, %error, "creating the hold failed");
                let known = self.ports.payments.get_payment(payment.id).await?;
                match known
                    .as_ref()
                    .and_then(|d| Self::intent_of(&d.payment).ok())
                {
                    Some(intent) => {
                        self.cancel_unconfirmed(gateway, payment, &step, &intent)
                            .await
                    }
                    // The creation's answer was lost: the gateway may have
                    // made the intent all the same.
                    None if error.is_retryable() => {
                        self.cancel_lost_hold(gateway, payment, &step).await
                    }
                    None => {}
                }
                let (code, message) = super::failure_of(&error);
                self.finish(claim, &step, StepOutcome::failed(code, message))
                    .await?;
                Err(PaymentError::GatewayUnavailable(error.to_string()))
            }
        }
    }

    /// The payment behind a public token.
    pub async fn by_token(&self, token: &ReceiptToken) -> Result<Payment, PaymentError> {
        self.ports
            .payments
            .payment_by_receipt_token(token)
            .await?
            .ok_or(PaymentError::PaymentNotFound)
    }

    /// Confirms the hold with a test card, as the browser would with
    /// Stripe.js. Only for a gateway that takes test cards (the simulated
    /// one). A declined card is reported and leaves the payment waiting:
    /// the following confirm records the decline.
    pub async fn enter_test_card(
        &self,
        token: &ReceiptToken,
        card: &str,
    ) -> Result<(), PaymentError> {
        let payment = self.by_token(token).await?;
        let entry = self
            .gateways
            .test_cards(&payment.gateway)
            .ok_or(PaymentError::NotSimulated)?;
        if payment.state != PaymentState::Created {
            return Err(PaymentError::NotConfirmable(
                "the payment is not waiting for a card",
            ));
        }
        let intent = Self::intent_of(&payment)?;
        match entry.confirm_test_card(&intent, card) {
            Ok(_) => Ok(()),
            Err(crate::payments::gateway::GatewayError::Declined { code, message }) => {
                Err(PaymentError::Declined { code, message })
            }
            Err(e) if e.is_retryable() => Err(PaymentError::GatewayUnavailable(e.to_string())),
            Err(e) => {
                let (code, message) = super::failure_of(&e);
                Err(PaymentError::GatewayRefused { code, message })
            }
        }
    }

    /// The driver's browser says the card is confirmed: read the intent at
    /// the gateway, record the Authorize step's outcome, and remote-start
    /// the connector. Idempotent: a payment already past this point is
    /// answered with its status.
    pub async fn confirm(&self, token: &ReceiptToken) -> Result<PaymentStatusView, PaymentError> {
        self.confirm_with_card_entry(token, None).await
    }

    /// [`PaymentService::confirm`], for a card entered through the
    /// gateway's card entry (`setup`, the reference the browser got back):
    /// Joule attaches that card to the hold and confirms the hold from the
    /// server first (an Authorize step's call, with a key derived from
    /// it), then reads the intent as `confirm` does. A decline is recorded
    /// at once; a card that needs 3-D Secure leaves the payment waiting
    /// (409), for the browser to authenticate and confirm again.
    #[tracing::instrument(skip(self, token, setup))]
    pub async fn confirm_with_card_entry(
        &self,
        token: &ReceiptToken,
        setup: Option<&str>,
    ) -> Result<PaymentStatusView, PaymentError> {
        let payment = self.by_token(token).await?;
        match payment.state {
            PaymentState::Created => {}
            PaymentState::Authorized | PaymentState::Captured => return self.status(token).await,
            PaymentState::Voided | PaymentState::Failed => {
                return Err(PaymentError::NotConfirmable(
                    "the payment is closed (failed or voided)",
                ))
            }
        }
        let (claim, detail) = match self.claim(payment.id, ClaimOwner::Confirm).await {
            Ok(claimed) => claimed,
            // Another confirm (a double click), the recovery worker or a
            // webhook is on it right now: it finishes what this one would
            // have done; the status says where it stands. A card entry only
            // this request carries must still be attached: the browser is
            // told to send it again (409 `payment_busy`).
            Err(PaymentError::Busy { .. }) if setup.is_none() => return self.status(token).await,
            Err(e) => return Err(e),
        };
        let result = self.confirm_claimed(&claim, &detail, setup).await;
        self.release(&claim).await;
        result?;
        self.status(token).await
    }

    async fn confirm_claimed(
        &self,
        claim: &Claim,
        detail: &PaymentDetail,
        setup: Option<&str>,
    ) -> Result<(), PaymentError> {
        let payment = &detail.payment;
        match payment.state {
            PaymentState::Created => {}
            // Finished by another actor between our first look and the
            // claim: only a start it did not get to is still ours to send.
            PaymentState::Authorized => return self.remote_start(claim, payment, true).await,
            PaymentState::Captured => return Ok(()),
            PaymentState::Voided | PaymentState::Failed => {
                return Err(PaymentError::NotConfirmable(
                    "the payment is closed (failed or voided)",
                ))
            }
        }
        let Some(step) = open_authorize(&detail.steps) else {
            return Err(PaymentError::NotConfirmable(
                "the payment is not waiting for confirmation",
            ));
        };
        if let Some(setup) = setup {
            self.confirm_card_entry(claim, payment, step, setup).await?;
        }
        match self.settle_authorize(claim, payment, step, false).await? {
            AuthorizeResult::Authorized(p) => self.remote_start(claim, &p, true).await,
            AuthorizeResult::Declined { code, message } => {
                Err(PaymentError::Declined { code, message })
            }
            AuthorizeResult::Pending => Err(PaymentError::NotConfirmable(
                "the card is not confirmed yet",
            )),
        }
    }

    /// Attaches the card entry `setup` to the payment's hold and confirms
    /// it at the gateway. A decline finishes the Authorize step as failed
    /// (the payment fails; nothing is held).
    async fn confirm_card_entry(
        &self,
        claim: &Claim,
        payment: &Payment,
        step: &PaymentStep,
        setup: &str,
    ) -> Result<(), PaymentError> {
        let gateway = self.gateway_of(payment)?.clone();
        let intent = Self::intent_of(payment)?;
        let entry = CardEntryConfirmation {
            setup: SetupRef::parse(setup)
                .map_err(|_| PaymentError::NotConfirmable("not a card entry reference"))?,
            reference: payment.id.to_string(),
        };
        let key = card_entry_key(payment, step, "confirm");
        match gateway
            .confirm_hold_with_card_entry(&intent, &entry, &key)
            .await
        {
            // Read again below, with the card's summary.
            Ok(_) | Err(GatewayError::RequiresAction) => Ok(()),
            Err(GatewayError::Declined { code, message }) => {
                tracing::info!(payment_id = %payment.id, code = %code, "card declined");
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed(code.clone(), message.clone()),
                )
                .await?;
                Err(PaymentError::Declined { code, message })
            }
            Err(e) if e.is_retryable() => Err(PaymentError::GatewayUnavailable(e.to_string())),
            Err(e) => {
                let (code, message) = super::failure_of(&e);
                Err(PaymentError::GatewayRefused { code, message })
            }
        }
    }

    /// Reads the intent of an open Authorize step and records what the
    /// gateway says. `abandon`: cancel an intent still waiting for a card
    /// (the recovery worker, past the card time-out).
    pub(super) async fn settle_authorize(
        &self,
        claim: &Claim,
        payment: &Payment,
        step: &PaymentStep,
        abandon: bool,
    ) -> Result<AuthorizeResult, PaymentError> {
        let gateway = self.gateway_of(payment)?.clone();
        let Ok(intent) = Self::intent_of(payment) else {
            // The hold was never recorded (the process died before the
            // gateway answered): nothing is held, but the intent the
            // gateway may have made is found and cancelled, never left
            // orphaned (nobody got its client secret, so no card is on it).
            if abandon {
                self.cancel_lost_hold(&gateway, payment, step).await;
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed("abandoned", "no hold was created"),
                )
                .await?;
                return Ok(AuthorizeResult::Declined {
                    code: "abandoned".into(),
                    message: "no hold was created".into(),
                });
            }
            return Ok(AuthorizeResult::Pending);
        };
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
        match state.status {
            IntentStatus::Authorized { .. } | IntentStatus::Succeeded { .. } => {
                let outcome = StepOutcome::Succeeded(StepSuccess {
                    gateway_ref: Some(intent.as_str().to_owned()),
                    card: state.card,
                });
                let detail = self.finish(claim, step, outcome).await?;
                tracing::info!(payment_id = %payment.id, "hold authorized");
                Ok(AuthorizeResult::Authorized(Box::new(detail.payment)))
            }
            IntentStatus::Canceled => {
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed("canceled", "the hold was cancelled"),
                )
                .await?;
                Ok(AuthorizeResult::Declined {
                    code: "canceled".into(),
                    message: "the hold was cancelled".into(),
                })
            }
            IntentStatus::RequiresPaymentMethod if state.decline.is_some() || abandon => {
                let (code, message) = match state.decline {
                    Some(d) => (d.code, d.message),
                    None => ("abandoned".into(), "no card was confirmed in time".into()),
                };
                if abandon {
                    self.cancel_unconfirmed(&gateway, payment, step, &intent)
                        .await;
                }
                self.finish(
                    claim,
                    step,
                    StepOutcome::failed(code.clone(), message.clone()),
                )
                .await?;
                tracing::info!(payment_id = %payment.id, code = %code, "hold not authorized");
                Ok(AuthorizeResult::Declined { code, message })
            }
            IntentStatus::RequiresConfirmation
            | IntentStatus::RequiresAction
            | IntentStatus::Processing
                if abandon =>
            {
                self.cancel_unconfirmed(&gateway, payment, step, &intent)
                    .await;
                let (code, message) = ("abandoned", "no card was confirmed in time");
                self.finish(claim, step, StepOutcome::failed(code, message))
                    .await?;
                Ok(AuthorizeResult::Declined {
                    code: code.into(),
                    message: message.into(),
                })
            }
            _ => Ok(AuthorizeResult::Pending),
        }
    }

    /// Finds the intent a lost `create_hold` answer may have made (by the
    /// payment's reference) and cancels it. Best effort: a gateway that
    /// cannot search, or is down, leaves an intent that holds no money.
    async fn cancel_lost_hold(
        &self,
        gateway: &std::sync::Arc<dyn crate::payments::gateway::PaymentGateway>,
        payment: &Payment,
        step: &PaymentStep,
    ) {
        match gateway.find_hold(&payment.id.to_string()).await {
            Ok(Some(intent)) => {
                tracing::info!(payment_id = %payment.id, %intent,
                    "cancelling the intent of a hold whose creation was never recorded");
                // Recorded first: the payment names its intent, and the
                // lost-hold pass does not look for it again.
                if let Err(error) = self
                    .ports
                    .payments
                    .set_gateway_ref(payment.id, intent.as_str(), self.now())
                    .await
                {
                    tracing::warn!(payment_id = %payment.id, %error, "recording a found intent failed");
                }
                self.cancel_unconfirmed(gateway, payment, step, &intent)
                    .await;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(payment_id = %payment.id, %error,
                    "could not look for the intent of a hold whose creation was never recorded");
            }
        }
    }

    /// Cancels an intent nobody confirmed, so a late confirmation in the
    /// browser cannot place a hold Joule no longer tracks.
    pub(super) async fn cancel_unconfirmed(
        &self,
        gateway: &std::sync::Arc<dyn crate::payments::gateway::PaymentGateway>,
        payment: &Payment,
        step: &PaymentStep,
        intent: &crate::payments::gateway::IntentRef,
    ) {
        let key = crate::payments::idempotency::IdempotencyKey::derive(
            payment.id,
            format_args!("{}:{}:abandon", step.kind, step.seq),
        );
        if let Err(error) = gateway.cancel(intent, &key).await {
            tracing::warn!(payment_id = %payment.id, %error, "cancelling an abandoned intent failed");
        }
    }

    /// Asks the charger to start with the payment's id tag, once per hold
    /// (issue 9): every attempt is recorded before it is sent and with its
    /// answer, under the payment's claim, so no second actor starts the
    /// same hold again, and a refusal releases the hold only when no
    /// earlier attempt can have started the charger and no session uses
    /// it. `driver_waiting`: the driver is at the charger (pay page,
    /// terminal), so an offline charger releases the hold at once; the
    /// workers instead wait for it to come back, up to `start_timeout`
    /// (the sweeper then releases the hold).
    #[tracing::instrument(skip(self, claim, payment), fields(payment_id = %payment.id, charger_id = %payment.charger_id))]
    pub(super) async fn remote_start(
        &self,
        claim: &Claim,
        payment: &Payment,
        driver_waiting: bool,
    ) -> Result<(), PaymentError> {
        let Some(tag) = &payment.id_tag else {
            return Ok(());
        };
        if payment.state != PaymentState::Authorized || payment.session_id.is_some() {
            return Ok(());
        }
        let prior = self.ports.payments.remote_start(payment.id).await?;
        if prior.as_ref().is_some_and(|p| !p.may_send_again()) {
            tracing::debug!(status = ?prior.map(|p| p.status), "start already answered; not sent again");
            return Ok(());
        }
        self.record_start(claim, payment, StartStatus::Sending)
            .await?;
        let command = ChargerCommand::StartCharging {
            connector: payment.connector_id,
            id_tag: tag.clone(),
            token_type: PAYMENT_TOKEN_TYPE,
        };
        let answer = self.ports.commands.send(&payment.charger_id, command).await;
        let status = match &answer {
            Ok(CommandReply::Accepted) => StartStatus::Accepted,
            Ok(_) => StartStatus::Refused,
            // Never left Joule: the charger was not connected, or the
            // command could not be sent.
            Err(
                CommandError::Offline(_)
                | CommandError::Busy(_)
                | CommandError::InvalidPayload(_)
                | CommandError::TokenTooLong { .. }
                | CommandError::Unsupported(_),
            ) => StartStatus::Unreachable,
            // The charger answered, with an error: nothing started.
            Err(CommandError::CallError { .. }) => StartStatus::Refused,
            // Sent; whether it arrived is unknown.
            Err(_) => StartStatus::Unanswered,
        };
        let record = self.record_start(claim, payment, status).await?;
        let release = match status {
            StartStatus::Accepted => {
                tracing::info!("remote start accepted");
                return Ok(());
            }
            StartStatus::Refused => !record.may_have_started,
            StartStatus::Unreachable => driver_waiting && !record.may_have_started,
            StartStatus::Sending | StartStatus::Unanswered => false,
        };
        if !release {
            tracing::info!(answer = ?answer, %status, may_have_started = record.may_have_started,
                "remote start not accepted; the hold stays until a session uses it or the sweeper releases it");
            return Ok(());
        }
        tracing::info!(answer = ?answer, %status, "remote start not accepted; releasing the hold");
        match self.void_unused(claim, payment).await {
            Ok(_) => Ok(()),
            // A session started on it after all: it is settled from there.
            Err(PaymentError::Step(StepError::HoldInUse)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn record_start(
        &self,
        claim: &Claim,
        payment: &Payment,
        status: StartStatus,
    ) -> Result<RemoteStart, PaymentError> {
        match self
            .ports
            .payments
            .record_remote_start(payment.id, status, &claim.token, self.now())
            .await
        {
            Ok(r) => Ok(r),
            Err(crate::kernel::error::StoreError::Conflict { entity })
                if entity == CLAIM_ENTITY =>
            {
                Err(PaymentError::ClaimLost)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What the gateway said about a hold being confirmed.
#[derive(Debug)]
pub(super) enum AuthorizeResult {
    Authorized(Box<Payment>),
    Declined { code: String, message: String },
    Pending,
}

/// The Authorize step still open, if any.
pub(super) fn open_authorize(steps: &[PaymentStep]) -> Option<&PaymentStep> {
    steps
        .iter()
        .find(|s| s.kind == StepKind::Authorize && !s.is_finished())
}
