"""Price display on OCPP 1.6 chargers (issue 3, point 6; STANDARDS.md §3,
OCA California Pricing): a charger that declares CustomDisplayCostAndPrice
gets DefaultPrice and the related keys, SetUserPrice after an accepted
Authorize, RunningCost during the session (every running_cost_interval_s,
here 1 s) and FinalCost after the stop, or after ConnectorUnplugged when
idle time after the stop is billed; a charger that does not declare it gets
none. Tariff changes reach connected chargers through the outbox."""

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from ocpp.v16 import call

from charger import TestCharger, connected, now_iso
from joule_server import JouleServer, database_url

VENDOR = "org.openchargealliance.costmsg"
RECEIPTS = "http://127.0.0.1:8080/receipts/"
PROBE = ["CustomDisplayCostAndPrice", "CustomIdleFeeAfterStop", "CustomMultiLanguageMessages", "SupportedLanguages"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("joule")
    srv = JouleServer(
        data_dir=tmp,
        database_url=database_url(tmp),
        extra_args=["--call-timeout", "3", "--set", "ocpp.running_cost_interval_s=1"],
    ).start()
    yield srv
    code = srv.stop()
    assert code == 0, "joule did not shut down cleanly:\n" + "\n".join(srv.output[-40:])


class PriceDisplayCharger(TestCharger):
    __test__ = False
    cost_display = "true"
    cost_keys = {"CustomIdleFeeAfterStop": "false"}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def put_tariff(server, charger_id, tariff_id, kwh_price, idle_price=None, method="POST"):
    """ENERGY kwh_price excl. VAT + 20 % VAT, optionally PARKING_TIME per
    hour without VAT; assigned to this charger only."""
    components = [{"price_components": [{"type": "ENERGY", "price": kwh_price, "vat": 20, "step_size": 1}]}]
    if idle_price is not None:
        components.append({"price_components": [{"type": "PARKING_TIME", "price": idle_price, "step_size": 60}]})
    body = {"tariff": {
        "country_code": "US", "party_id": "JOU", "id": tariff_id, "currency": "EUR",
        "elements": components, "last_updated": "2026-01-01T00:00:00Z",
    }}
    if method == "POST":
        r = server.api("POST", "/tariffs", json=body)
        assert r.status_code == 201, r.text
        r = server.api("PUT", f"/chargers/{charger_id}/tariff", json={"tariff_id": tariff_id})
        assert r.status_code == 200, r.text
    else:
        r = server.api("PUT", f"/tariffs/{tariff_id}", json=body)
        assert r.status_code == 200, r.text


def new_tariff_id():
    return f"CA-{uuid.uuid4().hex[:8].upper()}"


async def next_event(cp, action, timeout=20):
    while True:
        got, payload = await asyncio.wait_for(cp.events.get(), timeout=timeout)
        if got == action:
            return payload


async def next_cost(cp, message_id, timeout=20):
    """The next cost DataTransfer with this messageId, its data parsed
    (decimals exact); other cost messages in between are skipped."""
    while True:
        payload = await next_event(cp, "DataTransfer", timeout)
        assert payload["vendor_id"] == VENDOR
        if payload["message_id"] == message_id:
            return json.loads(payload["data"], parse_float=Decimal)


async def next_default_price(cp):
    while True:
        change = await next_event(cp, "ChangeConfiguration")
        if change["key"] == "DefaultPrice":
            return json.loads(change["value"], parse_float=Decimal)


async def config_changes(cp, count):
    return [await next_event(cp, "ChangeConfiguration") for _ in range(count)]


def check_running_cost(data, tx):
    assert {"transactionId", "timestamp", "meterValue", "cost", "state", "chargingPrice",
            "priceText"} <= set(data)
    assert data["transactionId"] == tx
    datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
    assert isinstance(data["meterValue"], int)
    assert data["state"] in ("Charging", "Idle")
    # An RFID session is not paid through Joule: no receipt link.
    assert "qrCodeText" not in data


def test_supporting_charger_gets_every_message(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    put_tariff(server, charger_id, new_tariff_id(), 0.30, idle_price=6.00)

    async def scenario():
        async with connected(server, charger_id, password, charger_class=PriceDisplayCharger) as cp:
            await cp.boot()
            probe = await next_event(cp, "GetConfiguration")
            assert probe == {"key": PROBE}
            default, offset, idle = await config_changes(cp, 3)
            assert default["key"] == "DefaultPrice"
            value = json.loads(default["value"], parse_float=Decimal)
            assert value == {
                "priceText": "0.36 EUR/kWh, 6.00 EUR/h idle",
                "priceTextOffline": "Offline: 0.36 EUR/kWh, 6.00 EUR/h idle. The cost shown may differ from the invoice.",
                "chargingPrice": {"kWhPrice": Decimal("0.36")},
            }
            assert offset == {"key": "TimeOffset", "value": "+00:00"}
            assert idle == {"key": "CustomIdleFeeAfterStop", "value": "true"}
            # Joule reads frames in order: the answers are known after this.
            await cp.call(call.Heartbeat(), suppress=False)

            ok = await cp.call(call.Authorize(id_tag=id_tag), suppress=False)
            assert ok.id_tag_info["status"] == "Accepted"
            data = await next_cost(cp, "SetUserPrice")
            assert data == {"idToken": id_tag, "priceText": "0.36 EUR/kWh, 6.00 EUR/h idle"}

            now = datetime.now(timezone.utc).replace(microsecond=0)
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000,
                                      timestamp=iso(now - timedelta(minutes=60))),
                suppress=False,
            )
            tx = started.transaction_id
            first = await next_cost(cp, "RunningCost")
            check_running_cost(first, tx)
            assert first["meterValue"] == 1000
            assert first["cost"] == Decimal("0")
            assert first["state"] == "Charging"
            assert first["chargingPrice"] == {"kWhPrice": Decimal("0.36")}
            assert first["idlePrice"] == {"graceMinutes": 0, "hourPrice": Decimal("6.0")}
            assert "nextPeriod" not in first  # no clock restriction in this tariff

            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
                "timestamp": iso(now - timedelta(minutes=45)),
                "sampledValue": [{"value": "4000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}],
            }]), suppress=False)
            # The next interval's RunningCost prices the 3 kWh: 3 × 0.36.
            while True:
                running = await next_cost(cp, "RunningCost", timeout=5)
                check_running_cost(running, tx)
                if running["meterValue"] == 4000:
                    break
            assert running["cost"] == Decimal("1.08")
            assert running["priceText"] == "Cost so far: 1.08 EUR incl. VAT"

            await cp.call(
                call.StopTransaction(transaction_id=tx, meter_stop=4000,
                                     timestamp=iso(now - timedelta(minutes=30)), id_tag=id_tag),
                suppress=False,
            )
            # Idle after the stop is billed: RunningCost in state Idle until
            # the charger says the cable is out.
            while True:
                idle_cost = await next_cost(cp, "RunningCost", timeout=5)
                if idle_cost["state"] == "Idle":
                    break
            check_running_cost(idle_cost, tx)
            assert idle_cost["idlePrice"]["hourPrice"] == Decimal("6.0")
            assert idle_cost["cost"] > Decimal("1.08")
            assert not [p for a, p in cp.received if a == "DataTransfer" and p["message_id"] == "FinalCost"]

            unplugged = await cp.call(call.DataTransfer(
                vendor_id=VENDOR, message_id="ConnectorUnplugged",
                data=json.dumps({"transactionId": tx, "timestamp": iso(now - timedelta(minutes=15))}),
            ), suppress=False)
            assert unplugged.status == "Accepted"
            final = await next_cost(cp, "FinalCost")
            assert set(final) == {"transactionId", "cost", "priceText"}
            assert final["transactionId"] == tx
            # 1.08 energy + 15 min idle at 6.00/h.
            assert final["cost"] == Decimal("2.58")
            assert final["priceText"] == "Energy 3 kWh: 1.08 EUR; Idle 0.25 h: 1.50 EUR; Total: 2.58 EUR incl. VAT"
            # The timers stopped with the session.
            await asyncio.sleep(2.5)
            await cp.call(call.Heartbeat(), suppress=False)
            after = [p for a, p in cp.received if a == "DataTransfer"]
            assert after[-1]["message_id"] == "FinalCost"

    asyncio.run(scenario())


def test_final_cost_right_after_stop_without_idle_billing(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    put_tariff(server, charger_id, new_tariff_id(), 0.30)

    async def scenario():
        async with connected(server, charger_id, password, charger_class=PriceDisplayCharger) as cp:
            await cp.boot()
            _, _, idle = await config_changes(cp, 3)
            assert idle == {"key": "CustomIdleFeeAfterStop", "value": "false"}
            await cp.call(call.Heartbeat(), suppress=False)
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=now_iso()),
                suppress=False,
            )
            tx = started.transaction_id
            await cp.call(
                call.StopTransaction(transaction_id=tx, meter_stop=4000, timestamp=now_iso(), id_tag=id_tag),
                suppress=False,
            )
            final = await next_cost(cp, "FinalCost")
            assert final["transactionId"] == tx
            assert final["cost"] == Decimal("1.08")
            assert final["priceText"] == "Energy 3 kWh: 1.08 EUR; Total: 1.08 EUR incl. VAT"

    asyncio.run(scenario())


def test_connector_available_ends_idle_after_stop(server, charger_id, password, id_tag):
    """A charger that reports the connector Available instead of sending
    ConnectorUnplugged gets its FinalCost then, idle time included."""
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    put_tariff(server, charger_id, new_tariff_id(), 0.30, idle_price=6.00)

    async def scenario():
        async with connected(server, charger_id, password, charger_class=PriceDisplayCharger) as cp:
            await cp.boot()
            await config_changes(cp, 3)
            await cp.call(call.Heartbeat(), suppress=False)
            now = datetime.now(timezone.utc).replace(microsecond=0)
            started = await cp.call(
                call.StartTransaction(connector_id=2, id_tag=id_tag, meter_start=0,
                                      timestamp=iso(now - timedelta(minutes=40))),
                suppress=False,
            )
            tx = started.transaction_id
            await cp.call(
                call.StopTransaction(transaction_id=tx, meter_stop=1000,
                                     timestamp=iso(now - timedelta(minutes=30))),
                suppress=False,
            )
            while (await next_cost(cp, "RunningCost", timeout=5))["state"] != "Idle":
                pass
            # Another connector becoming Available changes nothing.
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"),
                          suppress=False)
            await cp.call(call.StatusNotification(
                connector_id=2, error_code="NoError", status="Available",
                timestamp=iso(now - timedelta(minutes=20)),
            ), suppress=False)
            final = await next_cost(cp, "FinalCost")
            assert final["transactionId"] == tx
            # 1 kWh × 0.36 + 10 min idle at 6.00/h.
            assert final["cost"] == Decimal("1.36")

    asyncio.run(scenario())


def test_reconnect_without_boot_and_tariff_change(server, charger_id, password):
    server.create_charger(charger_id, password)
    tariff_id = new_tariff_id()
    put_tariff(server, charger_id, tariff_id, 0.30)

    async def scenario():
        async with connected(server, charger_id, password, charger_class=PriceDisplayCharger) as cp:
            # Registration is already Accepted: no boot, just a heartbeat.
            await cp.call(call.Heartbeat(), suppress=False)
            assert await next_event(cp, "GetConfiguration") == {"key": PROBE}
            default, _, _ = await config_changes(cp, 3)
            assert json.loads(default["value"])["chargingPrice"] == {"kWhPrice": 0.36}

            # A replaced tariff reaches the connected charger via the outbox.
            await asyncio.to_thread(put_tariff, server, charger_id, tariff_id, 0.40, None, "PUT")
            default = await next_default_price(cp)
            assert default["chargingPrice"] == {"kWhPrice": Decimal("0.48")}

            # A new tariff set on the charger does too.
            await asyncio.to_thread(put_tariff, server, charger_id, new_tariff_id(), 0.50)
            default = await next_default_price(cp)
            assert default["chargingPrice"] == {"kWhPrice": Decimal("0.60")}

    asyncio.run(scenario())


def test_charger_without_support_gets_no_cost_messages(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    put_tariff(server, charger_id, new_tariff_id(), 0.30, idle_price=6.00)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            assert await next_event(cp, "GetConfiguration") == {"key": PROBE}
            await cp.call(call.Heartbeat(), suppress=False)
            ok = await cp.call(call.Authorize(id_tag=id_tag), suppress=False)
            assert ok.id_tag_info["status"] == "Accepted"
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=0, timestamp=now_iso()),
                suppress=False,
            )
            await asyncio.sleep(2.5)  # two RunningCost intervals, for a charger that displayed prices
            await cp.call(
                call.StopTransaction(transaction_id=started.transaction_id, meter_stop=3000, timestamp=now_iso()),
                suppress=False,
            )
            # A cost message would be written before Joule reads the next
            # frame, so it would have arrived before this answer.
            await cp.call(call.Heartbeat(), suppress=False)
            assert [a for a, _ in cp.received if a in ("DataTransfer", "ChangeConfiguration")] == []

    asyncio.run(scenario())
