//! Payments: what a driver pays for a session, and the exactly-once steps
//! that move the money (DESIGN.md "Money and sessions", issue 4).
//!
//! A [`Payment`] is the record of one card hold or charge; a
//! [`PaymentStep`] is one call to a gateway about it (authorize, capture,
//! refund, …). A step is stored as *intended*, with its
//! [`IdempotencyKey`](crate::payments::idempotency::IdempotencyKey), before the gateway
//! is called, and as *finished* after; the rules of [`machine`] decide which
//! steps may be intended and what a finished step does to the payment. The
//! store applies those rules inside its transaction, so two callers can never
//! both capture. See docs/payments.md, "Payment model and exactly-once
//! steps".
//!
//! No gateway here: the gateway port lives in `crate::payments::gateway` (another
//! module); this module only knows gateways by name.

pub mod claim;
pub mod hold_limit;
mod id;
mod kpi;
mod kpi_report;
pub mod machine;
mod model;
mod start;
mod step;

#[cfg(test)]
mod properties;

pub use claim::{
    check_holder, may_claim, ClaimHeld, ClaimOwner, ClaimRequest, ClaimToken, PaymentClaim,
    CLAIM_ENTITY,
};
pub use hold_limit::{HoldAction, HoldLimits, HoldReading, StopReason};
pub use id::{PaymentId, ReceiptToken};
pub use kpi::ChannelKpis;
pub use kpi_report::{payment_kpis, KpiGrouping, PaymentKpiGroup, StepTally, TallyOutcome};
pub use machine::{finish, plan, StepError};
pub use model::{
    NewPayment, Payment, PaymentChannel, PaymentDetail, PaymentFilter, PaymentFlag, PaymentState,
    RefundState, StaleHold, StaleHoldReason,
};
pub use start::{RemoteStart, StartStatus};
pub use step::{
    PaymentStep, StepFailure, StepKind, StepOutcome, StepRequest, StepStatus, StepSuccess,
};
