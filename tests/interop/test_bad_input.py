"""Bad input gets a clear answer and the server carries on: raw frames over a
plain WebSocket, and handshakes that must be refused."""

import asyncio
import base64
import json

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from charger import SUBPROTOCOL, basic_auth, connected


async def raw(server, charger_id, password):
    return await websockets.connect(
        f"{server.ocpp_url}/{charger_id}",
        subprotocols=[SUBPROTOCOL],
        additional_headers=basic_auth(charger_id, password),
        max_size=None,
    )


async def exchange(ws, text):
    await ws.send(text)
    return json.loads(await asyncio.wait_for(ws.recv(), 30))


async def boot(ws):
    reply = await exchange(ws, json.dumps([2, "boot-1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    # No tariff is in force for these chargers, so Joule sends no price
    # display probe (OCA California Pricing) after the boot.


BAD_FRAMES = [
    ("not json", "this is not json", "-1", "FormationViolation"),
    ("not an array", '{"hello": "world"}', "-1", "FormationViolation"),
    ("id not a string", '[2, 17, "Heartbeat", {}]', "-1", "FormationViolation"),
    ("wrong type", '[2, "m1", "StartTransaction", {"connectorId": "one", "idTag": "A", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}]', "m1", "TypeConstraintViolation"),
    ("missing field", '[2, "m2", "StartTransaction", {"connectorId": 1, "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}]', "m2", "OccurenceConstraintViolation"),
    ("bad enum", '[2, "m3", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}]', "m3", "PropertyConstraintViolation"),
    ("unknown action", '[2, "m4", "MakeCoffee", {}]', "m4", "NotImplemented"),
    ("server-only action", '[2, "m5", "Reset", {"type": "Hard"}]', "m5", "NotSupported"),
]


@pytest.mark.parametrize("name,frame,expected_id,expected_code", BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_bad_frame_gets_callerror_and_connection_lives(server, charger_id, password, name, frame, expected_id, expected_code):
    server.create_charger(charger_id, password)

    async def scenario():
        ws = await raw(server, charger_id, password)
        try:
            await boot(ws)
            reply = await exchange(ws, frame)
            assert reply[0] == 4, reply
            assert reply[1] == expected_id
            assert reply[2] == expected_code, reply
            assert isinstance(reply[3], str) and isinstance(reply[4], dict)
            hb = await exchange(ws, '[2, "after", "Heartbeat", {}]')
            assert hb[0] == 3 and hb[1] == "after"
        finally:
            await ws.close()

    asyncio.run(scenario())


def test_oversized_frame_is_refused_and_server_carries_on(server, charger_id, password):
    server.create_charger(charger_id, password)

    async def scenario():
        ws = await raw(server, charger_id, password)
        await boot(ws)
        huge = json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "A" * (2 * 1024 * 1024)}])
        await ws.send(huge)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        # The server carries on: the same charger reconnects and works.
        async with connected(server, charger_id, password) as cp:
            assert (await cp.boot()).status == "Accepted"

    asyncio.run(scenario())


def test_call_before_boot_acceptance_is_refused(server, charger_id):
    # Auto-registration is off in this server: register as pending explicitly.
    server.create_charger(charger_id, "p" * 20, registration="pending")

    async def scenario():
        ws = await raw(server, charger_id, "p" * 20)
        try:
            reply = await exchange(ws, '[2, "early", "Heartbeat", {}]')
            assert reply[0] == 4 and reply[1] == "early" and reply[2] == "SecurityError", reply
            boot_reply = await exchange(ws, json.dumps([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
            assert boot_reply[2]["status"] == "Pending"
            reply = await exchange(ws, '[2, "still", "Authorize", {"idTag": "X"}]')
            assert reply[2] == "SecurityError"
        finally:
            await ws.close()

    asyncio.run(scenario())


def test_rejected_charger_is_told_so_at_boot(server, charger_id):
    server.create_charger(charger_id, "r" * 20, registration="rejected")

    async def scenario():
        ws = await raw(server, charger_id, "r" * 20)
        try:
            boot_reply = await exchange(ws, json.dumps([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
            assert boot_reply[2]["status"] == "Rejected"
            assert boot_reply[2]["interval"] > 0
        finally:
            await ws.close()

    asyncio.run(scenario())


def refused_status(coro) -> int:
    async def attempt():
        try:
            ws = await coro
        except InvalidStatus as e:
            return e.response.status_code
        await ws.close()
        return 101

    return asyncio.run(attempt())


def test_wrong_password_is_401(server, charger_id, password):
    server.create_charger(charger_id, password)
    status = refused_status(
        websockets.connect(f"{server.ocpp_url}/{charger_id}", subprotocols=[SUBPROTOCOL], additional_headers=basic_auth(charger_id, "wrong-password-123"))
    )
    assert status == 401


def test_username_must_match_url_identity(server, charger_id, password):
    server.create_charger(charger_id, password)
    status = refused_status(
        websockets.connect(f"{server.ocpp_url}/{charger_id}", subprotocols=[SUBPROTOCOL], additional_headers=basic_auth("SOMEONE-ELSE", password))
    )
    assert status == 401


def test_missing_password_is_401(server, charger_id, password):
    server.create_charger(charger_id, password)
    status = refused_status(websockets.connect(f"{server.ocpp_url}/{charger_id}", subprotocols=[SUBPROTOCOL]))
    assert status == 401


def test_unknown_charger_is_refused(server, charger_id, password):
    status = refused_status(
        websockets.connect(f"{server.ocpp_url}/{charger_id}", subprotocols=[SUBPROTOCOL], additional_headers=basic_auth(charger_id, password))
    )
    assert status in (401, 404)


def test_wrong_subprotocol_is_refused(server, charger_id, password):
    server.create_charger(charger_id, password)
    for offered in (["ocpp2.0.1"], ["ocpp1.5", "soap"], []):
        status = refused_status(
            websockets.connect(f"{server.ocpp_url}/{charger_id}", subprotocols=offered or None, additional_headers=basic_auth(charger_id, password))
        )
        assert status == 400, offered


def test_invalid_api_requests_get_problem_json(server):
    r = server.api("POST", "/chargers", data="{not json", headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.admin_key}"})
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "code" in r.json()
    r = server.api("POST", "/chargers", json={"id": "bad id with spaces"})
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    r = server.api("GET", "/chargers", headers={"Authorization": "Bearer jk_nope_nope"})
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
