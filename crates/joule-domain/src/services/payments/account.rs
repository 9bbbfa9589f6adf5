//! Driver accounts (docs/payments.md, "Accounts"): saving a card
//! (customer + SetupIntent, confirmed in the driver's browser), charging
//! each ended session off-session, debt when the card is declined, and
//! settling the debt later.
//!
//! The charge of a session is one ledger line per session
//! ([`AccountCharge`]), written in the same transaction as its payment, so
//! the outbox consumer and the sweeper can both look at an ended session
//! and it is still charged once. The charge itself follows the three beats
//! of every gateway call (intend → call → finish); an outage leaves the
//! step intended for the recovery worker and the line `pending`, which is
//! not debt: the driver is only ever blocked by a declined charge.

use std::sync::Arc;

use crate::charging::session::SessionState;
use crate::kernel::ids::SessionId;
use crate::kernel::money::Money;
use crate::payments::account::{
    Account, AccountCharge, AccountId, CardSetup, ChargeStatus, NewAccountCharge, StoredCard,
};
use crate::payments::gateway::{
    CustomerRef, CustomerRequest, Decline, GatewayError, IntentState, IntentStatus,
    OffSessionCharge, PaymentGateway, PaymentMethodRef, SetupRef, SetupStatus,
};
use crate::payments::idempotency::IdempotencyKey;
use crate::payments::payment::{
    ClaimOwner, NewPayment, Payment, PaymentChannel, PaymentDetail, PaymentId, PaymentState,
    PaymentStep, ReceiptToken, StepKind, StepOutcome, StepRequest, StepSuccess,
};
use crate::ports::store::AccountStore;
use crate::pricing::HoldLimitPolicy;

use super::{Claim, PaymentError, PaymentService};

/// How many lines one sweeper pass handles.
const BATCH: u32 = 50;

/// A card-saving request ready for the driver.
#[derive(Debug, Clone)]
pub struct CardSetupStarted {
    pub setup: CardSetup,
    /// The driver-facing page that saves the card.
    pub page_url: String,
}

/// What one account sweeper pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountPassReport {
    /// Ended sessions found without a charge and charged now.
    pub charged: u32,
    /// Pending lines brought in line with their payment.
    pub reconciled: u32,
    pub failed: u32,
}

fn hex16(bytes: [u8; 16]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(32);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A gateway error of an account operation that has no step of its own
/// (customer, setup, reads).
fn gateway_error(error: GatewayError) -> PaymentError {
    match error {
        e if e.is_retryable() => PaymentError::GatewayUnavailable(e.to_string()),
        GatewayError::Declined { code, message } => PaymentError::Declined { code, message },
        e => {
            let (code, message) = super::failure_of(&e);
            PaymentError::GatewayRefused { code, message }
        }
    }
}

fn bad_ref(e: crate::payments::gateway::RefError) -> PaymentError {
    PaymentError::GatewayRefused {
        code: "invalid_reference".to_owned(),
        message: e.to_string(),
    }
}

impl PaymentService {
    fn account_store(&self) -> Result<&Arc<dyn AccountStore>, PaymentError> {
        self.accounts.as_ref().ok_or(PaymentError::AccountNotFound)
    }

    async fn account(&self, id: AccountId) -> Result<Account, PaymentError> {
        self.account_store()?
            .get_account(id)
            .await?
            .ok_or(PaymentError::AccountNotFound)
    }

    /// Starts saving a card: the account's customer at the gateway (created
    /// once, with a key derived from the account), then a new SetupIntent
    /// and the link of the page where the driver enters the card.
    #[tracing::instrument(skip(self))]
    pub async fn start_card_setup(&self, id: AccountId) -> Result<CardSetupStarted, PaymentError> {
        let accounts = self.account_store()?.clone();
        let account = self.account(id).await?;
        let gateway = self
            .gateways
            .default_gateway()
            .ok_or_else(|| PaymentError::GatewayNotConfigured("(none)".to_owned()))?
            .clone();
        let customer = match &account.customer {
            Some((gw, c)) if gw == gateway.name() => {
                CustomerRef::parse(c.as_str()).map_err(bad_ref)?
            }
            _ => {
                let key = IdempotencyKey::derive(id, format_args!("customer:{}", gateway.name()));
                let created = gateway
                    .create_customer(
                        &CustomerRequest {
                            reference: id.to_string(),
                            email: Some(account.email.clone()),
                        },
                        &key,
                    )
                    .await
                    .map_err(gateway_error)?;
                let stored = accounts
                    .set_account_customer(id, gateway.name(), created.as_str(), self.now())
                    .await?;
                let (_, c) = stored.customer.ok_or(PaymentError::AccountNotFound)?;
                tracing::info!(account_id = %id, customer = %c, "gateway customer recorded");
                CustomerRef::parse(c).map_err(bad_ref)?
            }
        };
        let token = hex16(self.ports.random.bytes16());
        let key = IdempotencyKey::derive(id, format_args!("setup:{token}"));
        let created = gateway
            .create_setup(&customer, &key)
            .await
            .map_err(gateway_error)?;
        let setup = accounts
            .create_card_setup(CardSetup {
                token,
                account_id: id,
                gateway: gateway.name().to_owned(),
                setup_ref: created.setup.to_string(),
                client_secret: created.client_secret,
                created_at: self.now(),
                completed_at: None,
            })
            .await?;
        tracing::info!(account_id = %id, setup = %setup.setup_ref, "card setup started");
        let page_url = self.card_page_url(&setup.token);
        Ok(CardSetupStarted { setup, page_url })
    }

    /// The driver-facing page of a card setup.
    pub fn card_page_url(&self, token: &str) -> String {
        format!("{}/accounts/card/{token}", self.settings.public_base_url)
    }

    /// A card setup by its page token, with its account.
    pub async fn card_setup(&self, token: &str) -> Result<(CardSetup, Account), PaymentError> {
        let setup = self
            .account_store()?
            .card_setup(token)
            .await?
            .ok_or(PaymentError::CardSetupNotFound)?;
        let account = self.account(setup.account_id).await?;
        Ok((setup, account))
    }

    /// The page's callback (and the webhook's): reads the SetupIntent and,
    /// once the card is saved, stores its reference, brand, last 4 and
    /// expiry on the account. Safe to repeat.
    #[tracing::instrument(skip(self, token))]
    pub async fn complete_card_setup(&self, token: &str) -> Result<Account, PaymentError> {
        let (setup, account) = self.card_setup(token).await?;
        let gateway = self
            .gateways
            .get(&setup.gateway)
            .ok_or_else(|| PaymentError::GatewayNotConfigured(setup.gateway.clone()))?
            .clone();
        let setup_ref = SetupRef::parse(setup.setup_ref.as_str()).map_err(bad_ref)?;
        let state = gateway
            .read_setup(&setup_ref)
            .await
            .map_err(gateway_error)?;
        let pm = match (state.status, state.payment_method) {
            (SetupStatus::Succeeded, Some(pm)) => pm,
            _ => {
                return Err(PaymentError::NotConfirmable(
                    "the card has not been saved at the gateway",
                ))
            }
        };
        let saved = gateway
            .read_payment_method(&pm)
            .await
            .map_err(gateway_error)?;
        let summary = saved.card.ok_or_else(|| PaymentError::GatewayRefused {
            code: "not_a_card".to_owned(),
            message: "the saved payment method is not a card".to_owned(),
        })?;
        let customer_ref = state
            .customer
            .or(saved.customer)
            .map(|c| c.to_string())
            .or_else(|| account.customer.as_ref().map(|(_, c)| c.clone()))
            .ok_or(PaymentError::NoCard)?;
        let account = self
            .account_store()?
            .save_account_card(
                token,
                StoredCard {
                    gateway: setup.gateway.clone(),
                    customer_ref,
                    payment_method_ref: pm.to_string(),
                    summary,
                    saved_at: self.now(),
                },
                self.now(),
            )
            .await?;
        tracing::info!(account_id = %account.id, "card saved on the account");
        Ok(account)
    }

    /// The simulated gateway's stand-in for Stripe.js on the card page:
    /// saves a test card, then completes the setup.
    pub async fn enter_test_setup_card(
        &self,
        token: &str,
        card: &str,
    ) -> Result<Account, PaymentError> {
        let (setup, _) = self.card_setup(token).await?;
        let entry = self
            .gateways
            .test_cards(&setup.gateway)
            .ok_or(PaymentError::NotSimulated)?;
        let setup_ref = SetupRef::parse(setup.setup_ref.as_str()).map_err(bad_ref)?;
        entry
            .confirm_test_setup(&setup_ref, card)
            .map_err(gateway_error)?;
        self.complete_card_setup(token).await
    }

    /// A verified `setup_intent.succeeded` webhook: completes the setup it
    /// names, if Joule started it.
    pub(super) async fn on_setup_succeeded(
        &self,
        gateway: &str,
        setup: &SetupRef,
    ) -> Result<(), PaymentError> {
        let Some(accounts) = &self.accounts else {
            return Ok(());
        };
        let Some(found) = accounts.card_setup_by_ref(gateway, setup.as_str()).await? else {
            tracing::info!(setup = %setup, "webhook for a setup Joule does not know");
            return Ok(());
        };
        self.complete_card_setup(&found.token).await.map(|_| ())
    }

    /// A session ended (or the sweeper found it uncharged): when it belongs
    /// to an account, record its charge and charge the saved card
    /// off-session. `None` when the session is not an account's or its
    /// cost is not final yet (the sweeper comes back). A gateway outage
    /// leaves the line `pending` and the step to the recovery worker.
    #[tracing::instrument(skip(self))]
    pub async fn settle_account_session(
        &self,
        session: SessionId,
    ) -> Result<Option<AccountCharge>, PaymentError> {
        let Some(accounts) = self.accounts.clone() else {
            return Ok(None);
        };
        if let Some(line) = accounts.account_charge(session).await? {
            return self.continue_charge(line).await.map(Some);
        }
        let Some(account_id) = accounts.account_for_session(session).await? else {
            return Ok(None);
        };
        if self
            .ports
            .payments
            .payment_for_session(session)
            .await?
            .is_some()
        {
            // Paid another way (a web or terminal payment).
            return Ok(None);
        }
        let Some(s) = self.ports.sessions.get_session(session).await? else {
            return Ok(None);
        };
        if s.state != SessionState::Ended {
            return Ok(None);
        }
        let account = self.account(account_id).await?;
        let cost = crate::services::session_cost::session_cost_now(
            self.ports.tariffs.as_ref(),
            self.ports.chargers.as_ref(),
            self.ports.assignments.as_ref(),
            &s,
            &self.ports.sessions.session_meter_values(s.id).await?,
            self.now(),
        )
        .await?;
        let (amount_minor, currency) = match &cost {
            None => (0, account.currency),
            Some(c) if !c.is_final => return Ok(None),
            Some(c) => (c.incl_vat_minor().max(0), c.price.breakdown.currency),
        };
        let now = self.now();
        let payment = (amount_minor > 0).then(|| NewPayment {
            id: PaymentId::new_v7(),
            channel: PaymentChannel::Account,
            gateway: self.account_gateway_name(&account),
            gateway_payment_ref: None,
            currency,
            card: account.card.as_ref().map(|c| c.summary.clone()),
            charger_id: s.charger_id.clone(),
            connector_id: s.connector_id,
            account_id: Some(account.id.to_string()),
            terminal_id: None,
            hold_limit_policy: HoldLimitPolicy::StopSession,
            receipt_token: ReceiptToken::from_random_bytes(self.ports.random.bytes16()),
            language: account.language.as_str().to_owned(),
            id_tag: None,
            created_at: now,
        });
        let (line, created) = accounts
            .begin_account_charge(
                NewAccountCharge {
                    session_id: session,
                    account_id,
                    amount_minor,
                    currency,
                    created_at: now,
                },
                payment,
            )
            .await?;
        if created {
            tracing::info!(account_id = %account_id, amount_minor, payment_id = ?line.payment_id,
                "session charged to the account");
            self.email_receipt_to(&account.email, line.payment_id).await;
        }
        self.continue_charge(line).await.map(Some)
    }

    /// The gateway an account's payments go through: the card's, else the
    /// configured one (the charge then fails as "no saved card").
    fn account_gateway_name(&self, account: &Account) -> String {
        match &account.card {
            Some(card) => card.gateway.clone(),
            None => self
                .gateways
                .default_gateway()
                .map_or("none", |g| g.name())
                .to_owned(),
        }
    }

    /// Moves a `pending` line on: charges its payment when no step was
    /// made yet, records the outcome of a finished one, and leaves an open
    /// step to the recovery worker.
    async fn continue_charge(&self, line: AccountCharge) -> Result<AccountCharge, PaymentError> {
        let accounts = self.account_store()?.clone();
        if line.status != ChargeStatus::Pending {
            return Ok(line);
        }
        let Some(payment_id) = line.payment_id else {
            return Ok(accounts
                .set_account_charge_status(line.session_id, ChargeStatus::Paid, self.now())
                .await?);
        };
        let mut detail = self
            .ports
            .payments
            .get_payment(payment_id)
            .await?
            .ok_or(PaymentError::PaymentNotFound)?;
        if detail.payment.state == PaymentState::Created && detail.steps.is_empty() {
            let (claim, claimed) = match self.claim(payment_id, ClaimOwner::AccountCharge).await {
                Ok(claimed) => claimed,
                // Another actor is charging it right now.
                Err(PaymentError::Busy { .. }) => return Ok(line),
                Err(e) => return Err(e),
            };
            let charged =
                if claimed.payment.state == PaymentState::Created && claimed.steps.is_empty() {
                    self.charge_account_payment(&claim, &claimed.payment, line.amount_minor)
                        .await
                } else {
                    Ok(claimed)
                };
            self.release(&claim).await;
            match charged {
                Ok(d) => detail = d,
                Err(PaymentError::GatewayUnavailable(error)) => {
                    tracing::warn!(payment_id = %payment_id, %error,
                        "account charge outcome unknown; the recovery worker retries it");
                    return Ok(line);
                }
                Err(e) => return Err(e),
            }
        }
        let status = match detail.payment.state {
            PaymentState::Captured => ChargeStatus::Paid,
            PaymentState::Failed => ChargeStatus::Debt,
            _ => return Ok(line),
        };
        let line = accounts
            .set_account_charge_status(line.session_id, status, self.now())
            .await?;
        match status {
            ChargeStatus::Debt => tracing::warn!(account_id = %line.account_id,
                session_id = %line.session_id, payment_id = %payment_id,
                amount_minor = line.amount_minor, "account charge declined: recorded as debt"),
            _ => tracing::info!(account_id = %line.account_id, session_id = %line.session_id,
                payment_id = %payment_id, "account charge paid"),
        }
        Ok(line)
    }

    /// Intends the off-session charge of `amount_minor`, calls the gateway
    /// with the step's key, and finishes the step. An account without a
    /// saved card fails the step without calling the gateway.
    #[tracing::instrument(skip(self, payment), fields(payment_id = %payment.id))]
    async fn charge_account_payment(
        &self,
        claim: &Claim,
        payment: &Payment,
        amount_minor: i64,
    ) -> Result<PaymentDetail, PaymentError> {
        let step = self
            .intend(
                claim,
                payment,
                StepRequest::ChargeOffSession { amount_minor },
            )
            .await?;
        self.call_charge_off_session(claim, payment, &step).await
    }

    /// The gateway call of an intended off-session charge, and its finish:
    /// the first attempt and the recovery worker's repeat (same key).
    async fn call_charge_off_session(
        &self,
        claim: &Claim,
        payment: &Payment,
        step: &PaymentStep,
    ) -> Result<PaymentDetail, PaymentError> {
        let Some(card) = self.card_of(payment).await? else {
            return self
                .finish(
                    claim,
                    step,
                    StepOutcome::failed("no_saved_card", "the account has no saved card"),
                )
                .await;
        };
        let gateway = self.gateway_of(payment)?.clone();
        let charge = OffSessionCharge {
            customer: CustomerRef::parse(card.customer_ref.as_str()).map_err(bad_ref)?,
            payment_method: PaymentMethodRef::parse(card.payment_method_ref.as_str())
                .map_err(bad_ref)?,
            amount: Money::from_minor(step.amount_minor, payment.currency),
            reference: payment.id.to_string(),
        };
        match charge_with(gateway.as_ref(), &charge, step).await {
            Ok(outcome) => self.finish(claim, step, outcome).await,
            Err(e) => self.finish_from_error(claim, step, e).await,
        }
    }

    /// The recovery worker's part: an off-session charge left intended
    /// (crash, time-out, outage) is repeated with the step's own
    /// idempotency key, which a gateway honouring keys answers with the
    /// first charge (docs/payments.md, "Accounts": localstripe does not).
    pub(super) async fn recover_charge_off_session(
        &self,
        claim: &Claim,
        payment: &Payment,
        step: &PaymentStep,
    ) -> Result<(), PaymentError> {
        debug_assert_eq!(step.kind, StepKind::ChargeOffSession);
        if let Some(card) = self.card_of(payment).await? {
            // Read first: the charge may have gone through before the
            // answer was lost (localstripe ignores keys).
            let gateway = self.gateway_of(payment)?.clone();
            let customer = CustomerRef::parse(card.customer_ref.as_str()).map_err(bad_ref)?;
            match gateway
                .find_off_session_charge(&customer, &payment.id.to_string())
                .await
            {
                Ok(Some(found)) => return self.record_found_charge(claim, step, found).await,
                Ok(None) | Err(GatewayError::Unsupported { .. }) => {}
                Err(e) => return Err(PaymentError::GatewayUnavailable(e.to_string())),
            }
        }
        self.call_charge_off_session(claim, payment, step).await?;
        Ok(())
    }

    /// Finishes an off-session charge from what the gateway shows of it.
    /// A charge still in flight is left for the next pass.
    async fn record_found_charge(
        &self,
        claim: &Claim,
        step: &PaymentStep,
        found: IntentState,
    ) -> Result<(), PaymentError> {
        let outcome = match found.status {
            IntentStatus::Succeeded { .. } => {
                tracing::info!(intent = %found.intent, "the gateway had charged; recording it");
                StepOutcome::Succeeded(StepSuccess {
                    gateway_ref: Some(found.intent.to_string()),
                    card: found.card,
                })
            }
            IntentStatus::RequiresPaymentMethod | IntentStatus::Canceled => {
                let d = found.decline.unwrap_or(Decline {
                    code: "card_declined".to_owned(),
                    message: "the gateway shows the charge as not paid".to_owned(),
                });
                StepOutcome::failed(d.code, d.message)
            }
            IntentStatus::RequiresAction => StepOutcome::failed(
                "requires_action",
                "the cardholder must authenticate this payment",
            ),
            IntentStatus::Processing
            | IntentStatus::RequiresConfirmation
            | IntentStatus::Authorized { .. } => return Ok(()),
        };
        self.finish(claim, step, outcome).await?;
        Ok(())
    }

    /// The account's card, when it is still the one of this payment's
    /// gateway.
    async fn card_of(&self, payment: &Payment) -> Result<Option<StoredCard>, PaymentError> {
        let Some(Ok(id)) = payment.account_id.as_deref().map(AccountId::parse) else {
            return Ok(None);
        };
        Ok(self
            .account(id)
            .await?
            .card
            .filter(|c| c.gateway == payment.gateway))
    }

    /// Retries every debt of the account against its current card (after
    /// the driver saved a new one, say). Returns the lines it touched:
    /// `paid` when settled, `debt` when declined again, `pending` when the
    /// gateway's answer is unknown (the recovery worker finishes it).
    #[tracing::instrument(skip(self))]
    pub async fn settle_account_debt(
        &self,
        id: AccountId,
    ) -> Result<Vec<AccountCharge>, PaymentError> {
        let accounts = self.account_store()?.clone();
        let account = self.account(id).await?;
        if account.card.is_none() {
            return Err(PaymentError::NoCard);
        }
        let mut out = Vec::new();
        for line in accounts.account_debts(id).await? {
            let line = match line.status {
                ChargeStatus::Debt => {
                    let Some(s) = self.ports.sessions.get_session(line.session_id).await? else {
                        continue;
                    };
                    let payment = NewPayment {
                        id: PaymentId::new_v7(),
                        channel: PaymentChannel::Account,
                        gateway: self.account_gateway_name(&account),
                        gateway_payment_ref: None,
                        currency: line.currency,
                        card: account.card.as_ref().map(|c| c.summary.clone()),
                        charger_id: s.charger_id.clone(),
                        connector_id: s.connector_id,
                        account_id: Some(account.id.to_string()),
                        terminal_id: None,
                        hold_limit_policy: HoldLimitPolicy::StopSession,
                        receipt_token: ReceiptToken::from_random_bytes(self.ports.random.bytes16()),
                        language: account.language.as_str().to_owned(),
                        id_tag: None,
                        created_at: self.now(),
                    };
                    match accounts
                        .retry_account_charge(line.session_id, payment)
                        .await?
                    {
                        Some(line) => line,
                        None => continue,
                    }
                }
                ChargeStatus::Pending | ChargeStatus::Paid => line,
            };
            out.push(self.continue_charge(line).await?);
        }
        Ok(out)
    }

    /// One account sweeper pass: ended sessions of accounts that have no
    /// charge yet are charged (the outbox consumer's safety net), and
    /// pending lines are brought in line with their payment (after the
    /// recovery worker finished its step, or a crash between the payment's
    /// finish and the line's update).
    pub async fn sweep_accounts(&self) -> Result<AccountPassReport, PaymentError> {
        let Some(accounts) = self.accounts.clone() else {
            return Ok(AccountPassReport::default());
        };
        let mut report = AccountPassReport::default();
        let ended_before = self.now() - self.settings.recovery_after;
        for session in accounts
            .uncharged_account_sessions(ended_before, BATCH)
            .await?
        {
            match self.settle_account_session(session).await {
                Ok(Some(_)) => report.charged += 1,
                Ok(None) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(session_id = %session, %error, "charging an account session failed");
                }
            }
        }
        for line in accounts.pending_account_charges(BATCH).await? {
            let session = line.session_id;
            match self.continue_charge(line).await {
                Ok(l) if l.status != ChargeStatus::Pending => report.reconciled += 1,
                Ok(_) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(session_id = %session, %error, "reconciling an account charge failed");
                }
            }
        }
        Ok(report)
    }
}

/// One off-session charge: the gateway's answer as a step outcome (the
/// PaymentIntent as the step's reference, the card as the gateway saw it).
async fn charge_with(
    gateway: &dyn PaymentGateway,
    charge: &OffSessionCharge,
    step: &PaymentStep,
) -> Result<StepOutcome, GatewayError> {
    let charged = gateway
        .charge_off_session(charge, &step.idempotency_key)
        .await?;
    Ok(StepOutcome::Succeeded(StepSuccess {
        gateway_ref: Some(charged.intent.to_string()),
        card: charged.card,
    }))
}

impl PaymentService {
    /// Puts down the account's address for the receipt of its charge, before
    /// the charge is made, so the email follows the capture. A bad stored
    /// address or a store error costs the email, never the charge.
    async fn email_receipt_to(
        &self,
        address: &str,
        payment: Option<crate::payments::payment::PaymentId>,
    ) {
        let (Some(store), Some(payment)) = (&self.receipt_emails, payment) else {
            return;
        };
        let Ok(address) = crate::receipts::email::EmailAddress::parse(address) else {
            tracing::warn!(payment_id = %payment, "the account's email address is not usable; no receipt email");
            return;
        };
        if let Err(error) = store.set_receipt_email(payment, &address, self.now()).await {
            tracing::warn!(payment_id = %payment, %error, "recording the receipt address failed");
        }
    }
}
