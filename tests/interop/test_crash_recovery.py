"""The server is killed with SIGKILL in the middle of a session and
restarted; the charger resends its StopTransaction (its reply was lost); the
session ends exactly once, with the right energy."""

import asyncio

from ocpp.v16 import call

from charger import connected, now_iso
from joule_server import JouleServer, database_url


def test_sigkill_mid_session_then_resent_stop(tmp_path, charger_id, password, id_tag):
    url = database_url(tmp_path)
    first = JouleServer(data_dir=tmp_path, database_url=url).start()
    first.create_charger(charger_id, password)
    first.create_token(id_tag)
    started_at = now_iso()

    async def before_crash():
        async with connected(first, charger_id, password) as cp:
            await cp.boot()
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=10_000, timestamp=started_at), suppress=False)
            await cp.call(
                call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[{"timestamp": now_iso(), "sampledValue": [{"value": "15000"}]}]),
                suppress=False,
            )
            return start.transaction_id

    tx = asyncio.run(before_crash())
    first.kill()  # SIGKILL: nothing is flushed by shutdown code

    second = JouleServer(data_dir=tmp_path, database_url=url, admin_key=first.admin_key, pg_schema=first.pg_schema).start()
    try:
        stop_ts = now_iso()

        async def after_restart():
            async with connected(second, charger_id, password) as cp:
                await cp.boot()
                # The charger never saw the answer to its start before the
                # crash, so it resends it: same transaction, no ghost session.
                again = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=10_000, timestamp=started_at), suppress=False)
                assert again.transaction_id == tx
                stop = call.StopTransaction(meter_stop=22_500, timestamp=stop_ts, transaction_id=tx, id_tag=id_tag)
                await cp.call(stop, suppress=False)
                await cp.call(stop, suppress=False)  # resent after a lost reply

        asyncio.run(after_restart())
        sessions = second.api("GET", f"/sessions?charger_id={charger_id}").json()["items"]
        assert len(sessions) == 1
        s = sessions[0]
        assert s["state"] == "ended"
        assert s["energy_wh"] == 12_500
        assert s["transaction_id"] == tx
        detail = second.api("GET", f"/sessions/{s['id']}").json()
        assert detail["meter_stop_wh"] == 22_500
    finally:
        assert second.stop() == 0


def test_open_session_of_vanished_charger_stays_visible(tmp_path, charger_id, password, id_tag):
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path)).start()
    try:
        server.create_charger(charger_id, password)
        server.create_token(id_tag)

        async def scenario():
            async with connected(server, charger_id, password) as cp:
                await cp.boot()
                await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=0, timestamp=now_iso()), suppress=False)

        asyncio.run(scenario())  # the charger goes away without stopping
        for _ in range(400):
            s = server.api("GET", f"/sessions?charger_id={charger_id}").json()["items"][0]
            detail = server.api("GET", f"/sessions/{s['id']}").json()
            if detail["charger_connected"] is False:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert detail["state"] == "active"
        assert detail["charger_connected"] is False
    finally:
        assert server.stop() == 0
