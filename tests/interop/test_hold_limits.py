"""Hold limits (docs/payments.md, "Hold limits"): a web payment with a
2.00 EUR hold, a real OCPP 1.6 charger (the `ocpp` library) reporting a
climbing energy register. Joule stops the session with
RemoteStopTransaction before its cost passes the hold (or raises the hold,
up to the maximum the tariff shows the driver, where the gateway can), and
captures min(cost, hold). Against the simulated gateway, and against
localstripe (which has no incremental authorization: Joule stops)."""

import asyncio
import uuid

import requests
from ocpp.v16 import call

from charger import available_charger, now_iso
from joule_server import JouleServer, database_url
from test_web_payments import (  # noqa: F401  (localstripe is a fixture)
    FAST,
    available,
    browser_confirm,
    localstripe,
    pay_url,
    payment_detail,
    poll,
    remote_start,
    status_of,
    stripe_env,
)

HOLD_FAST = {**FAST, "JOULE_PAYMENTS__HOLD_CHECK_INTERVAL_S": "1"}


def server_with(tmp_path, env):
    return JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path), env={**HOLD_FAST, **env})


def hold_tariff(server, charger_id, **limits):
    """0.30 EUR/kWh, no VAT, a 2.00 EUR hold, and the given hold limits."""
    tariff_id = f"HOLD-{uuid.uuid4().hex[:8].upper()}"
    r = server.api("POST", "/tariffs", json={
        "tariff": {
            "country_code": "DE", "party_id": "JOU", "id": tariff_id, "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}],
            "last_updated": "2026-01-01T00:00:00Z",
        },
        "extensions": {"hold_amount_minor": 200, **limits},
    })
    assert r.status_code == 201, r.text
    assert r.json()["extensions"]["hold_limit_policy"] == limits.get("hold_limit_policy", "stop_session")
    r = server.api("PUT", f"/chargers/{charger_id}/tariff", json={"tariff_id": tariff_id})
    assert r.status_code == 200, r.text


async def pay(server, cp, card="sim_visa", confirm=None):
    r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/{cp.id}/1/payments"), json={"language": "en"}, timeout=30)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["amount_minor"] == 200
    if confirm is None:
        r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/payments/{created['token']}/simulated-card"), json={"card": card}, timeout=30)
        assert r.status_code == 204, r.text
    else:
        await confirm(created)
    r = await asyncio.to_thread(requests.post, pay_url(server, f"/pay/payments/{created['token']}/confirm"), timeout=60)
    assert r.status_code == 200, r.text
    return created


async def start(cp, id_tag):
    auth = await cp.call(call.Authorize(id_tag=id_tag), suppress=False)
    assert auth.id_tag_info["status"] == "Accepted"
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=now_iso()), suppress=False)
    st = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=0, timestamp=now_iso()), suppress=False)
    assert st.id_tag_info["status"] == "Accepted"
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=now_iso()), suppress=False)
    return st.transaction_id


async def meter(cp, tx, wh):
    await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
        {"timestamp": now_iso(), "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]), suppress=False)


def stops_received(cp):
    return [p for a, p in list(cp.received) if a == "RemoteStopTransaction"]


async def next_stop(cp, timeout=30):
    """The next RemoteStopTransaction (other calls are skipped)."""
    while True:
        action, payload = await asyncio.wait_for(cp.events.get(), timeout)
        if action == "RemoteStopTransaction":
            return payload


async def climb_until_stopped(cp, tx, below, trigger):
    """Reports the register at each value of `below` (no stop expected
    yet), then at `trigger`, and waits for Joule's RemoteStopTransaction."""
    for wh in below:
        await meter(cp, tx, wh)
    assert stops_received(cp) == [], "stopped before the threshold"
    await meter(cp, tx, trigger)
    stop = await next_stop(cp)
    assert stop["transaction_id"] == tx
    return stop


async def finish(cp, tx, wh):
    await cp.call(call.StopTransaction(transaction_id=tx, meter_stop=wh, timestamp=now_iso(), reason="Remote"), suppress=False)
    await available(cp)


def captured(server, token):
    st = poll(lambda: status_of(server, token), lambda s: s["state"] == "captured")
    assert st["state"] == "captured", st
    return st


def test_stop_session_policy_stops_before_the_cost_passes_the_hold(tmp_path, charger_id, password):
    server = server_with(tmp_path, {"JOULE_PAYMENTS__GATEWAY": "simulated"}).start()
    try:
        server.create_charger(charger_id, password)
        hold_tariff(server, charger_id)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                created = await pay(server, cp)
                tx = await start(cp, (await remote_start(cp))["id_tag"])
                # 0.30 EUR per kWh: at 5 kWh (1.50 EUR, +0.30 per reading)
                # the next reading still fits; at 6 kWh (1.80) it may not.
                await climb_until_stopped(cp, tx, [1000, 2000, 3000, 4000, 5000], 6000)
                # The charger stops at once; one more reading on the way.
                await finish(cp, tx, 6100)
                assert len(stops_received(cp)) == 1
                return created

        created = asyncio.run(scenario())
        st = captured(server, created["token"])
        assert st["cost"]["minor_incl_vat"] == 183
        detail = payment_detail(server, charger_id)
        assert detail["authorized_minor"] == 200
        assert detail["captured_minor"] == min(183, 200)
        assert [s["kind"] for s in detail["steps"]] == ["authorize", "capture"]
        assert any("hold limit: session stop requested" in line and "hold_reached" in line for line in server.output)
    finally:
        assert server.stop() == 0


def test_increment_policy_raises_the_hold_up_to_the_maximum_then_stops(tmp_path, charger_id, password):
    server = server_with(tmp_path, {"JOULE_PAYMENTS__GATEWAY": "simulated"}).start()
    try:
        server.create_charger(charger_id, password)
        hold_tariff(server, charger_id, hold_limit_policy="increment_authorization",
                    hold_increment_minor=200, hold_max_minor=400)
        # The pay page tells the driver before they pay.
        page = requests.get(pay_url(server, f"/pay/{charger_id}/1?lang=en"), timeout=30)
        assert page.status_code == 200
        assert "we raise it by 2.00 EUR at a time, up to 4.00 EUR" in page.text

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                created = await pay(server, cp)
                tx = await start(cp, (await remote_start(cp))["id_tag"])
                for wh in [1000, 2000, 3000, 4000, 5000, 6000]:
                    await meter(cp, tx, wh)
                # 1.80 EUR + 0.30 reaches the 2.00 hold: raised to 4.00.
                raised = await asyncio.to_thread(
                    poll, lambda: payment_detail(server, charger_id), lambda d: d["authorized_minor"] == 400)
                assert raised["authorized_minor"] == 400, raised
                assert stops_received(cp) == []
                # 3.90 EUR + 0.30 passes the 4.00 maximum: stop.
                await climb_until_stopped(cp, tx, [7000, 8000, 9000, 10_000, 11_000, 12_000], 13_000)
                await finish(cp, tx, 13_100)
                return created

        created = asyncio.run(scenario())
        captured(server, created["token"])
        detail = payment_detail(server, charger_id)
        assert detail["authorized_minor"] == 400
        assert detail["captured_minor"] == 393
        steps = [(s["kind"], s["status"], s["amount_minor"]) for s in detail["steps"]]
        assert steps == [("authorize", "succeeded", 200), ("increment_authorization", "succeeded", 200),
                         ("capture", "succeeded", 393)], steps
    finally:
        assert server.stop() == 0


def test_a_refused_increment_stops_the_session(tmp_path, charger_id, password):
    server = server_with(tmp_path, {"JOULE_PAYMENTS__GATEWAY": "simulated"}).start()
    try:
        server.create_charger(charger_id, password)
        hold_tariff(server, charger_id, hold_limit_policy="increment_authorization", hold_max_minor=1000)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                created = await pay(server, cp, card="sim_no_increment")
                tx = await start(cp, (await remote_start(cp))["id_tag"])
                await climb_until_stopped(cp, tx, [1000, 2000, 3000, 4000, 5000], 6000)
                # A slow charger: more than the hold delivered before it stopped.
                await finish(cp, tx, 7000)
                return created

        created = asyncio.run(scenario())
        st = captured(server, created["token"])
        assert st["cost"]["minor_incl_vat"] == 210
        detail = payment_detail(server, charger_id)
        # The driver pays at most the hold they agreed to.
        assert (detail["authorized_minor"], detail["captured_minor"]) == (200, 200)
        inc = [s for s in detail["steps"] if s["kind"] == "increment_authorization"]
        assert [(s["status"], s["failure_code"]) for s in inc] == [("failed", "card_declined")], inc
    finally:
        assert server.stop() == 0


def test_localstripe_cannot_increment_so_the_session_stops(tmp_path, charger_id, password, localstripe):
    server = server_with(tmp_path, stripe_env(localstripe)).start()
    try:
        server.create_charger(charger_id, password)
        hold_tariff(server, charger_id, hold_limit_policy="increment_authorization", hold_max_minor=1000)

        async def scenario():
            async with available_charger(server, charger_id, password) as cp:
                created = await pay(server, cp, confirm=browser_confirm(localstripe))
                tx = await start(cp, (await remote_start(cp))["id_tag"])
                await climb_until_stopped(cp, tx, [1000, 2000, 3000, 4000, 5000], 6000)
                await finish(cp, tx, 6000)
                return created

        created = asyncio.run(scenario())
        st = captured(server, created["token"])
        assert st["cost"]["minor_incl_vat"] == 180
        detail = payment_detail(server, charger_id)
        assert (detail["authorized_minor"], detail["captured_minor"]) == (200, 180)
        assert [s["kind"] for s in detail["steps"]] == ["authorize", "capture"]
        assert any("increment_unsupported" in line for line in server.output)
    finally:
        assert server.stop() == 0
