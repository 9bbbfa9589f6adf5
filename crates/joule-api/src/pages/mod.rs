//! Public driver pages, server-rendered HTML (maud): the pay page of a
//! connector and its QR code, the live status page of one payment, and the
//! receipt of a paid session. NEVI (STANDARDS.md §2.1–2.2) asks for card
//! payment without an app or account and for the price before charging;
//! ChargeX asks us to be open about card holds.
//!
//! Pages are small and work on a phone without zoom; their JavaScript is
//! served by Joule (no build step, no CDN), and only Stripe.js comes from
//! elsewhere (a configurable URL). The payment token in `/pay/payments/…`
//! and `/receipts/…` is a secret, so every page here is `no-store` and sends
//! no referrer.

pub mod account_card;
mod assets;
mod demo_terminal;
mod labels;
mod layout;
mod pay;
mod receipt;
mod status;

use axum::routing::{get, post};
use axum::Router;
use joule_domain::receipts::receipt::OperatorInfo;

pub use labels::{labels, Labels};

use crate::ApiState;

/// Default Stripe.js: Stripe's own. Tests point it at localstripe's fake.
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";

/// What the pages need besides the ports: where they are reachable from
/// outside (QR codes must hold an absolute URL), where Stripe.js comes from,
/// and who the operator is (printed on receipts).
#[derive(Debug, Clone)]
pub struct PagesConfig {
    /// Scheme, host and optional path prefix, without a trailing slash.
    pub public_base_url: String,
    pub stripe_js_url: String,
    pub operator: OperatorInfo,
    /// The pay POST routes' rate limits and their state (shared by every
    /// request; default limits unless [`PagesConfig::with_pay_rate_limits`]).
    pub pay_rate_limiter: std::sync::Arc<crate::rate_limit::PayRateLimiter>,
}

impl PagesConfig {
    /// `public_base_url` with any trailing `/` removed.
    pub fn new(public_base_url: &str, stripe_js_url: &str, operator: OperatorInfo) -> Self {
        Self {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            stripe_js_url: stripe_js_url.to_owned(),
            operator,
            pay_rate_limiter: Default::default(),
        }
    }

    /// Replaces the pay routes' rate limits (`[api.pay_rate_limit]`).
    pub fn with_pay_rate_limits(mut self, limits: crate::rate_limit::PayRateLimits) -> Self {
        self.pay_rate_limiter = std::sync::Arc::new(crate::rate_limit::PayRateLimiter::new(limits));
        self
    }
}

/// The page routes, merged into the API router (public, no API key).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/pay/{charger_id}/{connector_id}", get(pay::pay_page))
        .route("/pay/{charger_id}/{connector_id}/qr.png", get(pay::qr_png))
        .route("/pay/{charger_id}/{connector_id}/qr.svg", get(pay::qr_svg))
        .route("/pay/payments/{token}", get(status::status_page))
        .route("/receipts/{token}", get(receipt::receipt))
        .route("/static/{file}", get(assets::asset))
        .route("/accounts/card/{token}", get(account_card::card_page))
        .route(
            "/accounts/card/{token}/complete",
            post(account_card::complete),
        )
        .route(
            "/accounts/card/{token}/simulated-card",
            post(account_card::simulated_card),
        )
        .route(
            "/demo/terminal/{terminal}",
            get(demo_terminal::terminal_page),
        )
        .route("/demo/terminal/{terminal}/tap", post(demo_terminal::tap))
}
