//! Chargers: CRUD, credentials, boot and connection, connector status and its history.

use super::*;

contract_tests!(
    charger_crud_conflict_and_patch,
    credentials_and_auto_register,
    boot_heartbeat_and_connection,
    mark_all_disconnected_emits_one_event_per_charger,
    telemetry_for_unknown_charger_is_not_found,
    status_history_and_late_status,
    connector_status_range_is_bounded_and_ordered,
    firmware_and_diagnostics_status,
);

async fn charger_crud_conflict_and_patch(h: &Harness) {
    let s = &h.store;
    let mut new = new_charger("CP-1");
    new.location = Some(Location {
        latitude: 52.5,
        longitude: 13.4,
        address: Some("Main St 1".into()),
    });
    let created = s.create_charger(new.clone(), t(0)).await.unwrap();
    assert_eq!(created.id, cid("CP-1"));
    assert!(created.has_password);
    assert_eq!(created.location.as_ref().unwrap().latitude, 52.5);
    assert!(!created.connection.connected);
    assert!(created.boot.is_none());

    let again = s.create_charger(new, t(1)).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    // None leaves alone, Some(None) clears.
    let patch = ChargerPatch {
        label: Some(None),
        registration: Some(RegistrationStatus::Rejected),
        ..Default::default()
    };
    let updated = s
        .update_charger(&cid("CP-1"), patch, t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.label, None);
    assert_eq!(updated.registration, RegistrationStatus::Rejected);
    assert!(updated.location.is_some());
    assert!(updated.has_password);
    assert_eq!(updated.updated_at, t(5));
    assert_eq!(updated.created_at, t(0));

    let patch = ChargerPatch {
        password_hash: Some(None),
        ..Default::default()
    };
    let updated = s
        .update_charger(&cid("CP-1"), patch, t(6))
        .await
        .unwrap()
        .unwrap();
    assert!(!updated.has_password);
    assert!(s
        .update_charger(&cid("NOPE"), ChargerPatch::default(), t(6))
        .await
        .unwrap()
        .is_none());

    charger(h, "CP-2").await;
    let page = s.list_chargers(Page::new(Some(1), None)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, cid("CP-1"));
    assert_eq!(page.next_offset, Some(1));
    let page = s.list_chargers(Page::new(Some(1), Some(1))).await.unwrap();
    assert_eq!(page.items[0].id, cid("CP-2"));
    assert_eq!(page.next_offset, None);

    s.record_status(&cid("CP-1"), status(1, ConnectorStatus::Available, None, 7))
        .await
        .unwrap();
    assert!(s.delete_charger(&cid("CP-1"), t(8)).await.unwrap());
    assert!(!s.delete_charger(&cid("CP-1"), t(9)).await.unwrap());
    assert!(s.get_charger(&cid("CP-1")).await.unwrap().is_none());
    assert!(s.connector_states(&cid("CP-1")).await.unwrap().is_empty());
    // History stays.
    let history = s
        .status_history(&cid("CP-1"), None, Page::default())
        .await
        .unwrap();
    assert_eq!(history.items.len(), 1);

    let kinds = event_kinds(h).await;
    assert_eq!(
        kinds,
        vec![
            "charger.created",
            "charger.updated",
            "charger.updated",
            "charger.created",
            "connector.status_changed",
            "charger.deleted",
        ]
    );
}

async fn credentials_and_auto_register(h: &Harness) {
    let s = &h.store;
    charger(h, "CP-1").await;
    let creds = s.charger_credentials(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(creds.registration, RegistrationStatus::Accepted);
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$hash"));
    assert!(s.charger_credentials(&cid("X")).await.unwrap().is_none());

    let auto = s.auto_register_charger(&cid("NEW-1"), t(3)).await.unwrap();
    assert_eq!(auto.registration, RegistrationStatus::Pending);
    assert!(!auto.has_password);
    // Existing charger comes back unchanged, without a second event.
    let again = s.auto_register_charger(&cid("NEW-1"), t(4)).await.unwrap();
    assert_eq!(again, auto);
    let existing = s.auto_register_charger(&cid("CP-1"), t(4)).await.unwrap();
    assert_eq!(existing.registration, RegistrationStatus::Accepted);

    let kinds = event_kinds(h).await;
    assert_eq!(kinds, vec!["charger.created", "charger.auto_registered"]);
}

async fn boot_heartbeat_and_connection(h: &Harness) {
    let s = &h.store;
    charger(h, "CP-1").await;
    let boot = BootInfo {
        vendor: "Acme".into(),
        model: "Fast 50".into(),
        firmware_version: Some("1.2.3".into()),
        charge_point_serial_number: Some("SN1".into()),
        ..Default::default()
    };
    assert_eq!(
        s.record_boot(&cid("CP-1"), boot.clone(), t(10))
            .await
            .unwrap(),
        Some(RegistrationStatus::Accepted)
    );
    assert_eq!(
        s.record_boot(&cid("UNKNOWN"), boot.clone(), t(10))
            .await
            .unwrap(),
        None
    );
    s.record_connection(&cid("CP-1"), Some("ocpp1.6"), t(9))
        .await
        .unwrap();
    s.record_heartbeat(&cid("CP-1"), t(20)).await.unwrap();
    let c = s.get_charger(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(c.boot.as_ref(), Some(&boot));
    assert_eq!(c.booted_at, Some(t(10)));
    assert_eq!(c.last_heartbeat_at, Some(t(20)));
    assert!(c.connection.connected);
    assert_eq!(c.connection.protocol.as_deref(), Some("ocpp1.6"));
    assert_eq!(c.connection.connected_at, Some(t(9)));
    assert_eq!(c.connection.last_seen_at, Some(t(20)));

    s.record_connection(&cid("CP-1"), None, t(30))
        .await
        .unwrap();
    let c = s.get_charger(&cid("CP-1")).await.unwrap().unwrap();
    assert!(!c.connection.connected);
    assert_eq!(c.connection.disconnected_at, Some(t(30)));
    assert_eq!(c.connection.protocol.as_deref(), Some("ocpp1.6"));

    let events = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    // Heartbeats are not events.
    assert_eq!(
        kinds,
        vec![
            "charger.created",
            "charger.booted",
            "charger.connected",
            "charger.disconnected"
        ]
    );
    assert_eq!(events[1].payload["vendor"], "Acme");
    assert_eq!(events[1].charger_id.as_deref(), Some("CP-1"));
    assert_eq!(events[2].payload["protocol"], "ocpp1.6");
}

async fn mark_all_disconnected_emits_one_event_per_charger(h: &Harness) {
    let s = &h.store;
    for id in ["A", "B", "C"] {
        charger(h, id).await;
    }
    s.record_connection(&cid("A"), Some("ocpp1.6"), t(1))
        .await
        .unwrap();
    s.record_connection(&cid("B"), Some("ocpp1.6"), t(1))
        .await
        .unwrap();
    assert_eq!(s.mark_all_disconnected(t(5)).await.unwrap(), 2);
    assert_eq!(s.mark_all_disconnected(t(6)).await.unwrap(), 0);
    let list = s.list_chargers(Page::default()).await.unwrap();
    assert!(list.items.iter().all(|c| !c.connection.connected));
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "charger.disconnected"), 2);
}

async fn telemetry_for_unknown_charger_is_not_found(h: &Harness) {
    let s = &h.store;
    let id = cid("GHOST");
    let nf = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound { .. }));
    assert!(nf(s.record_heartbeat(&id, t(1)).await));
    assert!(nf(s.record_connection(&id, Some("ocpp1.6"), t(1)).await));
    assert!(nf(s
        .record_status(&id, status(1, ConnectorStatus::Available, None, 1))
        .await));
    assert!(nf(s.record_firmware_status(&id, "Installed", t(1)).await));
    assert!(event_kinds(h).await.is_empty());
    // A failed status report leaves no history behind either.
    assert!(s
        .status_history(&id, None, Page::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn status_history_and_late_status(h: &Harness) {
    let s = &h.store;
    let id = cid("CP-1");
    charger(h, "CP-1").await;
    s.record_status(&id, status(1, ConnectorStatus::Available, Some(10), 11))
        .await
        .unwrap();
    s.record_status(&id, status(1, ConnectorStatus::Charging, Some(30), 31))
        .await
        .unwrap();
    // Late: happened at 20, arrives after the 30 one. History only.
    s.record_status(&id, status(1, ConnectorStatus::Preparing, Some(20), 40))
        .await
        .unwrap();
    // Same status again: no event, but history and `since` move.
    s.record_status(&id, status(1, ConnectorStatus::Charging, Some(50), 51))
        .await
        .unwrap();
    // No charger timestamp: arrival time counts.
    s.record_status(&id, status(2, ConnectorStatus::Faulted, None, 60))
        .await
        .unwrap();
    let mut faulted = status(2, ConnectorStatus::Faulted, None, 61);
    faulted.error_code = Some("GroundFailure".into());
    faulted.vendor_error_code = Some("MREC-1".into());
    s.record_status(&id, faulted).await.unwrap();

    let states = s.connector_states(&id).await.unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].connector_id, conn(1));
    assert_eq!(states[0].status, ConnectorStatus::Charging);
    assert_eq!(states[0].since, t(50));
    assert_eq!(states[1].status, ConnectorStatus::Faulted);
    assert_eq!(states[1].error_code.as_deref(), Some("GroundFailure"));
    assert_eq!(states[1].since, t(61));

    let all = s.status_history(&id, None, Page::default()).await.unwrap();
    assert_eq!(all.items.len(), 6);
    let c1 = s
        .status_history(&id, Some(conn(1)), Page::default())
        .await
        .unwrap();
    let order: Vec<_> = c1.items.iter().map(|r| r.status).collect();
    // Newest first by effective time: the late one sits where it happened.
    assert_eq!(
        order,
        vec![
            ConnectorStatus::Charging,
            ConnectorStatus::Charging,
            ConnectorStatus::Preparing,
            ConnectorStatus::Available
        ]
    );
    assert_eq!(c1.items[2].reported_at, Some(t(20)));
    assert_eq!(c1.items[2].received_at, t(40));
    let page = s
        .status_history(&id, Some(conn(1)), Page::new(Some(3), None))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next_offset, Some(3));

    let events = s.events_after(0, 100).await.unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "connector.status_changed")
        .collect();
    // Available, Charging (c1); Faulted, Faulted+error (c2).
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[1].payload["status"], "Charging");
    assert_eq!(changes[1].payload["previous_status"], "Available");
    assert_eq!(changes[3].payload["error_code"], "GroundFailure");
}

async fn connector_status_range_is_bounded_and_ordered(h: &Harness) {
    let s = &h.store;
    let id = cid("CP-1");
    charger(h, "CP-1").await;
    charger(h, "CP-2").await;
    for r in [
        status(1, ConnectorStatus::Preparing, Some(5), 6),
        status(1, ConnectorStatus::Charging, Some(10), 11),
        status(1, ConnectorStatus::Finishing, Some(40), 41),
        // Late: happened at 20, arrives last; sits where it happened.
        status(1, ConnectorStatus::SuspendedEV, Some(20), 90),
        // No charger timestamp: arrival counts.
        status(1, ConnectorStatus::Available, None, 50),
        status(1, ConnectorStatus::Charging, Some(70), 71),
        status(2, ConnectorStatus::SuspendedEV, Some(30), 31),
    ] {
        s.record_status(&id, r).await.unwrap();
    }
    s.record_status(
        &cid("CP-2"),
        status(1, ConnectorStatus::Faulted, Some(30), 31),
    )
    .await
    .unwrap();
    let got = s
        .connector_status_range(&id, conn(1), t(10), t(50))
        .await
        .unwrap();
    let got: Vec<_> = got.iter().map(|r| (r.status, r.effective_at())).collect();
    assert_eq!(
        got,
        vec![
            (ConnectorStatus::Charging, t(10)),
            (ConnectorStatus::SuspendedEV, t(20)),
            (ConnectorStatus::Finishing, t(40)),
            (ConnectorStatus::Available, t(50)),
        ]
    );
    assert!(s
        .connector_status_range(&id, conn(3), t(0), t(100))
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .connector_status_range(&cid("NOPE"), conn(1), t(0), t(100))
        .await
        .unwrap()
        .is_empty());
}

async fn firmware_and_diagnostics_status(h: &Harness) {
    let s = &h.store;
    let id = cid("CP-1");
    charger(h, "CP-1").await;
    s.record_firmware_status(&id, "Downloading", t(1))
        .await
        .unwrap();
    s.record_firmware_status(&id, "Downloading", t(2))
        .await
        .unwrap();
    s.record_firmware_status(&id, "Installed", t(3))
        .await
        .unwrap();
    s.record_diagnostics_status(&id, "Uploaded", t(4))
        .await
        .unwrap();
    let c = s.get_charger(&id).await.unwrap().unwrap();
    assert_eq!(c.firmware_status.as_deref(), Some("Installed"));
    assert_eq!(c.diagnostics_status.as_deref(), Some("Uploaded"));
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "charger.firmware_status_changed"), 2);
    assert_eq!(count(&kinds, "charger.diagnostics_status_changed"), 1);
}
