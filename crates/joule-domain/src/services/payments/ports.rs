//! What the payment service needs from the outside, besides the store
//! ports: the gateways by name, randomness, and a test-only fault hook.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::payments::gateway::{
    GatewayError, IntentRef, IntentState, PaymentGateway, PaymentMethodRef, SetupRef,
};
use crate::payments::payment::StepKind;

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

    /// Saves a test card on a card-saving request, as Stripe.js's
    /// `confirmCardSetup` would (the account card page of the demo).
    fn confirm_test_setup(
        &self,
        _setup: &SetupRef,
        _card: &str,
    ) -> Result<PaymentMethodRef, GatewayError> {
        Err(GatewayError::Unsupported {
            operation: "test card setup",
        })
    }
}

/// Points in a flow where a test can make the process die, to prove
/// exactly-once with crashes between steps. Every gateway step
/// has two: once it is stored as intended (the gateway not yet called),
/// and once the gateway has answered (the outcome not yet stored). The
/// payment service reaches them in its two beats, so a new flow's steps get
/// crash points without code of their own. Test-only: only a binary built
/// with the `fault-injection` feature wires it, from `JOULE_FAULT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPoint {
    pub kind: StepKind,
    pub phase: FaultPhase,
}

/// Which beat of a step a [`FaultPoint`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPhase {
    /// Stored as intended; the gateway not yet called.
    Intended,
    /// The gateway answered; the outcome not yet stored.
    Called,
}

impl FaultPoint {
    pub const fn intended(kind: StepKind) -> Self {
        Self {
            kind,
            phase: FaultPhase::Intended,
        }
    }

    pub const fn called(kind: StepKind) -> Self {
        Self {
            kind,
            phase: FaultPhase::Called,
        }
    }

    /// `capture_intended`, `charge_off_session_called`, …
    pub fn name(self) -> String {
        let phase = match self.phase {
            FaultPhase::Intended => "intended",
            FaultPhase::Called => "called",
        };
        format!("{}_{phase}", self.kind.as_str())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (kind, phase) = if let Some(k) = raw.strip_suffix("_intended") {
            (k, FaultPhase::Intended)
        } else {
            (raw.strip_suffix("_called")?, FaultPhase::Called)
        };
        Some(Self {
            kind: StepKind::parse(kind)?,
            phase,
        })
    }

    /// Every point, for tests that walk them all.
    pub fn all() -> impl Iterator<Item = Self> {
        StepKind::ALL
            .into_iter()
            .flat_map(|k| [Self::intended(k), Self::called(k)])
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
