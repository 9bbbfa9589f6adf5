"""Operator commands: REST API → command router → the charger's socket, and
the charger's answer back as the HTTP response."""

import asyncio

import pytest

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
