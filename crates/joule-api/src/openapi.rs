//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! the two unauthenticated endpoints (`/health`, `/openapi.json`).
//!
//! The document is committed as `crates/joule-api/openapi.json`; a test
//! fails when the code and the file differ (`UPDATE_OPENAPI=1` rewrites it).

use std::sync::OnceLock;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::dto::{
    account, charger, id_token, message, payment, session, site, tariff, tariff_assignment,
    terminal, user_group,
};
use crate::dto::{
    AccountPage, ChargerPage, IdTokenPage, LogEntryPage, PaymentPage, SessionPage, SitePage,
    StatusReportPage, TariffAssignmentPage, TariffPage, TerminalPage, UserGroupPage,
};
use crate::problem::{ChargerErrorBody, FieldError, Problem};
use crate::ApiState;

/// Name of the security scheme in the document.
pub const SECURITY_SCHEME: &str = "api_key";

/// Name of the terminal keys' security scheme.
pub const TERMINAL_SECURITY_SCHEME: &str = "terminal_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Joule API",
        description = "REST API of Joule, the open-source EV charging back office (CSMS). \
            Every error is RFC 9457 problem JSON with a stable `code`. \
            Authenticate with `Authorization: Bearer <api key>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health,
        openapi_json,
        crate::chargers::create_charger,
        crate::chargers::list_chargers,
        crate::chargers::get_charger,
        crate::chargers::update_charger,
        crate::chargers::delete_charger,
        crate::chargers::status_history,
        crate::messages::list_messages,
        crate::commands::send_command,
        crate::id_tokens::create_id_token,
        crate::id_tokens::list_id_tokens,
        crate::id_tokens::get_id_token,
        crate::id_tokens::update_id_token,
        crate::id_tokens::delete_id_token,
        crate::sessions::list_sessions,
        crate::sessions::get_session,
        crate::tariffs::create_tariff,
        crate::tariffs::list_tariffs,
        crate::tariffs::get_default_tariff,
        crate::tariffs::set_default_tariff,
        crate::tariffs::get_tariff,
        crate::tariffs::update_tariff,
        crate::tariffs::delete_tariff,
        crate::tariffs::public_price,
        crate::tariffs::get_charger_tariff,
        crate::tariffs::set_charger_tariff,
        crate::user_groups::create_user_group,
        crate::user_groups::list_user_groups,
        crate::user_groups::get_user_group,
        crate::user_groups::update_user_group,
        crate::user_groups::delete_user_group,
        crate::user_groups::set_token_groups,
        crate::user_groups::set_charger_access,
        crate::sites::create_site,
        crate::sites::list_sites,
        crate::sites::get_site,
        crate::sites::update_site,
        crate::sites::delete_site,
        crate::sites::set_charger_site,
        crate::tariff_assignments::create_tariff_assignment,
        crate::tariff_assignments::list_tariff_assignments,
        crate::tariff_assignments::get_tariff_assignment,
        crate::tariff_assignments::delete_tariff_assignment,
        crate::kpis::payment_kpi_report,
        crate::accounts::create_account,
        crate::accounts::list_accounts,
        crate::accounts::get_account,
        crate::accounts::update_account,
        crate::accounts::link_token,
        crate::accounts::unlink_token,
        crate::accounts::card_setup,
        crate::accounts::settle_debt,
        crate::pages::account_card::complete,
        crate::pages::account_card::simulated_card,
        crate::payments::list_payments,
        crate::payments::get_payment,
        crate::payments::refund,
        crate::pay::create_payment,
        crate::pay::confirm,
        crate::pay::simulated_card,
        crate::pay::status,
        crate::pay::stripe_webhook,
        crate::terminals::create_terminal,
        crate::terminals::list_terminals,
        crate::terminals::get_terminal,
        crate::terminals::update_terminal,
        crate::terminals::issue_key,
        crate::terminal_api::whoami,
        crate::terminal_api::report_payment,
        crate::terminal_api::get_payment,
    ),
    components(schemas(
        Problem, FieldError, ChargerErrorBody, Health, crate::commands::CommandAction,
        charger::Charger, charger::ChargerDetail, charger::Connector, charger::ConnectorStatus,
        charger::Connection, charger::BootInfo, charger::Location, charger::Registration,
        charger::CreateCharger, charger::UpdateCharger, charger::StatusReport,
        id_token::IdToken, id_token::IdTokenType, id_token::CreateIdToken, id_token::UpdateIdToken,
        id_token::TokenKind, id_token::TokenStatus,
        session::Session, session::SessionDetail, session::MeterValue, session::SessionState,
        session::SessionTariff, session::SessionCost, session::Amount, session::CostLine, session::IdlePeriodCost,
        session::CostAdjustment,
        session::AuthorizationStatus,
        message::LogEntry, message::Direction, message::FrameKind,
        tariff::Tariff, tariff::TariffInput, tariff::TariffExtensions, tariff::SetDefaultTariff,
        tariff::DefaultTariff, tariff::ChargerTariff, tariff::SetChargerTariff, tariff::PriceQuote, tariff::UnitPrice,
        user_group::UserGroup, user_group::CreateUserGroup, user_group::UpdateUserGroup,
        user_group::TokenGroups, user_group::Access, user_group::ChargerAccess,
        id_token::IdTokenDetail,
        ChargerPage, StatusReportPage, IdTokenPage, SessionPage, LogEntryPage, TariffPage,
        UserGroupPage,
        site::Site, site::SiteInput, site::SiteAddress, site::ChargerSite, SitePage,
        tariff_assignment::TariffAssignment, tariff_assignment::CreateTariffAssignment,
        tariff_assignment::Scope, TariffAssignmentPage,
        payment::Payment, payment::PaymentDetail, payment::PaymentFlag, payment::PaymentStep, payment::Card,
        payment::RefundRequest, payment::CreateWebPayment, payment::WebPayment,
        payment::SimulatedCard, payment::ConfirmWebPayment, payment::PaymentStatus, payment::PayCost, PaymentPage,
        crate::dto::kpi::PaymentKpis, crate::dto::kpi::PaymentKpiReport,
        account::Account, account::AccountDetail, account::AccountCard, account::Debt,
        account::DebtTotal, account::CreateAccount, account::UpdateAccount, account::CardSetup,
        account::SimulatedSetupCard, AccountPage,
        terminal::Terminal, terminal::Scope, terminal::Target, terminal::CreateTerminal,
        terminal::UpdateTerminal, terminal::TerminalKeyIssued, terminal::ReportedCard,
        terminal::ReportTerminalPayment, terminal::TerminalPayment, TerminalPage,
    )),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags(
        (name = "chargers", description = "Chargers, their connectors, status history and message log"),
        (name = "commands", description = "Remote operations on connected chargers"),
        (name = "id-tokens", description = "Tokens that may start charging"),
        (name = "user-groups", description = "Groups of id tokens, for private and restricted chargers"),
        (name = "sites", description = "Sites: time zone, language, address and access rule of their chargers"),
        (name = "sessions", description = "Charging sessions"),
        (name = "accounts", description = "Driver accounts: saved card, linked id tokens, off-session charges and debt"),
        (name = "payments", description = "Payments, their gateway steps, and refunds"),
        (name = "tariffs", description = "OCPI 2.2.1 tariffs and the default tariff"),
        (name = "terminals", description = "Payment terminals: what each may start, its gateway, its key"),
        (name = "terminal", description = "Called by a payment terminal with its own key (docs/terminals.md)"),
        (name = "public", description = "Unauthenticated endpoints for drivers"),
        (name = "system", description = "Health and the API description"),
    ),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some("An API key, `jk_<prefix>_<secret>`.".to_owned());
        components.add_security_scheme(SECURITY_SCHEME, SecurityScheme::Http(http));
        let mut terminal = Http::new(HttpAuthScheme::Bearer);
        terminal.description = Some(
            "A payment terminal's key, `jt_<prefix>_<secret>` (docs/terminals.md).".to_owned(),
        );
        components.add_security_scheme(TERMINAL_SECURITY_SCHEME, SecurityScheme::Http(terminal));
    }
}

/// The generated document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // The crate version would churn the committed file on every release
    // bump; the API's own version is its path (`/api/v1`).
    doc.info.version = "1".to_owned();
    doc
}

/// Health of the process and its database backend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
    /// The storage backend, `sqlite` or `postgres`.
    pub database: String,
}

/// Liveness and backend.
#[utoipa::path(
    get, path = "/api/v1/health", tag = "system", security(()),
    responses((status = 200, description = "The API is up", body = Health))
)]
pub async fn health(State(state): State<ApiState>) -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        database: state.store.backend().to_owned(),
    })
}

/// The OpenAPI document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "This document", body = Object))
)]
pub async fn openapi_json() -> Json<&'static serde_json::Value> {
    // Generated once per process: the document is a pure function of the code.
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(|| serde_json::to_value(openapi()).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

    /// The committed document is what the code generates. Run with
    /// `UPDATE_OPENAPI=1` to rewrite it after an intended API change.
    #[test]
    fn committed_openapi_document_is_current() {
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&openapi()).expect("document serializes")
        );
        if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            std::fs::write(COMMITTED, &generated).expect("write openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "crates/joule-api/openapi.json is out of date; \
             run `UPDATE_OPENAPI=1 cargo test -p joule-api openapi` and commit it"
        );
    }

    #[test]
    fn document_is_openapi_3_1_with_every_route_and_problem_errors() {
        let doc = serde_json::to_value(openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/health",
            "/api/v1/openapi.json",
            "/api/v1/chargers",
            "/api/v1/chargers/{id}",
            "/api/v1/chargers/{id}/status-history",
            "/api/v1/chargers/{id}/messages",
            "/api/v1/chargers/{id}/commands/{action}",
            "/api/v1/id-tokens",
            "/api/v1/id-tokens/{id_tag}",
            "/api/v1/sessions",
            "/api/v1/sessions/{id}",
        ] {
            assert!(paths.contains_key(path), "{path} is not documented");
        }
        assert_eq!(
            doc["components"]["securitySchemes"][SECURITY_SCHEME]["scheme"],
            "bearer"
        );
        let action =
            &doc["paths"]["/api/v1/chargers/{id}/commands/{action}"]["post"]["parameters"][1];
        assert_eq!(action["required"], true);
        let actions = &doc["components"]["schemas"]["CommandAction"]["enum"];
        assert_eq!(actions.as_array().unwrap().len(), 19);
        // Health is public.
        assert_eq!(
            doc["paths"]["/api/v1/health"]["get"]["security"],
            serde_json::json!([{}])
        );
    }
}
