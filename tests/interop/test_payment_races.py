"""Races on one payment hit by timing (issue 9, point 4), with real parts
only: the Python `ocpp` charger (which, like a real one, refuses a second
remote start while it is charging or waiting for the cable),
localstripe behind the fault proxy, and Joule's own workers.

- The driver presses Pay exactly while the recovery worker takes the card
  entry over (`recovery_after_s` short, every intent read made slow so the
  two actors' reads overlap), a few times on several connectors at once.
- A double-clicked Pay button: two confirm POSTs at once.
- Stripe's webhook arriving while the confirm is in flight.

No crash anywhere, so every driver must get their session, and every
session is captured exactly once, for its energy, at Joule and at
localstripe; no hold is voided while its session charges
(payment_flows.reconcile)."""

import random

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
from test_exactly_once import faults  # noqa: F401  (a fixture: the fault proxy before localstripe)
from test_web_payments import localstripe, tariff_for  # noqa: F401  (localstripe is a fixture)


def race(tmp_path, tmp_path_factory, base, faults, name, settings, make_drivers, chargers=2, settle_s=30):
    """Runs the drivers that `make_drivers(chargers)` returns on `chargers`
    two-connector chargers against one Joule process; asserts that
    everything reconciles and that every driver charged."""
    timeline = Timeline()
    data = tmp_path / "joule"
    data.mkdir()
    joule = Incarnations(joule_behind(faults, base, data, **settings).start(), timeline)
    live = []
    for n in range(chargers):
        cid, password = f"RACE-{n}-{random.getrandbits(24):06X}", f"race-password-{n:02d}-xxxxxxxx"
        joule.current.create_charger(cid, password)
        tariff_for(joule.current, cid)
        live.append(LiveCharger(joule, cid, password, timeline))
    drivers = make_drivers(live)
    session = DriverSession(joule, base, timeline, random.Random(7), start_wait_s=10)
    violations, facts, code = [f"{name} did not finish"], {}, None
    try:
        violations, facts = play(joule, base, live, drivers, session, settle_s)
        violations += [f"{d.label}: confirmed={d.confirmed} {d.confirms}, charged {d.delivered_wh} Wh "
                       f"({d.gave_up or 'charged with ' + str(d.started_tag)})"
                       for d in drivers if d.delivered_wh == 0]
    finally:
        code = joule.current.stop()
        print(f"{name} facts: {facts}")
        if violations or code != 0:
            kept = keep_failure(tmp_path_factory.getbasetemp() / f"{name}-failed", joule, timeline, faults,
                                drivers, facts, violations, localstripe_log=tmp_path / "ls" / "localstripe.log")
            print(f"{name} failed; kept in {kept}")
    assert violations == [], f"{len(violations)} violation(s):\n" + "\n".join(violations)
    assert code == 0, "joule did not shut down cleanly"
    return facts


RECOVERY_AFTER_S = 4


def test_pay_pressed_while_the_recovery_worker_takes_over(tmp_path, tmp_path_factory, localstripe, faults):  # noqa: F811
    """Pay is pressed from just before to just after the moment the
    recovery worker may read the intent (recovery_after_s after the
    payment was created, at its next 1 s pass), by both card paths, two
    drivers after each other on each of four connectors. Every read of an
    intent takes half a second (slow_then_apply), so the worker's read
    and the confirm's read overlap."""
    faults.set_latency(0.02, jitter_s=0.08, seed=9)
    faults.add("GET", r"^/v1/payment_intents/pi_", "slow_then_apply", times=10**6, hang_s=0.5)
    rng = random.Random(4)

    def drivers(chargers):
        out = []
        for i in range(8):
            path = "card_entry" if i % 2 == 0 else "browser"
            # The card-entry path makes the hold authorized in the middle of
            # the confirm (Joule confirms it), the browser path before it.
            lo, hi = (-0.6, 1.0) if path == "card_entry" else (0.0, 1.4)
            out.append(Driver(name=f"r{i}", charger=chargers[(i // 2) % 2], connector=1 + i % 2,
                              confirm_at=RECOVERY_AFTER_S + rng.uniform(lo, hi), path=path,
                              energy_wh=1000 * (i + 1)))
        return out

    race(tmp_path, tmp_path_factory, localstripe, faults, "recovery-race",
         dict(worker_interval_s=1, recovery_after_s=RECOVERY_AFTER_S, stripe_request_timeout_s=2,
              start_timeout_s=20, card_timeout_s=60), drivers)


def test_double_clicked_pay_button(tmp_path, tmp_path_factory, localstripe, faults):  # noqa: F811
    """Two (or three) confirm POSTs at once for one payment, both card
    paths; the gateway is slow enough that they overlap. The recovery
    worker stays out (recovery_after_s 60)."""
    faults.set_latency(0.1, jitter_s=0.2, seed=11)

    def drivers(chargers):
        return [Driver(name=f"c{i}", charger=chargers[i // 2], connector=1 + i % 2, confirm_at=1.0,
                       path="card_entry" if i % 2 == 0 else "browser", clicks=2 if i < 2 else 3,
                       energy_wh=1000 * (i + 2))
                for i in range(4)]

    race(tmp_path, tmp_path_factory, localstripe, faults, "double-click",
         dict(worker_interval_s=1, recovery_after_s=60, stripe_request_timeout_s=5, start_timeout_s=20), drivers)


def test_webhook_arrives_while_pay_is_confirming(tmp_path, tmp_path_factory, localstripe, faults):  # noqa: F811
    """Stripe's payment_intent.amount_capturable_updated reaches Joule
    while the driver's confirm is in flight (a third actor on the
    authorize step); the recovery worker stays out."""
    faults.set_latency(0.1, jitter_s=0.2, seed=13)

    def drivers(chargers):
        return [Driver(name=f"w{i}", charger=chargers[i // 2], connector=1 + i % 2, confirm_at=1.0,
                       path="card_entry" if i % 2 == 0 else "browser", webhook_after=0.15 * i,
                       energy_wh=1000 * (i + 3))
                for i in range(4)]

    race(tmp_path, tmp_path_factory, localstripe, faults, "webhook-race",
         dict(worker_interval_s=1, recovery_after_s=60, stripe_request_timeout_s=5, start_timeout_s=20), drivers)
