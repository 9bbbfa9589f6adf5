//! The OCPP 1.6 encoding of the domain's [`ChargerCommand`]s: each command
//! becomes one typed 1.6 request (the operator's `Raw` passthrough stays the
//! action and payload it came as), and the charger's typed answer becomes a
//! protocol-neutral [`CommandReply`] (ADR-0010). The connection task below
//! only ever sees an action and a payload.

use joule_domain::kernel::ids::ConnectorId;
use joule_domain::ports::command::{
    ChargerCommand, CommandError, CommandReply, ConfigurationSetting, TriggeredMessage,
};
use joule_ocpp::v16::{
    self, Action16, AvailabilityStatus, AvailabilityType, ChangeAvailabilityRequest,
    ChangeConfigurationRequest, ClearCacheRequest, ClearCacheStatus, ConfigurationStatus,
    DataTransferRequest, DataTransferStatus, GetConfigurationRequest, MessageTrigger, OcppRequest,
    RemoteStartStopStatus, RemoteStartTransactionRequest, RemoteStopTransactionRequest,
    ResetRequest, ResetStatus, ResetType, TriggerMessageRequest, TriggerMessageStatus,
    UnlockConnectorRequest, UnlockStatus,
};
use serde_json::Value;

use super::id_tags;

/// Turns the charger's answer payload into the domain's reply.
type Answer = Box<dyn FnOnce(Value) -> Result<CommandReply, CommandError> + Send>;

/// One command as a 1.6 CALL, with how to read its answer.
pub(crate) struct WireCall {
    pub action: Action16,
    pub payload: Value,
    answer: Answer,
}

impl WireCall {
    /// The domain's reply for the charger's answer `payload` (already
    /// checked against the response schema by the connection).
    pub(crate) fn reply(self, payload: Value) -> Result<CommandReply, CommandError> {
        (self.answer)(payload)
    }
}

/// The 1.6 CALL for `command`. `Unsupported` when the action is not one the
/// central system may send; the payload is checked against the schema by the
/// caller.
pub(crate) fn to_call(command: ChargerCommand) -> Result<WireCall, CommandError> {
    use ChargerCommand as C;
    Ok(match command {
        // 1.6 has no token type: the tag alone goes.
        C::StartCharging {
            connector,
            id_tag,
            token_type: _,
        } => typed(
            RemoteStartTransactionRequest {
                connector_id: Some(connector_number(connector)?),
                id_tag: id_tags::to_wire(&id_tag)?,
                charging_profile: None,
            },
            |r| accepted(r.status == RemoteStartStopStatus::Accepted),
        ),
        C::StopCharging { transaction } => typed(
            RemoteStopTransactionRequest {
                transaction_id: i32::try_from(transaction.get()).map_err(|_| {
                    CommandError::InvalidPayload("transaction id beyond 32 bits".to_owned())
                })?,
            },
            |r| accepted(r.status == RemoteStartStopStatus::Accepted),
        ),
        C::Reset { hard } => typed(
            ResetRequest {
                kind: if hard {
                    ResetType::Hard
                } else {
                    ResetType::Soft
                },
            },
            |r| accepted(r.status == ResetStatus::Accepted),
        ),
        C::Unlock { connector } => typed(
            UnlockConnectorRequest {
                connector_id: connector_number(connector)?,
            },
            |r| accepted(r.status == UnlockStatus::Unlocked),
        ),
        // Scheduled: accepted, effective once the running session ends.
        C::SetAvailability {
            connector,
            operative,
        } => typed(
            ChangeAvailabilityRequest {
                connector_id: connector_number(connector)?,
                kind: if operative {
                    AvailabilityType::Operative
                } else {
                    AvailabilityType::Inoperative
                },
            },
            |r| accepted(r.status != AvailabilityStatus::Rejected),
        ),
        C::ReadConfiguration { keys } => typed(
            GetConfigurationRequest {
                key: (!keys.is_empty()).then_some(keys),
            },
            |r| CommandReply::Configuration {
                settings: r
                    .configuration_key
                    .unwrap_or_default()
                    .into_iter()
                    .map(|kv| ConfigurationSetting {
                        key: kv.key,
                        value: kv.value,
                        readonly: kv.readonly,
                    })
                    .collect(),
                unknown: r.unknown_key.unwrap_or_default(),
            },
        ),
        // RebootRequired: accepted, effective after the next reboot.
        C::WriteConfiguration { key, value } => {
            typed(ChangeConfigurationRequest { key, value }, |r| {
                accepted(matches!(
                    r.status,
                    ConfigurationStatus::Accepted | ConfigurationStatus::RebootRequired
                ))
            })
        }
        C::TriggerMessage { message, connector } => typed(
            TriggerMessageRequest {
                requested_message: trigger(message),
                connector_id: connector.map(connector_number).transpose()?,
            },
            |r| accepted(r.status == TriggerMessageStatus::Accepted),
        ),
        C::ClearCache => typed(ClearCacheRequest {}, |r| {
            accepted(r.status == ClearCacheStatus::Accepted)
        }),
        C::VendorData {
            vendor,
            message_id,
            data,
        } => typed(
            DataTransferRequest {
                vendor_id: vendor,
                message_id,
                data,
            },
            |r| match (r.status, r.data) {
                (DataTransferStatus::Accepted, Some(data)) => {
                    CommandReply::Data(Value::String(data))
                }
                (DataTransferStatus::Accepted, None) => CommandReply::Accepted,
                _ => CommandReply::Rejected,
            },
        ),
        C::Raw { action, payload } => {
            let action: Action16 = action
                .parse()
                .map_err(|_| CommandError::Unsupported(action.clone()))?;
            if !action.initiator().central_system_may_send() {
                return Err(CommandError::Unsupported(action.as_str().to_owned()));
            }
            id_tags::check_payload(&payload)?;
            WireCall {
                action,
                payload,
                answer: Box::new(|payload| Ok(CommandReply::Data(payload))),
            }
        }
    })
}

fn typed<R: OcppRequest>(request: R, answer: fn(R::Response) -> CommandReply) -> WireCall
where
    R::Response: 'static,
{
    WireCall {
        action: R::ACTION,
        payload: v16::encode(&request),
        answer: Box::new(move |payload| {
            v16::decode_response_to::<R>(payload)
                .map(answer)
                .map_err(|v| CommandError::InvalidResponse(v.description))
        }),
    }
}

fn accepted(yes: bool) -> CommandReply {
    if yes {
        CommandReply::Accepted
    } else {
        CommandReply::Rejected
    }
}

fn connector_number(connector: ConnectorId) -> Result<i32, CommandError> {
    i32::try_from(connector.get())
        .map_err(|_| CommandError::InvalidPayload("connector id beyond 32 bits".to_owned()))
}

fn trigger(message: TriggeredMessage) -> MessageTrigger {
    match message {
        TriggeredMessage::Boot => MessageTrigger::BootNotification,
        TriggeredMessage::Heartbeat => MessageTrigger::Heartbeat,
        TriggeredMessage::MeterValues => MessageTrigger::MeterValues,
        TriggeredMessage::Status => MessageTrigger::StatusNotification,
        TriggeredMessage::FirmwareStatus => MessageTrigger::FirmwareStatusNotification,
        TriggeredMessage::DiagnosticsStatus => MessageTrigger::DiagnosticsStatusNotification,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joule_domain::charging::token::IdTokenType;
    use joule_domain::IdToken;
    use serde_json::json;

    fn start(tag: &str) -> ChargerCommand {
        ChargerCommand::StartCharging {
            connector: ConnectorId::new(1).unwrap(),
            id_tag: IdToken::parse(tag).unwrap(),
            token_type: IdTokenType::EMaid,
        }
    }

    #[test]
    fn a_start_carries_the_tag_without_its_type() {
        let call = to_call(start("NLTNMC00122045")).unwrap();
        assert_eq!(call.action, Action16::RemoteStartTransaction);
        assert_eq!(
            call.payload,
            json!({"connectorId": 1, "idTag": "NLTNMC00122045"})
        );
    }

    #[test]
    fn a_start_with_a_token_longer_than_16_allows_is_refused_before_sending() {
        let refused = to_call(start(&"E".repeat(36))).err();
        assert_eq!(
            refused,
            Some(CommandError::TokenTooLong {
                protocol: "OCPP 1.6",
                max: 20
            })
        );
        let raw = ChargerCommand::Raw {
            action: "RemoteStartTransaction".to_owned(),
            payload: json!({"connectorId": 1, "idTag": "E".repeat(36)}),
        };
        assert!(matches!(
            to_call(raw).err(),
            Some(CommandError::TokenTooLong { .. })
        ));
    }

    #[test]
    fn a_configuration_read_keeps_readonly_values_and_unknown_keys() {
        let call = to_call(ChargerCommand::ReadConfiguration {
            keys: vec!["HeartbeatInterval".into(), "AuthKey".into(), "Nope".into()],
        })
        .unwrap();
        assert_eq!(call.action, Action16::GetConfiguration);
        assert_eq!(
            call.payload,
            json!({"key": ["HeartbeatInterval", "AuthKey", "Nope"]})
        );
        let reply = call.reply(json!({
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": false, "value": "300"},
                {"key": "AuthKey", "readonly": true}
            ],
            "unknownKey": ["Nope"]
        }));
        assert_eq!(
            reply,
            Ok(CommandReply::Configuration {
                settings: vec![
                    ConfigurationSetting {
                        key: "HeartbeatInterval".into(),
                        value: Some("300".into()),
                        readonly: false,
                    },
                    ConfigurationSetting {
                        key: "AuthKey".into(),
                        value: None,
                        readonly: true,
                    },
                ],
                unknown: vec!["Nope".into()],
            })
        );
    }

    #[test]
    fn a_raw_command_the_central_system_may_not_send_is_unsupported() {
        let raw = |action: &str| ChargerCommand::Raw {
            action: action.into(),
            payload: json!({}),
        };
        assert!(matches!(
            to_call(raw("BootNotification")),
            Err(CommandError::Unsupported(a)) if a == "BootNotification"
        ));
        assert!(matches!(
            to_call(raw("Teleport")),
            Err(CommandError::Unsupported(a)) if a == "Teleport"
        ));
        assert_eq!(
            to_call(raw("ClearCache")).unwrap().action,
            Action16::ClearCache
        );
    }
}
