//! The outbox events each state change writes, in one place so SQLite and
//! PostgreSQL emit byte-identical payloads. Each builder takes the state
//! after the change; the backends write its result in the same transaction.

use chrono::{DateTime, Utc};
use joule_domain::charging::charger::{Charger, ChargerPatch, ConnectorState, StatusReport};
use joule_domain::charging::session::{Session, StopSession};
use joule_domain::charging::site::{Site, SiteId};
use joule_domain::charging::token::{Token, TokenPatch};
use joule_domain::charging::user_group::{ChargerAccessRule, UserGroup, UserGroupId};
use joule_domain::events::event::{EventKind, NewEvent};
use joule_domain::kernel::ids::{ChargerId, ConnectorId, IdToken};
use joule_domain::payments::account::{Account, AccountCharge, AccountId};
use joule_domain::payments::payment::{Payment, PaymentStep, StepKind, StepStatus};
use joule_domain::payments::terminal::{Terminal, TerminalScope};
use joule_domain::pricing::assignment::TariffAssignment;
use serde_json::json;

// ---- chargers, tokens, sessions, API keys, tariffs -------------------------

pub(crate) fn ev_charger_created(c: &Charger) -> NewEvent {
    NewEvent::new(EventKind::ChargerCreated, c.created_at)
        .charger(&c.id)
        .payload(json!({
            "label": c.label,
            "registration": c.registration.as_str(),
            "has_password": c.has_password,
        }))
}

pub(crate) fn ev_charger_updated(c: &Charger, patch: &ChargerPatch, at: DateTime<Utc>) -> NewEvent {
    let mut fields = Vec::new();
    if patch.label.is_some() {
        fields.push("label");
    }
    if patch.location.is_some() {
        fields.push("location");
    }
    if patch.registration.is_some() {
        fields.push("registration");
    }
    if patch.password_hash.is_some() {
        fields.push("password");
    }
    NewEvent::new(EventKind::ChargerUpdated, at)
        .charger(&c.id)
        .payload(json!({
            "fields": fields,
            "label": c.label,
            "registration": c.registration.as_str(),
            "has_password": c.has_password,
        }))
}

pub(crate) fn ev_charger_deleted(id: &ChargerId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::ChargerDeleted, at).charger(id)
}

pub(crate) fn ev_charger_auto_registered(id: &ChargerId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::ChargerAutoRegistered, at)
        .charger(id)
        .payload(json!({ "registration": "pending" }))
}

pub(crate) fn ev_charger_booted(
    id: &ChargerId,
    boot: &joule_domain::charging::charger::BootInfo,
    registration: joule_domain::charging::charger::RegistrationStatus,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerBooted, at)
        .charger(id)
        .payload(json!({
            "vendor": boot.vendor,
            "model": boot.model,
            "firmware_version": boot.firmware_version,
            "registration": registration.as_str(),
        }))
}

pub(crate) fn ev_connection(id: &ChargerId, protocol: Option<&str>, at: DateTime<Utc>) -> NewEvent {
    match protocol {
        Some(p) => NewEvent::new(EventKind::ChargerConnected, at)
            .charger(id)
            .payload(json!({ "protocol": p })),
        None => NewEvent::new(EventKind::ChargerDisconnected, at).charger(id),
    }
}

/// `previous` is the state replaced, if any.
pub(crate) fn ev_status_changed(
    id: &ChargerId,
    report: &StatusReport,
    previous: Option<&ConnectorState>,
) -> NewEvent {
    NewEvent::new(EventKind::ConnectorStatusChanged, report.effective_at())
        .charger(id)
        .payload(json!({
            "connector_id": report.connector_id.get(),
            "status": report.status.as_str(),
            "error_code": report.error_code,
            "info": report.info,
            "vendor_error_code": report.vendor_error_code,
            "previous_status": previous.map(|p| p.status.as_str()),
            "previous_error_code": previous.and_then(|p| p.error_code.clone()),
        }))
}

pub(crate) fn ev_firmware(id: &ChargerId, status: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::FirmwareStatusChanged, at)
        .charger(id)
        .payload(json!({ "status": status }))
}

pub(crate) fn ev_diagnostics(id: &ChargerId, status: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::DiagnosticsStatusChanged, at)
        .charger(id)
        .payload(json!({ "status": status }))
}

fn token_payload(t: &Token) -> serde_json::Value {
    json!({
        "id_tag": t.id_tag.as_str(),
        "token_type": t.token_type.as_str(),
        "kind": t.kind.as_str(),
        "status": t.status.as_str(),
        "expires_at": t.expires_at,
        "parent_id_tag": t.parent_id_tag.as_ref().map(|p| p.as_str()),
        "language": t.language.as_ref().map(|l| l.as_str()),
    })
}

pub(crate) fn ev_token_created(t: &Token) -> NewEvent {
    NewEvent::new(EventKind::TokenCreated, t.created_at).payload(token_payload(t))
}

pub(crate) fn ev_token_updated(t: &Token, _patch: &TokenPatch, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TokenUpdated, at).payload(token_payload(t))
}

pub(crate) fn ev_token_deleted(id_tag: &IdToken, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TokenDeleted, at).payload(json!({ "id_tag": id_tag.as_str() }))
}

pub(crate) fn ev_session_started(s: &Session) -> NewEvent {
    NewEvent::new(EventKind::SessionStarted, s.started_at)
        .charger(&s.charger_id)
        .session(s.id)
        .payload(json!({
            "transaction_id": s.transaction_id.get(),
            "connector_id": s.connector_id.get(),
            "id_tag": s.id_tag.as_str(),
            "authorization": s.start_authorization.as_str(),
            "meter_start_wh": s.meter_start_wh,
            "reservation_id": s.reservation_id,
        }))
}

pub(crate) fn ev_session_ended(s: &Session) -> NewEvent {
    NewEvent::new(
        EventKind::SessionEnded,
        s.stopped_at.unwrap_or(s.updated_at),
    )
    .charger(&s.charger_id)
    .session(s.id)
    .payload(json!({
        "transaction_id": s.transaction_id.get(),
        "connector_id": s.connector_id.get(),
        "meter_stop_wh": s.meter_stop_wh,
        "energy_wh": s.energy_wh(),
        "reason": s.stop_reason,
        "stop_id_tag": s.stop_id_tag.as_ref().map(|t| t.as_str()),
    }))
}

fn stop_payload(stop: &StopSession) -> serde_json::Value {
    json!({
        "transaction_id": stop.transaction_id.get(),
        "meter_stop_wh": stop.meter_stop_wh,
        "stopped_at": stop.stopped_at,
        "reason": stop.reason,
        "id_tag": stop.id_tag.as_ref().map(|t| t.as_str()),
    })
}

pub(crate) fn ev_stop_duplicated(s: &Session, stop: &StopSession) -> NewEvent {
    NewEvent::new(EventKind::SessionStopDuplicated, stop.received_at)
        .charger(&s.charger_id)
        .session(s.id)
        .payload(stop_payload(stop))
}

pub(crate) fn ev_stop_unmatched(stop: &StopSession) -> NewEvent {
    NewEvent::new(EventKind::SessionStopUnmatched, stop.received_at)
        .charger(&stop.charger_id)
        .payload(stop_payload(stop))
}

pub(crate) fn ev_api_key_created(k: &joule_domain::access::api_key::ApiKey) -> NewEvent {
    NewEvent::new(EventKind::ApiKeyCreated, k.created_at).payload(json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "scopes": k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }))
}

fn tariff_payload(t: &joule_domain::pricing::stored::StoredTariff) -> serde_json::Value {
    json!({
        "tariff_id": t.tariff.id,
        "version": t.version,
        "currency": t.tariff.currency,
    })
}

pub(crate) fn ev_tariff_created(t: &joule_domain::pricing::stored::StoredTariff) -> NewEvent {
    NewEvent::new(EventKind::TariffCreated, t.created_at).payload(tariff_payload(t))
}

pub(crate) fn ev_tariff_updated(t: &joule_domain::pricing::stored::StoredTariff) -> NewEvent {
    NewEvent::new(EventKind::TariffUpdated, t.updated_at).payload(tariff_payload(t))
}

pub(crate) fn ev_charger_tariff_changed(
    id: &ChargerId,
    tariff_id: Option<&str>,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerTariffChanged, at)
        .charger(id)
        .payload(json!({ "tariff_id": tariff_id }))
}

pub(crate) fn ev_tariff_deleted(id: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TariffDeleted, at).payload(json!({ "tariff_id": id }))
}

pub(crate) fn ev_tariff_default_changed(
    previous: Option<&str>,
    current: Option<&str>,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::TariffDefaultChanged, at)
        .payload(json!({ "tariff_id": current, "previous_tariff_id": previous }))
}

// ---- user groups ---------------------------------------------------------

fn group_payload(g: &UserGroup) -> serde_json::Value {
    json!({ "group_id": g.id.as_str(), "name": g.name })
}

pub(crate) fn ev_user_group_created(g: &UserGroup) -> NewEvent {
    NewEvent::new(EventKind::UserGroupCreated, g.created_at).payload(group_payload(g))
}

pub(crate) fn ev_user_group_updated(g: &UserGroup) -> NewEvent {
    NewEvent::new(EventKind::UserGroupUpdated, g.updated_at).payload(group_payload(g))
}

pub(crate) fn ev_user_group_deleted(id: &UserGroupId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::UserGroupDeleted, at).payload(json!({ "group_id": id.as_str() }))
}

fn group_strs(groups: &[UserGroupId]) -> Vec<&str> {
    groups.iter().map(UserGroupId::as_str).collect()
}

pub(crate) fn ev_token_groups_changed(
    id_tag: &IdToken,
    groups: &[UserGroupId],
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::TokenGroupsChanged, at)
        .payload(json!({ "id_tag": id_tag.as_str(), "groups": group_strs(groups) }))
}

pub(crate) fn ev_charger_access_changed(
    id: &ChargerId,
    rule: &ChargerAccessRule,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerAccessChanged, at)
        .charger(id)
        .payload(json!({
            "access": rule.access.as_str(),
            "allowed_groups": group_strs(&rule.allowed_groups),
        }))
}

// ---- payments ----------------------------------------------------------------

fn payment_payload(p: &Payment) -> serde_json::Value {
    json!({
        "payment_id": p.id,
        "channel": p.channel.as_str(),
        "gateway": p.gateway,
        "gateway_payment_ref": p.gateway_payment_ref,
        "state": p.state.as_str(),
        "currency": p.currency.code(),
        "authorized_minor": p.authorized_minor,
        "captured_minor": p.captured_minor,
        "refunded_minor": p.refunded_minor,
        "connector_id": p.connector_id.get(),
    })
}

fn payment_event(kind: EventKind, p: &Payment, at: DateTime<Utc>) -> NewEvent {
    let e = NewEvent::new(kind, at).charger(&p.charger_id);
    match p.session_id {
        Some(s) => e.session(s),
        None => e,
    }
}

fn with_step(mut payload: serde_json::Value, s: &PaymentStep) -> serde_json::Value {
    if let Some(obj) = payload.as_object_mut() {
        obj.insert(
            "step".into(),
            json!({
                "seq": s.seq,
                "kind": s.kind.as_str(),
                "amount_minor": s.amount_minor,
                "idempotency_key": s.idempotency_key.as_str(),
                "gateway_ref": s.gateway_ref,
                "failure_code": match &s.status {
                    StepStatus::Failed { code, .. } => Some(code.as_str()),
                    _ => None,
                },
            }),
        );
    }
    payload
}

pub(crate) fn ev_payment_created(p: &Payment) -> NewEvent {
    payment_event(EventKind::PaymentCreated, p, p.created_at).payload(payment_payload(p))
}

pub(crate) fn ev_gateway_ref_recorded(p: &Payment, at: DateTime<Utc>) -> NewEvent {
    payment_event(EventKind::PaymentGatewayRefRecorded, p, at).payload(payment_payload(p))
}

pub(crate) fn ev_session_linked(p: &Payment, at: DateTime<Utc>) -> NewEvent {
    payment_event(EventKind::PaymentSessionLinked, p, at).payload(payment_payload(p))
}

pub(crate) fn ev_step_intended(p: &Payment, s: &PaymentStep) -> NewEvent {
    payment_event(EventKind::PaymentStepIntended, p, s.intended_at)
        .payload(with_step(payment_payload(p), s))
}

/// The event of a finished step, on the payment as it is afterwards.
pub(crate) fn ev_step_finished(p: &Payment, s: &PaymentStep, at: DateTime<Utc>) -> NewEvent {
    let kind = match (&s.status, s.kind) {
        (StepStatus::Failed { .. }, StepKind::Authorize | StepKind::ChargeOffSession) => {
            EventKind::PaymentFailed
        }
        (StepStatus::Failed { .. } | StepStatus::Intended, _) => EventKind::PaymentStepFailed,
        (StepStatus::Succeeded, StepKind::Authorize) => EventKind::PaymentAuthorized,
        (StepStatus::Succeeded, StepKind::IncrementAuthorization) => {
            EventKind::PaymentAuthorizationIncremented
        }
        (StepStatus::Succeeded, StepKind::Capture | StepKind::ChargeOffSession) => {
            EventKind::PaymentCaptured
        }
        (StepStatus::Succeeded, StepKind::Void) => EventKind::PaymentVoided,
        (StepStatus::Succeeded, StepKind::Refund) => EventKind::PaymentRefunded,
    };
    payment_event(kind, p, at).payload(with_step(payment_payload(p), s))
}

// ---- accounts ----------------------------------------------------------------

/// No email, name or card reference in payloads: consumers (webhooks) get
/// the id and what changed, and read the rest through the API.
pub(crate) fn ev_account(kind: EventKind, a: &Account, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(kind, at).payload(json!({
        "account_id": a.id.to_string(),
        "has_card": a.card.is_some(),
    }))
}

pub(crate) fn ev_token(
    kind: EventKind,
    id: AccountId,
    tag: &IdToken,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(kind, at).payload(json!({
        "account_id": id.to_string(),
        "id_tag": tag.as_str(),
    }))
}

pub(crate) fn ev_charge(c: &AccountCharge, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::AccountChargeChanged, at)
        .session(c.session_id)
        .payload(json!({
            "account_id": c.account_id.to_string(),
            "session_id": c.session_id.to_string(),
            "amount_minor": c.amount_minor,
            "currency": c.currency.code(),
            "status": c.status.as_str(),
            "payment_id": c.payment_id.map(|p| p.to_string()),
            "debt": c.is_debt(),
        }))
}

// ---- terminals ---------------------------------------------------------------

/// What events say about a terminal (never its key's hash).
fn terminal_payload(t: &Terminal) -> serde_json::Value {
    let (scope, _) = crate::terminals::scope_cols(&t.scope);
    let targets = match &t.scope {
        TerminalScope::Site => serde_json::Value::Null,
        TerminalScope::Chargers { targets } => targets
            .iter()
            .map(|t| {
                json!({
                    "charger_id": t.charger_id.as_str(),
                    "connector_id": t.connector_id.map(ConnectorId::get),
                })
            })
            .collect(),
    };
    json!({
        "terminal_id": t.id.to_string(),
        "name": t.name,
        "site_id": t.site_id.as_ref().map(|s| s.as_str()),
        "scope": scope,
        "targets": targets,
        "gateway": t.gateway,
        "enabled": t.enabled,
        "key_prefix": t.key.as_ref().map(|k| k.prefix.as_str()),
    })
}

pub(crate) fn ev_terminal_created(t: &Terminal) -> NewEvent {
    NewEvent::new(EventKind::TerminalCreated, t.updated_at).payload(terminal_payload(t))
}

pub(crate) fn ev_terminal_updated(t: &Terminal) -> NewEvent {
    NewEvent::new(EventKind::TerminalUpdated, t.updated_at).payload(terminal_payload(t))
}

pub(crate) fn ev_terminal_key_rotated(t: &Terminal) -> NewEvent {
    NewEvent::new(EventKind::TerminalKeyRotated, t.updated_at).payload(json!({
        "terminal_id": t.id.to_string(),
        "key_prefix": t.key.as_ref().map(|k| k.prefix.as_str()),
    }))
}

// ---- sites and tariff assignments --------------------------------------------

fn site_payload(s: &Site) -> serde_json::Value {
    json!({
        "site_id": s.id.as_str(),
        "name": s.name,
        "time_zone": s.time_zone.name(),
        "language": s.language,
        "address": s.address,
        "access": s.access.access.as_str(),
        "allowed_groups": s.access.allowed_groups.iter().map(UserGroupId::as_str).collect::<Vec<_>>(),
    })
}

pub(crate) fn ev_site_created(s: &Site) -> NewEvent {
    NewEvent::new(EventKind::SiteCreated, s.updated_at).payload(site_payload(s))
}

pub(crate) fn ev_site_updated(s: &Site) -> NewEvent {
    NewEvent::new(EventKind::SiteUpdated, s.updated_at).payload(site_payload(s))
}

pub(crate) fn ev_site_deleted(id: &SiteId, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::SiteDeleted, at).payload(json!({ "site_id": id.as_str() }))
}

pub(crate) fn ev_charger_site_changed(
    id: &ChargerId,
    site: Option<&SiteId>,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(EventKind::ChargerSiteChanged, at)
        .charger(id)
        .payload(json!({ "site_id": site.map(SiteId::as_str) }))
}

fn assignment_payload(a: &TariffAssignment) -> serde_json::Value {
    let cols = crate::scopes::scope_cols(&a.scope);
    json!({
        "assignment_id": a.id.to_string(),
        "tariff_id": a.tariff_id,
        "scope": a.scope.kind().as_str(),
        "site_id": cols.site_id,
        "charger_id": cols.charger_id,
        "connector_id": cols.connector_id,
        "group_id": cols.group_id,
        "id_tag": cols.id_tag,
        "valid_from": a.valid_from,
        "valid_until": a.valid_until,
    })
}

pub(crate) fn ev_assignment_created(a: &TariffAssignment) -> NewEvent {
    NewEvent::new(EventKind::TariffAssignmentCreated, a.created_at).payload(assignment_payload(a))
}

pub(crate) fn ev_assignment_deleted(a: &TariffAssignment, at: DateTime<Utc>) -> NewEvent {
    NewEvent::new(EventKind::TariffAssignmentDeleted, at).payload(assignment_payload(a))
}
