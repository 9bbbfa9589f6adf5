//! Authorization: Authorize. A refused token is an answer with its reason
//! in the message log, never a CALLERROR. An accepted token on a charger
//! that displays prices gets `SetUserPrice` afterwards (`tariff_and_cost`).

use joule_domain::charging::auth::AuthorizationStatus;
use joule_domain::services::cost_display::CostEvent;
use joule_ocpp::v16::{self, encode};

use super::convert;
use super::handler::{Ctx, Handled, HandlerResult};

pub(crate) async fn authorize(ctx: &Ctx<'_>, req: v16::AuthorizeRequest) -> HandlerResult {
    let Ok(tag) = convert::id_tag(&req.id_tag) else {
        // An id tag Joule could never have issued is simply not valid.
        let payload = encode(&v16::AuthorizeResponse {
            id_tag_info: v16::IdTagInfo::new(v16::AuthorizationStatus::Invalid),
        });
        return Ok(Handled::reply(payload)
            .with_note(Some("authorization Invalid: malformed_id_tag".to_owned())));
    };
    let decision = ctx.service.authorize(ctx.charger, &tag).await?;
    let payload = encode(&v16::AuthorizeResponse {
        id_tag_info: convert::id_tag_info(&decision),
    });
    let handled = Handled::reply(payload).with_note(convert::refusal_note(&decision));
    if decision.status == AuthorizationStatus::Accepted {
        return Ok(handled.with_cost(ctx, CostEvent::Authorized { id_tag: tag }));
    }
    Ok(handled)
}
