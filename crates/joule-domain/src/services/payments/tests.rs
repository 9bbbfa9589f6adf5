//! Pure rules of the payment service. The flows themselves run against the
//! real SQLite store and the simulated gateway in `crates/joule/tests`.

use super::ports::{FaultPoint, GatewayRegistry};

#[test]
fn fault_points_round_trip() {
    let all: Vec<_> = FaultPoint::all().collect();
    assert_eq!(all.len(), 2 * crate::payments::payment::StepKind::ALL.len());
    for p in all {
        assert_eq!(FaultPoint::parse(&p.name()), Some(p));
    }
    assert_eq!(
        FaultPoint::parse("charge_off_session_called"),
        Some(FaultPoint::called(
            crate::payments::payment::StepKind::ChargeOffSession
        ))
    );
    assert_eq!(FaultPoint::parse("nope"), None);
    assert_eq!(FaultPoint::parse("capture"), None);
    assert_eq!(FaultPoint::parse("refund_later"), None);
}

#[test]
fn an_empty_registry_has_no_default() {
    let r = GatewayRegistry::new();
    assert!(r.is_empty());
    assert!(r.default_gateway().is_none());
    assert!(r.get("stripe").is_none());
}

#[test]
fn payment_id_tags_fit_ocpp_16_and_differ() {
    let a = super::web::payment_id_tag([0xab; 16]).unwrap();
    let b = super::web::payment_id_tag([0xcd; 16]).unwrap();
    assert_eq!(a.as_str().len(), 20);
    assert!(a.as_str().starts_with("PAY"));
    assert_ne!(a, b);
}
