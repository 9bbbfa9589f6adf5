//! The Stripe objects Joule reads, as far as it reads them, and their
//! conversion to the port's types. Unknown fields are ignored, so newer
//! API versions and localstripe's extra fields both parse.

use joule_domain::kernel::money::Money;
use joule_domain::payments::card::CardSummary;
use joule_domain::payments::gateway::{
    CustomerRef, Decline, GatewayError, IntentRef, IntentState, IntentStatus, PaymentMethodRef,
    SavedPaymentMethod, SetupRef, SetupState, SetupStatus,
};
use serde::Deserialize;

use super::amount::from_stripe;
use super::error::ApiError;

/// A field Stripe returns as an id, or as the object when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

pub(crate) trait HasId {
    fn id(&self) -> &str;
}

impl<T: HasId> Expandable<T> {
    pub(crate) fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(o) => o.id(),
        }
    }

    fn object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(o) => Some(o),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Card {
    brand: String,
    last4: String,
    exp_month: Option<i64>,
    exp_year: Option<i64>,
}

impl Card {
    fn summary(&self) -> Option<CardSummary> {
        CardSummary::new(
            &self.brand,
            &self.last4,
            self.exp_month.and_then(|m| u8::try_from(m).ok()),
            self.exp_year.and_then(|y| u16::try_from(y).ok()),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PaymentMethod {
    id: String,
    customer: Option<Expandable<Customer>>,
    card: Option<Card>,
}

impl HasId for PaymentMethod {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Customer {
    pub(crate) id: String,
}

impl HasId for Customer {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PaymentMethodDetails {
    card: Option<Card>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Charge {
    id: String,
    amount_captured: Option<i64>,
    payment_method_details: Option<PaymentMethodDetails>,
}

impl HasId for Charge {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PaymentIntent {
    pub(crate) id: String,
    status: String,
    amount: i64,
    currency: String,
    amount_capturable: Option<i64>,
    amount_received: Option<i64>,
    pub(crate) client_secret: Option<String>,
    payment_method: Option<Expandable<PaymentMethod>>,
    latest_charge: Option<Expandable<Charge>>,
    last_payment_error: Option<ApiError>,
}

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidResponse {
        message: message.into(),
    }
}

pub(crate) fn intent_ref(id: &str) -> Result<IntentRef, GatewayError> {
    IntentRef::parse(id).map_err(|e| bad(e.to_string()))
}

impl PaymentIntent {
    pub(crate) fn amount(&self) -> Result<Money, GatewayError> {
        from_stripe(self.amount, &self.currency)
    }

    /// What may be captured now: `amount_capturable`, or the whole amount
    /// where the server does not report it (localstripe).
    pub(crate) fn capturable(&self) -> Result<Money, GatewayError> {
        from_stripe(
            self.amount_capturable.unwrap_or(self.amount),
            &self.currency,
        )
    }

    /// What was captured: `amount_received`, else the charge's
    /// `amount_captured` when expanded.
    pub(crate) fn received(&self) -> Result<Option<Money>, GatewayError> {
        let captured = self.amount_received.or_else(|| {
            self.latest_charge
                .as_ref()
                .and_then(|c| c.object())
                .and_then(|c| c.amount_captured)
        });
        captured.map(|a| from_stripe(a, &self.currency)).transpose()
    }

    pub(crate) fn status(&self) -> Result<IntentStatus, GatewayError> {
        Ok(match self.status.as_str() {
            "requires_payment_method" | "requires_source" => IntentStatus::RequiresPaymentMethod,
            "requires_confirmation" => IntentStatus::RequiresConfirmation,
            "requires_action" | "requires_source_action" => IntentStatus::RequiresAction,
            "processing" => IntentStatus::Processing,
            "requires_capture" => IntentStatus::Authorized {
                capturable: self.capturable()?,
            },
            "succeeded" => IntentStatus::Succeeded {
                received: self.received()?,
            },
            "canceled" => IntentStatus::Canceled,
            other => return Err(bad(format!("unknown PaymentIntent status {other:?}"))),
        })
    }

    /// The card from the expanded payment method, else from the charge.
    pub(crate) fn card(&self) -> Option<CardSummary> {
        let from_method = self
            .payment_method
            .as_ref()
            .and_then(|pm| pm.object())
            .and_then(|pm| pm.card.as_ref());
        let from_charge = self
            .latest_charge
            .as_ref()
            .and_then(|c| c.object())
            .and_then(|c| c.payment_method_details.as_ref())
            .and_then(|d| d.card.as_ref());
        from_method.or(from_charge).and_then(Card::summary)
    }

    pub(crate) fn decline(&self) -> Option<Decline> {
        self.last_payment_error.as_ref().map(|e| Decline {
            code: e.decline_reason(),
            message: e.message.clone().unwrap_or_default(),
        })
    }

    pub(crate) fn into_state(self) -> Result<IntentState, GatewayError> {
        Ok(IntentState {
            intent: intent_ref(&self.id)?,
            status: self.status()?,
            amount: self.amount()?,
            card: self.card(),
            decline: self.decline(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SetupIntent {
    pub(crate) id: String,
    status: String,
    customer: Option<Expandable<Customer>>,
    payment_method: Option<Expandable<PaymentMethod>>,
    pub(crate) client_secret: Option<String>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

impl SetupIntent {
    /// The Joule payment a web card entry was created for (its
    /// `metadata[joule_payment]`), if any.
    pub(crate) fn joule_payment(&self) -> Option<&str> {
        self.metadata.get("joule_payment").map(String::as_str)
    }

    /// Whether the card was entered and accepted (`succeeded`).
    pub(crate) fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }

    /// The saved payment method and the customer it is attached to.
    pub(crate) fn method_and_customer(&self) -> Option<(&str, &str)> {
        Some((
            self.payment_method.as_ref()?.id(),
            self.customer.as_ref()?.id(),
        ))
    }

    pub(crate) fn into_state(self) -> Result<SetupState, GatewayError> {
        let status = match self.status.as_str() {
            "requires_payment_method" => SetupStatus::RequiresPaymentMethod,
            "requires_confirmation" => SetupStatus::RequiresConfirmation,
            "requires_action" => SetupStatus::RequiresAction,
            "processing" => SetupStatus::Processing,
            "succeeded" => SetupStatus::Succeeded,
            "canceled" => SetupStatus::Canceled,
            other => return Err(bad(format!("unknown SetupIntent status {other:?}"))),
        };
        Ok(SetupState {
            setup: SetupRef::parse(self.id).map_err(|e| bad(e.to_string()))?,
            status,
            customer: self
                .customer
                .map(|c| CustomerRef::parse(c.id()))
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            payment_method: self
                .payment_method
                .map(|pm| PaymentMethodRef::parse(pm.id()))
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
        })
    }
}

impl PaymentMethod {
    pub(crate) fn into_saved(self) -> Result<SavedPaymentMethod, GatewayError> {
        let card = self.card.as_ref().and_then(Card::summary);
        Ok(SavedPaymentMethod {
            payment_method: PaymentMethodRef::parse(self.id).map_err(|e| bad(e.to_string()))?,
            customer: self
                .customer
                .map(|c| CustomerRef::parse(c.id()))
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            card,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Refund {
    pub(crate) id: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) metadata: std::collections::BTreeMap<String, String>,
}

/// One page of a Stripe list (`GET /v1/refunds`, …).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct List<T> {
    pub(crate) data: Vec<T>,
}

/// A webhook event envelope; `data.object` is read per event type.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Event {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) created: i64,
    pub(crate) data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EventData {
    pub(crate) object: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requires_capture_intent_with_expanded_card_reads_as_authorized() {
        let json = r#"{"id": "pi_1", "object": "payment_intent", "status": "requires_capture",
            "amount": 5000, "amount_capturable": 5000, "amount_received": 0, "currency": "eur",
            "client_secret": "pi_1_secret_x", "capture_method": "manual",
            "payment_method": {"id": "pm_1", "object": "payment_method", "type": "card",
                "customer": null,
                "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}},
            "latest_charge": "ch_1", "last_payment_error": null}"#;
        let pi: PaymentIntent = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let state = pi.into_state().unwrap_or_else(|e| panic!("{e}"));
        let eur =
            joule_domain::kernel::money::Currency::parse("EUR").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            state.status,
            IntentStatus::Authorized {
                capturable: Money::from_minor(5000, eur)
            }
        );
        assert_eq!(
            state.card.map(|c| (c.brand, c.last4)),
            Some(("visa".into(), "4242".into()))
        );
        assert_eq!(state.decline, None);
    }

    #[test]
    fn a_listed_intent_is_recognised_by_customer_and_joule_reference() {
        let json = r#"{"object": "list", "has_more": false, "data": [
            {"id": "pi_a", "status": "succeeded", "amount": 300, "currency": "eur",
             "customer": "cus_1", "metadata": {"joule_payment": "p-1"}},
            {"id": "pi_b", "status": "requires_payment_method", "amount": 300, "currency": "eur",
             "customer": {"id": "cus_2", "object": "customer"}, "metadata": {"joule_payment": "p-1"},
             "last_payment_error": {"type": "card_error", "code": "card_declined", "message": "no"}},
            {"id": "pi_c", "status": "succeeded", "amount": 300, "currency": "eur",
             "customer": null, "metadata": {}}]}"#;
        let list: IntentList = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let found: Vec<_> = list
            .data
            .iter()
            .map(|i| {
                (
                    i.intent.id.as_str(),
                    i.is_charge_of("cus_1", "p-1"),
                    i.is_charge_of("cus_2", "p-1"),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("pi_a", true, false),
                ("pi_b", false, true),
                ("pi_c", false, false)
            ]
        );
        let declined = list.data[1]
            .intent
            .clone()
            .into_state()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            declined.decline.map(|d| d.code).as_deref(),
            Some("card_declined")
        );
    }

    #[test]
    fn a_declined_intent_keeps_the_decline() {
        let json = r#"{"id": "pi_2", "status": "requires_payment_method", "amount": 100,
            "currency": "usd", "payment_method": null,
            "last_payment_error": {"type": "card_error", "code": "card_declined",
                "decline_code": "generic_decline", "message": "Your card was declined."}}"#;
        let pi: PaymentIntent = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let state = pi.into_state().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(
            state.decline.map(|d| d.code),
            Some("generic_decline".into())
        );
    }

    #[test]
    fn an_unknown_status_is_an_invalid_response() {
        let json = r#"{"id": "pi_3", "status": "teleported", "amount": 1, "currency": "eur"}"#;
        let pi: PaymentIntent = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            pi.into_state(),
            Err(GatewayError::InvalidResponse { .. })
        ));
    }
}

/// A page of `GET /v1/payment_intents`, with what is needed to recognise
/// Joule's own off-session charge: its customer and `metadata.joule_payment`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IntentList {
    pub(crate) data: Vec<ListedIntent>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListedIntent {
    pub(crate) customer: Option<Expandable<Customer>>,
    #[serde(default)]
    pub(crate) metadata: std::collections::HashMap<String, String>,
    #[serde(flatten)]
    pub(crate) intent: PaymentIntent,
}

impl ListedIntent {
    /// Whether this is the charge of Joule payment `reference` on `customer`.
    pub(crate) fn is_charge_of(&self, customer: &str, reference: &str) -> bool {
        self.customer.as_ref().map(|c| c.id()) == Some(customer)
            && self.metadata.get("joule_payment").map(String::as_str) == Some(reference)
    }
}
