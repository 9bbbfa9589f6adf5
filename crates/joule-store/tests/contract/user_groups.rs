//! User groups, token groups and charger access rules.

use super::*;

contract_tests!(
    user_group_crud_and_events,
    token_groups_set_replace_and_cleanup,
    charger_access_set_and_cleanup,
);

async fn user_group_crud_and_events(h: &Harness) {
    let s = &h.store;
    let new = NewUserGroup {
        id: gid("staff"),
        name: "Staff".into(),
    };
    let created = s.create_user_group(new.clone(), t(1)).await.unwrap();
    assert_eq!(created.name, "Staff");
    assert_eq!(created.created_at, t(1));
    assert!(matches!(
        s.create_user_group(new, t(2)).await,
        Err(StoreError::Conflict { .. })
    ));
    group(h, "alpha").await;
    let listed = s.list_user_groups(Page::default()).await.unwrap();
    let ids: Vec<_> = listed.items.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["alpha", "staff"]);

    let updated = s
        .update_user_group(
            &gid("staff"),
            UserGroupPatch {
                name: Some("Employees".into()),
            },
            t(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "Employees");
    assert_eq!(updated.created_at, t(1));
    assert_eq!(updated.updated_at, t(3));
    assert_eq!(
        s.get_user_group(&gid("staff")).await.unwrap().unwrap(),
        updated
    );
    assert!(s
        .update_user_group(&gid("nope"), UserGroupPatch::default(), t(3))
        .await
        .unwrap()
        .is_none());

    assert!(s.delete_user_group(&gid("staff"), t(4)).await.unwrap());
    assert!(!s.delete_user_group(&gid("staff"), t(4)).await.unwrap());
    assert!(s.get_user_group(&gid("staff")).await.unwrap().is_none());
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "user_group.created"), 2);
    assert_eq!(count(&kinds, "user_group.updated"), 1);
    assert_eq!(count(&kinds, "user_group.deleted"), 1);
}

async fn token_groups_set_replace_and_cleanup(h: &Harness) {
    let s = &h.store;
    group(h, "staff").await;
    group(h, "fleet").await;
    s.create_token(simple_token("AbC1"), t(0)).await.unwrap();
    assert!(s.token_groups(&tag("abc1")).await.unwrap().is_empty());

    // Case-insensitive tag; duplicates collapse; sorted.
    let set = s
        .set_token_groups(
            &tag("ABC1"),
            vec![gid("staff"), gid("fleet"), gid("staff")],
            t(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set, vec![gid("fleet"), gid("staff")]);
    assert_eq!(s.token_groups(&tag("abc1")).await.unwrap(), set);

    // An unknown group changes nothing.
    assert!(matches!(
        s.set_token_groups(&tag("abc1"), vec![gid("ghost")], t(2))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.token_groups(&tag("abc1")).await.unwrap(), set);
    // Unknown token.
    assert!(s
        .set_token_groups(&tag("nobody"), vec![gid("staff")], t(2))
        .await
        .unwrap()
        .is_none());

    // Deleting a group removes the membership.
    s.delete_user_group(&gid("fleet"), t(3)).await.unwrap();
    assert_eq!(
        s.token_groups(&tag("abc1")).await.unwrap(),
        vec![gid("staff")]
    );
    // Deleting and re-creating the token starts with no groups.
    s.delete_token(&tag("abc1"), t(4)).await.unwrap();
    s.create_token(simple_token("abc1"), t(5)).await.unwrap();
    assert!(s.token_groups(&tag("abc1")).await.unwrap().is_empty());
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "token.groups_changed"), 1);
}

async fn charger_access_set_and_cleanup(h: &Harness) {
    let s = &h.store;
    group(h, "staff").await;
    charger(h, "CP-1").await;
    assert_eq!(
        s.charger_access(&cid("CP-1")).await.unwrap(),
        Some(ChargerAccessRule::default())
    );
    assert!(s.charger_access(&cid("CP-X")).await.unwrap().is_none());

    let rule = ChargerAccessRule {
        access: ChargerAccess::Private,
        allowed_groups: vec![gid("staff"), gid("staff")],
    };
    let set = s
        .set_charger_access(&cid("CP-1"), rule, t(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.access, ChargerAccess::Private);
    assert_eq!(set.allowed_groups, vec![gid("staff")]);
    assert_eq!(s.charger_access(&cid("CP-1")).await.unwrap(), Some(set));

    assert!(matches!(
        s.set_charger_access(
            &cid("CP-1"),
            ChargerAccessRule {
                access: ChargerAccess::Restricted,
                allowed_groups: vec![gid("ghost")],
            },
            t(2)
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.charger_access(&cid("CP-1"))
            .await
            .unwrap()
            .unwrap()
            .access,
        ChargerAccess::Private
    );
    assert!(s
        .set_charger_access(&cid("CP-X"), ChargerAccessRule::default(), t(2))
        .await
        .unwrap()
        .is_none());

    // Deleting the group leaves the charger private, admitting nobody.
    s.delete_user_group(&gid("staff"), t(3)).await.unwrap();
    let after = s.charger_access(&cid("CP-1")).await.unwrap().unwrap();
    assert_eq!(after.access, ChargerAccess::Private);
    assert!(after.allowed_groups.is_empty());
    let kinds = event_kinds(h).await;
    assert_eq!(count(&kinds, "charger.access_changed"), 1);
}
