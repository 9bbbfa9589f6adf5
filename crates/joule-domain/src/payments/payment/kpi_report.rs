//! Payment KPIs per channel or per site (STANDARDS.md §1.1: "compute
//! payment-failure rates per channel and per site"; §1.3: payment
//! authorization success = approved authorizations ÷ authorization
//! attempts). The store counts gateway steps ([`StepTally`]); this module
//! folds them into the report, so both store backends agree by
//! construction. docs/payments.md, "Payment KPIs".

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::PaymentChannel;
use super::step::StepKind;

/// How a counted step ended (`intended`: still in progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TallyOutcome {
    Intended,
    Succeeded,
    Failed,
}

impl TallyOutcome {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "intended" => Some(Self::Intended),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Gateway steps intended in a time range with the same channel, site
/// (of the payment's charger; `None`: a charger in no site), kind,
/// outcome, failure code and currency: how many, and their amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTally {
    pub channel: PaymentChannel,
    pub site_id: Option<String>,
    pub kind: StepKind,
    pub outcome: TallyOutcome,
    pub failure_code: Option<String>,
    /// ISO 4217 code of the payment's currency.
    pub currency: String,
    pub count: u64,
    /// Sum of the steps' amounts, in minor units of `currency`.
    pub amount_minor: i64,
}

/// What the KPIs are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiGrouping {
    Channel,
    Site,
}

impl KpiGrouping {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "channel" => Some(Self::Channel),
            "site" => Some(Self::Site),
            _ => None,
        }
    }
}

/// One group's payment KPIs.
///
/// An authorization attempt is an `authorize` step (a card hold: web and
/// terminal payments) or a `charge_off_session` step (accounts). It is
/// approved when the gateway approved it and declined when it failed, for
/// whatever reason (the issuer's decline code, `abandoned` for a web hold
/// never confirmed with a card, `canceled`, …): ChargeX counts an attempt
/// that did not lead to payment as a failure. Attempts still in progress
/// are attempts, neither approved nor declined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentKpiGroup {
    /// The channel (grouping by channel).
    pub channel: Option<PaymentChannel>,
    /// The site (grouping by site; `None` also for chargers in no site).
    pub site_id: Option<String>,
    pub authorization_attempts: u64,
    pub approvals: u64,
    pub declines: u64,
    pub in_progress: u64,
    /// `approvals ÷ authorization_attempts` (STANDARDS.md §1.3); `None`
    /// without attempts.
    pub success_rate: Option<f64>,
    /// Declined attempts per failure code.
    pub declines_by_code: BTreeMap<String, u64>,
    /// Succeeded captures and off-session charges.
    pub captures: u64,
    /// Succeeded voids: holds released without payment.
    pub voids: u64,
    /// Captured amount (captures and off-session charges) per currency, in
    /// minor units; refunds are not subtracted.
    pub captured_minor: BTreeMap<String, i64>,
}

impl PaymentKpiGroup {
    fn empty(channel: Option<PaymentChannel>, site_id: Option<String>) -> Self {
        Self {
            channel,
            site_id,
            authorization_attempts: 0,
            approvals: 0,
            declines: 0,
            in_progress: 0,
            success_rate: None,
            declines_by_code: BTreeMap::new(),
            captures: 0,
            voids: 0,
            captured_minor: BTreeMap::new(),
        }
    }

    fn add(&mut self, t: &StepTally) {
        let ok = t.outcome == TallyOutcome::Succeeded;
        let authorization = matches!(t.kind, StepKind::Authorize | StepKind::ChargeOffSession);
        if authorization {
            self.authorization_attempts += t.count;
            match t.outcome {
                TallyOutcome::Succeeded => self.approvals += t.count,
                TallyOutcome::Intended => self.in_progress += t.count,
                TallyOutcome::Failed => {
                    self.declines += t.count;
                    let code = t.failure_code.clone().unwrap_or_else(|| "unknown".into());
                    *self.declines_by_code.entry(code).or_default() += t.count;
                }
            }
        }
        let captured = ok && matches!(t.kind, StepKind::Capture | StepKind::ChargeOffSession);
        if captured {
            self.captures += t.count;
            *self.captured_minor.entry(t.currency.clone()).or_default() += t.amount_minor;
        }
        if ok && t.kind == StepKind::Void {
            self.voids += t.count;
        }
    }

    fn finish(mut self) -> Self {
        self.success_rate = (self.authorization_attempts > 0)
            .then(|| self.approvals as f64 / self.authorization_attempts as f64);
        self
    }
}

/// Folds the store's tallies into groups: by channel, every channel in
/// [`PaymentChannel::ALL`] order (empty ones too, so a channel that never
/// succeeds is visible); by site, every site with steps, by id, with
/// chargers in no site last.
pub fn payment_kpis(tallies: &[StepTally], grouping: KpiGrouping) -> Vec<PaymentKpiGroup> {
    let groups: Vec<PaymentKpiGroup> = match grouping {
        KpiGrouping::Channel => PaymentChannel::ALL
            .into_iter()
            .map(|channel| {
                let mut g = PaymentKpiGroup::empty(Some(channel), None);
                tallies
                    .iter()
                    .filter(|t| t.channel == channel)
                    .for_each(|t| g.add(t));
                g
            })
            .collect(),
        KpiGrouping::Site => {
            // `Some` sorts after `None` in an Option; the key flips that.
            let mut by_site: BTreeMap<(bool, Option<String>), PaymentKpiGroup> = BTreeMap::new();
            for t in tallies {
                by_site
                    .entry((t.site_id.is_none(), t.site_id.clone()))
                    .or_insert_with(|| PaymentKpiGroup::empty(None, t.site_id.clone()))
                    .add(t);
            }
            by_site.into_values().collect()
        }
    };
    groups.into_iter().map(PaymentKpiGroup::finish).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(
        channel: PaymentChannel,
        site: Option<&str>,
        kind: StepKind,
        outcome: TallyOutcome,
        code: Option<&str>,
        count: u64,
        amount_minor: i64,
    ) -> StepTally {
        StepTally {
            channel,
            site_id: site.map(str::to_owned),
            kind,
            outcome,
            failure_code: code.map(str::to_owned),
            currency: "EUR".into(),
            count,
            amount_minor,
        }
    }

    fn sample() -> Vec<StepTally> {
        use PaymentChannel::*;
        use StepKind::*;
        use TallyOutcome::*;
        vec![
            tally(Web, Some("S1"), Authorize, Succeeded, None, 3, 15000),
            tally(
                Web,
                Some("S1"),
                Authorize,
                Failed,
                Some("card_declined"),
                1,
                5000,
            ),
            tally(Web, None, Authorize, Failed, Some("abandoned"), 1, 5000),
            tally(Web, None, Authorize, Intended, None, 1, 5000),
            tally(Web, Some("S1"), Capture, Succeeded, None, 2, 630),
            tally(Web, Some("S1"), Void, Succeeded, None, 1, 5000),
            tally(
                Account,
                Some("S2"),
                ChargeOffSession,
                Succeeded,
                None,
                2,
                900,
            ),
            tally(
                Account,
                Some("S2"),
                ChargeOffSession,
                Failed,
                Some("insufficient_funds"),
                2,
                900,
            ),
            tally(Terminal, Some("S2"), Capture, Failed, Some("x"), 1, 100),
        ]
    }

    #[test]
    fn per_channel_counts_attempts_approvals_declines_and_captured_amounts() {
        let groups = payment_kpis(&sample(), KpiGrouping::Channel);
        assert_eq!(groups.len(), 3);
        let web = &groups[0];
        assert_eq!(web.channel, Some(PaymentChannel::Web));
        assert_eq!(
            (
                web.authorization_attempts,
                web.approvals,
                web.declines,
                web.in_progress
            ),
            (6, 3, 2, 1)
        );
        assert_eq!(web.success_rate, Some(0.5));
        assert_eq!(web.declines_by_code.get("card_declined"), Some(&1));
        assert_eq!(web.declines_by_code.get("abandoned"), Some(&1));
        assert_eq!((web.captures, web.voids), (2, 1));
        assert_eq!(web.captured_minor.get("EUR"), Some(&630));
        let terminal = &groups[1];
        assert_eq!(terminal.authorization_attempts, 0);
        assert_eq!(terminal.success_rate, None);
        assert_eq!(terminal.captures, 0, "a failed capture is not a capture");
        let account = &groups[2];
        assert_eq!(
            (account.approvals, account.declines, account.captures),
            (2, 2, 2)
        );
        assert_eq!(account.captured_minor.get("EUR"), Some(&900));
        assert_eq!(account.success_rate, Some(0.5));
    }

    #[test]
    fn per_site_lists_sites_by_id_and_chargers_without_a_site_last() {
        let groups = payment_kpis(&sample(), KpiGrouping::Site);
        let sites: Vec<_> = groups.iter().map(|g| g.site_id.as_deref()).collect();
        assert_eq!(sites, [Some("S1"), Some("S2"), None]);
        assert_eq!(groups[0].success_rate, Some(0.75));
        assert_eq!(groups[2].authorization_attempts, 2);
        assert_eq!(groups[2].success_rate, Some(0.0));
        assert!(groups.iter().all(|g| g.channel.is_none()));
    }

    #[test]
    fn no_steps_gives_empty_channels_and_no_sites() {
        assert_eq!(payment_kpis(&[], KpiGrouping::Channel).len(), 3);
        assert!(payment_kpis(&[], KpiGrouping::Site).is_empty());
    }
}
