//! The simulated gateway's books and rules: what a strict real gateway
//! refuses, this refuses too (capturing more than the hold or twice,
//! refunding more than was captured, cancelling a captured payment), so
//! that Joule's own guarantees are tested against a gateway that would
//! notice a mistake.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use joule_domain::kernel::money::Money;
use joule_domain::payments::gateway::{
    ClientSecret, CustomerRef, Decline, GatewayError, GatewayEvent, GatewayEventKind, IntentRef,
    IntentState, IntentStatus, PaymentMethodRef, RefundRef, SetupRef, SetupState, SetupStatus,
};

use super::cards::{CardOutcome, TestCard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    RequiresPaymentMethod,
    RequiresAction,
    Authorized,
    Succeeded,
    Canceled,
}

#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub(crate) amount: Money,
    pub(crate) status: Status,
    pub(crate) card: Option<TestCard>,
    pub(crate) decline: Option<Decline>,
    pub(crate) captured: Option<Money>,
    pub(crate) refunded: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) customer: CustomerRef,
    pub(crate) status: SetupStatus,
    pub(crate) payment_method: Option<PaymentMethodRef>,
}

#[derive(Debug, Clone)]
pub(crate) struct Method {
    pub(crate) card: TestCard,
    pub(crate) customer: CustomerRef,
}

fn refused(code: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest {
        code: Some(code.to_owned()),
        message: message.into(),
    }
}

fn unexpected_state(intent: &IntentRef, status: Status) -> GatewayError {
    refused(
        "payment_intent_unexpected_state",
        format!("{intent} is {status:?}"),
    )
}

fn same_currency(a: Money, b: Money) -> Result<(), GatewayError> {
    if a.currency() == b.currency() {
        Ok(())
    } else {
        Err(refused(
            "currency_mismatch",
            format!("{} is not {}", b.currency(), a.currency()),
        ))
    }
}

/// All simulated objects; ids are sequential, so runs are reproducible.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    next_id: u64,
    pub(crate) intents: HashMap<IntentRef, Intent>,
    pub(crate) customers: HashMap<CustomerRef, String>,
    pub(crate) setups: HashMap<SetupRef, Setup>,
    pub(crate) methods: HashMap<PaymentMethodRef, Method>,
    pub(crate) events: Vec<GatewayEvent>,
}

impl Ledger {
    fn next(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("sim_{prefix}_{}", self.next_id)
    }

    fn emit(&mut self, now: DateTime<Utc>, kind: GatewayEventKind) {
        let id = self.next("evt");
        self.events.push(GatewayEvent {
            id,
            created: now,
            kind,
        });
    }

    fn new_ref<T>(
        &mut self,
        prefix: &str,
        parse: fn(String) -> Result<T, joule_domain::payments::gateway::RefError>,
    ) -> Result<T, GatewayError> {
        let raw = self.next(prefix);
        parse(raw).map_err(|e| GatewayError::InvalidResponse {
            message: e.to_string(),
        })
    }

    pub(crate) fn intent(&self, intent: &IntentRef) -> Result<&Intent, GatewayError> {
        self.intents
            .get(intent)
            .ok_or_else(|| refused("resource_missing", format!("no intent {intent}")))
    }

    fn intent_mut(&mut self, intent: &IntentRef) -> Result<&mut Intent, GatewayError> {
        self.intents
            .get_mut(intent)
            .ok_or_else(|| refused("resource_missing", format!("no intent {intent}")))
    }

    pub(crate) fn state(&self, intent: &IntentRef) -> Result<IntentState, GatewayError> {
        let i = self.intent(intent)?;
        let status = match i.status {
            Status::RequiresPaymentMethod => IntentStatus::RequiresPaymentMethod,
            Status::RequiresAction => IntentStatus::RequiresAction,
            Status::Authorized => IntentStatus::Authorized {
                capturable: i.amount,
            },
            Status::Succeeded => IntentStatus::Succeeded {
                received: i.captured,
            },
            Status::Canceled => IntentStatus::Canceled,
        };
        Ok(IntentState {
            intent: intent.clone(),
            status,
            amount: i.amount,
            card: i.card.and_then(|c| c.summary()),
            decline: i.decline.clone(),
        })
    }

    pub(crate) fn create_intent(
        &mut self,
        amount: Money,
    ) -> Result<(IntentRef, ClientSecret), GatewayError> {
        if amount.minor() <= 0 {
            return Err(refused("amount_too_small", "amount must be positive"));
        }
        let intent = self.new_ref("pi", IntentRef::parse)?;
        self.intents.insert(
            intent.clone(),
            Intent {
                amount,
                status: Status::RequiresPaymentMethod,
                card: None,
                decline: None,
                captured: None,
                refunded: 0,
            },
        );
        let secret = ClientSecret::new(format!("{intent}_secret"));
        Ok((intent, secret))
    }

    /// The browser confirming a hold with a test card.
    pub(crate) fn confirm_hold(
        &mut self,
        intent: &IntentRef,
        card: TestCard,
        now: DateTime<Utc>,
    ) -> Result<(), GatewayError> {
        let i = self.intent_mut(intent)?;
        if i.status != Status::RequiresPaymentMethod {
            return Err(unexpected_state(intent, i.status));
        }
        i.card = Some(card);
        i.decline = None;
        match card.outcome {
            CardOutcome::Approve | CardOutcome::ApproveNoIncrement => {
                i.status = Status::Authorized;
                let capturable = i.amount;
                self.emit(
                    now,
                    GatewayEventKind::IntentAuthorized {
                        intent: intent.clone(),
                        capturable,
                    },
                );
                Ok(())
            }
            CardOutcome::RequireAction => {
                i.status = Status::RequiresAction;
                Ok(())
            }
            CardOutcome::Decline { code } => {
                let decline = Decline {
                    code: code.to_owned(),
                    message: "Your card was declined.".to_owned(),
                };
                i.decline = Some(decline.clone());
                self.emit(
                    now,
                    GatewayEventKind::IntentFailed {
                        intent: intent.clone(),
                        decline: Some(decline.clone()),
                    },
                );
                Err(GatewayError::Declined {
                    code: decline.code,
                    message: decline.message,
                })
            }
        }
    }

    /// The cardholder passing (or failing) 3-D Secure in the browser.
    pub(crate) fn complete_action(
        &mut self,
        intent: &IntentRef,
        authenticated: bool,
        now: DateTime<Utc>,
    ) -> Result<(), GatewayError> {
        let i = self.intent_mut(intent)?;
        if i.status != Status::RequiresAction {
            return Err(unexpected_state(intent, i.status));
        }
        if authenticated {
            i.status = Status::Authorized;
            let capturable = i.amount;
            self.emit(
                now,
                GatewayEventKind::IntentAuthorized {
                    intent: intent.clone(),
                    capturable,
                },
            );
        } else {
            let decline = Decline {
                code: "payment_intent_authentication_failure".to_owned(),
                message: "The cardholder did not authenticate.".to_owned(),
            };
            i.status = Status::RequiresPaymentMethod;
            i.decline = Some(decline.clone());
            self.emit(
                now,
                GatewayEventKind::IntentFailed {
                    intent: intent.clone(),
                    decline: Some(decline),
                },
            );
        }
        Ok(())
    }

    pub(crate) fn capture(
        &mut self,
        intent: &IntentRef,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<Money, GatewayError> {
        let i = self.intent_mut(intent)?;
        if i.status != Status::Authorized {
            return Err(unexpected_state(intent, i.status));
        }
        same_currency(i.amount, amount)?;
        if amount.minor() <= 0 {
            return Err(refused("amount_too_small", "capture must be positive"));
        }
        if amount.minor() > i.amount.minor() {
            return Err(refused(
                "amount_too_large",
                format!("cannot capture {amount} of a {} hold", i.amount),
            ));
        }
        i.status = Status::Succeeded;
        i.captured = Some(amount);
        self.emit(
            now,
            GatewayEventKind::IntentSucceeded {
                intent: intent.clone(),
                received: Some(amount),
            },
        );
        Ok(amount)
    }

    pub(crate) fn cancel(
        &mut self,
        intent: &IntentRef,
        now: DateTime<Utc>,
    ) -> Result<(), GatewayError> {
        let i = self.intent_mut(intent)?;
        match i.status {
            Status::RequiresPaymentMethod | Status::RequiresAction | Status::Authorized => {
                i.status = Status::Canceled;
                self.emit(
                    now,
                    GatewayEventKind::IntentCanceled {
                        intent: intent.clone(),
                    },
                );
                Ok(())
            }
            status @ (Status::Succeeded | Status::Canceled) => {
                Err(unexpected_state(intent, status))
            }
        }
    }

    pub(crate) fn refund(
        &mut self,
        intent: &IntentRef,
        amount: Money,
    ) -> Result<RefundRef, GatewayError> {
        let i = self.intent(intent)?;
        let captured = match (i.status, i.captured) {
            (Status::Succeeded, Some(captured)) => captured,
            (status, _) => return Err(unexpected_state(intent, status)),
        };
        same_currency(captured, amount)?;
        if amount.minor() <= 0 {
            return Err(refused("amount_too_small", "refund must be positive"));
        }
        let total = i.refunded.saturating_add(amount.minor());
        if total > captured.minor() {
            return Err(refused(
                "amount_too_large",
                format!(
                    "refunds would total {} minor units of {captured} captured",
                    total
                ),
            ));
        }
        let refund = self.new_ref("re", RefundRef::parse)?;
        self.intent_mut(intent)?.refunded = total;
        Ok(refund)
    }

    pub(crate) fn increment(
        &mut self,
        intent: &IntentRef,
        new_total: Money,
    ) -> Result<Money, GatewayError> {
        let i = self.intent_mut(intent)?;
        if i.status != Status::Authorized {
            return Err(unexpected_state(intent, i.status));
        }
        same_currency(i.amount, new_total)?;
        if i.card
            .is_some_and(|c| c.outcome == CardOutcome::ApproveNoIncrement)
        {
            return Err(GatewayError::Declined {
                code: "card_declined".to_owned(),
                message: "The issuer declined the incremental authorization.".to_owned(),
            });
        }
        if new_total.minor() <= i.amount.minor() {
            return Err(refused(
                "amount_too_small",
                format!("{new_total} does not raise the {} hold", i.amount),
            ));
        }
        i.amount = new_total;
        Ok(new_total)
    }

    pub(crate) fn create_customer(&mut self, reference: &str) -> Result<CustomerRef, GatewayError> {
        let customer = self.new_ref("cus", CustomerRef::parse)?;
        self.customers
            .insert(customer.clone(), reference.to_owned());
        Ok(customer)
    }

    pub(crate) fn create_setup(
        &mut self,
        customer: &CustomerRef,
    ) -> Result<(SetupRef, ClientSecret), GatewayError> {
        if !self.customers.contains_key(customer) {
            return Err(refused(
                "resource_missing",
                format!("no customer {customer}"),
            ));
        }
        let setup = self.new_ref("seti", SetupRef::parse)?;
        self.setups.insert(
            setup.clone(),
            Setup {
                customer: customer.clone(),
                status: SetupStatus::RequiresPaymentMethod,
                payment_method: None,
            },
        );
        let secret = ClientSecret::new(format!("{setup}_secret"));
        Ok((setup, secret))
    }

    pub(crate) fn setup_state(&self, setup: &SetupRef) -> Result<SetupState, GatewayError> {
        let s = self
            .setups
            .get(setup)
            .ok_or_else(|| refused("resource_missing", format!("no setup {setup}")))?;
        Ok(SetupState {
            setup: setup.clone(),
            status: s.status,
            customer: Some(s.customer.clone()),
            payment_method: s.payment_method.clone(),
        })
    }

    /// The browser saving a test card: every test card can be saved (as at
    /// Stripe, a card that declines charges may still be attached).
    pub(crate) fn confirm_setup(
        &mut self,
        setup: &SetupRef,
        card: TestCard,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethodRef, GatewayError> {
        let customer = {
            let s = self
                .setups
                .get(setup)
                .ok_or_else(|| refused("resource_missing", format!("no setup {setup}")))?;
            if s.status != SetupStatus::RequiresPaymentMethod {
                return Err(refused(
                    "setup_intent_unexpected_state",
                    format!("{setup} is {:?}", s.status),
                ));
            }
            s.customer.clone()
        };
        let pm = self.new_ref("pm", PaymentMethodRef::parse)?;
        self.methods.insert(
            pm.clone(),
            Method {
                card,
                customer: customer.clone(),
            },
        );
        if let Some(s) = self.setups.get_mut(setup) {
            s.status = SetupStatus::Succeeded;
            s.payment_method = Some(pm.clone());
        }
        self.emit(
            now,
            GatewayEventKind::SetupSucceeded {
                setup: setup.clone(),
                customer: Some(customer),
                payment_method: Some(pm.clone()),
            },
        );
        Ok(pm)
    }

    /// An off-session charge of a saved card: confirmed and captured at once.
    pub(crate) fn charge(
        &mut self,
        customer: &CustomerRef,
        pm: &PaymentMethodRef,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<IntentRef, GatewayError> {
        let method = self
            .methods
            .get(pm)
            .ok_or_else(|| refused("resource_missing", format!("no payment method {pm}")))?
            .clone();
        if &method.customer != customer {
            return Err(refused(
                "payment_method_not_attached",
                format!("{pm} does not belong to {customer}"),
            ));
        }
        let (intent, _) = self.create_intent(amount)?;
        let i = self.intent_mut(&intent)?;
        i.card = Some(method.card);
        match method.card.outcome {
            CardOutcome::Approve | CardOutcome::ApproveNoIncrement => {
                i.status = Status::Succeeded;
                i.captured = Some(amount);
                self.emit(
                    now,
                    GatewayEventKind::IntentSucceeded {
                        intent: intent.clone(),
                        received: Some(amount),
                    },
                );
                Ok(intent)
            }
            CardOutcome::RequireAction => {
                i.status = Status::RequiresAction;
                Err(GatewayError::RequiresAction)
            }
            CardOutcome::Decline { code } => {
                let decline = Decline {
                    code: code.to_owned(),
                    message: "Your card was declined.".to_owned(),
                };
                i.decline = Some(decline.clone());
                self.emit(
                    now,
                    GatewayEventKind::IntentFailed {
                        intent,
                        decline: Some(decline.clone()),
                    },
                );
                Err(GatewayError::Declined {
                    code: decline.code,
                    message: decline.message,
                })
            }
        }
    }
}
