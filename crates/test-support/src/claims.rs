//! Payment claims taken by hand, for tests that record steps straight into
//! the store as the payment service would under its claim.

use chrono::{DateTime, Duration, Utc};
use joule_domain::payments::payment::{ClaimOwner, ClaimRequest, ClaimToken, PaymentId};
use joule_domain::ports::store::PaymentStore;

/// Takes `payment`'s claim at `at` as a confirming request does (it lapses
/// after a minute, as `payments.recovery_after_s` says), for a test that
/// records steps straight into the store under it: as the payment service
/// would, or as a request whose process then died left them.
pub async fn claim_as_a_request(
    store: &dyn PaymentStore,
    payment: PaymentId,
    at: DateTime<Utc>,
) -> ClaimToken {
    let token = ClaimToken::new();
    store
        .claim_payment(
            payment,
            ClaimRequest {
                owner: ClaimOwner::Confirm,
                token,
                expires_at: at + Duration::seconds(60),
            },
            at,
        )
        .await
        .expect("store")
        .expect("the payment is free");
    token
}
