"""The shape every crash scenario shares (docs/payments.md, "Exactly once,
proven"): a test build of Joule that SIGKILLs itself at a fault point, the
proof that it died there, and Joule restarted on the same database and
stopped cleanly when the scenario's checks are done. Used by
test_exactly_once.py and test_account_payments.py."""

from __future__ import annotations

import contextlib

from joule_server import JouleServer, database_url
from payment_flows import restart


def crashing(tmp_path, point: str, env: dict) -> JouleServer:
    """A test build of Joule (--features joule/fault-injection) with `env`
    that kills itself once it reaches `point`."""
    server = JouleServer(data_dir=tmp_path, database_url=database_url(tmp_path),
                         env={**env, "JOULE_FAULT": f"crash_after:{point}"}).start()
    server.assert_crash_point_armed()
    return server


def crashing_after(before: JouleServer, point: str, env: dict) -> JouleServer:
    """`before`'s database, restarted as a test build that kills itself
    once it reaches `point`: for a crash that needs a state set up first."""
    server = restart(before, {**env, "JOULE_FAULT": f"crash_after:{point}"})
    server.assert_crash_point_armed()
    return server


def died_at(server: JouleServer, point: str) -> None:
    assert server.process.wait(30) == -9, "killed by SIGKILL"
    server.read_to_the_end()
    assert any(f"JOULE_FAULT: crashing after {point}" in line for line in server.output), server.output[-20:]


@contextlib.contextmanager
def restarted(first: JouleServer, env: dict):
    """Joule on `first`'s database again (no crash point), for the checks
    after a crash; it must stop cleanly when they are done."""
    second = restart(first, env)
    try:
        yield second
    finally:
        assert second.stop() == 0


async def tolerate_crash(coro):
    """The server may die while the charger still talks to it."""
    try:
        return await coro
    except Exception:
        return None
