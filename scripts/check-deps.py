#!/usr/bin/env python3
"""Fails when a dependency arrow points outward (CONVENTIONS.md §2):
the domain depends on no web, SQL or protocol crate and on nothing of ours;
adapters depend on the domain and never on each other; nothing depends on
the binary; receipt rendering is pure (no runtime, no mail transport);
the shared test code (test-support) is a dev-dependency only and depends
on no crate whose tests use it through a cycle. Inside each crate, no two
files import each other in a circle (scripts/check-import-cycles.py), and
inside the domain, entity folders import neither ports nor services, and
ports import no services (scripts/check-domain-layers.py); both run from
here."""

import json
import os
import subprocess
import sys

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps"]))
deps = {p["name"]: {d["name"] for d in p["dependencies"] if d["kind"] is None} for p in meta["packages"]}
dev_deps = {p["name"]: {d["name"] for d in p["dependencies"] if d["kind"] == "dev"} for p in meta["packages"]}


def reachable(name):
    """Every crate `name` depends on, directly or through others."""
    seen, todo = set(), [name]
    while todo:
        for d in deps.get(todo.pop(), set()) - seen:
            seen.add(d)
            todo.append(d)
    return seen


FORBIDDEN_IN_DOMAIN = {"tokio", "axum", "sqlx", "rusqlite", "tokio-tungstenite", "tungstenite", "hyper", "reqwest", "utoipa", "jsonschema"}
ADAPTERS = {"joule-ocpp", "joule-store", "joule-csms", "joule-api", "joule-sim", "joule-payments", "joule-ocpi", "joule-mail"}
# rendering only: a receipt in, bytes out (sending is joule-mail's)
FORBIDDEN_IN_RECEIPTS = {"tokio", "lettre", "reqwest", "hyper", "axum", "sqlx", "rusqlite"}
ALLOWED = {
    # the OCPP wire crate is a library of the protocol adapters, not an adapter with I/O
    "joule-csms": {"joule-domain", "joule-ocpp"},
    "joule-sim": {"joule-ocpp"},
    "joule-ocpp": set(),
    "joule-store": {"joule-domain"},
    # serves the driver pages: receipts and QR codes are rendered by joule-receipts
    "joule-api": {"joule-domain", "joule-receipts"},
    "joule-payments": {"joule-domain"},
    # renders receipts (HTML, PDF, text, email content) and QR codes: a pure
    # library the API and the mail adapter call, on the domain only
    "joule-receipts": {"joule-domain"},
    # the SMTP adapter behind the domain's ReceiptMailer port; what it sends
    # is rendered by joule-receipts
    "joule-mail": {"joule-domain", "joule-receipts"},
    # what the tests share: the real store and the simulated gateway, never
    # the API, the CSMS or the binary, whose tests use it (a dev-dependency
    # on a crate that depends back would build that crate twice)
    "test-support": {"joule-domain", "joule-store", "joule-payments"},
}
TEST_ONLY = {"test-support"}

errors = []
ours = set(deps)
for name, d in deps.items():
    if name == "joule-domain":
        bad = (d & FORBIDDEN_IN_DOMAIN) | (d & ours)
        if bad:
            errors.append(f"joule-domain must not depend on {sorted(bad)}")
    if name == "joule-receipts":
        bad = d & FORBIDDEN_IN_RECEIPTS
        if bad:
            errors.append(f"joule-receipts renders only; it must not depend on {sorted(bad)}")
    for test_only in sorted(d & TEST_ONLY):
        errors.append(f"{name} depends on {test_only}: it is a dev-dependency only")
    if "joule" in d:
        errors.append(f"{name} depends on the binary crate")
    if name in ALLOWED:
        extra = (d & ours) - ALLOWED[name]
        if extra:
            errors.append(f"{name} may depend on {sorted(ALLOWED[name])} only, not {sorted(extra)}")

for test_only in TEST_ONLY & ours:
    below = reachable(test_only)
    for name, d in sorted(dev_deps.items()):
        if test_only in d and name in below:
            errors.append(f"{name}'s tests use {test_only}, which depends on {name}: a cycle")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"dependency direction ok ({len(deps)} crates)")

# Between files of one crate: no import circles; between the domain's
# folders: the layer rule (ADR 0011). Both run, so one report shows both.
here = os.path.dirname(os.path.abspath(__file__))
failed = 0
for check in ["check-import-cycles.py", "check-domain-layers.py"]:
    failed |= subprocess.call([sys.executable, os.path.join(here, check)])
sys.exit(1 if failed else 0)
