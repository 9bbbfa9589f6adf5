"""Unknown chargers auto-registered as pending, by setting."""

import asyncio
import json

import websockets

from charger import SUBPROTOCOL
from joule_server import JouleServer


def test_unknown_charger_is_auto_registered_as_pending(tmp_path):
    server = JouleServer(
        data_dir=tmp_path,
        database_url=f"sqlite://{tmp_path}/joule.db",
        extra_args=["--unknown-chargers", "auto_register"],
    ).start()
    try:
        async def scenario():
            async with websockets.connect(f"{server.ocpp_url}/NEW-CP-1", subprotocols=[SUBPROTOCOL]) as ws:
                await ws.send(json.dumps([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
                reply = json.loads(await ws.recv())
                assert reply[2]["status"] == "Pending"

        asyncio.run(scenario())
        detail = server.api("GET", "/chargers/NEW-CP-1").json()
        assert detail["registration"] == "pending"
        # The operator accepts it; the next boot is Accepted.
        assert server.api("PATCH", "/chargers/NEW-CP-1", json={"registration": "accepted"}).status_code == 200

        async def again():
            async with websockets.connect(f"{server.ocpp_url}/NEW-CP-1", subprotocols=[SUBPROTOCOL]) as ws:
                await ws.send(json.dumps([2, "b2", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
                assert json.loads(await ws.recv())[2]["status"] == "Accepted"

        asyncio.run(again())
    finally:
        assert server.stop() == 0
