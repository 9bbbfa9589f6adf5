//! Use cases for what chargers report, in protocol-neutral terms. Each OCPP
//! version's adapter converts its messages into these calls and the answers
//! back into its own responses.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::charging::auth::{authorize, AuthorizationDecision};
use crate::charging::charger::{BootInfo, RegistrationStatus, StatusReport};
use crate::charging::meter::{MeterReport, MeterSample};
use crate::charging::session::{StartOutcome, StartSession, StopOutcome, StopSession};
use crate::charging::user_group::ChargerAccessRule;
use crate::kernel::error::DomainError;
use crate::kernel::ids::{ChargerId, ConnectorId, IdToken, TransactionId};
use crate::payments::account::{account_refusal, AccountRules};
use crate::payments::payment::Payment;
use crate::ports::clock::Clock;
use crate::ports::store::{
    AccountStore, ChargerStore, PaymentStore, SessionStore, Store, TariffAssignmentStore,
    TokenStore, UserGroupStore,
};

/// Settings that shape answers to chargers.
#[derive(Debug, Clone)]
pub struct ChargingSettings {
    /// Heartbeat interval given to accepted chargers at boot, in seconds.
    pub heartbeat_interval_s: u32,
    /// Retry interval given to pending or rejected chargers at boot.
    pub boot_retry_interval_s: u32,
}

impl Default for ChargingSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval_s: 300,
            boot_retry_interval_s: 60,
        }
    }
}

/// The answer to a boot.
#[derive(Debug, Clone, PartialEq)]
pub struct BootDecision {
    pub registration: RegistrationStatus,
    pub interval_s: u32,
    pub current_time: DateTime<Utc>,
}

/// A StartTransaction as an adapter hands it over.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub connector_id: ConnectorId,
    pub id_tag: IdToken,
    pub meter_start_wh: i64,
    pub timestamp: DateTime<Utc>,
    pub reservation_id: Option<i64>,
}

/// A StopTransaction as an adapter hands it over.
#[derive(Debug, Clone)]
pub struct StopRequest {
    pub transaction_id: TransactionId,
    pub id_tag: Option<IdToken>,
    pub meter_stop_wh: i64,
    pub timestamp: DateTime<Utc>,
    pub reason: Option<String>,
    pub transaction_data: Vec<MeterSample>,
}

/// Told after a connector's meter values are stored, without waiting:
/// how the hold-limit check (docs/payments.md, "Hold limits") hears of new
/// costs of a session with an open card hold. An implementation must be
/// cheap for every other session (an in-memory lookup, no store read) and
/// must not block.
pub trait MeterObserver: Send + Sync {
    fn meter_values_stored(&self, charger: &ChargerId, connector: ConnectorId);
}

/// The store ports the charging use cases read and write. Separate so a
/// test or another backend can provide them separately; one backend
/// usually provides all of them (`From<Arc<dyn Store>>`).
#[derive(Clone)]
pub struct ChargingPorts {
    pub chargers: Arc<dyn ChargerStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub groups: Arc<dyn UserGroupStore>,
    pub assignments: Arc<dyn TariffAssignmentStore>,
}

impl From<Arc<dyn Store>> for ChargingPorts {
    fn from(store: Arc<dyn Store>) -> Self {
        Self {
            chargers: store.clone(),
            tokens: store.clone(),
            sessions: store.clone(),
            groups: store.clone(),
            assignments: store,
        }
    }
}

/// The charger-facing use cases.
#[derive(Clone)]
pub struct ChargingService {
    chargers: Arc<dyn ChargerStore>,
    tokens: Arc<dyn TokenStore>,
    sessions: Arc<dyn SessionStore>,
    groups: Arc<dyn UserGroupStore>,
    assignments: Arc<dyn TariffAssignmentStore>,
    clock: Arc<dyn Clock>,
    settings: ChargingSettings,
    /// Set when web payments are enabled: an id tag that is not in the
    /// token table may be a web payment's (docs/payments.md, "Web payment
    /// flow").
    payments: Option<Arc<dyn PaymentStore>>,
    /// Set when driver accounts are enabled: a token linked to an account
    /// is also held to the account's standing (docs/payments.md,
    /// "Accounts").
    accounts: Option<(Arc<dyn AccountStore>, AccountRules)>,
    /// Set when payments are enabled: the hold-limit watch.
    meter_observer: Option<Arc<dyn MeterObserver>>,
}

impl std::fmt::Debug for ChargingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargingService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ChargingService {
    pub fn new(ports: ChargingPorts, clock: Arc<dyn Clock>, settings: ChargingSettings) -> Self {
        let ChargingPorts {
            chargers,
            tokens,
            sessions,
            groups,
            assignments,
        } = ports;
        Self {
            chargers,
            tokens,
            sessions,
            groups,
            assignments,
            clock,
            settings,
            payments: None,
            accounts: None,
            meter_observer: None,
        }
    }

    /// Tells `observer` of every stored batch of meter values.
    pub fn with_meter_observer(mut self, observer: Arc<dyn MeterObserver>) -> Self {
        self.meter_observer = Some(observer);
        self
    }

    /// Accepts the id tags of authorized, not yet started web payments at
    /// their own charger (and, at StartTransaction, connector), and links
    /// the session a payment's tag starts.
    pub fn with_web_payments(mut self, payments: Arc<dyn PaymentStore>) -> Self {
        self.payments = Some(payments);
        self
    }

    /// Refuses tokens whose account is in debt or has no card, as `rules`
    /// say; tokens linked to no account are unaffected.
    pub fn with_accounts(mut self, accounts: Arc<dyn AccountStore>, rules: AccountRules) -> Self {
        self.accounts = Some((accounts, rules));
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// BootNotification: record what the charger says and answer by its
    /// registration state.
    pub async fn boot(&self, id: &ChargerId, boot: BootInfo) -> Result<BootDecision, DomainError> {
        let now = self.clock.now();
        let registration = self
            .chargers
            .record_boot(id, boot, now)
            .await?
            .ok_or_else(|| DomainError::UnknownCharger(id.to_string()))?;
        let interval_s = match registration {
            RegistrationStatus::Accepted => self.settings.heartbeat_interval_s,
            RegistrationStatus::Pending | RegistrationStatus::Rejected => {
                self.settings.boot_retry_interval_s
            }
        };
        Ok(BootDecision {
            registration,
            interval_s,
            current_time: now,
        })
    }

    /// Heartbeat: note that the charger is alive; answer with server time.
    pub async fn heartbeat(&self, id: &ChargerId) -> Result<DateTime<Utc>, DomainError> {
        let now = self.clock.now();
        self.chargers.record_heartbeat(id, now).await?;
        Ok(now)
    }

    pub async fn status(&self, id: &ChargerId, report: StatusReport) -> Result<(), DomainError> {
        self.chargers.record_status(id, report).await?;
        Ok(())
    }

    /// Authorize: may this token charge here? Loads the token, and, only
    /// when the charger is private or restricted, the token's groups.
    pub async fn authorize(
        &self,
        id: &ChargerId,
        id_tag: &IdToken,
    ) -> Result<AuthorizationDecision, DomainError> {
        Ok(self.authorize_for(id, id_tag, None).await?.0)
    }

    /// Authorize on a connector (`None`: any, as for Authorize.req), with
    /// the web payment the tag belongs to when it is one.
    async fn authorize_for(
        &self,
        id: &ChargerId,
        id_tag: &IdToken,
        connector: Option<ConnectorId>,
    ) -> Result<(AuthorizationDecision, Option<Payment>), DomainError> {
        let token = self.tokens.get_token(id_tag).await?;
        if token.is_none() {
            if let Some(payments) = &self.payments {
                let open = payments.open_payment_for_id_tag(id, id_tag).await?;
                if let Some(p) = open.filter(|p| connector.is_none_or(|c| c == p.connector_id)) {
                    return Ok((AuthorizationDecision::web_payment(), Some(p)));
                }
            }
        }
        let access = match &token {
            Some(_) => self.groups.charger_access(id).await?.unwrap_or_default(),
            None => ChargerAccessRule::default(),
        };
        let token_groups = if token.is_some() && access.access.requires_group() {
            self.groups.token_groups(id_tag).await?
        } else {
            Vec::new()
        };
        let decision = authorize(token.as_ref(), id, &access, &token_groups, self.clock.now());
        let decision = match (&self.accounts, decision.is_accepted()) {
            (Some((accounts, rules)), true) => match accounts.account_standing(id_tag).await? {
                Some(standing) => match account_refusal(&standing, *rules) {
                    Some((status, reason)) => {
                        tracing::info!(charger_id = %id, account_id = %standing.account_id,
                                reason = reason.as_str(), "token refused by its account");
                        AuthorizationDecision {
                            status,
                            reason,
                            ..decision
                        }
                    }
                    None => decision,
                },
                None => decision,
            },
            _ => decision,
        };
        Ok((decision, None))
    }

    /// StartTransaction: the session is recorded whatever the authorization
    /// says (the charger has started it, possibly offline); the answer tells
    /// the charger whether to go on. A resend gets the same transaction.
    ///
    /// The tariff is chosen here by the precedence rule, for the token and
    /// its groups at the charger's start time (the session's own clock, so a
    /// start replayed hours later is priced as when it happened); the store
    /// freezes that tariff's current version with the session.
    pub async fn start_transaction(
        &self,
        id: &ChargerId,
        request: StartRequest,
    ) -> Result<(StartOutcome, AuthorizationDecision), DomainError> {
        let (decision, payment) = self
            .authorize_for(id, &request.id_tag, Some(request.connector_id))
            .await?;
        let tariff_id = self
            .assignments
            .tariff_candidates(id, Some(&request.id_tag))
            .await?
            .and_then(|c| {
                c.resolve(
                    id,
                    request.connector_id,
                    Some(&request.id_tag),
                    request.timestamp,
                )
                .map(|r| r.tariff.tariff.id.clone())
            });
        let outcome = self
            .sessions
            .start_session(StartSession {
                charger_id: id.clone(),
                connector_id: request.connector_id,
                id_tag: request.id_tag,
                meter_start_wh: request.meter_start_wh,
                started_at: request.timestamp,
                reservation_id: request.reservation_id,
                authorization: decision.status,
                received_at: self.clock.now(),
                tariff_id,
            })
            .await?;
        if let (Some(payments), Some(p)) = (&self.payments, &payment) {
            if outcome.created {
                match payments
                    .link_session(p.id, outcome.session.id, self.clock.now())
                    .await
                {
                    Ok(_) => tracing::info!(payment_id = %p.id, session_id = %outcome.session.id,
                        charger_id = %id, "web payment session linked"),
                    Err(error) => tracing::warn!(payment_id = %p.id, %error,
                        "linking the web payment's session failed"),
                }
            }
        }
        // A resend must get the answer the first start got.
        let decision = if outcome.created || outcome.session.start_authorization == decision.status
        {
            decision
        } else {
            AuthorizationDecision {
                status: outcome.session.start_authorization,
                ..decision
            }
        };
        Ok((outcome, decision))
    }

    /// StopTransaction: always answered; unknown and repeated stops are
    /// recorded by the store as anomalies. The id tag, when given, is
    /// authorized so the charger learns its current status.
    pub async fn stop_transaction(
        &self,
        id: &ChargerId,
        request: StopRequest,
    ) -> Result<(StopOutcome, Option<AuthorizationDecision>), DomainError> {
        let decision = match &request.id_tag {
            Some(tag) => Some(self.authorize(id, tag).await?),
            None => None,
        };
        let outcome = self
            .sessions
            .stop_session(StopSession {
                charger_id: id.clone(),
                transaction_id: request.transaction_id,
                id_tag: request.id_tag,
                meter_stop_wh: request.meter_stop_wh,
                stopped_at: request.timestamp,
                reason: request.reason,
                transaction_data: request.transaction_data,
                received_at: self.clock.now(),
            })
            .await?;
        Ok((outcome, decision))
    }

    pub async fn meter_values(
        &self,
        id: &ChargerId,
        report: MeterReport,
    ) -> Result<(), DomainError> {
        let connector = report.connector_id;
        self.sessions.record_meter_values(id, report).await?;
        if let Some(observer) = &self.meter_observer {
            observer.meter_values_stored(id, connector);
        }
        Ok(())
    }

    pub async fn firmware_status(&self, id: &ChargerId, status: &str) -> Result<(), DomainError> {
        self.chargers
            .record_firmware_status(id, status, self.clock.now())
            .await?;
        Ok(())
    }

    pub async fn diagnostics_status(
        &self,
        id: &ChargerId,
        status: &str,
    ) -> Result<(), DomainError> {
        self.chargers
            .record_diagnostics_status(id, status, self.clock.now())
            .await?;
        Ok(())
    }
}
