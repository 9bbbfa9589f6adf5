import os
import secrets
import uuid

import pytest

import card_scan
from joule_server import STARTED, JouleServer, database_url


@pytest.fixture(scope="session", autouse=True)
def no_card_numbers_anywhere():
    """After all the tests: no Joule process wrote a card number to its
    logs, its files or its PostgreSQL schema (card_scan.py)."""
    yield
    found = [f for server in STARTED for f in card_scan.scan(server)]
    assert found == [], "card numbers found (PCI):\n" + "\n".join(found)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("joule")
    srv = JouleServer(
        data_dir=tmp,
        database_url=database_url(tmp),
        extra_args=["--call-timeout", "3"],
    ).start()
    yield srv
    code = srv.stop()
    assert code == 0, "joule did not shut down cleanly:\n" + "\n".join(srv.output[-40:])


@pytest.fixture
def charger_id() -> str:
    return f"PY-{uuid.uuid4().hex[:10].upper()}"


@pytest.fixture
def password() -> str:
    return secrets.token_urlsafe(18)[:24]


@pytest.fixture
def id_tag() -> str:
    return f"T{secrets.token_hex(6).upper()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of the logs of the Joule processes it
    started, so a failure in CI can be read without running it again."""
    before = item.stash.get(_servers_before, None)
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call" and before is not None:
        for server in STARTED[before:]:
            report.sections.append((f"joule {server.api_host} (last 80 lines)", "\n".join(server.output[-80:])))


_servers_before = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_servers_before] = len(STARTED)
