//! Rate limits of the public pay routes (no API key): each client IP may
//! make so many pay POSTs, and each connector may get so many new
//! payments, per minute. A payment creates a hold intent (and for Stripe a
//! customer and a card entry) at the gateway, so an unlimited public POST
//! would let anyone fill the operator's gateway account, or keep a
//! connector "being paid for". docs/configuration.md, "Pay route rate
//! limits".
//!
//! Token buckets keyed by client or connector: a bucket holds `burst`
//! requests and refills at `per_minute`. A refused request costs nothing.
//! The clock is the API's [`Clock`](joule_domain::ports::clock::Clock), so tests
//! control time. Memory: buckets that have refilled completely are the
//! same as absent ones and are dropped when the map grows past
//! [`PRUNE_ABOVE`] keys.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;
use crate::ApiState;

/// Above this many keys, refilled buckets are dropped.
pub const PRUNE_ABOVE: usize = 10_000;

/// One limit: a burst, then `per_minute` on average. `per_minute = 0`
/// turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per_minute: u32,
    pub burst: u32,
}

/// `[api.pay_rate_limit]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PayRateLimits {
    /// Every pay POST (create, confirm, demo card) from one client IP.
    pub per_ip: Limit,
    /// New payments (`POST /pay/{charger}/{connector}/payments`) at one
    /// connector, from anyone.
    pub per_connector: Limit,
    /// Behind a reverse proxy: the header whose last entry is the client's
    /// address as the proxy saw it (`x-forwarded-for`, `x-real-ip`). Unset:
    /// the TCP peer's address. Only set it when a proxy always sets the
    /// header, or clients can pick their own key.
    pub client_ip_header: Option<String>,
}

impl Default for PayRateLimits {
    fn default() -> Self {
        Self {
            per_ip: Limit {
                per_minute: 20,
                burst: 10,
            },
            per_connector: Limit {
                per_minute: 6,
                burst: 6,
            },
            client_ip_header: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// Keyed token buckets for one [`Limit`].
#[derive(Debug)]
pub struct KeyedLimiter {
    limit: Limit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl KeyedLimiter {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, b: Bucket, now: DateTime<Utc>) -> f64 {
        let elapsed = (now - b.at).num_milliseconds().max(0) as f64 / 60_000.0;
        (b.tokens + elapsed * f64::from(self.limit.per_minute)).min(f64::from(self.limit.burst))
    }

    /// Takes one request for `key` at `now`: `Ok`, or the seconds until
    /// one is allowed again.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        if self.limit.per_minute == 0 {
            return Ok(());
        }
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now).min(burst);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            return Ok(());
        }
        *bucket = Bucket { tokens, at: now };
        let wait_s = (1.0 - tokens) * 60.0 / f64::from(self.limit.per_minute);
        Err(wait_s.ceil().max(1.0) as u64)
    }
}

/// The pay routes' limiters, shared by every request.
#[derive(Debug)]
pub struct PayRateLimiter {
    settings: PayRateLimits,
    per_ip: KeyedLimiter,
    per_connector: KeyedLimiter,
}

impl PayRateLimiter {
    pub fn new(settings: PayRateLimits) -> Self {
        Self {
            per_ip: KeyedLimiter::new(settings.per_ip),
            per_connector: KeyedLimiter::new(settings.per_connector),
            settings,
        }
    }

    /// The client's address: the configured header's last entry, else the
    /// TCP peer; `None` when neither is known (in-process tests).
    fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        if let Some(name) = &self.settings.client_ip_header {
            return request
                .headers()
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok());
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }
}

impl Default for PayRateLimiter {
    fn default() -> Self {
        Self::new(PayRateLimits::default())
    }
}

/// `{charger}/{connector}` of `/pay/{charger}/{connector}/payments`.
fn connector_key(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/pay/")?.strip_suffix("/payments")?;
    (rest.matches('/').count() == 1).then_some(rest)
}

/// Middleware of the pay POST routes: 429 `rate_limited` with
/// `Retry-After` past a limit; the request is not handled.
pub async fn limit_pay_posts(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let limiter = &state.pages.pay_rate_limiter;
    let now = state.clock.now();
    // Unknown client (no peer address, or the proxy header is missing):
    // one shared key, so the limit still holds.
    let ip = limiter
        .client_ip(&request)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    if let Err(retry_after_s) = limiter.per_ip.check(&ip, now) {
        tracing::info!(client = %ip, "pay request refused: per-IP rate limit");
        return ApiError::RateLimited {
            scope: "from this address",
            retry_after_s,
        }
        .into_response();
    }
    if let Some(connector) = connector_key(request.uri().path()) {
        if let Err(retry_after_s) = limiter.per_connector.check(connector, now) {
            tracing::info!(connector, "pay request refused: per-connector rate limit");
            return ApiError::RateLimited {
                scope: "for this connector",
                retry_after_s,
            }
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_then_refusals_with_the_wait() {
        let l = KeyedLimiter::new(Limit {
            per_minute: 6,
            burst: 3,
        });
        for _ in 0..3 {
            assert_eq!(l.check("a", t(0)), Ok(()));
        }
        assert_eq!(l.check("a", t(0)), Err(10), "one token every 10 s");
        assert_eq!(l.check("b", t(0)), Ok(()), "keys are independent");
        assert_eq!(l.check("a", t(5)), Err(5));
        assert_eq!(l.check("a", t(10)), Ok(()));
        assert_eq!(l.check("a", t(10)), Err(10));
        // Refilled after a minute, never above the burst.
        for _ in 0..3 {
            assert_eq!(l.check("a", t(600)), Ok(()));
        }
        assert!(l.check("a", t(600)).is_err());
    }

    #[test]
    fn zero_per_minute_turns_a_limit_off() {
        let l = KeyedLimiter::new(Limit {
            per_minute: 0,
            burst: 0,
        });
        for _ in 0..1000 {
            assert_eq!(l.check("a", t(0)), Ok(()));
        }
    }

    #[test]
    fn refilled_buckets_are_pruned_past_the_bound() {
        let l = KeyedLimiter::new(Limit {
            per_minute: 60,
            burst: 1,
        });
        for i in 0..=PRUNE_ABOVE {
            assert_eq!(l.check(&i.to_string(), t(0)), Ok(()));
        }
        // A minute later every bucket is full again: all dropped but the
        // new one.
        assert_eq!(l.check("new", t(60)), Ok(()));
        assert_eq!(l.buckets.lock().unwrap().len(), 1);
    }

    #[test]
    fn only_the_create_route_has_a_connector_key() {
        assert_eq!(connector_key("/pay/CP-1/2/payments"), Some("CP-1/2"));
        assert_eq!(connector_key("/pay/payments/abc/confirm"), None);
        assert_eq!(connector_key("/pay/a/b/c/payments"), None);
    }
}
