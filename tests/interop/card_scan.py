"""PCI check (issue 4, point 8): Joule stores gateway references and a
card's brand, last 4 and expiry only. After the interoperability tests, the
output (logs) of every Joule process they started, its data folder (SQLite
database, WAL, anything else written there) and, on PostgreSQL, a dump of its
schema are scanned for card-number patterns: runs of 13 to 19 digits standing
alone that pass the Luhn check. localstripe's own files (it is the gateway:
it may hold cards) live in a folder named ``ls`` and are not Joule's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# A run of 13-19 digits standing alone: not part of an identifier, a UUID or
# a date (a UUID's last group can be all digits and run into the year of a
# timestamp stored next to it).
CANDIDATE = re.compile(r"(?<![0-9A-Za-z-])\d{13,19}(?![0-9A-Za-z-])")
GATEWAY_DIRS = {"ls"}


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """Card-number-like runs in `text`."""
    return [m.group() for m in CANDIDATE.finditer(text) if luhn_valid(m.group())]


def joule_files(data_dir: Path):
    for f in data_dir.rglob("*"):
        if f.is_file() and not (GATEWAY_DIRS & set(f.relative_to(data_dir).parts)):
            yield f


def postgres_dump(url: str, schema: str) -> str:
    exe = shutil.which("pg_dump")
    if exe is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("pg_dump is required in CI to scan PostgreSQL for card numbers")
        return ""
    return subprocess.run([exe, "--data-only", "--schema", schema, url], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def scan(server) -> list[str]:
    """Where `server` (a JouleServer) left something that looks like a card
    number: one line per finding, naming the place."""
    found = [f"log: {n}" for n in card_numbers("\n".join(server.output))]
    if server.data_dir.exists():
        for f in joule_files(server.data_dir):
            text = f.read_bytes().decode("latin-1")
            found += [f"{f}: {n}" for n in card_numbers(text)]
    if server.database_url.startswith("postgres"):
        found += [f"postgres schema {server.pg_schema}: {n}"
                  for n in card_numbers(postgres_dump(server.database_url, server.pg_schema))]
    return found
