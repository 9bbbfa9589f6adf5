//! DataTransfer from chargers, routed to vendor handlers by `vendorId`
//! (compared case-insensitively: it is a `CiString255Type`). No handler for
//! the vendor → `UnknownVendorId`; the handler decides `UnknownMessageId`.
//! The OCA cost vendor is Joule's own and routed in `dispatch`
//! (`tariff_and_cost::from_charger`).

use joule_ocpp::v16::{self, encode};

use super::handler::{Ctx, Handled, HandlerResult};
pub use super::vendors::{DataTransferHandler, DataTransferReply};

pub(crate) async fn data_transfer(ctx: &Ctx<'_>, req: v16::DataTransferRequest) -> HandlerResult {
    let (status, data) = match ctx.data_transfer.get(&req.vendor_id) {
        None => (v16::DataTransferStatus::UnknownVendorId, None),
        Some(handler) => match handler
            .handle(ctx.charger, req.message_id.as_deref(), req.data.as_deref())
            .await
        {
            DataTransferReply::Accepted(data) => (v16::DataTransferStatus::Accepted, data),
            DataTransferReply::Rejected(data) => (v16::DataTransferStatus::Rejected, data),
            DataTransferReply::UnknownMessageId => {
                (v16::DataTransferStatus::UnknownMessageId, None)
            }
        },
    };
    Ok(Handled::reply(encode(&v16::DataTransferResponse {
        status,
        data,
    })))
}
