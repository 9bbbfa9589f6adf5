"""Starts the real `joule` binary for a test: temporary database, port 0 for
both listeners, a known admin key. The ready banner on stdout tells us the
ports; nothing here waits on timers."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import requests

READY_OCPP = re.compile(r"OCPP: ws://([^/\s]+)/ocpp/")
READY_API = re.compile(r"API: +http://([^/\s]+)/api/v1")


def database_url(tmp_path) -> str:
    """SQLite by default; PostgreSQL (a fresh schema per server, see
    JouleServer.pg_schema) when JOULE_INTEROP_DATABASE=postgres."""
    if os.environ.get("JOULE_INTEROP_DATABASE") == "postgres":
        return os.environ["JOULE_TEST_POSTGRES_URL"]
    return f"sqlite://{tmp_path}/joule.db"


def joule_binary() -> str:
    explicit = os.environ.get("JOULE_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", str(Path(__file__).resolve().parents[2] / "target"))
    return str(Path(target) / "debug" / "joule")


# Every server started in this test run, for the card-number scan at the end
# (conftest.py, card_scan.py).
STARTED: list["JouleServer"] = []


@dataclass
class JouleServer:
    data_dir: Path
    database_url: str
    extra_args: list[str] = field(default_factory=list)
    pg_schema: str = field(default_factory=lambda: f"itest_{secrets.token_hex(6)}")
    admin_key: str = field(default_factory=lambda: f"jk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}")
    process: subprocess.Popen | None = None
    ocpp_host: str = ""
    api_host: str = ""
    output: list[str] = field(default_factory=list)
    env: dict = field(default_factory=dict)
    pump_thread: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> "JouleServer":
        env = dict(os.environ)
        env["JOULE_ADMIN_KEY"] = self.admin_key
        env.setdefault("RUST_LOG", "info")
        env.update(self.env)
        if self.database_url.startswith("postgres"):
            env["JOULE_DATABASE__POSTGRES_SCHEMA"] = self.pg_schema
        args = [
            joule_binary(),
            "serve",
            "--database",
            self.database_url,
            "--ocpp-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            *self.extra_args,
        ]
        STARTED.append(self)
        self.process = subprocess.Popen(
            args,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                if m := READY_OCPP.search(line):
                    self.ocpp_host = m.group(1)
                if m := READY_API.search(line):
                    self.api_host = m.group(1)
                if self.ocpp_host and self.api_host:
                    ready.set()
            ready.set()

        self.pump_thread = threading.Thread(target=pump, daemon=True)
        self.pump_thread.start()
        if not ready.wait(timeout) or not (self.ocpp_host and self.api_host):
            self.stop()
            raise RuntimeError("joule did not become ready:\n" + "\n".join(self.output[-50:]))
        return self

    def read_to_the_end(self, timeout: float = 10.0) -> None:
        """Waits until every line the (dead) process wrote is in `output`:
        the reader thread may still hold its last lines when `wait()`
        returns."""
        if self.pump_thread:
            self.pump_thread.join(timeout)

    def assert_crash_point_armed(self) -> None:
        """A server started with JOULE_FAULT must be a test build: the
        binary an operator builds has no crash points and ignores it."""
        assert any("JOULE_FAULT set: this process will crash on purpose" in line for line in self.output), (
            "this joule binary has no crash points: build it with "
            "`cargo build --features joule/fault-injection` (scripts/test does)\n" + "\n".join(self.output[-20:]))

    @property
    def ocpp_url(self) -> str:
        return f"ws://{self.ocpp_host}/ocpp"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}/api/v1"

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        headers.setdefault("Authorization", f"Bearer {self.admin_key}")
        return requests.request(method, self.api_url + path, headers=headers, timeout=60, **kwargs)

    def create_charger(self, charger_id: str, password: str | None = None, **extra) -> dict:
        body = {"id": charger_id, **extra}
        if password is not None:
            body["password"] = password
        r = self.api("POST", "/chargers", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def create_token(self, id_tag: str, **extra) -> dict:
        r = self.api("POST", "/id-tokens", json={"id_tag": id_tag, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def create_user_group(self, group_id: str, name: str | None = None) -> dict:
        r = self.api("POST", "/user-groups", json={"id": group_id, "name": name or group_id})
        assert r.status_code == 201, r.text
        return r.json()

    def set_token_groups(self, id_tag: str, groups: list[str]) -> dict:
        r = self.api("PUT", f"/id-tokens/{id_tag}/groups", json={"groups": groups})
        assert r.status_code == 200, r.text
        return r.json()

    def set_charger_access(self, charger_id: str, access: str, allowed_groups: list[str]) -> dict:
        r = self.api(
            "PUT",
            f"/chargers/{charger_id}/access",
            json={"access": access, "allowed_groups": allowed_groups},
        )
        assert r.status_code == 200, r.text
        return r.json()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a power cut of the process."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        return self.process.returncode if self.process else None
