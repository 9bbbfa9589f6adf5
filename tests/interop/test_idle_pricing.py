"""Idle time (PARKING_TIME) from StatusNotifications (issue 3, point 2;
STANDARDS.md §3 idle fees; docs/pricing.md "Idle time on sessions"): a real
OCPP 1.6 charger reports Finishing after charging and Available when
unplugged; the session's cost bills the idle time after the grace period,
including the time after StopTransaction until the cable came out."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call

from charger import connected


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def idle_tariff(server, charger_id):
    """0.30 EUR/kWh and 6.00 EUR/h idle after 10 free minutes, no VAT."""
    tariff_id = f"IDLE-{uuid.uuid4().hex[:8].upper()}"
    r = server.api("POST", "/tariffs", json={
        "tariff": {
            "country_code": "DE", "party_id": "JOU", "id": tariff_id, "currency": "EUR",
            "elements": [{"price_components": [
                {"type": "ENERGY", "price": 0.30, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6.00, "step_size": 60},
            ]}],
            "last_updated": "2026-01-01T00:00:00Z",
        },
        "extensions": {"idle_grace_period_s": 600},
    })
    assert r.status_code == 201, r.text
    r = server.api("PUT", f"/chargers/{charger_id}/tariff", json={"tariff_id": tariff_id})
    assert r.status_code == 200, r.text


def test_idle_after_charging_and_after_stop_is_billed(server, charger_id, password, id_tag):
    server.create_charger(charger_id, password)
    token = server.create_token(id_tag, language="ES")
    assert token["language"] == "es"
    idle_tariff(server, charger_id)
    # The charger's clock places everything two hours ago, as a charger
    # replaying its queue after being offline would.
    t0 = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)

    def at(minutes):
        return iso(t0 + timedelta(minutes=minutes))

    async def status(cp, minutes, name):
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status=name, timestamp=at(minutes)),
            suppress=False,
        )

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            await status(cp, -1, "Preparing")
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=at(0)),
                suppress=False,
            )
            await status(cp, 0, "Charging")
            # The CSMS or charger holds the car back: not idle.
            await status(cp, 20, "SuspendedEVSE")
            await status(cp, 25, "Charging")
            await status(cp, 50, "Finishing")
            await cp.call(
                call.StopTransaction(
                    transaction_id=started.transaction_id, meter_stop=11000, timestamp=at(60), id_tag=id_tag
                ),
                suppress=False,
            )
            await status(cp, 90, "Available")

    asyncio.run(scenario())

    sessions = server.api("GET", f"/sessions?charger_id={charger_id}")
    assert sessions.status_code == 200, sessions.text
    [session] = sessions.json()["items"]
    detail = server.api("GET", f"/sessions/{session['id']}")
    assert detail.status_code == 200, detail.text
    cost = detail.json()["cost"]
    # Energy 10 kWh x 0.30 = 3.00; idle 10:50-11:30 = 40 min, 10 free,
    # 30 x 6.00/h = 3.00.
    assert cost["is_final"] is True
    assert cost["priced_until"] == at(90)
    assert cost["total_energy_cost"]["incl_vat_minor"] == 300
    assert cost["total_parking_cost"]["incl_vat_minor"] == 300
    assert cost["total_incl_vat_minor"] == 600
    assert cost["total_time"] == 0.8333
    assert cost["idle_periods"] == [
        {"start": at(50), "end": at(60), "after_stop": False, "billed_s": 0.0, "free_s": 600.0},
        {"start": at(60), "end": at(90), "after_stop": True, "billed_s": 1800.0, "free_s": 0.0},
    ]
