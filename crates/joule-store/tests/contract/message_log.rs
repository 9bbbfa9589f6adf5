//! The OCPP message log: append, query, purge.

use super::*;

contract_tests!(message_log_append_query_purge,);

async fn message_log_append_query_purge(h: &Harness) {
    let s = &h.store;
    s.append_log(vec![
        log("CP-1", Direction::In, "BootNotification", 1),
        log("CP-1", Direction::Out, "BootNotification", 2),
        log("CP-2", Direction::In, "Heartbeat", 3),
    ])
    .await
    .unwrap();
    s.append_log(vec![
        log("CP-1", Direction::In, "Heartbeat", 10),
        log("CP-1", Direction::Out, "Heartbeat", 11),
    ])
    .await
    .unwrap();
    h.db.flush().await.unwrap();

    let all = s
        .query_log(&cid("CP-1"), LogFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 4);
    assert_eq!(all.items[0].entry.at, t(11), "newest first");
    assert_eq!(
        all.items[3].entry,
        log("CP-1", Direction::In, "BootNotification", 1)
    );
    assert!(all.items.windows(2).all(|w| w[0].id > w[1].id));

    let incoming = s
        .query_log(
            &cid("CP-1"),
            LogFilter {
                direction: Some(Direction::In),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(incoming.items.len(), 2);
    let hb = s
        .query_log(
            &cid("CP-1"),
            LogFilter {
                action: Some("Heartbeat".into()),
                from: Some(t(10)),
                to: Some(t(11)),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(hb.items.len(), 1);
    assert_eq!(hb.items[0].entry.at, t(10));
    let paged = s
        .query_log(
            &cid("CP-1"),
            LogFilter::default(),
            Page::new(Some(3), Some(0)),
        )
        .await
        .unwrap();
    assert_eq!(paged.items.len(), 3);
    assert_eq!(paged.next_offset, Some(3));

    assert_eq!(s.purge_log_before(t(10)).await.unwrap(), 3);
    let left = s
        .query_log(&cid("CP-1"), LogFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(left.items.len(), 2);
    assert!(
        event_kinds(h).await.is_empty(),
        "the log is not an event source"
    );
}
