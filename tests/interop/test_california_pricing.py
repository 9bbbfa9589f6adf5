"""Price display on OCPP 1.6 chargers (issue 3, point 6; STANDARDS.md §3,
OCA California Pricing): a charger that declares CustomDisplayCostAndPrice
gets SetUserPrice after an accepted Authorize and FinalCost after the stop,
as DataTransfer with vendorId org.openchargealliance.costmsg and the message
as a JSON string; a charger that does not declare it gets none."""

import asyncio
import json
import uuid
from decimal import Decimal

from ocpp.v16 import call

from charger import TestCharger, connected, now_iso

VENDOR = "org.openchargealliance.costmsg"
RECEIPTS = "http://127.0.0.1:8080/receipts/"


class PriceDisplayCharger(TestCharger):
    __test__ = False
    cost_display = "true"


def energy_tariff(server, charger_id):
    """0.30 EUR/kWh excl. VAT, 20 % VAT, assigned to this charger only."""
    tariff_id = f"CA-{uuid.uuid4().hex[:8].upper()}"
    r = server.api("POST", "/tariffs", json={"tariff": {
        "country_code": "US", "party_id": "JOU", "id": tariff_id, "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z",
    }})
    assert r.status_code == 201, r.text
    r = server.api("PUT", f"/chargers/{charger_id}/tariff", json={"tariff_id": tariff_id})
    assert r.status_code == 200, r.text


async def next_event(cp, action):
    while True:
        got, payload = await asyncio.wait_for(cp.events.get(), timeout=20)
        if got == action:
            return payload


async def boot_and_settle_probe(cp):
    """Boot, wait for Joule's support probe, then one Heartbeat round trip:
    Joule reads frames in order, so the probe's answer is known after it."""
    await cp.boot()
    probe = await next_event(cp, "GetConfiguration")
    assert probe == {"key": ["CustomDisplayCostAndPrice"]}
    await cp.call(call.Heartbeat(), suppress=False)


def cost_messages(cp):
    return [p for a, p in cp.received if a == "DataTransfer"]


def test_supporting_charger_gets_set_user_price_and_final_cost(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    energy_tariff(server, charger_id)

    async def scenario():
        async with connected(server, charger_id, password, charger_class=PriceDisplayCharger) as cp:
            await boot_and_settle_probe(cp)

            ok = await cp.call(call.Authorize(id_tag=id_tag), suppress=False)
            assert ok.id_tag_info["status"] == "Accepted"
            price = await next_event(cp, "DataTransfer")
            assert price["vendor_id"] == VENDOR
            assert price["message_id"] == "SetUserPrice"
            data = json.loads(price["data"])
            assert set(data) == {"idToken", "priceText"}
            assert data["idToken"] == id_tag
            assert data["priceText"] == "0.36 EUR/kWh"

            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=now_iso()),
                suppress=False,
            )
            tx = started.transaction_id
            await cp.call(
                call.StopTransaction(transaction_id=tx, meter_stop=4000, timestamp=now_iso(), id_tag=id_tag),
                suppress=False,
            )
            final = await next_event(cp, "DataTransfer")
            assert final["vendor_id"] == VENDOR
            assert final["message_id"] == "FinalCost"
            data = json.loads(final["data"], parse_float=Decimal)
            assert set(data) == {"transactionId", "cost", "priceText", "qrCodeText"}
            assert data["transactionId"] == tx
            assert data["cost"] == Decimal("1.08")
            assert data["priceText"] == "Energy 3 kWh: 1.08 EUR; Total: 1.08 EUR incl. VAT"
            sessions = await asyncio.to_thread(server.api, "GET", f"/sessions?charger_id={charger_id}")
            assert sessions.status_code == 200, sessions.text
            [session] = sessions.json()["items"]
            assert data["qrCodeText"] == RECEIPTS + session["id"]
            assert len(cost_messages(cp)) == 2

    asyncio.run(scenario())


def test_charger_without_support_gets_no_cost_messages(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    energy_tariff(server, charger_id)

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await boot_and_settle_probe(cp)
            ok = await cp.call(call.Authorize(id_tag=id_tag), suppress=False)
            assert ok.id_tag_info["status"] == "Accepted"
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=0, timestamp=now_iso()),
                suppress=False,
            )
            await cp.call(
                call.StopTransaction(transaction_id=started.transaction_id, meter_stop=3000, timestamp=now_iso()),
                suppress=False,
            )
            # A cost message would be written before Joule reads the next
            # frame, so it would have arrived before this answer.
            await cp.call(call.Heartbeat(), suppress=False)
            assert cost_messages(cp) == []

    asyncio.run(scenario())
