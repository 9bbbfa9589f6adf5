//! OCPP 1.6 handlers, one module per functional area, routed by one
//! exhaustive `match` on [`ChargePointCall`]: adding a message to
//! `joule-ocpp` fails to compile here until it is routed.
//!
//! A handler turns a typed request into a domain call and the domain's answer
//! into the typed response. A business "no" (unknown token, rejected boot) is
//! data in the response; only malformed values the schema could not catch
//! and internal failures become CALLERRORs (see [`HandlerError`]).

pub mod authorization;
pub mod availability;
pub(crate) mod commands;
pub(crate) mod convert;
pub mod data_transfer;
pub mod diagnostics;
pub mod firmware;
pub(crate) mod handler;
pub(crate) mod id_tags;
pub mod meter_values;
pub mod provisioning;
pub(crate) mod tariff_and_cost;
pub mod transaction;
pub(crate) mod vendors;

use joule_ocpp::v16::ChargePointCall;

pub(crate) use self::handler::{Ctx, Handled, HandlerResult};

/// Routes one decoded CALL to its handler.
pub(crate) async fn dispatch(ctx: &Ctx<'_>, call: ChargePointCall) -> HandlerResult {
    use ChargePointCall as C;
    match call {
        C::BootNotification(req) => provisioning::boot_notification(ctx, req).await,
        C::Heartbeat(req) => provisioning::heartbeat(ctx, req).await,
        C::StatusNotification(req) => availability::status_notification(ctx, req).await,
        C::Authorize(req) => authorization::authorize(ctx, req).await,
        C::StartTransaction(req) => transaction::start_transaction(ctx, req).await,
        C::StopTransaction(req) => transaction::stop_transaction(ctx, req).await,
        C::MeterValues(req) => meter_values::meter_values(ctx, req).await,
        C::DataTransfer(req)
            if req
                .vendor_id
                .eq_ignore_ascii_case(tariff_and_cost::VENDOR_ID) =>
        {
            Ok(tariff_and_cost::from_charger(
                ctx,
                req.message_id.as_deref(),
                req.data.as_deref(),
            ))
        }
        C::DataTransfer(req) => data_transfer::data_transfer(ctx, req).await,
        C::DiagnosticsStatusNotification(req) => {
            diagnostics::diagnostics_status_notification(ctx, req).await
        }
        C::FirmwareStatusNotification(req) => {
            firmware::firmware_status_notification(ctx, req).await
        }
    }
}
