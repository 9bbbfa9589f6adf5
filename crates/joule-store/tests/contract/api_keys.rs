//! API keys.

use super::*;

contract_tests!(api_keys,);

async fn api_keys(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.count_api_keys().await.unwrap(), 0);
    let new = NewApiKey {
        name: "admin".into(),
        prefix: "jk_abc".into(),
        secret_hash: "deadbeef".into(),
        scopes: vec![ApiScope::Admin],
    };
    let key = s.create_api_key(new.clone(), t(1)).await.unwrap();
    assert_eq!(key.prefix, "jk_abc");
    assert_eq!(key.scopes, vec![ApiScope::Admin]);
    assert_eq!(key.created_at, t(1));
    assert!(matches!(
        s.create_api_key(new, t(2)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.count_api_keys().await.unwrap(), 1);
    assert_eq!(s.find_api_key("jk_abc").await.unwrap(), Some(key));
    assert!(s.find_api_key("jk_nope").await.unwrap().is_none());
    let events = s.events_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.as_str(), "api_key.created");
    assert!(events[0].payload.get("secret_hash").is_none());
}
