//! Id tokens: case-insensitive ids, patches, languages.

use super::*;

contract_tests!(
    token_crud_is_case_insensitive,
    token_language_set_patch_and_clear,
    token_of_36_characters_keeps_its_type,
);

/// An eMAID fills the 36 characters OCPP 2.0.1 and OCPI allow; it is
/// stored, found case-insensitively and listed with its type, and a patch
/// changes the type alone.
async fn token_of_36_characters_keeps_its_type(h: &Harness) {
    let s = &h.store;
    let emaid = "NL-TNM-C00122045-K-0123456789-abcdef";
    assert_eq!(emaid.len(), 36);
    let created = s
        .create_token(
            NewToken {
                token_type: IdTokenType::EMaid,
                parent_id_tag: Some(tag(&"P".repeat(36))),
                ..simple_token(emaid)
            },
            t(0),
        )
        .await
        .unwrap();
    assert_eq!(created.id_tag.as_str(), emaid);
    assert_eq!(created.token_type, IdTokenType::EMaid);
    let found = s
        .get_token(&tag(&emaid.to_ascii_lowercase()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    let listed = s
        .list_tokens(
            TokenFilter {
                parent_id_tag: Some(tag(&"p".repeat(36))),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.items, vec![created.clone()]);
    let patched = s
        .update_token(
            &tag(emaid),
            TokenPatch {
                token_type: Some(IdTokenType::KeyCode),
                ..Default::default()
            },
            t(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.token_type, IdTokenType::KeyCode);
    assert_eq!(patched.kind, created.kind);
    assert_eq!(patched.parent_id_tag, created.parent_id_tag);
    let events = s.events_after(0, 100).await.unwrap();
    let types: Vec<_> = events
        .iter()
        .map(|e| e.payload["token_type"].as_str())
        .collect();
    assert_eq!(types, [Some("eMAID"), Some("KeyCode")]);
}

async fn token_language_set_patch_and_clear(h: &Harness) {
    let s = &h.store;
    let es = LanguageCode::parse("es").unwrap();
    let created = s
        .create_token(
            NewToken {
                language: Some(es.clone()),
                ..simple_token("LANG1")
            },
            t(0),
        )
        .await
        .unwrap();
    assert_eq!(created.language, Some(es));
    let fr = LanguageCode::parse("fr").unwrap();
    let patched = s
        .update_token(
            &tag("lang1"),
            TokenPatch {
                language: Some(Some(fr.clone())),
                ..Default::default()
            },
            t(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.language, Some(fr.clone()));
    // A patch without the field leaves it alone.
    let other = s
        .update_token(
            &tag("LANG1"),
            TokenPatch {
                label: Some(Some("x".into())),
                ..Default::default()
            },
            t(2),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.language, Some(fr));
    let cleared = s
        .update_token(
            &tag("LANG1"),
            TokenPatch {
                language: Some(None),
                ..Default::default()
            },
            t(3),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.language, None);
    assert_eq!(
        s.get_token(&tag("LANG1")).await.unwrap().unwrap().language,
        None
    );
    let events = s.events_after(0, 100).await.unwrap();
    let updates: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "token.updated")
        .collect();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[0].payload["language"], "fr");
}

async fn token_crud_is_case_insensitive(h: &Harness) {
    let s = &h.store;
    let new = NewToken {
        id_tag: tag("04a1b2c3"),
        token_type: IdTokenType::Iso14443,
        kind: TokenKind::Rfid,
        status: TokenStatus::Accepted,
        expires_at: Some(t(1000)),
        parent_id_tag: Some(tag("Fleet1")),
        allowed_chargers: vec![cid("CP-1"), cid("CP-2")],
        label: Some("Alice".into()),
        language: None,
    };
    let created = s.create_token(new.clone(), t(0)).await.unwrap();
    assert_eq!(created.id_tag.as_str(), "04a1b2c3");
    assert_eq!(created.allowed_chargers, vec![cid("CP-1"), cid("CP-2")]);
    let mut upper = new.clone();
    upper.id_tag = tag("04A1B2C3");
    assert!(matches!(
        s.create_token(upper, t(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    let found = s.get_token(&tag("04A1B2C3")).await.unwrap().unwrap();
    assert_eq!(
        found.id_tag.as_str(),
        "04a1b2c3",
        "spelling as given is kept"
    );
    assert_eq!(found.expires_at, Some(t(1000)));

    let patch = TokenPatch {
        status: Some(TokenStatus::Blocked),
        expires_at: Some(None),
        allowed_chargers: Some(vec![]),
        ..Default::default()
    };
    let updated = s
        .update_token(&tag("04A1B2c3"), patch, t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.status, TokenStatus::Blocked);
    assert_eq!(updated.expires_at, None);
    assert!(updated.allowed_chargers.is_empty());
    assert_eq!(updated.label.as_deref(), Some("Alice"));
    assert_eq!(updated.parent_id_tag, Some(tag("FLEET1")));

    let other = NewToken {
        id_tag: tag("B2"),
        token_type: IdTokenType::Central,
        kind: TokenKind::App,
        status: TokenStatus::Accepted,
        expires_at: None,
        parent_id_tag: None,
        allowed_chargers: vec![],
        label: None,
        language: None,
    };
    s.create_token(other, t(6)).await.unwrap();
    let blocked = s
        .list_tokens(
            TokenFilter {
                status: Some(TokenStatus::Blocked),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(blocked.items.len(), 1);
    let fleet = s
        .list_tokens(
            TokenFilter {
                parent_id_tag: Some(tag("fleet1")),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(fleet.items.len(), 1);
    let all = s
        .list_tokens(TokenFilter::default(), Page::new(Some(1), None))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.next_offset, Some(1));

    assert!(s.delete_token(&tag("04A1B2C3"), t(7)).await.unwrap());
    assert!(!s.delete_token(&tag("04a1b2c3"), t(8)).await.unwrap());
    assert!(s.get_token(&tag("04a1b2c3")).await.unwrap().is_none());
    assert!(s
        .update_token(&tag("nope"), TokenPatch::default(), t(9))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        event_kinds(h).await,
        vec![
            "token.created",
            "token.updated",
            "token.created",
            "token.deleted"
        ]
    );
}
