//! Diagnostics: DiagnosticsStatusNotification.

use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerError, HandlerResult};

pub(crate) async fn diagnostics_status_notification(
    ctx: &Ctx<'_>,
    req: v16::DiagnosticsStatusNotificationRequest,
) -> HandlerResult {
    let status =
        convert::wire(&req.status).ok_or_else(|| HandlerError::Invalid("status".to_owned()))?;
    ctx.service.diagnostics_status(ctx.charger, &status).await?;
    Ok(Handled::reply(encode(
        &v16::DiagnosticsStatusNotificationResponse {},
    )))
}
