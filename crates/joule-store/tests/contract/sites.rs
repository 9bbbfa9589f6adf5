//! Sites and the access rule their chargers inherit.

use super::*;

contract_tests!(sites_crud_charger_site_and_inherited_access,);

async fn sites_crud_charger_site_and_inherited_access(h: &Harness) {
    let s = &h.store;
    group(h, "staff").await;
    charger(h, "CP1").await;
    let private = ChargerAccessRule {
        access: ChargerAccess::Private,
        allowed_groups: vec![gid("staff")],
    };
    let site = s
        .create_site(new_site("madrid", private.clone()), t(1))
        .await
        .unwrap();
    assert_eq!(site.time_zone, chrono_tz::Europe::Madrid);
    assert_eq!(site.access, private);
    assert_eq!(site.address.city.as_deref(), Some("Madrid"));
    assert!(matches!(
        s.create_site(new_site("madrid", ChargerAccessRule::default()), t(1))
            .await,
        Err(StoreError::Conflict { entity: "site" })
    ));
    let ghost = ChargerAccessRule {
        access: ChargerAccess::Private,
        allowed_groups: vec![gid("ghost")],
    };
    assert!(matches!(
        s.create_site(new_site("paris", ghost), t(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.get_site(&sid("madrid")).await.unwrap(),
        Some(site.clone())
    );
    assert!(s.get_site(&sid("paris")).await.unwrap().is_none());
    s.create_site(new_site("bilbao", ChargerAccessRule::default()), t(2))
        .await
        .unwrap();
    let page = s.list_sites(Page::new(Some(1), Some(0))).await.unwrap();
    assert_eq!(page.items[0].id, sid("bilbao"));
    assert_eq!(page.next_offset, Some(1));

    // A charger without its own rule inherits its site's.
    assert_eq!(
        s.charger_access(&cid("CP1")).await.unwrap(),
        Some(ChargerAccessRule::default())
    );
    assert_eq!(
        s.set_charger_site(&cid("NOPE"), Some(&sid("madrid")), t(3))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        s.set_charger_site(&cid("CP1"), Some(&sid("paris")), t(3))
            .await,
        Err(StoreError::NotFound { entity: "site" })
    ));
    assert_eq!(
        s.set_charger_site(&cid("CP1"), Some(&sid("madrid")), t(3))
            .await
            .unwrap(),
        Some(Some(sid("madrid")))
    );
    assert_eq!(
        s.charger_access(&cid("CP1")).await.unwrap(),
        Some(private.clone())
    );
    // Its own rule, once set, wins.
    s.set_charger_access(&cid("CP1"), ChargerAccessRule::default(), t(4))
        .await
        .unwrap();
    assert_eq!(
        s.charger_access(&cid("CP1")).await.unwrap(),
        Some(ChargerAccessRule::default())
    );

    let mut renamed = new_site("madrid", ChargerAccessRule::default());
    renamed.name = "Madrid Centro".into();
    renamed.time_zone = chrono_tz::Atlantic::Canary;
    let updated = s
        .update_site(&sid("madrid"), renamed.clone(), t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "Madrid Centro");
    assert_eq!(updated.time_zone, chrono_tz::Atlantic::Canary);
    assert_eq!(updated.updated_at, t(5));
    assert!(s
        .update_site(&sid("paris"), renamed, t(5))
        .await
        .unwrap()
        .is_none());

    // Deleting the site detaches its chargers.
    assert!(s.delete_site(&sid("madrid"), t(6)).await.unwrap());
    assert!(!s.delete_site(&sid("madrid"), t(6)).await.unwrap());
    let candidates = s
        .tariff_candidates(&cid("CP1"), None)
        .await
        .unwrap()
        .unwrap();
    assert!(candidates.site.is_none());
    let events = s.events_after(0, 100).await.unwrap();
    let site_events: Vec<&str> = kinds(&events)
        .into_iter()
        .filter(|k| k.starts_with("site.") || *k == "charger.site_changed")
        .collect();
    assert_eq!(
        site_events,
        [
            "site.created",
            "site.created",
            "charger.site_changed",
            "site.updated",
            "charger.site_changed",
            "site.deleted"
        ]
    );
    let moved = events
        .iter()
        .find(|e| e.kind.as_str() == "charger.site_changed")
        .unwrap();
    assert_eq!(moved.payload["site_id"], "madrid");
}
