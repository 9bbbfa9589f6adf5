//! The outbox: events in order, paged.

use super::*;

contract_tests!(events_after_pages_in_order,);

async fn events_after_pages_in_order(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.latest_event_id().await.unwrap(), 0);
    for i in 0..7 {
        charger(h, &format!("CP-{i}")).await;
    }
    let newest = s.latest_event_id().await.unwrap();
    assert!(s.events_after(newest, 10).await.unwrap().is_empty());
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let batch = s.events_after(cursor, 3).await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 3);
        cursor = batch.last().unwrap().id;
        seen.extend(batch);
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.last().unwrap().id, newest);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
    let order: Vec<_> = seen.iter().map(|e| e.charger_id.clone().unwrap()).collect();
    let expected: Vec<_> = (0..7).map(|i| format!("CP-{i}")).collect();
    assert_eq!(order, expected);
    assert!(seen.iter().all(|e| e.occurred_at == t(0)));
}
