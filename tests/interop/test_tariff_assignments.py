"""Tariff assignments and precedence (issue 3, point 4): a token-level
tariff beats the user group's, which beats the charger's; the tariff the
precedence rule picks at StartTransaction is frozen on the session, and
GET /api/v1/sessions/{id} shows it and the cost it gives."""

import asyncio
import uuid

from ocpp.v16 import call

from charger import connected, now_iso


def energy_tariff(server, price: str) -> str:
    tariff_id = f"AS-{uuid.uuid4().hex[:8].upper()}"
    r = server.api("POST", "/tariffs", json={"tariff": {
        "country_code": "ES", "party_id": "JOU", "id": tariff_id, "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": float(price), "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z",
    }})
    assert r.status_code == 201, r.text
    return tariff_id


def assign(server, tariff_id: str, **scope) -> dict:
    r = server.api("POST", "/tariff-assignments", json={"tariff_id": tariff_id, **scope})
    assert r.status_code == 201, r.text
    return r.json()


def test_token_and_group_tariffs_are_frozen_on_sessions_and_priced(server, charger_id, password, id_tag):
    group = f"fleet-{uuid.uuid4().hex[:8]}"
    own, member, stranger = id_tag, id_tag + "G", id_tag + "S"
    server.create_user_group(group)
    server.create_charger(charger_id, password)
    for tag in (own, member, stranger):
        server.create_token(tag)
    server.set_token_groups(member, [group])

    charger_tariff = energy_tariff(server, "0.50")
    group_tariff = energy_tariff(server, "0.20")
    token_tariff = energy_tariff(server, "0.10")
    r = server.api("PUT", f"/chargers/{charger_id}/tariff", json={"tariff_id": charger_tariff})
    assert r.status_code == 200, r.text
    assign(server, group_tariff, scope="user_group", group_id=group)
    created = assign(server, token_tariff, scope="id_token", id_tag=own)
    assert created["scope"] == "id_token" and created["id_tag"] == own
    # A token-level assignment also wins over the token's group.
    server.set_token_groups(own, [group])

    async def charge(tag: str, connector: int) -> int:
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            started = await cp.call(
                call.StartTransaction(connector_id=connector, id_tag=tag, meter_start=1000, timestamp=now_iso()),
                suppress=False,
            )
            assert started.id_tag_info["status"] == "Accepted"
            await cp.call(
                call.StopTransaction(transaction_id=started.transaction_id, meter_stop=5000, timestamp=now_iso()),
                suppress=False,
            )
            return started.transaction_id

    expected = {
        own: (token_tariff, 0.40),
        member: (group_tariff, 0.80),
        stranger: (charger_tariff, 2.00),
    }
    for connector, (tag, (tariff_id, total)) in enumerate(expected.items(), start=1):
        tx = asyncio.run(charge(tag, connector))
        sessions = server.api("GET", f"/sessions?charger_id={charger_id}").json()["items"]
        [summary] = [s for s in sessions if s["transaction_id"] == tx]
        detail = server.api("GET", f"/sessions/{summary['id']}").json()
        assert detail["tariff"] == {"id": tariff_id, "version": 1}, detail
        cost = detail["cost"]
        assert cost["is_final"] is True, cost
        assert cost["currency"] == "EUR"
        assert cost["total_energy"] == 4.0
        assert cost["total_excl_vat"] == total, (tag, cost)
        assert cost["total_incl_vat"] == total, (tag, cost)
