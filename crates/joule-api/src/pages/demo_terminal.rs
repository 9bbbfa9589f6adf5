//! A SIMULATED payment terminal, for demos and tests (issue 4, point 10;
//! docs/terminals.md "Demo terminal"): pick a connector, "tap" a test card.
//! The page does what a real terminal does — it places a manual-capture
//! hold at the gateway and confirms it with the card — and then reports
//! it through the same code as `POST /api/v1/terminal/payments`
//! ([`crate::terminal_api::report`]), with its own idempotency key. When
//! Joule refuses the report, the page releases its hold, as the terminal
//! contract asks of every vendor.
//!
//! Served only for an enabled terminal whose gateway takes test cards (the
//! simulated gateway, never a production default); 404 otherwise.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use joule_domain::kernel::language::Language;
use joule_domain::payments::gateway::{HoldRequest, IntentStatus, PaymentGateway};
use joule_domain::payments::idempotency::IdempotencyKey;
use joule_domain::payments::terminal::{Terminal, TerminalId, TerminalScope};
use joule_domain::services::payments::{PaymentService, TestCardEntry};
use joule_domain::{ChargerId, ConnectorId};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{page, respond, HTML};
use crate::dto::terminal::{ReportTerminalPayment, ReportedCard};
use crate::extract::ApiPath;
use crate::ApiState;

/// The test cards offered, with what they do.
const CARDS: [(&str, &str); 3] = [
    ("sim_visa", "Visa •••• 4242 (approved)"),
    ("sim_mastercard", "Mastercard •••• 4444 (approved)"),
    ("sim_declined", "Visa •••• 0002 (declined)"),
];

/// What the page needs: the service, the terminal, and its gateway with
/// test cards.
struct Demo<'a> {
    service: &'a PaymentService,
    terminal: Terminal,
    gateway: Arc<dyn PaymentGateway>,
    cards: Arc<dyn TestCardEntry>,
}

async fn demo<'a>(state: &'a ApiState, raw: &str) -> Option<Demo<'a>> {
    let service = state.payments.as_ref()?;
    let id = TerminalId::parse(raw).ok()?;
    let terminal = state.store.get_terminal(id).await.ok()??;
    if !terminal.enabled {
        return None;
    }
    let gateway = service.gateways().get(&terminal.gateway)?.clone();
    let cards = service.gateways().test_cards(&terminal.gateway)?.clone();
    Some(Demo {
        service,
        terminal,
        gateway,
        cards,
    })
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No demo terminal here",
        "There is no simulated payment terminal at this address.",
    )
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        p .simulated role="note" { strong { "SIMULATED" } " — demo terminal, no real card, no real money." }
        h1 { (title) }
        p { (text) }
    };
    respond(
        status,
        page(Language::En, title, html! {}, body).into_string(),
        HTML,
    )
}

/// `GET /demo/terminal/{terminal}`.
pub async fn terminal_page(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
) -> Response {
    let Some(d) = demo(&state, &raw).await else {
        return not_found();
    };
    let t = &d.terminal;
    let (first_charger, first_connector, suggestions) = match &t.scope {
        TerminalScope::Site => (String::new(), 1, Vec::new()),
        TerminalScope::Chargers { targets } => (
            targets
                .first()
                .map(|x| x.charger_id.to_string())
                .unwrap_or_default(),
            targets
                .first()
                .and_then(|x| x.connector_id)
                .map_or(1, ConnectorId::get),
            targets.iter().map(|x| x.charger_id.to_string()).collect(),
        ),
    };
    let title = if t.name.contains("SIMULATED") {
        t.name.clone()
    } else {
        format!("{} (SIMULATED terminal)", t.name)
    };
    let body: Markup = html! {
        p .simulated role="note" {
            strong { "SIMULATED" } " — this is a demo payment terminal. No real card is read and no real money moves: it places a hold at the simulated gateway and reports it to Joule like a real terminal would."
        }
        h1 { (t.name) }
        p {
            @match &t.scope {
                TerminalScope::Site => { "Starts every charger of site " strong { (t.site_id.as_ref().map(|s| s.as_str()).unwrap_or("?")) } "." }
                TerminalScope::Chargers { targets } => {
                    "Starts: "
                    @for (i, x) in targets.iter().enumerate() {
                        @if i > 0 { ", " }
                        (x.charger_id.as_str())
                        @if let Some(c) = x.connector_id { " #" (c.get()) } @else { " (every connector)" }
                    }
                    "."
                }
            }
        }
        form method="post" action={ "/demo/terminal/" (t.id) "/tap" } {
            p {
                label for="charger_id" { "Charger" }
                br;
                input #charger_id name="charger_id" required list="chargers" value=(first_charger) autocomplete="off";
                datalist #chargers { @for c in &suggestions { option value=(c) {} } }
            }
            p {
                label for="connector_id" { "Connector" }
                br;
                input #connector_id name="connector_id" type="number" min="1" max="1000" required value=(first_connector);
            }
            fieldset {
                legend { "Test card to tap" }
                @for (i, (token, label)) in CARDS.iter().enumerate() {
                    p {
                        input type="radio" name="card" id=(token) value=(token) checked[i == 0];
                        " "
                        label for=(token) { (label) }
                    }
                }
            }
            button type="submit" { "Tap card and start charging" }
        }
    };
    respond(
        StatusCode::OK,
        page(Language::En, &title, html! {}, body).into_string(),
        HTML,
    )
}

/// The tap form.
#[derive(Debug, Deserialize)]
pub struct Tap {
    pub charger_id: String,
    pub connector_id: String,
    pub card: String,
}

/// `POST /demo/terminal/{terminal}/tap`: hold, confirm with the test card,
/// report; then the driver's status page.
pub async fn tap(
    State(state): State<ApiState>,
    ApiPath(raw): ApiPath<String>,
    Form(form): Form<Tap>,
) -> Response {
    let Some(d) = demo(&state, &raw).await else {
        return not_found();
    };
    let bad = |text: &str| message(StatusCode::UNPROCESSABLE_ENTITY, "Cannot start", text);
    let Ok(charger) = ChargerId::parse(form.charger_id.trim()) else {
        return bad("That is not a charger id.");
    };
    let Some(connector) = form
        .connector_id
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|n| ConnectorId::new(n).ok())
        .filter(|c| !c.is_whole_charger())
    else {
        return bad("The connector must be a number from 1.");
    };
    // The hold a terminal would place: the tariff's hold amount there (or
    // the configured default), as a vendor would configure it.
    let now = state.clock.now();
    let in_force = joule_domain::services::tariff_lookup::tariff_in_force(
        state.store.as_ref(),
        &charger,
        connector,
        None,
        now,
    )
    .await;
    let hold = match in_force {
        Ok(Some(f)) => f
            .tariff
            .as_ref()
            .and_then(|t| t.hold_amount())
            .or(d.service.settings().default_hold),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "demo terminal: reading the tariff failed");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "Joule could not read the tariff.",
            );
        }
    };
    let Some(hold) = hold.filter(|h| h.minor() > 0) else {
        return bad("No tariff with a hold amount is in force at that charger.");
    };
    let hold_key = IdempotencyKey::derive(uuid::Uuid::now_v7(), "demo_terminal_hold");
    let request = HoldRequest {
        amount: hold,
        reference: format!("demo-terminal:{}", d.terminal.id),
    };
    let created = match d.gateway.create_hold(&request, &hold_key).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "demo terminal: creating the hold failed");
            return message(
                StatusCode::BAD_GATEWAY,
                "Card not read",
                "The simulated gateway did not take the hold.",
            );
        }
    };
    let card_state = match d.cards.confirm_test_card(&created.intent, &form.card) {
        Ok(s) => s,
        Err(e) => {
            cancel(d.gateway.as_ref(), &created.intent).await;
            return message(
                StatusCode::PAYMENT_REQUIRED,
                "Card declined",
                &format!("The terminal's card was not accepted ({e}). Nothing was reported to Joule; try another card."),
            );
        }
    };
    let Some(card) = card_state.card.clone() else {
        cancel(d.gateway.as_ref(), &created.intent).await;
        return bad("The simulated gateway returned no card.");
    };
    if !matches!(card_state.status, IntentStatus::Authorized { .. }) {
        cancel(d.gateway.as_ref(), &created.intent).await;
        return bad("The hold is not authorized.");
    }
    let report = ReportTerminalPayment {
        gateway_payment_ref: created.intent.as_str().to_owned(),
        amount_minor: hold.minor(),
        currency: hold.currency().code().to_owned(),
        card: ReportedCard {
            brand: card.brand,
            last4: card.last4,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
        },
        charger_id: charger.to_string(),
        connector_id: connector.get(),
        language: None,
    };
    let key = uuid::Uuid::now_v7().to_string();
    match crate::terminal_api::report(&state, &d.terminal, &key, &report).await {
        Ok((_, body)) => {
            let status_page = body["status_url"]
                .as_str()
                .and_then(|u| u.strip_suffix("/status"))
                .unwrap_or("/")
                .to_owned();
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&status_page) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        Err(e) => {
            // Joule recorded nothing: the hold is still the terminal's,
            // and a terminal releases what Joule refused.
            cancel(d.gateway.as_ref(), &created.intent).await;
            message(
                e.code().status(),
                "Joule refused the payment",
                &format!("{} ({}). The hold was released.", e, e.code().as_str()),
            )
        }
    }
}

async fn cancel(gateway: &dyn PaymentGateway, intent: &joule_domain::payments::gateway::IntentRef) {
    let key = IdempotencyKey::derive(intent.as_str(), "demo_terminal_release");
    if let Err(e) = gateway.cancel(intent, &key).await {
        tracing::warn!(error = %e, "demo terminal: releasing the hold failed");
    }
}
