"""Operator commands: REST API → command router → the charger's socket, and
the charger's answer back as the HTTP response."""

import asyncio

import pytest
from ocpp.v16 import call

from charger import connected

COMMANDS = [
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 42}, {"status": "Accepted"}),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Accepted"}),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}, None),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}, {"status": "Accepted"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "Accepted"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "ping"}, {"status": "Accepted", "data": "pong"}),
    ("GetLocalListVersion", {}, {"listVersion": 0}),
    ("CancelReservation", {"reservationId": 3}, {"status": "Accepted"}),
]


@pytest.mark.parametrize("action,body,expected", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_command_round_trip(server, charger_id, password, action, body, expected):
    server.create_charger(charger_id, password)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            r = await asyncio.to_thread(server.api, "POST", f"/chargers/{charger_id}/commands/{action}", json=body)
            assert r.status_code == 200, r.text
            if expected is not None:
                assert r.json() == expected
            else:
                got = r.json()
                assert got["configurationKey"][0]["key"] == "HeartbeatInterval"
                assert got["unknownKey"] == ["Nope"]
            assert cp.received and cp.received[-1][0] == action

    asyncio.run(scenario())


def test_command_to_offline_charger_is_409(server, charger_id, password):
    server.create_charger(charger_id, password)
    r = server.api("POST", f"/chargers/{charger_id}/commands/ClearCache", json={})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "charger_offline"


def test_command_with_invalid_payload_is_422_and_not_sent(server, charger_id, password):
    server.create_charger(charger_id, password)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            r = await asyncio.to_thread(server.api, "POST", f"/chargers/{charger_id}/commands/Reset", json={"type": "Sideways"})
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "invalid_command_payload"
            assert not cp.received

    asyncio.run(scenario())


def test_unanswered_command_is_504(server, charger_id, password):
    """A charger that never answers: the server's call timeout (3 s in the
    test fixture's configuration) turns into 504 with a problem body."""
    server.create_charger(charger_id, password)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()

            async def never(**kwargs):
                await asyncio.Event().wait()

            cp.route_map["ClearCache"]["_on_action"] = never
            r = await asyncio.to_thread(server.api, "POST", f"/chargers/{charger_id}/commands/ClearCache", json={})
            assert r.status_code == 504, r.text
            assert r.json()["code"] == "charger_timeout"

    asyncio.run(scenario())


def test_unknown_command_is_404(server, charger_id, password):
    server.create_charger(charger_id, password)
    r = server.api("POST", f"/chargers/{charger_id}/commands/MakeCoffee", json={})
    assert r.status_code == 404
    assert r.json()["code"] == "unknown_command"


def test_a_token_longer_than_16_allows_is_refused_before_sending(server, charger_id, password):
    """Joule stores id tokens of up to 36 characters (OCPP 2.0.1, OCPI); an
    OCPP 1.6 idTag holds 20. A remote start with a longer tag is refused
    with 422 and a detail that says why, and the charger receives nothing;
    a longer group id (parentIdTag) is left out of the answers instead."""
    server.create_charger(charger_id, password)
    emaid = "NL-TNM-C00122045-K-" + charger_id[:8].upper().ljust(17, "0")
    assert len(emaid) == 36
    created = server.create_token(emaid, token_type="eMAID")
    assert created["token_type"] == "eMAID"
    card = ("C" + charger_id.upper())[:20]
    server.create_token(card, parent_id_tag="F" * 36)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            r = await asyncio.to_thread(
                server.api, "POST", f"/chargers/{charger_id}/commands/RemoteStartTransaction",
                json={"connectorId": 1, "idTag": emaid},
            )
            assert r.status_code == 422, r.text
            problem = r.json()
            assert problem["code"] == "invalid_command_payload"
            assert problem["detail"] == "this token cannot be sent to an OCPP 1.6 charger: longer than 20 characters"
            assert not cp.received
            ok = await cp.call(call.Authorize(id_tag=card), suppress=False)
            assert ok.id_tag_info["status"] == "Accepted"
            assert ok.id_tag_info.get("parent_id_tag") is None

    asyncio.run(scenario())
