"""Web payments run by many actors at once (issue 9, point 4): drivers on
the pay routes, chargers that survive Joule's restarts, the Joule process
killed and restarted on the same database, and the reconciliation of
every payment against what really happened (the chargers' own meters) and
what the gateway holds (localstripe, read directly). Used by
test_payment_soak.py and test_payment_races.py; the single-payment helpers
stay in test_web_payments.py.

Every actor reads the Joule process of the moment from `Incarnations`
(each restart listens on new ports), and writes what it did to a shared
`Timeline`, which a failed test keeps with the databases and logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
import websockets
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

from charger import SUBPROTOCOL, Connectors, TestCharger, basic_auth, now_iso
from joule_server import JouleServer, database_url
from test_web_payments import SECRET_KEY, pay_url, signed, stripe_env

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}
CARD = {"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12",
        "card[exp_year]": "2030", "card[cvc]": "123"}
PRICE_MINOR_PER_KWH = 30  # tariff_for: 0.30 EUR/kWh, no VAT, 30.00 EUR hold
HOLD_MINOR = 3000



# Intents Joule never learnt of that hold no money (see reconcile).
ORPHANS_WITHOUT_MONEY: list = []

def cost_minor(energy_wh: int) -> int:
    """What a session of `energy_wh` owes under tariff_for, at most the hold."""
    return min(round(energy_wh * PRICE_MINOR_PER_KWH / 1000), HOLD_MINOR)


# --- localstripe, read directly --------------------------------------------


def stripe_intents(base):
    """Every PaymentIntent localstripe has (all pages)."""
    out, after = [], None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        r = requests.get(f"{base}/v1/payment_intents", headers=AUTH, params=params, timeout=10)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["data"]
        if not page.get("has_more") or not page["data"]:
            return out
        after = page["data"][-1]["id"]


def money_at_stripe(base, intent):
    """(captured, refunded) as localstripe holds them. localstripe records
    the release of an uncaptured rest as a refund of the charge; Joule's own
    refunds carry its idempotency key as metadata, which tells them apart."""
    pi = requests.get(f"{base}/v1/payment_intents/{intent}", headers=AUTH, timeout=10).json()
    charges = pi.get("charges", {}).get("data", [])
    if not charges:
        return 0, 0
    assert len(charges) == 1, charges
    r = requests.get(f"{base}/v1/refunds", headers=AUTH, params={"payment_intent": intent, "limit": 100}, timeout=10)
    assert r.status_code == 200, r.text
    ours = [x["amount"] for x in r.json()["data"] if "joule_idempotency_key" in (x.get("metadata") or {})]
    released = sum(x["amount"] for x in r.json()["data"]) - sum(ours)
    return charges[0]["amount"] - released, sum(ours)


NO_RATE_LIMITS = {  # every driver of these tests comes from 127.0.0.1
    "JOULE_API__PAY_RATE_LIMIT__PER_IP__PER_MINUTE": "0",
    "JOULE_API__PAY_RATE_LIMIT__PER_CONNECTOR__PER_MINUTE": "0",
}


def joule_behind(faults, base: str, data_dir: Path, **payments) -> JouleServer:
    """A Joule process (not started) whose gateway is localstripe behind
    the fault proxy, without pay rate limits, with these `payments.*`
    settings (given as --set flags, which win over stripe_env's)."""
    args = ["--call-timeout", "5"]
    for key, value in payments.items():
        args += ["--set", f"payments.{key}={value}"]
    env = {**stripe_env(base), "JOULE_PAYMENTS__STRIPE_BASE_URL": faults.url, **NO_RATE_LIMITS}
    return JouleServer(data_dir=data_dir, database_url=database_url(data_dir), env=env, extra_args=args)


def restart(first: JouleServer, env: dict, extra_args: list | None = None) -> JouleServer:
    """The same database, admin key and schema (new ports); a crash point
    in the first process's environment is gone unless `env` has it."""
    return JouleServer(data_dir=first.data_dir, database_url=first.database_url, admin_key=first.admin_key,
                       pg_schema=first.pg_schema, env=env,
                       extra_args=list(first.extra_args if extra_args is None else extra_args)).start()


# --- who did what, when ------------------------------------------------------


class Timeline:
    """What every actor did, with the time since the test began."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, who: str, what: str) -> None:
        with self.lock:
            self.lines.append(f"{self.now():8.3f} {who:<22} {what}")

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.lines) + "\n"


class Incarnations:
    """The Joule process of a test that kills it (SIGKILL, at moments the
    test picks, not at prepared crash points) and starts it again on the
    same database. Clients always use `current`; while it is down, their
    requests fail as a real client's would, and they try again."""

    def __init__(self, first: JouleServer, timeline: Timeline):
        self.all = [first]
        self.timeline = timeline
        self.kills = 0
        # the last reconciliation's payments, sessions and intents (kept on failure)
        self.snapshot: dict = {}

    @property
    def current(self) -> JouleServer:
        return self.all[-1]

    def kill(self) -> None:
        self.kills += 1
        self.timeline.add("joule", f"SIGKILL #{self.kills} (pid {self.current.process.pid})")
        self.current.kill()

    def restart(self) -> JouleServer:
        server = restart(self.current, self.current.env)
        self.all.append(server)
        self.timeline.add("joule", f"restarted (pid {server.process.pid}, api {server.api_host})")
        return server


# --- the charger -------------------------------------------------------------


class LiveCharger:
    """A charger as deployed: it reconnects whenever its socket drops (boot,
    then the status of each connector), resends its transaction messages
    until they are answered, and keeps its connectors' state across
    connections (charger.Connectors: it refuses a remote start for a
    connector that is charging or already reserved). Remote starts are
    answered by TestCharger; `charge` is what happens when a car is
    plugged in after one."""

    def __init__(self, joule: Incarnations, charger_id: str, password: str, timeline: Timeline,
                 connectors: int = 2, connection_timeout_s: float = 60.0):
        self.joule = joule
        self.id = charger_id
        self.password = password
        self.timeline = timeline
        self.connectors = Connectors(count=connectors)
        self.connection_timeout_s = connection_timeout_s
        self.received: list = []  # every CSMS call, across connections
        self.events: asyncio.Queue = asyncio.Queue()
        self.cp: TestCharger | None = None
        self.reader: asyncio.Task | None = None
        self.connections = 0
        self.meter = {c: 100_000 for c in range(1, connectors + 1)}
        self.problems: list[str] = []  # what the charger could not do (a CALLERROR, a lost message)

    def log(self, what: str) -> None:
        self.timeline.add(self.id, what)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            server = self.joule.current
            try:
                ws = await websockets.connect(
                    f"{server.ocpp_url}/{self.id}", subprotocols=[SUBPROTOCOL],
                    additional_headers=basic_auth(self.id, self.password), open_timeout=5)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.2)
                continue
            cp = TestCharger(self.id, ws, connectors=self.connectors)
            cp.connection_timeout_s = self.connection_timeout_s
            cp.received = self.received
            cp.events = self.events
            reader = asyncio.create_task(cp.start())
            try:
                boot = await self._call(cp, reader, call.BootNotification(
                    charge_point_vendor="PyVendor", charge_point_model="PyModel"))
                if boot is None or boot.status != "Accepted":
                    continue
                for c in range(1, self.connectors.count + 1):
                    status = "Charging" if c in self.connectors.charging else "Available"
                    await self._call(cp, reader, call.StatusNotification(
                        connector_id=c, error_code="NoError", status=status, timestamp=now_iso()))
                if reader.done():
                    continue
                self.connections += 1
                self.cp, self.reader = cp, reader
                self.log(f"connected #{self.connections} to {server.api_host}")
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not stop.is_set():
                    self.log("connection lost")
            except Exception as e:  # noqa: BLE001 - the socket dropped mid-boot
                self.log(f"connection failed: {e!r}")
            finally:
                self.cp = self.reader = None
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader
                with contextlib.suppress(BaseException):
                    await ws.close()
            await asyncio.sleep(0.1)

    @staticmethod
    async def _call(cp, reader, payload, timeout=20.0):
        """One attempt on one connection: the answer, or None when the
        connection dropped or nothing came back in time. A CALLERROR is
        raised."""
        task = asyncio.create_task(cp.call(payload, suppress=False))
        done, _ = await asyncio.wait({task, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            return None
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, OCPPError):
            raise exc
        return None

    async def online(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.cp is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def send(self, payload, deadline_s: float = 60.0, attempts_on_error: int = 3):
        """A transaction message: sent again (the same message) after every
        lost connection until it is answered, as a charger's queue does.
        None when it could not be delivered in time."""
        deadline = time.monotonic() + deadline_s
        errors = 0
        while time.monotonic() < deadline:
            if not await self.online(deadline - time.monotonic()):
                break
            cp, reader = self.cp, self.reader
            try:
                result = await self._call(cp, reader, payload)
            except OCPPError as e:
                errors += 1
                self.log(f"{type(payload).__name__} answered with CALLERROR {e!r}")
                if errors >= attempts_on_error:
                    self.problems.append(f"{type(payload).__name__}: CALLERROR {e!r}")
                    return None
                await asyncio.sleep(0.5)
                continue
            if result is not None:
                return result
            while self.cp is cp and time.monotonic() < deadline:  # wait for the next connection
                await asyncio.sleep(0.05)
        self.problems.append(f"{type(payload).__name__} not delivered within {deadline_s}s")
        return None

    async def status(self, connector: int, status: str) -> None:
        """Not queued (a charger sends its current status when it reconnects)."""
        cp, reader = self.cp, self.reader
        if cp is not None:
            with contextlib.suppress(OCPPError):
                await self._call(cp, reader, call.StatusNotification(
                    connector_id=connector, error_code="NoError", status=status, timestamp=now_iso()), timeout=5)

    def reserved(self, connector: int) -> str | None:
        return self.connectors.reserved_for(connector)

    async def charge(self, connector: int, id_tag: str, energy_wh: int, rng: random.Random) -> int:
        """The car is plugged in after an accepted remote start: start,
        meter values, stop, unplug. Returns the energy delivered (0 when
        Joule refused the start: the charger stops at once)."""
        await asyncio.sleep(rng.uniform(0.1, 1.0))
        await self.status(connector, "Preparing")
        meter_start = self.meter[connector]
        start = await self.send(call.StartTransaction(
            connector_id=connector, id_tag=id_tag, meter_start=meter_start, timestamp=now_iso()))
        if start is None:
            self.log(f"c{connector} {id_tag}: StartTransaction lost; connector given up")
            self.connectors.charging.pop(connector, None)
            return 0
        tx, accepted = start.transaction_id, start.id_tag_info["status"]
        self.log(f"c{connector} {id_tag}: StartTransaction tx={tx} {accepted}")
        energy = energy_wh if accepted == "Accepted" else 0
        if energy:
            await self.status(connector, "Charging")
            steps = rng.randint(1, 3)
            for k in range(1, steps + 1):
                await asyncio.sleep(rng.uniform(0.1, 0.6))
                await self.send(call.MeterValues(connector_id=connector, transaction_id=tx, meter_value=[{
                    "timestamp": now_iso(), "sampledValue": [{
                        "value": str(meter_start + energy * k // (steps + 1)),
                        "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        stop = call.StopTransaction(transaction_id=tx, meter_stop=meter_start + energy, timestamp=now_iso(),
                                    id_tag=id_tag, reason="Local" if energy else "DeAuthorized")
        if await self.send(stop) is None:
            self.log(f"c{connector} {id_tag}: StopTransaction lost")
        self.meter[connector] = meter_start + energy
        self.log(f"c{connector} {id_tag}: stopped tx={tx} after {energy} Wh")
        await self.status(connector, "Available")
        return energy

    def remote_starts(self) -> list[dict]:
        return [p for a, p in list(self.received) if a == "RemoteStartTransaction"]


# --- the driver --------------------------------------------------------------


@dataclass
class Driver:
    """One driver's attempt to pay at a connector. `confirm_at`: seconds
    after they scanned the QR code (asked for the payment) at which they
    press Pay; the card goes to the gateway just before. `path`:
    "card_entry" (the pay page's own path: the card is saved at the
    gateway and Joule confirms the hold) or "browser" (Stripe.js confirms
    the hold itself). `clicks`: how many concurrent confirm POSTs a
    double-click sends."""

    name: str
    charger: LiveCharger
    connector: int
    confirm_at: float
    path: str = "card_entry"
    clicks: int = 1
    webhook_after: float | None = None  # Stripe's amount_capturable_updated, this long after Pay
    energy_wh: int = 10_000
    intents: list = field(default_factory=list)  # every intent a create returned to this driver
    token: str | None = None
    confirms: list = field(default_factory=list)  # (status code or error, state or code) of every confirm POST
    confirmed: bool = False  # a confirm answered 200
    started_tag: str | None = None  # the id tag the charger started with for this driver
    delivered_wh: int = 0
    gave_up: str | None = None

    def __post_init__(self):
        self.label = f"{self.name}@{self.charger.id}/{self.connector}"


class DriverSession:
    """Drives one Driver against the current Joule process: requests that
    fail because Joule is down (or answers 5xx) are made again, as the pay
    page's reload would; every answer goes to the timeline."""

    def __init__(self, joule: Incarnations, base: str, timeline: Timeline, rng: random.Random,
                 patience_s: float = 40.0, start_wait_s: float = 15.0):
        self.joule = joule
        self.base = base  # localstripe, where the browser sends the card
        self.timeline = timeline
        self.rng = rng
        self.patience_s = patience_s
        self.start_wait_s = start_wait_s

    def _post(self, path: str, body=None, timeout: float = 30):
        server = self.joule.current
        return requests.post(pay_url(server, path), json=body, timeout=timeout)

    async def create(self, d: Driver) -> dict | None:
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline:
            try:
                r = await asyncio.to_thread(self._post, f"/pay/{d.charger.id}/{d.connector}/payments", {"language": "en"})
            except requests.RequestException as e:
                self.timeline.add(d.label, f"create: {type(e).__name__}")
                await asyncio.sleep(0.3)
                continue
            if r.status_code == 201:
                created = r.json()
                d.intents.append(created["client_secret"].split("_secret_")[0])
                self.timeline.add(d.label, f"created {d.intents[-1]} token {created['token'][:8]}")
                return created
            self.timeline.add(d.label, f"create: {r.status_code} {r.text[:120]}")
            await asyncio.sleep(0.3 if r.status_code in (409, 429) or r.status_code >= 500 else 1.0)
        d.gave_up = "could not create a payment"
        return None

    def _enter_card(self, d: Driver, created: dict) -> dict | None:
        """What Stripe.js does with the card (at localstripe, never Joule):
        the confirm body for Joule."""
        pm = requests.post(f"{self.base}/v1/payment_methods", headers=AUTH, data=CARD, timeout=10)
        assert pm.status_code == 200, pm.text
        if d.path == "card_entry":
            secret = created["card_entry_client_secret"]
            setup = secret.split("_secret_")[0]
            r = requests.post(f"{self.base}/v1/setup_intents/{setup}/confirm", headers=AUTH,
                              data={"client_secret": secret, "payment_method": pm.json()["id"]}, timeout=10)
            assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
            return {"card_entry": setup}
        intent = created["client_secret"].split("_secret_")[0]
        r = requests.post(f"{self.base}/v1/payment_intents/{intent}", headers=AUTH,
                          data={"payment_method": pm.json()["id"]}, timeout=10)
        assert r.status_code == 200, r.text
        r = requests.post(f"{self.base}/v1/payment_intents/{intent}/confirm", headers=AUTH, timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "requires_capture", r.text
        return None

    async def _confirm_once(self, d: Driver, body) -> tuple:
        try:
            r = await asyncio.to_thread(self._post, f"/pay/payments/{d.token}/confirm", body, 60)
        except requests.RequestException as e:
            return (type(e).__name__, None)
        try:
            answer = r.json()
        except ValueError:
            answer = {}
        return (r.status_code, answer.get("state") or answer.get("code"))

    async def webhook(self, d: Driver) -> None:
        """What Stripe sends when the hold is confirmed (a third actor
        beside the confirm and the recovery worker)."""
        await asyncio.sleep(d.webhook_after)
        body = json.dumps({
            "id": f"evt_{d.name}_{random.getrandbits(32):08x}", "type": "payment_intent.amount_capturable_updated",
            "created": int(time.time()),
            "data": {"object": {"id": d.intents[-1], "status": "requires_capture", "amount": HOLD_MINOR,
                                "amount_capturable": HOLD_MINOR, "currency": "eur"}},
        }).encode()
        try:
            r = await asyncio.to_thread(lambda: requests.post(
                pay_url(self.joule.current, "/webhooks/stripe"), data=body, headers=signed(body), timeout=60))
            self.timeline.add(d.label, f"webhook: {r.status_code}")
        except requests.RequestException as e:
            self.timeline.add(d.label, f"webhook: {type(e).__name__}")

    async def confirm(self, d: Driver, body) -> None:
        """Pay pressed (`clicks` times at once); a failure for want of Joule
        (down, 5xx, rate limit) is pressed again, an answer is final."""
        if d.webhook_after is not None:
            hook = asyncio.create_task(self.webhook(d))
            try:
                return await self._confirm(d, body)
            finally:
                await hook
        return await self._confirm(d, body)

    async def _confirm(self, d: Driver, body) -> None:
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline:
            results = await asyncio.gather(*[self._confirm_once(d, body) for _ in range(d.clicks)])
            d.confirms += results
            self.timeline.add(d.label, f"confirm x{d.clicks}: {results}")
            if any(code == 200 for code, _ in results):
                d.confirmed = True
                return
            # 409 payment_busy: another actor holds the payment and nothing
            # was done; the pay page sends the same confirm again (pay.js).
            if any(isinstance(code, int) and code < 500 and code != 429 and what != "payment_busy"
                   for code, what in results):
                return  # declined, not confirmable, refused: the page shows it
            # Jittered like pay.js, so a retry does not keep meeting the
            # same worker pass.
            await asyncio.sleep(random.uniform(0.5, 1.5) if any(what == "payment_busy" for _, what in results)
                                else 0.3)

    async def run(self, d: Driver) -> None:
        """The whole visit: pay, then (if the charger accepts a remote start
        on the connector) plug in and charge."""
        t0 = time.monotonic()
        created = await self.create(d)
        if created is None:
            self.timeline.add(d.label, "gave up: no payment")
            return
        d.token = created["token"]
        lead = 0.3
        await asyncio.sleep(max(0.0, t0 + d.confirm_at - lead - time.monotonic()))
        body = await asyncio.to_thread(self._enter_card, d, created)
        await asyncio.sleep(max(0.0, t0 + d.confirm_at - time.monotonic()))
        self.timeline.add(d.label, f"pay pressed at +{time.monotonic() - t0:.2f}s ({d.path})")
        await self.confirm(d, body)
        # Whatever the page said, the car stands at the connector for a
        # while: a start may still come (recovery).
        deadline = time.monotonic() + self.start_wait_s
        while time.monotonic() < deadline:
            tag = d.charger.reserved(d.connector)
            if tag is not None:
                d.started_tag = tag
                self.timeline.add(d.label, f"plugs in: the charger accepted a remote start for {tag}")
                d.delivered_wh = await d.charger.charge(d.connector, tag, d.energy_wh, self.rng)
                return
            await asyncio.sleep(0.05)
        d.gave_up = "no remote start"
        self.timeline.add(d.label, "left: no remote start came")


async def run_connector(drivers: list[Driver], session: DriverSession) -> None:
    """The drivers of one connector, one after the other."""
    for d in drivers:
        await session.run(d)
        await asyncio.sleep(0.2)


def play(joule: Incarnations, base: str, chargers: list[LiveCharger], drivers: list[Driver],
         session: DriverSession, settle_s: float, during=None, limit_s: float = 150) -> tuple[list[str], dict]:
    """Runs the chargers and every connector's drivers (and `during`, e.g. a
    killer, a coroutine function given an Event set when the drivers are
    done), then reconciles until settled; returns (violations, facts)."""
    timeline = joule.timeline

    async def scenario(stop: asyncio.Event):
        runners = [asyncio.create_task(c.run(stop)) for c in chargers]
        for c in chargers:
            assert await c.online(30), f"{c.id} did not connect"
        done = asyncio.Event()
        side = asyncio.create_task(during(done)) if during else None
        by_connector: dict = {}
        for d in drivers:
            by_connector.setdefault((d.charger.id, d.connector), []).append(d)
        try:
            await asyncio.wait_for(asyncio.gather(*[run_connector(ds, session) for ds in by_connector.values()]),
                                   limit_s)
        finally:
            done.set()
            if side:
                await side  # a restart under way finishes
        timeline.add("test", f"drivers done; settling (kills: {joule.kills})")
        # The chargers stay connected while the workers settle: a late
        # remote start still reaches one (and lapses: no car comes).
        violations, facts = await asyncio.to_thread(settle, joule.current, base, chargers, settle_s, joule.snapshot)
        violations += drivers_told_wrong(drivers, joule.snapshot.get("payments", []))
        timeline.add("test", f"settled: {len(violations)} violation(s)")
        stop.set()
        await asyncio.gather(*runners, return_exceptions=True)
        return violations, facts

    loop = asyncio.new_event_loop()
    # Requests run in threads: enough of them that a double-click is two
    # requests at once.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=64))
    try:
        violations, facts = loop.run_until_complete(scenario(asyncio.Event()))
    finally:
        loop.close()
    facts["kills"] = joule.kills
    facts["drivers_confirmed"] = sum(1 for d in drivers if d.confirmed)
    facts["drivers_charged"] = sum(1 for d in drivers if d.delivered_wh > 0)
    facts["charger_problems"] = [p for c in chargers for p in c.problems]
    return violations, facts


# --- the reconciliation ------------------------------------------------------


def joule_payments(server: JouleServer, charger_ids) -> list[dict]:
    """Every payment at these chargers, with its steps."""
    out = []
    for cid in charger_ids:
        r = server.api("GET", f"/payments?charger_id={cid}&limit=500")
        assert r.status_code == 200, r.text
        for item in r.json()["items"]:
            d = server.api("GET", f"/payments/{item['id']}")
            assert d.status_code == 200, d.text
            out.append(d.json())
    return out


def joule_sessions(server: JouleServer, charger_ids) -> list[dict]:
    out = []
    for cid in charger_ids:
        r = server.api("GET", f"/sessions?charger_id={cid}&limit=500")
        assert r.status_code == 200, r.text
        out += r.json()["items"]
    return out


def reconcile(server: JouleServer, base: str, chargers: list[LiveCharger],
              snapshot: dict | None = None) -> tuple[list[str], dict]:
    """Every payment against the chargers' meters and localstripe. Returns
    (violations, facts). A payment whose id tag delivered energy is captured
    exactly once, for that energy's cost, at Joule and at localstripe; one
    without energy captured nothing; every payment has reached its end
    (captured, voided or failed; no step left open); every intent
    localstripe has belongs to a Joule payment and is succeeded or
    canceled (none requires_capture: no hold left open). `snapshot` gets
    what was read."""
    ids = [c.id for c in chargers]
    payments = joule_payments(server, ids)
    sessions = joule_sessions(server, ids)
    intents = {pi["id"]: pi for pi in stripe_intents(base)}
    if snapshot is not None:
        snapshot.update(payments=payments, sessions=sessions, intents=list(intents.values()),
                        transactions={c.id: c.connectors.transactions for c in chargers},
                        remote_starts={c.id: c.remote_starts() for c in chargers})
    transactions = [t for c in chargers for t in c.connectors.transactions]
    delivered: dict[str, int] = {}
    for t in transactions:
        if t["meter_stop"] is not None:
            delivered[t["id_tag"]] = delivered.get(t["id_tag"], 0) + t["meter_stop"] - t["meter_start"]
    violations = []
    by_ref = {p["gateway_payment_ref"]: p for p in payments if p["gateway_payment_ref"]}
    by_id = {p["id"]: p for p in payments}
    tags = {p["id_tag"] for p in payments}
    for p in payments:
        who = f"payment {p['id']} ({p['charger_id']}/{p['connector_id']} {p['id_tag']} {p['gateway_payment_ref']})"
        steps = [(s["kind"], s["status"], s["amount_minor"]) for s in p["steps"]]
        open_steps = [s for s in p["steps"] if s["status"] == "intended"]
        if open_steps:
            violations.append(f"{who}: step(s) left open {steps}")
        if p["state"] not in ("captured", "voided", "failed"):
            violations.append(f"{who}: not settled, state {p['state']} {steps}")
        energy = delivered.get(p["id_tag"], 0)
        captures = [s["amount_minor"] for s in p["steps"] if s["kind"] == "capture" and s["status"] == "succeeded"]
        if energy > 0:
            owed = cost_minor(energy)
            if p["state"] != "captured" or captures != [owed] or p["captured_minor"] != owed:
                violations.append(f"{who}: {energy} Wh delivered, owes {owed}, but state {p['state']}, "
                                  f"captured {p['captured_minor']}, steps {steps}")
        elif captures:
            violations.append(f"{who}: captured {captures} without energy delivered, steps {steps}")
        pi = intents.get(p["gateway_payment_ref"]) if p["gateway_payment_ref"] else None
        if p["gateway_payment_ref"] and pi is None:
            violations.append(f"{who}: its intent is unknown to localstripe")
        if pi is not None:
            want = {"captured": ("succeeded",), "voided": ("canceled",), "failed": ("canceled",)}.get(p["state"])
            if want and pi["status"] not in want:
                violations.append(f"{who}: Joule says {p['state']}, localstripe says {pi['status']}")
            if pi["status"] == "succeeded":
                at_stripe, _ = money_at_stripe(base, pi["id"])
                if at_stripe != p["captured_minor"]:
                    violations.append(f"{who}: captured {p['captured_minor']} at Joule, {at_stripe} at localstripe")
    for pi in intents.values():
        if pi["id"] not in by_ref:
            no_money = pi["status"] in ("requires_payment_method", "canceled")
            money = ("holds no money: no card was ever confirmed on it" if no_money else f"status {pi['status']}")
            named = by_id.get((pi.get("metadata") or {}).get("joule_payment"))
            whose = (f"the payment its metadata names is {named['state']} with gateway reference "
                     f"{named['gateway_payment_ref']}" if named else f"metadata {pi.get('metadata')}")
            line = (f"orphan intent {pi['id']} ({money}; amount {pi['amount']}): no Joule payment has it "
                    f"as its gateway reference; {whose}")
            if no_money:
                # create_hold's answer was lost (a kill, or a call slower than
                # Joule's time-out): Joule never learnt the intent's id, so it
                # never gave anyone its client secret and no card can ever be
                # confirmed on it. Known gap (docs/payments.md): reported,
                # not failed.
                ORPHANS_WITHOUT_MONEY.append(line)
            else:
                violations.append(line)
        elif pi["status"] == "requires_capture":
            violations.append(f"open hold: intent {pi['id']} still requires_capture")
    # A start refused because the payment's own session holds the connector
    # (a duplicate) is never a reason to release that payment's hold.
    by_tag = {p["id_tag"]: p for p in payments}
    for c in chargers:
        for st in c.remote_starts():
            p = by_tag.get(st["id_tag"])
            if st["status"] != "Accepted" and st.get("occupant") == st["id_tag"] and p is not None \
                    and any(x["kind"] == "void" and x["status"] == "succeeded" for x in p["steps"]):
                violations.append(f"payment {p['id']} ({st['id_tag']}): hold voided although the remote start "
                                  f"{c.id} refused was a duplicate for its own session, which held connector "
                                  f"{st['connector_id']}")
    for tag, energy in delivered.items():
        if energy > 0 and tag not in tags:
            violations.append(f"{energy} Wh delivered on id tag {tag}, which no payment has")
    for t in transactions:
        if t["meter_stop"] is None:
            violations.append(f"transaction never stopped at the charger: {t}")
    joule_energy = {(s["charger_id"], s["transaction_id"]): s for s in sessions}
    for c in chargers:
        for t in c.connectors.transactions:
            s = joule_energy.get((c.id, t["transaction_id"]))
            if t["meter_stop"] is not None and t["transaction_id"] is not None:
                if s is None or s["state"] != "ended" or s["energy_wh"] != t["meter_stop"] - t["meter_start"]:
                    violations.append(f"{c.id} tx {t['transaction_id']} ({t['id_tag']}): charger delivered "
                                      f"{t['meter_stop'] - t['meter_start']} Wh, Joule's session: {s}")
    starts = [(c.id, s) for c in chargers for s in c.remote_starts()]
    facts = {
        "all_final": all(p["state"] in ("captured", "voided", "failed")
                         and all(st["status"] != "intended" for st in p["steps"]) for p in payments),
        "payments": len(payments),
        "states": {st: sum(1 for p in payments if p["state"] == st) for st in sorted({p["state"] for p in payments})},
        "captured_minor": sum(p["captured_minor"] for p in payments),
        "intents": {st: sum(1 for pi in intents.values() if pi["status"] == st)
                    for st in sorted({pi["status"] for pi in intents.values()})},
        "sessions": len(sessions),
        "energy_wh": sum(delivered.values()),
        "remote_starts": len(starts),
        "remote_starts_rejected": [(cid, s["id_tag"]) for cid, s in starts if s["status"] != "Accepted"],
        "tags_started_twice": sorted({s["id_tag"] for _, s in starts
                                      if sum(1 for _, o in starts if o["id_tag"] == s["id_tag"]) > 1}),
        "voids_after_energy": [p["id"] for p in payments
                               if delivered.get(p["id_tag"], 0) > 0 and p["state"] == "voided"],
    }
    return violations, facts


def drivers_told_wrong(drivers: list[Driver], payments: list[dict]) -> list[str]:
    """A driver whose Pay got 200 (the page then shows the status page,
    "starting") had their card taken: their payment may end captured or
    voided (the session did not start), never failed (no hold was ever
    made, e.g. the card entry was dropped and the payment abandoned)."""
    by_ref = {p["gateway_payment_ref"]: p for p in payments if p["gateway_payment_ref"]}
    out = []
    for d in drivers:
        p = by_ref.get(d.intents[-1]) if d.intents else None
        if d.confirmed and p is not None and p["state"] == "failed":
            steps = [(s["kind"], s["status"], s.get("failure_code")) for s in p["steps"]]
            out.append(f"{d.label}: Pay answered {d.confirms} ({d.path}), but payment {p['id']} failed {steps}")
    return out


def settle(server: JouleServer, base: str, chargers: list[LiveCharger], timeout: float,
           snapshot: dict | None = None) -> tuple[list[str], dict]:
    """Reconciles until nothing is wrong, or until what is wrong can no
    longer change (every payment final, the same violations for 5 s), or
    `timeout` passes (the workers finish what is left open on their own
    clock); the last result."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        violations, facts = reconcile(server, base, chargers, snapshot)
        if not violations or time.monotonic() > deadline:
            return violations, facts
        if violations != last:
            last, since = violations, time.monotonic()
        elif facts["all_final"] and time.monotonic() - since >= 5:
            return violations, facts
        time.sleep(1.0)


def keep_failure(dest: Path, joule: Incarnations, timeline: Timeline, faults=None, drivers=(), facts=None,
                 violations=(), seed=None, localstripe_log: Path | None = None) -> Path:
    """Copies what a failed run leaves behind (the SQLite database files,
    every Joule process's output, the last reconciliation's view of
    payments, sessions, intents and the chargers' transactions, the gateway
    proxy's journal, the timeline of drivers, chargers and kills, the
    drivers' answers) to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    first = joule.all[0]
    data = Path(first.data_dir)
    for f in data.glob("joule.db*"):
        shutil.copy2(f, dest / f.name)
    for n, server in enumerate(joule.all):
        (dest / f"joule-{n}.log").write_text("\n".join(server.output) + "\n")
    (dest / "timeline.txt").write_text(timeline.text())
    # what Joule's API, localstripe and the chargers said at the end (also
    # for PostgreSQL, whose database is not a file here)
    (dest / "state.json").write_text(json.dumps(joule.snapshot, indent=1, default=str))
    if faults is not None:
        faults.write_journal(dest / "gateway.jsonl")
    if localstripe_log is not None and localstripe_log.exists():
        # The gateway's own log may hold the test card: in a folder named
        # "ls", which the PCI scan knows as the gateway's (card_scan.py).
        (dest / "ls").mkdir(exist_ok=True)
        shutil.copy2(localstripe_log, dest / "ls" / "localstripe.log")
    (dest / "drivers.json").write_text(json.dumps([{
        "driver": d.label, "path": d.path, "confirm_at": round(d.confirm_at, 3), "clicks": d.clicks,
        "intents": d.intents, "confirms": d.confirms, "started_tag": d.started_tag,
        "delivered_wh": d.delivered_wh, "gave_up": d.gave_up} for d in drivers], indent=1, default=str))
    (dest / "result.txt").write_text(
        f"seed: {seed}\n\nviolations:\n" + "\n".join(violations) + f"\n\nfacts:\n{json.dumps(facts, indent=1)}\n")
    return dest
