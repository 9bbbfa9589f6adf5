//! Payment counts for the ChargeX KPIs (STANDARDS.md §1.3: authorization
//! success per channel; voided holds counted separately).

use serde::Serialize;

use super::model::PaymentChannel;

/// Counts of one channel's gateway steps intended in a time range. An
/// authorization attempt is an `authorize` or `charge_off_session` step;
/// it succeeds when the gateway approved it. Steps still in progress count
/// as attempts but not as successes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChannelKpis {
    pub channel: PaymentChannel,
    pub authorization_attempts: u64,
    pub authorization_successes: u64,
    /// Succeeded captures and off-session charges.
    pub captures: u64,
    /// Succeeded voids (holds released without payment).
    pub voids: u64,
}

impl ChannelKpis {
    pub fn empty(channel: PaymentChannel) -> Self {
        Self {
            channel,
            authorization_attempts: 0,
            authorization_successes: 0,
            captures: 0,
            voids: 0,
        }
    }
}
