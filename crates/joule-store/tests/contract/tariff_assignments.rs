//! Tariff assignments and the candidates the precedence rule reads.

use super::*;

contract_tests!(
    tariff_assignments_crud_filters_and_cleanup,
    tariff_candidates_feed_the_precedence_rule,
    session_records_the_chosen_tariff_or_none_if_deleted,
);

async fn tariff_assignments_crud_filters_and_cleanup(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    group(h, "staff").await;
    s.create_token(simple_token("TAG1"), t(0)).await.unwrap();
    s.create_site(new_site("madrid", ChargerAccessRule::default()), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("T1", "0.30"), t(0))
        .await
        .unwrap();
    s.create_tariff(new_tariff("T2", "0.20"), t(0))
        .await
        .unwrap();

    let unknown = [
        (
            assignment(
                "NOPE",
                AssignmentScope::Charger {
                    charger_id: cid("CP1"),
                },
            ),
            "tariff",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::Charger {
                    charger_id: cid("CP9"),
                },
            ),
            "charger",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::Connector {
                    charger_id: cid("CP9"),
                    connector_id: conn(1),
                },
            ),
            "charger",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::Site {
                    site_id: sid("paris"),
                },
            ),
            "site",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::UserGroup {
                    group_id: gid("ghost"),
                    site_id: None,
                },
            ),
            "user group",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::UserGroup {
                    group_id: gid("staff"),
                    site_id: Some(sid("paris")),
                },
            ),
            "site",
        ),
        (
            assignment(
                "T1",
                AssignmentScope::IdToken {
                    id_tag: tag("NOBODY"),
                },
            ),
            "id token",
        ),
    ];
    for (new, entity) in unknown {
        match s.create_tariff_assignment(new, t(1)).await {
            Err(StoreError::NotFound { entity: e }) => assert_eq!(e, entity),
            other => panic!("expected {entity} not found, got {other:?}"),
        }
    }

    let mut dated = assignment(
        "T1",
        AssignmentScope::IdToken {
            id_tag: tag("tag1"),
        },
    );
    dated.valid_from = Some(t(10));
    dated.valid_until = Some(t(20));
    let token = s.create_tariff_assignment(dated, t(1)).await.unwrap();
    assert_eq!(token.valid_from, Some(t(10)));
    assert_eq!(token.valid_until, Some(t(20)));
    assert_eq!(token.created_at, t(1));
    let conn_a = s
        .create_tariff_assignment(
            assignment(
                "T2",
                AssignmentScope::Connector {
                    charger_id: cid("CP1"),
                    connector_id: conn(2),
                },
            ),
            t(2),
        )
        .await
        .unwrap();
    let group_a = s
        .create_tariff_assignment(
            assignment(
                "T2",
                AssignmentScope::UserGroup {
                    group_id: gid("staff"),
                    site_id: Some(sid("madrid")),
                },
            ),
            t(3),
        )
        .await
        .unwrap();
    let site_a = s
        .create_tariff_assignment(
            assignment(
                "T1",
                AssignmentScope::Site {
                    site_id: sid("madrid"),
                },
            ),
            t(4),
        )
        .await
        .unwrap();

    assert_eq!(
        s.get_tariff_assignment(conn_a.id).await.unwrap(),
        Some(conn_a.clone())
    );
    let all = s
        .list_tariff_assignments(AssignmentFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![token.id, conn_a.id, group_a.id, site_a.id]
    );
    let by = |f: AssignmentFilter| async move {
        s.list_tariff_assignments(f, Page::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
    };
    let f = AssignmentFilter {
        tariff_id: Some("T2".into()),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![conn_a.id, group_a.id]);
    let f = AssignmentFilter {
        site_id: Some(sid("madrid")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![group_a.id, site_a.id]);
    let f = AssignmentFilter {
        scope: Some(ScopeKind::Site),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![site_a.id]);
    let f = AssignmentFilter {
        id_tag: Some(tag("TAG1")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![token.id]);
    let f = AssignmentFilter {
        charger_id: Some(cid("CP1")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![conn_a.id]);
    let f = AssignmentFilter {
        group_id: Some(gid("staff")),
        ..AssignmentFilter::default()
    };
    assert_eq!(by(f).await, vec![group_a.id]);

    assert!(s.delete_tariff_assignment(conn_a.id, t(5)).await.unwrap());
    assert!(!s.delete_tariff_assignment(conn_a.id, t(5)).await.unwrap());
    assert!(s.get_tariff_assignment(conn_a.id).await.unwrap().is_none());

    // A deleted tariff, group or token takes its assignments with it.
    assert!(s.delete_tariff("T1", t(6)).await.unwrap());
    assert_eq!(by(AssignmentFilter::default()).await, vec![group_a.id]);
    assert!(s.delete_user_group(&gid("staff"), t(7)).await.unwrap());
    assert!(by(AssignmentFilter::default()).await.is_empty());

    let events = s.events_after(0, 100).await.unwrap();
    let assignment_events: Vec<&str> = kinds(&events)
        .into_iter()
        .filter(|k| k.starts_with("tariff_assignment."))
        .collect();
    assert_eq!(
        assignment_events,
        [
            "tariff_assignment.created",
            "tariff_assignment.created",
            "tariff_assignment.created",
            "tariff_assignment.created",
            "tariff_assignment.deleted",
            "tariff_assignment.deleted",
            "tariff_assignment.deleted",
            "tariff_assignment.deleted"
        ]
    );
    let created = events
        .iter()
        .find(|e| e.kind.as_str() == "tariff_assignment.created")
        .unwrap();
    assert_eq!(created.payload["scope"], "id_token");
    assert_eq!(created.payload["id_tag"], "tag1");
    assert_eq!(created.payload["tariff_id"], "T1");
}

async fn tariff_candidates_feed_the_precedence_rule(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    charger(h, "CP2").await;
    group(h, "staff").await;
    s.create_token(simple_token("TAG1"), t(0)).await.unwrap();
    s.create_token(simple_token("TAG2"), t(0)).await.unwrap();
    s.set_token_groups(&tag("TAG1"), vec![gid("staff")], t(0))
        .await
        .unwrap();
    s.create_site(new_site("madrid", ChargerAccessRule::default()), t(0))
        .await
        .unwrap();
    s.set_charger_site(&cid("CP1"), Some(&sid("madrid")), t(0))
        .await
        .unwrap();
    for (id, price) in [
        ("DEF", "0.5"),
        ("SITE", "0.4"),
        ("GROUP", "0.2"),
        ("TOK", "0.1"),
    ] {
        s.create_tariff(new_tariff(id, price), t(0)).await.unwrap();
    }
    s.set_default_tariff(Some("DEF"), t(0)).await.unwrap();
    s.create_tariff_assignment(
        assignment(
            "SITE",
            AssignmentScope::Site {
                site_id: sid("madrid"),
            },
        ),
        t(0),
    )
    .await
    .unwrap();
    s.create_tariff_assignment(
        assignment(
            "GROUP",
            AssignmentScope::UserGroup {
                group_id: gid("staff"),
                site_id: None,
            },
        ),
        t(0),
    )
    .await
    .unwrap();
    let mut tok = assignment(
        "TOK",
        AssignmentScope::IdToken {
            id_tag: tag("TAG2"),
        },
    );
    tok.valid_from = Some(t(100));
    s.create_tariff_assignment(tok, t(0)).await.unwrap();

    assert!(s
        .tariff_candidates(&cid("NOPE"), None)
        .await
        .unwrap()
        .is_none());
    let pick = |charger: &'static str, id_tag: Option<&'static str>, at: i64| async move {
        let id_tag = id_tag.map(tag);
        let c = s
            .tariff_candidates(&cid(charger), id_tag.as_ref())
            .await
            .unwrap()
            .unwrap();
        c.resolve(&cid(charger), conn(1), id_tag.as_ref(), t(at))
            .map(|r| r.tariff.tariff.id.clone())
    };
    assert_eq!(pick("CP1", Some("TAG1"), 1).await.as_deref(), Some("GROUP"));
    assert_eq!(pick("CP1", Some("TAG2"), 1).await.as_deref(), Some("SITE"));
    assert_eq!(pick("CP1", Some("TAG2"), 100).await.as_deref(), Some("TOK"));
    assert_eq!(pick("CP1", None, 1).await.as_deref(), Some("SITE"));
    assert_eq!(pick("CP2", None, 1).await.as_deref(), Some("DEF"));
    assert_eq!(pick("CP2", Some("TAG1"), 1).await.as_deref(), Some("GROUP"));

    let c = s
        .tariff_candidates(&cid("CP1"), Some(&tag("tag1")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.groups, vec![gid("staff")]);
    assert_eq!(c.time_zone(), chrono_tz::Europe::Madrid);
    assert_eq!(c.site.map(|x| x.id), Some(sid("madrid")));
    assert_eq!(c.default.map(|d| d.tariff.id), Some("DEF".into()));
}

async fn session_records_the_chosen_tariff_or_none_if_deleted(h: &Harness) {
    let s = &h.store;
    charger(h, "CP1").await;
    s.create_tariff(new_tariff("T1", "0.30"), t(0))
        .await
        .unwrap();
    s.update_tariff("T1", new_tariff("T1", "0.35"), t(0))
        .await
        .unwrap();
    let mut st = start("CP1", "TAG1", 0, 1);
    st.tariff_id = Some("T1".into());
    let first = s.start_session(st.clone()).await.unwrap();
    assert_eq!(
        first.session.tariff,
        Some(SessionTariff {
            tariff_id: "T1".into(),
            version: 2
        })
    );
    // A resend keeps the version recorded first, even if told otherwise.
    s.update_tariff("T1", new_tariff("T1", "0.40"), t(2))
        .await
        .unwrap();
    let mut resend = st.clone();
    resend.tariff_id = None;
    let again = s.start_session(resend).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.session.tariff, first.session.tariff);
    // A tariff deleted between the choice and the write records none.
    let mut gone = start("CP1", "TAG2", 0, 3);
    gone.tariff_id = Some("DELETED".into());
    assert_eq!(s.start_session(gone).await.unwrap().session.tariff, None);
}
