//! Availability: StatusNotification. `NoError` is stored as no error code.

use joule_ocpp::v16::{self, encode};

use super::{convert, Ctx, Handled, HandlerResult};

pub(crate) async fn status_notification(
    ctx: &Ctx<'_>,
    req: v16::StatusNotificationRequest,
) -> HandlerResult {
    let report = convert::status_report(req, ctx.service.now())?;
    ctx.service.status(ctx.charger, report).await?;
    Ok(Handled::reply(encode(&v16::StatusNotificationResponse {})))
}
