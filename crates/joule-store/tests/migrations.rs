//! Migration runner behaviour against real databases.

// Test helpers outside #[test] fns are not covered by clippy.toml's
// allow-unwrap-in-tests; this whole file is test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use joule_store::{connect, StoreOptions};

#[tokio::test]
async fn sqlite_reopen_is_idempotent_and_a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A bare path works as well as a sqlite:// url.
    let path = dir.path().join("a/b/joule.db");
    let url = path.display().to_string();
    let db = connect(&url, StoreOptions::default()).await.unwrap();
    assert_eq!(db.backend(), "sqlite");
    db.close().await.unwrap();
    let db = connect(&format!("sqlite://{url}"), StoreOptions::default())
        .await
        .unwrap();
    db.close().await.unwrap();

    let c = rusqlite::Connection::open(&path).unwrap();
    let applied: i64 = c
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, joule_store::migrations::SQLITE.len() as i64);
    c.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')",
        [],
    )
    .unwrap();
    drop(c);
    let err = connect(&url, StoreOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("9999"), "{err}");
}

#[tokio::test]
async fn closed_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = connect(
        &dir.path().join("j.db").display().to_string(),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let store = db.store();
    db.close().await.unwrap();
    let err = store
        .record_heartbeat(
            &joule_domain::kernel::ids::ChargerId::parse("X").unwrap(),
            chrono::Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        joule_domain::kernel::error::StoreError::Unavailable(_)
    ));
}

/// The test database, or `None` (the test is skipped) outside CI.
fn postgres_url() -> Option<String> {
    let url = std::env::var("JOULE_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("PostgreSQL is required in CI: set JOULE_TEST_POSTGRES_URL");
        }
        eprintln!("skipping PostgreSQL migration test: JOULE_TEST_POSTGRES_URL is not set");
    }
    url
}

#[tokio::test]
async fn postgres_reopen_is_idempotent_and_a_newer_database_is_refused() {
    let Some(url) = postgres_url() else {
        return;
    };
    let schema = format!("joule_test_{}", uuid::Uuid::new_v4().simple());
    let options = StoreOptions {
        pg_schema: Some(schema.clone()),
        ..StoreOptions::default()
    };
    connect(&url, options.clone())
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    connect(&url, options.clone())
        .await
        .unwrap()
        .close()
        .await
        .unwrap();

    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{schema}\".schema_migrations (version, name) VALUES (9999, 'future')"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let err = connect(&url, options).await.unwrap_err();
    assert!(err.to_string().contains("9999"), "{err}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut c)
    .await
    .unwrap();
}

/// Tokens stored before migration 0013 (token types).
const TOKENS_BEFORE_TYPES: &str = "INSERT INTO id_tokens (id_tag_key, id_tag, kind, status, created_at, updated_at) VALUES \
     ('CARD', 'card', 'rfid', 'accepted', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'), \
     ('PHONE', 'phone', 'app', 'accepted', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'), \
     ('STICKER', 'sticker', 'other', 'accepted', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')";

/// Migration 0013 gives each stored token the type its kind suggests, the
/// rule new tokens get by default (`IdTokenType::for_kind`).
async fn assert_types_backfilled(store: &dyn joule_domain::ports::store::Store) {
    use joule_domain::charging::token::{IdTokenType, TokenKind};
    use joule_domain::kernel::ids::IdToken;
    for tag in ["card", "phone", "sticker"] {
        let token = store
            .get_token(&IdToken::parse(tag).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.token_type, IdTokenType::for_kind(token.kind), "{tag}");
    }
    let card = store
        .get_token(&IdToken::parse("CARD").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (card.kind, card.token_type),
        (TokenKind::Rfid, IdTokenType::Iso14443)
    );
}

#[tokio::test]
async fn sqlite_token_types_are_backfilled_from_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);",
    )
    .unwrap();
    for m in joule_store::migrations::SQLITE
        .iter()
        .filter(|m| m.version < 13)
    {
        c.execute_batch(m.sql).unwrap();
        c.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, 'x')",
            rusqlite::params![m.version, m.name],
        )
        .unwrap();
    }
    c.execute_batch(TOKENS_BEFORE_TYPES).unwrap();
    drop(c);
    let db = connect(&path.display().to_string(), StoreOptions::default())
        .await
        .unwrap();
    assert_types_backfilled(db.store().as_ref()).await;
    db.close().await.unwrap();
}

#[tokio::test]
async fn postgres_token_types_are_backfilled_from_kind() {
    let Some(url) = postgres_url() else {
        return;
    };
    use sqlx::Connection;
    let schema = format!("joule_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut before = format!(
        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; \
         CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
    );
    for m in joule_store::migrations::POSTGRES
        .iter()
        .filter(|m| m.version < 13)
    {
        before.push_str(m.sql);
        before.push_str(&format!(
            ";\nINSERT INTO schema_migrations (version, name) VALUES ({}, '{}');\n",
            m.version, m.name
        ));
    }
    before.push_str(TOKENS_BEFORE_TYPES);
    sqlx::raw_sql(sqlx::AssertSqlSafe(before))
        .execute(&mut c)
        .await
        .unwrap();
    let options = StoreOptions {
        pg_schema: Some(schema.clone()),
        ..StoreOptions::default()
    };
    let db = connect(&url, options).await.unwrap();
    assert_types_backfilled(db.store().as_ref()).await;
    db.close().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut c)
    .await
    .unwrap();
}
