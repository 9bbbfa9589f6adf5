"""An OCPP 1.6 charger for the browser tests, played by the Python `ocpp`
library (tests/interop/charger.py): it validates every frame Joule sends.

Usage: charger_peer.py OCPP_URL CHARGER_ID. Prints `ready` once booted and
Available; on Joule's RemoteStartTransaction it accepts, reports Preparing,
starts a transaction and prints `started TX`, then sends a meter value;
on `stop` on stdin it stops the transaction (7 kWh), reports Available and
prints `stopped`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from ocpp.v16 import call  # noqa: E402

from charger import TestCharger, connected, now_iso  # noqa: E402


class Server:
    def __init__(self, ocpp_url: str):
        self.ocpp_url = ocpp_url


async def status(cp: TestCharger, state: str) -> None:
    await cp.call(
        call.StatusNotification(connector_id=1, error_code="NoError", status=state, timestamp=now_iso()),
        suppress=False,
    )


async def main(ocpp_url: str, charger_id: str) -> None:
    async with connected(Server(ocpp_url), charger_id) as cp:
        await cp.boot()
        await status(cp, "Available")
        print("ready", flush=True)
        while True:
            action, payload = await cp.events.get()
            if action == "RemoteStartTransaction":
                break
        await status(cp, "Preparing")
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag=payload["id_tag"], meter_start=0, timestamp=now_iso()
            ),
            suppress=False,
        )
        tx = started.transaction_id
        await status(cp, "Charging")
        print(f"started {tx}", flush=True)
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[{"timestamp": now_iso(), "sampledValue": [{"value": "3500", "unit": "Wh"}]}],
            ),
            suppress=False,
        )
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "stop":
                break
        await cp.call(
            call.StopTransaction(meter_stop=7000, timestamp=now_iso(), transaction_id=tx, reason="Local"),
            suppress=False,
        )
        await status(cp, "Finishing")
        await status(cp, "Available")
        print("stopped", flush=True)
        # Stay connected until closed, so Joule's later calls are answered.
        await loop.run_in_executor(None, sys.stdin.readline)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
