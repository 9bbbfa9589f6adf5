"""RunningCost and DefaultPrice at a tariff boundary (OCA California
Pricing, STANDARDS.md §3.2): with the RunningCost interval at an hour, the
only RunningCost after the session's first is the one Joule sends when the
time-of-day price changes, and the charger's DefaultPrice follows the
change. The boundary is the next whole minute (UTC, the sites' time zone for
now), so this test takes up to a minute."""

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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("joule")
    srv = JouleServer(
        data_dir=tmp,
        database_url=database_url(tmp),
        extra_args=["--call-timeout", "3", "--set", "ocpp.running_cost_interval_s=3600"],
    ).start()
    yield srv
    code = srv.stop()
    assert code == 0, "joule did not shut down cleanly:\n" + "\n".join(srv.output[-40:])


class PriceDisplayCharger(TestCharger):
    __test__ = False
    cost_display = "true"


async def next_event(cp, action, timeout=20):
    while True:
        got, payload = await asyncio.wait_for(cp.events.get(), timeout=timeout)
        if got == action:
            return payload


async def next_running_cost(cp, timeout=20):
    while True:
        payload = await next_event(cp, "DataTransfer", timeout)
        assert payload["vendor_id"] == VENDOR
        if payload["message_id"] == "RunningCost":
            return json.loads(payload["data"], parse_float=Decimal)


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_running_cost_and_default_price_at_the_boundary(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    server.create_token(id_tag)
    now = datetime.now(timezone.utc)
    boundary = (now + timedelta(seconds=70)).replace(second=0, microsecond=0)
    if boundary - now > timedelta(seconds=60):
        boundary -= timedelta(minutes=1)
    end = boundary + timedelta(hours=2)
    tariff_id = f"CA-{uuid.uuid4().hex[:8].upper()}"
    r = server.api("POST", "/tariffs", json={"tariff": {
        "country_code": "US", "party_id": "JOU", "id": tariff_id, "currency": "USD",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.50, "step_size": 1}],
             "restrictions": {"start_time": boundary.strftime("%H:%M"), "end_time": end.strftime("%H:%M")}},
            {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]},
        ],
        "last_updated": "2026-01-01T00:00:00Z",
    }})
    assert r.status_code == 201, r.text
    r = server.api("PUT", f"/chargers/{charger_id}/tariff", json={"tariff_id": tariff_id})
    assert r.status_code == 200, r.text

    async def scenario():
        async with connected(server, charger_id, password, charger_class=PriceDisplayCharger) as cp:
            await cp.boot()
            default = await next_event(cp, "ChangeConfiguration")
            assert default["key"] == "DefaultPrice"
            assert json.loads(default["value"], parse_float=Decimal)["chargingPrice"] == {"kWhPrice": Decimal("0.3")}
            await cp.call(call.Heartbeat(), suppress=False)
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=0, timestamp=now_iso()),
                suppress=False,
            )
            first = await next_running_cost(cp)
            assert first["transactionId"] == started.transaction_id
            assert first["chargingPrice"] == {"kWhPrice": Decimal("0.3")}
            assert parse(first["nextPeriod"]["atTime"]) == boundary
            assert first["nextPeriod"]["chargingPrice"] == {"kWhPrice": Decimal("0.5")}
            assert parse(first["triggerMeterValue"]["atTime"]) == boundary

            # No interval RunningCost within the hour: this one is the boundary's.
            second = await next_running_cost(cp, timeout=90)
            assert parse(second["timestamp"]) >= boundary
            assert second["chargingPrice"] == {"kWhPrice": Decimal("0.5")}
            assert parse(second["nextPeriod"]["atTime"]) == end
            assert second["nextPeriod"]["chargingPrice"] == {"kWhPrice": Decimal("0.3")}

            # The anonymous price on the charger follows.
            while True:
                change = await next_event(cp, "ChangeConfiguration")
                if change["key"] == "DefaultPrice":
                    break
            assert json.loads(change["value"], parse_float=Decimal)["chargingPrice"] == {"kWhPrice": Decimal("0.5")}

    asyncio.run(scenario())
