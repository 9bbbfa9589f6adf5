//! DataTransfer from chargers, routed to vendor handlers by `vendorId`
//! (compared case-insensitively: it is a `CiString255Type`). No handler for
//! the vendor → `UnknownVendorId`; the handler decides `UnknownMessageId`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use joule_domain::ChargerId;
use joule_ocpp::v16::{self, encode};

use super::{Ctx, Handled, HandlerResult};

/// A vendor's answer to a DataTransfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataTransferReply {
    Accepted(Option<String>),
    Rejected(Option<String>),
    /// The vendor is known but this `messageId` is not.
    UnknownMessageId,
}

/// Handles DataTransfer CALLs of one vendor.
#[async_trait]
pub trait DataTransferHandler: Send + Sync {
    /// The `vendorId` served.
    fn vendor_id(&self) -> &str;
    async fn handle(
        &self,
        charger: &ChargerId,
        message_id: Option<&str>,
        data: Option<&str>,
    ) -> DataTransferReply;
}

/// Vendor handlers by lower-cased vendor id.
#[derive(Default)]
pub(crate) struct DataTransferRegistry {
    handlers: RwLock<HashMap<String, Arc<dyn DataTransferHandler>>>,
}

impl DataTransferRegistry {
    pub(crate) fn register(&self, handler: Arc<dyn DataTransferHandler>) {
        let key = handler.vendor_id().to_ascii_lowercase();
        self.handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, handler);
    }

    fn get(&self, vendor_id: &str) -> Option<Arc<dyn DataTransferHandler>> {
        self.handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&vendor_id.to_ascii_lowercase())
            .cloned()
    }
}

pub(crate) async fn data_transfer(ctx: &Ctx<'_>, req: v16::DataTransferRequest) -> HandlerResult {
    if req
        .vendor_id
        .eq_ignore_ascii_case(super::tariff_and_cost::VENDOR_ID)
    {
        return Ok(super::tariff_and_cost::from_charger(
            ctx,
            req.message_id.as_deref(),
            req.data.as_deref(),
        ));
    }
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
