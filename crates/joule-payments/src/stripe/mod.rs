//! The Stripe adapter: PaymentIntents with manual capture for holds,
//! SetupIntents and off-session PaymentIntents for accounts, signed webhooks
//! — over Stripe's REST API (form-encoded POSTs, Bearer secret key,
//! `Idempotency-Key` on every POST).
//!
//! Logging: each call logs its operation, the gateway references, the
//! idempotency key, the HTTP status and Stripe's `Request-Id`; never a
//! request or response body and never the secret key. No body Joule sends
//! can hold card data: cards are confirmed in the browser with Stripe.js.

mod amount;
mod config;
mod error;
mod form;
mod webhook;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::kernel::money::Money;
use joule_domain::payments::gateway::{
    Capabilities, Captured, CardEntryConfirmation, Charged, ClientSecret, CustomerRef,
    CustomerRequest, GatewayError, GatewayEvent, HoldCreated, HoldRequest, Incremented, IntentRef,
    IntentState, IntentStatus, OffSessionCharge, PaymentGateway, PaymentMethodRef, RefundRef,
    Refunded, SavedPaymentMethod, SetupCreated, SetupRef, SetupState, WebhookPayload,
};
use joule_domain::payments::idempotency::IdempotencyKey;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

pub use config::{StripeConfig, DEFAULT_API_VERSION};

use crate::secret::Secret;
use crate::ConfigError;
use amount::{currency_param, from_stripe, to_stripe};
use form::{encode_component, Form};
use wire::{
    intent_ref, Customer, IntentList, List, PaymentIntent, PaymentMethod, Refund, SetupIntent,
};

/// Talks to one Stripe account.
#[derive(Debug)]
pub struct StripeGateway {
    http: reqwest::Client,
    base: String,
    secret_key: Secret,
    webhook_secret: Secret,
    webhook_tolerance: Duration,
    supports_increment: bool,
    api_version: String,
}

impl StripeGateway {
    /// Checks the configuration (a real key shape, HTTPS except on
    /// loopback) and builds the HTTP client with the request timeout.
    pub fn new(config: StripeConfig) -> Result<Self, ConfigError> {
        let url = Url::parse(&config.base_url)
            .map_err(|e| ConfigError::Invalid(format!("stripe base_url: {e}")))?;
        let loopback = matches!(
            url.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        );
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(ConfigError::Invalid(
                "stripe base_url must be https (http only for a loopback test server)".into(),
            ));
        }
        let key = config.secret_key.expose();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) || key.len() < 8 {
            return Err(ConfigError::Invalid(
                "stripe secret_key must be a secret (sk_…) or restricted (rk_…) key".into(),
            ));
        }
        if config.webhook_secret.expose().is_empty() {
            return Err(ConfigError::Invalid(
                "stripe webhook_secret must be set (the endpoint's signing secret)".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout())
            .connect_timeout(config.request_timeout().min(Duration::from_secs(10)))
            .user_agent(concat!("joule/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: config.base_url.trim_end_matches('/').to_owned(),
            webhook_tolerance: config.webhook_tolerance(),
            supports_increment: config.supports_increment,
            api_version: config.api_version,
            secret_key: config.secret_key,
            webhook_secret: config.webhook_secret,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        form: Form,
        key: &IdempotencyKey,
    ) -> Result<T, GatewayError> {
        let request = self
            .http
            .request(Method::POST, self.url(path))
            .header("Idempotency-Key", key.as_str())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.encode());
        self.send(operation, request).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, GatewayError> {
        let request = self.http.request(Method::GET, self.url(path)).query(query);
        self.send(operation, request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, GatewayError> {
        let response = request
            .bearer_auth(self.secret_key.expose())
            .header("Stripe-Version", &self.api_version)
            .send()
            .await
            .map_err(|e| {
                let err = error::from_transport(&e);
                tracing::warn!(operation, error = %err, "stripe request failed");
                err
            })?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response
            .bytes()
            .await
            .map_err(|e| error::from_transport(&e))?;
        if !(200..300).contains(&status) {
            let err = error::from_status(status, &body);
            tracing::warn!(operation, status, request_id, error = %err, "stripe refused");
            return Err(err);
        }
        tracing::debug!(operation, status, request_id, "stripe answered");
        serde_json::from_slice(&body).map_err(|e| GatewayError::InvalidResponse {
            message: format!("{operation}: {e}"),
        })
    }
}

fn intent_path(intent: &IntentRef, action: &str) -> String {
    format!(
        "/v1/payment_intents/{}{action}",
        encode_component(intent.as_str())
    )
}

/// One call's key within a multi-call operation, derived from its key.
fn sub_key(key: &IdempotencyKey, call: &str) -> IdempotencyKey {
    IdempotencyKey::from_stored(format!("{key}:{call}"))
}

fn secret(raw: Option<String>, what: &str) -> Result<ClientSecret, GatewayError> {
    raw.map(ClientSecret::new)
        .ok_or_else(|| GatewayError::InvalidResponse {
            message: format!("{what} without a client_secret"),
        })
}

fn bad_ref(e: joule_domain::payments::gateway::RefError) -> GatewayError {
    GatewayError::InvalidResponse {
        message: e.to_string(),
    }
}

/// The form field (metadata) carrying Joule's idempotency key on a refund.
const REFUND_KEY_METADATA: &str = "metadata[joule_idempotency_key]";

/// A refund Stripe reports, unless it failed.
fn refunded(refund: Refund) -> Result<Refunded, GatewayError> {
    if let Some(status @ ("failed" | "canceled")) = refund.status.as_deref() {
        return Err(GatewayError::InvalidRequest {
            code: Some(format!("refund_{status}")),
            message: format!("Stripe reports the refund as {status}"),
        });
    }
    Ok(Refunded {
        refund: RefundRef::parse(refund.id).map_err(bad_ref)?,
        amount: from_stripe(refund.amount, &refund.currency)?,
    })
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            supports_increment: self.supports_increment,
        }
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", idempotency_key = %key, amount = %request.amount))]
    async fn create_hold(
        &self,
        request: &HoldRequest,
        key: &IdempotencyKey,
    ) -> Result<HoldCreated, GatewayError> {
        let mut form = Form::new()
            .field("amount", to_stripe(request.amount)?)
            .field("currency", currency_param(request.amount.currency()))
            .field("capture_method", "manual")
            .list("payment_method_types", &["card"])
            .nested(&["metadata", "joule_payment"], &request.reference);
        if self.supports_increment {
            form = form.nested(
                &[
                    "payment_method_options",
                    "card",
                    "request_incremental_authorization",
                ],
                "if_available",
            );
        }
        let pi: PaymentIntent = self
            .post("create_hold", "/v1/payment_intents", form, key)
            .await?;
        Ok(HoldCreated {
            intent: intent_ref(&pi.id)?,
            client_secret: secret(pi.client_secret, "PaymentIntent")?,
        })
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent))]
    async fn read_intent(&self, intent: &IntentRef) -> Result<IntentState, GatewayError> {
        let pi: PaymentIntent = self
            .get(
                "read_intent",
                &intent_path(intent, ""),
                &[
                    ("expand[]", "payment_method"),
                    ("expand[]", "latest_charge"),
                ],
            )
            .await?;
        pi.into_state()
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent, idempotency_key = %key, amount = %amount))]
    async fn capture(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Captured, GatewayError> {
        let form = Form::new().field("amount_to_capture", to_stripe(amount)?);
        let pi: PaymentIntent = self
            .post("capture", &intent_path(intent, "/capture"), form, key)
            .await?;
        let captured = match pi.status()? {
            IntentStatus::Succeeded {
                received: Some(received),
            } => received,
            _ => amount,
        };
        Ok(Captured {
            intent: intent_ref(&pi.id)?,
            amount: captured,
        })
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent, idempotency_key = %key))]
    async fn cancel(&self, intent: &IntentRef, key: &IdempotencyKey) -> Result<(), GatewayError> {
        let _: PaymentIntent = self
            .post("cancel", &intent_path(intent, "/cancel"), Form::new(), key)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent, idempotency_key = %key, amount = %amount))]
    async fn refund(
        &self,
        intent: &IntentRef,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Refunded, GatewayError> {
        // The key is kept on the refund too, so that `find_refund` can tell
        // whether a refund whose answer was lost was made.
        let form = Form::new()
            .field("payment_intent", intent.as_str())
            .field("amount", to_stripe(amount)?)
            .field(REFUND_KEY_METADATA, key.as_str());
        let refund: Refund = self.post("refund", "/v1/refunds", form, key).await?;
        refunded(refund)
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent, idempotency_key = %key))]
    async fn find_refund(
        &self,
        intent: &IntentRef,
        key: &IdempotencyKey,
    ) -> Result<Option<Refunded>, GatewayError> {
        let list: List<Refund> = self
            .get(
                "find_refund",
                "/v1/refunds",
                &[("payment_intent", intent.as_str()), ("limit", "100")],
            )
            .await?;
        list.data
            .into_iter()
            .find(|r| {
                r.metadata.get("joule_idempotency_key").map(String::as_str) == Some(key.as_str())
            })
            .map(refunded)
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent, idempotency_key = %key, new_total = %new_total))]
    async fn increment_authorization(
        &self,
        intent: &IntentRef,
        new_total: Money,
        key: &IdempotencyKey,
    ) -> Result<Incremented, GatewayError> {
        if !self.supports_increment {
            return Err(GatewayError::Unsupported {
                operation: "increment_authorization",
            });
        }
        let form = Form::new().field("amount", to_stripe(new_total)?);
        let pi: PaymentIntent = self
            .post(
                "increment_authorization",
                &intent_path(intent, "/increment_authorization"),
                form,
                key,
            )
            .await?;
        Ok(Incremented {
            intent: intent_ref(&pi.id)?,
            capturable: pi.capturable()?,
        })
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", idempotency_key = %key))]
    async fn create_customer(
        &self,
        request: &CustomerRequest,
        key: &IdempotencyKey,
    ) -> Result<CustomerRef, GatewayError> {
        let mut form = Form::new().nested(&["metadata", "joule_account"], &request.reference);
        if let Some(email) = &request.email {
            form = form.field("email", email);
        }
        let customer: Customer = self
            .post("create_customer", "/v1/customers", form, key)
            .await?;
        CustomerRef::parse(customer.id).map_err(bad_ref)
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", customer = %customer, idempotency_key = %key))]
    async fn create_setup(
        &self,
        customer: &CustomerRef,
        key: &IdempotencyKey,
    ) -> Result<SetupCreated, GatewayError> {
        let form = Form::new()
            .field("customer", customer.as_str())
            .field("usage", "off_session")
            .list("payment_method_types", &["card"]);
        let si: SetupIntent = self
            .post("create_setup", "/v1/setup_intents", form, key)
            .await?;
        Ok(SetupCreated {
            setup: SetupRef::parse(si.id).map_err(bad_ref)?,
            client_secret: secret(si.client_secret, "SetupIntent")?,
        })
    }

    /// A guest Customer and an on-session SetupIntent for it, both tagged
    /// with the Joule payment: the browser confirms the SetupIntent with
    /// `stripe.confirmCardSetup` and the card Element, so the card goes
    /// to Stripe only. The Customer is what lets Stripe use the saved
    /// payment method again for the hold (a payment method used without a
    /// customer cannot be used twice).
    #[tracing::instrument(skip_all, fields(gateway = "stripe", idempotency_key = %key))]
    async fn create_card_entry(
        &self,
        reference: &str,
        key: &IdempotencyKey,
    ) -> Result<Option<SetupCreated>, GatewayError> {
        let form = Form::new().nested(&["metadata", "joule_payment"], reference);
        let customer: Customer = self
            .post(
                "create_card_entry_customer",
                "/v1/customers",
                form,
                &sub_key(key, "customer"),
            )
            .await?;
        let form = Form::new()
            .field("customer", &customer.id)
            .field("usage", "on_session")
            .list("payment_method_types", &["card"])
            .nested(&["metadata", "joule_payment"], reference);
        let si: SetupIntent = self
            .post(
                "create_card_entry",
                "/v1/setup_intents",
                form,
                &sub_key(key, "setup"),
            )
            .await?;
        Ok(Some(SetupCreated {
            setup: SetupRef::parse(si.id).map_err(bad_ref)?,
            client_secret: secret(si.client_secret, "SetupIntent")?,
        }))
    }

    /// Reads the card entry (it must be this payment's and succeeded),
    /// sets its payment method and customer on the hold, and confirms the
    /// hold from the server: two calls, since localstripe cannot confirm
    /// with a `payment_method` parameter (Stripe accepts both forms).
    #[tracing::instrument(skip_all, fields(gateway = "stripe", intent = %intent, setup = %entry.setup, idempotency_key = %key))]
    async fn confirm_hold_with_card_entry(
        &self,
        intent: &IntentRef,
        entry: &CardEntryConfirmation,
        key: &IdempotencyKey,
    ) -> Result<IntentState, GatewayError> {
        let si: SetupIntent = self
            .get(
                "read_card_entry",
                &format!(
                    "/v1/setup_intents/{}",
                    encode_component(entry.setup.as_str())
                ),
                &[],
            )
            .await?;
        if si.joule_payment() != Some(entry.reference.as_str()) {
            return Err(GatewayError::InvalidRequest {
                code: Some("card_entry_mismatch".into()),
                message: "the card entry belongs to another payment".into(),
            });
        }
        let Some((payment_method, customer)) = si.method_and_customer().filter(|_| si.succeeded())
        else {
            return Err(GatewayError::InvalidRequest {
                code: Some("card_entry_incomplete".into()),
                message: "no card was entered and accepted yet".into(),
            });
        };
        let form = Form::new()
            .field("payment_method", payment_method)
            .field("customer", customer);
        let _: PaymentIntent = self
            .post(
                "attach_card_entry",
                &intent_path(intent, ""),
                form,
                &sub_key(key, "attach"),
            )
            .await?;
        let pi: PaymentIntent = self
            .post(
                "confirm_hold",
                &intent_path(intent, "/confirm"),
                Form::new(),
                &sub_key(key, "confirm"),
            )
            .await?;
        pi.into_state()
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", setup = %setup))]
    async fn read_setup(&self, setup: &SetupRef) -> Result<SetupState, GatewayError> {
        let si: SetupIntent = self
            .get(
                "read_setup",
                &format!("/v1/setup_intents/{}", encode_component(setup.as_str())),
                &[],
            )
            .await?;
        si.into_state()
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", payment_method = %payment_method))]
    async fn read_payment_method(
        &self,
        payment_method: &PaymentMethodRef,
    ) -> Result<SavedPaymentMethod, GatewayError> {
        let pm: PaymentMethod = self
            .get(
                "read_payment_method",
                &format!(
                    "/v1/payment_methods/{}",
                    encode_component(payment_method.as_str())
                ),
                &[],
            )
            .await?;
        pm.into_saved()
    }

    #[tracing::instrument(skip_all, fields(gateway = "stripe", customer = %charge.customer, idempotency_key = %key, amount = %charge.amount))]
    async fn charge_off_session(
        &self,
        charge: &OffSessionCharge,
        key: &IdempotencyKey,
    ) -> Result<Charged, GatewayError> {
        let form = Form::new()
            .field("amount", to_stripe(charge.amount)?)
            .field("currency", currency_param(charge.amount.currency()))
            .field("customer", charge.customer.as_str())
            .field("payment_method", charge.payment_method.as_str())
            .field("confirm", "true")
            .field("off_session", "true")
            .nested(&["metadata", "joule_payment"], &charge.reference);
        let pi: PaymentIntent = self
            .post("charge_off_session", "/v1/payment_intents", form, key)
            .await?;
        let status = pi.status()?;
        match &status {
            IntentStatus::RequiresAction => return Err(GatewayError::RequiresAction),
            IntentStatus::RequiresPaymentMethod => {
                let decline = pi.decline();
                return Err(GatewayError::Declined {
                    code: decline
                        .as_ref()
                        .map_or_else(|| "card_declined".to_owned(), |d| d.code.clone()),
                    message: decline.map(|d| d.message).unwrap_or_default(),
                });
            }
            _ => {}
        }
        Ok(Charged {
            intent: intent_ref(&pi.id)?,
            card: pi.card(),
            status,
        })
    }

    /// Lists the newest 100 PaymentIntents (ample for a hold created
    /// moments before) and picks the one whose `metadata.joule_payment` is
    /// `reference`.
    #[tracing::instrument(skip_all, fields(gateway = "stripe", reference))]
    async fn find_hold(&self, reference: &str) -> Result<Option<IntentRef>, GatewayError> {
        let list: IntentList = self
            .get("find_hold", "/v1/payment_intents", &[("limit", "100")])
            .await?;
        list.data
            .into_iter()
            .find(|i| i.metadata.get("joule_payment").map(String::as_str) == Some(reference))
            .map(|i| intent_ref(&i.intent.id))
            .transpose()
    }

    /// Lists the customer's PaymentIntents (newest 100, ample for a
    /// charge made moments before) and picks the one whose
    /// `metadata.joule_payment` is `reference`. localstripe refuses the
    /// `customer` filter, so on an invalid-request answer the list is read
    /// unfiltered and filtered here.
    #[tracing::instrument(skip_all, fields(gateway = "stripe", customer = %customer, reference))]
    async fn find_off_session_charge(
        &self,
        customer: &CustomerRef,
        reference: &str,
    ) -> Result<Option<IntentState>, GatewayError> {
        let filtered: Result<IntentList, GatewayError> = self
            .get(
                "find_off_session_charge",
                "/v1/payment_intents",
                &[("customer", customer.as_str()), ("limit", "100")],
            )
            .await;
        let list = match filtered {
            Ok(list) => list,
            Err(GatewayError::InvalidRequest { .. }) => {
                self.get(
                    "find_off_session_charge",
                    "/v1/payment_intents",
                    &[("limit", "100")],
                )
                .await?
            }
            Err(e) => return Err(e),
        };
        list.data
            .into_iter()
            .find(|i| i.is_charge_of(customer.as_str(), reference))
            .map(|i| i.intent.into_state())
            .transpose()
    }

    fn verify_webhook(
        &self,
        payload: &WebhookPayload<'_>,
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, GatewayError> {
        let event = webhook::verify(
            payload,
            self.webhook_secret.expose(),
            now,
            self.webhook_tolerance,
        );
        match &event {
            Ok(e) => tracing::debug!(gateway = "stripe", event_id = %e.id, "webhook verified"),
            Err(err) => tracing::warn!(gateway = "stripe", error = %err, "webhook refused"),
        }
        event
    }
}
