//! The hook through which a protocol feature rides on a connection without
//! the connection knowing it: the 1.6 price display
//! (`v16::tariff_and_cost`) implements it. The connection calls it after
//! each answered CALL, on its timer, on a price-change notice and with the
//! answers to the extension's own calls, and sends the calls it returns
//! through its one-in-flight queue.

use chrono::{DateTime, Utc};
use joule_domain::charging::charger::RegistrationStatus;
use joule_domain::ports::command::CommandError;
use joule_domain::services::cost_display::CostEvent;
use joule_domain::ChargerId;
use joule_ocpp::v16::{self, Action16, OcppRequest};
use serde_json::Value;

/// The connection as an extension sees it.
pub(crate) struct Link<'a> {
    pub charger: &'a ChargerId,
    /// Calls other than BootNotification are served.
    pub accepted: bool,
}

/// What an answered CALL left for extensions.
pub(crate) struct Answered {
    /// Set by BootNotification: the registration answered.
    pub boot: Option<RegistrationStatus>,
    pub cost: Option<CostEvent>,
}

/// A CALL an extension makes on its own; `tag` comes back with its answer.
pub(crate) struct OwnCall<T> {
    pub action: Action16,
    pub payload: Value,
    pub tag: T,
}

impl<T> OwnCall<T> {
    /// The typed 1.6 `request`, its answer to be read as `R::Response`.
    pub(crate) fn request<R: OcppRequest>(request: &R, tag: T) -> Self {
        Self {
            action: R::ACTION,
            payload: v16::encode(request),
            tag,
        }
    }
}

pub(crate) trait ConnectionExtension {
    /// What the extension remembers about one of its calls.
    type Tag;

    /// Whether handlers should report what the extension listens to (the
    /// charger displays prices).
    fn listening(&self) -> bool;

    /// The earliest instant the extension needs [`Self::on_tick`].
    fn next_wake(&self) -> Option<DateTime<Utc>>;

    /// After the CALLRESULT of a handled CALL is written.
    async fn after_call(&mut self, link: &Link<'_>, answered: Answered) -> Vec<OwnCall<Self::Tag>>;

    /// The connection's timer fired.
    async fn on_tick(&mut self, link: &Link<'_>) -> Vec<OwnCall<Self::Tag>>;

    /// The tariff in force at the charger may have changed.
    async fn on_price_changed(&mut self, link: &Link<'_>) -> Vec<OwnCall<Self::Tag>>;

    /// The answer to (or failure of) one of the extension's own calls.
    async fn on_own_reply(
        &mut self,
        link: &Link<'_>,
        tag: Self::Tag,
        result: Result<Value, CommandError>,
    ) -> Vec<OwnCall<Self::Tag>>;
}
