//! Tariffs: versions, the default tariff, a charger's own tariff.

use super::*;

contract_tests!(
    tariff_crud_conflict_and_versions,
    default_tariff_set_clear_and_delete,
    session_keeps_the_tariff_version_it_started_with,
    charger_tariff_takes_precedence_over_the_default,
);

async fn tariff_crud_conflict_and_versions(h: &Harness) {
    let s = &h.store;
    let created = s
        .create_tariff(new_tariff("T1", "0.2345"), t(0))
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.created_at, t(0));
    assert_eq!(created.updated_at, t(0));
    // The OCPI body comes back exactly, prices included.
    assert_eq!(created.tariff, new_tariff("T1", "0.2345").tariff);
    assert_eq!(created.extensions.hold_amount_minor, Some(5000));
    assert_eq!(
        created.tariff.elements[0].price_components[0]
            .price
            .to_string(),
        "0.2345"
    );
    assert!(matches!(
        s.create_tariff(new_tariff("T1", "1"), t(1)).await,
        Err(StoreError::Conflict { .. })
    ));

    let updated = s
        .update_tariff("T1", new_tariff("T1", "0.40"), t(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, t(0));
    assert_eq!(updated.updated_at, t(2));
    let again = s
        .update_tariff("T1", new_tariff("T1", "0.41"), t(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version, 3);
    assert_eq!(s.get_tariff("T1").await.unwrap().unwrap(), again);
    assert!(s
        .update_tariff("nope", new_tariff("nope", "1"), t(3))
        .await
        .unwrap()
        .is_none());

    s.create_tariff(new_tariff("A0", "0.1"), t(4))
        .await
        .unwrap();
    s.create_tariff(new_tariff("b2", "0.1"), t(4))
        .await
        .unwrap();
    let first = s.list_tariffs(Page::new(Some(2), None)).await.unwrap();
    let ids: Vec<_> = first.items.iter().map(|t| t.tariff.id.as_str()).collect();
    assert_eq!(ids, ["A0", "T1"]);
    assert_eq!(first.next_offset, Some(2));
    let rest = s.list_tariffs(Page::new(Some(2), Some(2))).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_offset, None);

    assert!(s.delete_tariff("T1", t(5)).await.unwrap());
    assert!(!s.delete_tariff("T1", t(6)).await.unwrap());
    assert!(s.get_tariff("T1").await.unwrap().is_none());

    let events = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "tariff.created",
            "tariff.updated",
            "tariff.updated",
            "tariff.created",
            "tariff.created",
            "tariff.deleted"
        ]
    );
    assert_eq!(
        events[2].payload,
        serde_json::json!({"tariff_id": "T1", "version": 3, "currency": "EUR"})
    );
}

/// NEVI frozen price: a session records the default tariff's version at
/// start; replacing (or deleting) the tariff later leaves that version
/// readable and the session pointing at it.
async fn session_keeps_the_tariff_version_it_started_with(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    // No default tariff: the session has none.
    let none = start_resolved(h, "CP1", "TAG0", 0, 0).await;
    assert_eq!(none.session.tariff, None);

    s.create_tariff(new_tariff("T1", "0.30"), t(1))
        .await
        .unwrap();
    s.set_default_tariff(Some("T1"), t(1)).await.unwrap();
    let before = start_resolved(h, "CP1", "TAG1", 100, 2).await.session;
    let v1 = SessionTariff {
        tariff_id: "T1".into(),
        version: 1,
    };
    assert_eq!(before.tariff, Some(v1.clone()));

    s.update_tariff("T1", new_tariff("T1", "0.50"), t(3))
        .await
        .unwrap();
    let after = start_resolved(h, "CP1", "TAG2", 200, 4).await.session;
    assert_eq!(after.tariff.as_ref().map(|t| t.version), Some(2));
    // A resend of the first start still returns version 1.
    let resent = start_resolved(h, "CP1", "TAG1", 100, 2).await;
    assert!(!resent.created);
    assert_eq!(resent.session.tariff, Some(v1.clone()));
    assert_eq!(
        s.get_session(before.id).await.unwrap().unwrap().tariff,
        Some(v1)
    );

    let old = s.get_tariff_version("T1", 1).await.unwrap().unwrap();
    assert_eq!(old.version, 1);
    assert_eq!(old.tariff, new_tariff("T1", "0.30").tariff);
    let new = s.get_tariff_version("T1", 2).await.unwrap().unwrap();
    assert_eq!(new.tariff, new_tariff("T1", "0.50").tariff);
    assert!(s.get_tariff_version("T1", 3).await.unwrap().is_none());

    // Versions outlive the tariff and are never reused.
    assert!(s.delete_tariff("T1", t(5)).await.unwrap());
    assert!(s.get_tariff_version("T1", 1).await.unwrap().is_some());
    let again = s
        .create_tariff(new_tariff("T1", "0.90"), t(6))
        .await
        .unwrap();
    assert_eq!(again.version, 3);
    let old = s.get_tariff_version("T1", 1).await.unwrap().unwrap();
    assert_eq!(old.tariff, new_tariff("T1", "0.30").tariff);
}

async fn charger_tariff_takes_precedence_over_the_default(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    charger(h, "CP2").await;
    s.create_tariff(new_tariff("DEF", "0.30"), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("OWN", "0.20"), t(0))
        .await
        .unwrap();
    s.set_default_tariff(Some("DEF"), t(0)).await.unwrap();

    assert_eq!(s.charger_tariff(&cid("CP1")).await.unwrap(), Some(None));
    assert_eq!(s.charger_tariff(&cid("NOPE")).await.unwrap(), None);
    assert_eq!(
        s.set_charger_tariff(&cid("NOPE"), Some("OWN"), t(1))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        s.set_charger_tariff(&cid("CP1"), Some("MISSING"), t(1))
            .await,
        Err(StoreError::NotFound { entity: "tariff" })
    ));
    assert_eq!(
        s.set_charger_tariff(&cid("CP1"), Some("OWN"), t(1))
            .await
            .unwrap(),
        Some(Some("OWN".into()))
    );
    // Setting it again records nothing.
    s.set_charger_tariff(&cid("CP1"), Some("OWN"), t(1))
        .await
        .unwrap();
    assert_eq!(
        s.charger_tariff(&cid("CP1")).await.unwrap(),
        Some(Some("OWN".into()))
    );

    let tariff_of =
        |out: joule_domain::charging::session::StartOutcome| out.session.tariff.unwrap().tariff_id;
    let own = start_resolved(h, "CP1", "TAG1", 0, 2).await;
    assert_eq!(tariff_of(own), "OWN");
    let def = start_resolved(h, "CP2", "TAG1", 0, 2).await;
    assert_eq!(tariff_of(def), "DEF");

    // Deleting the tariff clears it on the charger: the default applies.
    assert!(s.delete_tariff("OWN", t(3)).await.unwrap());
    assert_eq!(s.charger_tariff(&cid("CP1")).await.unwrap(), Some(None));
    let after = start_resolved(h, "CP1", "TAG2", 0, 4).await;
    assert_eq!(tariff_of(after), "DEF");

    let events = s.events_after(0, 100).await.unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "charger.tariff_changed")
        .map(|e| e.payload["tariff_id"].clone())
        .collect();
    assert_eq!(
        changes,
        vec![serde_json::json!("OWN"), serde_json::Value::Null]
    );
}

async fn default_tariff_set_clear_and_delete(h: &Harness) {
    let s = &h.store;
    assert!(s.default_tariff().await.unwrap().is_none());
    assert!(matches!(
        s.set_default_tariff(Some("T1"), t(0)).await,
        Err(StoreError::NotFound { .. })
    ));
    s.create_tariff(new_tariff("T1", "0.30"), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("T2", "0.35"), t(0))
        .await
        .unwrap();

    let set = s
        .set_default_tariff(Some("T1"), t(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.tariff.id, "T1");
    // Setting the same default again records nothing.
    s.set_default_tariff(Some("T1"), t(2)).await.unwrap();
    s.update_tariff("T1", new_tariff("T1", "0.31"), t(3))
        .await
        .unwrap();
    let default = s.default_tariff().await.unwrap().unwrap();
    assert_eq!((default.tariff.id.as_str(), default.version), ("T1", 2));

    s.set_default_tariff(Some("T2"), t(4)).await.unwrap();
    assert_eq!(s.default_tariff().await.unwrap().unwrap().tariff.id, "T2");
    assert!(s.set_default_tariff(None, t(5)).await.unwrap().is_none());
    assert!(s.default_tariff().await.unwrap().is_none());

    // Deleting the default tariff clears the default.
    s.set_default_tariff(Some("T2"), t(6)).await.unwrap();
    assert!(s.delete_tariff("T2", t(7)).await.unwrap());
    assert!(s.default_tariff().await.unwrap().is_none());
    // Deleting another tariff leaves the default alone.
    s.set_default_tariff(Some("T1"), t(8)).await.unwrap();
    s.create_tariff(new_tariff("T3", "0.1"), t(8))
        .await
        .unwrap();
    assert!(s.delete_tariff("T3", t(9)).await.unwrap());
    assert_eq!(s.default_tariff().await.unwrap().unwrap().tariff.id, "T1");

    let events = s.events_after(0, 100).await.unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "tariff.default_changed")
        .map(|e| e.payload.clone())
        .collect();
    assert_eq!(
        changes,
        [
            serde_json::json!({"tariff_id": "T1", "previous_tariff_id": null}),
            serde_json::json!({"tariff_id": "T2", "previous_tariff_id": "T1"}),
            serde_json::json!({"tariff_id": null, "previous_tariff_id": "T2"}),
            serde_json::json!({"tariff_id": "T2", "previous_tariff_id": null}),
            serde_json::json!({"tariff_id": null, "previous_tariff_id": "T2"}),
            serde_json::json!({"tariff_id": "T1", "previous_tariff_id": null}),
        ]
    );
}
