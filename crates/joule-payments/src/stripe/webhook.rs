//! Stripe webhooks: verify `Stripe-Signature`, then map the event types
//! Joule's flows listen to. Enable these on the endpoint in the Stripe
//! dashboard (docs/payments.md): `payment_intent.amount_capturable_updated`,
//! `payment_intent.succeeded`, `payment_intent.payment_failed`,
//! `payment_intent.canceled`, `setup_intent.succeeded`.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use joule_domain::payments::gateway::{
    GatewayError, GatewayEvent, GatewayEventKind, IntentStatus, WebhookPayload,
};

use super::wire::{intent_ref, Event, PaymentIntent, SetupIntent};
use crate::signature;

pub(crate) const SIGNATURE_HEADER: &str = "Stripe-Signature";

pub(crate) fn verify(
    payload: &WebhookPayload<'_>,
    secret: &str,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<GatewayEvent, GatewayError> {
    let header = payload
        .header(SIGNATURE_HEADER)
        .ok_or(GatewayError::BadSignature {
            reason: "no Stripe-Signature header",
        })?;
    signature::verify(header, payload.body, secret, now, tolerance)?;
    let event: Event =
        serde_json::from_slice(payload.body).map_err(|e| GatewayError::InvalidResponse {
            message: format!("webhook event: {e}"),
        })?;
    map(event)
}

fn object<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, GatewayError> {
    serde_json::from_value(event.data.object.clone()).map_err(|e| GatewayError::InvalidResponse {
        message: format!("{} object: {e}", event.kind),
    })
}

fn map(event: Event) -> Result<GatewayEvent, GatewayError> {
    let kind = match event.kind.as_str() {
        "payment_intent.amount_capturable_updated" => {
            let pi: PaymentIntent = object(&event)?;
            GatewayEventKind::IntentAuthorized {
                intent: intent_ref(&pi.id)?,
                capturable: pi.capturable()?,
            }
        }
        "payment_intent.succeeded" => {
            let pi: PaymentIntent = object(&event)?;
            let received = match pi.status()? {
                IntentStatus::Succeeded { received } => received,
                _ => pi.received()?,
            };
            GatewayEventKind::IntentSucceeded {
                intent: intent_ref(&pi.id)?,
                received,
            }
        }
        "payment_intent.payment_failed" => {
            let pi: PaymentIntent = object(&event)?;
            GatewayEventKind::IntentFailed {
                intent: intent_ref(&pi.id)?,
                decline: pi.decline(),
            }
        }
        "payment_intent.canceled" => {
            let pi: PaymentIntent = object(&event)?;
            GatewayEventKind::IntentCanceled {
                intent: intent_ref(&pi.id)?,
            }
        }
        "setup_intent.succeeded" => {
            let si: SetupIntent = object(&event)?;
            let state = si.into_state()?;
            GatewayEventKind::SetupSucceeded {
                setup: state.setup,
                customer: state.customer,
                payment_method: state.payment_method,
            }
        }
        other => GatewayEventKind::Other {
            gateway_type: other.to_owned(),
        },
    };
    let created = Utc
        .timestamp_opt(event.created, 0)
        .single()
        .ok_or_else(|| GatewayError::InvalidResponse {
            message: "webhook event: bad created timestamp".to_owned(),
        })?;
    Ok(GatewayEvent {
        id: event.id,
        created,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::sign_header;

    const SECRET: &str = "whsec_test";

    fn deliver(body: &str, t: i64, now: i64) -> Result<GatewayEvent, GatewayError> {
        let header = sign_header(SECRET, t, body.as_bytes()).unwrap();
        let headers = [("stripe-signature", header.as_str())];
        let payload = WebhookPayload {
            headers: &headers,
            body: body.as_bytes(),
        };
        let now = Utc.timestamp_opt(now, 0).single().unwrap_or_default();
        verify(&payload, SECRET, now, Duration::from_secs(300))
    }

    #[test]
    fn authorized_and_failed_and_setup_events_map() {
        let body = r#"{"id": "evt_1", "type": "payment_intent.amount_capturable_updated",
            "created": 1700000000, "data": {"object": {"id": "pi_1", "status": "requires_capture",
            "amount": 2000, "amount_capturable": 2000, "currency": "usd"}}}"#;
        let e = deliver(body, 1_700_000_000, 1_700_000_001).unwrap();
        assert_eq!(e.id, "evt_1");
        assert!(
            matches!(e.kind, GatewayEventKind::IntentAuthorized { capturable, .. } if capturable.minor() == 2000)
        );

        let body = r#"{"id": "evt_2", "type": "payment_intent.payment_failed", "created": 1700000000,
            "data": {"object": {"id": "pi_1", "status": "requires_payment_method", "amount": 2000,
            "currency": "usd", "last_payment_error": {"code": "card_declined",
            "decline_code": "stolen_card", "message": "Your card was declined."}}}}"#;
        let e = deliver(body, 1_700_000_000, 1_700_000_000).unwrap();
        assert!(
            matches!(e.kind, GatewayEventKind::IntentFailed { decline: Some(d), .. } if d.code == "stolen_card")
        );

        let body = r#"{"id": "evt_3", "type": "setup_intent.succeeded", "created": 1700000000,
            "data": {"object": {"id": "seti_1", "status": "succeeded", "customer": "cus_1",
            "payment_method": "pm_1"}}}"#;
        let e = deliver(body, 1_700_000_000, 1_700_000_000).unwrap();
        assert!(
            matches!(e.kind, GatewayEventKind::SetupSucceeded { payment_method: Some(pm), .. } if pm.as_str() == "pm_1")
        );

        let body = r#"{"id": "evt_4", "type": "customer.created", "created": 1700000000,
            "data": {"object": {"id": "cus_1"}}}"#;
        let e = deliver(body, 1_700_000_000, 1_700_000_000).unwrap();
        assert_eq!(
            e.kind,
            GatewayEventKind::Other {
                gateway_type: "customer.created".into()
            }
        );
    }

    #[test]
    fn unsigned_or_stale_events_are_refused() {
        let body = r#"{"id": "evt_1", "type": "x", "created": 1, "data": {"object": {}}}"#;
        assert!(matches!(
            deliver(body, 1_700_000_000, 1_700_001_000),
            Err(GatewayError::BadSignature { .. })
        ));
        let payload = WebhookPayload {
            headers: &[],
            body: body.as_bytes(),
        };
        assert!(matches!(
            verify(&payload, SECRET, Utc::now(), Duration::from_secs(300)),
            Err(GatewayError::BadSignature { .. })
        ));
    }
}
