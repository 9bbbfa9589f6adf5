"""A fault-injecting HTTP proxy between Joule and localstripe (issue 4,
point 6). localstripe itself always answers at once and ignores idempotency
keys, so the failures a real gateway has are made here, per request:

- ``error_before``: answer 500 without forwarding (the gateway did nothing);
- ``error_after``: forward, let localstripe apply it, then answer 502 (the
  gateway did it, Joule never hears so);
- ``hang_after``: forward, then hold the answer past Joule's request
  time-out (a time-out whose outcome is unknown).

Rules match on method and a path regex and fire a given number of times;
everything else passes through untouched. Requests seen are recorded so a
test can count, e.g., how many captures reached the gateway."""

from __future__ import annotations

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
    action: str  # error_before | error_after | hang_after
    times: int = 1
    hang_s: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.fired < self.times and method == self.method and re.search(self.path, path) is not None


@dataclass
class GatewayFaults:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, what was done), on arrival
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, method: str, path: str, action: str, times: int = 1, hang_s: float = 0.0) -> Rule:
        rule = Rule(method, path, action, times, hang_s)
        with self.lock:
            self.rules.append(rule)
        return rule

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
                if rule and rule.action == "error_before":
                    return self._answer(500, b'{"error":{"type":"api_error","message":"injected: before"}}', path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                upstream = requests.request(self.command, faults.upstream + self.path, data=body,
                                            headers=headers, timeout=30)
                if rule and rule.action == "error_after":
                    return self._answer(502, b'{"error":{"type":"api_error","message":"injected: after"}}', path)
                if rule and rule.action == "hang_after":
                    faults.release.wait(rule.hang_s)
                    try:
                        return self._answer(upstream.status_code, upstream.content, path)
                    except OSError:
                        return None  # Joule gave up waiting, as intended
                return self._answer(upstream.status_code, upstream.content, path)

            def _answer(self, status: int, content: bytes, path: str):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

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


def wait_until(fn, timeout: float = 30.0, interval: float = 0.1):
    """Polls `fn` until it returns a truthy value (returned) or the deadline
    passes (the last value is returned, for the assertion to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
