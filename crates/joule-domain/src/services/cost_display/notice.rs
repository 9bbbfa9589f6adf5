//! What the price display is told and what it tells a charger, in the
//! domain's words: each protocol adapter turns a [`CostNotice`] into its own
//! messages (OCPP 1.6: OCA `DataTransfer` and `ChangeConfiguration`).

use chrono::{DateTime, Utc};

use crate::charging::session::Session;
use crate::kernel::ids::IdToken;
use crate::kernel::money::Decimal;
use crate::pricing::display::UnitPrices;

/// Something that happened at a charger that displays prices.
#[derive(Debug, Clone, PartialEq)]
pub enum CostEvent {
    /// A driver was accepted: their price is due.
    Authorized {
        id_tag: IdToken,
    },
    SessionStarted {
        session: Box<Session>,
    },
    SessionStopped {
        session: Box<Session>,
    },
    /// New meter values of a transaction: its running cost is due now.
    MeterValues {
        transaction_id: i64,
    },
    /// A connector reported itself free (it may end idle time after a stop).
    ConnectorAvailable {
        connector_id: i32,
        at: DateTime<Utc>,
    },
    /// The charger said the cable of a transaction was unplugged.
    Unplugged {
        transaction_id: i64,
        at: DateTime<Utc>,
    },
}

/// What the charger's display should show.
#[derive(Debug, Clone, PartialEq)]
pub enum CostNotice {
    /// The price of an identified driver (OCA `SetUserPrice`).
    UserPrice {
        id_tag: IdToken,
        price_text: String,
    },
    /// Boxed: the largest notice by far.
    RunningCost(Box<RunningCost>),
    FinalCost(FinalCost),
    /// The charger's own price settings for the tariff in force, all of
    /// them (the adapter sends only what changed since it last sent them).
    Config(Vec<DisplaySetting>),
}

/// Whether a running cost is still charging or bills idle time after the
/// stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostState {
    Charging,
    Idle,
}

/// The cost so far of a session and the prices around it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningCost {
    pub transaction_id: i64,
    pub at: DateTime<Utc>,
    /// The energy register the cost is based on.
    pub meter_wh: i64,
    /// Including VAT.
    pub cost: Decimal,
    pub state: CostState,
    pub prices: UnitPrices,
    /// The prices from the next price boundary on.
    pub next_period: Option<(DateTime<Utc>, UnitPrices)>,
    /// A meter reading wanted at this instant (the next boundary): it
    /// prices the part before the boundary exactly.
    pub reading_wanted_at: Option<DateTime<Utc>>,
    pub price_text: String,
    /// The receipt page, for a session paid through Joule.
    pub receipt_url: Option<String>,
}

/// The cost of an ended session.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalCost {
    pub transaction_id: i64,
    /// Including VAT.
    pub cost: Decimal,
    pub price_text: String,
    pub receipt_url: Option<String>,
}

/// One of a charger's own price settings (OCA §3.1 configuration).
#[derive(Debug, Clone, PartialEq)]
pub enum DisplaySetting {
    /// What the charger shows before the driver identifies, and offline.
    DefaultPrice {
        price_text: String,
        price_text_offline: String,
        prices: UnitPrices,
    },
    /// The site's UTC offset now, e.g. `-08:00`.
    TimeOffset(String),
    /// When the offset changes next (DST) ...
    NextTimeOffsetAt(DateTime<Utc>),
    /// ... and to what.
    NextTimeOffset(String),
    /// Whether idle time after the stop is billed (the charger then keeps
    /// showing the cost until the cable is unplugged).
    IdleFeeAfterStop(bool),
    /// The default language of the texts.
    Language(String),
    /// The default price in one more language the charger supports.
    DefaultPriceText {
        language: String,
        price_text: String,
        price_text_offline: String,
    },
}
