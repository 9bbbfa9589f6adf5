"""A real OCPP 1.6 charge point, played by the mobilityhouse `ocpp` library.

It validates every message Joule sends against the official JSON schemas (a
handler exists for every CSMS-initiated action, so each is checked) and
records what it received so tests can assert on it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
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


class TestCharger(ChargePoint):
    """Answers every CSMS call the way a cooperative charger would."""

    __test__ = False  # not a pytest class

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

    def __init__(self, charger_id, connection, **kwargs):
        super().__init__(charger_id, connection, response_timeout=30, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.events: asyncio.Queue = asyncio.Queue()

    def _record(self, action, **payload):
        self.received.append((action, payload))
        self.events.put_nowait((action, payload))

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, charging_profile=None):
        self._record("RemoteStartTransaction", id_tag=id_tag, connector_id=connector_id)
        return call_result.RemoteStartTransaction(status="Accepted")

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
    server, charger_id, password=None, subprotocols=(SUBPROTOCOL,), user=None, charger_class=None
):
    """Connects a TestCharger and runs its receive loop for the block."""
    headers = basic_auth(user or charger_id, password) if password is not None else {}
    ws = await websockets.connect(
        f"{server.ocpp_url}/{charger_id}",
        subprotocols=list(subprotocols),
        additional_headers=headers,
        open_timeout=30,
    )
    assert ws.subprotocol == SUBPROTOCOL, ws.subprotocol
    cp = (charger_class or TestCharger)(charger_id, ws)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await ws.close()
