use chrono::{Duration, TimeZone};

use super::*;
use crate::pricing::TariffExtensions;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn tariff(id: &str) -> StoredTariff {
    StoredTariff {
        tariff: serde_json::from_value(serde_json::json!({
            "country_code": "ES", "party_id": "JOU", "id": id, "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
            "last_updated": "2026-01-01T00:00:00Z"
        }))
        .unwrap(),
        extensions: TariffExtensions::default(),
        version: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn cp() -> ChargerId {
    ChargerId::parse("CP1").unwrap()
}
fn site() -> SiteId {
    SiteId::parse("madrid").unwrap()
}
fn tag() -> IdToken {
    IdToken::parse("TAG1").unwrap()
}
fn group(g: &str) -> UserGroupId {
    UserGroupId::parse(g).unwrap()
}
fn conn(n: u32) -> ConnectorId {
    ConnectorId::new(n).unwrap()
}

fn assign(tariff_id: &str, scope: AssignmentScope) -> TariffAssignment {
    TariffAssignment {
        id: AssignmentId::new_v7(),
        tariff_id: tariff_id.to_owned(),
        scope,
        valid_from: None,
        valid_until: None,
        created_at: t0(),
    }
}

fn dated(
    mut a: TariffAssignment,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> TariffAssignment {
    a.valid_from = from;
    a.valid_until = until;
    a
}

/// Every rung, one assignment each, with tariffs named after the rung.
fn ladder() -> Vec<TariffAssignment> {
    vec![
        assign("SITE", AssignmentScope::Site { site_id: site() }),
        assign("CHARGER", AssignmentScope::Charger { charger_id: cp() }),
        assign(
            "CONNECTOR",
            AssignmentScope::Connector {
                charger_id: cp(),
                connector_id: conn(1),
            },
        ),
        assign(
            "GROUP",
            AssignmentScope::UserGroup {
                group_id: group("staff"),
                site_id: None,
            },
        ),
        assign("TOKEN", AssignmentScope::IdToken { id_tag: tag() }),
    ]
}

fn all_tariffs() -> Vec<StoredTariff> {
    [
        "SITE",
        "CHARGER",
        "CONNECTOR",
        "GROUP",
        "GROUP2",
        "TOKEN",
        "OWN",
        "DEFAULT",
        "PROMO",
    ]
    .into_iter()
    .map(tariff)
    .collect()
}

struct Case {
    assignments: Vec<TariffAssignment>,
    tariffs: Vec<StoredTariff>,
    default: Option<StoredTariff>,
    site: Option<SiteId>,
    connector: u32,
    charger_tariff: Option<&'static str>,
    tag: Option<IdToken>,
    groups: Vec<UserGroupId>,
}

impl Case {
    fn new(assignments: Vec<TariffAssignment>) -> Self {
        Self {
            assignments,
            tariffs: all_tariffs(),
            default: Some(tariff("DEFAULT")),
            site: Some(site()),
            connector: 1,
            charger_tariff: None,
            tag: Some(tag()),
            groups: vec![group("staff")],
        }
    }

    fn pick(&self, at: DateTime<Utc>) -> Option<(String, Rung)> {
        let charger = cp();
        let driver = self.tag.as_ref().map(|id_tag| Driver {
            id_tag,
            groups: &self.groups,
        });
        let ctx = PricingContext {
            charger_id: &charger,
            site_id: self.site.as_ref(),
            connector_id: conn(self.connector),
            charger_tariff: self.charger_tariff,
            driver,
        };
        resolve_tariff(
            &self.assignments,
            &self.tariffs,
            self.default.as_ref(),
            &ctx,
            at,
        )
        .map(|r| (r.tariff.tariff.id.clone(), r.rung))
    }

    fn id(&self) -> Option<String> {
        self.pick(t0()).map(|(id, _)| id)
    }
}

#[test]
fn each_rung_wins_over_the_ones_below_it() {
    let mut all = ladder();
    let expected = [
        ("TOKEN", Rung::IdToken),
        ("GROUP", Rung::UserGroup),
        ("CONNECTOR", Rung::Connector),
        ("CHARGER", Rung::Charger),
        ("SITE", Rung::Site),
        ("DEFAULT", Rung::Default),
    ];
    for (id, rung) in expected {
        let case = Case::new(all.clone());
        assert_eq!(case.pick(t0()), Some((id.to_owned(), rung)));
        all.retain(|a| a.tariff_id != id);
    }
}

#[test]
fn no_default_and_no_assignment_means_no_tariff() {
    let mut case = Case::new(vec![]);
    case.default = None;
    assert_eq!(case.pick(t0()), None);
}

#[test]
fn an_anonymous_driver_skips_token_and_group_rungs() {
    let mut case = Case::new(ladder());
    case.tag = None;
    assert_eq!(case.id().as_deref(), Some("CONNECTOR"));
}

#[test]
fn token_assignments_match_the_tag_case_insensitively_and_only_that_tag() {
    let a = vec![assign(
        "TOKEN",
        AssignmentScope::IdToken {
            id_tag: IdToken::parse("tag1").unwrap(),
        },
    )];
    let mut case = Case::new(a);
    assert_eq!(case.id().as_deref(), Some("TOKEN"));
    case.tag = Some(IdToken::parse("OTHER").unwrap());
    assert_eq!(case.id().as_deref(), Some("DEFAULT"));
}

#[test]
fn group_assignments_need_membership_and_the_right_site() {
    let limited = |s: &str| {
        assign(
            "GROUP",
            AssignmentScope::UserGroup {
                group_id: group("staff"),
                site_id: Some(SiteId::parse(s).unwrap()),
            },
        )
    };
    let mut case = Case::new(vec![limited("madrid")]);
    assert_eq!(case.id().as_deref(), Some("GROUP"));
    case.assignments = vec![limited("paris")];
    assert_eq!(case.id().as_deref(), Some("DEFAULT"));
    case.site = None;
    case.assignments = vec![limited("madrid")];
    assert_eq!(case.id().as_deref(), Some("DEFAULT"));
    case.site = Some(site());
    case.groups = vec![group("visitors")];
    assert_eq!(case.id().as_deref(), Some("DEFAULT"));
}

#[test]
fn several_groups_site_limited_first_then_alphabetical() {
    let g = |tariff: &str, id: &str, site_id: Option<SiteId>| {
        assign(
            tariff,
            AssignmentScope::UserGroup {
                group_id: group(id),
                site_id,
            },
        )
    };
    let mut case = Case::new(vec![g("GROUP2", "beta", None), g("GROUP", "alpha", None)]);
    case.groups = vec![group("beta"), group("alpha")];
    assert_eq!(case.id().as_deref(), Some("GROUP"));
    case.assignments = vec![g("GROUP", "alpha", None), g("GROUP2", "beta", Some(site()))];
    assert_eq!(case.id().as_deref(), Some("GROUP2"));
}

#[test]
fn connector_assignments_apply_to_their_connector_only() {
    let mut case = Case::new(ladder());
    case.tag = None;
    case.connector = 2;
    assert_eq!(case.id().as_deref(), Some("CHARGER"));
    let other = vec![assign(
        "CONNECTOR",
        AssignmentScope::Connector {
            charger_id: ChargerId::parse("CP2").unwrap(),
            connector_id: conn(1),
        },
    )];
    let mut case = Case::new(other);
    case.tag = None;
    assert_eq!(case.id().as_deref(), Some("DEFAULT"));
}

#[test]
fn the_chargers_own_tariff_ranks_after_charger_assignments_before_the_site() {
    let mut case = Case::new(vec![assign(
        "SITE",
        AssignmentScope::Site { site_id: site() },
    )]);
    case.charger_tariff = Some("OWN");
    assert_eq!(case.pick(t0()), Some(("OWN".to_owned(), Rung::Charger)));
    case.assignments.push(assign(
        "CHARGER",
        AssignmentScope::Charger { charger_id: cp() },
    ));
    assert_eq!(case.id().as_deref(), Some("CHARGER"));
    case.charger_tariff = Some("GONE");
    case.assignments.pop();
    assert_eq!(case.id().as_deref(), Some("SITE"));
}

#[test]
fn site_assignments_need_the_charger_to_be_at_the_site() {
    let mut case = Case::new(vec![assign(
        "SITE",
        AssignmentScope::Site { site_id: site() },
    )]);
    case.site = None;
    assert_eq!(case.id().as_deref(), Some("DEFAULT"));
}

#[test]
fn validity_window_is_from_inclusive_until_exclusive() {
    let from = t0();
    let until = t0() + Duration::hours(1);
    let case = Case::new(vec![dated(
        assign("TOKEN", AssignmentScope::IdToken { id_tag: tag() }),
        Some(from),
        Some(until),
    )]);
    let second = Duration::seconds(1);
    assert_eq!(case.pick(from - second).unwrap().0, "DEFAULT");
    assert_eq!(case.pick(from).unwrap().0, "TOKEN");
    assert_eq!(case.pick(until - second).unwrap().0, "TOKEN");
    assert_eq!(case.pick(until).unwrap().0, "DEFAULT");
}

#[test]
fn open_ended_windows() {
    let only_from = Case::new(vec![dated(
        assign("SITE", AssignmentScope::Site { site_id: site() }),
        Some(t0()),
        None,
    )]);
    assert_eq!(
        only_from.pick(t0() + Duration::days(3650)).unwrap().0,
        "SITE"
    );
    let only_until = Case::new(vec![dated(
        assign("SITE", AssignmentScope::Site { site_id: site() }),
        None,
        Some(t0()),
    )]);
    assert_eq!(
        only_until.pick(t0() - Duration::days(3650)).unwrap().0,
        "SITE"
    );
    assert_eq!(only_until.pick(t0()).unwrap().0, "DEFAULT");
}

#[test]
fn the_tariffs_own_dates_are_checked_too_and_fall_through() {
    let mut case = Case::new(vec![assign(
        "TOKEN",
        AssignmentScope::IdToken { id_tag: tag() },
    )]);
    let start = t0();
    let end = t0() + Duration::hours(2);
    for t in &mut case.tariffs {
        if t.tariff.id == "TOKEN" {
            t.tariff.start_date_time = Some(start);
            t.tariff.end_date_time = Some(end);
        }
    }
    let second = Duration::seconds(1);
    assert_eq!(case.pick(start - second).unwrap().0, "DEFAULT");
    assert_eq!(case.pick(start).unwrap().0, "TOKEN");
    assert_eq!(case.pick(end - second).unwrap().0, "TOKEN");
    assert_eq!(case.pick(end).unwrap().0, "DEFAULT");
}

#[test]
fn the_default_counts_only_within_its_own_dates() {
    let mut case = Case::new(vec![]);
    if let Some(d) = case.default.as_mut() {
        d.tariff.end_date_time = Some(t0());
    }
    assert_eq!(case.pick(t0()), None);
    assert_eq!(case.pick(t0() - Duration::seconds(1)).unwrap().0, "DEFAULT");
}

#[test]
fn a_deleted_tariff_counts_nowhere() {
    let mut case = Case::new(ladder());
    case.tariffs.retain(|t| t.tariff.id != "TOKEN");
    assert_eq!(case.id().as_deref(), Some("GROUP"));
}

#[test]
fn on_one_rung_the_latest_start_wins_then_the_older_assignment() {
    let permanent = assign("CHARGER", AssignmentScope::Charger { charger_id: cp() });
    let promo = dated(
        assign("PROMO", AssignmentScope::Charger { charger_id: cp() }),
        Some(t0() - Duration::hours(1)),
        Some(t0() + Duration::hours(1)),
    );
    let mut case = Case::new(vec![permanent.clone(), promo]);
    case.tag = None;
    assert_eq!(case.id().as_deref(), Some("PROMO"));
    assert_eq!(case.pick(t0() + Duration::hours(1)).unwrap().0, "CHARGER");
    let mut older = permanent;
    older.id = AssignmentId(Uuid::from_u128(1));
    let mut newer = assign("SITE", AssignmentScope::Charger { charger_id: cp() });
    newer.id = AssignmentId(Uuid::from_u128(2));
    case.assignments = vec![newer, older];
    // Both undated: the older (smaller UUIDv7) wins, whatever the order.
    assert_eq!(case.id().as_deref(), Some("CHARGER"));
    case.assignments.reverse();
    assert_eq!(case.id().as_deref(), Some("CHARGER"));
}

#[test]
fn an_empty_window_is_refused() {
    let new = |from: i64, until: i64| NewTariffAssignment {
        tariff_id: "T".into(),
        scope: AssignmentScope::Charger { charger_id: cp() },
        valid_from: Some(t0() + Duration::seconds(from)),
        valid_until: Some(t0() + Duration::seconds(until)),
    };
    assert_eq!(new(0, 0).check(), Err(AssignmentError::EmptyWindow));
    assert_eq!(new(1, 0).check(), Err(AssignmentError::EmptyWindow));
    assert!(new(0, 1).check().is_ok());
}

#[test]
fn scope_kinds_parse_their_own_spelling() {
    for k in [
        ScopeKind::IdToken,
        ScopeKind::UserGroup,
        ScopeKind::Connector,
        ScopeKind::Charger,
        ScopeKind::Site,
    ] {
        assert_eq!(ScopeKind::parse(k.as_str()), Some(k));
    }
}
