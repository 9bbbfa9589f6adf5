"""A real OCPP 1.6 charge point, played by the mobilityhouse `ocpp` library.

It validates every message Joule sends against the official JSON schemas (a
handler exists for every CSMS-initiated action, so each is checked) and
records what it received so tests can assert on it.

Like a real charger it knows what its own connectors are doing, from the
calls it makes itself (`Connectors`): a RemoteStartTransaction for a
connector that is charging, or that already accepted a remote start whose
StartTransaction has not been sent yet, is answered Rejected; a test can
make it refuse every remote start (`refuse_remote_start = True`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

SUBPROTOCOL = "ocpp1.6"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """The `ocpp` library does not check date-time formats: we do."""
    assert isinstance(text, str) and ("Z" in text or "+" in text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def basic_auth(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Connectors:
    """What a charger knows of its connectors, learnt from the calls it
    makes itself (never from what Joule says): a connector is charging from
    the StartTransaction it sends until the StopTransaction of that
    transaction (whatever Joule answers: the charger decides), and reserved
    by an accepted remote start until it sends a StartTransaction on that
    connector or its ConnectionTimeOut lapses. Survives a reconnect when
    the next connection is handed the same object (`connected(...,
    connectors=...)`), as a real charger's memory survives a lost socket."""

    count: int = 2  # NumberOfConnectors
    # connector → transaction id (None until the StartTransaction is answered)
    charging: dict = field(default_factory=dict)
    # connector → (id tag, time.monotonic() deadline) of an accepted remote start
    pending: dict = field(default_factory=dict)
    # every transaction started: dicts with connector, id_tag, meter_start,
    # transaction_id, status (Joule's idTagInfo), meter_stop (None while running)
    transactions: list = field(default_factory=list)

    def busy(self, connector: int) -> bool:
        reserved = self.pending.get(connector)
        return connector in self.charging or (reserved is not None and reserved[1] > time.monotonic())

    def reserve(self, connector_id: int | None, id_tag: str, timeout_s: float) -> int | None:
        """The connector a remote start may use (None: refused). Without a
        connector id the charger picks a free one, as the spec allows."""
        if connector_id is None:
            connector_id = next((c for c in range(1, self.count + 1) if not self.busy(c)), None)
        if connector_id is None or not 1 <= connector_id <= self.count or self.busy(connector_id):
            return None
        self.pending[connector_id] = (id_tag, time.monotonic() + timeout_s)
        return connector_id

    def occupant(self, connector: int | None) -> str | None:
        """The id tag charging on `connector`, or holding it with an
        accepted remote start (None: free, or no connector named)."""
        if connector in self.charging:
            running = [t for t in self.transactions if t["connector"] == connector and t["meter_stop"] is None]
            return running[-1]["id_tag"] if running else None
        return self.reserved_for(connector) if connector is not None else None

    def reserved_for(self, connector: int) -> str | None:
        """The id tag of the live remote start on `connector`, if any."""
        reserved = self.pending.get(connector)
        return reserved[0] if reserved and reserved[1] > time.monotonic() else None

    def sending(self, payload) -> None:
        """A call the charger is about to send (also a resend)."""
        if isinstance(payload, call.StartTransaction):
            c = payload.connector_id
            self.pending.pop(c, None)
            if c not in self.charging:
                self.charging[c] = None
                self.transactions.append({"connector": c, "id_tag": payload.id_tag,
                                          "meter_start": payload.meter_start, "timestamp": payload.timestamp,
                                          "transaction_id": None, "status": None, "meter_stop": None})
        elif isinstance(payload, call.StopTransaction):
            for c, tx in list(self.charging.items()):
                if tx == payload.transaction_id:
                    del self.charging[c]
            for t in self.transactions:
                if t["transaction_id"] == payload.transaction_id and t["meter_stop"] is None:
                    t["meter_stop"] = payload.meter_stop

    def answered(self, payload, result) -> None:
        if isinstance(payload, call.StartTransaction) and result is not None:
            c = payload.connector_id
            if c in self.charging and self.charging[c] is None:
                self.charging[c] = result.transaction_id
            for t in self.transactions:
                if (t["connector"], t["id_tag"], t["timestamp"]) == (c, payload.id_tag, payload.timestamp):
                    t["transaction_id"] = result.transaction_id
                    t["status"] = result.id_tag_info["status"]


class TestCharger(ChargePoint):
    """Answers every CSMS call the way a cooperative charger would, and
    refuses what a real one refuses (module doc)."""

    __test__ = False  # not a pytest class

    # A test may make the charger refuse every remote start.
    refuse_remote_start: bool = False
    # OCPP ConnectionTimeOut: how long an accepted remote start waits for
    # the cable (its StartTransaction) before the connector is free again.
    connection_timeout_s: float = 60.0

    # Answer to Joule's price-display probe, GetConfiguration of
    # CustomDisplayCostAndPrice (OCA California Pricing): None answers it as
    # an unknown key; a subclass may set "true". The probe is an event but
    # not in `received`, which lists operator commands only.
    cost_display: str | None = None
    COST_DISPLAY_KEY = "CustomDisplayCostAndPrice"
    # Other OCA keys the charger reports when asked (e.g.
    # {"CustomIdleFeeAfterStop": "false"}), and the keys it lets Joule set.
    cost_keys: dict = {}
    PRICE_KEYS = {
        "DefaultPrice", "TimeOffset", "NextTimeOffsetTransitionDateTime", "TimeOffsetNextTransition",
        "CustomIdleFeeAfterStop", "Language",
    }

    def __init__(self, charger_id, connection, connectors: Connectors | None = None, **kwargs):
        super().__init__(charger_id, connection, response_timeout=30, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.events: asyncio.Queue = asyncio.Queue()
        self.connectors = connectors if connectors is not None else Connectors()

    async def call(self, payload, *args, **kwargs):
        """Every call the charger makes, also the connector state it implies."""
        self.connectors.sending(payload)
        result = await super().call(payload, *args, **kwargs)
        self.connectors.answered(payload, result)
        return result

    def _record(self, action, **payload):
        self.received.append((action, payload))
        self.events.put_nowait((action, payload))

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, charging_profile=None):
        """Accepted only for a free connector (and never when the test says
        refuse); the record says which answer was given and, for a
        refusal, which id tag held the connector."""
        occupant = self.connectors.occupant(connector_id)
        chosen = None if self.refuse_remote_start else self.connectors.reserve(
            connector_id, id_tag, self.connection_timeout_s)
        status = "Rejected" if chosen is None else "Accepted"
        self._record("RemoteStartTransaction", id_tag=id_tag, connector_id=connector_id, status=status,
                     occupant=occupant if chosen is None else None)
        return call_result.RemoteStartTransaction(status=status)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id):
        self._record("RemoteStopTransaction", transaction_id=transaction_id)
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type):
        self._record("Reset", type=type)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id):
        self._record("UnlockConnector", connector_id=connector_id)
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type):
        self._record("ChangeAvailability", connector_id=connector_id, type=type)
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None):
        if key and self.COST_DISPLAY_KEY in key:
            # Joule's price-display probe: the support flag and the keys
            # of `cost_keys` this charger knows.
            self.events.put_nowait(("GetConfiguration", {"key": key}))
            if self.cost_display is None:
                return call_result.GetConfiguration(configuration_key=[], unknown_key=key)
            known = {self.COST_DISPLAY_KEY: self.cost_display, **self.cost_keys}
            return call_result.GetConfiguration(
                configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in key if k in known],
                unknown_key=[k for k in key if k not in known],
            )
        self._record("GetConfiguration", key=key)
        known = [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        ]
        if key:
            return call_result.GetConfiguration(
                configuration_key=[k for k in known if k["key"] in key],
                unknown_key=[k for k in key if k not in {c["key"] for c in known}],
            )
        return call_result.GetConfiguration(configuration_key=known)

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value):
        self._record("ChangeConfiguration", key=key, value=value)
        price_key = key in self.PRICE_KEYS or key.startswith("DefaultPriceText,")
        accepted = key == "HeartbeatInterval" or (price_key and self.cost_display == "true")
        return call_result.ChangeConfiguration(status="Accepted" if accepted else "NotSupported")

    @on(Action.trigger_message)
    def on_trigger(self, requested_message, connector_id=None):
        self._record("TriggerMessage", requested_message=requested_message, connector_id=connector_id)
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.clear_cache)
    def on_clear_cache(self):
        self._record("ClearCache")
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, message_id=None, data=None):
        self._record("DataTransfer", vendor_id=vendor_id, message_id=message_id, data=data)
        return call_result.DataTransfer(status="Accepted", data="pong")

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location, **kwargs):
        self._record("GetDiagnostics", location=location)
        return call_result.GetDiagnostics(file_name="diag.zip")

    @on(Action.update_firmware)
    def on_update_firmware(self, location, retrieve_date, **kwargs):
        self._record("UpdateFirmware", location=location)
        return call_result.UpdateFirmware()

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self):
        self._record("GetLocalListVersion")
        return call_result.GetLocalListVersion(list_version=0)

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version, update_type, local_authorization_list=None):
        self._record("SendLocalList", list_version=list_version)
        return call_result.SendLocalList(status="Accepted")

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, parent_id_tag=None):
        self._record("ReserveNow", reservation_id=reservation_id)
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id):
        self._record("CancelReservation", reservation_id=reservation_id)
        return call_result.CancelReservation(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles):
        self._record("SetChargingProfile", connector_id=connector_id)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs):
        self._record("ClearChargingProfile")
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id, duration, charging_rate_unit=None):
        self._record("GetCompositeSchedule", connector_id=connector_id)
        return call_result.GetCompositeSchedule(status="Rejected")

    # Convenience calls (always suppress=False: a CALLERROR fails the test).
    async def boot(self):
        r = await self.call(
            call.BootNotification(
                charge_point_vendor="PyVendor",
                charge_point_model="PyModel",
                charge_point_serial_number="SN-1",
                firmware_version="1.2.3",
                meter_type="PyMeter",
            ),
            suppress=False,
        )
        parse_iso(r.current_time)
        return r


@contextlib.asynccontextmanager
async def connected(
    server, charger_id, password=None, subprotocols=(SUBPROTOCOL,), user=None, charger_class=None,
    connectors: Connectors | None = None,
):
    """Connects a TestCharger and runs its receive loop for the block
    (`connectors`: the state of a charger that reconnects)."""
    headers = basic_auth(user or charger_id, password) if password is not None else {}
    ws = await websockets.connect(
        f"{server.ocpp_url}/{charger_id}",
        subprotocols=list(subprotocols),
        additional_headers=headers,
        open_timeout=30,
    )
    assert ws.subprotocol == SUBPROTOCOL, ws.subprotocol
    cp = (charger_class or TestCharger)(charger_id, ws, connectors=connectors)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await ws.close()


async def available(cp):
    """Connector 1 reports Available."""
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available", timestamp=now_iso()), suppress=False)


@contextlib.asynccontextmanager
async def available_charger(server, charger_id, password=None, **kwargs):
    """A charger connected (as `connected`), booted, and with connector 1
    Available: where most scenarios begin."""
    async with connected(server, charger_id, password, **kwargs) as cp:
        await cp.boot()
        await available(cp)
        yield cp
