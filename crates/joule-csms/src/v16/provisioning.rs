//! Provisioning: BootNotification (B01–B03 in 2.0.1 terms) and Heartbeat.

use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerError, HandlerResult};

pub(crate) async fn boot_notification(
    ctx: &Ctx<'_>,
    req: v16::BootNotificationRequest,
) -> HandlerResult {
    let decision = ctx
        .service
        .boot(ctx.charger, convert::boot_info(req))
        .await?;
    let interval = i32::try_from(decision.interval_s)
        .map_err(|_| HandlerError::Invalid("interval out of range".to_owned()))?;
    let payload = encode(&v16::BootNotificationResponse {
        status: convert::registration(decision.registration),
        current_time: decision.current_time,
        interval,
    });
    Ok(Handled {
        payload,
        note: None,
        boot: Some(decision.registration),
        cost: None,
    })
}

pub(crate) async fn heartbeat(ctx: &Ctx<'_>, _req: v16::HeartbeatRequest) -> HandlerResult {
    let current_time = ctx.service.heartbeat(ctx.charger).await?;
    Ok(Handled::reply(encode(&v16::HeartbeatResponse {
        current_time,
    })))
}
