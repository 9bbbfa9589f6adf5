//! Transactions: StartTransaction and StopTransaction.
//!
//! A start is recorded whatever the authorization says (the charger may have
//! started offline) and a resend gets the same transaction id. A stop is
//! always answered, also for unknown or repeated transactions. On a charger
//! that displays prices a start begins the session's `RunningCost` updates
//! and the stop that ends it leads to `FinalCost` (`tariff_and_cost`).

use joule_domain::charging::session::StopOutcome;
use joule_domain::services::charging::{StartRequest, StopRequest};
use joule_domain::services::cost_display::CostEvent;
use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerError, HandlerResult};

pub(crate) async fn start_transaction(
    ctx: &Ctx<'_>,
    req: v16::StartTransactionRequest,
) -> HandlerResult {
    let request = StartRequest {
        connector_id: convert::connector(req.connector_id)?,
        id_tag: convert::id_tag(&req.id_tag)?,
        meter_start_wh: req.meter_start,
        timestamp: req.timestamp,
        reservation_id: req.reservation_id.map(i64::from),
    };
    let (outcome, decision) = ctx.service.start_transaction(ctx.charger, request).await?;
    let transaction_id = i32::try_from(outcome.session.transaction_id.get())
        .map_err(|_| HandlerError::Invalid("transaction id beyond i32".to_owned()))?;
    let payload = encode(&v16::StartTransactionResponse {
        id_tag_info: convert::id_tag_info(&decision),
        transaction_id,
    });
    let mut notes = Vec::new();
    if !outcome.created {
        notes.push("resend of a recorded start".to_owned());
    }
    notes.extend(convert::refusal_note(&decision));
    let message = CostEvent::SessionStarted {
        session: Box::new(outcome.session),
    };
    Ok(Handled::reply(payload)
        .with_note((!notes.is_empty()).then(|| notes.join("; ")))
        .with_cost(ctx, message))
}

pub(crate) async fn stop_transaction(
    ctx: &Ctx<'_>,
    req: v16::StopTransactionRequest,
) -> HandlerResult {
    // An unusable id tag on a stop does not block the stop itself.
    let id_tag = req.id_tag.as_deref().and_then(|t| convert::id_tag(t).ok());
    let Some(transaction_id) = convert::transaction_id(req.transaction_id) else {
        // Not a transaction Joule assigned: answer so the charger moves on.
        let decision = match &id_tag {
            Some(tag) => Some(ctx.service.authorize(ctx.charger, tag).await?),
            None => None,
        };
        let payload = encode(&v16::StopTransactionResponse {
            id_tag_info: decision.as_ref().map(convert::id_tag_info),
        });
        return Ok(Handled::reply(payload).with_note(Some(format!(
            "transactionId {} was never assigned; stop not recorded",
            req.transaction_id
        ))));
    };
    let request = StopRequest {
        transaction_id,
        id_tag,
        meter_stop_wh: req.meter_stop,
        timestamp: req.timestamp,
        reason: req.reason.as_ref().and_then(convert::wire),
        transaction_data: convert::meter_samples(req.transaction_data.unwrap_or_default()),
    };
    let (outcome, decision) = ctx.service.stop_transaction(ctx.charger, request).await?;
    let mut notes = Vec::new();
    let mut cost = None;
    match outcome {
        StopOutcome::Stopped(session) => {
            cost = Some(CostEvent::SessionStopped {
                session: Box::new(session),
            });
        }
        StopOutcome::AlreadyStopped(_) => notes.push("transaction was already stopped".to_owned()),
        StopOutcome::UnknownTransaction => notes.push("unknown transaction".to_owned()),
    }
    notes.extend(decision.as_ref().and_then(convert::refusal_note));
    let payload = encode(&v16::StopTransactionResponse {
        id_tag_info: decision.as_ref().map(convert::id_tag_info),
    });
    let handled = Handled::reply(payload).with_note((!notes.is_empty()).then(|| notes.join("; ")));
    Ok(match cost {
        Some(message) => handled.with_cost(ctx, message),
        None => handled,
    })
}
