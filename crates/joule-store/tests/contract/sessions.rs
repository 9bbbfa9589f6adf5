//! Sessions: idempotent starts, duplicate and unknown stops, meter values in any order, filters.

use super::*;

contract_tests!(
    start_is_idempotent,
    stop_duplicate_and_unknown,
    meter_values_out_of_order_give_same_figures,
    transaction_ids_are_unique_under_concurrency,
    list_sessions_filters_and_pages,
    timestamps_round_trip_with_microseconds,
);

async fn start_is_idempotent(h: &Harness) {
    let s = &h.store;
    let first = s
        .start_session(start("CP-1", "TagA", 1000, 100))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.session.state, SessionState::Active);
    assert_eq!(first.session.meter_start_wh, 1000);
    assert_eq!(first.session.started_at, t(100));
    assert_eq!(first.session.created_at, t(101));
    // A resend (id tag in another case, as chargers do): same session.
    let again = s
        .start_session(start("CP-1", "TAGA", 1000, 100))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.session.transaction_id, first.session.transaction_id);
    assert_eq!(again.session.id, first.session.id);
    // A different start is a new session.
    let other = s
        .start_session(start("CP-1", "TagA", 2000, 200))
        .await
        .unwrap();
    assert!(other.created);
    assert_ne!(other.session.transaction_id, first.session.transaction_id);

    let by_tx = s
        .get_session_by_transaction(first.session.transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_tx, first.session);
    let by_id = s.get_session(first.session.id).await.unwrap().unwrap();
    assert_eq!(by_id, first.session);

    let events = s.events_after(0, 100).await.unwrap();
    let started: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "session.started")
        .collect();
    assert_eq!(started.len(), 2);
    assert_eq!(
        started[0].session_id.as_deref(),
        Some(first.session.id.to_string().as_str())
    );
    assert_eq!(
        started[0].payload["transaction_id"],
        first.session.transaction_id.get()
    );
}

async fn stop_duplicate_and_unknown(h: &Harness) {
    let s = &h.store;
    let started = s
        .start_session(start("CP-1", "tag1", 1000, 100))
        .await
        .unwrap();
    let tx = started.session.transaction_id;

    let mut first = stop("CP-1", tx, 5000, 200);
    first.transaction_data = vec![MeterSample {
        timestamp: t(150),
        values: vec![energy(3000), power(7400)],
    }];
    let StopOutcome::Stopped(ended) = s.stop_session(first).await.unwrap() else {
        panic!("expected Stopped");
    };
    assert_eq!(ended.state, SessionState::Ended);
    assert_eq!(ended.stopped_at, Some(t(200)));
    assert_eq!(ended.meter_stop_wh, Some(5000));
    assert_eq!(ended.stop_reason.as_deref(), Some("Local"));
    assert_eq!(ended.stop_id_tag, Some(tag("TAG1")));
    assert_eq!(ended.last_meter_wh, Some(3000));
    assert_eq!(ended.peak_power_w, Some(7400));
    assert_eq!(ended.energy_wh(), 4000);
    let values = s.session_meter_values(ended.id).await.unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].transaction_id, Some(tx));

    // A resend with other figures: the first stop stands.
    let StopOutcome::AlreadyStopped(dup) =
        s.stop_session(stop("CP-1", tx, 9999, 300)).await.unwrap()
    else {
        panic!("expected AlreadyStopped");
    };
    assert_eq!(dup.meter_stop_wh, Some(5000));
    // Same transaction id from another charger: unknown there.
    assert!(matches!(
        s.stop_session(stop("CP-OTHER", tx, 1, 300)).await.unwrap(),
        StopOutcome::UnknownTransaction
    ));
    let unknown = TransactionId::new(999_999).unwrap();
    assert!(matches!(
        s.stop_session(stop("CP-1", unknown, 1, 300)).await.unwrap(),
        StopOutcome::UnknownTransaction
    ));

    let events = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "session.started",
            "session.ended",
            "session.stop_duplicated",
            "session.stop_unmatched",
            "session.stop_unmatched"
        ]
    );
    assert_eq!(events[1].payload["energy_wh"], 4000);
    assert_eq!(events[2].payload["meter_stop_wh"], 9999);
    assert_eq!(events[4].payload["transaction_id"], 999_999);
    assert_eq!(events[4].charger_id.as_deref(), Some("CP-1"));
}

async fn meter_values_out_of_order_give_same_figures(h: &Harness) {
    let s = &h.store;
    let a = s
        .start_session(start("CP-A", "t", 0, 0))
        .await
        .unwrap()
        .session;
    let b = s
        .start_session(start("CP-B", "t", 0, 0))
        .await
        .unwrap()
        .session;
    let readings = [(60, 1000, 7000), (120, 2000, 11000), (180, 3000, 5000)];
    for (at, wh, w) in readings {
        s.record_meter_values(
            &cid("CP-A"),
            meter_report(Some(a.transaction_id), at, wh, w),
        )
        .await
        .unwrap();
    }
    for (at, wh, w) in readings.iter().rev() {
        s.record_meter_values(
            &cid("CP-B"),
            meter_report(Some(b.transaction_id), *at, *wh, *w),
        )
        .await
        .unwrap();
    }
    let a = s.get_session(a.id).await.unwrap().unwrap();
    let b = s.get_session(b.id).await.unwrap().unwrap();
    for x in [&a, &b] {
        assert_eq!(x.last_meter_at, Some(t(180)));
        assert_eq!(x.last_meter_wh, Some(3000));
        assert_eq!(x.peak_power_w, Some(11000));
        assert_eq!(x.energy_wh(), 3000);
    }
    // Every sampled value is kept verbatim, in charger-time order.
    let values = s.session_meter_values(b.id).await.unwrap();
    assert_eq!(values.len(), 6);
    assert_eq!(values[0].timestamp, t(60));
    assert_eq!(values[0].value, energy(1000));
    assert_eq!(values[5].timestamp, t(180));

    // A transaction of another charger is not linked; no transaction at all
    // is stored unlinked. Neither is an event.
    s.record_meter_values(
        &cid("CP-B"),
        meter_report(Some(a.transaction_id), 500, 9000, 1),
    )
    .await
    .unwrap();
    s.record_meter_values(&cid("CP-A"), meter_report(None, 600, 9500, 1))
        .await
        .unwrap();
    let a2 = s.get_session(a.id).await.unwrap().unwrap();
    assert_eq!(a2.last_meter_wh, Some(3000));
    let kinds = event_kinds(h).await;
    assert_eq!(kinds, vec!["session.started", "session.started"]);
}

async fn transaction_ids_are_unique_under_concurrency(h: &Harness) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = h.store.clone();
        tasks.push(tokio::spawn(async move {
            s.start_session(start(&format!("CP-{}", i % 5), "T", i, i))
                .await
                .unwrap()
                .session
                .transaction_id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert!(ids.iter().all(|t| t.get() >= 1));
}

async fn list_sessions_filters_and_pages(h: &Harness) {
    let s = &h.store;
    let a1 = s
        .start_session(start("CP-A", "Alice", 0, 100))
        .await
        .unwrap()
        .session;
    let a2 = s
        .start_session(start("CP-A", "Bob", 0, 200))
        .await
        .unwrap()
        .session;
    let b1 = s
        .start_session(start("CP-B", "alice", 0, 300))
        .await
        .unwrap()
        .session;
    s.stop_session(stop("CP-A", a1.transaction_id, 10, 150))
        .await
        .unwrap();

    let all = s
        .list_sessions(SessionFilter::default(), Page::default())
        .await
        .unwrap();
    let order: Vec<_> = all.items.iter().map(|x| x.id).collect();
    assert_eq!(order, vec![b1.id, a2.id, a1.id], "newest first");

    let by_charger = s
        .list_sessions(
            SessionFilter {
                charger_id: Some(cid("CP-A")),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_charger.items.len(), 2);
    let by_tag = s
        .list_sessions(
            SessionFilter {
                id_tag: Some(tag("ALICE")),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        by_tag.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![b1.id, a1.id]
    );
    let active = s
        .list_sessions(
            SessionFilter {
                state: Some(SessionState::Active),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(active.items.len(), 2);
    let ended = s
        .list_sessions(
            SessionFilter {
                state: Some(SessionState::Ended),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(ended.items[0].id, a1.id);
    let window = s
        .list_sessions(
            SessionFilter {
                started_from: Some(t(200)),
                started_to: Some(t(300)),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        window.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a2.id]
    );
    let p1 = s
        .list_sessions(SessionFilter::default(), Page::new(Some(2), None))
        .await
        .unwrap();
    assert_eq!(p1.items.len(), 2);
    assert_eq!(p1.next_offset, Some(2));
    let p2 = s
        .list_sessions(SessionFilter::default(), Page::new(Some(2), Some(2)))
        .await
        .unwrap();
    assert_eq!(
        p2.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a1.id]
    );
    assert_eq!(p2.next_offset, None);
}

async fn timestamps_round_trip_with_microseconds(h: &Harness) {
    let s = &h.store;
    let at = Utc.timestamp_opt(1_767_225_600, 123_456_000).unwrap();
    s.create_charger(new_charger("CP-1"), at).await.unwrap();
    let c = s.get_charger(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(c.created_at, at);
    // Same start with sub-microsecond noise still matches the stored key.
    let mut st = start("CP-1", "x", 1, 0);
    st.started_at = at;
    let first = s.start_session(st.clone()).await.unwrap();
    assert_eq!(first.session.started_at, at);
    let again = s.start_session(st).await.unwrap();
    assert!(!again.created);
}
