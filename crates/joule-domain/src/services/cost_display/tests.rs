//! The price display without a network or a timer: store reads served from
//! memory, time from a [`ManualClock`].

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::charging::charger::StatusReport;
use crate::charging::meter::SampledValue;
use crate::charging::session::{ended, test_session, Session, SessionTariff, StoredMeterValue};
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, SessionId, TransactionId};
use crate::kernel::money::Decimal;
use crate::ports::clock::ManualClock;
use crate::ports::store::StoreResult;
use crate::pricing::assignment::TariffCandidates;
use crate::pricing::Tz;
use crate::services::session_cost::SessionCostReads;

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap() + Duration::minutes(min)
}

/// 0.30/kWh + 20 % VAT (0.36 incl.), idle 6.00/h per minute; an evening
/// energy price from 22:00 gives it a price boundary.
fn tariff() -> StoredTariff {
    StoredTariff {
        tariff: serde_json::from_value(serde_json::json!({
            "country_code": "US", "party_id": "JOU", "id": "T", "currency": "USD",
            "tariff_alt_text": [{"language": "en", "text": "0.36 USD/kWh, idle 6.00 USD/h"}],
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}],
                 "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
                {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}]},
                {"price_components": [{"type": "PARKING_TIME", "price": 6, "step_size": 60}]}
            ],
            "last_updated": "2026-01-01T00:00:00Z"
        }))
        .unwrap(),
        extensions: Default::default(),
        version: 1,
        created_at: t(-600),
        updated_at: t(-600),
    }
}

fn session(stop: Option<(i64, i64)>) -> Session {
    let mut session = test_session(t(0));
    session.transaction_id = TransactionId::new(7).unwrap();
    session.tariff = Some(SessionTariff {
        tariff_id: "T".to_owned(),
        version: 1,
    });
    match stop {
        Some((minute, wh)) => ended(session, t(minute), wh),
        None => session,
    }
}

fn charger() -> ChargerId {
    ChargerId::parse("CP1").unwrap()
}

fn register(seconds: i64, wh: i64) -> StoredMeterValue {
    let at = t(0) + Duration::seconds(seconds);
    StoredMeterValue {
        timestamp: at,
        connector_id: ConnectorId::new(1).unwrap(),
        transaction_id: TransactionId::new(7).ok(),
        value: SampledValue {
            value: wh.to_string(),
            context: None,
            format: None,
            measurand: None,
            phase: None,
            location: None,
            unit: None,
        },
        received_at: at,
    }
}

/// The store as the display reads it.
#[derive(Default)]
struct Reads {
    /// The default tariff, when one is in force.
    tariff: Option<StoredTariff>,
    meter_values: Mutex<Vec<StoredMeterValue>>,
    receipt: Option<String>,
}

#[async_trait]
impl SessionCostReads for Reads {
    async fn tariff_version(&self, _: &str, _: i64) -> StoreResult<Option<StoredTariff>> {
        Ok(Some(tariff()))
    }

    async fn connector_statuses(
        &self,
        _: &ChargerId,
        _: ConnectorId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusReport>> {
        Ok(Vec::new())
    }

    async fn time_zone(&self, _: &ChargerId) -> StoreResult<Tz> {
        Ok(Tz::UTC)
    }
}

#[async_trait]
impl CostDisplayReads for Reads {
    async fn tariff_candidates(
        &self,
        _: &ChargerId,
        _: Option<&IdToken>,
    ) -> StoreResult<Option<TariffCandidates>> {
        Ok(Some(TariffCandidates {
            default: self.tariff.clone(),
            ..Default::default()
        }))
    }

    async fn driver_language(&self, _: &IdToken) -> StoreResult<Option<String>> {
        Ok(None)
    }

    async fn meter_values(&self, _: SessionId) -> StoreResult<Vec<StoredMeterValue>> {
        Ok(self.meter_values.lock().unwrap().clone())
    }

    async fn receipt_token(&self, _: SessionId) -> StoreResult<Option<String>> {
        Ok(self.receipt.clone())
    }
}

fn service(reads: Reads, at: DateTime<Utc>) -> (CostDisplay, Arc<ManualClock>, Arc<Reads>) {
    let clock = Arc::new(ManualClock::new(at));
    let reads = Arc::new(reads);
    let display = CostDisplay::new(
        reads.clone(),
        clock.clone(),
        CostDisplaySettings {
            receipt_base_url: "http://joule/receipts/".to_owned(),
            running_cost_interval: std::time::Duration::from_secs(60),
        },
    );
    (display, clock, reads)
}

fn priced() -> Reads {
    Reads {
        tariff: Some(tariff()),
        receipt: Some("r1".to_owned()),
        ..Default::default()
    }
}

fn running(notices: &[CostNotice]) -> &RunningCost {
    match notices {
        [CostNotice::RunningCost(cost)] => cost.as_ref(),
        other => panic!("expected one RunningCost, got {other:?}"),
    }
}

#[tokio::test]
async fn an_accepted_driver_gets_their_price() {
    let (display, _, _) = service(priced(), t(0));
    let mut state = ChargerDisplay::new(DisplaySupport::default());
    let id_tag = IdToken::parse("TAG").unwrap();
    let notices = display
        .on_event(
            &charger(),
            &mut state,
            CostEvent::Authorized {
                id_tag: id_tag.clone(),
            },
        )
        .await;
    assert_eq!(
        notices,
        vec![CostNotice::UserPrice {
            id_tag,
            price_text: "0.36 USD/kWh, idle 6.00 USD/h".to_owned()
        }]
    );
}

#[tokio::test]
async fn without_a_tariff_nothing_is_shown() {
    let (display, _, _) = service(Reads::default(), t(0));
    let mut state = ChargerDisplay::new(DisplaySupport::default());
    assert!(!display.has_price(&charger()).await);
    assert!(display.configure(&charger(), &mut state).await.is_empty());
    let id_tag = IdToken::parse("TAG").unwrap();
    let event = CostEvent::Authorized { id_tag };
    assert!(display
        .on_event(&charger(), &mut state, event)
        .await
        .is_empty());
}

#[tokio::test]
async fn the_default_price_changes_at_the_tariffs_boundary() {
    let (display, clock, _) = service(priced(), t(0));
    let support = DisplaySupport {
        idle_after_stop_setting: true,
        languages: None,
    };
    let mut state = ChargerDisplay::new(support);
    assert!(display.has_price(&charger()).await);
    let notices = display.configure(&charger(), &mut state).await;
    let [CostNotice::Config(settings)] = notices.as_slice() else {
        panic!("expected the settings, got {notices:?}");
    };
    let DisplaySetting::DefaultPrice { prices, .. } = &settings[0] else {
        panic!("DefaultPrice first, got {settings:?}");
    };
    assert_eq!(prices.kwh, Some(Decimal::new(36, 2)));
    assert_eq!(settings[1], DisplaySetting::TimeOffset("+00:00".to_owned()));
    assert_eq!(settings[2], DisplaySetting::IdleFeeAfterStop(true));
    // The evening price starts at 22:00: the settings are due again then.
    let evening = Utc.with_ymd_and_hms(2026, 3, 2, 22, 0, 0).unwrap();
    assert_eq!(state.config_boundary, Some(evening));
    assert_eq!(state.next_wake(), Some(evening));
    assert!(display.tick(&charger(), &mut state).await.is_empty());
    clock.set(evening);
    let notices = display.tick(&charger(), &mut state).await;
    let [CostNotice::Config(settings)] = notices.as_slice() else {
        panic!("expected the settings, got {notices:?}");
    };
    let DisplaySetting::DefaultPrice { prices, .. } = &settings[0] else {
        panic!("DefaultPrice first, got {settings:?}");
    };
    assert_eq!(prices.kwh, Some(Decimal::new(2, 1)));
}

#[tokio::test]
async fn running_cost_at_the_start_after_meter_values_and_every_interval() {
    let (display, clock, reads) = service(priced(), t(0));
    let mut state = ChargerDisplay::new(DisplaySupport::default());
    let started = CostEvent::SessionStarted {
        session: Box::new(session(None)),
    };
    let notices = display.on_event(&charger(), &mut state, started).await;
    let first = running(&notices);
    assert_eq!(first.transaction_id, 7);
    assert_eq!(first.cost, Decimal::ZERO);
    assert_eq!(first.meter_wh, 1000);
    assert_eq!(first.state, CostState::Charging);
    assert_eq!(
        first.receipt_url.as_deref(),
        Some("http://joule/receipts/r1")
    );
    let evening = Utc.with_ymd_and_hms(2026, 3, 2, 22, 0, 0).unwrap();
    assert_eq!(first.reading_wanted_at, Some(evening));
    assert_eq!(
        first.next_period.as_ref().map(|(at, p)| (*at, p.kwh)),
        Some((evening, Some(Decimal::new(2, 1))))
    );
    // Nothing is due before the interval.
    assert_eq!(state.next_wake(), Some(t(1)));
    assert!(display.tick(&charger(), &mut state).await.is_empty());
    // 5 kWh read after 20 s, sent at 30 s: priced at once, and the
    // interval restarts.
    reads.meter_values.lock().unwrap().push(register(20, 6000));
    clock.advance(Duration::seconds(30));
    let event = CostEvent::MeterValues { transaction_id: 7 };
    let notices = display.on_event(&charger(), &mut state, event).await;
    let after_meter = running(&notices);
    assert_eq!(after_meter.cost, Decimal::new(180, 2));
    assert_eq!(after_meter.meter_wh, 6000);
    assert_eq!(after_meter.price_text, "Cost so far: 1.80 USD incl. VAT");
    clock.advance(Duration::seconds(59));
    assert!(display.tick(&charger(), &mut state).await.is_empty());
    clock.advance(Duration::seconds(1));
    let notices = display.tick(&charger(), &mut state).await;
    assert_eq!(running(&notices).at, t(0) + Duration::seconds(90));
}

#[tokio::test]
async fn the_stop_gives_the_final_cost() {
    let (display, clock, reads) = service(priced(), t(0));
    let mut state = ChargerDisplay::new(DisplaySupport::default());
    let started = CostEvent::SessionStarted {
        session: Box::new(session(None)),
    };
    display.on_event(&charger(), &mut state, started).await;
    reads
        .meter_values
        .lock()
        .unwrap()
        .push(register(1800, 6000));
    clock.set(t(60));
    let stopped = CostEvent::SessionStopped {
        session: Box::new(session(Some((60, 11_000)))),
    };
    let notices = display.on_event(&charger(), &mut state, stopped).await;
    assert_eq!(
        notices,
        vec![CostNotice::FinalCost(FinalCost {
            transaction_id: 7,
            cost: Decimal::new(360, 2),
            price_text: "Energy 10 kWh: 3.60 USD; Total: 3.60 USD incl. VAT".to_owned(),
            receipt_url: Some("http://joule/receipts/r1".to_owned()),
        })]
    );
    assert!(state.sessions.is_empty());
    assert_eq!(state.next_wake(), None);
}

#[tokio::test]
async fn idle_after_the_stop_is_shown_until_the_connector_is_free() {
    let (display, clock, _) = service(priced(), t(60));
    let mut state = ChargerDisplay::new(DisplaySupport::default());
    // The charger accepted billing idle time after the stop.
    state.idle_after_stop = true;
    let stopped = CostEvent::SessionStopped {
        session: Box::new(session(Some((60, 11_000)))),
    };
    let notices = display.on_event(&charger(), &mut state, stopped).await;
    let idle = running(&notices);
    assert_eq!(idle.state, CostState::Idle);
    assert_eq!(idle.cost, Decimal::new(360, 2));
    assert_eq!(state.sessions.len(), 1);
    // Another connector coming free changes nothing.
    clock.set(t(100));
    let other = CostEvent::ConnectorAvailable {
        connector_id: 2,
        at: t(90),
    };
    assert!(display
        .on_event(&charger(), &mut state, other)
        .await
        .is_empty());
    // Unplugged 30 minutes after the stop: 3.00 idle.
    let free = CostEvent::ConnectorAvailable {
        connector_id: 1,
        at: t(90),
    };
    let notices = display.on_event(&charger(), &mut state, free).await;
    let [CostNotice::FinalCost(last)] = notices.as_slice() else {
        panic!("expected the FinalCost, got {notices:?}");
    };
    assert_eq!(last.cost, Decimal::new(660, 2));
    assert!(state.sessions.is_empty());
}
