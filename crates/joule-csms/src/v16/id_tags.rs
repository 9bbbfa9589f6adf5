//! What an OCPP 1.6 `idTag` can carry. The domain's [`IdToken`] holds the 36
//! characters OCPP 2.0.1 and OCPI allow; 1.6's `idTag` and `parentIdTag` are
//! `CiString20Type`. Inbound the 1.6 schema refuses longer tags; outbound
//! this module is where Joule refuses to send one (ADR-0012), so a charger
//! never sees a tag it would reject or, worse, truncate into someone else's.

use joule_domain::ports::command::CommandError;
use joule_domain::IdToken;
use serde_json::Value;

/// The longest `idTag` (and `parentIdTag`) OCPP 1.6 allows.
pub(crate) const MAX_LEN: usize = 20;

/// Whether `tag` fits a 1.6 `idTag`.
pub(crate) fn fits(tag: &IdToken) -> bool {
    tag.as_str().len() <= MAX_LEN
}

/// `tag` as a 1.6 `idTag`, or the typed refusal.
pub(crate) fn to_wire(tag: &IdToken) -> Result<String, CommandError> {
    if fits(tag) {
        Ok(tag.as_str().to_owned())
    } else {
        Err(too_long())
    }
}

/// Refuses an operator's raw 1.6 payload that carries an `idTag` or
/// `parentIdTag` longer than 1.6 allows (RemoteStartTransaction, ReserveNow,
/// SendLocalList), with the same error as a typed command, before the schema
/// check would refuse it with a less helpful JSON-pointer message. In 1.6
/// these two keys only ever hold tokens, whatever the action.
pub(crate) fn check_payload(payload: &Value) -> Result<(), CommandError> {
    let overlong = |key: &str, value: &Value| {
        matches!(key, "idTag" | "parentIdTag")
            && value.as_str().is_some_and(|s| s.chars().count() > MAX_LEN)
    };
    match payload {
        Value::Object(fields) => fields.iter().try_for_each(|(key, value)| {
            if overlong(key, value) {
                Err(too_long())
            } else {
                check_payload(value)
            }
        }),
        Value::Array(items) => items.iter().try_for_each(check_payload),
        _ => Ok(()),
    }
}

fn too_long() -> CommandError {
    CommandError::TokenTooLong {
        protocol: "OCPP 1.6",
        max: MAX_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tag(len: usize) -> IdToken {
        IdToken::parse(&"A".repeat(len)).unwrap()
    }

    #[test]
    fn a_tag_of_20_goes_on_the_wire_and_one_of_21_is_refused() {
        assert_eq!(to_wire(&tag(20)).unwrap().len(), 20);
        let refused = to_wire(&tag(21)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "this token cannot be sent to an OCPP 1.6 charger: longer than 20 characters"
        );
        assert!(fits(&tag(20)));
        assert!(!fits(&tag(36)));
    }

    #[test]
    fn raw_payloads_are_searched_for_overlong_tags_at_any_depth() {
        let long = "B".repeat(36);
        assert!(check_payload(&json!({"connectorId": 1, "idTag": "A".repeat(20)})).is_ok());
        for payload in [
            json!({"connectorId": 1, "idTag": long}),
            json!({"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "A", "reservationId": 1, "parentIdTag": long}),
            json!({"listVersion": 2, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "A"},
                {"idTag": "B", "idTagInfo": {"status": "Accepted", "parentIdTag": long}},
            ]}),
        ] {
            assert!(
                matches!(
                    check_payload(&payload),
                    Err(CommandError::TokenTooLong { max: 20, .. })
                ),
                "{payload}"
            );
        }
        // Other keys may hold long strings.
        assert!(check_payload(&json!({"vendorId": "V", "data": long})).is_ok());
    }
}
