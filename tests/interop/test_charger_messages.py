"""Every message a 1.6 charger sends, sent by the `ocpp` library, answered
schema-valid by Joule and visible through the REST API afterwards."""

import asyncio

import pytest
from ocpp.v16 import call

from charger import connected, now_iso, parse_iso



def run(coro):
    return asyncio.run(coro)


def test_boot_heartbeat_and_status_are_recorded(server, charger_id, password):
    server.create_charger(charger_id, password, label="Bay 1")

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            boot = await cp.boot()
            assert boot.status == "Accepted"
            assert boot.interval > 0
            hb = await cp.call(call.Heartbeat(), suppress=False)
            parse_iso(hb.current_time)
            await cp.call(
                call.StatusNotification(connector_id=0, error_code="NoError", status="Available", timestamp=now_iso()),
                suppress=False,
            )
            await cp.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code="OtherError",
                    status="Faulted",
                    info="pilot fault",
                    vendor_id="https://chargex.inl.gov",
                    vendor_error_code="CX014",
                    timestamp=now_iso(),
                ),
                suppress=False,
            )
            detail = server.api("GET", f"/chargers/{charger_id}").json()
            assert detail["connection"]["connected"] is True
            assert detail["boot"]["vendor"] == "PyVendor"
            assert detail["boot"]["firmware_version"] == "1.2.3"
            assert detail["last_heartbeat_at"]
            connectors = {c["connector_id"]: c for c in detail["connectors"]}
            assert connectors[1]["status"] == "Faulted"
            assert connectors[1]["vendor_error_code"] == "CX014"
            history = server.api("GET", f"/chargers/{charger_id}/status-history?connector=1").json()
            assert history["items"][0]["error_code"] == "OtherError"
            assert history["items"][0]["info"] == "pilot fault"

    run(scenario())


def test_authorize_known_unknown_and_blocked_tokens(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag, parent_id_tag="FLEET-A")
    server.create_token(id_tag + "B", status="blocked")

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            ok = await cp.call(call.Authorize(id_tag=id_tag.lower()), suppress=False)  # CiString: case-insensitive
            assert ok.id_tag_info["status"] == "Accepted"
            assert ok.id_tag_info["parent_id_tag"] == "FLEET-A"
            unknown = await cp.call(call.Authorize(id_tag="NOPE-" + id_tag[:10]), suppress=False)
            assert unknown.id_tag_info["status"] == "Invalid"
            blocked = await cp.call(call.Authorize(id_tag=id_tag + "B"), suppress=False)
            assert blocked.id_tag_info["status"] == "Blocked"

    run(scenario())


def test_session_with_meter_values_and_stop(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            start = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=now_iso()),
                suppress=False,
            )
            assert start.id_tag_info["status"] == "Accepted"
            tx = start.transaction_id
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=tx,
                    meter_value=[
                        {
                            "timestamp": now_iso(),
                            "sampledValue": [
                                {"value": "2.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh", "context": "Sample.Periodic", "location": "Outlet"},
                                {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                                {"value": "16.1", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                                {"value": "OCMF|{\"FV\":\"1.0\"}|{\"SD\":\"3045\"}", "format": "SignedData", "context": "Sample.Clock"},
                            ],
                        }
                    ],
                ),
                suppress=False,
            )
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=4000,
                    timestamp=now_iso(),
                    transaction_id=tx,
                    id_tag=id_tag,
                    reason="EVDisconnected",
                    transaction_data=[
                        {"timestamp": now_iso(), "sampledValue": [{"value": "4000", "context": "Transaction.End"}]}
                    ],
                ),
                suppress=False,
            )
            assert stop.id_tag_info["status"] == "Accepted"
            sessions = server.api("GET", f"/sessions?charger_id={charger_id}").json()["items"]
            assert len(sessions) == 1
            session = server.api("GET", f"/sessions/{sessions[0]['id']}").json()
            assert session["state"] == "ended"
            assert session["transaction_id"] == tx
            assert session["energy_wh"] == 3000
            assert session["peak_power_w"] == 7400
            assert session["stop_reason"] == "EVDisconnected"
            values = session["meter_values"]
            signed = [v for v in values if v.get("format") == "SignedData"]
            assert signed and signed[0]["value"] == "OCMF|{\"FV\":\"1.0\"}|{\"SD\":\"3045\"}"
            assert any(v.get("phase") == "L1" and v.get("measurand") == "Current.Import" for v in values)

    run(scenario())


def test_resent_start_gets_the_same_transaction_and_stop_is_idempotent(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            ts = now_iso()
            first = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=50, timestamp=ts), suppress=False)
            again = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=50, timestamp=ts), suppress=False)
            assert first.transaction_id == again.transaction_id
            stop = call.StopTransaction(meter_stop=550, timestamp=now_iso(), transaction_id=first.transaction_id)
            await cp.call(stop, suppress=False)
            await cp.call(stop, suppress=False)
            unknown = await cp.call(
                call.StopTransaction(meter_stop=1, timestamp=now_iso(), transaction_id=2_000_000_000, id_tag=id_tag),
                suppress=False,
            )
            assert unknown.id_tag_info["status"] == "Accepted"
            sessions = server.api("GET", f"/sessions?charger_id={charger_id}").json()["items"]
            assert len(sessions) == 1
            assert sessions[0]["energy_wh"] == 500

    run(scenario())


def test_late_messages_are_placed_by_charger_time(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            start = await cp.call(
                call.StartTransaction(connector_id=2, id_tag=id_tag, meter_start=0, timestamp="2026-01-01T08:00:00Z"),
                suppress=False,
            )
            tx = start.transaction_id
            # Out of order: the later reading arrives first.
            for ts, wh in [("2026-01-01T08:30:00Z", 9000), ("2026-01-01T08:10:00Z", 3000)]:
                await cp.call(
                    call.MeterValues(connector_id=2, transaction_id=tx, meter_value=[{"timestamp": ts, "sampledValue": [{"value": str(wh)}]}]),
                    suppress=False,
                )
            s = server.api("GET", f"/sessions?charger_id={charger_id}").json()["items"][0]
            assert s["started_at"].startswith("2026-01-01T08:00:00")
            assert s["energy_wh"] == 9000
            assert s["state"] == "active"

    run(scenario())


def test_data_transfer_diagnostics_and_firmware_status(server, charger_id, password):
    server.create_charger(charger_id, password)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            dt = await cp.call(call.DataTransfer(vendor_id="com.example.unknown", message_id="x", data="{}"), suppress=False)
            assert dt.status == "UnknownVendorId"
            await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"), suppress=False)
            await cp.call(call.FirmwareStatusNotification(status="Installed"), suppress=False)
            detail = server.api("GET", f"/chargers/{charger_id}").json()
            assert detail["diagnostics_status"] == "Uploaded"
            assert detail["firmware_status"] == "Installed"

    run(scenario())


def test_message_log_records_both_directions(server, charger_id, password):
    server.create_charger(charger_id, password)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            await cp.call(call.Heartbeat(), suppress=False)

    run(scenario())
    # Log writes are group-committed; the API reads what is durable, so poll
    # on the data (not on time) until both frames of the heartbeat are there.
    for _ in range(200):
        log = server.api("GET", f"/chargers/{charger_id}/messages?action=Heartbeat").json()["items"]
        if len(log) >= 2:
            break
        asyncio.run(asyncio.sleep(0.05))
    directions = sorted(e["direction"] for e in log)
    assert directions == ["in", "out"]
    assert all(e["message_id"] for e in log)
    assert {e["kind"] for e in log} == {"call", "call_result"}
