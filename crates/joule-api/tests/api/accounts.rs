//! `/api/v1/accounts` without a gateway: accounts, token links, debt as the
//! store holds it, and the problem codes of bad input. Card setup, charges
//! and settlement with a gateway run in crates/joule/tests and
//! tests/interop/test_account_payments.py.

use axum::http::StatusCode;
use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::charging::session::StartSession;
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken};
use joule_domain::kernel::money::Currency;
use joule_domain::payments::account::{AccountId, ChargeStatus, NewAccountCharge};
use serde_json::json;

use crate::test_app::{problem_type, t0, TestApp};

async fn account(app: &TestApp, email: &str) -> serde_json::Value {
    let (status, body) = app
        .post(
            "/api/v1/accounts",
            json!({"email": email, "name": "Ana", "language": "ES", "currency": "EUR"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn accounts_are_created_listed_read_and_updated() {
    let app = TestApp::new().await;
    let a = account(&app, "ana@example.com").await;
    assert_eq!(a["language"], json!("es"));
    assert_eq!(a["currency"], json!("EUR"));
    assert_eq!(a["card"], json!(null));
    assert_eq!(a["id_tokens"], json!([]));
    assert_eq!(
        (a["in_debt"].clone(), a["debts"].clone()),
        (json!(false), json!([]))
    );
    let id = a["id"].as_str().unwrap().to_owned();

    let (status, problem) = app
        .post(
            "/api/v1/accounts",
            json!({"email": "ANA@example.com", "name": "Other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, defaults) = app
        .post(
            "/api/v1/accounts",
            json!({"email": "bo@example.com", "name": "Bo"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (defaults["language"].clone(), defaults["currency"].clone()),
        (json!("en"), json!("EUR"))
    );

    let (status, page) = app.get("/api/v1/accounts?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["id"], json!(id));
    assert_eq!(page["next_offset"], json!(1));

    let (status, patched) = app
        .patch(
            &format!("/api/v1/accounts/{id}"),
            json!({"name": "Ana B", "language": "fr"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["name"].clone(), patched["language"].clone()),
        (json!("Ana B"), json!("fr"))
    );
    assert_eq!(patched["email"], json!("ana@example.com"));
    let (status, got) = app.get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], json!("Ana B"));
}

#[tokio::test]
async fn bad_account_input_gets_problem_codes() {
    let app = TestApp::new().await;
    let (status, problem) = app
        .post(
            "/api/v1/accounts",
            json!({"email": "nope", "name": " ", "language": "xx", "currency": "ABC"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<_> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    assert_eq!(fields, ["currency", "email", "language", "name"]);
    let (status, problem) = app
        .post(
            "/api/v1/accounts",
            json!({"email": "a@b.co", "name": "A", "card_number": "4242"}),
        )
        .await;
    assert!(
        status.is_client_error(),
        "unknown fields are refused: {problem}"
    );
    let (status, problem) = app.get("/api/v1/accounts/not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], json!("id"));
    let unknown = AccountId::new_v7();
    for (status, problem) in [
        app.get(&format!("/api/v1/accounts/{unknown}")).await,
        app.patch(&format!("/api/v1/accounts/{unknown}"), json!({"name": "X"}))
            .await,
        app.put(
            &format!("/api/v1/accounts/{unknown}/id-tokens/TAG1"),
            json!({}),
        )
        .await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        assert_eq!(problem["type"], json!(problem_type("account_not_found")));
    }
    let (status, _) = app.get("/api/v1/accounts?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn tokens_are_linked_once_and_unlinked() {
    let app = TestApp::new().await;
    let a = account(&app, "ana@example.com").await;
    let b = account(&app, "bo@example.com").await;
    let (ida, idb) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let (status, _) = app
        .post("/api/v1/id-tokens", json!({"id_tag": "RFID-1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, problem) = app
        .put(&format!("/api/v1/accounts/{ida}/id-tokens/NOPE"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], json!("id_token_not_found"));
    let (status, linked) = app
        .put(
            &format!("/api/v1/accounts/{ida}/id-tokens/rfid-1"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["id_tokens"], json!(["RFID-1"]));
    let (status, again) = app
        .put(
            &format!("/api/v1/accounts/{ida}/id-tokens/RFID-1"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, again["id_tokens"].clone()),
        (StatusCode::OK, json!(["RFID-1"]))
    );
    let (status, problem) = app
        .put(
            &format!("/api/v1/accounts/{idb}/id-tokens/RFID-1"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, problem) = app
        .delete(&format!("/api/v1/accounts/{idb}/id-tokens/RFID-1"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _) = app
        .delete(&format!("/api/v1/accounts/{ida}/id-tokens/RFID-1"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = app.get(&format!("/api/v1/accounts/{ida}")).await;
    assert_eq!(got["id_tokens"], json!([]));
}

#[tokio::test]
async fn debt_is_shown_and_money_moving_routes_need_a_key_and_a_gateway() {
    let app = TestApp::new().await;
    let a = account(&app, "ana@example.com").await;
    let id = AccountId::parse(a["id"].as_str().unwrap()).unwrap();
    app.charger("CP-1").await;
    let (status, _) = app
        .post("/api/v1/id-tokens", json!({"id_tag": "RFID-1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let tag = IdToken::parse("RFID-1").unwrap();
    app.store.link_account_token(id, &tag, t0()).await.unwrap();
    let session = app
        .store
        .start_session(StartSession {
            charger_id: ChargerId::parse("CP-1").unwrap(),
            connector_id: ConnectorId::new(1).unwrap(),
            id_tag: tag,
            meter_start_wh: 0,
            started_at: t0(),
            reservation_id: None,
            authorization: AuthorizationStatus::Accepted,
            received_at: t0(),
            tariff_id: None,
        })
        .await
        .unwrap()
        .session
        .id;
    app.store
        .begin_account_charge(
            NewAccountCharge {
                session_id: session,
                account_id: id,
                amount_minor: 0,
                currency: Currency::parse("EUR").unwrap(),
                created_at: t0(),
            },
            None,
        )
        .await
        .unwrap();
    app.store
        .set_account_charge_status(session, ChargeStatus::Debt, t0())
        .await
        .unwrap();
    let (_, got) = app.get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(got["in_debt"], json!(true));
    assert_eq!(got["debts"][0]["session_id"], json!(session.to_string()));
    assert_eq!(got["debts"][0]["status"], json!("debt"));
    assert_eq!(
        got["debt_total"],
        json!([{"currency": "EUR", "amount_minor": 0}])
    );

    let (status, problem) = app
        .post(&format!("/api/v1/accounts/{id}/settle-debt"), json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], json!("idempotency_key_missing"));
    let (status, problem) = app
        .post(&format!("/api/v1/accounts/{id}/card-setup"), json!({}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["code"], json!("payments_disabled"));
}
