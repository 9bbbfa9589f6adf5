//! What the payment service needs from the outside, besides the store
//! ports: the gateways by name, randomness, and a test-only fault hook.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::gateway::{GatewayError, IntentRef, IntentState, PaymentGateway};

/// Random bytes from a CSPRNG. A port because the domain does no I/O: the
/// binary draws them from the operating system; receipt tokens and payment
/// id tags are only as unguessable as this source.
pub trait RandomSource: Send + Sync + std::fmt::Debug {
    fn bytes16(&self) -> [u8; 16];
}

/// What a browser does with a demo gateway's test card: confirms the hold
/// the way Stripe.js would with a real one. Only the simulated gateway
/// offers it, so the demo pay page works without Stripe.
pub trait TestCardEntry: Send + Sync + std::fmt::Debug {
    fn confirm_test_card(
        &self,
        intent: &IntentRef,
        card: &str,
    ) -> Result<IntentState, GatewayError>;
}

/// Points in a flow where a test can make the process die (issue 4, point
/// 6: prove exactly-once with crashes between steps). Test-only; the
/// binary wires it from `JOULE_FAULT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The capture step is stored as intended; the gateway not yet called.
    CaptureIntended,
    /// The gateway captured; the step is not yet stored as finished.
    CaptureCalled,
}

impl FaultPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaptureIntended => "capture_intended",
            Self::CaptureCalled => "capture_called",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::CaptureIntended, Self::CaptureCalled]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// Reached at each [`FaultPoint`]; an implementation may end the process.
pub trait FaultHook: Send + Sync + std::fmt::Debug {
    fn reached(&self, point: FaultPoint);
}

/// The gateways this Joule can reach, by the name stored on each payment,
/// so a hold is always captured through the gateway that placed it; new
/// payments go to the first one registered (the configured gateway).
#[derive(Debug, Clone, Default)]
pub struct GatewayRegistry {
    gateways: BTreeMap<&'static str, Arc<dyn PaymentGateway>>,
    test_cards: BTreeMap<&'static str, Arc<dyn TestCardEntry>>,
    default: Option<&'static str>,
}

impl GatewayRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gateway; the first one added takes new payments.
    pub fn with(mut self, gateway: Arc<dyn PaymentGateway>) -> Self {
        let name = gateway.name();
        self.default.get_or_insert(name);
        self.gateways.insert(name, gateway);
        self
    }

    /// Lets the named gateway's holds be confirmed with test cards.
    pub fn with_test_cards(mut self, name: &'static str, entry: Arc<dyn TestCardEntry>) -> Self {
        self.test_cards.insert(name, entry);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn PaymentGateway>> {
        self.gateways.get(name)
    }

    pub fn default_gateway(&self) -> Option<&Arc<dyn PaymentGateway>> {
        self.default.and_then(|n| self.gateways.get(n))
    }

    pub fn test_cards(&self, name: &str) -> Option<&Arc<dyn TestCardEntry>> {
        self.test_cards.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.gateways.is_empty()
    }
}
