"""User groups and restricted access (issue 3, point 5): a private charger
admits members of its allowed groups and answers `Invalid` to everyone else,
for Authorize and StartTransaction alike, and the message log says why."""

import asyncio
import uuid

from ocpp.v16 import call

from charger import connected, now_iso


def run(coro):
    return asyncio.run(coro)


def wait_for_log(server, charger_id, action, predicate):
    """Log writes are group-committed; poll on the data until it is there."""
    for _ in range(200):
        items = server.api("GET", f"/chargers/{charger_id}/messages?action={action}").json()["items"]
        if predicate(items):
            return items
        asyncio.run(asyncio.sleep(0.05))
    raise AssertionError(f"message log of {charger_id} never satisfied the check: {items}")


def test_private_charger_admits_members_only(server, charger_id, password, id_tag):
    group = f"staff-{uuid.uuid4().hex[:8]}"
    member, stranger = id_tag, id_tag + "X"
    server.create_user_group(group, "Staff")
    server.create_charger(charger_id, password)
    server.create_token(member)
    server.create_token(stranger)
    assert server.set_token_groups(member, [group]) == {"groups": [group]}
    rule = server.set_charger_access(charger_id, "private", [group])
    assert rule == {"access": "private", "allowed_groups": [group]}
    assert server.api("GET", f"/chargers/{charger_id}").json()["access"] == rule
    assert server.api("GET", f"/id-tokens/{member}").json()["groups"] == [group]

    async def scenario():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            ok = await cp.call(call.Authorize(id_tag=member), suppress=False)
            assert ok.id_tag_info["status"] == "Accepted"
            refused = await cp.call(call.Authorize(id_tag=stranger), suppress=False)
            assert refused.id_tag_info["status"] == "Invalid"

            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=member, meter_start=0, timestamp=now_iso()),
                suppress=False,
            )
            assert started.id_tag_info["status"] == "Accepted"
            rejected = await cp.call(
                call.StartTransaction(connector_id=2, id_tag=stranger, meter_start=0, timestamp=now_iso()),
                suppress=False,
            )
            assert rejected.id_tag_info["status"] == "Invalid"

    run(scenario())

    def refused_with_reason(items):
        notes = [e.get("note") or "" for e in items if e["direction"] == "out"]
        return any("not_in_allowed_group" in n for n in notes)

    for action in ("Authorize", "StartTransaction"):
        items = wait_for_log(server, charger_id, action, refused_with_reason)
        notes = [e["note"] for e in items if e["direction"] == "out" and e.get("note")]
        assert notes == ["authorization Invalid: not_in_allowed_group"], notes


def test_public_charger_ignores_groups_and_restricted_behaves_like_private(
    server, charger_id, password, id_tag
):
    group = f"fleet-{uuid.uuid4().hex[:8]}"
    server.create_user_group(group)
    server.create_charger(charger_id, password)
    server.create_token(id_tag)

    async def authorize():
        async with connected(server, charger_id, password) as cp:
            await cp.boot()
            res = await cp.call(call.Authorize(id_tag=id_tag), suppress=False)
            return res.id_tag_info["status"]

    # Public (the default): no group needed.
    assert run(authorize()) == "Accepted"
    # Restricted: same rule as private.
    server.set_charger_access(charger_id, "restricted", [group])
    assert run(authorize()) == "Invalid"
    server.set_token_groups(id_tag, [group])
    assert run(authorize()) == "Accepted"
