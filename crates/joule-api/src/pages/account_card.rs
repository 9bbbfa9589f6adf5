//! The page where a driver saves the card of their account
//! (docs/payments.md, "Accounts"): `GET /accounts/card/{token}`, the link
//! `POST /api/v1/accounts/{id}/card-setup` returns. The card is entered in
//! the gateway's hosted fields (Stripe Elements, `confirmCardSetup`) and
//! never reaches Joule; the page then calls `…/complete`, and Joule reads
//! the SetupIntent and keeps the card's reference, brand, last 4 and
//! expiry. The simulated gateway gets labelled demo buttons instead.
//!
//! The token is a secret (it lets whoever holds it save a card on the
//! account), so the page is `no-store` and sends no referrer, like the pay
//! page.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use joule_domain::kernel::language::Language;
use maud::{html, Markup, PreEscaped};
use serde::Serialize;

use super::layout::{
    choose, content_security_policy, message_page, page, respond_with_csp, server_error, HTML,
};
use super::pay::query_param;
use crate::dto::account::{AccountCard, SimulatedSetupCard};
use crate::extract::{ApiJson, ApiPath};
use crate::pay::service;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ApiState;

/// The page's own words, per language (en, es, fr, de).
#[derive(Debug, Serialize)]
struct CardLabels {
    title: &'static str,
    intro: &'static str,
    current: &'static str,
    card_label: &'static str,
    save: &'static str,
    saved: &'static str,
    demo_heading: &'static str,
    demo_text: &'static str,
    demo_visa: &'static str,
    demo_declining: &'static str,
    working: &'static str,
    error_declined: &'static str,
    error_generic: &'static str,
    safety: &'static str,
}

fn card_labels(language: Language) -> &'static CardLabels {
    match language {
        Language::Es => &CardLabels {
            title: "Guardar su tarjeta",
            intro: "Las sesiones iniciadas con sus tarjetas de carga vinculadas se cobrarán en esta tarjeta al terminar cada sesión.",
            current: "Tarjeta actual:",
            card_label: "Tarjeta",
            save: "Guardar tarjeta",
            saved: "Tarjeta guardada:",
            demo_heading: "Pasarela de demostración",
            demo_text: "No se mueve dinero real. Elija una tarjeta de prueba.",
            demo_visa: "Tarjeta de prueba Visa",
            demo_declining: "Tarjeta de prueba que se rechaza al cobrar",
            working: "Un momento…",
            error_declined: "La tarjeta fue rechazada. Pruebe con otra tarjeta.",
            error_generic: "Algo salió mal. Inténtelo de nuevo más tarde.",
            safety: "Los datos de la tarjeta van directamente al proveedor de pagos; nunca los guardamos.",
        },
        Language::Fr => &CardLabels {
            title: "Enregistrer votre carte",
            intro: "Les sessions démarrées avec vos badges liés seront débitées sur cette carte à la fin de chaque session.",
            current: "Carte actuelle :",
            card_label: "Carte",
            save: "Enregistrer la carte",
            saved: "Carte enregistrée :",
            demo_heading: "Passerelle de démonstration",
            demo_text: "Aucun argent réel n’est débité. Choisissez une carte de test.",
            demo_visa: "Carte de test Visa",
            demo_declining: "Carte de test refusée au débit",
            working: "Un instant…",
            error_declined: "La carte a été refusée. Essayez une autre carte.",
            error_generic: "Une erreur s’est produite. Réessayez plus tard.",
            safety: "Les données de la carte vont directement au prestataire de paiement ; nous ne les conservons jamais.",
        },
        Language::De => &CardLabels {
            title: "Karte speichern",
            intro: "Ladevorgänge, die mit Ihren verknüpften Ladekarten gestartet werden, werden nach jedem Vorgang von dieser Karte abgebucht.",
            current: "Aktuelle Karte:",
            card_label: "Karte",
            save: "Karte speichern",
            saved: "Karte gespeichert:",
            demo_heading: "Demo-Zahlungsanbieter",
            demo_text: "Es wird kein echtes Geld bewegt. Wählen Sie eine Testkarte.",
            demo_visa: "Visa-Testkarte",
            demo_declining: "Testkarte, die bei der Abbuchung abgelehnt wird",
            working: "Einen Moment…",
            error_declined: "Die Karte wurde abgelehnt. Versuchen Sie eine andere Karte.",
            error_generic: "Etwas ist schiefgelaufen. Bitte später erneut versuchen.",
            safety: "Die Kartendaten gehen direkt an den Zahlungsanbieter; wir speichern sie nie.",
        },
        Language::En => &CardLabels {
            title: "Save your card",
            intro: "Sessions started with your linked charging cards are charged to this card after each session ends.",
            current: "Current card:",
            card_label: "Card",
            save: "Save card",
            saved: "Card saved:",
            demo_heading: "Demo gateway",
            demo_text: "No real money moves. Choose a test card.",
            demo_visa: "Visa test card",
            demo_declining: "Test card declined when charged",
            working: "One moment…",
            error_declined: "The card was declined. Try another card.",
            error_generic: "Something went wrong. Please try again later.",
            safety: "Card details go straight to the payment provider; we never store them.",
        },
    }
}

/// What the page's script needs, as JSON in the page.
#[derive(Serialize)]
struct CardData<'a> {
    token: &'a str,
    gateway: &'a str,
    client_secret: &'a str,
    publishable_key: Option<&'a str>,
    stripe_js_url: &'a str,
    labels: &'static CardLabels,
}

fn not_found(language: Language) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        language,
        |l| l.not_found_title,
        |l| l.not_found_text,
    )
}

/// `GET /accounts/card/{token}`: the card form of one card setup.
pub async fn card_page(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(service) = service(&state) else {
        return not_found(Language::En);
    };
    let found = service.card_setup(&token).await;
    let (setup, account) = match found {
        Ok(f) => f,
        Err(
            joule_domain::services::payments::PaymentError::CardSetupNotFound
            | joule_domain::services::payments::PaymentError::AccountNotFound,
        ) => return not_found(choose(None, &headers)),
        Err(e) => return server_error(Language::En, &e),
    };
    let lang = query_param(query.as_deref(), "lang");
    let language = choose(
        lang.as_deref().or(Some(account.language.as_str())),
        &headers,
    );
    let l = card_labels(language);
    let data = CardData {
        token: &setup.token,
        gateway: &setup.gateway,
        client_secret: setup.client_secret.expose(),
        publishable_key: service.settings().publishable_key.as_deref(),
        stripe_js_url: &state.pages.stripe_js_url,
        labels: l,
    };
    let data = serde_json::to_string(&data)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c");
    let current = account
        .card
        .as_ref()
        .map(|c| format!("{} •••• {}", c.summary.brand, c.summary.last4));
    let body = render(language, l, &account.name, current.as_deref(), &data);
    respond_with_csp(
        StatusCode::OK,
        body.into_string(),
        HTML,
        &content_security_policy(Some(&state.pages.stripe_js_url)),
    )
}

fn render(
    language: Language,
    l: &CardLabels,
    name: &str,
    current: Option<&str>,
    data: &str,
) -> Markup {
    page(
        language,
        l.title,
        html! { script src="/static/account-card.js" defer {} },
        html! {
            h1 { (l.title) }
            p.where { strong { (name) } }
            p { (l.intro) }
            @if let Some(c) = current {
                p #current-card { (l.current) " " (c) }
            }
            section #pay aria-labelledby="card-heading" {
                h2 #card-heading { (l.card_label) }
                p.note { (l.safety) }
                div #card-area hidden {
                    span #card-label .label { (l.card_label) }
                    div #card-element role="group" aria-labelledby="card-label" {}
                    button #save-button type="button" { (l.save) }
                }
                div #demo hidden {
                    h3 { (l.demo_heading) }
                    p { (l.demo_text) }
                    button type="button" data-card="sim_visa" { (l.demo_visa) }
                    button type="button" .secondary data-card="sim_declined" { (l.demo_declining) }
                }
                p #message role="status" aria-live="polite" {}
                noscript { p { (l.error_generic) } }
            }
            script #card-data type="application/json" { (PreEscaped(data)) }
        },
    )
}

/// The page's callback once the gateway has saved the card: Joule reads the
/// setup and stores the card (reference, brand, last 4, expiry). Repeating
/// it is harmless.
#[utoipa::path(
    post, path = "/accounts/card/{token}/complete", tag = "public",
    params(("token" = String, Path, description = "The card setup's page token")),
    responses(
        (status = 200, description = "The saved card", body = AccountCard),
        (status = 404, description = "Unknown token (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The gateway has not saved a card on this setup yet (`payment_not_confirmable`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Payments disabled or gateway down", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn complete(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Json<AccountCard>> {
    let account = service(&state)?.complete_card_setup(&token).await?;
    saved_card(account)
}

/// Demo only: save a simulated test card, as Stripe.js would.
#[utoipa::path(
    post, path = "/accounts/card/{token}/simulated-card", tag = "public",
    params(("token" = String, Path, description = "The card setup's page token")),
    request_body = SimulatedSetupCard,
    responses(
        (status = 200, description = "The saved card", body = AccountCard),
        (status = 404, description = "Unknown token, or the setup's gateway is not the simulated one", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Unknown test card, or this setup already has a card (`gateway_error`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn simulated_card(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
    ApiJson(card): ApiJson<SimulatedSetupCard>,
) -> ApiResult<Json<AccountCard>> {
    let account = service(&state)?
        .enter_test_setup_card(&token, &card.card)
        .await?;
    saved_card(account)
}

fn saved_card(account: joule_domain::payments::account::Account) -> ApiResult<Json<AccountCard>> {
    let dto = crate::dto::account::Account::from(account);
    dto.card
        .map(Json)
        .ok_or_else(|| ApiError::Internal("card missing after save".into()))
}
