//! Meter values: every sampled value is stored verbatim. Values of a
//! transaction on a charger that displays prices are followed by its
//! `RunningCost` (`tariff_and_cost`).

use joule_domain::charging::meter::MeterReport;
use joule_domain::services::cost_display::CostEvent;
use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerResult};

pub(crate) async fn meter_values(ctx: &Ctx<'_>, req: v16::MeterValuesRequest) -> HandlerResult {
    let report = MeterReport {
        connector_id: convert::connector(req.connector_id)?,
        // A transaction id Joule never assigned (≤ 0) keeps the samples,
        // unattached to a session.
        transaction_id: req.transaction_id.and_then(convert::transaction_id),
        samples: convert::meter_samples(req.meter_value),
        received_at: ctx.service.now(),
    };
    let transaction_id = report.transaction_id.map(|t| t.get());
    ctx.service.meter_values(ctx.charger, report).await?;
    let handled = Handled::reply(encode(&v16::MeterValuesResponse {}));
    Ok(match transaction_id {
        Some(transaction_id) => handled.with_cost(ctx, CostEvent::MeterValues { transaction_id }),
        None => handled,
    })
}
