//! The vendor handlers DataTransfer CALLs are routed to, by `vendorId`:
//! registered by the binary, read by every connection's handlers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use joule_domain::ChargerId;

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

    pub(crate) fn get(&self, vendor_id: &str) -> Option<Arc<dyn DataTransferHandler>> {
        self.handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&vendor_id.to_ascii_lowercase())
            .cloned()
    }
}
