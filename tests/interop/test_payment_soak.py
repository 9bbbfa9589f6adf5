"""A randomized soak of web payments (issue 9, point 4): drivers on several
Python `ocpp` chargers pay at the same time, take a random while to enter
their card (half of them right around Joule's `recovery_after_s`, so the
pay route's confirm races the recovery worker; some double-click), by the
pay page's card-entry path or Stripe.js's own confirmation; localstripe
answers through a proxy that puts latency on every call (and makes one
call in fifty wait 1-3 s before it is applied, past Joule's 2 s time-out
for some: an outcome Joule does not learn); and the Joule
process is killed with SIGKILL at random moments (not at the JOULE_FAULT
points) and started again on the same database: the chargers reconnect and
resend what was not answered, the drivers' pages try again.

Afterwards, once the workers have settled what was left open: every
payment has reached its end; a payment whose id tag delivered energy (by
the chargers' own meters) is captured exactly once, for that energy's
cost, at Joule and at localstripe; one without energy captured nothing; no
intent is left requires_capture, and every intent localstripe has is a
Joule payment's (payment_flows.reconcile).

Seeded: JOULE_SOAK_SEED=<n> replays the same plan (drivers, card times,
clicks, energy, kill moments, gateway latencies); thread timing still
varies. The seed is printed; a failed run keeps its database, logs,
gateway journal and timeline in a folder under pytest's temporary
directory (printed with the failure)."""

import asyncio
import os
import random
import time

import payment_flows
from gateway_faults import GatewayFaults
from payment_flows import (
    Driver,
    DriverSession,
    Incarnations,
    LiveCharger,
    Timeline,
    joule_behind,
    keep_failure,
    play,
)
from test_web_payments import localstripe, tariff_for  # noqa: F401  (localstripe is a fixture)

RECOVERY_AFTER_S = 5
# The recovery worker takes a card entry over after RECOVERY_AFTER_S; a
# hold whose session has not started is voided after 15 s, a card never
# confirmed abandoned after 25 s (so that what a kill interrupted ends
# within the test); a gateway call's outcome is unknown after 2 s.
SETTINGS = dict(worker_interval_s=1, recovery_after_s=RECOVERY_AFTER_S, stripe_request_timeout_s=2,
                start_timeout_s=15, card_timeout_s=25)
CHARGERS = 3
CONNECTORS = 2  # per charger
DRIVERS = 18
KILLS = (2, 4)  # how many SIGKILLs, at random moments of the drivers' phase (about 25 s)
SETTLE_S = 60  # the workers' time to finish what the kills left open


def plan(rng: random.Random, chargers: list) -> list[Driver]:
    """Who comes to which connector, when they press Pay (half of them
    within about a second of the recovery worker's take-over, the rest
    anywhere up to 1.6 times it), by which card path, with how many clicks,
    and how much energy their car takes."""
    slots = [(c, n) for c in chargers for n in range(1, CONNECTORS + 1)]
    drivers = []
    for i in range(DRIVERS):
        charger, connector = slots[i % len(slots)]
        near = rng.random() < 0.5
        confirm_at = (rng.uniform(RECOVERY_AFTER_S - 1.0, RECOVERY_AFTER_S + 1.5) if near
                      else rng.uniform(0.5, RECOVERY_AFTER_S * 1.6))
        drivers.append(Driver(
            name=f"d{i:02d}", charger=charger, connector=connector, confirm_at=confirm_at,
            path=rng.choice(["card_entry", "card_entry", "browser"]),
            clicks=2 if rng.random() < 0.25 else 1,
            energy_wh=1000 * rng.randint(1, 20),
        ))
    return drivers


def test_payment_soak(tmp_path, tmp_path_factory, localstripe):  # noqa: F811
    seed = int(os.environ.get("JOULE_SOAK_SEED") or random.SystemRandom().randrange(1, 2**31))
    print(f"JOULE_SOAK_SEED={seed}")
    rng = random.Random(seed)
    timeline = Timeline()
    faults = GatewayFaults(upstream=localstripe).start()
    faults.set_latency(0.05, jitter_s=0.45, seed=rng.randrange(2**31), slow_p=0.02, slow_s=(1.0, 3.0))
    data = tmp_path / "joule"
    data.mkdir()
    joule = Incarnations(joule_behind(faults, localstripe, data, **SETTINGS).start(), timeline)
    ids = [f"SOAK-{seed % 100000:05d}-{n}" for n in range(CHARGERS)]
    passwords = {cid: f"soak-password-{n:02d}-xxxxxxxx" for n, cid in enumerate(ids)}
    for cid in ids:
        joule.current.create_charger(cid, passwords[cid])
        tariff_for(joule.current, cid)
    chargers = [LiveCharger(joule, cid, passwords[cid], timeline, connectors=CONNECTORS, connection_timeout_s=10)
                for cid in ids]
    drivers = plan(rng, chargers)
    kill_at = sorted(rng.uniform(2.0, 24.0) for _ in range(rng.randint(*KILLS)))
    downtime = [rng.uniform(0.1, 1.5) for _ in kill_at]
    session = DriverSession(joule, localstripe, timeline, random.Random(rng.randrange(2**31)))

    async def killer(done: asyncio.Event):
        began = time.monotonic()
        for at, down in zip(kill_at, downtime):
            await asyncio.sleep(max(0.0, began + at - time.monotonic()))
            if done.is_set():
                return
            await asyncio.to_thread(joule.kill)
            await asyncio.sleep(down)
            await asyncio.to_thread(joule.restart)

    violations, facts, kept, code = ["the soak did not finish"], {}, None, None
    try:
        violations, facts = play(joule, localstripe, chargers, drivers, session, SETTLE_S, during=killer)
    finally:
        code = joule.current.stop()
        faults.stop()
        facts["seed"] = seed
        print(f"soak facts: {facts}")
        for line in payment_flows.ORPHANS_WITHOUT_MONEY:
            print(f"warning (known gap): {line}")
        if violations or code != 0:
            kept = keep_failure(tmp_path_factory.getbasetemp() / f"soak-failed-seed-{seed}", joule, timeline,
                                faults, drivers, facts, violations, seed,
                                localstripe_log=tmp_path / "ls" / "localstripe.log")
            print(f"soak failed (JOULE_SOAK_SEED={seed}); kept in {kept}")
    assert violations == [], (f"JOULE_SOAK_SEED={seed}: {len(violations)} violation(s) "
                              f"(kept in {kept}):\n" + "\n".join(violations))
    assert code == 0, "joule did not shut down cleanly"
