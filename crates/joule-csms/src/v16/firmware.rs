//! Firmware management: FirmwareStatusNotification.

use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerError, HandlerResult};

pub(crate) async fn firmware_status_notification(
    ctx: &Ctx<'_>,
    req: v16::FirmwareStatusNotificationRequest,
) -> HandlerResult {
    let status =
        convert::wire(&req.status).ok_or_else(|| HandlerError::Invalid("status".to_owned()))?;
    ctx.service.firmware_status(ctx.charger, &status).await?;
    Ok(Handled::reply(encode(
        &v16::FirmwareStatusNotificationResponse {},
    )))
}
