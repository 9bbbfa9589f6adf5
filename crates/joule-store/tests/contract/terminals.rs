//! The terminal part of the store contract (docs/terminals.md): terminals,
//! their scope and key, and releasing an unfinished API idempotency
//! record, on both backends.

use joule_domain::access::api_idempotency::{IdempotencyBegin, NewIdempotencyRecord};
use joule_domain::charging::site::SiteId;
use joule_domain::charging::user_group::ChargerAccessRule;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::page::Page;
use joule_domain::payments::terminal::{
    NewTerminal, TerminalError, TerminalId, TerminalKey, TerminalPatch, TerminalScope,
    TerminalTarget,
};
use serde_json::json;

use super::{cid, conn, event_kinds, new_site, postgres_harness, sqlite_harness, t, Harness};

contract_tests!(
    terminals_are_created_read_listed_and_patched,
    terminal_keys_are_found_by_prefix_and_rotated,
    unfinished_idempotency_records_can_be_released,
);

fn listed(targets: &[(&str, Option<u32>)]) -> TerminalScope {
    TerminalScope::Chargers {
        targets: targets
            .iter()
            .map(|(c, n)| TerminalTarget {
                charger_id: cid(c),
                connector_id: n.map(conn),
            })
            .collect(),
    }
}

fn new_terminal(name: &str, site: Option<&str>, scope: TerminalScope) -> NewTerminal {
    NewTerminal {
        id: TerminalId::new_v7(),
        name: name.into(),
        site_id: site.map(|s| SiteId::parse(s).unwrap()),
        scope,
        gateway: "stripe".into(),
        enabled: true,
    }
    .checked()
    .unwrap()
}

async fn terminals_are_created_read_listed_and_patched(h: &Harness) {
    let s = &h.store;
    s.create_site(new_site("depot", ChargerAccessRule::default()), t(0))
        .await
        .unwrap();
    let lobby = new_terminal("Lobby", Some("depot"), TerminalScope::Site);
    let created = s.create_terminal(lobby.clone(), t(1)).await.unwrap();
    assert_eq!(created.id, lobby.id);
    assert_eq!(created.scope, TerminalScope::Site);
    assert!(created.enabled && created.key.is_none());
    assert_eq!((created.created_at, created.updated_at), (t(1), t(1)));
    assert_eq!(
        s.get_terminal(lobby.id).await.unwrap(),
        Some(created.clone())
    );
    assert!(matches!(
        s.create_terminal(lobby.clone(), t(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.create_terminal(
            new_terminal("Nowhere", Some("ghost"), TerminalScope::Site),
            t(1)
        )
        .await,
        Err(StoreError::NotFound { entity: "site" })
    ));

    let kiosk = new_terminal("Kiosk", None, listed(&[("CP-2", Some(2)), ("CP-1", None)]));
    let kiosk_stored = s.create_terminal(kiosk.clone(), t(2)).await.unwrap();
    // The list comes back as stored: sorted, connectors kept or whole.
    assert_eq!(
        kiosk_stored.scope,
        listed(&[("CP-1", None), ("CP-2", Some(2))])
    );
    let page = s.list_terminals(Page::new(Some(1), Some(0))).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, lobby.id.min(kiosk.id));
    assert_eq!(page.next_offset, Some(1));
    let all = s.list_terminals(Page::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);

    // Disabling and re-scoping in one patch.
    let patch = TerminalPatch {
        enabled: Some(false),
        scope: Some(listed(&[("CP-9", Some(1))])),
        site_id: Some(None),
        ..TerminalPatch::default()
    };
    let patched = s
        .update_terminal(lobby.id, patch, t(3))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!patched.enabled);
    assert_eq!(patched.site_id, None);
    assert_eq!(patched.scope, listed(&[("CP-9", Some(1))]));
    assert_eq!((patched.created_at, patched.updated_at), (t(1), t(3)));
    assert_eq!(
        s.get_terminal(lobby.id).await.unwrap(),
        Some(patched.clone())
    );
    // A refused patch changes nothing.
    let bad = TerminalPatch {
        scope: Some(TerminalScope::Site),
        ..TerminalPatch::default()
    };
    assert_eq!(
        s.update_terminal(lobby.id, bad, t(4)).await.unwrap(),
        Some(Err(TerminalError::SiteScopeWithoutSite))
    );
    assert_eq!(s.get_terminal(lobby.id).await.unwrap(), Some(patched));
    let ghost_site = TerminalPatch {
        site_id: Some(Some(SiteId::parse("ghost").unwrap())),
        ..TerminalPatch::default()
    };
    assert!(matches!(
        s.update_terminal(lobby.id, ghost_site, t(4)).await,
        Err(StoreError::NotFound { entity: "site" })
    ));
    assert_eq!(
        s.update_terminal(TerminalId::new_v7(), TerminalPatch::default(), t(4))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_terminal(TerminalId::new_v7()).await.unwrap(), None);
    let kinds = event_kinds(h).await;
    assert_eq!(kinds.iter().filter(|k| *k == "terminal.created").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "terminal.updated").count(), 1);
}

async fn terminal_keys_are_found_by_prefix_and_rotated(h: &Harness) {
    let s = &h.store;
    let a = s
        .create_terminal(new_terminal("A", None, listed(&[("CP-1", None)])), t(1))
        .await
        .unwrap();
    let b = s
        .create_terminal(new_terminal("B", None, listed(&[("CP-2", None)])), t(1))
        .await
        .unwrap();
    let key = |prefix: &str, at| TerminalKey {
        prefix: prefix.into(),
        secret_hash: format!("{prefix}-hash"),
        issued_at: t(at),
    };
    let with_key = s
        .set_terminal_key(a.id, key("aaaa1111", 2), t(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(with_key.key, Some(key("aaaa1111", 2)));
    assert_eq!(
        s.terminal_by_key_prefix("aaaa1111")
            .await
            .unwrap()
            .map(|t| t.id),
        Some(a.id)
    );
    // Another terminal cannot take the same prefix.
    assert!(matches!(
        s.set_terminal_key(b.id, key("aaaa1111", 3), t(3)).await,
        Err(StoreError::Conflict { .. })
    ));
    // Rotation: the old prefix is gone at once.
    s.set_terminal_key(a.id, key("bbbb2222", 4), t(4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.terminal_by_key_prefix("aaaa1111").await.unwrap(), None);
    let found = s.terminal_by_key_prefix("bbbb2222").await.unwrap().unwrap();
    assert_eq!(found.key.unwrap().secret_hash, "bbbb2222-hash");
    assert_eq!(
        s.set_terminal_key(TerminalId::new_v7(), key("cccc3333", 5), t(5))
            .await
            .unwrap(),
        None
    );
    let rotated: Vec<_> = s
        .events_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.as_str() == "terminal.key_rotated")
        .collect();
    assert_eq!(rotated.len(), 2);
    // Events name the key's prefix, never its hash.
    assert_eq!(rotated[1].payload["key_prefix"], json!("bbbb2222"));
    assert!(!rotated[1].payload.to_string().contains("hash"));
}

async fn unfinished_idempotency_records_can_be_released(h: &Harness) {
    let s = &h.store;
    let new = NewIdempotencyRecord {
        scope: "terminal:T1:report".into(),
        key: "k1".into(),
        request_hash: "h1".into(),
        created_at: t(1),
    };
    assert!(matches!(
        s.begin_idempotent(new.clone()).await.unwrap(),
        IdempotencyBegin::New(_)
    ));
    assert!(s.release_idempotent(&new.scope, &new.key).await.unwrap());
    // Released: the same key starts afresh, even with another body.
    let other = NewIdempotencyRecord {
        request_hash: "h2".into(),
        ..new.clone()
    };
    assert!(matches!(
        s.begin_idempotent(other.clone()).await.unwrap(),
        IdempotencyBegin::New(_)
    ));
    s.complete_idempotent(&other.scope, &other.key, 201, json!({"ok": true}), t(2))
        .await
        .unwrap();
    // A completed record is never released.
    assert!(!s
        .release_idempotent(&other.scope, &other.key)
        .await
        .unwrap());
    assert!(matches!(
        s.begin_idempotent(other).await.unwrap(),
        IdempotencyBegin::Completed(_)
    ));
    assert!(!s.release_idempotent("nobody", "nothing").await.unwrap());
}
