//! Availability: StatusNotification. `NoError` is stored as no error code.
//! A connector reported Available on a charger that displays prices may end
//! an idle-after-stop extension (`tariff_and_cost`).

use joule_domain::services::cost_display::CostEvent;
use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerResult};

pub(crate) async fn status_notification(
    ctx: &Ctx<'_>,
    req: v16::StatusNotificationRequest,
) -> HandlerResult {
    let available =
        (req.status == v16::ChargePointStatus::Available && req.connector_id > 0).then(|| {
            CostEvent::ConnectorAvailable {
                connector_id: req.connector_id,
                at: req.timestamp.unwrap_or_else(|| ctx.service.now()),
            }
        });
    let report = convert::status_report(req, ctx.service.now())?;
    ctx.service.status(ctx.charger, report).await?;
    let handled = Handled::reply(encode(&v16::StatusNotificationResponse {}));
    Ok(match available {
        Some(message) => handled.with_cost(ctx, message),
        None => handled,
    })
}
