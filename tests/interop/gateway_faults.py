"""A fault-injecting HTTP proxy between Joule and localstripe (issue 4,
point 6). localstripe itself always answers at once and ignores idempotency
keys, so the failures a real gateway has are made here, per request:

- ``error_before``: answer 500 without forwarding (the gateway did nothing);
- ``error_after``: forward, let localstripe apply it, then answer 502 (the
  gateway did it, Joule never hears so);
- ``hang_after``: forward, then hold the answer past Joule's request
  time-out (a time-out whose outcome is unknown);
- ``slow_then_apply``: wait ``hang_s`` first, then forward and answer what
  localstripe answered (a slow gateway that does apply the call: past
  Joule's time-out it is applied after Joule gave up; below it, every
  other actor's calls run while this one is in flight).

Rules match on method and a path regex and fire a given number of times;
everything else passes through untouched. Besides the rules, latency can
be put on EVERY call (``set_latency``): a fixed part plus a jitter drawn
from a seeded RNG, half spent before the call reaches localstripe and half
after it was applied (so another actor can see its effect before the
caller does), as a gateway across a network behaves; and, with a given
probability, a call is slow before it is applied (a random
``slow_then_apply``, e.g. past Joule's time-out). Requests seen are
recorded so a test can count, e.g., how many captures reached the gateway;
``journal`` has each call's timing and answer, for a failed test's report."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


@dataclass
class Rule:
    method: str
    path: str  # regex, searched in the path without the query
    action: str  # error_before | error_after | hang_after | slow_then_apply
    times: int = 1
    hang_s: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.fired < self.times and method == self.method and re.search(self.path, path) is not None


@dataclass
class GatewayFaults:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    # (method, path, what was done), on arrival
    seen: list[tuple[str, str, str]] = field(default_factory=list, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    server: ThreadingHTTPServer | None = field(default=None, repr=False)
    release: threading.Event = field(default_factory=threading.Event, repr=False)
    latency_s: float = 0.0
    jitter_s: float = 0.0
    slow_p: float = 0.0
    slow_s: tuple = (0.0, 0.0)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # every call: when it arrived and was applied, the latency added, the answer
    journal: list[dict] = field(default_factory=list, repr=False)
    # emulate_increments(): intent -> the hold raised to (minor units)
    increments: dict | None = field(default=None, repr=False)

    def set_latency(self, latency_s: float, jitter_s: float = 0.0, seed: int | None = None,
                    slow_p: float = 0.0, slow_s: tuple = (0.0, 0.0)) -> None:
        """Every call from now on takes latency_s + uniform(0, jitter_s)
        longer, and one call in 1/slow_p waits uniform(*slow_s) more before
        it is applied (drawn from an RNG seeded with `seed`)."""
        with self.lock:
            self.latency_s, self.jitter_s, self.slow_p, self.slow_s = latency_s, jitter_s, slow_p, slow_s
            if seed is not None:
                self.rng = random.Random(seed)

    def _delay(self) -> tuple[float, float]:
        """(network latency, extra wait before applying) for one call."""
        with self.lock:
            latency = self.latency_s + self.rng.uniform(0, self.jitter_s) if self.jitter_s > 0 else self.latency_s
            slow = self.rng.uniform(*self.slow_s) if self.slow_p > 0 and self.rng.random() < self.slow_p else 0.0
            return max(latency, 0.0), slow

    def write_journal(self, path) -> None:
        with self.lock:
            lines = [json.dumps(entry) for entry in self.journal]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, method: str, path: str, action: str, times: int = 1, hang_s: float = 0.0) -> Rule:
        rule = Rule(method, path, action, times, hang_s)
        with self.lock:
            self.rules.append(rule)
        return rule

    def emulate_increments(self) -> None:
        """localstripe has no incremental authorization: from now on the
        proxy plays it. `POST .../increment_authorization` on a held intent
        is applied here (the raised hold remembered, the intent answered
        with it), and every later read of a still-held intent shows the
        raised `amount_capturable`. Captures go to localstripe unchanged,
        so a scenario must capture at most the original hold."""
        with self.lock:
            self.increments = {}

    def _increment(self, path: str, body: bytes, headers: dict, entry: dict):
        """(status, content) of an emulated increment, or None."""
        m = re.fullmatch(r"/v1/payment_intents/([^/]+)/increment_authorization", path)
        if self.increments is None or m is None:
            return None
        pi = requests.get(f"{self.upstream}/v1/payment_intents/{m.group(1)}", headers=headers, timeout=30)
        amount = _form_field(body, "amount")
        if pi.status_code != 200 or pi.json().get("status") != "requires_capture" or not (amount or "").isdigit():
            status, content = 400, b'{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"emulated: not held"}}'
        else:
            with self.lock:
                self.increments[m.group(1)] = int(amount)
            status, content = 200, self._raised(m.group(1), pi.content)
        entry["applied_at"] = time.time()
        entry["upstream_status"] = status
        entry["emulated"] = True
        return status, content

    def _raised(self, intent: str, content: bytes) -> bytes:
        with self.lock:
            raised = (self.increments or {}).get(intent)
        if raised is None:
            return content
        try:
            pi = json.loads(content)
        except ValueError:
            return content
        if pi.get("status") == "requires_capture":
            pi["amount"] = raised
            pi["amount_capturable"] = raised
        return json.dumps(pi).encode()

    def count(self, method: str, path: str) -> int:
        """Requests that matched, whatever Joule was told."""
        with self.lock:
            return sum(1 for m, p, _ in self.seen if m == method and re.search(path, p))

    def start(self) -> "GatewayFaults":
        faults = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with faults.lock:
                    rule = next((r for r in faults.rules if r.matches(self.command, path)), None)
                    if rule:
                        rule.fired += 1
                    faults.seen.append((self.command, path, rule.action if rule else "forward"))
                    entry = {"at": time.time(), "method": self.command, "path": path,
                             "action": rule.action if rule else "forward"}
                    faults.journal.append(entry)
                delay, slow = faults._delay()
                entry["latency_s"] = round(delay, 3)
                if slow:
                    entry["slow_s"] = round(slow, 3)
                faults.release.wait(delay / 2 + slow)
                if rule and rule.action == "error_before":
                    return self._answer(500, b'{"error":{"type":"api_error","message":"injected: before"}}', entry)
                if rule and rule.action == "slow_then_apply":
                    faults.release.wait(rule.hang_s)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                emulated = faults._increment(path, body, headers, entry) if self.command == "POST" else None
                if emulated:
                    faults.release.wait(delay / 2)
                    return self._answer(*emulated, entry)
                upstream = requests.request(self.command, faults.upstream + self.path, data=body,
                                            headers=headers, timeout=30)
                entry["applied_at"] = time.time()
                entry["upstream_status"] = upstream.status_code
                if self.command == "POST" and path == "/v1/refunds":
                    entry["payment_intent"] = _form_field(body, "payment_intent")
                faults.release.wait(delay / 2)
                if rule and rule.action == "error_after":
                    return self._answer(502, b'{"error":{"type":"api_error","message":"injected: after"}}', entry)
                if rule and rule.action == "hang_after":
                    faults.release.wait(rule.hang_s)
                content = upstream.content
                if self.command == "GET" and re.fullmatch(r"/v1/payment_intents/[^/]+", path):
                    content = faults._raised(path.rsplit("/", 1)[1], content)
                return self._answer(upstream.status_code, content, entry)

            def _answer(self, status: int, content: bytes, entry: dict):
                entry["status"] = status
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    # Joule gave up waiting (its time-out) or died: the call
                    # was made all the same, as with a real gateway.
                    entry["status"] = f"{status} (caller gone)"

            do_GET = _handle
            do_POST = _handle
            do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def _form_field(body: bytes, name: str):
    from urllib.parse import parse_qs
    try:
        values = parse_qs(body.decode(), keep_blank_values=True).get(name)
    except UnicodeDecodeError:
        return None
    return values[0] if values else None


def applied(entry: dict) -> bool:
    """Whether the gateway applied this call (localstripe answered 2xx),
    whatever Joule was told."""
    return 200 <= (entry.get("upstream_status") or 0) < 300


def wait_until(fn, timeout: float = 30.0, interval: float = 0.1):
    """Polls `fn` until it returns a truthy value (returned) or the deadline
    passes (the last value is returned, for the assertion to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
