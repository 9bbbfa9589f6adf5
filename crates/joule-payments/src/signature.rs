//! Webhook signatures in Stripe's scheme, also used by the simulated
//! gateway: header `t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{body}"}`
//! with the endpoint's secret. Several `v1` entries may appear (during a
//! secret roll); one match is enough. The timestamp bounds replays.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use joule_domain::payments::gateway::GatewayError;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<HmacSha256, GatewayError> {
    // HMAC takes keys of any length; the error exists only in the trait.
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| GatewayError::BadSignature {
        reason: "unusable signing secret",
    })?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The header value a sender puts on `body` at `timestamp`.
pub fn sign_header(secret: &str, timestamp: i64, body: &[u8]) -> Result<String, GatewayError> {
    let sig = hex::encode(
        mac(secret.as_bytes(), timestamp, body)?
            .finalize()
            .into_bytes(),
    );
    Ok(format!("t={timestamp},v1={sig}"))
}

/// Checks `header` against `body`: a `v1` signature must match (compared in
/// constant time) and the timestamp must be within `tolerance` of `now`.
/// Returns the signed timestamp.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<i64, GatewayError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(sig) = hex::decode(v) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(GatewayError::BadSignature {
        reason: "no timestamp in the signature header",
    })?;
    if signatures.is_empty() {
        return Err(GatewayError::BadSignature {
            reason: "no v1 signature in the signature header",
        });
    }
    let expected = mac(secret.as_bytes(), timestamp, body)?;
    if !signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok())
    {
        return Err(GatewayError::BadSignature {
            reason: "signature does not match",
        });
    }
    let age = now.timestamp().saturating_sub(timestamp).unsigned_abs();
    if age > tolerance.as_secs() {
        return Err(GatewayError::BadSignature {
            reason: "timestamp outside the tolerance",
        });
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(t: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(t, 0).single().unwrap_or_default()
    }

    const TOL: Duration = Duration::from_secs(300);

    #[test]
    fn a_fresh_correct_signature_verifies() {
        let header = sign_header("whsec_x", 1_700_000_000, b"{\"a\":1}").unwrap();
        assert_eq!(
            verify(&header, b"{\"a\":1}", "whsec_x", at(1_700_000_100), TOL),
            Ok(1_700_000_000)
        );
    }

    #[test]
    fn known_vector_matches_stripe_scheme() {
        // Python: hmac.new(b"secret", b"1.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            sign_header("secret", 1, b"{}").unwrap(),
            "t=1,v1=1122767b193110cfec322b6f199b599edbf608ed087f2d27afb0b97d99523908"
        );
    }

    #[test]
    fn tampered_body_wrong_secret_or_old_timestamp_are_refused() {
        let header = sign_header("whsec_x", 1_700_000_000, b"{}").unwrap();
        let now = at(1_700_000_000);
        assert!(matches!(
            verify(&header, b"{ }", "whsec_x", now, TOL),
            Err(GatewayError::BadSignature { .. })
        ));
        assert!(matches!(
            verify(&header, b"{}", "whsec_y", now, TOL),
            Err(GatewayError::BadSignature { .. })
        ));
        assert_eq!(
            verify(&header, b"{}", "whsec_x", at(1_700_000_301), TOL),
            Err(GatewayError::BadSignature {
                reason: "timestamp outside the tolerance"
            })
        );
        assert!(verify("v1=00", b"{}", "whsec_x", now, TOL).is_err());
        assert!(verify("t=1700000000", b"{}", "whsec_x", now, TOL).is_err());
    }

    proptest::proptest! {
        #[test]
        fn signing_then_verifying_round_trips(
            secret in "[ -~]{1,40}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            t in 0i64..4_000_000_000,
        ) {
            let header = sign_header(&secret, t, &body).unwrap();
            proptest::prop_assert_eq!(verify(&header, &body, &secret, at(t), TOL), Ok(t));
        }

        #[test]
        fn arbitrary_headers_are_refused_without_panicking(header in "\\PC{0,120}") {
            let refused = verify(&header, b"body", "whsec_x", at(0), TOL).is_err();
            proptest::prop_assert!(refused);
        }
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign_header("whsec_new", 10, b"x").unwrap();
        let sig = good.split("v1=").nth(1).unwrap_or_default();
        let header = format!("t=10,v1={},v1={sig},v0=zz", "ab".repeat(32));
        assert_eq!(verify(&header, b"x", "whsec_new", at(10), TOL), Ok(10));
    }
}
